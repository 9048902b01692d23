//! Time source behind a trait so tests never sleep or read the real clock.

use crate::Millis;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A reading of the clocks at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Wall clock, ms since the epoch. May jump (NTP, RTC-less boot).
    pub wall_ms: Millis,
    /// Monotonic ms since an arbitrary start; never jumps.
    pub mono_ms: i64,
    /// Whether the wall clock is known to be synchronised (NTP).
    pub synced: bool,
}

pub trait Clock: Send + Sync {
    fn now(&self) -> Now;
}

/// The real clocks of the machine.
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    pub fn new() -> Self {
        SystemClock { start: Instant::now() }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Now {
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Now { wall_ms, mono_ms: self.start.elapsed().as_millis() as i64, synced: wall_clock_synced() }
    }
}

/// True when the kernel reports the wall clock as synchronised (adjtimex STA_UNSYNC clear).
pub fn wall_clock_synced() -> bool {
    // SAFETY: adjtimex with modes = 0 only reads the kernel's time state into our struct.
    unsafe {
        let mut tx: libc::timex = std::mem::zeroed();
        let state = libc::adjtimex(&mut tx);
        state != libc::TIME_ERROR && (tx.status & libc::STA_UNSYNC) == 0
    }
}

/// A clock that tests move by hand. Cloning shares the same time.
#[derive(Clone)]
pub struct TestClock {
    wall: Arc<AtomicI64>,
    mono: Arc<AtomicI64>,
    synced: Arc<AtomicBool>,
}

impl TestClock {
    pub fn at(wall_ms: Millis) -> Self {
        TestClock {
            wall: Arc::new(AtomicI64::new(wall_ms)),
            mono: Arc::new(AtomicI64::new(0)),
            synced: Arc::new(AtomicBool::new(true)),
        }
    }
    /// Advances both clocks, as real time passing does.
    pub fn advance_ms(&self, ms: i64) {
        self.wall.fetch_add(ms, Ordering::SeqCst);
        self.mono.fetch_add(ms, Ordering::SeqCst);
    }
    /// Moves only the wall clock, as an NTP step or a bad RTC does.
    pub fn jump_wall_ms(&self, ms: i64) {
        self.wall.fetch_add(ms, Ordering::SeqCst);
    }
    pub fn set_synced(&self, synced: bool) {
        self.synced.store(synced, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> Now {
        Now {
            wall_ms: self.wall.load(Ordering::SeqCst),
            mono_ms: self.mono.load(Ordering::SeqCst),
            synced: self.synced.load(Ordering::SeqCst),
        }
    }
}
