//! Board files (`board/*.toml`): which card reader a device has and on which
//! pins, plus buzzer, LEDs and feedback patterns. Loaded and validated at
//! start with errors that name the file and the problem (unknown pin, pin
//! used twice, SPI pins reused as GPIO, LED names the patterns do not
//! define). `build_hardware` turns a board and the config's `[board]` table
//! into the boxed `CardReader` and `Indicator` the run loop uses; a missing
//! reader never fails it (see `build_from_board`).
//! Pin numbers are BCM GPIO numbers; `header_pin` maps them to the 40-pin
//! header. Never touches hardware until `build_hardware` is called.

use crate::clock::Clock;
use crate::config::{BoardConfig, BoardKind};
use crate::hw::evdev_source::{DeviceSelector, EvdevKeys};
use crate::hw::gpio_indicator::{open_pi_outputs, GpioIndicator, OutputLine, Outputs, Patterns};
use crate::hw::mfrc522::RxGain;
use crate::hw::mfrc522_reader::{pi_mfrc522_reader, PiMfrc522Wiring};
use crate::hw::presence::PresenceConfig;
use crate::hw::hotplug::HotplugReader;
use crate::hw::sim::{SimFileReader, SimIndicator, SimReader};
use crate::hw::usb_wedge::{UsbWedgeReader, WedgeFormat};
use crate::hw::{CardReader, Indicator, IndicatorError, ReaderError};
use crate::model::CardUid;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

/// Where packages install the board files.
pub const BOARD_DIR: &str = "/usr/share/microclass/board";

#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    #[error("cannot read board file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("board file {path}: {source}")]
    Parse { path: PathBuf, source: toml::de::Error },
    #[error("board file {path}: {what} uses GPIO{pin}, which is not a GPIO on the 40-pin header (use BCM 2-27)")]
    UnknownPin { path: PathBuf, what: String, pin: u8 },
    #[error("board file {path}: GPIO{pin} (header pin {header}) is used twice: by {first} and by {second}")]
    PinUsedTwice { path: PathBuf, pin: u8, header: u8, first: String, second: String },
    #[error("board file {path}: {what} uses GPIO{pin} (header pin {header}), which SPI{bus} needs as {role}")]
    SpiPinReused { path: PathBuf, what: String, pin: u8, header: u8, bus: u8, role: &'static str },
    #[error("board file {path}: {detail}")]
    Invalid { path: PathBuf, detail: String },
    #[error("board file {path}: pattern {pattern} lights LED {led:?}, which [leds] does not define")]
    UnknownLed { path: PathBuf, pattern: &'static str, led: String },
    #[error("{0}")]
    Reader(#[from] ReaderError),
    #[error("{0}")]
    Indicator(#[from] IndicatorError),
    #[error("[board] kind = \"pi\" needs `file` (a board file such as {BOARD_DIR}/pi4-mfrc522.toml)")]
    NoBoardFile,
}

/// The card reader a board has.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ReaderSpec {
    Mfrc522(Mfrc522Spec),
    Usb(UsbSpec),
    Sim(SimSpec),
}

/// The simulated reader: taps from `microclass tap` and stdin, or, with
/// `device`, from a file that may appear after boot (one UID per line).
#[derive(Debug, Clone, PartialEq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimSpec {
    pub device: Option<PathBuf>,
}

impl ReaderSpec {
    /// The kind as board files and the `cards` table name it.
    pub fn kind(&self) -> &'static str {
        match self {
            ReaderSpec::Mfrc522(_) => "mfrc522",
            ReaderSpec::Usb(_) => "usb",
            ReaderSpec::Sim(_) => "sim",
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mfrc522Spec {
    #[serde(default)]
    pub spi_bus: u8,
    #[serde(default)]
    pub chip_select: u8,
    #[serde(default = "default_clock")]
    pub clock_hz: u32,
    pub reset_pin: Option<u8>,
    /// IRQ is wired on some boards; the driver polls and leaves it alone.
    pub irq_pin: Option<u8>,
    #[serde(default = "default_gain")]
    pub rx_gain_db: u8,
    /// Seconds between idle checks that the chip still answers with its antenna on (0: never).
    #[serde(default = "default_health_check")]
    pub health_check_s: u32,
}

fn default_clock() -> u32 {
    1_000_000
}
fn default_gain() -> u8 {
    48
}
fn default_health_check() -> u32 {
    60
}

#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsbSpec {
    /// Device name or /dev/input path; the config's `board.usb_reader` wins.
    pub device: Option<String>,
    #[serde(flatten)]
    pub format: WedgeFormat,
}

#[derive(Debug, Clone, PartialEq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuzzerSpec {
    pub pin: u8,
    /// The module sounds when the pin is low (many cheap buzzer boards).
    #[serde(default)]
    pub active_low: bool,
}

/// An LED: `green = 27`, or `green = { pin = 27, active_low = true }` for a
/// module that lights when the pin is low.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(untagged)]
pub enum LedSpec {
    Pin(u8),
    Line {
        pin: u8,
        #[serde(default)]
        active_low: bool,
    },
}

impl LedSpec {
    pub fn pin(&self) -> u8 {
        match *self {
            LedSpec::Pin(p) | LedSpec::Line { pin: p, .. } => p,
        }
    }
    pub fn active_low(&self) -> bool {
        matches!(*self, LedSpec::Line { active_low: true, .. })
    }
}

/// A parsed, validated board file.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Board {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub reader: ReaderSpec,
    #[serde(default)]
    pub presence: PresenceConfig,
    pub buzzer: Option<BuzzerSpec>,
    #[serde(default)]
    pub leds: BTreeMap<String, LedSpec>,
    #[serde(default)]
    pub patterns: Patterns,
}

