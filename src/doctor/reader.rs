//! The reader check behind `microclass doctor reader`: open the configured
//! reader, report what it is (chip version and self-test, or the USB device),
//! wait for one card and report its UID. Returns a structured result so the
//! rest of `doctor` can fold it into its report; printing is the CLI's job.

use crate::hw::mfrc522::{Mfrc522, SelfTest};
use crate::hw::mfrc522_reader::{open_pi_mfrc522, Mfrc522Source};
use crate::hw::presence::{PolledReader, PresenceConfig, Sleeper, ThreadSleeper};
use crate::hw::CardReader;
use crate::board::{mfrc522_wiring, Board, ReaderSpec};
use crate::clock::Clock;
use crate::hw::evdev_source::{DeviceSelector, EvdevKeys};
use crate::hw::usb_wedge::UsbWedgeReader;
use embedded_hal::delay::DelayNs;
use embedded_hal::digital::OutputPin;
use embedded_hal::spi::SpiDevice;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReaderVerdict {
    Ok,
    Warn,
    Fail,
}

/// What the reader check found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReaderCheck {
    pub verdict: ReaderVerdict,
    /// The reader as opened (chip version or USB device), if it opened.
    pub reader: Option<String>,
    pub self_test: Option<String>,
    /// The UID of the card tapped during the check.
    pub uid: Option<String>,
    /// One line on what happened.
    pub detail: String,
    /// What to do about a failure.
    pub hint: Option<String>,
    /// The reader's counters during the check.
    pub counters: Option<crate::hw::counters::ReaderCounters>,
}

impl ReaderCheck {
    fn fail(reader: Option<String>, detail: impl Into<String>, hint: impl Into<String>) -> Self {
        ReaderCheck { verdict: ReaderVerdict::Fail, reader, self_test: None, uid: None, detail: detail.into(), hint: Some(hint.into()), counters: None }
    }
}

/// Checks the reader a board describes; waits up to `wait` for a card
/// (`Duration::ZERO` skips the card step).
pub fn check_reader(board: &Board, usb_override: Option<&str>, wait: Duration, clock: Arc<dyn Clock>) -> ReaderCheck {
    match &board.reader {
        ReaderSpec::Sim(_) => ReaderCheck {
            verdict: ReaderVerdict::Ok,
            reader: Some("simulated reader".into()),
            self_test: None,
            uid: None,
            detail: "simulated board: taps come from `microclass tap` and stdin".into(),
            hint: None,
            counters: None,
        },
        ReaderSpec::Mfrc522(m) => match open_pi_mfrc522(&mfrc522_wiring(m)) {
            Ok((driver, _)) => check_mfrc522(driver, board.presence, wait, clock, Box::new(ThreadSleeper)),
            Err(e) => ReaderCheck::fail(
                None,
                e.to_string(),
                "on a Pi: check config.txt (dtparam=spi=on), the wiring table in board/README.md and the udev rule; \
                 on a PC there is no SPI: use the sim board",
            ),
        },
        ReaderSpec::Usb(u) => {
            let Some(name) = usb_override.or(u.device.as_deref()) else {
                return ReaderCheck::fail(None, "no USB reader configured", "set board.usb_reader in the config");
            };
            let keys = match EvdevKeys::open(DeviceSelector::parse(name)) {
                Ok(k) => k,
                Err(e) => {
                    return ReaderCheck::fail(
                        None,
                        e.to_string(),
                        "plug the reader in, check its name with `evtest`, and that the service may read /dev/input (udev rule)",
                    )
                }
            };
            match UsbWedgeReader::new(keys, u.format.clone(), clock) {
                Ok(mut r) => wait_for_card(&mut r, wait, None),
                Err(e) => ReaderCheck::fail(None, e.to_string(), "stop whatever else holds the reader (an X session?)"),
            }
        }
    }
}

