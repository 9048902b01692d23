//! The outbox as the kiosk side sees it: counting and reading queued
//! messages. Draining to the hub belongs to the uplink.

use super::{Result, Store};

/// Appends one message (params: id, kind, payload, priority, created_ms). Its
/// seq is one above both the highest row and `outbox_state.seq_floor` (the
/// highest seq ever pruned), so seqs never repeat even after the outbox was
/// emptied, without a counter row written per message.
pub const ENQUEUE_SQL: &str = "INSERT INTO outbox (seq, id, kind, payload, priority, created_ms)
     VALUES (max(coalesce((SELECT max(seq) FROM outbox), 0), (SELECT seq_floor FROM outbox_state WHERE id = 1)) + 1, ?1, ?2, ?3, ?4, ?5)";

/// A queued message as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    pub seq: i64,
    pub id: String,
    pub kind: String,
    pub payload: String,
    pub sent: bool,
}

/// How many rows are not yet acknowledged: the rows above `acked_through`
/// less those that acknowledged runs above it cover. The same number as
/// `count(*)` of the `outbox_unsent` view, without a run lookup per row (the
/// backlog is counted on every birth, telemetry sample and screen refresh).
pub fn count_unsent(conn: &rusqlite::Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "SELECT (SELECT count(*) FROM outbox WHERE seq > s.acked_through)
              - (SELECT coalesce(sum((SELECT count(*) FROM outbox o WHERE o.seq BETWEEN max(a.from_seq, s.acked_through + 1) AND a.to_seq)), 0)
                 FROM outbox_acked a WHERE a.to_seq > s.acked_through)
         FROM outbox_state s WHERE s.id = 1",
    )?
    .query_row([], |r| r.get(0))
}

impl Store {
    /// Messages not yet acknowledged by the broker.
    pub fn backlog(&self) -> Result<i64> {
        Ok(count_unsent(&self.conn)?)
    }

    /// All messages of one kind, in sequence order (diagnostics and tests).
    pub fn outbox_of_kind(&self, kind: &str) -> Result<Vec<Queued>> {
        let mut st = self.conn.prepare_cached(
            "SELECT o.seq, o.id, o.kind, o.payload, NOT EXISTS (SELECT 1 FROM outbox_unsent u WHERE u.seq = o.seq)
             FROM outbox o WHERE o.kind = ?1 ORDER BY o.seq",
        )?;
        let rows = st.query_map([kind], |r| Ok(Queued { seq: r.get(0)?, id: r.get(1)?, kind: r.get(2)?, payload: r.get(3)?, sent: r.get(4)? }))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}
