//! The state around the screens that the run loop feeds the UI: centre, clock,
//! today's schedule, hub link, backlog, course list, roster for enrolment,
//! device facts for the technician, boards for the first-boot wizard. Plain
//! data; never read from disk or network here.

use crate::model::{Course, Millis};

/// How the uplink to the district hub is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkState {
    Online,
    #[default]
    Connecting,
    Offline,
}

/// What became of the technician's last "sync now".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SyncState {
    #[default]
    None,
    /// Asked the uplink; waiting for it to connect and drain.
    Requested,
    /// Connected and nothing left to send, at this time.
    Done { at_ms: Millis },
    /// Not done within the wait; the uplink's last error, if any.
    Failed(String),
    /// The device has no hub address (`[hub] url`).
    NoHub,
}

/// One entry of today's schedule at this centre.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleItem {
    pub id: String,
    pub start_ms: Millis,
    pub end_ms: Millis,
    pub title: String,
    pub trainer: String,
}

/// A course of the catalogue, with whether its video is in the local cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibraryCourse {
    pub course: Course,
    pub cached: bool,
}

/// A member the technician can enrol a card for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterEntry {
    pub id: String,
    pub name: String,
    pub branch: String,
}

/// A line of the technician's device panel (IP address, reader, disk, cache...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFact {
    pub label: String,
    pub value: String,
    pub ok: bool,
}

/// Where the player is, reported by the player thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Playback {
    pub position_s: u32,
    pub duration_s: u32,
    pub paused: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ambient {
    pub centre: String,
    /// Wall clock, for the header; the run loop updates it every second.
    pub now_ms: Millis,
    /// The centre's offset from UTC (China: +8 h).
    pub utc_offset_s: i32,
    pub schedule: Vec<ScheduleItem>,
    pub link: LinkState,
    /// When the hub last acknowledged records from this device.
    pub last_sync_ms: Option<Millis>,
    pub sync: SyncState,
    pub backlog: u64,
    pub courses: Vec<LibraryCourse>,
    pub roster: Vec<RosterEntry>,
    pub device: Vec<DeviceFact>,
    pub survey_topics: Vec<String>,
    pub quota_hours: u32,
    /// Minutes in one study hour (45 by default).
    pub minutes_per_hour: u32,
    /// The device has not been provisioned: show the first-boot wizard.
    pub first_boot: bool,
    /// The boards the wizard offers (`crate::board::choices`).
    pub boards: Vec<crate::board::BoardChoice>,
}

impl Default for Ambient {
    fn default() -> Self {
        Ambient {
            centre: String::new(),
            now_ms: 0,
            utc_offset_s: 8 * 3600,
            schedule: Vec::new(),
            link: LinkState::default(),
            last_sync_ms: None,
            sync: SyncState::None,
            backlog: 0,
            courses: Vec::new(),
            roster: Vec::new(),
            device: Vec::new(),
            survey_topics: default_survey_topics(),
            quota_hours: 32,
            minutes_per_hour: 45,
            first_boot: false,
            boards: Vec::new(),
        }
    }
}

/// Topics offered by the needs survey until the hub sends its own list.
pub fn default_survey_topics() -> Vec<String> {
    ["党史学习", "政策解读", "法律法规", "健康养生", "数字技能", "志愿服务"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}
