//! Turning the number a keyboard-wedge reader typed into the canonical UID.
//!
//! Canonical form (`CardUid`): the UID bytes in the order the card sends them
//! in anticollision (UID0 first), upper-case hex, as an MFRC522 reads them.
//! Every reader kind must produce that form for the same physical card.
//!
//! Per board (`[reader]` of a `kind = "usb"` board file):
//! - `format`: `decimal10` (an unsigned 32-bit number, 1-10 digits, leading
//!   zeros optional, from a 4-byte UID), `hex` (two digits per byte), `auto`.
//! - `byte_order`: `msb-first` (UID0 is typed first / is the most significant
//!   byte) or `lsb-first`. Unset: `lsb-first` for decimal (what most cheap
//!   13.56 MHz readers print), `msb-first` for hex (never reversed unless
//!   the board says so).
//! - `uid_bytes`: 4, 7 or 10: the only UID length accepted.
//!
//! `auto` reads letters A-F as hex; 14 or 20 digits as hex; 8 digits only
//! is refused as ambiguous (hex or an 8-digit decimal); any other run of 1-10
//! digits is decimal. This file does no I/O and never panics on input.

use crate::model::CardUid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UidFormat {
    Decimal10,
    Hex,
    Auto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ByteOrder {
    MsbFirst,
    LsbFirst,
}

/// How a board's reader encodes UIDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoding {
    pub format: UidFormat,
    pub byte_order: Option<ByteOrder>,
    pub uid_bytes: Option<u8>,
}

