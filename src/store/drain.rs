//! The outbox as the uplink drains it: stream unsent rows in `seq` order, mark
//! rows sent after PUBACK, serve resends, prune and shrink under disk
//! pressure. Functions over a borrowed `rusqlite::Connection` opened by
//! [`open`] (the store's pragmas). It never deletes or rewrites an unsent
//! record (priority >= 0). The kiosk's side (enqueueing in a decision's
//! transaction, counting) is `store::outbox`.
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
pub use microclass_protocol::wire::{OutRow, MAX_RECORD_BYTES, RECORD_OVERHEAD};

/// Upper bound of an `oversize` note's payload (`{"kind":…,"bytes":…}`).
const OVERSIZE_NOTE_BYTES: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("outbox schema: {0}")]
    Migration(#[from] super::migrations::MigrationError),
    #[error("starting the outbox writer: {0}")]
    Thread(String),
    #[error("resend range {from}..={to} is invalid (at most {max} rows, from <= to)")]
    BadRange { from: i64, to: i64, max: i64 },
}


/// Opens the uplink's own connection with the store's pragmas (WAL,
/// `synchronous = FULL`: a seq it allocates for telemetry survives a power
/// cut, so it is never given twice), a longer busy timeout so the kiosk's
/// writes never make it fail, and the schema brought up to date.
pub fn open(path: &Path) -> Result<Connection, OutboxError> {
    let mut conn = Connection::open(path)?;
    super::configure(&conn).map_err(|e| match e {
        super::StoreError::Sqlite(e) | super::StoreError::DiskFull(e) | super::StoreError::ReadOnly(e) | super::StoreError::Corrupt(e) => OutboxError::Sqlite(e),
        other => OutboxError::Thread(other.to_string()),
    })?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // The drain reads each row once, in order: a page cache of 512 KiB (not
    // SQLite's 2 MiB) keeps memory the same whatever the backlog.
    conn.pragma_update(None, "cache_size", -512)?;
    super::migrations::migrate(&mut conn)?;
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
pub fn write_next_batch(conn: &Connection, after_seq: i64, max_bytes: usize, max_rows: usize, w: &mut microclass_protocol::wire::BatchWriter<'_>) -> Result<Vec<i64>, OutboxError> {
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
        // A payload above the limit travels as a short `oversize` note.
        let sent = if payload.len() > MAX_RECORD_BYTES { OVERSIZE_NOTE_BYTES } else { payload.len() };
        let size = sent + id.len() + kind.len() + RECORD_OVERHEAD;
        if !seqs.is_empty() && bytes + size > max_bytes {
            break;
        }
        bytes += size;
        let seq: i64 = r.get(0)?;
        w.record_bounded(seq, id, kind, r.get(4)?, payload);
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
pub fn write_batch_of(conn: &Connection, seqs: &[i64], w: &mut microclass_protocol::wire::BatchWriter<'_>) -> Result<Vec<i64>, OutboxError> {
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
        w.record_bounded(seq, text(r, 1)?, text(r, 2)?, r.get(4)?, text(r, 3)?);
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
#[path = "drain_tests.rs"]
mod tests;
