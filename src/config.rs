//! The device configuration: one TOML file, every key documented in
//! docs/config.md. Loading never panics: a bad file gives an error naming the
//! file, the key and what is wrong.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub device: DeviceConfig,
    #[serde(default)]
    pub attendance: AttendanceConfig,
    #[serde(default)]
    pub board: BoardConfig,
    #[serde(default)]
    pub hub: HubSettings,
    #[serde(default)]
    pub ui: UiConfig,
    #[serde(default)]
    pub library: crate::library::LibraryConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// District id, as used in MQTT topics.
    #[serde(default = "default_district")]
    pub district: String,
    /// Centre id of this classroom.
    pub centre: String,
    /// Human-readable centre name shown on the idle screen.
    #[serde(default)]
    pub centre_name: String,
    /// Unique device id within the district.
    pub id: String,
    /// Where the database and caches live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Local time offset from UTC in minutes (480 = China Standard Time).
    #[serde(default = "default_utc_offset")]
    pub utc_offset_minutes: i32,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SignOutRule {
    /// A second tap after the minimum stay signs the member out.
    TapAgain,
    /// Taps never sign out; everybody is signed out when the session ends.
    SessionEnd,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AttendanceConfig {
    /// Minutes in one study hour.
    pub minutes_per_study_hour: u32,
    /// Study hours each member owes per calendar year.
    pub yearly_quota_hours: u32,
    /// The same card again within this window is the same tap.
    pub debounce_seconds: u32,
    /// How a member signs out.
    pub sign_out: SignOutRule,
    /// A second tap earlier than this after sign-in does not sign out.
    pub min_stay_minutes: u32,
    /// How long after a session ends its attendees may rate it.
    pub rating_window_minutes: u32,
    /// A watched fraction (percent) at which a course counts as completed.
    pub completion_percent: u32,
}

impl Default for AttendanceConfig {
    fn default() -> Self {
        AttendanceConfig {
            minutes_per_study_hour: 45,
            yearly_quota_hours: 32,
            debounce_seconds: 5,
            sign_out: SignOutRule::TapAgain,
            min_stay_minutes: 10,
            rating_window_minutes: 30,
            completion_percent: 90,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BoardKind {
    /// Simulated reader and indicator (taps from `microclass tap` and stdin).
    Sim,
    /// Real hardware described by `board.file`.
    Pi,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BoardConfig {
    pub kind: BoardKind,
    /// Board file (pins, reader type), e.g. /usr/share/microclass/board/pi4-mfrc522.toml.
    pub file: Option<PathBuf>,
    /// USB keyboard-wedge reader: evdev device name or /dev/input path.
    pub usb_reader: Option<String>,
}

impl Default for BoardConfig {
    fn default() -> Self {
        BoardConfig { kind: BoardKind::Sim, file: None, usb_reader: None }
    }
}

/// Hub link settings; the uplink reads its own keys from this table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(default)]
pub struct HubSettings {
    /// `mqtt://host:1883` or `mqtts://host:8883`; empty = no uplink.
    pub url: String,
    #[serde(flatten)]
    pub rest: toml::Table,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct UiConfig {
    /// "zh-CN" or "en".
    pub language: String,
    /// Seconds a result screen stays before returning to idle.
    pub result_seconds: u32,
    /// Seconds an idle trainer/technician panel stays open.
    pub panel_seconds: u32,
    /// Argon2 PHC hash of the technician PIN (set by `microclass provision`).
    pub technician_pin_hash: Option<String>,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            language: "zh-CN".into(),
            result_seconds: 8,
            panel_seconds: 120,
            technician_pin_hash: None,
        }
    }
}

fn default_district() -> String {
    "demo".into()
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("/var/lib/microclass")
}
fn default_utc_offset() -> i32 {
    480
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("config file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Config::parse(&text).map_err(|message| ConfigError::Invalid { path: path.to_path_buf(), message })
    }

    /// Parses and validates config text; the error names the key and the problem.
    pub fn parse(text: &str) -> Result<Config, String> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            let msg = e.message().to_string();
            match e.span() {
                Some(span) => {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    format!("line {line}: {msg}")
                }
                None => msg,
            }
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), String> {
        let id_ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !id_ok(&self.device.district) {
            return Err(format!("device.district {:?}: use letters, digits, '-' or '_'", self.device.district));
        }
        if !id_ok(&self.device.centre) {
            return Err(format!("device.centre {:?}: use letters, digits, '-' or '_'", self.device.centre));
        }
        if !id_ok(&self.device.id) {
            return Err(format!("device.id {:?}: use letters, digits, '-' or '_'", self.device.id));
        }
        if !(-720..=840).contains(&self.device.utc_offset_minutes) {
            return Err(format!("device.utc_offset_minutes {}: must be between -720 and 840", self.device.utc_offset_minutes));
        }
        let a = &self.attendance;
        if !(1..=120).contains(&a.minutes_per_study_hour) {
            return Err(format!("attendance.minutes_per_study_hour {}: must be 1..=120", a.minutes_per_study_hour));
        }
        if a.yearly_quota_hours == 0 || a.yearly_quota_hours > 1000 {
            return Err(format!("attendance.yearly_quota_hours {}: must be 1..=1000", a.yearly_quota_hours));
        }
        if a.debounce_seconds > 600 {
            return Err(format!("attendance.debounce_seconds {}: must be at most 600", a.debounce_seconds));
        }
        if a.min_stay_minutes > 24 * 60 {
            return Err(format!("attendance.min_stay_minutes {}: must be at most 1440", a.min_stay_minutes));
        }
        if !(1..=100).contains(&a.completion_percent) {
            return Err(format!("attendance.completion_percent {}: must be 1..=100", a.completion_percent));
        }
        if self.board.kind == BoardKind::Pi && self.board.file.is_none() && self.board.usb_reader.is_none() {
            return Err("board.kind = \"pi\" needs board.file or board.usb_reader".into());
        }
        if !matches!(self.ui.language.as_str(), "zh-CN" | "en") {
            return Err(format!("ui.language {:?}: must be \"zh-CN\" or \"en\"", self.ui.language));
        }
        if !self.hub.url.is_empty() && !(self.hub.url.starts_with("mqtt://") || self.hub.url.starts_with("mqtts://")) {
            return Err(format!("hub.url {:?}: must start with mqtt:// or mqtts://", self.hub.url));
        }
        Ok(())
    }

    /// The path of the SQLite database inside the data dir.
    pub fn db_path(&self) -> PathBuf {
        self.device.data_dir.join("microclass.db")
    }

    /// The kiosk's local control socket (taps, screenshots) inside the data dir.
    pub fn control_socket(&self) -> PathBuf {
        self.device.data_dir.join("control.sock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "[device]\ncentre = \"c1\"\nid = \"d1\"\n";

    #[test]
    fn a_minimal_file_gets_the_documented_defaults() {
        let c = Config::parse(MINIMAL).unwrap();
        assert_eq!(c.attendance.minutes_per_study_hour, 45);
        assert_eq!(c.attendance.yearly_quota_hours, 32);
        assert_eq!(c.attendance.debounce_seconds, 5);
        assert_eq!(c.attendance.min_stay_minutes, 10);
        assert_eq!(c.board.kind, BoardKind::Sim);
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let e = Config::parse("[device]\ncentre = \"c1\"\nid = \"d1\"\n[attendance]\nminutes_per_hour = 50\n").unwrap_err();
        assert!(e.contains("line 5"), "{e}");
        assert!(e.contains("minutes_per_hour"), "{e}");
    }

    #[test]
    fn a_wrong_type_is_named_with_its_line() {
        let e = Config::parse("[device]\ncentre = \"c1\"\nid = \"d1\"\n[attendance]\ndebounce_seconds = \"five\"\n").unwrap_err();
        assert!(e.contains("line 5"), "{e}");
    }

    #[test]
    fn an_out_of_range_value_names_the_key() {
        let e = Config::parse(&format!("{MINIMAL}[attendance]\nminutes_per_study_hour = 0\n")).unwrap_err();
        assert!(e.contains("attendance.minutes_per_study_hour"), "{e}");
    }

    #[test]
    fn a_missing_device_id_is_reported() {
        let e = Config::parse("[device]\ncentre = \"c1\"\n").unwrap_err();
        assert!(e.contains("id"), "{e}");
    }

    #[test]
    fn a_pi_board_without_a_reader_is_refused() {
        let e = Config::parse(&format!("{MINIMAL}[board]\nkind = \"pi\"\n")).unwrap_err();
        assert!(e.contains("board.file"), "{e}");
    }

    #[test]
    fn loading_a_missing_file_names_the_file() {
        let e = Config::load(Path::new("/nonexistent/microclass.toml")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/microclass.toml"));
    }
}