impl Default for Decoding {
    fn default() -> Self {
        Decoding { format: UidFormat::Auto, byte_order: None, uid_bytes: None }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WedgeError {
    #[error("{0:?} is not a decimal card number of 1-10 digits")]
    NotDecimal(String),
    #[error("{0:?} does not fit in 32 bits")]
    TooLarge(String),
    #[error("{0:?} is not 8, 14 or 20 hex digits")]
    BadHex(String),
    #[error("{0:?} contains keys that are not card digits")]
    Garbage(String),
    #[error("{0:?} could be hex or decimal: set `format` in the board file")]
    Ambiguous(String),
    #[error("{typed:?} is a {got}-byte UID; the board expects {want} bytes")]
    WrongLength { typed: String, got: usize, want: u8 },
    #[error("{typed:?} has {got} characters; the board expects {want}")]
    WrongDigits { typed: String, got: usize, want: String },
    #[error("{0:?} does not start with the board's prefix or end with its suffix")]
    Framing(String),
    #[error("number cut short ({0:?}): dropped")]
    Partial(String),
    #[error("keystrokes were lost (SYN_DROPPED): the number in progress was dropped")]
    Dropped,
}

/// Converts a typed card number (prefix and suffix already stripped) to a UID.
pub fn decode(typed: &str, d: &Decoding) -> Result<CardUid, WedgeError> {
    let all_digits = !typed.is_empty() && typed.bytes().all(|b| b.is_ascii_digit());
    let decimal = match d.format {
        UidFormat::Decimal10 => true,
        UidFormat::Hex => false,
        UidFormat::Auto if !all_digits => false,
        UidFormat::Auto if typed.len() == 8 => return Err(WedgeError::Ambiguous(typed.into())),
        UidFormat::Auto => typed.len() <= 10,
    };
    let mut bytes = if decimal {
        if !all_digits || typed.len() > 10 {
            return Err(WedgeError::NotDecimal(typed.into()));
        }
        let n: u64 = typed.parse().map_err(|_| WedgeError::NotDecimal(typed.into()))?;
        let n = u32::try_from(n).map_err(|_| WedgeError::TooLarge(typed.into()))?;
        n.to_be_bytes().to_vec()
    } else {
        if !matches!(typed.len(), 8 | 14 | 20) {
            return Err(WedgeError::BadHex(typed.into()));
        }
        hex::decode(typed).map_err(|_| WedgeError::BadHex(typed.into()))?
    };
    let order = d.byte_order.unwrap_or(if decimal { ByteOrder::LsbFirst } else { ByteOrder::MsbFirst });
    if order == ByteOrder::LsbFirst {
        bytes.reverse();
    }
    if let Some(want) = d.uid_bytes {
        if bytes.len() != usize::from(want) {
            return Err(WedgeError::WrongLength { typed: typed.into(), got: bytes.len(), want });
        }
    }
    Ok(CardUid::from_bytes(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(format: UidFormat, byte_order: Option<ByteOrder>) -> Decoding {
        Decoding { format, byte_order, uid_bytes: None }
    }

    #[test]
    fn a_decimal_number_is_a_four_byte_uid_in_either_byte_order() {
        let msb = dec(UidFormat::Decimal10, Some(ByteOrder::MsbFirst));
        let lsb = dec(UidFormat::Decimal10, Some(ByteOrder::LsbFirst));
        assert_eq!(decode("0077705923", &msb).unwrap().as_str(), "04A1B2C3");
        assert_eq!(decode("3283263748", &lsb).unwrap().as_str(), "04A1B2C3");
        assert_eq!(decode("4294967296", &msb), Err(WedgeError::TooLarge("4294967296".into())));
        assert!(decode("12AB", &msb).is_err());
    }

    #[test]
    fn a_decimal_without_leading_zeros_is_the_same_card() {
        let msb = dec(UidFormat::Decimal10, Some(ByteOrder::MsbFirst));
        assert_eq!(decode("77705923", &msb).unwrap().as_str(), "04A1B2C3");
        let auto = dec(UidFormat::Auto, Some(ByteOrder::MsbFirst));
        assert_eq!(decode("7770592", &auto).unwrap().as_str(), "007691E0");
        assert_eq!(decode("077705923", &auto).unwrap().as_str(), "04A1B2C3");
    }

    #[test]
    fn by_default_decimal_is_lsb_first_and_hex_is_never_reversed() {
        let d = Decoding::default();
        assert_eq!(decode("3283263748", &d).unwrap().as_str(), "04A1B2C3");
        assert_eq!(decode("04A1B2C3D4E5F6", &d).unwrap().as_str(), "04A1B2C3D4E5F6");
        let hex = dec(UidFormat::Hex, None);
        assert_eq!(decode("04A1B2C3", &hex).unwrap().as_str(), "04A1B2C3");
        assert_eq!(decode("12345678", &hex).unwrap().as_str(), "12345678");
    }

    #[test]
    fn hex_numbers_keep_or_reverse_the_byte_order_only_when_told() {
        let msb = dec(UidFormat::Hex, Some(ByteOrder::MsbFirst));
        let lsb = dec(UidFormat::Hex, Some(ByteOrder::LsbFirst));
        assert_eq!(decode("04A1B2C3D4E5F6", &msb).unwrap().as_str(), "04A1B2C3D4E5F6");
        assert_eq!(decode("F6E5D4C3B2A104", &lsb).unwrap().as_str(), "04A1B2C3D4E5F6");
        assert!(matches!(decode("04A1B2", &msb), Err(WedgeError::BadHex(_))));
    }

    #[test]
    fn auto_refuses_eight_digits_only_as_ambiguous_and_reads_letters_as_hex() {
        let auto = Decoding::default();
        assert_eq!(decode("12345678", &auto), Err(WedgeError::Ambiguous("12345678".into())));
        assert_eq!(decode("04A1B2C3", &auto).unwrap().as_str(), "04A1B2C3");
        assert_eq!(decode("04112233445566", &auto).unwrap().as_str(), "04112233445566");
    }

    #[test]
    fn a_board_that_fixes_the_uid_length_refuses_other_lengths() {
        let d = Decoding { format: UidFormat::Hex, byte_order: None, uid_bytes: Some(7) };
        assert_eq!(decode("04A1B2C3D4E5F6", &d).unwrap().as_str(), "04A1B2C3D4E5F6");
        assert!(matches!(decode("04A1B2C3", &d), Err(WedgeError::WrongLength { got: 4, want: 7, .. })));
    }
}
