//! Hardware edges: the traits the kiosk uses for card readers and feedback
//! (buzzer/LEDs), and their simulated implementations. Real drivers live in
//! submodules: `mfrc522` (SPI driver and simulated chip), `mfrc522_reader`
//! (rppal wiring), `presence` (polls to taps), `usb_wedge` + `evdev_source`
//! with `wedge_framing` and `wedge_decode` (keyboard-type readers), `gpio_indicator`, `hotplug` (readers that
//! appear after boot). The `doctor reader` check that drives them from a
//! board file is `doctor::reader`.
//! Nothing here knows about the kiosk's rules. See docs/hardware.md.

pub mod counters;
pub mod evdev_source;
pub mod gpio_indicator;
pub mod hotplug;
pub mod mfrc522;
pub mod mfrc522_reader;
pub mod presence;
pub mod sim;
pub mod usb_wedge;
pub mod wedge_decode;
pub mod wedge_framing;

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
    /// Not a fault: more than one card is in the field, so none was read.
    #[error("more than one card on the reader")]
    SeveralCards,
}

/// A source of card sightings. `next_tap` returns a UID when a card arrives,
/// and again while it stays (a wedge reader's repeats, the MFRC522's
/// presence reports every `repeat_held_ms`): the kiosk core decides that a
/// card seen again within its presence gap is not a new tap.
pub trait CardReader: Send {
    /// Waits up to `timeout` for the next sighting.
    fn next_tap(&mut self, timeout: Duration) -> Result<Option<CardUid>, ReaderError>;
    /// A one-line description for diagnostics (chip version, device path).
    fn describe(&self) -> String;
    /// Reads, glitches, rejects and faults so far (for `doctor` and telemetry).
    fn counters(&self) -> counters::ReaderCounters {
        counters::ReaderCounters::default()
    }
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
