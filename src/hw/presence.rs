//! Card presence: turns a stream of polls ("which card do I see right now?")
//! into sightings. A card arriving is reported at once; while it stays it is
//! reported again every `repeat_held_ms`, so the core (which owns the rule
//! "a tap is a card arriving") knows it never left. Reads that drop out for a
//! few polls (MFRC522 modules do this at the edge of the field) do not make a
//! new arrival; a card lifted for longer than `release_after_ms` and put back
//! is one. This file never decides what a tap means.
//!
//! Poll interval maths (defaults): a card arriving just after a poll waits up
//! to one interval, 40 ms, for the next poll; a read takes about 3-5 ms (see
//! `microclass bench reader`); one dropout costs one more interval. Worst case
//! with one dropout: 40 + 40 + 5 = 85 ms < 100 ms; typical: 20 + 5 = 25 ms.
//! An idle poll (WUPA, 1 ms chip timeout, a few status reads) costs well under
//! 1 ms of CPU, so 25 polls/s use about 1-2 % of one core, and the thread
//! sleeps between polls. `release_after_ms` = 250 tolerates five missed polls
//! in a row and is still shorter than anyone lifts and re-taps a card.
//!
//! Time comes from the `Clock` and sleeping goes through `Sleeper`, so tests
//! run instantly with a `TestClock`. Nothing here knows about SPI or evdev.

use super::{CardReader, ReaderError};
use crate::clock::{Clock, TestClock};
use crate::model::CardUid;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct PresenceConfig {
    pub poll_interval_ms: u64,
    pub release_after_ms: u64,
    /// A held card is reported again this often (0: only on arrival); must
    /// stay below the core's presence gap (`attendance.debounce_seconds`).
    pub repeat_held_ms: u64,
    /// Consecutive faulty polls before `next_tap` reports a fault.
    pub faults_before_error: u32,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        PresenceConfig { poll_interval_ms: 40, release_after_ms: 250, repeat_held_ms: 1000, faults_before_error: 25 }
    }
}

/// What one poll means for the card it saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sighting {
    /// The card was not on the reader before.
    Arrived(CardUid),
    /// The card is still there; reported every `repeat_held_ms`.
    StillThere(CardUid),
}

#[derive(Debug)]
struct Held {
    uid: CardUid,
    last_seen: i64,
    last_reported: i64,
}

/// Which cards are on the reader, and when each was last seen and reported.
#[derive(Debug, Default)]
pub struct PresenceTracker {
    release_after_ms: i64,
    repeat_held_ms: i64,
    held: Vec<Held>,
}

impl PresenceTracker {
    pub fn new(release_after_ms: u64, repeat_held_ms: u64) -> Self {
        PresenceTracker { release_after_ms: release_after_ms as i64, repeat_held_ms: repeat_held_ms as i64, held: Vec::new() }
    }

    /// Records one poll; returns what the caller should report, if anything.
    pub fn observe(&mut self, seen: Option<&CardUid>, now_ms: i64) -> Option<Sighting> {
        let release = self.release_after_ms;
        self.held.retain(|h| now_ms - h.last_seen < release);
        let uid = seen?;
        if let Some(h) = self.held.iter_mut().find(|h| &h.uid == uid) {
            h.last_seen = now_ms;
            if self.repeat_held_ms > 0 && now_ms - h.last_reported >= self.repeat_held_ms {
                h.last_reported = now_ms;
                return Some(Sighting::StillThere(uid.clone()));
            }
            return None;
        }
        self.held.push(Held { uid: uid.clone(), last_seen: now_ms, last_reported: now_ms });
        Some(Sighting::Arrived(uid.clone()))
    }

    pub fn is_held(&self, uid: &CardUid) -> bool {
        self.held.iter().any(|h| &h.uid == uid)
    }
}

/// What one poll of a reader found went wrong.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A bad read (CRC, collision, card moved): the next poll may succeed.
    #[error("read glitch: {0}")]
    Glitch(String),
    /// The reader itself failed (bus error, chip gone).
    #[error("reader fault: {0}")]
    Fault(String),
    /// More than one card answered: none is taken.
    #[error("more than one card in the field")]
    SeveralCards,
}

