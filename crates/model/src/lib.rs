//! Domain types shared by the core, the store and the edges. Plain data, no I/O.

use serde::{Deserialize, Serialize};
use std::fmt;

pub mod clock;

/// Feedback patterns the kiosk can ask of its indicator (buzzer, LEDs, speaker).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    Ok,
    Error,
    Unknown,
}

/// Milliseconds since the Unix epoch (UTC), as read from the wall clock.
pub type Millis = i64;

/// A card UID, normalised to upper-case hex without separators (e.g. `04A1B2C3D4E5F6`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CardUid(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UidError {
    #[error("card UID is empty")]
    Empty,
    #[error("card UID {0:?} is not hexadecimal")]
    NotHex(String),
    #[error("card UID {0:?} has an odd number of hex digits")]
    OddLength(String),
    #[error("card UID {0:?} is longer than 10 bytes")]
    TooLong(String),
}

impl CardUid {
    /// Parses a UID written as hex, with optional `:`/`-`/space separators.
    pub fn parse(text: &str) -> Result<Self, UidError> {
        let hex: String = text
            .trim()
            .chars()
            .filter(|c| !matches!(c, ':' | '-' | ' '))
            .collect();
        if hex.is_empty() {
            return Err(UidError::Empty);
        }
        if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(UidError::NotHex(text.to_string()));
        }
        if hex.len() % 2 != 0 {
            return Err(UidError::OddLength(text.to_string()));
        }
        if hex.len() > 20 {
            return Err(UidError::TooLong(text.to_string()));
        }
        Ok(CardUid(hex.to_ascii_uppercase()))
    }

    /// Builds a UID from raw bytes as read from a card.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        CardUid(hex::encode_upper(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A random ID (ISO 14443-3: a 4-byte UID starting 08): phones and many
    /// bank cards give a new one at every tap, so it never identifies a person.
    pub fn is_random(&self) -> bool {
        self.0.len() == 8 && self.0.starts_with("08")
    }
}

impl TryFrom<String> for CardUid {
    type Error = UidError;
    fn try_from(s: String) -> Result<Self, UidError> {
        CardUid::parse(&s)
    }
}

impl From<CardUid> for String {
    fn from(u: CardUid) -> String {
        u.0
    }
}

impl fmt::Display for CardUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a person may do at the device. A person can hold several roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Member,
    Trainer,
    Technician,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Trainer => "trainer",
            Role::Technician => "technician",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "member" => Some(Role::Member),
            "trainer" => Some(Role::Trainer),
            "technician" => Some(Role::Technician),
            _ => None,
        }
    }
}

/// A person on the district roster. Strict, as docs/schemas/doc-roster.json
/// says: an unknown field is an error, never silently dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub branch: String,
    #[serde(default)]
    pub home_centre: String,
    #[serde(default = "default_roles")]
    pub roles: Vec<Role>,
    #[serde(default)]
    pub cards: Vec<CardUid>,
    /// Courses the hub flagged for make-up (retake).
    #[serde(default)]
    pub makeup: Vec<String>,
}

fn default_roles() -> Vec<Role> {
    vec![Role::Member]
}

impl Member {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// A course in the district catalogue (strict, as doc-catalog.json says).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Course {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub title_en: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub required: bool,
    /// Running time of the course in seconds.
    pub duration_s: u32,
    /// Study-hour credit in minutes granted for completing the course.
    pub credit_minutes: u32,
    #[serde(default)]
    pub poster: Option<String>,
    #[serde(default)]
    pub files: Vec<CourseFile>,
}

/// One downloadable file of a course (strict).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CourseFile {
    pub url: String,
    pub size: u64,
    pub sha256: String,
}

/// One planned class at a centre, as the hub's signed schedule lists it
/// (times in UTC milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleEntry {
    pub id: String,
    #[serde(default)]
    pub title: String,
    pub starts_ms: i64,
    pub ends_ms: i64,
    #[serde(default)]
    pub trainer_id: Option<String>,
    #[serde(default)]
    pub courses: Vec<String>,
}

/// A course the member still owes this year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwedCourse {
    pub id: String,
    pub title: String,
}

/// A member's study hours for one calendar year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct YearSummary {
    pub year: i32,
    pub credited_minutes: i64,
    pub owed: Vec<OwedCourse>,
}

impl YearSummary {
    /// Hours credited, as tenths of an hour rounded down (18.5 h -> 185).
    pub fn hours_tenths(&self, minutes_per_hour: u32) -> i64 {
        (self.credited_minutes * 10) / i64::from(minutes_per_hour.max(1))
    }
}

/// Formats tenths of an hour as `18.5`.
pub fn fmt_tenths(t: i64) -> String {
    format!("{}.{}", t / 10, t % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_parse_accepts_separators_and_normalises_case() {
        assert_eq!(CardUid::parse("04:a1-b2 c3").unwrap().as_str(), "04A1B2C3");
    }

    #[test]
    fn uid_parse_rejects_garbage_with_a_clear_error() {
        assert_eq!(CardUid::parse(""), Err(UidError::Empty));
        assert!(matches!(CardUid::parse("xyz"), Err(UidError::NotHex(_))));
        assert!(matches!(CardUid::parse("ABC"), Err(UidError::OddLength(_))));
        assert!(matches!(CardUid::parse(&"AB".repeat(11)), Err(UidError::TooLong(_))));
    }

    #[test]
    fn hours_are_shown_with_one_decimal_rounded_down() {
        let s = YearSummary { year: 2026, credited_minutes: 833, owed: vec![] };
        assert_eq!(fmt_tenths(s.hours_tenths(45)), "18.5");
    }
}
