//! Outputs of the kiosk core: records to write, messages to queue for the hub,
//! and what to show and sound. The shell commits every `Write` and `Enqueue`
//! of one decision in one transaction before it shows or sounds anything.

use crate::model::Signal;
use crate::model::{CardUid, Millis, OwedCourse};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Write(Record),
    Enqueue(Outgoing),
    Show(Screen),
    Sound(Signal),
    /// Start the player on a course (the shell resolves the cached file).
    PlayVideo { course_id: String },
    StopVideo,
}

/// A row (or row change) for the local store.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Tap { id: String, uid: CardUid, member_id: Option<String>, at_ms: Millis, synced: bool, outcome: TapOutcome, session_id: Option<String> },
    SignIn { id: String, member_id: String, session_id: String, in_ms: Millis, year: i32, mobile: bool },
    SignOut { attendance_id: String, out_ms: Millis, credited_minutes: u32 },
    SessionStarted { id: String, trainer_id: String, schedule_id: Option<String>, title: String, started_ms: Millis },
    SessionEnded { id: String, ended_ms: Millis, reason: String },
    Play { id: String, course_id: String, session_id: Option<String>, member_id: Option<String>, started_ms: Millis, ended_ms: Millis, start_pos_s: u32, end_pos_s: u32, watched_s: u32, completed: bool },
    SelfStudy { id: String, member_id: String, in_ms: Millis, out_ms: Millis, credited_minutes: u32, year: i32, mobile: bool },
    Completion { member_id: String, course_id: String, year: i32, at_ms: Millis, source: String },
    Rating { id: String, session_id: String, member_id: String, stars: u8, at_ms: Millis },
    Survey { id: String, member_id: String, topics: Vec<String>, at_ms: Millis },
    CardEnrolled { uid: CardUid, member_id: String, at_ms: Millis },
    ClockJump { id: String, at_ms: Millis, jump_ms: i64, synced: bool },
}

/// A message for the hub, queued in the outbox. `id` is globally unique and
/// stays the same on every resend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outgoing {
    pub id: String,
    pub kind: &'static str,
    pub payload: serde_json::Value,
}

/// What a tap resolved to; stored with the tap and reported to the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TapOutcome {
    SignedIn,
    SignedOut,
    AlreadySignedIn,
    Status,
    TrainerPanel,
    TechnicianPanel,
    RatingPrompt,
    Enrolled,
    Unknown,
}

impl TapOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            TapOutcome::SignedIn => "signed_in",
            TapOutcome::SignedOut => "signed_out",
            TapOutcome::AlreadySignedIn => "already_signed_in",
            TapOutcome::Status => "status",
            TapOutcome::TrainerPanel => "trainer_panel",
            TapOutcome::TechnicianPanel => "technician_panel",
            TapOutcome::RatingPrompt => "rating_prompt",
            TapOutcome::Enrolled => "enrolled",
            TapOutcome::Unknown => "unknown",
        }
    }
}

/// A screen to show, with the data it needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "screen", rename_all = "snake_case")]
pub enum Screen {
    Idle,
    Member(MemberView),
    UnknownCard { uid: CardUid },
    Trainer(TrainerView),
    Technician { name: String },
    /// Technician enrolment: waiting for a card, or a card waiting for its member.
    Enrol { uid: Option<CardUid> },
    RatingPrompt { member_name: String, session_title: String },
    RatingThanks { member_name: String, stars: u8 },
    SurveyThanks,
    Player { course_id: String, title: String },
    Error(ErrorKind),
}

/// The member result screen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberView {
    pub name: String,
    pub branch: String,
    pub outcome: MemberOutcome,
    /// This year's credited hours in tenths (185 = 18.5 h).
    pub hours_tenths: i64,
    pub quota_hours: u32,
    pub owed: Vec<OwedCourse>,
    pub makeup: Vec<String>,
    /// Tapping at a centre other than the member's home centre.
    pub mobile: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MemberOutcome {
    SignedIn,
    SignedOut { credited_minutes: u32 },
    /// Tapped again before the minimum stay: nothing changes.
    AlreadySignedIn { since_ms: Millis },
    /// Outside a session: just the member's status.
    Status,
    AlreadyRated,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainerView {
    pub name: String,
    pub session: Option<SessionView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionView {
    pub id: String,
    pub title: String,
    pub started_ms: Millis,
    pub present: Vec<Attendee>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attendee {
    pub member_id: String,
    pub name: String,
    pub in_ms: Millis,
}

/// Failures that get an error screen telling the person what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Database,
    DiskFull,
    ReadOnly,
    ReaderFault,
    /// A card with a random UID was offered for enrolment.
    RandomUid,
    /// More than one card was on the reader: nobody was signed in.
    TwoCards,
}
