//! The MFRC522 as a `CardReader`: a `UidSource` over the generic driver
//! (re-initialising the chip after a fault, noticing MISO stuck high and a
//! chip whose RF died), and the Raspberry Pi wiring of
//! it through rppal (`/dev/spidevB.C` plus a GPIO for RST). Polling and tap
//! logic live in `presence.rs`; bus traffic lives in `mfrc522/`.

use super::mfrc522::{ChipVersion, Mfrc522, Mfrc522Config, RxGain, Wake};
use super::presence::{PolledReader, PresenceConfig, SourceError, ThreadSleeper, UidSource};
use super::ReaderError;
use crate::clock::Clock;
use crate::model::CardUid;
use embedded_hal::delay::DelayNs;
use embedded_hal::digital::OutputPin;
use embedded_hal::spi::SpiDevice;
use std::sync::Arc;

/// What the source found wrong with the chip itself, for `doctor` and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChipHealth {
    /// Re-initialisations after a fault.
    pub reinits: u64,
    /// Bad reads after which VersionReg did not answer (MISO stuck high, chip gone).
    pub not_answering: u64,
    /// Idle checks that found the chip reset or the antenna off (RF dead).
    pub rf_dead: u64,
}

/// Polls an MFRC522 for the card in its field, and checks the chip itself:
/// after a bad read it asks VersionReg (MISO stuck high reads 0xFF forever
/// and would otherwise look like endless card glitches), and every
/// `check_every` idle polls it checks that the antenna is still on (a chip
/// that reset itself after hours keeps answering SPI but reads no card).
/// Both are faults, followed by a re-init on the next poll.
pub struct Mfrc522Source<SPI, RST, D> {
    driver: Mfrc522<SPI, RST, D>,
    wake: Wake,
    needs_init: bool,
    label: String,
    check_every: u32,
    idle_polls: u32,
    health: ChipHealth,
}

/// Idle polls between two antenna checks by default (60 s at 40 ms).
pub const DEFAULT_CHECK_EVERY: u32 = 1500;

impl<SPI: SpiDevice, RST: OutputPin, D: DelayNs> Mfrc522Source<SPI, RST, D> {
    /// Wraps an initialised driver. `label` says where it is (e.g. "SPI0 CE0").
    pub fn new(driver: Mfrc522<SPI, RST, D>, label: impl Into<String>) -> Self {
        let needs_init = driver.chip_version().is_none();
        Mfrc522Source { driver, wake: Wake::Wupa, needs_init, label: label.into(), check_every: DEFAULT_CHECK_EVERY, idle_polls: 0, health: ChipHealth::default() }
    }

    /// Checks the antenna every `polls` idle polls (0: never).
    pub fn with_check_every(mut self, polls: u32) -> Self {
        self.check_every = polls;
        self
    }

    pub fn driver_mut(&mut self) -> &mut Mfrc522<SPI, RST, D> {
        &mut self.driver
    }

    pub fn health(&self) -> ChipHealth {
        self.health
    }

    fn fault(&mut self, why: String) -> SourceError {
        self.needs_init = true;
        SourceError::Fault(why)
    }

    /// A bad read: a card glitch if the chip still says who it is.
    fn glitch_or_fault(&mut self, why: String) -> SourceError {
        match self.driver.version() {
            Ok(v) if Some(v) == self.driver.chip_version() => SourceError::Glitch(why),
            Ok(v) => self.fault(format!("VersionReg changed to {:#04x} during reads", v.register_value())),
            Err(e) => {
                self.health.not_answering += 1;
                self.fault(format!("{e} after a bad read ({why}): MISO stuck high or the chip lost power"))
            }
        }
    }

    /// The idle check: the chip answers and its antenna is on.
    fn check_chip(&mut self) -> Result<(), SourceError> {
        let ok = match (self.driver.version(), self.driver.antenna_is_on()) {
            (Ok(v), Ok(true)) if Some(v) == self.driver.chip_version() => true,
            _ => false,
        };
        if ok {
            return Ok(());
        }
        self.health.rf_dead += 1;
        Err(self.fault("idle check: the chip reset itself or its antenna is off (RF dead); re-initialising".into()))
    }
}

