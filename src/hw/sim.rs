//! Simulated board: a card reader fed from a channel (the tap socket, stdin,
//! tests) and an indicator that records what it was asked to do.

use super::{CardReader, Indicator, IndicatorError, ReaderError, Signal};
use crate::model::CardUid;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
}
