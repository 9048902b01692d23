//! The technician PIN: strength rules, Argon2id hashing to a PHC string, and
//! verification. The plain PIN never leaves this module's callers' stack: it
//! must never be written, logged or put in an error message.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;

pub const MIN_PIN_LEN: usize = 6;
pub const MAX_PIN_LEN: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPin {
    #[error("the PIN must be digits only")]
    NotDigits,
    #[error("the PIN is too short: at least {MIN_PIN_LEN} digits")]
    TooShort,
    #[error("the PIN is too long: at most {MAX_PIN_LEN} digits")]
    TooLong,
    #[error("the PIN repeats one digit")]
    AllSame,
    #[error("the PIN is a run of consecutive digits")]
    Sequence,
    #[error("the PIN repeats a short pattern")]
    Pattern,
}

#[derive(Debug, thiserror::Error)]
pub enum PinHashError {
    #[error("cannot hash the PIN: {0}")]
    Hash(String),
    #[error("stored PIN hash is not a valid PHC string: {0}")]
    BadHash(String),
}

/// Checks the PIN against the rules a technician is told on screen.
pub fn check_pin_strength(pin: &str) -> Result<(), WeakPin> {
    if pin.is_empty() || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WeakPin::NotDigits);
    }
    let d: Vec<i8> = pin.bytes().map(|b| (b - b'0') as i8).collect();
    if d.len() < MIN_PIN_LEN {
        return Err(WeakPin::TooShort);
    }
    if d.len() > MAX_PIN_LEN {
        return Err(WeakPin::TooLong);
    }
    if d.iter().all(|&x| x == d[0]) {
        return Err(WeakPin::AllSame);
    }
    // 123456, 654321 and wrapping runs such as 890123.
    for step in [1i8, -1] {
        if d.windows(2).all(|w| (w[1] - w[0]).rem_euclid(10) == step.rem_euclid(10)) {
            return Err(WeakPin::Sequence);
        }
    }
    // 121212, 123123: a period of at most half the length.
    for period in 2..=d.len() / 2 {
        if (period..d.len()).all(|i| d[i] == d[i - period]) {
            return Err(WeakPin::Pattern);
        }
    }
    Ok(())
}

/// Hashes the PIN with Argon2id (default parameters, random salt) to a PHC string.
pub fn hash_pin(pin: &str) -> Result<String, PinHashError> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| PinHashError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(pin.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PinHashError::Hash(e.to_string()))
}

/// True when `pin` matches the stored PHC string.
pub fn verify_pin(pin: &str, phc: &str) -> Result<bool, PinHashError> {
    let parsed = PasswordHash::new(phc).map_err(|e| PinHashError::BadHash(e.to_string()))?;
    Ok(Argon2::default().verify_password(pin.as_bytes(), &parsed).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_pin_is_refused() {
        assert_eq!(check_pin_strength("2580"), Err(WeakPin::TooShort));
        assert_eq!(check_pin_strength("25807"), Err(WeakPin::TooShort));
    }

    #[test]
    fn a_pin_with_letters_or_nothing_is_refused() {
        assert_eq!(check_pin_strength("12ab56"), Err(WeakPin::NotDigits));
        assert_eq!(check_pin_strength(""), Err(WeakPin::NotDigits));
        assert_eq!(check_pin_strength("25 8071"), Err(WeakPin::NotDigits));
    }

    #[test]
    fn a_pin_of_one_repeated_digit_is_refused() {
        assert_eq!(check_pin_strength("000000"), Err(WeakPin::AllSame));
        assert_eq!(check_pin_strength("99999999"), Err(WeakPin::AllSame));
    }

    #[test]
    fn ascending_descending_and_wrapping_sequences_are_refused() {
        assert_eq!(check_pin_strength("123456"), Err(WeakPin::Sequence));
        assert_eq!(check_pin_strength("987654"), Err(WeakPin::Sequence));
        assert_eq!(check_pin_strength("890123"), Err(WeakPin::Sequence));
        assert_eq!(check_pin_strength("3210987"), Err(WeakPin::Sequence));
    }

    #[test]
    fn short_repeating_patterns_are_refused() {
        assert_eq!(check_pin_strength("121212"), Err(WeakPin::Pattern));
        assert_eq!(check_pin_strength("147147"), Err(WeakPin::Pattern));
        assert_eq!(check_pin_strength("20242024"), Err(WeakPin::Pattern));
    }

    #[test]
    fn a_long_pin_is_refused() {
        assert_eq!(check_pin_strength("2580713946158"), Err(WeakPin::TooLong));
    }

    #[test]
    fn an_irregular_pin_is_accepted() {
        assert_eq!(check_pin_strength("258071"), Ok(()));
        assert_eq!(check_pin_strength("1234567890"), Err(WeakPin::Sequence));
        assert_eq!(check_pin_strength("1234560"), Ok(()));
    }

    #[test]
    fn the_hash_is_an_argon2id_phc_string_that_verifies_only_the_same_pin() {
        let phc = hash_pin("258071").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(!phc.contains("258071"));
        assert!(verify_pin("258071", &phc).unwrap());
        assert!(!verify_pin("258072", &phc).unwrap());
    }

    #[test]
    fn two_hashes_of_one_pin_differ_by_their_salt() {
        assert_ne!(hash_pin("258071").unwrap(), hash_pin("258071").unwrap());
    }

    #[test]
    fn a_garbled_stored_hash_is_an_error_not_a_match() {
        assert!(matches!(verify_pin("258071", "argon2:nope"), Err(PinHashError::BadHash(_))));
    }
}
