//! The device configuration: one TOML file, every key documented in
//! docs/config.md. Loading never panics: a bad file gives an error naming the
//! file, the key and what is wrong. A file that is valid but lacks the
//! device's identity (the shipped one) loads as `Loaded::NeedsProvisioning`,
//! which carries no ids at all, so nothing can be recorded under made-up ones.


pub mod hub;
pub mod hub_check;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Without `centre` and `id` the file loads as `Loaded::NeedsProvisioning`.
    #[serde(default)]
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
    /// Centre id of this classroom (empty: not provisioned yet).
    #[serde(default)]
    pub centre: String,
    /// Human-readable centre name shown on the idle screen.
    #[serde(default)]
    pub centre_name: String,
    /// Unique device id within the district (empty: not provisioned yet).
    #[serde(default)]
    pub id: String,
    /// Where the database and caches live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Local time offset from UTC in minutes (480 = China Standard Time).
    #[serde(default = "default_utc_offset")]
    pub utc_offset_minutes: i32,
}

pub use crate::core::config::SignOutRule;

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
    #[error("config file {path}: {}", not_provisioned_message(.missing))]
    NotProvisioned { path: PathBuf, missing: Vec<&'static str> },
}

fn not_provisioned_message(missing: &[&str]) -> String {
    format!(
        "{} not set: this device is not provisioned yet. Run `sudo microclass provision`, \
         or start the kiosk with its screen (`microclass run --ui auto`) to use the first-boot wizard",
        missing.join(" and ")
    )
}

/// A config file as read: valid, with or without the device's identity.
#[derive(Debug, Clone, PartialEq)]
pub enum Loaded {
    Ready(Config),
    /// Everything but `device.centre` / `device.id` is there and valid: only
    /// the first-boot wizard may run.
    NeedsProvisioning(Unprovisioned),
}

/// The settings of a file that lacks the device's identity: what the kiosk
/// needs to show the first-boot wizard, and deliberately no ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Unprovisioned {
    /// The keys still to set, e.g. `["device.centre", "device.id"]`.
    pub missing: Vec<&'static str>,
    pub data_dir: PathBuf,
    pub utc_offset_minutes: i32,
    pub attendance: AttendanceConfig,
    pub board: BoardConfig,
    pub ui: UiConfig,
    pub library: crate::library::LibraryConfig,
}

impl Unprovisioned {
    pub fn db_path(&self) -> PathBuf {
        db_path_in(&self.data_dir)
    }
    pub fn control_socket(&self) -> PathBuf {
        control_socket_in(&self.data_dir)
    }
}

fn db_path_in(data_dir: &Path) -> PathBuf {
    data_dir.join("microclass.db")
}

fn control_socket_in(data_dir: &Path) -> PathBuf {
    data_dir.join("control.sock")
}

impl Default for DeviceConfig {
    fn default() -> Self {
        DeviceConfig {
            district: default_district(),
            centre: String::new(),
            centre_name: String::new(),
            id: String::new(),
            data_dir: default_data_dir(),
            utc_offset_minutes: default_utc_offset(),
        }
    }
}

fn id_ok(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

impl Config {
    /// Reads and validates a config file; a file without the device's
    /// identity is an error here (see [`Config::load_any`]).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        match Config::load_any(path)? {
            Loaded::Ready(cfg) => Ok(cfg),
            Loaded::NeedsProvisioning(u) => Err(ConfigError::NotProvisioned { path: path.to_path_buf(), missing: u.missing }),
        }
    }

    /// Reads and validates a config file that may still lack the device's identity.
    pub fn load_any(path: &Path) -> Result<Loaded, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Config::parse_checked(&text, true).map_err(|message| ConfigError::Invalid { path: path.to_path_buf(), message })
    }

    /// Parses and validates config text; the error names the key and the problem.
    pub fn parse(text: &str) -> Result<Config, String> {
        match Config::parse_any(text)? {
            Loaded::Ready(cfg) => Ok(cfg),
            Loaded::NeedsProvisioning(u) => Err(not_provisioned_message(&u.missing)),
        }
    }

    /// As [`Config::parse`], but a file that only lacks the identity is
    /// `NeedsProvisioning` instead of an error. Every other problem is still one.
    pub fn parse_any(text: &str) -> Result<Loaded, String> {
        Config::parse_checked(text, false)
    }

    /// `files`: also check that the files `[hub]` names can be read (config_hub.rs).
    fn parse_checked(text: &str, files: bool) -> Result<Loaded, String> {
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
        // An empty id is "not set", as `microclass provision` reads it.
        let missing: Vec<&'static str> = [("device.centre", cfg.device.centre.is_empty()), ("device.id", cfg.device.id.is_empty())]
            .into_iter()
            .filter_map(|(key, absent)| absent.then_some(key))
            .collect();
        if !missing.is_empty() {
            check_id_key("device.district", &cfg.device.district)?;
            check_rest(cfg.device.utc_offset_minutes, &cfg.attendance, &cfg.board, &cfg.hub, &cfg.ui)?;
            let Config { device, attendance, board, ui, library, .. } = cfg;
            return Ok(Loaded::NeedsProvisioning(Unprovisioned {
                missing,
                data_dir: device.data_dir,
                utc_offset_minutes: device.utc_offset_minutes,
                attendance,
                board,
                ui,
                library,
            }));
        }
        cfg.validate()?;
        hub_check::check(text, &cfg.device, files)?;
        Ok(Loaded::Ready(cfg))
    }

    fn validate(&self) -> Result<(), String> {
        check_id_key("device.district", &self.device.district)?;
        check_id_key("device.centre", &self.device.centre)?;
        check_id_key("device.id", &self.device.id)?;
        check_rest(self.device.utc_offset_minutes, &self.attendance, &self.board, &self.hub, &self.ui)
    }
}

