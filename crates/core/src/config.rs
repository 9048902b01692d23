//! The part of the configuration the kiosk core decides with.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq)]
pub struct CoreConfig {
    pub centre: String,
    pub device: String,
    pub minutes_per_hour: u32,
    pub quota_hours: u32,
    pub debounce_ms: i64,
    pub min_stay_ms: i64,
    pub sign_out: SignOutRule,
    pub rating_window_ms: i64,
    pub result_ms: i64,
    pub panel_ms: i64,
    pub utc_offset_minutes: i32,
    pub completion_percent: u32,
}

/// When a second tap signs a member out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignOutRule {
    /// A second tap after the minimum stay signs the member out.
    TapAgain,
    /// Taps never sign out; everybody is signed out when the session ends.
    SessionEnd,
}

impl CoreConfig {
    /// The documented defaults (docs/config.md) for a centre and device. The
    /// kiosk's config file maps onto these fields outside the core.
    pub fn defaults(centre: &str, device: &str) -> Self {
        CoreConfig {
            centre: centre.to_string(),
            device: device.to_string(),
            minutes_per_hour: 45,
            quota_hours: 32,
            debounce_ms: 5_000,
            min_stay_ms: 10 * 60_000,
            sign_out: SignOutRule::TapAgain,
            rating_window_ms: 30 * 60_000,
            result_ms: 8_000,
            panel_ms: 120_000,
            utc_offset_minutes: 480,
            completion_percent: 90,
        }
    }

    /// The slot-filler of a shell that decides nothing (`Shell::first_boot`):
    /// empty ids, documented defaults. Never used to decide a tap.
    pub fn unprovisioned() -> Self {
        Self::defaults("", "")
    }

    /// The local calendar year of a wall-clock instant.
    pub fn year_of(&self, wall_ms: i64) -> i32 {
        use chrono::Datelike;
        let local = wall_ms + i64::from(self.utc_offset_minutes) * 60_000;
        chrono::DateTime::from_timestamp_millis(local).map(|d| d.year()).unwrap_or(1970)
    }
}