/// The MFRC522 part of the check, generic so tests run it on the simulated chip.
pub fn check_mfrc522<SPI, RST, D>(
    mut driver: Mfrc522<SPI, RST, D>,
    presence: PresenceConfig,
    wait: Duration,
    clock: Arc<dyn Clock>,
    sleeper: Box<dyn Sleeper>,
) -> ReaderCheck
where
    SPI: SpiDevice + Send,
    RST: OutputPin + Send,
    D: DelayNs + Send,
{
    let version = match driver.chip_version() {
        Some(v) => Ok(v),
        None => driver.init(),
    };
    let version = match version {
        Ok(v) => v,
        Err(e) => return ReaderCheck::fail(None, e.to_string(), "check the wiring and the 3V3 supply of the module"),
    };
    let (self_test, warn) = match driver.self_test() {
        Ok(SelfTest::Passed) => ("passed".to_string(), false),
        Ok(SelfTest::NoReference(v)) => (format!("no reference values for {}", v.describe()), true),
        Ok(SelfTest::Failed { offset, expected, got }) => {
            (format!("FAILED at byte {offset}: expected {expected:#04x}, got {got:#04x}"), true)
        }
        Err(e) => return ReaderCheck::fail(Some(version.describe()), format!("self-test: {e}"), "replace the module"),
    };
    let mut reader = PolledReader::new(Mfrc522Source::new(driver, "SPI"), presence, clock, sleeper);
    let mut check = wait_for_card(&mut reader, wait, Some(self_test));
    check.reader = Some(version.describe());
    if warn && check.verdict == ReaderVerdict::Ok {
        check.verdict = ReaderVerdict::Warn;
        check.hint = Some("the chip is not a genuine MFRC522 or failed its self-test: replace it if reads are unreliable".into());
    }
    check
}

fn wait_for_card(reader: &mut dyn CardReader, wait: Duration, self_test: Option<String>) -> ReaderCheck {
    let described = reader.describe();
    if wait.is_zero() {
        return ReaderCheck {
            verdict: ReaderVerdict::Ok,
            reader: Some(described),
            self_test,
            uid: None,
            detail: "reader opened (card step skipped)".into(),
            hint: None,
            counters: Some(reader.counters()),
        };
    }
    let read = reader.next_tap(wait);
    let counters = Some(reader.counters());
    let check = match read {
        Ok(Some(uid)) => ReaderCheck {
            verdict: ReaderVerdict::Ok,
            reader: Some(described),
            self_test,
            uid: Some(uid.to_string()),
            detail: format!("read card {uid}"),
            hint: None,
            counters: None,
        },
        Ok(None) => ReaderCheck {
            self_test,
            ..ReaderCheck::fail(
                Some(described),
                format!("no card within {} s", wait.as_secs()),
                "hold a card flat on the reader; if it never reads, check the antenna gain and the wiring",
            )
        },
        Err(e) => ReaderCheck { self_test, ..ReaderCheck::fail(Some(described), e.to_string(), "see the log for reader faults") },
    };
    ReaderCheck { counters, ..check }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TestClock;
    use crate::hw::mfrc522::sim_card::SimCard;
    use crate::hw::mfrc522::sim_chip::SimChip;
    use crate::hw::mfrc522::Mfrc522Config;
    use crate::hw::presence::TestSleeper;

    fn run(chip: &SimChip, wait_ms: u64) -> ReaderCheck {
        let clock = TestClock::at(0);
        let d = Mfrc522::new(chip.spi(), Some(chip.reset_pin()), chip.delay(), Mfrc522Config::default());
        check_mfrc522(d, PresenceConfig::default(), Duration::from_millis(wait_ms), Arc::new(clock.clone()), Box::new(TestSleeper(clock)))
    }

    #[test]
    fn a_genuine_chip_with_a_card_passes_and_reports_the_uid() {
        let chip = SimChip::new(0x92);
        chip.add_card(SimCard::new(&[0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6], 0x00).unwrap());
        let c = run(&chip, 2000);
        assert_eq!(c.verdict, ReaderVerdict::Ok, "{c:?}");
        assert_eq!(c.uid.as_deref(), Some("04A1B2C3D4E5F6"));
        let n = c.counters.expect("the check reports the reader's counters");
        assert!(n.reads >= 1 && n.faults == 0, "{n:?}");
        assert_eq!(c.self_test.as_deref(), Some("passed"));
        assert!(c.reader.unwrap().contains("version 2.0"));
    }

    #[test]
    fn no_card_within_the_wait_fails_with_a_hint() {
        let c = run(&SimChip::new(0x91), 1000);
        assert_eq!(c.verdict, ReaderVerdict::Fail);
        assert!(c.detail.contains("no card"));
        assert!(c.hint.is_some());
    }

    #[test]
    fn a_counterfeit_chip_is_a_warning_not_a_pass() {
        let chip = SimChip::new(0x12);
        chip.add_card(SimCard::new(&[1, 2, 3, 4], 0x08).unwrap());
        let c = run(&chip, 1000);
        assert_eq!(c.verdict, ReaderVerdict::Warn);
        assert!(c.self_test.unwrap().contains("no reference"));
    }

    #[test]
    fn a_dead_chip_fails_with_the_wiring_hint() {
        let chip = SimChip::new(0x92);
        chip.set_disconnected(true);
        let c = run(&chip, 1000);
        assert_eq!(c.verdict, ReaderVerdict::Fail);
        assert!(c.detail.contains("no MFRC522"), "{}", c.detail);
    }
}
