//! Hub storage: the `HubStore` trait the ingest and the report use, its
//! types, the pure gap arithmetic, and the embedded SQLite implementation
//! (PostgreSQL is in `pg.rs`). Records are keyed by their id, so a record
//! delivered twice is stored once; sequence watermarks live in the database
//! so several workers can share a stream. It never talks MQTT.

use microclass_protocol::wire::{BatchRecord, Status};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("postgres: {0}")]
    Postgres(#[from] postgres::Error),
}

/// Where a message came from, read from its topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub district: String,
    pub centre: String,
    pub device: String,
}

/// What one batch did to the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stored {
    pub inserted: usize,
    pub duplicates: usize,
}

/// A run of sequence numbers missing from a device's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    pub centre: String,
    pub device: String,
    pub stream: String,
    pub from_seq: i64,
    pub to_seq: i64,
}

/// One device as `hub devices` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceRow {
    pub centre: String,
    pub device: String,
    pub state: String,
    pub version: String,
    pub backlog: i64,
    pub last_seen_ms: i64,
    pub records: i64,
    pub missing: i64,
}

/// A stored record for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordRow {
    pub centre: String,
    pub device: String,
    pub kind: String,
    pub payload: serde_json::Value,
}

/// The ingest's and the report's view of the hub database.
pub trait HubStore: Send {
    /// Stores a batch's records (a known id is a duplicate), advances the
    /// stream's watermark and the device's last contact, in one transaction.
    fn insert_batch(&mut self, o: &Origin, stream: &str, records: &[BatchRecord], now_ms: i64) -> Result<Stored, StoreError>;
    /// Gaps open for at least `grace_ms` whose last resend is older than `retry_ms`,
    /// claimed in the database so only one worker asks for them.
    fn claim_gaps(&mut self, now_ms: i64, grace_ms: i64, retry_ms: i64) -> Result<Vec<Gap>, StoreError>;
    /// Remembers a resend command so its answer can be matched.
    fn record_command(&mut self, id: &str, gap: &Gap, now_ms: i64) -> Result<(), StoreError>;
    /// A command's answer. A refused resend (rows pruned on the device) closes
    /// the gap for good; returns true when that happened.
    fn command_answered(&mut self, id: &str, ok: bool, code: Option<&str>, now_ms: i64) -> Result<bool, StoreError>;
    fn device_status(&mut self, o: &Origin, status: &Status, now_ms: i64) -> Result<(), StoreError>;
    fn device_seen(&mut self, o: &Origin, backlog: Option<u64>, now_ms: i64) -> Result<(), StoreError>;
    fn devices(&mut self) -> Result<Vec<DeviceRow>, StoreError>;
    /// Calls `f` for every stored record of `kinds`, streaming (a year of a
    /// district does not have to fit in memory).
    fn each_record(&mut self, kinds: &[&str], f: &mut dyn FnMut(RecordRow)) -> Result<(), StoreError>;
    /// Every stored record of `kinds`, collected (tests and small tools).
    fn records(&mut self, kinds: &[&str]) -> Result<Vec<RecordRow>, StoreError> {
        let mut out = Vec::new();
        self.each_record(kinds, &mut |r| out.push(r))?;
        Ok(out)
    }
    fn record_count(&mut self) -> Result<i64, StoreError>;
}

/// Walks sorted seqs above `watermark`: the new watermark (end of the
/// contiguous run) and the missing ranges up to `max_seq` (at most `limit`).
pub fn scan(watermark: i64, seqs: &[i64], max_seq: i64, limit: usize) -> (i64, Vec<(i64, i64)>) {
    let mut wm = watermark;
    let mut expect = watermark + 1;
    let mut gaps = Vec::new();
    for &s in seqs {
        if s < expect {
            continue;
        }
        if s > expect && gaps.len() < limit {
            gaps.push((expect, s - 1));
        }
        if gaps.is_empty() {
            wm = s;
        }
        expect = s + 1;
    }
    if expect <= max_seq && gaps.len() < limit {
        gaps.push((expect, max_seq));
    }
    (wm, gaps)
}

/// The hub tables; `pg.rs` derives the PostgreSQL variant from this text.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY, district TEXT NOT NULL, centre TEXT NOT NULL, device TEXT NOT NULL,
    stream TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, created_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL, payload TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_stream ON records(device, stream, seq);
CREATE INDEX IF NOT EXISTS records_kind ON records(kind);
CREATE TABLE IF NOT EXISTS streams (
    device TEXT NOT NULL, stream TEXT NOT NULL, centre TEXT NOT NULL,
    watermark INTEGER NOT NULL DEFAULT 0, max_seq INTEGER NOT NULL DEFAULT 0,
    gap_since_ms INTEGER, last_resend_ms INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device, stream));