/// A reader that can be asked "which card is in the field now?".
pub trait UidSource: Send {
    fn poll(&mut self) -> Result<Option<CardUid>, SourceError>;
    fn describe(&self) -> String;
}

/// How the poll loop waits.
pub trait Sleeper: Send {
    fn sleep(&mut self, d: Duration);
}

/// Sleeps the thread for real.
pub struct ThreadSleeper;

impl Sleeper for ThreadSleeper {
    fn sleep(&mut self, d: Duration) {
        std::thread::sleep(d);
    }
}

/// Moves a `TestClock` instead of sleeping, so tests take no real time.
pub struct TestSleeper(pub TestClock);

impl Sleeper for TestSleeper {
    fn sleep(&mut self, d: Duration) {
        self.0.advance_ms(d.as_millis().max(1) as i64);
    }
}

/// Counters for diagnostics and telemetry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollStats {
    pub polls: u64,
    pub reads: u64,
    /// Arrivals.
    pub taps: u64,
    /// Reports of a card that stayed on the reader.
    pub repeats: u64,
    pub glitches: u64,
    pub faults: u64,
    /// Polls that found more than one card.
    pub several: u64,
}

/// A `CardReader` that polls a `UidSource` at a fixed interval.
pub struct PolledReader<S: UidSource> {
    source: S,
    tracker: PresenceTracker,
    cfg: PresenceConfig,
    clock: Arc<dyn Clock>,
    sleeper: Box<dyn Sleeper>,
    next_poll_ms: Option<i64>,
    consecutive_faults: u32,
    several_reported_ms: Option<i64>,
    stats: PollStats,
}

impl<S: UidSource> PolledReader<S> {
    pub fn new(source: S, cfg: PresenceConfig, clock: Arc<dyn Clock>, sleeper: Box<dyn Sleeper>) -> Self {
        PolledReader {
            source,
            tracker: PresenceTracker::new(cfg.release_after_ms, cfg.repeat_held_ms),
            cfg,
            clock,
            sleeper,
            next_poll_ms: None,
            consecutive_faults: 0,
            several_reported_ms: None,
            stats: PollStats::default(),
        }
    }

    pub fn stats(&self) -> PollStats {
        self.stats
    }

    pub fn source_mut(&mut self) -> &mut S {
        &mut self.source
    }

    fn mono_ms(&self) -> i64 {
        self.clock.now().mono_ms
    }
}

impl<S: UidSource> CardReader for PolledReader<S> {
    fn next_tap(&mut self, timeout: Duration) -> Result<Option<CardUid>, ReaderError> {
        let deadline = self.mono_ms() + timeout.as_millis() as i64;
        loop {
            let now = self.mono_ms();
            let due = self.next_poll_ms.unwrap_or(now);
            if due > now {
                if due > deadline {
                    if deadline > now {
                        self.sleeper.sleep(Duration::from_millis((deadline - now) as u64));
                    }
                    return Ok(None);
                }
                self.sleeper.sleep(Duration::from_millis((due - now) as u64));
                continue;
            }
            self.next_poll_ms = Some(now + self.cfg.poll_interval_ms as i64);
            self.stats.polls += 1;
            match self.source.poll() {
                Ok(seen) => {
                    self.consecutive_faults = 0;
                    self.several_reported_ms = None;
                    if seen.is_some() {
                        self.stats.reads += 1;
                    }
                    let at = self.mono_ms();
                    match self.tracker.observe(seen.as_ref(), at) {
                        Some(Sighting::Arrived(uid)) => {
                            self.stats.taps += 1;
                            return Ok(Some(uid));
                        }
                        Some(Sighting::StillThere(uid)) => {
                            self.stats.repeats += 1;
                            return Ok(Some(uid));
                        }
                        None => {}
                    }
                }
                Err(SourceError::Glitch(why)) => {
                    self.stats.glitches += 1;
                    tracing::debug!(%why, "card read glitch");
                    let at = self.mono_ms();
                    self.tracker.observe(None, at);
                }
                Err(SourceError::SeveralCards) => {
                    self.consecutive_faults = 0;
                    self.stats.several += 1;
                    let at = self.mono_ms();
                    self.tracker.observe(None, at);
                    let every = self.cfg.repeat_held_ms.max(1) as i64;
                    if self.several_reported_ms.is_none_or(|t| at - t >= every) {
                        self.several_reported_ms = Some(at);
                        return Err(ReaderError::SeveralCards);
                    }
                }
                Err(SourceError::Fault(why)) => {
                    self.stats.faults += 1;
                    self.consecutive_faults += 1;
                    tracing::warn!(%why, n = self.consecutive_faults, "card reader fault");
                    if self.consecutive_faults >= self.cfg.faults_before_error {
                        self.consecutive_faults = 0;
                        return Err(ReaderError::Fault(why));
                    }
                }
            }
            if self.mono_ms() >= deadline {
                return Ok(None);
            }
        }
    }

