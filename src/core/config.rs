//! The part of the configuration the kiosk core decides with.

use crate::config::{AttendanceConfig, Config, SignOutRule, UiConfig};

#[derive(Debug, Clone, PartialEq)]
pub struct CoreConfig {
    pub centre: String,
    pub device: String,
    pub minutes_per_hour: u32,
    pub quota_hours: u32,
    /// Presence gap: a card seen again within this long of its last sighting
    /// has not left the reader, so nothing new happens.
    pub debounce_ms: i64,
    pub min_stay_ms: i64,
    pub sign_out: SignOutRule,
    pub rating_window_ms: i64,
    pub result_ms: i64,
    pub panel_ms: i64,
    pub utc_offset_minutes: i32,
    pub completion_percent: u32,
}

impl CoreConfig {
    pub fn from_config(c: &Config) -> Self {
        Self::from_parts(&c.device.centre, &c.device.id, &c.attendance, &c.ui, c.device.utc_offset_minutes)
    }

    /// The slot-filler of a shell that decides nothing (`Shell::first_boot`):
    /// empty ids, documented defaults. Never used to decide a tap.
    pub fn unprovisioned() -> Self {
        Self::from_parts("", "", &AttendanceConfig::default(), &UiConfig::default(), 480)
    }

    fn from_parts(centre: &str, device: &str, a: &AttendanceConfig, ui: &UiConfig, utc_offset_minutes: i32) -> Self {
        CoreConfig {
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

    /// Defaults as documented, for a given centre and device (tests, demos).
    pub fn defaults(centre: &str, device: &str) -> Self {
        let text = format!("[device]\ncentre = \"{centre}\"\nid = \"{device}\"\n");
        let cfg = Config::parse(&text).unwrap_or_else(|e| panic!("built-in defaults are invalid: {e}"));
        Self::from_config(&cfg)
    }

    /// The local calendar year of a wall-clock instant.
    pub fn year_of(&self, wall_ms: i64) -> i32 {
        use chrono::Datelike;
        let local = wall_ms + i64::from(self.utc_offset_minutes) * 60_000;
        chrono::DateTime::from_timestamp_millis(local).map(|d| d.year()).unwrap_or(1970)
    }
}
