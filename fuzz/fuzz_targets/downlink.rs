//! Fuzzes the envelope parser/verifier and every document parser with
//! arbitrary bytes: they must return errors, never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microclass::uplink::downlink::parse_document;
use microclass::uplink::envelope::{open, DocKind, Expect};

fuzz_target!(|data: &[u8]| {
    let key = ed25519_dalek::SigningKey::from_bytes(&[42; 32]).verifying_key();
    for kind in [DocKind::Roster, DocKind::Catalog, DocKind::Schedule] {
        let expect = Expect { kind, district: "d1", centre: Some("c1"), key: &key, max_bytes: 1 << 20 };
        let _ = open(data, &expect);
        let _ = parse_document(kind, data);
    }
});
