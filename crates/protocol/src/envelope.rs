//! Signed downlink documents (roster, catalogue, schedule): the envelope
//! format, the exact bytes that are signed, verification, and the signing
//! side (key generation, sealing) the hub uses. It never applies a document.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Domain-separation prefix of the signed bytes.
pub const SIG_CONTEXT: &str = "mc/v1/doc";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocKind {
    Roster,
    Catalog,
    Schedule,
}

impl DocKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Roster => "roster",
            DocKind::Catalog => "catalog",
            DocKind::Schedule => "schedule",
        }
    }
}

/// The retained message on `roster`, `catalog` and `{centre}/schedule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub v: u32,
    pub kind: DocKind,
    pub district: String,
    /// The centre for a schedule; null for district-wide documents.
    pub centre: Option<String>,
    /// Strictly increasing per (kind, district, centre).
    pub version: u64,
    pub issued_ms: i64,
    /// First 8 bytes of SHA-256 of the public key, hex.
    pub key_id: String,
    /// The document, standard base64 of its UTF-8 JSON bytes.
    pub body: String,
    /// Ed25519 signature over `signed_bytes(..)`, standard base64.
    pub sig: String,
}

/// A document whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub kind: DocKind,
    pub version: u64,
    pub issued_ms: i64,
    pub body: Vec<u8>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("payload of {size} bytes exceeds the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("not a valid envelope: {0}")]
    Malformed(String),
    #[error("envelope version {0} is not supported (expected 1)")]
    Version(u32),
    #[error("envelope is a {found:?} on the {expected:?} topic")]
    WrongKind { expected: DocKind, found: DocKind },
    #[error("envelope is for {found:?}, this device is in {expected:?}")]
    WrongScope { expected: String, found: String },
    #[error("envelope {0} is not valid base64")]
    Base64(&'static str),
    #[error("signed with key {found}, the configured hub key is {expected}")]
    UnknownKey { expected: String, found: String },
    #[error("signature does not verify")]
    BadSignature,
    #[error("bad hub public key: {0}")]
    BadPublicKey(String),
}

/// The exact bytes the hub signs: a header of newline-terminated lines
/// (context, kind, district, centre or empty, version, issued_ms) then the body.
pub fn signed_bytes(kind: DocKind, district: &str, centre: Option<&str>, version: u64, issued_ms: i64, body: &[u8]) -> Vec<u8> {
    let header = format!("{SIG_CONTEXT}\n{}\n{district}\n{}\n{version}\n{issued_ms}\n", kind.as_str(), centre.unwrap_or(""));
    let mut out = Vec::with_capacity(header.len() + body.len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(body);
    out
}

pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

/// A new hub signing key from the OS random source.
pub fn generate_key() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

/// Reads a public key written as 64 hex digits or standard base64 of 32 bytes.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, EnvelopeError> {
    let t = text.trim();
    let bytes = if t.len() == 64 && t.chars().all(|c| c.is_ascii_hexdigit()) {
        hex::decode(t).map_err(|e| EnvelopeError::BadPublicKey(e.to_string()))?
    } else {
        B64.decode(t).map_err(|e| EnvelopeError::BadPublicKey(e.to_string()))?
    };
    let arr: [u8; 32] = bytes.try_into().map_err(|_| EnvelopeError::BadPublicKey("expected 32 bytes".into()))?;
    VerifyingKey::from_bytes(&arr).map_err(|e| EnvelopeError::BadPublicKey(e.to_string()))
}

/// Seals a document for publication (hub side).
pub fn seal(key: &SigningKey, kind: DocKind, district: &str, centre: Option<&str>, version: u64, issued_ms: i64, body: &[u8]) -> Envelope {
    let sig = key.sign(&signed_bytes(kind, district, centre, version, issued_ms, body));
    Envelope {
        v: 1,
        kind,
        district: district.to_string(),
        centre: centre.map(str::to_string),
        version,
        issued_ms,
        key_id: key_id(&key.verifying_key()),
        body: B64.encode(body),
        sig: B64.encode(sig.to_bytes()),
    }
}

/// What a device expects on one downlink topic.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    pub kind: DocKind,
    pub district: &'a str,
    /// Some for schedules: the device's centre.
    pub centre: Option<&'a str>,
    pub key: &'a VerifyingKey,
    pub max_bytes: usize,
}

