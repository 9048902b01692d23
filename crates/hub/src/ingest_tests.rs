use super::*;
use crate::store::SqliteHub;
use microclass_protocol::command;
use serde_json::json;

fn ingest() -> (tempfile::TempDir, Ingest<SqliteHub>) {
    let d = tempfile::tempdir().unwrap();
    let s = SqliteHub::open(&d.path().join("hub.db")).unwrap();
    (d, Ingest::new("d1", Box::new(s)))
}

fn batch(device: &str, seqs: &[i64]) -> Vec<u8> {
    let records: Vec<_> = seqs.iter().map(|s| json!({"seq": s, "id": format!("{device}-{s}"), "kind": "credit", "created_ms": s, "payload": {"member": "m1", "minutes": 45, "year": 2026}})).collect();
    serde_json::to_vec(&json!({"v": 1, "stream": "S1", "device": device, "sent_ms": 0, "records": records})).unwrap()
}

#[test]
fn topics_of_other_districts_channels_or_shapes_are_not_device_topics() {
    let (o, c) = parse_topic("mc/v1/d1/c1/pi-1/cmd/ack").unwrap();
    assert_eq!((o.centre.as_str(), o.device.as_str(), c), ("c1", "pi-1", Channel::CmdAck));
    assert!(parse_topic("mc/v1/d1/roster").is_none());
    assert!(parse_topic("mc/v1/d1/c1/pi-1/cmd").is_none());
    assert!(parse_topic("mc/v2/d1/c1/pi-1/events").is_none());
    assert!(parse_topic("mc/v1/d1//pi-1/events").is_none());
}

#[test]
fn shared_subscriptions_cover_everything_but_the_retained_status() {
    let subs = subscriptions("d1", Some("hub"));
    assert!(subs.iter().any(|(t, _)| t == "$share/hub/mc/v1/d1/+/+/events"));
    assert!(subs.iter().any(|(t, _)| t == "mc/v1/d1/+/+/status"));
}

#[test]
fn a_redelivered_batch_counts_its_records_as_duplicates() {
    let (_d, mut i) = ingest();
    i.handle("mc/v1/d1/c1/pi-1/events", &batch("pi-1", &[1, 2]), 0).unwrap();
    i.handle("mc/v1/d1/c1/pi-1/events", &batch("pi-1", &[1, 2]), 1).unwrap();
    assert_eq!((i.stats.inserted, i.stats.duplicates), (2, 2));
    assert_eq!(i.store().record_count().unwrap(), 2);
}

#[test]
fn garbage_is_counted_and_refused_without_touching_the_store() {
    let (_d, mut i) = ingest();
    for (t, p) in [("mc/v1/d1/c1/pi-1/events", &b"{"[..]), ("mc/v1/d2/c1/pi-1/events", &batch("pi-1", &[1])[..]), ("mc/v1/d1/c1/pi-1/events", &batch("pi-2", &[1])[..])] {
        assert!(matches!(i.handle(t, p, 0), Err(IngestError::Bad { .. })), "{t}");
    }
    assert_eq!(i.stats.bad_messages, 3);
    assert_eq!(i.store().record_count().unwrap(), 0);
}

#[test]
fn a_gap_becomes_a_resend_command_the_device_accepts_and_a_pruned_answer_closes_it() {
    let (_d, mut i) = ingest();
    i.handle("mc/v1/d1/c1/pi-1/events", &batch("pi-1", &[1, 2, 6]), 0).unwrap();
    let out = i.sweep(10_000, 1_000, 30_000).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].topic, "mc/v1/d1/c1/pi-1/cmd");
    let msg: CommandMsg = serde_json::from_slice(&out[0].payload).unwrap();
    assert_eq!(command::parse(&msg), Ok(microclass_protocol::command::Command::Resend { from_seq: 3, to_seq: 5 }));
    assert!(i.sweep(11_000, 1_000, 30_000).unwrap().is_empty(), "not asked again before the retry interval");
    let ack = serde_json::to_vec(&Ack::err(Some(&msg.id), microclass_protocol::wire::ErrorCode::Pruned, "gone")).unwrap();
    i.handle("mc/v1/d1/c1/pi-1/cmd/ack", &ack, 12_000).unwrap();
    assert_eq!(i.stats.gaps_closed, 1);
    assert!(i.sweep(100_000, 0, 0).unwrap().is_empty());
}

#[test]
fn status_births_and_last_wills_drive_the_fleet_table() {
    let (_d, mut i) = ingest();
    let birth = json!({"v":1,"state":"online","district":"d1","centre":"c1","device":"pi-1","boot_id":"b1",
        "birth":{"version":"0.1.0","stream":"S1","backlog":7,"last_seq":9,"at_ms":5,"clock_synced":true}});
    i.handle("mc/v1/d1/c1/pi-1/status", &serde_json::to_vec(&birth).unwrap(), 100).unwrap();
    let d = &i.store().devices().unwrap()[0];
    assert_eq!((d.state.as_str(), d.version.as_str(), d.backlog, d.last_seen_ms, d.missing), ("online", "0.1.0", 7, 100, 9));
    let will = json!({"v":1,"state":"offline","district":"d1","centre":"c1","device":"pi-1","boot_id":"b1"});
    i.handle("mc/v1/d1/c1/pi-1/status", &serde_json::to_vec(&will).unwrap(), 200).unwrap();
    let d = &i.store().devices().unwrap()[0];
    assert_eq!((d.state.as_str(), d.version.as_str(), d.backlog), ("offline", "0.1.0", 7));
}
