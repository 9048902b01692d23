use super::*;
use serde_json::json;

fn rec(seq: i64) -> BatchRecord {
    BatchRecord { seq, id: format!("R{seq}"), kind: "credit".into(), created_ms: seq, payload: json!({"member": "m1", "minutes": 45, "year": 2026}) }
}

fn origin() -> Origin {
    Origin { district: "d1".into(), centre: "c1".into(), device: "pi-1".into() }
}

#[test]
fn the_watermark_stops_at_the_first_hole_and_every_hole_is_listed() {
    assert_eq!(scan(0, &[1, 2, 3], 3, 8), (3, vec![]));
    assert_eq!(scan(0, &[1, 2, 5, 6, 9], 9, 8), (2, vec![(3, 4), (7, 8)]));
    assert_eq!(scan(4, &[5, 7], 10, 8), (5, vec![(6, 6), (8, 10)]));
    assert_eq!(scan(0, &[3], 3, 1), (0, vec![(1, 2)]));
}

#[test]
fn a_record_delivered_twice_is_stored_once() {
    let d = tempfile::tempdir().unwrap();
    let mut s = SqliteHub::open(&d.path().join("hub.db")).unwrap();
    assert_eq!(s.insert_batch(&origin(), "S", &[rec(1), rec(2)], 10).unwrap(), Stored { inserted: 2, duplicates: 0 });
    assert_eq!(s.insert_batch(&origin(), "S", &[rec(2), rec(3)], 11).unwrap(), Stored { inserted: 1, duplicates: 1 });
    assert_eq!(s.record_count().unwrap(), 3);
    assert_eq!(s.claim_gaps(10_000, 0, 0).unwrap(), vec![]);
}

#[test]
fn a_gap_is_claimed_once_after_the_grace_period_and_closes_when_filled() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("hub.db");
    let mut a = SqliteHub::open(&path).unwrap();
    let mut b = SqliteHub::open(&path).unwrap();
    a.insert_batch(&origin(), "S", &[rec(1), rec(4)], 1_000).unwrap();
    assert_eq!(a.claim_gaps(1_500, 1_000, 5_000).unwrap(), vec![], "still within the grace period");
    let gaps = a.claim_gaps(2_000, 1_000, 5_000).unwrap();
    assert_eq!(gaps, vec![Gap { centre: "c1".into(), device: "pi-1".into(), stream: "S".into(), from_seq: 2, to_seq: 3 }]);
    assert_eq!(b.claim_gaps(2_100, 1_000, 5_000).unwrap(), vec![], "another worker does not ask again");
    assert_eq!(b.claim_gaps(7_100, 1_000, 5_000).unwrap().len(), 1, "asked again after the retry interval");
    b.insert_batch(&origin(), "S", &[rec(2), rec(3)], 7_200).unwrap();
    assert_eq!(a.claim_gaps(20_000, 0, 0).unwrap(), vec![]);
    assert_eq!(a.devices().unwrap()[0].missing, 0);
}

#[test]
fn a_resend_the_device_can_no_longer_answer_closes_the_gap() {
    let d = tempfile::tempdir().unwrap();
    let mut s = SqliteHub::open(&d.path().join("hub.db")).unwrap();
    s.insert_batch(&origin(), "S", &[rec(5)], 0).unwrap();
    let g = s.claim_gaps(10, 0, 0).unwrap().remove(0);
    assert_eq!((g.from_seq, g.to_seq), (1, 4));
    s.record_command("cmd1", &g, 10).unwrap();
    assert!(s.command_answered("cmd1", false, Some("pruned"), 20).unwrap());
    assert_eq!(s.claim_gaps(1_000_000, 0, 0).unwrap(), vec![]);
}