/// Parses and verifies a downlink payload. Every failure is a value, never a panic.
pub fn open(payload: &[u8], expect: &Expect<'_>) -> Result<Verified, EnvelopeError> {
    if payload.len() > expect.max_bytes {
        return Err(EnvelopeError::TooLarge { size: payload.len(), limit: expect.max_bytes });
    }
    if !crate::is_json_object(payload) {
        return Err(EnvelopeError::Malformed("an envelope is a JSON object".into()));
    }
    let env: Envelope = serde_json::from_slice(payload).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
    if env.v != 1 {
        return Err(EnvelopeError::Version(env.v));
    }
    if env.kind != expect.kind {
        return Err(EnvelopeError::WrongKind { expected: expect.kind, found: env.kind });
    }
    let scope = |d: &str, c: Option<&str>| format!("{d}/{}", c.unwrap_or("*"));
    if env.district != expect.district || env.centre.as_deref() != expect.centre {
        return Err(EnvelopeError::WrongScope {
            expected: scope(expect.district, expect.centre),
            found: scope(&env.district, env.centre.as_deref()),
        });
    }
    let expected_id = key_id(expect.key);
    if env.key_id != expected_id {
        return Err(EnvelopeError::UnknownKey { expected: expected_id, found: env.key_id });
    }
    let body = B64.decode(env.body.as_bytes()).map_err(|_| EnvelopeError::Base64("body"))?;
    let sig_bytes = B64.decode(env.sig.as_bytes()).map_err(|_| EnvelopeError::Base64("sig"))?;
    let sig_arr: [u8; 64] = sig_bytes.try_into().map_err(|_| EnvelopeError::Base64("sig"))?;
    let sig = Signature::from_bytes(&sig_arr);
    let msg = signed_bytes(env.kind, &env.district, env.centre.as_deref(), env.version, env.issued_ms, &body);
    expect.key.verify(&msg, &sig).map_err(|_| EnvelopeError::BadSignature)?;
    Ok(Verified { kind: env.kind, version: env.version, issued_ms: env.issued_ms, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (SigningKey, VerifyingKey) {
        let k = SigningKey::from_bytes(&[7u8; 32]);
        let v = k.verifying_key();
        (k, v)
    }

    fn expect<'a>(key: &'a VerifyingKey, kind: DocKind, centre: Option<&'a str>) -> Expect<'a> {
        Expect { kind, district: "d1", centre, key, max_bytes: 1 << 20 }
    }

    #[test]
    fn a_sealed_document_opens_with_its_body_and_version() {
        let (k, v) = setup();
        let env = seal(&k, DocKind::Roster, "d1", None, 5, 1000, br#"{"members":[]}"#);
        let bytes = serde_json::to_vec(&env).unwrap();
        let got = open(&bytes, &expect(&v, DocKind::Roster, None)).unwrap();
        assert_eq!(got, Verified { kind: DocKind::Roster, version: 5, issued_ms: 1000, body: br#"{"members":[]}"#.to_vec() });
    }

    #[test]
    fn a_correctly_signed_envelope_sent_as_an_array_is_refused() {
        let (k, v) = setup();
        let env = seal(&k, DocKind::Roster, "d1", None, 5, 1000, br#"{"members":[]}"#);
        let serde_json::Value::Object(fields) = serde_json::to_value(&env).unwrap() else { panic!() };
        let order = ["v", "kind", "district", "centre", "version", "issued_ms", "key_id", "body", "sig"];
        let array: Vec<_> = order.iter().map(|f| fields[*f].clone()).collect();
        let bytes = serde_json::to_vec(&array).unwrap();
        assert!(matches!(open(&bytes, &expect(&v, DocKind::Roster, None)), Err(EnvelopeError::Malformed(_))));
    }

    #[test]
    fn changing_the_version_or_the_body_breaks_the_signature() {
        let (k, v) = setup();
        let mut env = seal(&k, DocKind::Catalog, "d1", None, 5, 1000, b"{}");
        env.version = 6;
        let e = open(&serde_json::to_vec(&env).unwrap(), &expect(&v, DocKind::Catalog, None));
        assert_eq!(e, Err(EnvelopeError::BadSignature));
        let mut env = seal(&k, DocKind::Catalog, "d1", None, 5, 1000, b"{}");
        env.body = B64.encode(b"{ }");
        assert_eq!(open(&serde_json::to_vec(&env).unwrap(), &expect(&v, DocKind::Catalog, None)), Err(EnvelopeError::BadSignature));
    }

    #[test]
    fn a_document_for_another_topic_centre_or_key_is_refused() {
        let (k, v) = setup();
        let sched = serde_json::to_vec(&seal(&k, DocKind::Schedule, "d1", Some("c2"), 1, 0, b"{}")).unwrap();
        assert!(matches!(open(&sched, &expect(&v, DocKind::Schedule, Some("c1"))), Err(EnvelopeError::WrongScope { .. })));
        assert!(matches!(open(&sched, &expect(&v, DocKind::Roster, None)), Err(EnvelopeError::WrongKind { .. })));
        let other = SigningKey::from_bytes(&[9u8; 32]);
        let forged = serde_json::to_vec(&seal(&other, DocKind::Roster, "d1", None, 1, 0, b"{}")).unwrap();
        assert!(matches!(open(&forged, &expect(&v, DocKind::Roster, None)), Err(EnvelopeError::UnknownKey { .. })));
    }

    #[test]
    fn a_forged_signature_under_the_right_key_id_is_refused() {
        let (k, v) = setup();
        let other = SigningKey::from_bytes(&[9u8; 32]);
        let mut env = seal(&other, DocKind::Roster, "d1", None, 1, 0, b"{}");
        env.key_id = key_id(&k.verifying_key());
        assert_eq!(open(&serde_json::to_vec(&env).unwrap(), &expect(&v, DocKind::Roster, None)), Err(EnvelopeError::BadSignature));
    }

    #[test]
    fn garbage_and_oversized_payloads_are_errors() {
        let (_, v) = setup();
        assert!(matches!(open(b"\xff\x00", &expect(&v, DocKind::Roster, None)), Err(EnvelopeError::Malformed(_))));
        let mut e = expect(&v, DocKind::Roster, None);
        e.max_bytes = 4;
        assert!(matches!(open(b"{}{}{}", &e), Err(EnvelopeError::TooLarge { .. })));
    }

    #[test]
    fn public_keys_parse_from_hex_and_base64() {
        let (_, v) = setup();
        assert_eq!(parse_public_key(&hex::encode(v.as_bytes())).unwrap(), v);
        assert_eq!(parse_public_key(&B64.encode(v.as_bytes())).unwrap(), v);
        assert!(parse_public_key("abcd").is_err());
    }
}
