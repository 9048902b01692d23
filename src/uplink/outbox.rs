//! Outbox queries for the uplink: stream unsent rows in `seq` order, mark rows
//! sent after PUBACK, serve resends, prune and shrink under disk pressure.
//! Functions over a borrowed `rusqlite::Connection` (the uplink's own, in WAL
//! mode). It never deletes or rewrites an unsent record (priority >= 0).
//!
//! Acknowledgements never touch the outbox rows: an acknowledged run of seqs
//! is one `outbox_acked` row (non-overlapping runs, with the ack time), and
//! `outbox_state.acked_through` is a seq up to which every row is
//! acknowledged, so "unsent" (the view `outbox_unsent`) only looks above it.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// Rows below this priority are low-value (telemetry samples): the disk guard
/// may drop them. Records (taps, sessions, plays, ...) are priority 0 or more.
pub const LOW_VALUE_BELOW: i64 = 0;
/// The kind a dropped low-value row is rewritten to, so its `seq` still reaches the hub.
pub const DROPPED_KIND: &str = "dropped";
/// Worst-case JSON overhead of one record around its payload (field names,
/// quotes, two 20-digit numbers); keeps the byte bound of a batch honest.
pub const RECORD_OVERHEAD: usize = 96;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("outbox schema: {0}")]
    Migration(#[from] crate::store::migrations::MigrationError),
    #[error("starting the outbox writer: {0}")]
    Thread(String),
    #[error("resend range {from}..={to} is invalid (at most {max} rows, from <= to)")]
    BadRange { from: i64, to: i64, max: i64 },
}

/// One queued message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutRow {
    pub seq: i64,
    pub id: String,
    pub kind: String,
    pub payload: String,
    pub priority: i64,
    pub created_ms: i64,
}

impl OutRow {
    /// An upper bound of this row's encoded size inside a batch.
    pub fn encoded_bound(&self) -> usize {
        self.payload.len() + self.id.len() + self.kind.len() + RECORD_OVERHEAD
    }
}

/// Opens the uplink's own connection: WAL, a busy timeout so the kiosk's
/// writes never make it fail, and the schema brought up to date.
pub fn open(path: &Path) -> Result<Connection, OutboxError> {
    let mut conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // The drain reads each row once, in order: a page cache of 512 KiB (not
    // SQLite's 2 MiB) keeps memory the same whatever the backlog.
    conn.pragma_update(None, "cache_size", -512)?;
    crate::store::migrations::migrate(&mut conn)?;
    Ok(conn)
}

/// Whether an acknowledged run ends above `seq` (after a resend, or an ack
/// that overtook an earlier batch's). When none does, every row above both
/// `seq` and `acked_through` is unsent, and a batch is a plain range read
/// instead of a run lookup per row through the `outbox_unsent` view. Runs
/// never overlap, so the run that starts last also ends last.
fn acked_above(conn: &Connection, seq: i64) -> Result<bool, OutboxError> {
    let last: Option<i64> = conn.prepare_cached("SELECT to_seq FROM outbox_acked ORDER BY from_seq DESC LIMIT 1")?.query_row([], |r| r.get(0)).optional()?;
    Ok(last.is_some_and(|to| to > seq))
}