/// BCM GPIO -> physical pin on the 40-pin header.
pub fn header_pin(gpio: u8) -> Option<u8> {
    const MAP: [(u8, u8); 28] = [
        (0, 27), (1, 28), (2, 3), (3, 5), (4, 7), (5, 29), (6, 31), (7, 26), (8, 24), (9, 21),
        (10, 19), (11, 23), (12, 32), (13, 33), (14, 8), (15, 10), (16, 36), (17, 11), (18, 12),
        (19, 35), (20, 38), (21, 40), (22, 15), (23, 16), (24, 18), (25, 22), (26, 37), (27, 13),
    ];
    MAP.iter().find(|(g, _)| *g == gpio).map(|(_, p)| *p)
}

/// Pins the kernel's SPI driver takes for a bus (`dtparam=spi=on` for SPI0,
/// `dtoverlay=spi1-3cs` for SPI1).
pub fn spi_pins(bus: u8) -> &'static [(u8, &'static str)] {
    match bus {
        0 => &[(9, "MISO"), (10, "MOSI"), (11, "SCLK"), (8, "CE0"), (7, "CE1")],
        1 => &[(19, "MISO"), (20, "MOSI"), (21, "SCLK"), (18, "CE0"), (17, "CE1"), (16, "CE2")],
        _ => &[],
    }
}

impl Board {
    pub fn load(path: &Path) -> Result<Board, BoardError> {
        let text = std::fs::read_to_string(path).map_err(|source| BoardError::Read { path: path.into(), source })?;
        Board::parse(&text, path)
    }

