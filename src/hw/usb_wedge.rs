//! USB keyboard-wedge card readers: the reader types the card number as key
//! presses. This module turns any `KeySource` into a `CardReader` that grabs
//! the device first so the digits never reach the UI, and counts what it
//! rejects. Framing (terminator, prefix/suffix, lengths, partial and lost
//! keys) is `wedge_framing.rs`; formats and byte orders `wedge_decode.rs`;
//! the evdev I/O `evdev_source.rs`. `RecordedKeys` replays a file of
//! recorded events. Never blocks longer than the timeout it is given; never
//! panics on input.

use super::{CardReader, ReaderError};
use crate::clock::{Clock, TestClock};
use crate::model::CardUid;
use evdev::Key;
use std::collections::VecDeque;
use std::io;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use super::wedge_decode::{decode, ByteOrder, Decoding, UidFormat, WedgeError};
pub use super::wedge_framing::{Framing, KeyAssembler, KeyEvent, Terminator};

/// How a wedge reader types UIDs (the `[reader]` table of a `kind = "usb"` board).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WedgeFormat {
    pub format: UidFormat,
    /// Unset: `lsb-first` for decimal, `msb-first` for hex (see `wedge_decode`).
    pub byte_order: Option<ByteOrder>,
    /// 4, 7 or 10: the only UID length this reader may produce.
    pub uid_bytes: Option<u8>,
    pub terminator: Terminator,
    /// Stripped from the front of every number (e.g. `;` or `ID:`); a number without it is rejected.
    pub prefix: String,
    /// Stripped from the end of every number (e.g. `?`).
    pub suffix: String,
    /// Exact numbers of digits accepted between prefix and suffix (empty: any).
    pub lengths: Vec<usize>,
    /// Longest pause between two keys of one number.
    pub partial_timeout_ms: u64,
}

impl Default for WedgeFormat {
    fn default() -> Self {
        let f = Framing::default();
        WedgeFormat {
            format: UidFormat::Auto,
            byte_order: None,
            uid_bytes: None,
            terminator: f.terminator,
            prefix: f.prefix,
            suffix: f.suffix,
            lengths: f.lengths,
            partial_timeout_ms: f.partial_timeout_ms,
        }
    }
}

impl WedgeFormat {
    pub fn decoding(&self) -> Decoding {
        Decoding { format: self.format, byte_order: self.byte_order, uid_bytes: self.uid_bytes }
    }

    pub fn framing(&self) -> Framing {
        Framing {
            terminator: self.terminator,
            prefix: self.prefix.to_ascii_uppercase(),
            suffix: self.suffix.to_ascii_uppercase(),
            lengths: self.lengths.clone(),
            partial_timeout_ms: self.partial_timeout_ms,
            decoding: self.decoding(),
        }
    }

    /// What a board file must not say; `None` when the settings are usable.
    pub fn problem(&self) -> Option<String> {
        if let Some(n) = self.uid_bytes.filter(|n| ![4, 7, 10].contains(n)) {
            return Some(format!("reader.uid_bytes = {n}: UIDs are 4, 7 or 10 bytes"));
        }
        if self.terminator == Terminator::Length && self.lengths.len() != 1 {
            return Some("reader.terminator = \"length\" needs exactly one value in reader.lengths".into());
        }
        if self.lengths.iter().any(|n| *n == 0 || *n > 40) {
            return Some("reader.lengths: each length must be 1-40 digits".into());
        }
        if !(10..=2000).contains(&self.partial_timeout_ms) {
            return Some(format!("reader.partial_timeout_ms = {}: must be 10-2000", self.partial_timeout_ms));
        }
        if self.prefix.len() > 8 || self.suffix.len() > 8 {
            return Some("reader.prefix and reader.suffix are at most 8 characters".into());
        }
        None
    }
}

/// What a wedge reader turned away, for `doctor` and telemetry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct WedgeStats {
    /// Numbers that became UIDs.
    pub reads: u64,
    /// Every number rejected, whatever the reason (the sum of the next three and the rest).
    pub rejects: u64,
    /// Bursts that ended without a terminator.
    pub partials: u64,
    /// Numbers dropped because keystrokes were lost (SYN_DROPPED).
    pub dropped: u64,
    /// Numbers with the wrong prefix, suffix, terminator or length.
    pub framing: u64,
}

/// Where key events come from: an evdev device, or a recording in tests.
pub trait KeySource: Send {
    /// Takes the device exclusively (EVIOCGRAB).
    fn grab(&mut self) -> io::Result<()>;
    /// Waits up to `timeout` for key events; may return none.
    fn wait_events(&mut self, timeout: Duration) -> io::Result<Vec<KeyEvent>>;
    fn describe(&self) -> String;
}

/// A `CardReader` over a keyboard-wedge reader.
pub struct UsbWedgeReader<K: KeySource> {
    source: K,
    assembler: KeyAssembler,
    clock: Arc<dyn Clock>,
    pending: VecDeque<CardUid>,
    stats: WedgeStats,
}