CREATE TABLE IF NOT EXISTS devices (
    device TEXT PRIMARY KEY, district TEXT NOT NULL, centre TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'unknown',
    boot_id TEXT NOT NULL DEFAULT '', version TEXT NOT NULL DEFAULT '', backlog INTEGER NOT NULL DEFAULT 0,
    last_seen_ms INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS commands (
    id TEXT PRIMARY KEY, device TEXT NOT NULL, stream TEXT NOT NULL, from_seq INTEGER NOT NULL,
    to_seq INTEGER NOT NULL, sent_ms INTEGER NOT NULL, answered_ms INTEGER, ok INTEGER, code TEXT);
";

/// Most gaps reported per stream per sweep.
pub const GAPS_PER_STREAM: usize = 8;

/// The embedded hub database (one SQLite file, WAL).
pub struct SqliteHub {
    conn: Connection,
}

impl SqliteHub {
    pub fn open(path: &Path) -> Result<SqliteHub, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(SCHEMA)?;
        Ok(SqliteHub { conn })
    }

    /// Seqs above `wm` for one stream, sorted.
    fn seqs_above(tx: &Connection, device: &str, stream: &str, wm: i64) -> Result<Vec<i64>, rusqlite::Error> {
        let mut st = tx.prepare_cached("SELECT seq FROM records WHERE device = ?1 AND stream = ?2 AND seq > ?3 ORDER BY seq")?;
        let rows = st.query_map(params![device, stream, wm], |r| r.get(0))?;
        rows.collect()
    }

    /// Recomputes a stream's watermark; returns the gaps still open.
    fn advance(tx: &Connection, device: &str, stream: &str, now_ms: i64) -> Result<Vec<(i64, i64)>, rusqlite::Error> {
        let (wm, max): (i64, i64) = tx.query_row("SELECT watermark, max_seq FROM streams WHERE device = ?1 AND stream = ?2", params![device, stream], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let seqs = Self::seqs_above(tx, device, stream, wm)?;
        let (new_wm, gaps) = scan(wm, &seqs, max, GAPS_PER_STREAM);
        tx.execute(
            "UPDATE streams SET watermark = ?3, gap_since_ms = CASE WHEN ?4 THEN coalesce(gap_since_ms, ?5) ELSE NULL END WHERE device = ?1 AND stream = ?2",
            params![device, stream, new_wm, !gaps.is_empty(), now_ms],
        )?;
        Ok(gaps)
    }
}

impl HubStore for SqliteHub {
    fn insert_batch(&mut self, o: &Origin, stream: &str, records: &[BatchRecord], now_ms: i64) -> Result<Stored, StoreError> {
        let tx = self.conn.transaction()?;
        let mut out = Stored::default();
        {
            let mut ins = tx.prepare_cached(
                "INSERT INTO records (id, district, centre, device, stream, seq, kind, created_ms, received_ms, payload)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (id) DO NOTHING",
            )?;
            for r in records {
                let n = ins.execute(params![r.id, o.district, o.centre, o.device, stream, r.seq, r.kind, r.created_ms, now_ms, r.payload.to_string()])?;
                if n == 1 { out.inserted += 1 } else { out.duplicates += 1 }
            }
        }
        let max = records.iter().map(|r| r.seq).max().unwrap_or(0);
        tx.execute(
            "INSERT INTO streams (device, stream, centre, max_seq) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (device, stream) DO UPDATE SET max_seq = max(max_seq, excluded.max_seq)",
            params![o.device, stream, o.centre, max],
        )?;
        Self::advance(&tx, &o.device, stream, now_ms)?;
        // Last contact in the same transaction: one commit per batch.
        tx.execute(
            "INSERT INTO devices (device, district, centre, last_seen_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (device) DO UPDATE SET last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)",
            params![o.device, o.district, o.centre, now_ms],
        )?;
        tx.commit()?;
        Ok(out)
    }

    fn claim_gaps(&mut self, now_ms: i64, grace_ms: i64, retry_ms: i64) -> Result<Vec<Gap>, StoreError> {
        let tx = self.conn.transaction()?;
        let open: Vec<(String, String, String)> = {
            let mut st = tx.prepare_cached("SELECT device, stream, centre FROM streams WHERE watermark < max_seq")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut out = Vec::new();
        for (device, stream, centre) in open {
            let gaps = Self::advance(&tx, &device, &stream, now_ms)?;
            let claimed = tx.execute(
                "UPDATE streams SET last_resend_ms = ?3 WHERE device = ?1 AND stream = ?2 AND gap_since_ms <= ?4 AND (last_resend_ms = 0 OR last_resend_ms <= ?5)",
                params![device, stream, now_ms, now_ms - grace_ms, now_ms - retry_ms],
            )?;
            if claimed == 1 {
                out.extend(gaps.into_iter().map(|(f, t)| Gap { centre: centre.clone(), device: device.clone(), stream: stream.clone(), from_seq: f, to_seq: t }));
            }
        }
        tx.commit()?;
        Ok(out)
    }

    fn record_command(&mut self, id: &str, g: &Gap, now_ms: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO commands (id, device, stream, from_seq, to_seq, sent_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, g.device, g.stream, g.from_seq, g.to_seq, now_ms],
        )?;
        Ok(())
    }

    fn command_answered(&mut self, id: &str, ok: bool, code: Option<&str>, now_ms: i64) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute("UPDATE commands SET answered_ms = ?2, ok = ?3, code = ?4 WHERE id = ?1", params![id, now_ms, ok, code])?;
        let cmd: Option<(String, String, i64)> =
            tx.query_row("SELECT device, stream, to_seq FROM commands WHERE id = ?1", params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional()?;
        let mut closed = false;
        if let (Some((device, stream, to)), false, Some("pruned")) = (cmd, ok, code) {
            // The device no longer has these rows: move the watermark past them.
            tx.execute("UPDATE streams SET watermark = max(watermark, ?3) WHERE device = ?1 AND stream = ?2", params![device, stream, to])?;
            Self::advance(&tx, &device, &stream, now_ms)?;
            closed = true;
        }
        tx.commit()?;
        Ok(closed)
    }

    fn device_status(&mut self, o: &Origin, s: &Status, now_ms: i64) -> Result<(), StoreError> {
        let state = match s.state { microclass_protocol::wire::DeviceState::Online => "online", microclass_protocol::wire::DeviceState::Offline => "offline" };
        let (version, backlog) = s.birth.as_ref().map(|b| (b.version.clone(), b.backlog as i64)).unwrap_or_default();
        self.conn.execute(
            "INSERT INTO devices (device, district, centre, state, boot_id, version, backlog, last_seen_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (device) DO UPDATE SET centre = excluded.centre, state = excluded.state, boot_id = excluded.boot_id,
               version = CASE WHEN excluded.version = '' THEN version ELSE excluded.version END,
               backlog = CASE WHEN excluded.state = 'online' THEN excluded.backlog ELSE backlog END,
               last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)",
            params![o.device, o.district, o.centre, state, s.boot_id, version, backlog, now_ms],
        )?;
        // The birth tells how far the device has written: a missing tail is a gap too.
        if let Some(b) = s.birth.as_ref().filter(|b| b.last_seq > 0) {
            let tx = self.conn.transaction()?;
            tx.execute(
                "INSERT INTO streams (device, stream, centre, max_seq) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (device, stream) DO UPDATE SET max_seq = max(max_seq, excluded.max_seq)",
                params![o.device, b.stream, o.centre, b.last_seq],
            )?;
            Self::advance(&tx, &o.device, &b.stream, now_ms)?;
            tx.commit()?;
        }
        Ok(())
    }

    fn device_seen(&mut self, o: &Origin, backlog: Option<u64>, now_ms: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO devices (device, district, centre, backlog, last_seen_ms) VALUES (?1, ?2, ?3, coalesce(?4, 0), ?5)
             ON CONFLICT (device) DO UPDATE SET last_seen_ms = max(last_seen_ms, excluded.last_seen_ms), backlog = coalesce(?4, backlog)",
            params![o.device, o.district, o.centre, backlog.map(|b| b as i64), now_ms],
        )?;
        Ok(())
    }

    fn devices(&mut self) -> Result<Vec<DeviceRow>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT d.centre, d.device, d.state, d.version, d.backlog, d.last_seen_ms,
               (SELECT count(*) FROM records r WHERE r.device = d.device),
               (SELECT coalesce(sum(max_seq - watermark), 0) FROM streams s WHERE s.device = d.device)
             FROM devices d ORDER BY d.centre, d.device",
        )?;
        let rows = st.query_map([], |r| {
            Ok(DeviceRow { centre: r.get(0)?, device: r.get(1)?, state: r.get(2)?, version: r.get(3)?, backlog: r.get(4)?, last_seen_ms: r.get(5)?, records: r.get(6)?, missing: r.get(7)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn each_record(&mut self, kinds: &[&str], f: &mut dyn FnMut(RecordRow)) -> Result<(), StoreError> {
        let mut st = self.conn.prepare_cached("SELECT centre, device, kind, payload FROM records WHERE kind = ?1")?;
        for k in kinds {
            let mut rows = st.query(params![k])?;
            while let Some(r) = rows.next()? {
                let payload: String = r.get(3)?;
                let payload = serde_json::from_str(&payload).unwrap_or(serde_json::Value::String(payload));
                f(RecordRow { centre: r.get(0)?, device: r.get(1)?, kind: r.get(2)?, payload });
            }
        }
        Ok(())
    }

    fn record_count(&mut self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("SELECT count(*) FROM records", [], |r| r.get(0))?)
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