    /// Parses and validates; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Board, BoardError> {
        let board: Board = toml::from_str(text).map_err(|source| BoardError::Parse { path: path.into(), source })?;
        board.validate(path)?;
        Ok(board)
    }

    /// Every GPIO the board uses, with what uses it.
    pub fn gpio_uses(&self) -> Vec<(u8, String)> {
        let mut uses = Vec::new();
        if let ReaderSpec::Mfrc522(m) = &self.reader {
            if let Some(p) = m.reset_pin {
                uses.push((p, "reader.reset_pin".to_string()));
            }
            if let Some(p) = m.irq_pin {
                uses.push((p, "reader.irq_pin".to_string()));
            }
        }
        if let Some(b) = &self.buzzer {
            uses.push((b.pin, "buzzer.pin".to_string()));
        }
        for (name, led) in &self.leds {
            uses.push((led.pin(), format!("leds.{name}")));
        }
        uses
    }

    fn validate(&self, path: &Path) -> Result<(), BoardError> {
        let invalid = |detail: String| BoardError::Invalid { path: path.into(), detail };
        let spi_bus = match &self.reader {
            ReaderSpec::Mfrc522(m) => {
                if RxGain::from_db(m.rx_gain_db).is_none() {
                    return Err(invalid(format!(
                        "reader.rx_gain_db = {} is not one of 18, 23, 33, 38, 43, 48",
                        m.rx_gain_db
                    )));
                }
                if !(10_000..=10_000_000).contains(&m.clock_hz) {
                    return Err(invalid(format!(
                        "reader.clock_hz = {} is outside 10 kHz..10 MHz (the MFRC522's SPI limit)",
                        m.clock_hz
                    )));
                }
                let max_cs = match m.spi_bus {
                    0 => 1,
                    1 => 2,
                    b => return Err(invalid(format!("reader.spi_bus = {b}: the 40-pin header has SPI0 and SPI1"))),
                };
                if m.chip_select > max_cs {
                    return Err(invalid(format!("reader.chip_select = {} does not exist on SPI{}", m.chip_select, m.spi_bus)));
                }
                Some(m.spi_bus)
            }
            ReaderSpec::Usb(u) => {
                if let Some(problem) = u.format.problem() {
                    return Err(invalid(problem));
                }
                None
            }
            ReaderSpec::Sim(_) => None,
        };
        let mut seen: Vec<(u8, String)> = Vec::new();
        for (pin, what) in self.gpio_uses() {
            let Some(header) = header_pin(pin).filter(|_| pin >= 2) else {
                return Err(BoardError::UnknownPin { path: path.into(), what, pin });
            };
            if let Some((_, first)) = seen.iter().find(|(p, _)| *p == pin) {
                return Err(BoardError::PinUsedTwice { path: path.into(), pin, header, first: first.clone(), second: what });
            }
            if let Some(bus) = spi_bus {
                if let Some((_, role)) = spi_pins(bus).iter().find(|(p, _)| *p == pin) {
                    return Err(BoardError::SpiPinReused { path: path.into(), what, pin, header, bus, role });
                }
            }
            seen.push((pin, what));
        }
        for (pattern, steps) in [("ok", &self.patterns.ok), ("error", &self.patterns.error), ("unknown", &self.patterns.unknown)] {
            for led in steps.iter().flat_map(|s| s.leds.iter()) {
                // Boards without LEDs simply do not light any.
                if !self.leds.is_empty() && !self.leds.contains_key(led) {
                    return Err(BoardError::UnknownLed { path: path.into(), pattern, led: led.clone() });
                }
            }
        }
        Ok(())
    }
}

/// The edges the run loop needs.
pub struct Hardware {
    pub reader: Box<dyn CardReader>,
    pub indicator: Box<dyn Indicator>,
    /// Simulated board: the sender that injects taps (`microclass tap`, stdin).
    pub sim_taps: Option<Sender<CardUid>>,
    /// Simulated board: the shared log of signals.
    pub sim_indicator: Option<SimIndicator>,
    /// `mfrc522`, `usb` or `sim`: recorded with every card enrolled here.
    pub reader_kind: &'static str,
}

/// The simulated board.
pub fn sim_hardware() -> Hardware {
    let (reader, taps) = SimReader::new();
    let ind = SimIndicator::default();
    Hardware { reader: Box::new(reader), indicator: Box::new(ind.clone()), sim_taps: Some(taps), sim_indicator: Some(ind), reader_kind: "sim" }
}

/// Loads the board named by the config and opens its reader and indicator.
pub fn build_hardware(cfg: &BoardConfig, clock: Arc<dyn Clock>) -> Result<Hardware, BoardError> {
    if cfg.kind == BoardKind::Sim {
        return Ok(sim_hardware());
    }
    let path = cfg.file.as_deref().ok_or(BoardError::NoBoardFile)?;
    let board = Board::load(path)?;
    build_from_board(&board, cfg.usb_reader.as_deref(), clock)
}

/// How often a missing reader is looked for again.
pub const READER_RETRY: Duration = Duration::from_secs(2);