/// Unsent rows after `after_seq`, in order, at most `max_rows` and (except
/// for a single oversized row, which goes alone) at most `max_bytes` of
/// `encoded_bound`. Reads row by row: never more than one batch in memory.
pub fn next_batch_after(conn: &Connection, after_seq: i64, max_bytes: usize, max_rows: usize) -> Result<Vec<OutRow>, OutboxError> {
    let mut stmt = conn.prepare_cached(if acked_above(conn, after_seq)? {
        "SELECT seq, id, kind, payload, priority, created_ms FROM outbox_unsent WHERE seq > ?1 ORDER BY seq LIMIT ?2"
    } else {
        "SELECT seq, id, kind, payload, priority, created_ms FROM outbox WHERE seq > max(?1, (SELECT acked_through FROM outbox_state WHERE id = 1)) ORDER BY seq LIMIT ?2"
    })?;
    let mut rows = stmt.query(params![after_seq, max_rows as i64])?;
    let mut out = Vec::new();
    let mut bytes = 0usize;
    while let Some(r) = rows.next()? {
        let row = OutRow {
            seq: r.get(0)?,
            id: r.get(1)?,
            kind: r.get(2)?,
            payload: r.get(3)?,
            priority: r.get(4)?,
            created_ms: r.get(5)?,
        };
        let size = row.encoded_bound();
        if !out.is_empty() && bytes + size > max_bytes {
            break;
        }
        bytes += size;
        out.push(row);
        if bytes >= max_bytes {
            break;
        }
    }
    Ok(out)
}

/// Column `i` as text borrowed from SQLite's buffer (no copy).
fn text<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> Result<&'r str, rusqlite::Error> {
    r.get_ref(i)?.as_str().map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e)))
}

/// `next_batch_after`, encoding each row straight into `w` from SQLite's
/// buffers (no copy per row). Same bounds; returns the seqs written.
pub fn write_next_batch(conn: &Connection, after_seq: i64, max_bytes: usize, max_rows: usize, w: &mut super::wire::BatchWriter<'_>) -> Result<Vec<i64>, OutboxError> {
    let mut stmt = conn.prepare_cached(if acked_above(conn, after_seq)? {
        "SELECT seq, id, kind, payload, created_ms FROM outbox_unsent WHERE seq > ?1 ORDER BY seq LIMIT ?2"
    } else {
        "SELECT seq, id, kind, payload, created_ms FROM outbox WHERE seq > max(?1, (SELECT acked_through FROM outbox_state WHERE id = 1)) ORDER BY seq LIMIT ?2"
    })?;
    let mut rows = stmt.query(params![after_seq, max_rows as i64])?;
    let mut seqs = Vec::new();
    let mut bytes = 0usize;
    while let Some(r) = rows.next()? {
        let (id, kind, payload) = (text(r, 1)?, text(r, 2)?, text(r, 3)?);
        let size = payload.len() + id.len() + kind.len() + RECORD_OVERHEAD;
        if !seqs.is_empty() && bytes + size > max_bytes {
            break;
        }
        bytes += size;
        let seq: i64 = r.get(0)?;
        w.record_json(seq, id, kind, r.get(4)?, payload);
        seqs.push(seq);
        if bytes >= max_bytes {
            break;
        }
    }
    Ok(seqs)
}

/// Encodes the rows of a batch sent before (ascending `seqs`) into `w`
/// again, with their original ids and seqs; returns the seqs written.
/// Unacknowledged rows are never pruned, so normally that is all of them.
pub fn write_batch_of(conn: &Connection, seqs: &[i64], w: &mut super::wire::BatchWriter<'_>) -> Result<Vec<i64>, OutboxError> {
    let (Some(&first), Some(&last)) = (seqs.first(), seqs.last()) else { return Ok(Vec::new()) };
    let mut stmt = conn.prepare_cached("SELECT seq, id, kind, payload, created_ms FROM outbox WHERE seq BETWEEN ?1 AND ?2 ORDER BY seq")?;
    let mut rows = stmt.query(params![first, last])?;
    let mut want = seqs.iter().copied().peekable();
    let mut written = Vec::with_capacity(seqs.len());
    while let Some(r) = rows.next()? {
        let seq: i64 = r.get(0)?;
        while want.next_if(|&s| s < seq).is_some() {}
        if want.next_if_eq(&seq).is_none() {
            continue;
        }
        w.record_json(seq, text(r, 1)?, text(r, 2)?, r.get(4)?, text(r, 3)?);
        written.push(seq);
    }
    Ok(written)
}

