//! WAL checkpoints off the tap path. SQLite's auto-checkpoint runs inside
//! whichever commit crosses the threshold, so one tap in a few hundred would
//! pay for copying the WAL into the database file and an extra fsync. The
//! kiosk instead checkpoints when it is idle (no input for a tick); the
//! auto-checkpoint stays on as a backstop for a kiosk that is never idle.

use super::{Result, Store};

/// What one idle checkpoint did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// Frames in the WAL when the checkpoint ran.
    pub wal_frames: i64,
    /// Frames copied into the database file (fewer while a reader on another
    /// connection still needs the newest ones).
    pub copied: i64,
}

impl Store {
    /// Runs a passive checkpoint: copies committed WAL frames (the kiosk's and
    /// the uplink's) into the database file. Passive never waits for, nor
    /// blocks, other connections; frames a reader still needs are copied by a
    /// later call. Nothing to copy costs a read of the WAL index, no fsync.
    pub fn checkpoint_wal(&self) -> Result<Checkpoint> {
        Ok(self.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok(Checkpoint { wal_frames: r.get(1)?, copied: r.get(2)? })
        })?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{Effect, Outgoing};

    fn enqueue(s: &mut Store, id: &str) {
        let o = Outgoing { id: id.into(), kind: "tap", payload: serde_json::json!({ "id": id }) };
        s.apply(&[Effect::Enqueue(o)], 1).unwrap();
    }

    fn wal_len(s: &Store) -> u64 {
        std::fs::metadata(s.path().with_extension("db-wal")).map(|m| m.len()).unwrap_or(0)
    }

    #[test]
    fn a_second_checkpoint_with_nothing_new_copies_nothing_more() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Store::open(&d.path().join("k.db")).unwrap();
        enqueue(&mut s, "a");
        let first = s.checkpoint_wal().unwrap();
        assert_eq!(first.copied, first.wal_frames);
        assert_eq!(s.checkpoint_wal().unwrap(), first);
    }

    #[test]
    fn an_idle_checkpoint_copies_every_committed_frame_and_the_next_commit_reuses_the_wal() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Store::open(&d.path().join("k.db")).unwrap();
        for i in 0..50 {
            enqueue(&mut s, &format!("m{i}"));
        }
        let c = s.checkpoint_wal().unwrap();
        assert!(c.wal_frames > 0);
        assert_eq!(c.copied, c.wal_frames);
        let full = wal_len(&s);
        // After a complete checkpoint the next writer restarts the WAL from its start.
        for i in 50..60 {
            enqueue(&mut s, &format!("m{i}"));
        }
        assert_eq!(wal_len(&s), full, "the WAL was rewritten in place, not grown");
        let other = rusqlite::Connection::open(s.path()).unwrap();
        let n: i64 = other.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 60);
    }

    #[test]
    fn frames_held_by_a_reader_are_copied_by_a_later_checkpoint() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Store::open(&d.path().join("k.db")).unwrap();
        enqueue(&mut s, "a");
        let reader = rusqlite::Connection::open(s.path()).unwrap();
        reader.execute_batch("BEGIN; SELECT count(*) FROM outbox;").unwrap();
        enqueue(&mut s, "b");
        let c = s.checkpoint_wal().unwrap();
        assert!(c.copied < c.wal_frames, "the open read transaction pins the newest frames");
        reader.execute_batch("COMMIT").unwrap();
        let c = s.checkpoint_wal().unwrap();
        assert_eq!(c.copied, c.wal_frames);
    }
}
