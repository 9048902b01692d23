//! USB keyboard-wedge card readers: the reader types the card number and
//! Enter as key presses. This module assembles key events into UIDs
//! (`KeyAssembler`), and turns any `KeySource` into a `CardReader` that grabs
//! the device first so the digits never reach the UI. The evdev I/O is in
//! `evdev_source.rs`; `RecordedKeys` replays a file of recorded events.
//!
//! Formats, byte orders and lengths are decoded in `wedge_decode.rs`.
//!
//! Partial input (a key burst without Enter) is dropped after
//! `partial_timeout_ms`, so a glitch cannot glue onto the next card.
//! Never blocks longer than the timeout it is given; never panics on input.

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

/// How a wedge reader types UIDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WedgeFormat {
    pub format: UidFormat,
    /// Unset: `lsb-first` for decimal, `msb-first` for hex (see `wedge_decode`).
    pub byte_order: Option<ByteOrder>,
    /// 4, 7 or 10: the only UID length this reader may produce.
    pub uid_bytes: Option<u8>,
    pub partial_timeout_ms: u64,
}

impl Default for WedgeFormat {
    fn default() -> Self {
        WedgeFormat { format: UidFormat::Auto, byte_order: None, uid_bytes: None, partial_timeout_ms: 300 }
    }
}

impl WedgeFormat {
    pub fn decoding(&self) -> Decoding {
        Decoding { format: self.format, byte_order: self.byte_order, uid_bytes: self.uid_bytes }
    }
}

/// One key event as evdev reports it (EV_KEY only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyEvent {
    pub code: u16,
    /// 1 press, 0 release, 2 auto-repeat.
    pub value: i32,
}

fn key_char(code: u16) -> Option<char> {
    const KEYS: [(Key, char); 26] = [
        (Key::KEY_0, '0'),
        (Key::KEY_1, '1'),
        (Key::KEY_2, '2'),
        (Key::KEY_3, '3'),
        (Key::KEY_4, '4'),
        (Key::KEY_5, '5'),
        (Key::KEY_6, '6'),
        (Key::KEY_7, '7'),
        (Key::KEY_8, '8'),
        (Key::KEY_9, '9'),
        (Key::KEY_KP0, '0'),
        (Key::KEY_KP1, '1'),
        (Key::KEY_KP2, '2'),
        (Key::KEY_KP3, '3'),
        (Key::KEY_KP4, '4'),
        (Key::KEY_KP5, '5'),
        (Key::KEY_KP6, '6'),
        (Key::KEY_KP7, '7'),
        (Key::KEY_KP8, '8'),
        (Key::KEY_KP9, '9'),
        (Key::KEY_A, 'A'),
        (Key::KEY_B, 'B'),
        (Key::KEY_C, 'C'),
        (Key::KEY_D, 'D'),
        (Key::KEY_E, 'E'),
        (Key::KEY_F, 'F'),
    ];
    KEYS.iter().find(|(k, _)| k.code() == code).map(|(_, c)| *c)
}

fn is_modifier(code: u16) -> bool {
    [Key::KEY_LEFTSHIFT, Key::KEY_RIGHTSHIFT, Key::KEY_NUMLOCK, Key::KEY_CAPSLOCK]
        .iter()
        .any(|k| k.code() == code)
}

/// Assembles key presses into card numbers.
#[derive(Debug)]
pub struct KeyAssembler {
    fmt: WedgeFormat,
    buf: String,
    garbage: bool,
    last_ms: i64,
    /// Partial inputs dropped after the timeout.
    pub dropped: u64,
}

impl KeyAssembler {
    pub fn new(fmt: WedgeFormat) -> Self {
        KeyAssembler { fmt, buf: String::new(), garbage: false, last_ms: 0, dropped: 0 }
    }

    pub fn has_partial(&self) -> bool {
        !self.buf.is_empty() || self.garbage
    }

    /// When the partial input expires (if there is one).
    pub fn expires_at(&self) -> Option<i64> {
        self.has_partial().then_some(self.last_ms + self.fmt.partial_timeout_ms as i64)
    }

    /// Drops partial input older than the timeout; true if it did.
    pub fn expire(&mut self, now_ms: i64) -> bool {
        match self.expires_at() {
            Some(t) if now_ms > t => {
                tracing::debug!(partial = %self.buf, "dropping partial card input");
                self.buf.clear();
                self.garbage = false;
                self.dropped += 1;
                true
            }
            _ => false,
        }
    }