/// Opens the reader and indicator a (validated) board describes. A reader
/// that is missing or fails to open does not fail this: the returned reader
/// reports `Unavailable` (the kiosk shows the reader fault) and opens it
/// when it appears. Buzzer and LEDs that cannot be claimed are logged and
/// left out, so the kiosk still runs, silently.
pub fn build_from_board(board: &Board, usb_override: Option<&str>, clock: Arc<dyn Clock>) -> Result<Hardware, BoardError> {
    let mut sim = None;
    let reader: Box<dyn CardReader> = match &board.reader {
        ReaderSpec::Sim(SimSpec { device: None }) => {
            let h = sim_hardware();
            sim = h.sim_taps;
            h.reader
        }
        ReaderSpec::Sim(SimSpec { device: Some(path) }) => {
            let path = path.clone();
            let label = format!("simulated reader {}", path.display());
            Box::new(HotplugReader::new(label, READER_RETRY, Box::new(move || {
                SimFileReader::open(&path).map(|r| Box::new(r) as Box<dyn CardReader>)
            })))
        }
        ReaderSpec::Mfrc522(m) => {
            let (wiring, presence) = (mfrc522_wiring(m), board.presence);
            let label = format!("MFRC522 on /dev/spidev{}.{}", m.spi_bus, m.chip_select);
            Box::new(HotplugReader::new(label, READER_RETRY, Box::new(move || {
                pi_mfrc522_reader(&wiring, presence, clock.clone()).map(|r| Box::new(r) as Box<dyn CardReader>)
            })))
        }
        ReaderSpec::Usb(u) => {
            let name = usb_override.or(u.device.as_deref()).map(str::to_string);
            let format = u.format.clone();
            let label = format!("USB card reader {}", name.as_deref().unwrap_or("(none named)"));
            Box::new(HotplugReader::new(label, READER_RETRY, Box::new(move || {
                let name = name.as_deref().ok_or_else(|| {
                    ReaderError::Unavailable("no USB reader named: set board.usb_reader in the config".into())
                })?;
                let keys = EvdevKeys::open(DeviceSelector::parse(name))
                    .map_err(|e| ReaderError::Unavailable(format!("USB card reader: {e}")))?;
                Ok(Box::new(UsbWedgeReader::new(keys, format.clone(), clock.clone())?) as Box<dyn CardReader>)
            })))
        }
    };
    let leds: Vec<(String, OutputLine)> =
        board.leds.iter().map(|(n, l)| (n.clone(), OutputLine { pin: l.pin(), active_low: l.active_low() })).collect();
    let buzzer = board.buzzer.as_ref().map(|b| OutputLine { pin: b.pin, active_low: b.active_low });
    let outputs = if buzzer.is_none() && leds.is_empty() {
        Outputs::default()
    } else {
        open_pi_outputs(buzzer, &leds).unwrap_or_else(|e| {
            tracing::error!(error = %e, "buzzer and LEDs not available: the kiosk runs without them");
            Outputs::default()
        })
    };
    let indicator = GpioIndicator::new(outputs, board.patterns.clone())?;
    Ok(Hardware { reader, indicator: Box::new(indicator), sim_taps: sim, sim_indicator: None, reader_kind: board.reader.kind() })
}

/// A board the first-boot wizard offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardChoice {
    /// What provisioning takes: `sim` or the board file's absolute path.
    pub value: String,
    /// The board file's `name` (`sim` for the built-in one).
    pub name: String,
    /// The reader kind, `sim`, `mfrc522` or `usb`: the screen names it in the current language.
    pub reader: &'static str,
}

/// The built-in simulated board, then each valid board file in `dir`
/// (sorted by file name). Files with a simulated reader are left out (the
/// built-in choice is the same thing); invalid ones are logged and left out.
pub fn choices(dir: &Path) -> Vec<BoardChoice> {
    let mut out = vec![BoardChoice { value: "sim".into(), name: "sim".into(), reader: "sim" }];
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "toml")).collect(),
        Err(e) => {
            tracing::info!(dir = %dir.display(), error = %e, "no board files installed: only the simulated board is offered");
            return out;
        }
    };
    files.sort();
    for path in files {
        let path = if path.is_absolute() { path } else { std::env::current_dir().map(|d| d.join(&path)).unwrap_or(path) };
        match Board::load(&path) {
            Ok(b) => {
                let reader = match b.reader {
                    ReaderSpec::Sim(_) => continue,
                    ReaderSpec::Mfrc522(_) => "mfrc522",
                    ReaderSpec::Usb(_) => "usb",
                };
                out.push(BoardChoice { value: path.display().to_string(), name: b.name, reader });
            }
            Err(e) => tracing::warn!(error = %e, "board file not offered"),
        }
    }
    out
}

pub fn mfrc522_wiring(m: &Mfrc522Spec) -> PiMfrc522Wiring {
    PiMfrc522Wiring {
        spi_bus: m.spi_bus,
        chip_select: m.chip_select,
        clock_hz: m.clock_hz,
        reset_gpio: m.reset_pin,
        rx_gain: RxGain::from_db(m.rx_gain_db).unwrap_or(RxGain::Db48),
        health_check_s: m.health_check_s,
    }
}

#[cfg(test)]
#[path = "board_tests.rs"]
mod tests;
