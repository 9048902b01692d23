//! Hardware edges: the traits the kiosk uses for card readers and feedback
//! (buzzer/LEDs), and their simulated implementations. Real drivers live in
//! submodules: `mfrc522` (SPI driver and simulated chip), `mfrc522_reader`
//! (rppal wiring), `presence` (polls to taps), `usb_wedge` + `evdev_source`
//! (keyboard-type readers), `gpio_indicator`. The `doctor reader` check that
//! drives them from a board file is `doctor::reader`.
//! Nothing here knows about the kiosk's rules. See docs/hardware.md.


pub mod evdev_source;
pub mod gpio_indicator;
pub mod mfrc522;
pub mod mfrc522_reader;
pub mod presence;
pub mod sim;
pub mod usb_wedge;

use crate::model::CardUid;
use std::time::Duration;

/// Errors a card reader reports to the kiosk loop.
#[derive(Debug, thiserror::Error)]
pub enum ReaderError {
    #[error("reader not available: {0}")]
    Unavailable(String),
    #[error("reader fault: {0}")]
    Fault(String),
    #[error("reader closed")]
    Closed,
}

/// A source of card taps. `next_tap` returns one UID per physical tap: a card
/// held on the reader is reported once, however many polls it stays there.
pub trait CardReader: Send {
    /// Waits up to `timeout` for the next tap.
    fn next_tap(&mut self, timeout: Duration) -> Result<Option<CardUid>, ReaderError>;
    /// A one-line description for diagnostics (chip version, device path).
    fn describe(&self) -> String;
}

pub use crate::model::Signal;

#[derive(Debug, thiserror::Error)]
pub enum IndicatorError {
    #[error("indicator not available: {0}")]
    Unavailable(String),
    #[error("indicator fault: {0}")]
    Fault(String),
}

/// Buzzer and LEDs.
pub trait Indicator: Send {
    fn signal(&mut self, signal: Signal) -> Result<(), IndicatorError>;
}
