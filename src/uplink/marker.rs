//! The outbox writer of the uplink: a thread with its own SQLite connection
//! that marks acknowledged rows sent (acks arriving together share one
//! transaction) and serves resend requests in the same order, so a resend
//! is never overtaken by an older mark. It never reads or publishes batches.

use crate::store::drain::{self, Resend};
use super::UplinkStatus;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

enum Op {
    /// Runs of consecutive seqs: a batch is usually one run, so a queued
    /// mark is a few bytes whatever the batch size.
    Sent { runs: Vec<(i64, i64)>, now_ms: i64 },
    Requeue { from: i64, to: i64, reply: mpsc::Sender<Result<Resend, drain::OutboxError>> },
    Flush { reply: mpsc::Sender<()> },
}

/// Marks queued so far and not yet committed (0 = every ack is on disk).
#[derive(Clone, Default)]
pub struct Pending(Arc<AtomicUsize>);

impl Pending {
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Acks queued for the writer at most; beyond it the drain waits for the
/// disk (memory stays bounded, and a crash repeats at most this many batches).
pub const QUEUE_BOUND: usize = 64;

pub struct Marker {
    tx: Option<mpsc::SyncSender<Op>>,
    thread: Option<std::thread::JoinHandle<()>>,
    pending: Pending,
}

impl Marker {
    pub fn start(db: &Path, status: Arc<Mutex<UplinkStatus>>) -> Result<Marker, drain::OutboxError> {
        let mut conn = drain::open(db)?;
        let (tx, rx) = mpsc::sync_channel::<Op>(QUEUE_BOUND);
        let pending = Pending::default();
        let p = pending.clone();
        let thread = std::thread::Builder::new()
            .name("uplink-marker".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut ops = vec![first];
                    while let Ok(op) = rx.try_recv() {
                        ops.push(op);
                        if ops.len() >= QUEUE_BOUND {
                            break;
                        }
                    }
                    let mut runs: Vec<(i64, i64)> = Vec::new();
                    let mut now = 0;
                    let mut marks = 0usize;
                    for op in ops {
                        match op {
                            Op::Sent { runs: r, now_ms } => {
                                runs.extend(r);
                                now = now_ms;
                                marks += 1;
                            }
                            Op::Requeue { from, to, reply } => {
                                commit(&mut conn, &mut runs, now, &status);
                                let _ = reply.send(drain::requeue_range(&conn, from, to));
                            }
                            Op::Flush { reply } => {
                                commit(&mut conn, &mut runs, now, &status);
                                p.0.fetch_sub(std::mem::take(&mut marks), Ordering::SeqCst);
                                let _ = reply.send(());
                            }
                        }
                    }
                    commit(&mut conn, &mut runs, now, &status);
                    p.0.fetch_sub(marks, Ordering::SeqCst);
                }
            })
            .map_err(|e| drain::OutboxError::Thread(e.to_string()))?;
        Ok(Marker { tx: Some(tx), thread: Some(thread), pending })
    }

    pub fn pending(&self) -> Pending {
        self.pending.clone()
    }

    /// Queues rows acknowledged by the broker, ascending (waits while the queue is full).
    pub fn sent(&self, seqs: &[i64], now_ms: i64) {
        if let Some(tx) = &self.tx {
            self.pending.0.fetch_add(1, Ordering::SeqCst);
            if tx.send(Op::Sent { runs: drain::runs(seqs), now_ms }).is_err() {
                self.pending.0.fetch_sub(1, Ordering::SeqCst);
                tracing::warn!("outbox writer gone: rows stay unsent and go again after a restart");
            }
        }
    }

    /// Queues `from..=to` again, after every mark queued before; waits for the result.
    pub fn requeue(&self, from: i64, to: i64) -> Result<Resend, String> {
        let (reply, rx) = mpsc::channel();
        let tx = self.tx.as_ref().ok_or("outbox writer stopped")?;
        tx.send(Op::Requeue { from, to, reply }).map_err(|_| "outbox writer gone".to_string())?;
        rx.recv().map_err(|_| "outbox writer gone".to_string())?.map_err(|e| e.to_string())
    }

    /// Waits until every mark queued so far is committed.
    pub fn flush(&self) {
        let (reply, rx) = mpsc::channel();
        if let Some(tx) = &self.tx {
            if tx.send(Op::Flush { reply }).is_ok() {
                let _ = rx.recv();
            }
        }
    }

    /// Commits every queued mark and stops the thread.
    pub fn finish(self) {
        drop(self);
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn commit(conn: &mut rusqlite::Connection, runs: &mut Vec<(i64, i64)>, now_ms: i64, status: &Arc<Mutex<UplinkStatus>>) {
    if runs.is_empty() {
        return;
    }
    runs.sort_unstable();
    // Batches acknowledged together usually touch: one acknowledged run for all.
    runs.dedup_by(|next, cur| {
        let touches = next.0 <= cur.1.saturating_add(1);
        if touches {
            cur.1 = cur.1.max(next.1);
        }
        touches
    });
    match drain::mark_runs(conn, runs, now_ms) {
        Ok(n) => {
            if let Ok(mut st) = status.lock() {
                st.counters.records_acked += n as u64;
                st.backlog = st.backlog.saturating_sub(n as u64);
            }
        }
        // The rows stay unsent and go again later: a duplicate, never a loss.
        Err(e) => tracing::warn!(error = %e, runs = runs.len(), "could not mark rows sent"),
    }
    runs.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_reach_the_disk_before_finish_returns_and_a_resend_comes_after_them() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("m.db");
        let c = drain::open(&db).unwrap();
        for i in 0..10 {
            drain::enqueue(&c, &format!("r{i}"), "tap", "{}", 0, 1).unwrap();
        }
        let status = Arc::new(Mutex::new(UplinkStatus::default()));
        let m = Marker::start(&db, status.clone()).unwrap();
        m.sent(&[1, 2, 3], 5);
        m.sent(&[4, 5], 5);
        // Queued after the marks: must see rows 1..=5 as sent and queue them again.
        assert_eq!(m.requeue(1, 5).unwrap(), Resend { queued: 5, missing: 0 });
        m.sent(&[6, 7, 8, 9, 10], 6);
        let pending = m.pending();
        m.finish();
        assert_eq!(pending.get(), 0);
        assert_eq!(drain::backlog(&c).unwrap().rows, 5);
        let first = drain::next_batch_after(&c, 0, 1 << 20, 100).unwrap();
        assert_eq!(first.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
        assert_eq!(status.lock().unwrap().counters.records_acked, 10);
    }

    #[test]
    fn touching_batches_acknowledged_together_become_one_run() {
        let mut runs = vec![(6, 9), (1, 3), (4, 5), (12, 12), (8, 10)];
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("m.db");
        let mut c = drain::open(&db).unwrap();
        for i in 0..12 {
            drain::enqueue(&c, &format!("r{i}"), "tap", "{}", 0, 1).unwrap();
        }
        let status = Arc::new(Mutex::new(UplinkStatus::default()));
        commit(&mut c, &mut runs, 5, &status);
        assert!(runs.is_empty());
        let acked: Vec<(i64, i64)> = c.prepare("SELECT from_seq, to_seq FROM outbox_acked ORDER BY from_seq").unwrap().query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap();
        assert_eq!(acked, vec![(1, 10), (12, 12)]);
        assert_eq!(status.lock().unwrap().counters.records_acked, 11);
    }

    #[test]
    fn a_flush_returns_once_every_earlier_mark_is_on_disk() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("m.db");
        let c = drain::open(&db).unwrap();
        for i in 0..4 {
            drain::enqueue(&c, &format!("r{i}"), "tap", "{}", 0, 1).unwrap();
        }
        let m = Marker::start(&db, Arc::new(Mutex::new(UplinkStatus::default()))).unwrap();
        m.sent(&[1, 2, 3], 5);
        m.flush();
        assert_eq!(drain::backlog(&c).unwrap().rows, 1);
        assert_eq!(m.pending().get(), 0);
    }
}