impl<K: KeySource> UsbWedgeReader<K> {
    /// Grabs the device; fails if another program holds it.
    pub fn new(mut source: K, fmt: WedgeFormat, clock: Arc<dyn Clock>) -> Result<Self, ReaderError> {
        source.grab().map_err(|e| {
            ReaderError::Unavailable(format!(
                "cannot grab {} exclusively: {e} (is another program holding it?)",
                source.describe()
            ))
        })?;
        Ok(UsbWedgeReader { source, assembler: KeyAssembler::new(fmt.framing()), clock, pending: VecDeque::new(), stats: WedgeStats::default() })
    }

    pub fn stats(&self) -> WedgeStats {
        self.stats
    }

    fn take(&mut self, results: Vec<Result<CardUid, WedgeError>>) {
        for r in results {
            match r {
                Ok(uid) => {
                    self.stats.reads += 1;
                    self.pending.push_back(uid);
                }
                Err(e) => {
                    self.stats.rejects += 1;
                    match e {
                        WedgeError::Partial(_) => self.stats.partials += 1,
                        WedgeError::Dropped => self.stats.dropped += 1,
                        WedgeError::Framing(_) | WedgeError::WrongDigits { .. } | WedgeError::WrongLength { .. } => self.stats.framing += 1,
                        _ => {}
                    }
                    tracing::warn!(error = %e, rejects = self.stats.rejects, "USB reader: number rejected");
                }
            }
        }
    }

    fn mono_ms(&self) -> i64 {
        self.clock.now().mono_ms
    }
}

impl<K: KeySource> CardReader for UsbWedgeReader<K> {
    fn next_tap(&mut self, timeout: Duration) -> Result<Option<CardUid>, ReaderError> {
        let deadline = self.mono_ms() + timeout.as_millis() as i64;
        loop {
            if let Some(uid) = self.pending.pop_front() {
                return Ok(Some(uid));
            }
            let now = self.mono_ms();
            let expired = self.assembler.expire(now);
            self.take(expired.into_iter().collect());
            if let Some(uid) = self.pending.pop_front() {
                return Ok(Some(uid));
            }
            let mut until = deadline;
            if let Some(t) = self.assembler.expires_at() {
                until = until.min(t + 1);
            }
            let wait = Duration::from_millis(until.saturating_sub(now).max(0) as u64);
            let events = self.source.wait_events(wait).map_err(|e| match e.raw_os_error() {
                Some(libc::ENODEV) => ReaderError::Unavailable(format!("{} was unplugged", self.source.describe())),
                _ => ReaderError::Fault(format!("reading {}: {e}", self.source.describe())),
            })?;
            for ev in events {
                let at = self.mono_ms();
                let results = self.assembler.feed(ev, at);
                self.take(results);
            }
            if let Some(uid) = self.pending.pop_front() {
                return Ok(Some(uid));
            }
            if self.mono_ms() >= deadline {
                let expired = self.assembler.expire(self.mono_ms());
                self.take(expired.into_iter().collect());
                return Ok(self.pending.pop_front());
            }
        }
    }

    fn describe(&self) -> String {
        self.source.describe()
    }

    fn counters(&self) -> super::counters::ReaderCounters {
        super::counters::ReaderCounters { reads: self.stats.reads, rejects: self.stats.rejects, ..Default::default() }
    }
}

/// Key events recorded to a text file, replayed on a `TestClock`.
///
/// One event per line: `<ms since start> <KEY_NAME, code or SYN_DROPPED> <value>`, `#`
/// starts a comment. Waiting moves the test clock to the next event, so a
/// replay takes no real time. `grabbed()` tells whether `grab` was called.
pub struct RecordedKeys {
    events: VecDeque<(i64, KeyEvent)>,
    clock: TestClock,
    start_ms: i64,
    grabbed: Arc<AtomicBool>,
    name: String,
}

impl RecordedKeys {
    pub fn parse(name: &str, text: &str, clock: TestClock) -> Result<RecordedKeys, String> {
        let mut events = VecDeque::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split_whitespace().collect();
            let [t, key, value] = f[..] else {
                return Err(format!("{name}:{}: expected `<ms> <key> <value>`", n + 1));
            };
            let t: i64 = t.parse().map_err(|_| format!("{name}:{}: bad time {t:?}", n + 1))?;
            let value: i32 = value.parse().map_err(|_| format!("{name}:{}: bad value {value:?}", n + 1))?;
            if key == "SYN_DROPPED" {
                events.push_back((t, KeyEvent::Dropped));
                continue;
            }
            let code = match Key::from_str(key) {
                Ok(k) => k.code(),
                Err(_) => key.parse().map_err(|_| format!("{name}:{}: unknown key {key:?}", n + 1))?,
            };
            events.push_back((t, KeyEvent::Key { code, value }));
        }
        let start_ms = clock.now().mono_ms;
        Ok(RecordedKeys { events, clock, start_ms, grabbed: Arc::new(AtomicBool::new(false)), name: name.into() })
    }

    /// Shared flag: set once `grab` has been called.
    pub fn grab_flag(&self) -> Arc<AtomicBool> {
        self.grabbed.clone()
    }
}

