//! Clock-jump detection for a device without a real-time clock.
//!
//! Owns the comparison of wall-clock and monotonic deltas between two readings
//! of the `Clock`: when the wall clock moved by a different amount than the
//! monotonic clock (an NTP step after an RTC-less boot, a technician setting the
//! date), the difference is a jump. It also reports when the synchronised flag
//! changes. It never reads the real clock itself and never writes anywhere: the
//! run loop feeds it readings and stores the events it yields (`clock_events`)
//! and reports them to the hub.

use crate::clock::Now;
use crate::model::Millis;
use serde::Serialize;

/// Default smallest wall/monotonic disagreement reported as a jump. NTP slews
/// offsets below 128 ms and steps above; a loop iteration reads both clocks
/// within microseconds, so one second is far above noise and below any step
/// that matters for attendance records.
pub const DEFAULT_JUMP_THRESHOLD_MS: i64 = 1_000;

/// Which way the wall clock moved relative to real elapsed time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JumpDirection {
    Forward,
    Backward,
}

/// What happened to the clock between two readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ClockEvent {
    /// Wall clock after the change, as the records written from now on carry it.
    pub at_ms: Millis,
    /// Wall delta minus monotonic delta: positive when the wall clock jumped
    /// forward. Zero for a pure change of the synchronised flag.
    pub jump_ms: i64,
    /// Monotonic time of the reading that showed the change.
    pub mono_ms: i64,
    pub synced_before: bool,
    pub synced_after: bool,
}

impl ClockEvent {
    /// `None` when the wall clock did not jump (only the sync flag changed).
    pub fn direction(&self) -> Option<JumpDirection> {
        match self.jump_ms {
            0 => None,
            j if j > 0 => Some(JumpDirection::Forward),
            _ => Some(JumpDirection::Backward),
        }
    }

    /// True when the wall clock jumped by at least the watch's threshold.
    pub fn is_jump(&self) -> bool {
        self.jump_ms != 0
    }
}

/// Watches successive clock readings for jumps and sync changes.
#[derive(Debug, Clone)]
pub struct ClockWatch {
    threshold_ms: i64,
    last: Option<Now>,
}

impl Default for ClockWatch {
    fn default() -> Self {
        Self::new(DEFAULT_JUMP_THRESHOLD_MS)
    }
}

impl ClockWatch {
    /// `threshold_ms` is the smallest disagreement reported; values below 1 are raised to 1.
    pub fn new(threshold_ms: i64) -> Self {
        ClockWatch { threshold_ms: threshold_ms.max(1), last: None }
    }

    /// Feeds one reading; returns an event when the wall clock jumped by at
    /// least the threshold or the synchronised flag changed since the last one.
    /// The first reading only sets the baseline.
    pub fn observe(&mut self, now: Now) -> Option<ClockEvent> {
        let prev = self.last.replace(now)?;
        let wall_delta = now.wall_ms.saturating_sub(prev.wall_ms);
        let mono_delta = now.mono_ms.saturating_sub(prev.mono_ms);
        let skew = wall_delta.saturating_sub(mono_delta);
        let jumped = skew.saturating_abs() >= self.threshold_ms;
        if !jumped && prev.synced == now.synced {
            return None;
        }
        Some(ClockEvent {
            at_ms: now.wall_ms,
            jump_ms: if jumped { skew } else { 0 },
            mono_ms: now.mono_ms,
            synced_before: prev.synced,
            synced_after: now.synced,
        })
    }

