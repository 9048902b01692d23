//! The drain's protocol state, free of I/O: which outbox rows are in which
//! batch, the bounded in-flight window, the map from MQTT packet ids to
//! batches, which rows to resend after a reconnect, and the reconnect backoff.
//! It keeps no batch text: the outbox holds the rows, so a resend reads them
//! again and the only copy of a batch in flight is the one the client holds.
//! It never touches SQLite, the network or a clock; the event loop feeds it.

use std::collections::{HashMap, VecDeque};

/// A batch published (or about to be) and not yet acknowledged.
#[derive(Debug, Clone)]
pub struct InFlight {
    pub no: u64,
    pub seqs: Vec<i64>,
    pub pkid: Option<u16>,
}

/// What a publish request was, so `Outgoing::Publish(pkid)` events (which
/// arrive in request order) can be matched to batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PubTag {
    Batch(u64),
    /// Status, telemetry or an ack: not tracked.
    Other,
}

/// Rows the broker has acknowledged: mark them sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acked {
    pub no: u64,
    pub seqs: Vec<i64>,
}

#[derive(Debug)]
pub struct DrainState {
    window: usize,
    cursor: i64,
    rewind_to: Option<i64>,
    batches: VecDeque<InFlight>,
    requested: VecDeque<PubTag>,
    by_pkid: HashMap<u16, u64>,
    next_no: u64,
    connected: bool,
    unmatched: u64,
}

impl DrainState {
    /// `window`: batches in flight at most (>= 1).
    pub fn new(window: usize) -> Self {
        DrainState {
            window: window.max(1),
            cursor: 0,
            rewind_to: None,
            batches: VecDeque::new(),
            requested: VecDeque::new(),
            by_pkid: HashMap::new(),
            next_no: 1,
            connected: false,
            unmatched: 0,
        }
    }

    /// The last seq handed to a batch; the next read starts after it.
    pub fn cursor(&self) -> i64 {
        self.cursor
    }

    pub fn in_flight(&self) -> usize {
        self.batches.len()
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// Whether the loop should read and publish another batch now.
    pub fn has_room(&mut self) -> bool {
        if !self.connected {
            return false;
        }
        if let Some(to) = self.rewind_to {
            if !self.batches.is_empty() {
                return false;
            }
            self.cursor = self.cursor.min(to);
            self.rewind_to = None;
        }
        self.batches.len() < self.window
    }

    /// Registers a batch read from the outbox; the caller publishes it and
    /// then calls `requested(PubTag::Batch(no))`.
    pub fn add_batch(&mut self, seqs: Vec<i64>) -> u64 {
        let no = self.next_no;
        self.next_no += 1;
        if let Some(&last) = seqs.last() {
            self.cursor = self.cursor.max(last);
        }
        self.batches.push_back(InFlight { no, seqs, pkid: None });
        no
    }

    /// A publish request was handed to the client, in this order.
    pub fn requested(&mut self, tag: PubTag) {
        self.requested.push_back(tag);
    }

    /// The client wrote a publish with packet id `pkid` (0 for QoS 0).
    pub fn on_outgoing_publish(&mut self, pkid: u16) {
        match self.requested.pop_front() {
            Some(PubTag::Batch(no)) => {
                if let Some(b) = self.batches.iter_mut().find(|b| b.no == no) {
                    b.pkid = Some(pkid);
                    self.by_pkid.insert(pkid, no);
                }
            }
            Some(PubTag::Other) => {}
            None => {
                self.unmatched += 1;
                tracing::error!(pkid, "publish event with no request on record: packet ids no longer line up");
            }
        }
    }

    /// The broker acknowledged `pkid`; returns the rows to mark sent when it
    /// was one of our batches.
    pub fn on_puback(&mut self, pkid: u16) -> Option<Acked> {
        let no = self.by_pkid.remove(&pkid)?;
        let idx = self.batches.iter().position(|b| b.no == no)?;
        let b = self.batches.remove(idx)?;
        Some(Acked { no: b.no, seqs: b.seqs })
    }

    /// The connection dropped: packet ids mean nothing any more; batches stay for resending.
    pub fn on_disconnect(&mut self) {
        self.connected = false;
        self.requested.clear();
        self.by_pkid.clear();
        for b in &mut self.batches {
            b.pkid = None;
        }
    }

    /// Publish events that matched no request: always 0 unless the
    /// request/event pairing is broken (checked by the integration tests).
    pub fn unmatched(&self) -> u64 {
        self.unmatched
    }

    /// A new connection is up: returns the unacknowledged batches to publish
    /// again, oldest first, with the seqs of their rows. Requests already
    /// made on this connection (the birth) stay on record.
    pub fn on_connect(&mut self) -> Vec<(u64, Vec<i64>)> {
        self.connected = true;
        self.batches.iter().map(|b| (b.no, b.seqs.clone())).collect()
    }

    /// Rows up to `after_seq` were queued again (a resend command): read
    /// from there once the batches in flight are settled.
    pub fn rewind(&mut self, after_seq: i64) {
        let to = self.rewind_to.map_or(after_seq, |r| r.min(after_seq));
        self.rewind_to = Some(to.max(0));
    }
}

/// Exponential reconnect backoff with jitter, so 300 devices coming back
/// after a hub outage do not reconnect in lock-step.
#[derive(Debug, Clone)]
pub struct ReconnectBackoff {
    min_ms: u64,
    max_ms: u64,
    attempt: u32,
}

impl ReconnectBackoff {
    pub fn new(min_ms: u64, max_ms: u64) -> Self {
        ReconnectBackoff { min_ms: min_ms.max(1), max_ms: max_ms.max(min_ms.max(1)), attempt: 0 }
    }