/// Marks rows (read from the outbox, so they exist) as acknowledged by the
/// broker, in one transaction: each run of consecutive seqs becomes one
/// `outbox_acked` row (a batch is usually one run). Seqs already acknowledged
/// keep their first time. Returns how many seqs were newly acknowledged.
pub fn mark_sent(conn: &mut Connection, seqs: &[i64], now_ms: i64) -> Result<usize, OutboxError> {
    mark_runs(conn, &runs(seqs), now_ms)
}

/// `mark_sent` for runs of consecutive seqs (`from..=to` each) that exist
/// in the outbox; runs may overlap each other or earlier acknowledgements.
pub fn mark_runs(conn: &mut Connection, runs: &[(i64, i64)], now_ms: i64) -> Result<usize, OutboxError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut n = 0;
    for &(from, to) in runs {
        for (a, b) in uncovered(&tx, from, to)? {
            tx.prepare_cached("INSERT INTO outbox_acked (from_seq, to_seq, sent_ms) VALUES (?1, ?2, ?3)")?.execute(params![a, b, now_ms])?;
            n += (b - a + 1) as usize;
        }
    }
    if n > 0 {
        advance_acked_through(&tx)?;
    }
    tx.commit()?;
    Ok(n)
}

/// Acknowledged runs overlapping `from..=to`, in order.
fn acked_overlapping(conn: &Connection, from: i64, to: i64) -> Result<Vec<(i64, i64, i64)>, OutboxError> {
    let mut stmt = conn.prepare_cached(
        "SELECT from_seq, to_seq, sent_ms FROM outbox_acked
         WHERE from_seq BETWEEN coalesce((SELECT from_seq FROM outbox_acked WHERE from_seq <= ?1 ORDER BY from_seq DESC LIMIT 1), ?1) AND ?2
         AND to_seq >= ?1 ORDER BY from_seq",
    )?;
    let v = stmt.query_map(params![from, to], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<Vec<_>, _>>()?;
    Ok(v)
}

/// The parts of `from..=to` no acknowledged run covers.
fn uncovered(conn: &Connection, from: i64, to: i64) -> Result<Vec<(i64, i64)>, OutboxError> {
    let mut out = Vec::new();
    let mut next = from;
    for (a, b, _) in acked_overlapping(conn, from, to)? {
        if a > next {
            out.push((next, a - 1));
        }
        next = next.max(b + 1);
    }
    if next <= to {
        out.push((next, to));
    }
    Ok(out)
}

/// Moves `acked_through` over every acknowledged row that follows it,
/// one run per step (a few index seeks per acknowledged batch).
fn advance_acked_through(conn: &Connection) -> Result<(), OutboxError> {
    let mut through = acked_through(conn)?;
    let start = through;
    loop {
        let next: Option<i64> = conn.prepare_cached("SELECT seq FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT 1")?.query_row([through], |r| r.get(0)).optional()?;
        let Some(next) = next else { break };
        let covered: Option<i64> = conn
            .prepare_cached("SELECT to_seq FROM outbox_acked WHERE from_seq <= ?1 ORDER BY from_seq DESC LIMIT 1")?
            .query_row([next], |r| r.get(0))
            .optional()?;
        match covered {
            Some(to) if to >= next => through = to,
            _ => break,
        }
    }
    if through != start {
        set_acked_through(conn, through)?;
    }
    Ok(())
}

/// Every outbox row with a seq up to this one is acknowledged.
pub fn acked_through(conn: &Connection) -> Result<i64, OutboxError> {
    Ok(conn.prepare_cached("SELECT acked_through FROM outbox_state WHERE id = 1")?.query_row([], |r| r.get(0))?)
}

fn set_acked_through(conn: &Connection, seq: i64) -> Result<(), OutboxError> {
    conn.prepare_cached("UPDATE outbox_state SET acked_through = ?1 WHERE id = 1")?.execute([seq])?;
    Ok(())
}

/// Consecutive runs of ascending seqs: [1,2,3,7,8] -> (1,3), (7,8).
pub fn runs(seqs: &[i64]) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    for &s in seqs {
        match out.last_mut() {
            Some((_, to)) if *to + 1 == s => *to = s,
            _ => out.push((s, s)),
        }
    }
    out
}

