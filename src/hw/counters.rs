//! Reader counters for the technician and the hub: what the reader read,
//! which reads went wrong, which numbers or reads it refused, and faults.
//! Each reader keeps its own; the reader thread publishes the latest
//! snapshot here so the uplink's telemetry can include it without a path
//! to the reader. Only plain numbers: nothing here touches hardware.

use std::sync::atomic::{AtomicU64, Ordering};

/// Monotonic counts since the reader was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReaderCounters {
    /// Reads that saw a card (MFRC522 polls with a card, USB numbers decoded).
    pub reads: u64,
    /// Bad reads the next poll may get right (CRC, collisions, cards moved).
    pub glitches: u64,
    /// Refused input: wedge numbers that did not decode or were cut, lost or
    /// misframed; MFRC522 reads refused because several cards answered.
    pub rejects: u64,
    /// Faults of the reader itself (bus errors, chip not answering, RF dead).
    pub faults: u64,
}

impl ReaderCounters {
    pub fn plus(self, o: ReaderCounters) -> ReaderCounters {
        ReaderCounters { reads: self.reads + o.reads, glitches: self.glitches + o.glitches, rejects: self.rejects + o.rejects, faults: self.faults + o.faults }
    }
}

static READS: AtomicU64 = AtomicU64::new(0);
static GLITCHES: AtomicU64 = AtomicU64::new(0);
static REJECTS: AtomicU64 = AtomicU64::new(0);
static FAULTS: AtomicU64 = AtomicU64::new(0);

/// Records the running reader's counters (the reader thread, after each wait).
pub fn publish(c: ReaderCounters) {
    READS.store(c.reads, Ordering::Relaxed);
    GLITCHES.store(c.glitches, Ordering::Relaxed);
    REJECTS.store(c.rejects, Ordering::Relaxed);
    FAULTS.store(c.faults, Ordering::Relaxed);
}

/// The counters last published in this process (zero before any reader ran).
pub fn latest() -> ReaderCounters {
    ReaderCounters {
        reads: READS.load(Ordering::Relaxed),
        glitches: GLITCHES.load(Ordering::Relaxed),
        rejects: REJECTS.load(Ordering::Relaxed),
        faults: FAULTS.load(Ordering::Relaxed),
    }
}