    fn describe(&self) -> String {
        self.source.describe()
    }

    fn counters(&self) -> super::counters::ReaderCounters {
        let s = self.stats;
        super::counters::ReaderCounters { reads: s.reads, glitches: s.glitches, rejects: s.several, faults: s.faults }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uid(s: &str) -> CardUid {
        CardUid::parse(s).unwrap()
    }

    /// A source whose answer is a function of the test clock and the poll number.
    struct FnSource<F: FnMut(i64, u64) -> Result<Option<CardUid>, SourceError> + Send> {
        clock: TestClock,
        polls: u64,
        f: F,
    }

    impl<F: FnMut(i64, u64) -> Result<Option<CardUid>, SourceError> + Send> UidSource for FnSource<F> {
        fn poll(&mut self) -> Result<Option<CardUid>, SourceError> {
            self.polls += 1;
            (self.f)(crate::clock::Clock::now(&self.clock).mono_ms, self.polls)
        }
        fn describe(&self) -> String {
            "scripted".into()
        }
    }

    fn reader<F>(clock: &TestClock, f: F) -> PolledReader<FnSource<F>>
    where
        F: FnMut(i64, u64) -> Result<Option<CardUid>, SourceError> + Send,
    {
        reader_with(clock, PresenceConfig { repeat_held_ms: 0, ..PresenceConfig::default() }, f)
    }

    fn reader_with<F>(clock: &TestClock, cfg: PresenceConfig, f: F) -> PolledReader<FnSource<F>>
    where
        F: FnMut(i64, u64) -> Result<Option<CardUid>, SourceError> + Send,
    {
        let src = FnSource { clock: clock.clone(), polls: 0, f };
        PolledReader::new(src, cfg, Arc::new(clock.clone()), Box::new(TestSleeper(clock.clone())))
    }

    fn taps_until(r: &mut impl CardReader, clock: &TestClock, end_ms: i64) -> Vec<(i64, String)> {
        let mut out = Vec::new();
        while clock.now().mono_ms < end_ms {
            if let Some(u) = r.next_tap(Duration::from_millis(100)).unwrap() {
                out.push((clock.now().mono_ms, u.to_string()));
            }
        }
        out
    }

    #[test]
    fn a_card_held_on_the_reader_is_one_tap() {
        let clock = TestClock::at(0);
        let mut r = reader(&clock, |t, _| Ok((100..3000).contains(&t).then(|| uid("01020304"))));
        assert_eq!(taps_until(&mut r, &clock, 5000).len(), 1);
    }

    #[test]
    fn a_held_card_with_reads_dropping_out_every_few_polls_is_still_one_tap() {
        let clock = TestClock::at(0);
        // Every third poll misses, and now and then two in a row.
        let mut r = reader(&clock, |t, n| {
            let present = (100..4000).contains(&t);
            let dropped = n % 3 == 0 || n % 7 == 0 || n % 7 == 1;
            Ok((present && !dropped).then(|| uid("0A0B0C0D")))
        });
        assert_eq!(taps_until(&mut r, &clock, 6000).len(), 1);
        assert!(r.stats().reads > 30);
    }

    #[test]
    fn read_glitches_do_not_split_a_tap() {
        let clock = TestClock::at(0);
        let mut r = reader(&clock, |t, n| {
            if !(100..2000).contains(&t) {
                return Ok(None);
            }
            if n % 2 == 0 {
                Err(SourceError::Glitch("CRC".into()))
            } else {
                Ok(Some(uid("0A0B0C0D")))
            }
        });
        assert_eq!(taps_until(&mut r, &clock, 3000).len(), 1);
        assert!(r.stats().glitches > 10);
    }

    #[test]
    fn lifting_the_card_and_tapping_again_is_a_new_tap() {
        let clock = TestClock::at(0);
        let on = |t: i64| (100..600).contains(&t) || (1000..1500).contains(&t);
        let mut r = reader(&clock, move |t, _| Ok(on(t).then(|| uid("01020304"))));
        let taps = taps_until(&mut r, &clock, 2000);
        assert_eq!(taps.len(), 2, "{taps:?}");
        assert!(taps[1].0 >= 1000);
    }

    #[test]
    fn a_second_card_while_the_first_is_held_is_its_own_tap() {
        let clock = TestClock::at(0);
        let mut r = reader(&clock, |t, n| {
            Ok(match t {
                100..=999 => Some(uid("01010101")),
                1000..=1999 => Some(if n % 2 == 0 { uid("01010101") } else { uid("02020202") }),
                _ => None,
            })
        });
        let taps: Vec<String> = taps_until(&mut r, &clock, 2500).into_iter().map(|t| t.1).collect();
        assert_eq!(taps, vec!["01010101", "02020202"]);
    }

    #[test]
    fn a_card_arriving_at_any_moment_is_reported_within_100_ms_even_after_a_dropout() {
        for arrival in (1000..1080).step_by(7) {
            let clock = TestClock::at(0);
            // The first poll that sees the card misses it, as a dropout would.
            let mut missed = false;
            let mut r = reader(&clock, move |t, _| {
                if t < arrival {
                    return Ok(None);
                }
                if !missed {
                    missed = true;
                    return Ok(None);
                }
                Ok(Some(uid("01020304")))
            });
            let taps = taps_until(&mut r, &clock, 1500);
            let latency = taps[0].0 - arrival;
            assert!(latency <= 100, "arrival {arrival}: latency {latency} ms");
        }
    }

    #[test]
    fn next_tap_returns_none_when_idle_after_the_timeout() {
        let clock = TestClock::at(0);
        let mut r = reader(&clock, |_, _| Ok(None));
        assert_eq!(r.next_tap(Duration::from_millis(500)).unwrap(), None);
        assert_eq!(clock.now().mono_ms, 500);
        // 500 ms at 40 ms per poll.
        assert!((12..=14).contains(&r.stats().polls), "{:?}", r.stats());
    }

    #[test]
    fn persistent_faults_surface_as_a_reader_fault_after_a_while() {
        let clock = TestClock::at(0);
        let mut r = reader(&clock, |_, _| Err(SourceError::Fault("SPI".into())));
        let mut result = Ok(None);
        for _ in 0..20 {
            result = r.next_tap(Duration::from_millis(100));
            if result.is_err() {
                break;
            }
        }
        assert!(matches!(result, Err(ReaderError::Fault(_))));
        assert_eq!(r.stats().faults, 25);
    }

    #[test]
    fn a_card_held_for_fifteen_minutes_with_dropouts_arrives_once_and_is_reported_every_second() {
        let clock = TestClock::at(0);
        let hold_ms = 15 * 60 * 1000;
        // Four polls missed in a row every 97 (160 ms); the card never leaves.
        let mut r = reader_with(&clock, PresenceConfig::default(), move |t, n| {
            Ok(((100..100 + hold_ms).contains(&t) && n % 97 > 3).then(|| uid("04A1B2C3")))
        });
        let seen = taps_until(&mut r, &clock, hold_ms + 1000);
        assert_eq!(r.stats().taps, 1, "{:?}", r.stats());
        assert!(seen.iter().all(|(_, u)| u == "04A1B2C3"));
        let gaps: Vec<i64> = seen.windows(2).map(|w| w[1].0 - w[0].0).collect();
        assert!(gaps.iter().all(|g| *g <= 1300), "a held card is reported at least every 1.3 s: {gaps:?}");
        assert!(seen.len() > 800, "{}", seen.len());
    }
}