impl KeySource for RecordedKeys {
    fn grab(&mut self) -> io::Result<()> {
        self.grabbed.store(true, Ordering::SeqCst);
        Ok(())
    }

    fn wait_events(&mut self, timeout: Duration) -> io::Result<Vec<KeyEvent>> {
        let now = self.clock.now().mono_ms;
        let limit = now + timeout.as_millis() as i64;
        let Some(&(t, _)) = self.events.front() else {
            self.clock.advance_ms(limit - now);
            return Ok(Vec::new());
        };
        let at = self.start_ms + t;
        if at > limit {
            self.clock.advance_ms(limit - now);
            return Ok(Vec::new());
        }
        if at > now {
            self.clock.advance_ms(at - now);
        }
        // Everything stamped at the same instant arrives as one read.
        let mut out = Vec::new();
        while let Some(&(t2, ev)) = self.events.front() {
            if self.start_ms + t2 > at {
                break;
            }
            out.push(ev);
            self.events.pop_front();
        }
        Ok(out)
    }

    fn describe(&self) -> String {
        format!("recorded key events {}", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(format: UidFormat, byte_order: ByteOrder) -> WedgeFormat {
        WedgeFormat { format, byte_order: Some(byte_order), ..WedgeFormat::default() }
    }

    fn replay(file: &str, text: &str, f: WedgeFormat) -> (UsbWedgeReader<RecordedKeys>, TestClock, Arc<AtomicBool>) {
        let clock = TestClock::at(0);
        let keys = RecordedKeys::parse(file, text, clock.clone()).unwrap();
        let grabbed = keys.grab_flag();
        let r = UsbWedgeReader::new(keys, f, Arc::new(clock.clone())).unwrap();
        (r, clock, grabbed)
    }

    #[test]
    fn recorded_decimal_taps_become_uids_and_a_cut_burst_is_dropped() {
        let text = include_str!("testdata/usb-decimal.events");
        let (mut r, clock, grabbed) = replay("usb-decimal.events", text, fmt(UidFormat::Decimal10, ByteOrder::LsbFirst));
        assert!(grabbed.load(Ordering::SeqCst), "the device must be grabbed before reading");
        let mut taps = Vec::new();
        while clock.now().mono_ms < 6000 {
            if let Some(u) = r.next_tap(Duration::from_millis(250)).unwrap() {
                taps.push((clock.now().mono_ms, u.to_string()));
            }
        }
        assert_eq!(
            taps,
            vec![(80, "04A1B2C3".into()), (2480, "DEADBEEF".into()), (4080, "04A1B2C3".into())]
        );
        assert_eq!(r.stats().partials, 1, "the cut burst is counted");
        assert_eq!(r.stats().rejects, 1);
        assert_eq!(r.stats().reads, 3);
    }

    #[test]
    fn recorded_hex_with_shifted_letters_reads_a_seven_byte_uid() {
        let text = include_str!("testdata/usb-hex.events");
        let (mut r, _, _) = replay("usb-hex.events", text, fmt(UidFormat::Hex, ByteOrder::MsbFirst));
        assert_eq!(r.next_tap(Duration::from_millis(500)).unwrap().unwrap().as_str(), "04A1B2C3D4E5F6");
        assert_eq!(r.next_tap(Duration::from_millis(500)).unwrap(), None);
    }

    #[test]
    fn next_tap_waits_no_longer_than_its_timeout() {
        let (mut r, clock, _) = replay("empty", "", WedgeFormat::default());
        assert_eq!(r.next_tap(Duration::from_millis(700)).unwrap(), None);
        assert_eq!(clock.now().mono_ms, 700);
    }

    #[test]
    fn a_device_that_cannot_be_grabbed_is_unavailable() {
        struct Busy;
        impl KeySource for Busy {
            fn grab(&mut self) -> io::Result<()> {
                Err(io::Error::from_raw_os_error(libc::EBUSY))
            }
            fn wait_events(&mut self, _: Duration) -> io::Result<Vec<KeyEvent>> {
                Ok(Vec::new())
            }
            fn describe(&self) -> String {
                "busy reader".into()
            }
        }
        let err = UsbWedgeReader::new(Busy, WedgeFormat::default(), Arc::new(TestClock::at(0))).err().unwrap();
        assert!(matches!(err, ReaderError::Unavailable(m) if m.contains("exclusively")));
    }

    #[test]
    fn a_recording_with_a_bad_line_names_the_line() {
        let err = RecordedKeys::parse("bad.events", "0 KEY_1 1\n5 KEY_NOPE 1\n", TestClock::at(0)).err().unwrap();
        assert!(err.contains("bad.events:2"), "{err}");
    }
}