    /// The delay before the next attempt; `unit` is a random draw in [0, 1).
    /// Half the exponential step is fixed and half is jitter.
    pub fn next_delay_ms(&mut self, unit: f64) -> u64 {
        let step = self.min_ms.saturating_mul(1u64 << self.attempt.min(20)).min(self.max_ms);
        self.attempt = self.attempt.saturating_add(1);
        let half = step / 2;
        half + (unit.clamp(0.0, 1.0) * (step - half) as f64) as u64
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connected(window: usize) -> DrainState {
        let mut s = DrainState::new(window);
        assert!(s.on_connect().is_empty());
        s
    }

    fn publish(s: &mut DrainState, seqs: Vec<i64>, pkid: u16) -> u64 {
        let no = s.add_batch(seqs);
        s.requested(PubTag::Batch(no));
        s.on_outgoing_publish(pkid);
        no
    }

    #[test]
    fn the_window_bounds_batches_in_flight_until_acks_arrive() {
        let mut s = connected(2);
        assert!(s.has_room());
        publish(&mut s, vec![1, 2], 1);
        publish(&mut s, vec![3], 2);
        assert!(!s.has_room());
        assert_eq!(s.on_puback(1), Some(Acked { no: 1, seqs: vec![1, 2] }));
        assert!(s.has_room());
        assert_eq!(s.cursor(), 3);
    }

    #[test]
    fn packet_ids_follow_request_order_and_skip_untracked_publishes() {
        let mut s = connected(4);
        let a = s.add_batch(vec![1]);
        s.requested(PubTag::Batch(a));
        s.requested(PubTag::Other);
        let b = s.add_batch(vec![2]);
        s.requested(PubTag::Batch(b));
        s.on_outgoing_publish(7);
        s.on_outgoing_publish(0);
        s.on_outgoing_publish(8);
        assert_eq!(s.on_puback(8).map(|a| a.seqs), Some(vec![2]));
        assert_eq!(s.on_puback(7).map(|a| a.seqs), Some(vec![1]));
    }

    #[test]
    fn an_ack_for_an_unknown_packet_marks_nothing() {
        let mut s = connected(4);
        publish(&mut s, vec![1], 1);
        assert_eq!(s.on_puback(9), None);
        assert_eq!(s.in_flight(), 1);
    }

    #[test]
    fn after_a_lost_connection_unacked_batches_are_resent_in_order_and_old_pkids_are_void() {
        let mut s = connected(4);
        publish(&mut s, vec![1], 1);
        publish(&mut s, vec![2], 2);
        publish(&mut s, vec![3], 3);
        s.on_puback(2);
        s.on_disconnect();
        assert!(!s.has_room());
        let again = s.on_connect();
        assert_eq!(again.iter().map(|(_, seqs)| seqs.clone()).collect::<Vec<_>>(), vec![vec![1], vec![3]]);
        // An ack for a pkid of the old connection must not mark anything.
        assert_eq!(s.on_puback(1), None);
        for (no, _) in again {
            s.requested(PubTag::Batch(no));
        }
        s.on_outgoing_publish(1);
        s.on_outgoing_publish(2);
        assert_eq!(s.on_puback(2).map(|a| a.seqs), Some(vec![3]));
        assert_eq!(s.on_puback(1).map(|a| a.seqs), Some(vec![1]));
        assert_eq!(s.in_flight(), 0);
    }

    #[test]
    fn a_publish_requested_before_on_connect_keeps_its_place() {
        let mut s = DrainState::new(4);
        s.requested(PubTag::Other);
        let again = s.on_connect();
        assert!(again.is_empty());
        let no = s.add_batch(vec![1]);
        s.requested(PubTag::Batch(no));
        s.on_outgoing_publish(1);
        s.on_outgoing_publish(2);
        assert_eq!(s.on_puback(1), None, "the birth's ack must not mark a batch");
        assert_eq!(s.on_puback(2).map(|a| a.seqs), Some(vec![1]));
        assert_eq!(s.unmatched(), 0);
    }

    #[test]
    fn a_rewind_waits_for_batches_in_flight_then_moves_the_cursor_back() {
        let mut s = connected(4);
        publish(&mut s, vec![10, 11], 1);
        s.rewind(4);
        assert!(!s.has_room());
        assert_eq!(s.cursor(), 11);
        s.on_puback(1);
        assert!(s.has_room());
        assert_eq!(s.cursor(), 4);
    }

    #[test]
    fn backoff_grows_to_its_cap_with_jitter_and_resets() {
        let mut b = ReconnectBackoff::new(100, 1000);
        assert_eq!(b.next_delay_ms(0.0), 50);
        assert_eq!(b.next_delay_ms(0.999_999), 199);
        assert_eq!(b.next_delay_ms(0.5), 300);
        for _ in 0..40 {
            let d = b.next_delay_ms(0.7);
            assert!((500..=1000).contains(&d));
        }
        b.reset();
        assert_eq!(b.next_delay_ms(1.0), 100);
    }
}
