//! The schemas in docs/schemas/ against real messages built by the code
//! that sends them, and proof that the checker rejects broken messages.

use super::*;
use microclass::uplink::wire::{Ack, ErrorCode};
use support::schema::{check, for_kind, load};

#[test]
fn every_record_kind_the_core_emits_matches_its_schema() {
    let uid = CardUid::parse("04A1B2C3").unwrap();
    let done = vec!["m-1".to_string()];
    let msgs = vec![
        payload::session_started("s-1", "msg-1", "t-1", Some("sch-1"), "党章学习", 1, true),
        payload::session_started("s-2", "msg-2", "t-1", None, "", 1, false),
        payload::session_ended("s-1", "msg-3", 1, 2, "trainer", 12, true),
        payload::play(payload::PlayFacts {
            id: "p-1", course_id: "k1", session_id: Some("s-1"), member_id: None, started_ms: 1, ended_ms: 2,
            start_pos_s: 0, end_pos_s: 900, watched_s: 880, completed: true, completed_by: &done, synced: true,
        }),
        payload::rating("r-1", "s-1", "m-1", 5, 3, true),
        payload::survey("q-1", "m-1", &["党史".to_string()], 4, false),
        payload::card_enrolled("e-1", &uid, "m-1", 5, true),
        payload::technician_unlock(payload::UnlockFacts {
            id: "u-1", method: payload::UnlockMethod::Pin, uid: None, member_id: None, tap_id: None, at_ms: 6, synced: true,
        }),
        payload::technician_unlock(payload::UnlockFacts {
            id: "u-2", method: payload::UnlockMethod::Card, uid: Some(&uid), member_id: Some("x-1"), tap_id: Some("t-9"), at_ms: 7, synced: false,
        }),
        payload::credit(payload::CreditFacts {
            id: "c-1", member_id: "m-1", source: "self_study", session_id: None, course_id: Some("k1"),
            in_ms: 1, out_ms: 2, minutes: 15, year: 2026, mobile: true, synced: true,
        }),
        payload::tap(TapFacts {
            id: "t-1", at_ms: 1, synced: true, uid: &uid, member_id: None, outcome: TapOutcome::Unknown,
            session_id: None, mobile: false, home_centre: None, attendance_id: None,
        }),
    ];
    for o in msgs {
        support::schema::assert_valid(&for_kind(o.kind), &o.payload);
    }
}

#[test]
fn acks_and_command_arguments_match_their_schemas() {
    for a in [Ack::ok("c1", json!({"backlog": 3})), Ack::err(None, ErrorCode::BadRequest, "not JSON"), Ack::err(Some("c2"), ErrorCode::Pruned, "gone")] {
        support::schema::assert_valid("cmd-ack.json", &serde_json::to_value(&a).unwrap());
    }
    let cmd = load("command.json");
    for (name, args) in [
        ("enrol_card", json!({"uid": "04A1B2C3", "member_id": "m-1"})),
        ("reboot", json!({"delay_s": 10})),
        ("set_log_level", json!({"level": "microclass::uplink=debug"})),
        ("resend", json!({"from_seq": 1, "to_seq": 100})),
        ("sync_now", json!({})),
    ] {
        assert!(check(&cmd["$defs"][name], &args).is_empty(), "{name}");
        assert!(check(&cmd, &json!({"v": 1, "id": "x", "cmd": name, "args": args})).is_empty(), "{name}");
    }
}

#[test]
fn the_schema_checker_rejects_messages_that_break_the_schemas() {
    let bad_batch = json!({"v": 1, "stream": "short", "device": "pi-1", "sent_ms": 0, "records": []});
    assert!(check(&load("events.json"), &bad_batch).len() >= 2, "short stream and empty records must both fail");
    let extra = json!({"v": 1, "state": "online", "district": "d", "centre": "c", "device": "p", "boot_id": "b", "mood": "happy"});
    assert!(!check(&load("status.json"), &extra).is_empty());
    let stars = json!({"v": 1, "type": "rating", "id": "r", "session": "s", "member": "m", "stars": 6, "at": 1, "clock_synced": true});
    assert!(!check(&load("record-rating.json"), &stars).is_empty());
    let pin_with_card = json!({"v": 1, "type": "technician_unlock", "id": "u", "at": 1, "clock_synced": true, "method": "pin", "uid": "04A1", "member": null, "tap": null});
    assert!(!check(&load("record-technician_unlock.json"), &pin_with_card).is_empty(), "a PIN unlock names no card");
    let both = json!({"v": 1, "id": "x", "ok": true, "result": {}, "error": {"code": "failed", "message": ""}});
    assert!(!check(&load("cmd-ack.json"), &both).is_empty(), "an ack may not be ok and an error at once");
    assert!(!check(&load("command.json"), &json!({"v": 1, "id": "x", "cmd": "fly"})).is_empty());
    assert_eq!(support::schema::lint(&json!({"properties": {"a": {"patern": "x"}}})).len(), 1, "lint must see nested keywords");
    assert_eq!(support::schema::lint(&json!({"oneOf": [{"additionalProperty": false}]})).len(), 1, "a misspelt keyword is caught");
}

#[test]
fn additional_properties_false_is_enforced_at_every_level() {
    let strict = json!({
        "type": "object", "additionalProperties": false, "required": ["a"],
        "properties": {"a": {"$ref": "#/$defs/inner"}},
        "$defs": {"inner": {"type": "object", "additionalProperties": false, "properties": {"b": {"type": "integer"}}}}
    });
    assert!(check(&strict, &json!({"a": {"b": 1}})).is_empty());
    assert_eq!(check(&strict, &json!({"a": {"b": 1}, "x": 0})).len(), 1, "an extra top-level field");
    assert_eq!(check(&strict, &json!({"a": {"b": 1, "y": 0}})).len(), 1, "an extra field behind a $ref");
    for name in ["status.json", "events.json", "envelope.json", "command.json", "record-dropped.json"] {
        assert_eq!(load(name)["additionalProperties"], json!(false), "{name} is closed");
    }
}

#[test]
fn every_schema_file_is_valid_json_with_an_id_and_only_supported_keywords() {
    for e in std::fs::read_dir(support::schema::schema_dir()).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        let s = load(&name);
        assert!(s["$id"].as_str().unwrap_or("").ends_with(&name), "{name}: $id");
        assert!(jsonschema::meta::is_valid(&s), "{name}: not a valid draft 2020-12 schema");
        support::schema::validator(&s);
        let unsupported = support::schema::lint(&s);
        assert!(unsupported.is_empty(), "{name}: {unsupported:?}");
    }
}