fn check_id_key(key: &str, value: &str) -> Result<(), String> {
    if id_ok(value) {
        Ok(())
    } else {
        Err(format!("{key} {value:?}: use letters, digits, '-' or '_'"))
    }
}

/// Every rule but the identity's.
fn check_rest(utc_offset_minutes: i32, a: &AttendanceConfig, board: &BoardConfig, hub: &HubSettings, ui: &UiConfig) -> Result<(), String> {
    if !(-720..=840).contains(&utc_offset_minutes) {
        return Err(format!("device.utc_offset_minutes {utc_offset_minutes}: must be between -720 and 840"));
    }
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
    if board.kind == BoardKind::Pi && board.file.is_none() && board.usb_reader.is_none() {
        return Err("board.kind = \"pi\" needs board.file or board.usb_reader".into());
    }
    if !matches!(ui.language.as_str(), "zh-CN" | "en") {
        return Err(format!("ui.language {:?}: must be \"zh-CN\" or \"en\"", ui.language));
    }
    if !hub.url.is_empty() && !(hub.url.starts_with("mqtt://") || hub.url.starts_with("mqtts://")) {
        return Err(format!("hub.url {:?}: must start with mqtt:// or mqtts://", hub.url));
    }
    Ok(())
}

impl Config {
    /// The path of the SQLite database inside the data dir.
    pub fn db_path(&self) -> PathBuf {
        db_path_in(&self.device.data_dir)
    }

    /// The kiosk's local control socket (taps, screenshots) inside the data dir.
    pub fn control_socket(&self) -> PathBuf {
        control_socket_in(&self.device.data_dir)
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
    fn the_shipped_file_needs_provisioning_and_keeps_its_data_dir() {
        let shipped = include_str!("../../debian/config.toml");
        let Ok(Loaded::NeedsProvisioning(u)) = Config::parse_any(shipped) else { panic!("the shipped config must load as unprovisioned") };
        assert_eq!(u.missing, vec!["device.centre", "device.id"]);
        assert_eq!(u.data_dir, PathBuf::from("/var/lib/microclass"));
        assert_eq!(u.board.kind, BoardKind::Sim);
        let e = Config::parse(shipped).unwrap_err();
        assert!(e.contains("device.centre and device.id not set") && e.contains("microclass provision"), "{e}");
    }

    #[test]
    fn an_empty_id_counts_as_not_set_like_provision_reads_it() {
        let Ok(Loaded::NeedsProvisioning(u)) = Config::parse_any("[device]\ncentre = \"c1\"\nid = \"\"\n") else { panic!("expected unprovisioned") };
        assert_eq!(u.missing, vec!["device.id"]);
    }

    #[test]
    fn a_file_without_ids_is_still_refused_for_any_other_problem() {
        let e = Config::parse_any("[device]\n[attendance]\nminutes_per_study_hour = 0\n").unwrap_err();
        assert!(e.contains("attendance.minutes_per_study_hour"), "{e}");
        let e = Config::parse_any("[device]\ndistrict = \"a/b\"\n").unwrap_err();
        assert!(e.contains("device.district"), "{e}");
        let e = Config::parse_any("[devise]\n").unwrap_err();
        assert!(e.contains("line 1") && e.contains("devise"), "{e}");
    }

    #[test]
    fn a_complete_file_is_ready_through_either_loader() {
        assert!(matches!(Config::parse_any(MINIMAL), Ok(Loaded::Ready(c)) if c.device.id == "d1" && c.device.district == "demo"));
    }

    #[test]
    fn loading_an_unprovisioned_file_names_the_file_and_the_way_out() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        std::fs::write(&p, "[device]\n").unwrap();
        let e = Config::load(&p).unwrap_err();
        assert!(matches!(e, ConfigError::NotProvisioned { .. }));
        let msg = e.to_string();
        assert!(msg.contains("config.toml") && msg.contains("microclass provision") && msg.contains("--ui"), "{msg}");
        assert!(matches!(Config::load_any(&p), Ok(Loaded::NeedsProvisioning(_))));
    }

    #[test]
    fn loading_a_missing_file_names_the_file() {
        let e = Config::load(Path::new("/nonexistent/microclass.toml")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/microclass.toml"));
    }
}

impl Config {
    /// The part of this config the kiosk core decides with.
    pub fn core_config(&self) -> crate::core::CoreConfig {
        core_config(&self.device.centre, &self.device.id, &self.attendance, &self.ui, self.device.utc_offset_minutes)
    }
}

fn core_config(centre: &str, device: &str, a: &AttendanceConfig, ui: &UiConfig, utc_offset_minutes: i32) -> crate::core::CoreConfig {
    crate::core::CoreConfig {
        centre: centre.to_string(),
        device: device.to_string(),
        minutes_per_hour: a.minutes_per_study_hour,
        quota_hours: a.yearly_quota_hours,
        debounce_ms: i64::from(a.debounce_seconds) * 1000,
        min_stay_ms: i64::from(a.min_stay_minutes) * 60_000,
        sign_out: a.sign_out,
        rating_window_ms: i64::from(a.rating_window_minutes) * 60_000,
        result_ms: i64::from(ui.result_seconds) * 1000,
        panel_ms: i64::from(ui.panel_seconds) * 1000,
        utc_offset_minutes,
        completion_percent: a.completion_percent,
    }
}

#[cfg(test)]
mod core_config_tests {
    use super::*;

    #[test]
    fn the_cores_defaults_are_the_documented_config_defaults() {
        let cfg = Config::parse("[device]\ncentre = \"c\"\nid = \"d\"\n").unwrap();
        assert_eq!(cfg.core_config(), crate::core::CoreConfig::defaults("c", "d"));
    }
}