impl<SPI, RST, D> UidSource for Mfrc522Source<SPI, RST, D>
where
    SPI: SpiDevice + Send,
    RST: OutputPin + Send,
    D: DelayNs + Send,
{
    fn poll(&mut self) -> Result<Option<CardUid>, SourceError> {
        if self.needs_init {
            let again = self.driver.chip_version().is_some();
            self.driver.init().map_err(|e| SourceError::Fault(format!("re-init failed: {e}")))?;
            self.needs_init = false;
            if again {
                self.health.reinits += 1;
            }
            tracing::info!(reader = %self.describe(), "MFRC522 initialised");
        }
        match self.driver.read_card(self.wake) {
            Ok(Some(_)) if self.driver.several_cards_seen() => {
                self.idle_polls = 0;
                Err(SourceError::SeveralCards)
            }
            Ok(Some(card)) => {
                self.idle_polls = 0;
                Ok(Some(card.uid.to_card_uid()))
            }
            Ok(None) => {
                self.idle_polls += 1;
                if self.check_every > 0 && self.idle_polls >= self.check_every {
                    self.idle_polls = 0;
                    self.check_chip()?;
                }
                Ok(None)
            }
            Err(e) if e.is_fault() => Err(self.fault(e.to_string())),
            Err(e) => Err(self.glitch_or_fault(e.to_string())),
        }
    }

    fn describe(&self) -> String {
        let chip = self.driver.chip_version().map(ChipVersion::describe).unwrap_or_else(|| "not initialised".into());
        format!("MFRC522 on {}: {}", self.label, chip)
    }
}

/// Where the MFRC522 sits on the Pi (from the board file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiMfrc522Wiring {
    /// SPI bus (0 = SPI0 on pins 19/21/23).
    pub spi_bus: u8,
    /// Chip select (0 = CE0 on pin 24, 1 = CE1 on pin 26).
    pub chip_select: u8,
    pub clock_hz: u32,
    /// BCM GPIO number of RST, if wired.
    pub reset_gpio: Option<u8>,
    pub rx_gain: RxGain,
    /// Seconds between two idle antenna checks (0: never).
    pub health_check_s: u32,
}

pub type PiMfrc522 = Mfrc522<rppal::spi::SimpleHalSpiDevice, rppal::gpio::OutputPin, rppal::hal::Delay>;

/// Opens and initialises the MFRC522 through rppal. On a PC (no spidev, no
/// Pi GPIO) this fails with a message that says what is missing.
pub fn open_pi_mfrc522(w: &PiMfrc522Wiring) -> Result<(PiMfrc522, ChipVersion), ReaderError> {
    use rppal::spi::{Bus, Mode, SimpleHalSpiDevice, SlaveSelect, Spi};
    let bus = match w.spi_bus {
        0 => Bus::Spi0,
        1 => Bus::Spi1,
        n => return Err(ReaderError::Unavailable(format!("SPI bus {n} is not supported (use 0 or 1)"))),
    };
    let ss = match w.chip_select {
        0 => SlaveSelect::Ss0,
        1 => SlaveSelect::Ss1,
        2 => SlaveSelect::Ss2,
        n => return Err(ReaderError::Unavailable(format!("chip select {n} is not supported"))),
    };
    let dev = format!("/dev/spidev{}.{}", w.spi_bus, w.chip_select);
    let spi = Spi::new(bus, ss, w.clock_hz, Mode::Mode0).map_err(|e| {
        ReaderError::Unavailable(format!(
            "cannot open {dev}: {e}. Enable SPI with `dtparam=spi=on` in /boot/firmware/config.txt, \
             reboot, and give the service user access (board/99-microclass.rules)"
        ))
    })?;
    let rst = match w.reset_gpio {
        None => None,
        Some(pin) => {
            let gpio = rppal::gpio::Gpio::new()
                .map_err(|e| ReaderError::Unavailable(format!("cannot open the GPIO controller: {e}")))?;
            let p = gpio
                .get(pin)
                .map_err(|e| ReaderError::Unavailable(format!("cannot claim GPIO{pin} for MFRC522 RST: {e}")))?;
            Some(p.into_output_high())
        }
    };
    let cfg = Mfrc522Config { rx_gain: w.rx_gain, ..Mfrc522Config::default() };
    let mut driver = Mfrc522::new(SimpleHalSpiDevice::new(spi), rst, rppal::hal::Delay::new(), cfg);
    let version = driver
        .init()
        .map_err(|e| ReaderError::Unavailable(format!("MFRC522 on {dev} did not initialise: {e}")))?;
    Ok((driver, version))
}