    /// Feeds one key event; returns a result when Enter completes a number.
    pub fn feed(&mut self, ev: KeyEvent, now_ms: i64) -> Option<Result<CardUid, WedgeError>> {
        if ev.value != 1 {
            return None;
        }
        self.expire(now_ms);
        self.last_ms = now_ms;
        if ev.code == Key::KEY_ENTER.code() || ev.code == Key::KEY_KPENTER.code() {
            if !self.has_partial() {
                return None;
            }
            let typed = std::mem::take(&mut self.buf);
            let garbage = std::mem::replace(&mut self.garbage, false);
            if garbage {
                return Some(Err(WedgeError::Garbage(typed)));
            }
            return Some(decode(&typed, &self.fmt.decoding()));
        }
        match key_char(ev.code) {
            Some(c) if self.buf.len() < 32 => self.buf.push(c),
            Some(_) => self.garbage = true,
            None if is_modifier(ev.code) => {}
            None => self.garbage = true,
        }
        None
    }
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
    /// Card numbers that did not decode.
    pub rejected: u64,
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
        Ok(UsbWedgeReader { source, assembler: KeyAssembler::new(fmt), clock, pending: VecDeque::new(), rejected: 0 })
    }

    pub fn dropped_partials(&self) -> u64 {
        self.assembler.dropped
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
            self.assembler.expire(now);
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
                match self.assembler.feed(ev, at) {
                    Some(Ok(uid)) => self.pending.push_back(uid),
                    Some(Err(e)) => {
                        self.rejected += 1;
                        tracing::warn!(error = %e, "USB reader sent something that is not a card number");
                    }
                    None => {}
                }
            }
            if let Some(uid) = self.pending.pop_front() {
                return Ok(Some(uid));
            }
            if self.mono_ms() >= deadline {
                self.assembler.expire(self.mono_ms());
                return Ok(None);
            }
        }
    }

    fn describe(&self) -> String {
        self.source.describe()
    }
}

/// Key events recorded to a text file, replayed on a `TestClock`.
///
/// One event per line: `<ms since start> <KEY_NAME or code> <value>`, `#`
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
            let code = match Key::from_str(key) {
                Ok(k) => k.code(),
                Err(_) => key.parse().map_err(|_| format!("{name}:{}: unknown key {key:?}", n + 1))?,
            };
            let value: i32 = value.parse().map_err(|_| format!("{name}:{}: bad value {value:?}", n + 1))?;
            events.push_back((t, KeyEvent { code, value }));
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

    fn press(a: &mut KeyAssembler, key: Key, t: i64) -> Option<Result<CardUid, WedgeError>> {
        let down = a.feed(KeyEvent { code: key.code(), value: 1 }, t);
        assert!(a.feed(KeyEvent { code: key.code(), value: 0 }, t).is_none());
        down
    }

    #[test]
    fn keypad_digits_shift_and_releases_are_handled_and_enter_completes() {
        let mut a = KeyAssembler::new(fmt(UidFormat::Hex, ByteOrder::MsbFirst));
        let keys = [Key::KEY_0, Key::KEY_KP4, Key::KEY_LEFTSHIFT, Key::KEY_A, Key::KEY_1, Key::KEY_B, Key::KEY_2, Key::KEY_C, Key::KEY_3];
        for (i, k) in keys.iter().enumerate() {
            assert!(press(&mut a, *k, i as i64).is_none());
        }
        assert_eq!(press(&mut a, Key::KEY_KPENTER, 10).unwrap().unwrap().as_str(), "04A1B2C3");
    }

    #[test]
    fn partial_input_is_dropped_after_the_timeout() {
        let mut a = KeyAssembler::new(fmt(UidFormat::Hex, ByteOrder::MsbFirst));
        press(&mut a, Key::KEY_1, 0);
        press(&mut a, Key::KEY_2, 10);
        // 400 ms later a fresh number starts; the stale "12" must not glue on.
        for (i, k) in [Key::KEY_0, Key::KEY_4, Key::KEY_A, Key::KEY_1, Key::KEY_B, Key::KEY_2, Key::KEY_C, Key::KEY_3].iter().enumerate() {
            press(&mut a, *k, 410 + i as i64);
        }
        assert_eq!(press(&mut a, Key::KEY_ENTER, 420).unwrap().unwrap().as_str(), "04A1B2C3");
        assert_eq!(a.dropped, 1);
    }

    #[test]
    fn letters_that_are_not_hex_reject_the_number() {
        let mut a = KeyAssembler::new(fmt(UidFormat::Auto, ByteOrder::MsbFirst));
        press(&mut a, Key::KEY_Q, 0);
        assert!(matches!(press(&mut a, Key::KEY_ENTER, 1), Some(Err(WedgeError::Garbage(_)))));
        assert!(press(&mut a, Key::KEY_ENTER, 2).is_none());
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
        assert_eq!(r.dropped_partials(), 1);
        assert_eq!(r.rejected, 0);
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
