//! Property tests over every downlink parser, the command handler and the
//! drain state, run in the normal suite with a bounded case count. The
//! coverage-guided counterpart is `fuzz/` (cargo-fuzz). Test-only code.

use super::command::{respond, RecentAcks};
use super::downlink::{handle, parse_document, StoreSink};
use super::envelope::{open, seal, DocKind, Expect};
use super::state::{DrainState, PubTag};
use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use std::collections::BTreeSet;

const KINDS: [DocKind; 3] = [DocKind::Roster, DocKind::Catalog, DocKind::Schedule];

fn key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

/// Arbitrary JSON values, a few levels deep, with the field names the parsers look for.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let names = prop::sample::select(vec![
        "v", "id", "cmd", "args", "kind", "members", "courses", "entries", "name", "cards", "uid", "member_id",
        "from_seq", "to_seq", "level", "starts_ms", "ends_ms", "duration_s", "credit_minutes", "roles", "x",
    ]);
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        "[a-z0-9:_=,-]{0,12}".prop_map(serde_json::Value::from),
        prop::sample::select(vec!["sync_now", "resend", "enrol_card", "reboot", "set_log_level", "member", "trainer"]).prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(names.clone().prop_map(str::to_string), inner, 0..6)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    // Bounded for CI: a fixed case count (a few seconds in a debug build).
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn envelope_parsing_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let k = key().verifying_key();
        for kind in KINDS {
            let e = Expect { kind, district: "d1", centre: Some("c1"), key: &k, max_bytes: 1024 };
            let _ = open(&bytes, &e);
        }
    }

    #[test]
    fn a_mutated_envelope_either_fails_or_carries_the_signed_body(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let k = key();
        let body = br#"{"members":[{"id":"m1","name":"a"}]}"#;
        let mut bytes = serde_json::to_vec(&seal(&k, DocKind::Roster, "d1", None, 9, 1, body)).unwrap();
        let i = pos.index(bytes.len());
        bytes[i] = byte;
        let vk = k.verifying_key();
        let e = Expect { kind: DocKind::Roster, district: "d1", centre: None, key: &vk, max_bytes: 1 << 20 };
        if let Ok(v) = open(&bytes, &e) {
            prop_assert_eq!(v.body.as_slice(), &body[..]);
            prop_assert_eq!(v.version, 9);
        }
    }

    #[test]
    fn document_parsers_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512), value in json_value()) {
        let text = serde_json::to_vec(&value).unwrap();
        for kind in KINDS {
            let _ = parse_document(kind, &bytes);
            if let Ok(doc) = parse_document(kind, &text) {
                prop_assert_eq!(doc.kind(), kind);
            }
        }
    }

    /// Correctly signed envelopes around arbitrary bodies reach every
    /// document parser and the kiosk's sink: applied or rejected, never a panic,
    /// and an applied version is the one the sink then reports.
    #[test]
    fn signed_arbitrary_documents_are_applied_or_rejected_by_the_kiosk_sink(
        value in json_value(),
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        raw in any::<bool>(),
        version in 1u64..1000,
    ) {
        let k = key();
        let vk = k.verifying_key();
        let dir = tempfile::tempdir().unwrap();
        let mut sink = StoreSink::new(crate::store::Store::open(&dir.path().join("k.db")).unwrap());
        let body = if raw { bytes } else { serde_json::to_vec(&value).unwrap() };
        for kind in KINDS {
            let centre = (kind == DocKind::Schedule).then_some("c1");
            let payload = serde_json::to_vec(&seal(&k, kind, "d1", centre, version, 1, &body)).unwrap();
            let e = Expect { kind, district: "d1", centre, key: &vk, max_bytes: 1 << 20 };
            if let Ok(a) = handle(&payload, &e, &mut sink) {
                prop_assert_eq!((a.kind, a.version), (kind, version));
                prop_assert_eq!(super::downlink::DocumentSink::current_version(&mut sink, kind).unwrap(), Some(version));
            }
        }
    }

    #[test]
    fn the_command_handler_answers_every_payload_and_runs_at_most_once(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        value in json_value(),
    ) {
        for payload in [bytes, serde_json::to_vec(&value).unwrap()] {
            let mut recent = RecentAcks::default();
            let mut runs = 0;
            let ack = respond(&payload, 4096, 0, &mut recent, |_| { runs += 1; Ok(serde_json::json!({})) });
            prop_assert!(runs <= 1);
            prop_assert_eq!(ack.ok, runs == 1);
            prop_assert_eq!(ack.ok, ack.error.is_none());
            prop_assert!(serde_json::to_vec(&ack).is_ok());
            let again = respond(&payload, 4096, 0, &mut recent, |_| { runs += 1; Ok(serde_json::json!({})) });
            prop_assert!(runs <= 1, "a repeated command id ran twice");
            if ack.id.is_some() { prop_assert_eq!(again, ack); }
        }
    }

    #[test]
    fn structured_commands_with_random_arguments_are_answered(
        cmd in prop::sample::select(vec!["sync_now", "resend", "enrol_card", "reboot", "set_log_level", "screenshot", "reload_config", "nope"]),
        args in json_value(),
        expires in prop::option::of(any::<i64>()),
    ) {
        let msg = serde_json::json!({"v": 1, "id": "c", "cmd": cmd, "args": args, "expires_ms": expires});
        let ack = respond(&serde_json::to_vec(&msg).unwrap(), 4096, 0, &mut RecentAcks::default(), |_| Ok(serde_json::json!({})));
        prop_assert_eq!(ack.id.as_deref(), Some("c"));
    }

    /// Random disconnects, reconnects and acks never mark a seq twice or lose
    /// one: after the storm, a clean connection acks every seq exactly once.
    #[test]
    fn the_drain_state_acks_every_seq_exactly_once(ops in prop::collection::vec(0u8..5, 1..120), window in 1usize..5) {
        let mut s = DrainState::new(window);
        let mut next_seq = 1i64;
        let mut pkid = 0u16;
        let mut published: Vec<u16> = Vec::new();
        let mut acked = BTreeSet::new();
        s.on_connect();
        for op in ops {
            match op {
                0 | 1 if s.has_room() => {
                    let no = s.add_batch(vec![next_seq, next_seq + 1]);
                    next_seq += 2;
                    s.requested(PubTag::Batch(no));
                    pkid = pkid % 100 + 1;
                    s.on_outgoing_publish(pkid);
                    published.push(pkid);
                }
                2 if !published.is_empty() => {
                    let p = published.remove(0);
                    if let Some(a) = s.on_puback(p) {
                        for q in a.seqs { prop_assert!(acked.insert(q), "seq {} acked twice", q); }
                    }
                }
                3 => { s.on_disconnect(); published.clear(); }
                4 if !s.is_connected() => {
                    for (no, _) in s.on_connect() {
                        s.requested(PubTag::Batch(no));
                        pkid = pkid % 100 + 1;
                        s.on_outgoing_publish(pkid);
                        published.push(pkid);
                    }
                }
                _ => {}
            }
        }
        if !s.is_connected() {
            for (no, _) in s.on_connect() {
                s.requested(PubTag::Batch(no));
                pkid = pkid % 100 + 1;
                s.on_outgoing_publish(pkid);
                published.push(pkid);
            }
        }
        for p in published {
            if let Some(a) = s.on_puback(p) {
                for q in a.seqs { prop_assert!(acked.insert(q), "seq {} acked twice", q); }
            }
        }
        prop_assert_eq!(s.in_flight(), 0);
        prop_assert_eq!(acked, (1..next_seq).collect::<BTreeSet<_>>());
        prop_assert_eq!(s.unmatched(), 0);
    }
}
