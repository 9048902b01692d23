//! A reader that may not be there yet: `HotplugReader` opens the real reader
//! through a factory, reports `Unavailable` while it cannot (so the kiosk
//! shows the reader fault instead of exiting), tries again every
//! `retry_ms`, and starts over when the reader disappears (unplugged USB
//! reader, MFRC522 that stopped answering for good). It never sleeps longer
//! than the timeout it is given and never panics.

use super::counters::ReaderCounters;
use super::{CardReader, ReaderError};
use crate::model::CardUid;
use std::time::{Duration, Instant};

/// Opens the reader; called again after every failure.
pub type Opener = Box<dyn FnMut() -> Result<Box<dyn CardReader>, ReaderError> + Send>;

pub struct HotplugReader {
    open: Opener,
    inner: Option<Box<dyn CardReader>>,
    label: String,
    retry: Duration,
    next_try: Option<Instant>,
    last_error: Option<String>,
    /// Counters of readers opened before the current one.
    earlier: ReaderCounters,
    /// How many times the reader was (re)opened.
    pub opened: u64,
}

impl HotplugReader {
    /// `label` names the reader in messages while it is missing.
    pub fn new(label: impl Into<String>, retry: Duration, open: Opener) -> Self {
        HotplugReader { open, inner: None, label: label.into(), retry, next_try: None, last_error: None, earlier: ReaderCounters::default(), opened: 0 }
    }

    /// Tries to open the reader now; the error says why it is missing.
    fn try_open(&mut self) -> Result<(), ReaderError> {
        match (self.open)() {
            Ok(r) => {
                tracing::info!(reader = %r.describe(), "card reader is available");
                self.inner = Some(r);
                self.last_error = None;
                self.opened += 1;
                Ok(())
            }
            Err(e) => {
                let msg = e.to_string();
                if self.last_error.as_deref() != Some(msg.as_str()) {
                    tracing::warn!(reader = %self.label, error = %msg, "card reader not available; the kiosk keeps running and tries again");
                }
                self.last_error = Some(msg);
                self.next_try = Some(Instant::now() + self.retry);
                Err(e)
            }
        }
    }
}

impl CardReader for HotplugReader {
    fn next_tap(&mut self, timeout: Duration) -> Result<Option<CardUid>, ReaderError> {
        if self.inner.is_none() {
            if let Some(at) = self.next_try {
                let now = Instant::now();
                if now < at {
                    std::thread::sleep((at - now).min(timeout));
                    return Err(ReaderError::Unavailable(self.last_error.clone().unwrap_or_default()));
                }
            }
            if let Err(e) = self.try_open() {
                return Err(ReaderError::Unavailable(e.to_string()));
            }
        }
        let Some(r) = self.inner.as_mut() else { return Ok(None) };
        match r.next_tap(timeout) {
            Err(ReaderError::Unavailable(why)) => {
                tracing::warn!(reader = %self.label, %why, "card reader went away");
                let gone = r.counters();
                self.earlier = self.earlier.plus(gone);
                self.inner = None;
                self.next_try = Some(Instant::now() + self.retry);
                self.last_error = Some(why.clone());
                Err(ReaderError::Unavailable(why))
            }
            other => other,
        }
    }

    fn counters(&self) -> ReaderCounters {
        self.earlier.plus(self.inner.as_ref().map(|r| r.counters()).unwrap_or_default())
    }

    fn describe(&self) -> String {
        match &self.inner {
            Some(r) => r.describe(),
            None => format!("{} (not available: {})", self.label, self.last_error.as_deref().unwrap_or("not opened yet")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hw::sim::SimReader;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc::Sender;
    use std::sync::{Arc, Mutex};

    /// A reader that "appears" when `plugged` is set; its tap sender lands in `taps`.
    fn pluggable() -> (HotplugReader, Arc<AtomicBool>, Arc<Mutex<Option<Sender<CardUid>>>>) {
        let plugged = Arc::new(AtomicBool::new(false));
        let taps = Arc::new(Mutex::new(None));
        let (p, t) = (plugged.clone(), taps.clone());
        let r = HotplugReader::new(
            "test reader",
            Duration::from_millis(1),
            Box::new(move || {
                if !p.load(Ordering::SeqCst) {
                    return Err(ReaderError::Unavailable("not plugged in".into()));
                }
                let (reader, tx) = SimReader::new();
                *t.lock().unwrap() = Some(tx);
                Ok(Box::new(reader) as Box<dyn CardReader>)
            }),
        );
        (r, plugged, taps)
    }

    #[test]
    fn a_missing_reader_is_unavailable_until_it_appears_and_then_reads() {
        let (mut r, plugged, taps) = pluggable();
        assert!(matches!(r.next_tap(Duration::from_millis(5)), Err(ReaderError::Unavailable(m)) if m.contains("not plugged")));
        assert!(r.describe().contains("not available"));
        plugged.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut got = None;
        while got.is_none() && Instant::now() < deadline {
            let _ = r.next_tap(Duration::from_millis(5));
            if let Some(tx) = taps.lock().unwrap().as_ref() {
                tx.send(CardUid::parse("04A1B2C3").unwrap()).unwrap();
            }
            got = r.next_tap(Duration::from_millis(50)).ok().flatten();
        }
        assert_eq!(got.map(|u| u.to_string()).as_deref(), Some("04A1B2C3"));
        assert_eq!(r.opened, 1);
    }

    #[test]
    fn a_reader_that_goes_away_is_reopened() {
        struct Unplugs;
        impl CardReader for Unplugs {
            fn next_tap(&mut self, _: Duration) -> Result<Option<CardUid>, ReaderError> {
                Err(ReaderError::Unavailable("unplugged".into()))
            }
            fn describe(&self) -> String {
                "unplugs".into()
            }
        }
        let mut r = HotplugReader::new("r", Duration::ZERO, Box::new(|| Ok(Box::new(Unplugs) as Box<dyn CardReader>)));
        for _ in 0..3 {
            assert!(matches!(r.next_tap(Duration::from_millis(1)), Err(ReaderError::Unavailable(_))));
        }
        assert_eq!(r.opened, 3);
    }
}
