//! Outbox queries for the uplink: stream unsent rows in `seq` order, mark rows
//! sent after PUBACK, serve resends, prune and shrink under disk pressure.
//! Functions over a borrowed `rusqlite::Connection` (the uplink's own, in WAL
//! mode). It never deletes or rewrites an unsent record (priority >= 0).

use rusqlite::{params, Connection, OptionalExtension};
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
    crate::store::migrations::migrate(&mut conn)?;
    Ok(conn)
}

/// Unsent rows after `after_seq`, in order, at most `max_rows` and (except
/// for a single oversized row, which goes alone) at most `max_bytes` of
/// `encoded_bound`. Reads row by row: never more than one batch in memory.
pub fn next_batch_after(conn: &Connection, after_seq: i64, max_bytes: usize, max_rows: usize) -> Result<Vec<OutRow>, OutboxError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, id, kind, payload, priority, created_ms FROM outbox
         WHERE sent_ms IS NULL AND seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
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

/// Marks rows as acknowledged by the broker, in one transaction. Rows already
/// marked keep their first `sent_ms`. Returns how many rows changed. Runs of
/// consecutive seqs become one range update (a batch is usually one run).
pub fn mark_sent(conn: &mut Connection, seqs: &[i64], now_ms: i64) -> Result<usize, OutboxError> {
    let tx = conn.transaction()?;
    let mut n = 0;
    {
        let mut stmt = tx.prepare_cached("UPDATE outbox SET sent_ms = ?1 WHERE seq BETWEEN ?2 AND ?3 AND sent_ms IS NULL")?;
        for (from, to) in runs(seqs) {
            n += stmt.execute(params![now_ms, from, to])?;
        }
    }
    tx.commit()?;
    Ok(n)
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
    let rows: i64 = conn.prepare_cached("SELECT count(*) FROM outbox WHERE sent_ms IS NULL")?.query_row([], |r| r.get(0))?;
    let oldest: Option<i64> = conn
        .prepare_cached("SELECT created_ms FROM outbox WHERE sent_ms IS NULL ORDER BY seq LIMIT 1")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(Backlog { rows: rows.max(0) as u64, oldest_created_ms: oldest })
}

/// The highest `seq` ever allocated (0 when none).
pub fn last_seq(conn: &Connection) -> Result<i64, OutboxError> {
    let v: Option<i64> = conn
        .query_row("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'", [], |r| r.get(0))
        .optional()?;
    Ok(v.unwrap_or(0))
}

/// Deletes acknowledged rows sent before `sent_before_ms`. Unsent rows are never touched.
pub fn prune_sent(conn: &Connection, sent_before_ms: i64) -> Result<usize, OutboxError> {
    Ok(conn.execute("DELETE FROM outbox WHERE sent_ms IS NOT NULL AND sent_ms < ?1", params![sent_before_ms])?)
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

/// Queues the rows `from..=to` again by clearing their `sent_ms`; the drain
/// then sends them with their original ids and seqs.
pub fn requeue_range(conn: &Connection, from: i64, to: i64) -> Result<Resend, OutboxError> {
    if from < 1 || to < from || to - from >= MAX_RESEND_ROWS {
        return Err(OutboxError::BadRange { from, to, max: MAX_RESEND_ROWS });
    }
    conn.execute("UPDATE outbox SET sent_ms = NULL WHERE seq BETWEEN ?1 AND ?2 AND sent_ms IS NOT NULL", params![from, to])?;
    let present: i64 = conn.query_row("SELECT count(*) FROM outbox WHERE seq BETWEEN ?1 AND ?2", params![from, to], |r| r.get(0))?;
    Ok(Resend { queued: present as u64, missing: (to - from + 1 - present) as u64 })
}

/// Rewrites unsent low-value rows as `dropped` tombstones (kind and seq kept,
/// payload emptied), so the hub sees the seq and knows why there is no data.
pub fn drop_low_value(conn: &Connection) -> Result<usize, OutboxError> {
    Ok(conn.execute(
        "UPDATE outbox SET kind = ?1, payload = '{}' WHERE sent_ms IS NULL AND priority < ?2 AND kind != ?1",
        params![DROPPED_KIND, LOW_VALUE_BELOW],
    )?)
}

/// Queues one message; used by the uplink for its own low-value samples.
pub fn enqueue(conn: &Connection, id: &str, kind: &str, payload: &str, priority: i64, now_ms: i64) -> Result<i64, OutboxError> {
    conn.prepare_cached("INSERT INTO outbox (id, kind, payload, priority, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)")?
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
        let t: i64 = conn.query_row("SELECT sent_ms FROM outbox WHERE seq = 2", [], |r| r.get(0)).unwrap();
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
}
