//! Tests of the uplink's outbox queries on real SQLite files.

use super::*;

fn db() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let conn = open(&dir.path().join("m.db")).unwrap();
    (dir, conn)
}

/// A database file with the schema of `version` (as an older program left it).
fn at_version(path: &Path, version: usize) -> Connection {
    let mut c = Connection::open(path).unwrap();
    let tx = c.transaction().unwrap();
    for m in &crate::store::migrations::MIGRATIONS[..version] {
        tx.execute_batch(m).unwrap();
    }
    tx.pragma_update(None, "user_version", version as i64).unwrap();
    tx.commit().unwrap();
    c
}

fn fill(conn: &Connection, n: usize, payload: &str) {
    for i in 0..n {
        enqueue(conn, &format!("id{i:05}"), "tap", payload, 0, 1000 + i as i64).unwrap();
    }
}

#[test]
fn batches_come_in_seq_order_bounded_by_rows_and_bytes() {
    let (_d, conn) = db();
    fill(&conn, 10, r#"{"x":1}"#);
    let b = next_batch_after(&conn, 0, 1 << 20, 4).unwrap();
    assert_eq!(b.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    let one = b[0].encoded_bound();
    let b = next_batch_after(&conn, 4, one * 3, 100).unwrap();
    assert_eq!(b.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![5, 6, 7]);
}

#[test]
fn a_batch_read_again_by_its_seqs_has_the_same_records() {
    let (_d, conn) = db();
    fill(&conn, 8, r#"{"x":1}"#);
    let mut text = String::new();
    let mut w = microclass_protocol::wire::BatchWriter::begin(&mut text, "S", "pi", 5);
    assert_eq!(write_batch_of(&conn, &[2, 3, 6, 9], &mut w).unwrap(), vec![2, 3, 6]);
    assert_eq!(w.finish(), 0);
    let b: microclass_protocol::wire::Batch = serde_json::from_str(&text).unwrap();
    assert_eq!(b.records.iter().map(|r| (r.seq, r.id.as_str())).collect::<Vec<_>>(), vec![(2, "id00001"), (3, "id00002"), (6, "id00005")]);
    let mut w = microclass_protocol::wire::BatchWriter::begin(&mut text, "S", "pi", 5);
    assert!(write_batch_of(&conn, &[], &mut w).unwrap().is_empty());
}

#[test]
fn a_row_larger_than_the_byte_bound_goes_alone() {
    let (_d, conn) = db();
    fill(&conn, 3, &format!("{{\"big\":\"{}\"}}", "x".repeat(5000)));
    let b = next_batch_after(&conn, 0, 1000, 100).unwrap();
    assert_eq!(b.len(), 1);
}

#[test]
fn a_stored_record_too_large_to_send_travels_as_an_oversize_note_and_the_queue_moves_on() {
    let (_d, conn) = db();
    let huge = format!("{{\"title\":\"{}\"}}", "x".repeat(MAX_RECORD_BYTES + 10));
    enqueue(&conn, "big", "session_started", &huge, 0, 1).unwrap();
    fill(&conn, 2, r#"{"x":1}"#);
    let mut text = String::new();
    let mut w = microclass_protocol::wire::BatchWriter::begin(&mut text, "S", "pi", 5);
    assert_eq!(write_next_batch(&conn, 0, 64 * 1024, 100, &mut w).unwrap(), vec![1, 2, 3]);
    w.finish();
    assert!(text.len() < 4096, "the batch carries the note, not the record: {} bytes", text.len());
    let b: microclass_protocol::wire::Batch = serde_json::from_str(&text).unwrap();
    assert_eq!(b.records[0].kind, microclass_protocol::wire::OVERSIZE_KIND);
    assert_eq!(b.records[0].payload["kind"], "session_started");
    assert_eq!(b.records[0].payload["bytes"], huge.len());
    assert_eq!(b.records[1].kind, "tap");
    let mut w = microclass_protocol::wire::BatchWriter::begin(&mut text, "S", "pi", 5);
    assert_eq!(write_batch_of(&conn, &[1], &mut w).unwrap(), vec![1]);
    w.finish();
    let again: microclass_protocol::wire::Batch = serde_json::from_str(&text).unwrap();
    assert_eq!(again.records[0].kind, microclass_protocol::wire::OVERSIZE_KIND);
}

#[test]
fn marked_rows_leave_the_backlog_and_keep_their_first_sent_time() {
    let (_d, mut conn) = db();
    fill(&conn, 5, "{}");
    assert_eq!(backlog(&conn).unwrap(), Backlog { rows: 5, oldest_created_ms: Some(1000) });
    assert_eq!(mark_sent(&mut conn, &[1, 2], 50).unwrap(), 2);
    assert_eq!(mark_sent(&mut conn, &[2, 3], 60).unwrap(), 1);
    let b = next_batch_after(&conn, 0, 1 << 20, 100).unwrap();
    assert_eq!(b.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![4, 5]);
    let t: i64 = conn.query_row("SELECT sent_ms FROM outbox_acked WHERE from_seq <= 2 AND to_seq >= 2", [], |r| r.get(0)).unwrap();
    assert_eq!(t, 50);
    assert_eq!(backlog(&conn).unwrap().oldest_created_ms, Some(1003));
}

#[test]
fn seqs_group_into_consecutive_runs() {
    assert_eq!(runs(&[1, 2, 3, 7, 8, 10]), vec![(1, 3), (7, 8), (10, 10)]);
    assert_eq!(runs(&[]), vec![]);
}

#[test]
fn marking_a_batch_with_holes_leaves_the_holes_alone() {
    let (_d, mut conn) = db();
    fill(&conn, 5, "{}");
    assert_eq!(mark_sent(&mut conn, &[1, 2, 4, 5], 9).unwrap(), 4);
    let b = next_batch_after(&conn, 0, 1 << 20, 100).unwrap();
    assert_eq!(b.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![3]);
}

#[test]
fn pruning_removes_only_old_acknowledged_rows() {
    let (_d, mut conn) = db();
    fill(&conn, 4, "{}");
    mark_sent(&mut conn, &[1], 10).unwrap();
    mark_sent(&mut conn, &[2], 500).unwrap();
    assert_eq!(prune_sent(&conn, 100).unwrap(), 1);
    assert_eq!(backlog(&conn).unwrap().rows, 2);
    assert_eq!(last_seq(&conn).unwrap(), 4);
}

#[test]
fn a_resend_requeues_present_rows_and_counts_pruned_ones() {
    let (_d, mut conn) = db();
    fill(&conn, 6, "{}");
    mark_sent(&mut conn, &[1, 2, 3, 4], 10).unwrap();
    prune_sent(&conn, 11).unwrap();
    fill(&conn, 0, "{}");
    mark_sent(&mut conn, &[5], 20).unwrap();
    let r = requeue_range(&conn, 3, 6).unwrap();
    assert_eq!(r, Resend { queued: 2, missing: 2 });
    assert_eq!(backlog(&conn).unwrap().rows, 2);
    assert!(matches!(requeue_range(&conn, 5, 4), Err(OutboxError::BadRange { .. })));
    assert!(matches!(requeue_range(&conn, 0, 4), Err(OutboxError::BadRange { .. })));
}

#[test]
fn the_disk_guard_drops_only_unsent_low_value_rows() {
    let (_d, conn) = db();
    enqueue(&conn, "a", "tap", r#"{"member":"m1"}"#, 0, 1).unwrap();
    enqueue(&conn, "b", "telemetry", r#"{"t":1}"#, -1, 2).unwrap();
    assert_eq!(drop_low_value(&conn).unwrap(), 1);
    assert_eq!(drop_low_value(&conn).unwrap(), 0);
    let rows = next_batch_after(&conn, 0, 1 << 20, 10).unwrap();
    assert_eq!(rows[0].payload, r#"{"member":"m1"}"#);
    assert_eq!((rows[1].kind.as_str(), rows[1].payload.as_str(), rows[1].seq), (DROPPED_KIND, "{}", 2));
}

#[test]
fn the_stream_id_is_created_once() {
    let (_d, conn) = db();
    let a = stream_id(&conn).unwrap();
    assert_eq!(a.len(), 26);
    assert_eq!(stream_id(&conn).unwrap(), a);
}

fn unsent(conn: &Connection) -> Vec<i64> {
    next_batch_after(conn, 0, 1 << 20, 1000).unwrap().iter().map(|r| r.seq).collect()
}

#[test]
fn acknowledging_never_rewrites_an_outbox_row() {
    let (_d, mut conn) = db();
    fill(&conn, 3, r#"{"a":1}"#);
    conn.execute_batch("CREATE TABLE touched (seq INTEGER); CREATE TRIGGER t AFTER UPDATE ON outbox BEGIN INSERT INTO touched VALUES (new.seq); END;").unwrap();
    mark_sent(&mut conn, &[1, 2, 3], 7).unwrap();
    let n: i64 = conn.query_row("SELECT count(*) FROM touched", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 0);
    assert_eq!(conn.query_row("SELECT count(*) FROM outbox_acked", [], |r| r.get::<_, i64>(0)).unwrap(), 1, "one batch, one run");
}

#[test]
fn the_acknowledged_mark_waits_for_an_earlier_batch_acknowledged_late() {
    let (_d, mut conn) = db();
    fill(&conn, 9, "{}");
    mark_sent(&mut conn, &[4, 5, 6], 1).unwrap();
    assert_eq!(acked_through(&conn).unwrap(), 0);
    assert_eq!(unsent(&conn), vec![1, 2, 3, 7, 8, 9]);
    mark_sent(&mut conn, &[1, 2, 3], 2).unwrap();
    assert_eq!(acked_through(&conn).unwrap(), 6);
    mark_sent(&mut conn, &[7, 8, 9], 3).unwrap();
    assert_eq!(acked_through(&conn).unwrap(), 9);
    assert_eq!(backlog(&conn).unwrap(), Backlog { rows: 0, oldest_created_ms: None });
    enqueue(&conn, "late", "tap", "{}", 0, 5).unwrap();
    assert_eq!(unsent(&conn), vec![10]);
}

#[test]
fn a_resend_inside_a_run_splits_it_and_the_rest_keeps_its_time() {
    let (_d, mut conn) = db();
    fill(&conn, 10, "{}");
    mark_sent(&mut conn, &(1..=10).collect::<Vec<_>>(), 100).unwrap();
    assert_eq!(requeue_range(&conn, 4, 6).unwrap(), Resend { queued: 3, missing: 0 });
    assert_eq!(unsent(&conn), vec![4, 5, 6]);
    assert_eq!(backlog(&conn).unwrap().rows, 3);
    assert_eq!(acked_through(&conn).unwrap(), 3);
    // Rows outside the range stay acknowledged at their first time: pruning removes them.
    assert_eq!(prune_sent(&conn, 101).unwrap(), 7);
    assert_eq!(mark_sent(&mut conn, &[4, 5, 6], 200).unwrap(), 3);
    assert_eq!(backlog(&conn).unwrap().rows, 0);
    assert_eq!(acked_through(&conn).unwrap(), 6);
}

#[test]
fn acknowledgements_made_before_the_upgrade_carry_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    {
        let c = at_version(&path, 1);
        for i in 1..=8 {
            // Rows 1-3 sent in one minute, 4 in the next, 5 unsent, 6 sent, 7-8 unsent.
            let sent: Option<i64> = match i { 1..=3 => Some(1_000), 4 => Some(61_000), 6 => Some(2_000), _ => None };
            c.execute("INSERT INTO outbox (id, kind, payload, created_ms, sent_ms) VALUES (?1, 'tap', '{}', ?2, ?3)", params![format!("r{i}"), i, sent]).unwrap();
        }
    }
    let conn = open(&path).unwrap();
    assert_eq!(unsent(&conn), vec![5, 7, 8]);
    assert_eq!(acked_through(&conn).unwrap(), 4);
    let runs: Vec<(i64, i64, i64)> = conn
        .prepare("SELECT from_seq, to_seq, sent_ms FROM outbox_acked ORDER BY from_seq").unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect();
    assert_eq!(runs, vec![(1, 3, 1_000), (4, 4, 61_000), (6, 6, 2_000)]);
    assert_eq!(prune_sent(&conn, 1_500).unwrap(), 3);
}

#[test]
fn the_plain_range_read_and_the_view_agree_whatever_was_acknowledged() {
    let (_d, mut conn) = db();
    fill(&conn, 40, "{}");
    let view = |conn: &Connection, after: i64| -> Vec<i64> {
        conn.prepare("SELECT seq FROM outbox_unsent WHERE seq > ?1 ORDER BY seq").unwrap().query_map([after], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    let acks: [&[i64]; 5] = [&[1, 2, 3], &[7, 8], &[4, 5, 6], &[20, 21, 22, 23], &[9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]];
    for (i, batch) in acks.iter().enumerate() {
        mark_sent(&mut conn, batch, i as i64).unwrap();
        for after in [0, 2, 6, 8, 19, 23, 30, 40] {
            let read: Vec<i64> = next_batch_after(&conn, after, 1 << 20, 100).unwrap().iter().map(|r| r.seq).collect();
            assert_eq!(read, view(&conn, after), "after {after} once {batch:?} was acknowledged");
        }
        assert_eq!(backlog(&conn).unwrap().rows as usize, view(&conn, 0).len(), "once {batch:?} was acknowledged");
    }
}

#[test]
fn a_seq_is_never_given_twice_even_after_the_outbox_was_pruned_empty() {
    let (_d, mut conn) = db();
    fill(&conn, 3, "{}");
    mark_sent(&mut conn, &[1, 2, 3], 10).unwrap();
    assert_eq!(prune_sent(&conn, 11).unwrap(), 3);
    assert_eq!(conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get::<_, i64>(0)).unwrap(), 0);
    assert_eq!(last_seq(&conn).unwrap(), 3);
    assert_eq!(enqueue(&conn, "next", "tap", "{}", 0, 20).unwrap(), 4);
    assert_eq!(unsent(&conn), vec![4]);
}

#[test]
fn the_upgrade_to_version_3_keeps_rows_acknowledgements_and_the_seq_counter() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.db");
    {
        let mut c = at_version(&path, 2);
        for i in 1..=6 {
            c.execute("INSERT INTO outbox (id, kind, payload, created_ms) VALUES (?1, 'tap', '{\"n\":1}', ?2)", params![format!("r{i}"), i]).unwrap();
        }
        mark_sent(&mut c, &[1, 2, 3], 10).unwrap();
        mark_sent(&mut c, &[5], 10).unwrap();
        // Rows 5 and 6 went before the upgrade: the counter stays at 6.
        c.execute("DELETE FROM outbox WHERE seq >= 5", []).unwrap();
    }
    let conn = open(&path).unwrap();
    assert_eq!(conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).unwrap(), crate::store::migrations::MIGRATIONS.len() as i64);
    assert_eq!(unsent(&conn), vec![4]);
    assert_eq!(acked_through(&conn).unwrap(), 3);
    assert_eq!(last_seq(&conn).unwrap(), 6);
    assert_eq!(enqueue(&conn, "after", "tap", "{}", 0, 30).unwrap(), 7);
    let rows = next_batch_after(&conn, 0, 1 << 20, 10).unwrap();
    assert_eq!((rows[0].id.as_str(), rows[0].payload.as_str()), ("r4", r#"{"n":1}"#));
    let sequence_rows: i64 = conn.query_row("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'", [], |r| r.get(0)).unwrap();
    let counted: i64 = if sequence_rows > 0 { conn.query_row("SELECT count(*) FROM sqlite_sequence WHERE name = 'outbox'", [], |r| r.get(0)).unwrap() } else { 0 };
    assert_eq!(counted, 0, "no counter row is written per message any more");
}

#[test]
fn a_payload_that_is_not_json_is_stored_as_a_json_string_however_it_is_written() {
    let (_d, conn) = db();
    enqueue(&conn, "a", "tap", "{not json", 0, 1).unwrap();
    conn.execute("INSERT INTO outbox (seq, id, kind, payload, created_ms) VALUES (2, 'b', 'tap', 'x\"y', 2)", []).unwrap();
    enqueue(&conn, "c", "tap", r#" {"ok":[1,2]} "#, 0, 3).unwrap();
    conn.execute("UPDATE outbox SET payload = 'oops' WHERE seq = 3", []).unwrap();
    let payloads: Vec<String> = conn.prepare("SELECT payload FROM outbox ORDER BY seq").unwrap().query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(payloads, vec![r#""{not json""#, r#""x\"y""#, r#""oops""#]);
    enqueue(&conn, "d", "tap", r#"{"ok":true}"#, 0, 4).unwrap();
    assert_eq!(conn.query_row("SELECT payload FROM outbox WHERE seq = 4", [], |r| r.get::<_, String>(0)).unwrap(), r#"{"ok":true}"#);
}

#[test]
fn a_json5_payload_is_quoted_because_the_hub_parses_strict_json() {
    let (_d, conn) = db();
    for (i, p) in ["{a:1}", "[1,2,]", "{'x':1}", "NaN"].iter().enumerate() {
        enqueue(&conn, &format!("j{i}"), "tap", p, 0, i as i64).unwrap();
    }
    let payloads: Vec<String> = conn.prepare("SELECT payload FROM outbox ORDER BY seq").unwrap().query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap();
    for p in &payloads {
        assert!(serde_json::from_str::<serde_json::Value>(p).unwrap().is_string(), "stored as a string: {p}");
    }
}

#[test]
fn the_upgrade_to_version_4_turns_stored_payloads_that_are_not_json_into_strings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v3.db");
    {
        let c = at_version(&path, 3);
        c.execute("INSERT INTO outbox (seq, id, kind, payload, created_ms) VALUES (1, 'a', 'tap', '{\"n\":1}', 1), (2, 'b', 'tap', '{broken', 2)", []).unwrap();
    }
    let conn = open(&path).unwrap();
    let mut text = String::new();
    let mut w = microclass_protocol::wire::BatchWriter::begin(&mut text, "S", "pi", 5);
    write_next_batch(&conn, 0, 1 << 20, 10, &mut w).unwrap();
    w.finish();
    let b: microclass_protocol::wire::Batch = serde_json::from_str(&text).unwrap();
    assert_eq!(b.records[0].payload, serde_json::json!({"n": 1}));
    assert_eq!(b.records[1].payload, serde_json::Value::String("{broken".into()));
}

#[test]
fn the_streamed_batch_is_the_one_encoded_from_read_rows() {
    let (_d, conn) = db();
    fill(&conn, 7, r#"{"uid":"04A1","n":[1,2]}"#);
    enqueue(&conn, "bad", "tap", "{not json", 0, 9).unwrap();
    let one = next_batch_after(&conn, 0, 1 << 20, 100).unwrap()[0].encoded_bound();
    let rows = next_batch_after(&conn, 2, one * 4, 100).unwrap();
    let mut a = String::new();
    let invalid_a = microclass_protocol::wire::encode_batch(&mut a, "S", "d", 5, &rows);
    let mut b = String::new();
    let mut w = microclass_protocol::wire::BatchWriter::begin(&mut b, "S", "d", 5);
    let seqs = write_next_batch(&conn, 2, one * 4, 100, &mut w).unwrap();
    assert_eq!(w.finish(), invalid_a);
    assert_eq!(seqs, rows.iter().map(|r| r.seq).collect::<Vec<_>>());
    assert_eq!(seqs, vec![3, 4, 5, 6]);
    assert_eq!(a, b);
    let mut c = String::new();
    let mut w = microclass_protocol::wire::BatchWriter::begin(&mut c, "S", "d", 5);
    assert_eq!(write_next_batch(&conn, 6, 1 << 20, 100, &mut w).unwrap(), vec![7, 8]);
    assert_eq!(w.finish(), 0, "the schema stored the corrupt payload as a string");
    let batch: microclass_protocol::wire::Batch = serde_json::from_str(&c).unwrap();
    assert_eq!(batch.records[1].payload, serde_json::Value::String("{not json".into()));
}