/// Unsent rows and the creation time of the oldest one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backlog {
    pub rows: u64,
    pub oldest_created_ms: Option<i64>,
}

pub fn backlog(conn: &Connection) -> Result<Backlog, OutboxError> {
    let rows = crate::store::outbox::count_unsent(conn)?;
    let oldest: Option<i64> = conn
        .prepare_cached("SELECT created_ms FROM outbox_unsent ORDER BY seq LIMIT 1")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(Backlog { rows: rows.max(0) as u64, oldest_created_ms: oldest })
}

/// The highest `seq` ever allocated (0 when none): the highest row, or the
/// highest pruned one when the outbox was emptied.
pub fn last_seq(conn: &Connection) -> Result<i64, OutboxError> {
    Ok(conn
        .prepare_cached("SELECT max(coalesce((SELECT max(seq) FROM outbox), 0), (SELECT seq_floor FROM outbox_state WHERE id = 1))")?
        .query_row([], |r| r.get::<_, Option<i64>>(0))?
        .unwrap_or(0))
}

/// Deletes acknowledged rows sent before `sent_before_ms`, run by run, in
/// one transaction. Unsent rows are never touched.
pub fn prune_sent(conn: &Connection, sent_before_ms: i64) -> Result<usize, OutboxError> {
    let tx = conn.unchecked_transaction()?;
    let runs: Vec<(i64, i64)> = tx
        .prepare_cached("SELECT from_seq, to_seq FROM outbox_acked WHERE sent_ms < ?1")?
        .query_map([sent_before_ms], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut n = 0;
    for (a, b) in runs {
        n += tx.prepare_cached("DELETE FROM outbox WHERE seq BETWEEN ?1 AND ?2")?.execute([a, b])?;
        tx.prepare_cached("DELETE FROM outbox_acked WHERE from_seq = ?1")?.execute([a])?;
        // The next seq is allocated above this one even if the outbox is now empty.
        tx.prepare_cached("UPDATE outbox_state SET seq_floor = max(seq_floor, ?1) WHERE id = 1")?.execute([b])?;
    }
    tx.commit()?;
    Ok(n)
}

/// Outcome of a resend request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resend {
    /// Rows found in the range and queued again (sent or not).
    pub queued: u64,
    /// Sequence numbers in the range that are no longer in the outbox (pruned) or never existed.
    pub missing: u64,
}

/// Largest range one resend command may ask for.
pub const MAX_RESEND_ROWS: i64 = 1_000_000;

/// Queues the rows `from..=to` again by taking them out of the acknowledged
/// runs (the parts of a run outside the range keep their time); the drain
/// then sends them with their original ids and seqs.
pub fn requeue_range(conn: &Connection, from: i64, to: i64) -> Result<Resend, OutboxError> {
    if from < 1 || to < from || to - from >= MAX_RESEND_ROWS {
        return Err(OutboxError::BadRange { from, to, max: MAX_RESEND_ROWS });
    }
    let tx = conn.unchecked_transaction()?;
    for (a, b, sent_ms) in acked_overlapping(&tx, from, to)? {
        tx.prepare_cached("DELETE FROM outbox_acked WHERE from_seq = ?1")?.execute([a])?;
        let keep = |x: i64, y: i64| tx.prepare_cached("INSERT INTO outbox_acked (from_seq, to_seq, sent_ms) VALUES (?1, ?2, ?3)")?.execute([x, y, sent_ms]);
        if a < from {
            keep(a, from - 1)?;
        }
        if b > to {
            keep(to + 1, b)?;
        }
    }
    if acked_through(&tx)? >= from {
        set_acked_through(&tx, from - 1)?;
    }
    let present: i64 = tx.query_row("SELECT count(*) FROM outbox WHERE seq BETWEEN ?1 AND ?2", params![from, to], |r| r.get(0))?;
    tx.commit()?;
    Ok(Resend { queued: present as u64, missing: (to - from + 1 - present) as u64 })
}

