//! Fuzzes card UID parsing: a parsed UID is canonical (upper-case hex, at
//! most 10 bytes) and parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microclass::model::CardUid;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(uid) = CardUid::parse(text) {
        let s = uid.as_str();
        assert!(s.len() % 2 == 0 && s.len() <= 20 && !s.is_empty());
        assert!(s.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)));
        assert_eq!(CardUid::parse(s).expect("a canonical UID parses"), uid);
    }
});
