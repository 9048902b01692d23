//! Simulated board: a card reader fed from a channel (the tap socket, stdin,
//! tests), a reader that is a file (for a reader that appears after boot),
//! and an indicator that records what it was asked to do.

use super::{CardReader, Indicator, IndicatorError, ReaderError, Signal};
use crate::model::CardUid;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A reader whose taps come from a channel.
pub struct SimReader {
    rx: Receiver<CardUid>,
}

impl SimReader {
    pub fn new() -> (SimReader, Sender<CardUid>) {
        let (tx, rx) = std::sync::mpsc::channel();
        (SimReader { rx }, tx)
    }
}

impl CardReader for SimReader {
    fn next_tap(&mut self, timeout: Duration) -> Result<Option<CardUid>, ReaderError> {
        match self.rx.recv_timeout(timeout) {
            Ok(uid) => Ok(Some(uid)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(ReaderError::Closed),
        }
    }
    fn describe(&self) -> String {
        "simulated reader (taps from `microclass tap` and stdin)".into()
    }
}

/// A simulated reader plugged in as a file: present while the file exists;
/// every line appended to it is a card UID. Lines longer than 64 bytes are
/// dropped; bad lines are logged and skipped.
pub struct SimFileReader {
    path: PathBuf,
    file: std::fs::File,
    pending: Vec<u8>,
}

impl SimFileReader {
    pub fn open(path: &Path) -> Result<SimFileReader, ReaderError> {
        let file = std::fs::File::open(path)
            .map_err(|e| ReaderError::Unavailable(format!("simulated reader {}: {e}", path.display())))?;
        Ok(SimFileReader { path: path.to_path_buf(), file, pending: Vec::new() })
    }

    fn next_line(&mut self) -> Option<String> {
        let end = self.pending.iter().position(|b| *b == b'\n')?;
        let line: Vec<u8> = self.pending.drain(..=end).collect();
        Some(String::from_utf8_lossy(&line).trim().to_string())
    }
}

impl CardReader for SimFileReader {
    fn next_tap(&mut self, timeout: Duration) -> Result<Option<CardUid>, ReaderError> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(line) = self.next_line() {
                if line.is_empty() || line.len() > 64 {
                    continue;
                }
                match CardUid::parse(&line) {
                    Ok(uid) => return Ok(Some(uid)),
                    Err(e) => tracing::warn!(input = %line, error = %e, "simulated reader: not a card UID"),
                }
            }
            let mut buf = [0u8; 256];
            let n = self.file.read(&mut buf).map_err(|e| ReaderError::Fault(format!("reading {}: {e}", self.path.display())))?;
            if n > 0 {
                self.pending.extend_from_slice(&buf[..n]);
                if self.pending.len() > 1024 {
                    self.pending.clear(); // no line that long is a card
                }
                continue;
            }
            if !self.path.exists() {
                return Err(ReaderError::Unavailable(format!("simulated reader {} was removed", self.path.display())));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(20)));
        }
    }

    fn describe(&self) -> String {
        format!("simulated reader at {}", self.path.display())
    }
}

/// An indicator that keeps a log of signals; clones share the log.
#[derive(Clone, Default)]
pub struct SimIndicator {
    log: Arc<Mutex<Vec<Signal>>>,
}

impl SimIndicator {
    pub fn signals(&self) -> Vec<Signal> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Indicator for SimIndicator {
    fn signal(&mut self, signal: Signal) -> Result<(), IndicatorError> {
        self.log
            .lock()
            .map_err(|_| IndicatorError::Fault("log poisoned".into()))?
            .push(signal);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn sim_reader_delivers_taps_in_order_and_times_out_when_idle() {
        let (mut r, tx) = SimReader::new();
        tx.send(CardUid::parse("01020304").unwrap()).unwrap();
        assert_eq!(r.next_tap(Duration::from_millis(1)).unwrap().unwrap().as_str(), "01020304");
        assert!(r.next_tap(Duration::from_millis(1)).unwrap().is_none());
        drop(tx);
        assert!(matches!(r.next_tap(Duration::from_millis(1)), Err(ReaderError::Closed)));
    }

    #[test]
    fn sim_indicator_records_every_signal() {
        let mut i = SimIndicator::default();
        i.signal(Signal::Ok).unwrap();
        i.signal(Signal::Unknown).unwrap();
        assert_eq!(i.signals(), vec![Signal::Ok, Signal::Unknown]);
    }

    #[test]
    fn a_file_reader_reads_appended_lines_skips_bad_ones_and_is_unplugged_by_removing_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reader");
        assert!(matches!(SimFileReader::open(&path), Err(ReaderError::Unavailable(_))));
        let mut f = std::fs::File::create(&path).unwrap();
        let mut r = SimFileReader::open(&path).unwrap();
        assert_eq!(r.next_tap(Duration::from_millis(1)).unwrap(), None);
        writeln!(f, "not-a-card\n04A1B2C3").unwrap();
        assert_eq!(r.next_tap(Duration::from_secs(5)).unwrap().unwrap().as_str(), "04A1B2C3");
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(r.next_tap(Duration::from_millis(1)), Err(ReaderError::Unavailable(m)) if m.contains("removed")));
    }
}