/// Rewrites unsent low-value rows as `dropped` tombstones (kind and seq kept,
/// payload emptied), so the hub sees the seq and knows why there is no data.
pub fn drop_low_value(conn: &Connection) -> Result<usize, OutboxError> {
    Ok(conn.execute(
        "UPDATE outbox SET kind = ?1, payload = '{}' WHERE seq IN (SELECT seq FROM outbox_unsent WHERE priority < ?2 AND kind != ?1)",
        params![DROPPED_KIND, LOW_VALUE_BELOW],
    )?)
}

/// Queues one message; used by the uplink for its own low-value samples.
pub fn enqueue(conn: &Connection, id: &str, kind: &str, payload: &str, priority: i64, now_ms: i64) -> Result<i64, OutboxError> {
    conn.prepare_cached(crate::store::outbox::ENQUEUE_SQL)?
        .execute(params![id, kind, payload, priority, now_ms])?;
    Ok(conn.last_insert_rowid())
}

/// The id of this database's sequence stream: created once, kept forever. A
/// new database (re-provisioned device) gets a new stream and seq restarts at 1.
pub fn stream_id(conn: &Connection) -> Result<String, OutboxError> {
    let fresh = ulid::Ulid::new().to_string();
    conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('uplink.stream', ?1)", params![fresh])?;
    Ok(conn.query_row("SELECT value FROM meta WHERE key = 'uplink.stream'", [], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
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
        let mut w = crate::uplink::wire::BatchWriter::begin(&mut text, "S", "pi", 5);
        assert_eq!(write_batch_of(&conn, &[2, 3, 6, 9], &mut w).unwrap(), vec![2, 3, 6]);
        assert_eq!(w.finish(), 0);
        let b: crate::uplink::wire::Batch = serde_json::from_str(&text).unwrap();
        assert_eq!(b.records.iter().map(|r| (r.seq, r.id.as_str())).collect::<Vec<_>>(), vec![(2, "id00001"), (3, "id00002"), (6, "id00005")]);
        let mut w = crate::uplink::wire::BatchWriter::begin(&mut text, "S", "pi", 5);
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
        let mut w = crate::uplink::wire::BatchWriter::begin(&mut text, "S", "pi", 5);
        write_next_batch(&conn, 0, 1 << 20, 10, &mut w).unwrap();
        w.finish();
        let b: crate::uplink::wire::Batch = serde_json::from_str(&text).unwrap();
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
        let invalid_a = crate::uplink::wire::encode_batch(&mut a, "S", "d", 5, &rows);
        let mut b = String::new();
        let mut w = crate::uplink::wire::BatchWriter::begin(&mut b, "S", "d", 5);
        let seqs = write_next_batch(&conn, 2, one * 4, 100, &mut w).unwrap();
        assert_eq!(w.finish(), invalid_a);
        assert_eq!(seqs, rows.iter().map(|r| r.seq).collect::<Vec<_>>());
        assert_eq!(seqs, vec![3, 4, 5, 6]);
        assert_eq!(a, b);
        let mut c = String::new();
        let mut w = crate::uplink::wire::BatchWriter::begin(&mut c, "S", "d", 5);
        assert_eq!(write_next_batch(&conn, 6, 1 << 20, 100, &mut w).unwrap(), vec![7, 8]);
        assert_eq!(w.finish(), 0, "the schema stored the corrupt payload as a string");
        let batch: crate::uplink::wire::Batch = serde_json::from_str(&c).unwrap();
        assert_eq!(batch.records[1].payload, serde_json::Value::String("{not json".into()));
    }
}
