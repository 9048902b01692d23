//! Fuzzes the envelope parser/verifier and every document parser with
//! arbitrary bytes, both as a whole payload and as the body of a correctly
//! signed envelope (so the document parsers and the sink behind the
//! signature check are reached): errors, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use microclass::uplink::downlink::{handle, parse_document, MetaSink};
use microclass::uplink::envelope::{open, seal, DocKind, Expect};

fuzz_target!(|data: &[u8]| {
    let signer = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let key = signer.verifying_key();
    let mut db = rusqlite::Connection::open_in_memory().expect("in-memory database");
    microclass::store::migrations::migrate(&mut db).expect("schema");
    let mut sink = MetaSink::new(db);
    for kind in [DocKind::Roster, DocKind::Catalog, DocKind::Schedule] {
        let centre = (kind == DocKind::Schedule).then_some("c1");
        let expect = Expect { kind, district: "d1", centre, key: &key, max_bytes: 1 << 20 };
        let _ = open(data, &expect);
        let _ = parse_document(kind, data);
        let sealed = serde_json::to_vec(&seal(&signer, kind, "d1", centre, 1, 0, data)).expect("envelope encodes");
        if let Ok(applied) = handle(&sealed, &expect, &mut sink) {
            assert_eq!(applied.kind, kind);
        }
    }
});