/// The Pi MFRC522 as a polled `CardReader` with real time and sleeps.
pub fn pi_mfrc522_reader(
    w: &PiMfrc522Wiring,
    presence: PresenceConfig,
    clock: Arc<dyn Clock>,
) -> Result<PolledReader<Mfrc522Source<rppal::spi::SimpleHalSpiDevice, rppal::gpio::OutputPin, rppal::hal::Delay>>, ReaderError>
{
    let (driver, _) = open_pi_mfrc522(w)?;
    let label = format!("SPI{} CE{}", w.spi_bus, w.chip_select);
    let every = (u64::from(w.health_check_s) * 1000 / presence.poll_interval_ms.max(1)).min(u64::from(u32::MAX)) as u32;
    let source = Mfrc522Source::new(driver, label).with_check_every(every);
    Ok(PolledReader::new(source, presence, clock, Box::new(ThreadSleeper)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TestClock;
    use crate::hw::mfrc522::sim_card::{CardFaults, SimCard};
    use crate::hw::mfrc522::sim_chip::SimChip;
    use crate::hw::presence::TestSleeper;
    use crate::hw::CardReader;
    use std::time::Duration;

    fn sim_reader(chip: &SimChip, clock: &TestClock) -> PolledReader<impl UidSource> {
        let d = Mfrc522::new(chip.spi(), Some(chip.reset_pin()), chip.delay(), Mfrc522Config::default());
        let src = Mfrc522Source::new(d, "sim");
        PolledReader::new(src, PresenceConfig::default(), Arc::new(clock.clone()), Box::new(TestSleeper(clock.clone())))
    }

    #[test]
    fn a_flaky_card_held_on_a_simulated_mfrc522_is_one_tap_and_a_retap_is_another() {
        let chip = SimChip::new(0x92);
        let clock = TestClock::at(0);
        let mut r = sim_reader(&chip, &clock);
        assert_eq!(r.next_tap(Duration::from_millis(200)).unwrap(), None);
        let faults = CardFaults { miss_every_nth_request: Some(3), miss_probability: Some((0.2, 7)), ..Default::default() };
        let card = chip.add_card(SimCard::new(&[0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6], 0x00).unwrap().with_faults(faults));
        let tap = r.next_tap(Duration::from_millis(200)).unwrap();
        assert_eq!(tap.unwrap().as_str(), "04A1B2C3D4E5F6");
        // While it stays, the same card is only reported again (presence), never as a new arrival.
        for _ in 0..20 {
            if let Some(again) = r.next_tap(Duration::from_millis(100)).unwrap() {
                assert_eq!(again.as_str(), "04A1B2C3D4E5F6");
            }
        }
        assert_eq!(r.stats().taps, 1);
        assert!(r.stats().repeats >= 1, "{:?}", r.stats());
        chip.remove_card(card);
        assert_eq!(r.next_tap(Duration::from_millis(500)).unwrap(), None);
        chip.return_card(card);
        assert!(r.next_tap(Duration::from_millis(200)).unwrap().is_some());
        assert!(r.describe().contains("MFRC522 version 2.0"));
    }

    #[test]
    fn a_bus_fault_triggers_a_re_init_and_reading_carries_on() {
        let chip = SimChip::new(0x92);
        let clock = TestClock::at(0);
        let mut r = sim_reader(&chip, &clock);
        r.next_tap(Duration::from_millis(50)).unwrap();
        chip.fail_next_transactions(1);
        chip.add_card(SimCard::new(&[1, 2, 3, 4], 0x08).unwrap());
        assert_eq!(r.next_tap(Duration::from_millis(200)).unwrap().unwrap().as_str(), "01020304");
        assert_eq!(r.stats().faults, 1);
    }

    fn sim_source(chip: &SimChip, check_every: u32) -> Mfrc522Source<impl SpiDevice, impl OutputPin, impl DelayNs> {
        let d = Mfrc522::new(chip.spi(), Some(chip.reset_pin()), chip.delay(), Mfrc522Config::default());
        Mfrc522Source::new(d, "sim").with_check_every(check_every)
    }

    #[test]
    fn miso_stuck_high_while_running_is_a_fault_not_endless_glitches_and_reading_resumes_when_it_clears() {
        let chip = SimChip::new(0x92);
        let mut src = sim_source(&chip, 0);
        chip.add_card(SimCard::new(&[1, 2, 3, 4], 0x08).unwrap());
        assert_eq!(src.poll().unwrap().unwrap().as_str(), "01020304");
        chip.set_miso_stuck_high(true);
        let mut faults = 0;
        for _ in 0..10 {
            match src.poll() {
                Err(SourceError::Fault(_)) => faults += 1,
                Err(e @ (SourceError::Glitch(_) | SourceError::SeveralCards)) => panic!("MISO stuck high read as a card problem: {e}"),
                Ok(seen) => assert_eq!(seen, None),
            }
        }
        assert_eq!(faults, 10, "every poll is a fault while MISO is stuck");
        assert!(src.health().not_answering >= 1, "{:?}", src.health());
        chip.set_miso_stuck_high(false);
        // The card may have been left selected by frames sent blind; a poll or two wakes it.
        let seen: Vec<Option<CardUid>> = (0..3).map(|_| src.poll().unwrap()).collect();
        assert!(seen.iter().flatten().any(|u| u.as_str() == "01020304"), "re-initialised and reading: {seen:?}");
        assert!(src.health().reinits >= 1);
    }

    #[test]
    fn a_chip_whose_rf_died_is_found_by_the_idle_check_and_re_initialised() {
        let chip = SimChip::new(0x92);
        let clock = TestClock::at(0);
        let src = sim_source(&chip, 10);
        let mut r = PolledReader::new(src, PresenceConfig::default(), Arc::new(clock.clone()), Box::new(TestSleeper(clock.clone())));
        assert_eq!(r.next_tap(Duration::from_millis(200)).unwrap(), None);
        chip.kill_antenna();
        chip.add_card(SimCard::new(&[0x04, 0xA1, 0xB2, 0xC3], 0x08).unwrap());
        // The antenna is off: no card is read until the idle check (10 polls, 400 ms) notices.
        let tap = r.next_tap(Duration::from_millis(2000)).unwrap();
        assert_eq!(tap.map(|u| u.to_string()).as_deref(), Some("04A1B2C3"));
        assert_eq!(r.source_mut().health().rf_dead, 1);
        assert_eq!(r.stats().faults, 1, "{:?}", r.stats());
    }

    #[test]
    fn two_cards_on_the_reader_are_reported_as_several_never_as_a_tap_and_the_one_left_is_read() {
        let chip = SimChip::new(0x92);
        let clock = TestClock::at(0);
        let mut r = PolledReader::new(sim_source(&chip, 0), PresenceConfig::default(), Arc::new(clock.clone()), Box::new(TestSleeper(clock.clone())));
        let a = chip.add_card(SimCard::new(&[0x11, 0x22, 0x33, 0x44], 0x08).unwrap());
        chip.add_card(SimCard::new(&[0x11, 0x22, 0x37, 0x44], 0x08).unwrap());
        let mut several = 0;
        let end = clock.now().mono_ms + 5000;
        while clock.now().mono_ms < end {
            match r.next_tap(Duration::from_millis(100)) {
                Err(ReaderError::SeveralCards) => several += 1,
                Ok(None) => {}
                other => panic!("with two cards nothing may be read: {other:?}"),
            }
        }
        assert!((5..=6).contains(&several), "reported about once a second: {several}");
        chip.remove_card(a);
        let tap = r.next_tap(Duration::from_millis(500)).unwrap();
        assert_eq!(tap.map(|u| u.to_string()).as_deref(), Some("11223744"));
    }

    #[test]
    fn a_healthy_idle_chip_passes_its_checks() {
        let chip = SimChip::new(0x92);
        let mut src = sim_source(&chip, 3);
        for _ in 0..30 {
            assert_eq!(src.poll().unwrap(), None);
        }
        assert_eq!(src.health(), ChipHealth { reinits: 0, not_answering: 0, rf_dead: 0 });
    }

    #[test]
    fn opening_the_pi_reader_on_a_pc_fails_with_a_clear_message() {
        if std::path::Path::new("/dev/spidev0.0").exists() {
            return; // a real Pi: this test is about machines without SPI
        }
        let w = PiMfrc522Wiring { spi_bus: 0, chip_select: 0, clock_hz: 1_000_000, reset_gpio: Some(25), rx_gain: RxGain::Db48, health_check_s: 60 };
        let err = open_pi_mfrc522(&w).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("/dev/spidev0.0") && err.contains("dtparam=spi=on"), "{err}");
    }
}