    /// The reading the next one is compared against.
    pub fn last(&self) -> Option<Now> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, TestClock};

    const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    #[test]
    fn the_first_reading_only_sets_the_baseline() {
        let c = TestClock::at(T0);
        let mut w = ClockWatch::default();
        assert_eq!(w.observe(c.now()), None);
        assert_eq!(w.last(), Some(c.now()));
    }

    #[test]
    fn time_passing_normally_is_not_a_jump() {
        let c = TestClock::at(T0);
        let mut w = ClockWatch::default();
        w.observe(c.now());
        for _ in 0..100 {
            c.advance_ms(60_000);
            assert_eq!(w.observe(c.now()), None);
        }
    }

    #[test]
    fn a_wall_clock_stepped_forward_is_a_forward_jump_of_that_size() {
        let c = TestClock::at(T0);
        c.set_synced(false);
        let mut w = ClockWatch::default();
        w.observe(c.now());
        c.advance_ms(500);
        c.jump_wall_ms(3 * 86_400_000);
        let e = w.observe(c.now()).expect("jump detected");
        assert_eq!(e.jump_ms, 3 * 86_400_000);
        assert_eq!(e.direction(), Some(JumpDirection::Forward));
        assert_eq!(e.at_ms, T0 + 500 + 3 * 86_400_000);
        assert_eq!(e.mono_ms, 500);
        assert!(!e.synced_before && !e.synced_after);
    }

    #[test]
    fn a_wall_clock_set_back_is_a_backward_jump() {
        let c = TestClock::at(T0);
        let mut w = ClockWatch::default();
        w.observe(c.now());
        c.advance_ms(10_000);
        c.jump_wall_ms(-7_200_000);
        let e = w.observe(c.now()).expect("jump detected");
        assert_eq!(e.jump_ms, -7_200_000);
        assert_eq!(e.direction(), Some(JumpDirection::Backward));
    }

    #[test]
    fn an_ntp_step_at_first_sync_reports_the_flag_before_and_after() {
        let c = TestClock::at(T0 - 400 * 86_400_000); // booted with a clock a year behind
        c.set_synced(false);
        let mut w = ClockWatch::default();
        w.observe(c.now());
        c.advance_ms(30_000);
        c.jump_wall_ms(400 * 86_400_000);
        c.set_synced(true);
        let e = w.observe(c.now()).expect("jump detected");
        assert!(!e.synced_before);
        assert!(e.synced_after);
        assert_eq!(e.jump_ms, 400 * 86_400_000);
    }

    #[test]
    fn a_disagreement_below_the_threshold_is_ignored_and_at_it_is_reported() {
        let c = TestClock::at(T0);
        let mut w = ClockWatch::new(1_000);
        w.observe(c.now());
        c.jump_wall_ms(999);
        assert_eq!(w.observe(c.now()), None);
        c.jump_wall_ms(-1_000);
        assert_eq!(w.observe(c.now()).map(|e| e.jump_ms), Some(-1_000));
    }

    #[test]
    fn small_drifts_do_not_add_up_to_a_jump_because_each_reading_is_the_new_baseline() {
        let c = TestClock::at(T0);
        let mut w = ClockWatch::new(1_000);
        w.observe(c.now());
        for _ in 0..20 {
            c.advance_ms(1_000);
            c.jump_wall_ms(100);
            assert_eq!(w.observe(c.now()), None);
        }
    }

    #[test]
    fn losing_or_gaining_sync_without_a_jump_is_an_event_with_zero_jump() {
        let c = TestClock::at(T0);
        let mut w = ClockWatch::default();
        w.observe(c.now());
        c.advance_ms(1_000);
        c.set_synced(false);
        let e = w.observe(c.now()).expect("sync change reported");
        assert_eq!(e.jump_ms, 0);
        assert!(!e.is_jump());
        assert_eq!(e.direction(), None);
        assert!(e.synced_before && !e.synced_after);
        assert_eq!(w.observe(c.now()), None);
    }

    #[test]
    fn absurd_readings_do_not_overflow() {
        let mut w = ClockWatch::default();
        w.observe(Now { wall_ms: i64::MIN, mono_ms: 0, synced: true });
        // The wall delta saturates at i64::MAX, as does the monotonic one: no skew, no panic.
        assert_eq!(w.observe(Now { wall_ms: i64::MAX, mono_ms: i64::MAX, synced: true }), None);
        let e = w.observe(Now { wall_ms: i64::MIN, mono_ms: i64::MAX, synced: true });
        assert_eq!(e.map(|e| e.jump_ms), Some(i64::MIN));
    }
}
