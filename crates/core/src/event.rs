//! Inputs to the kiosk core. The shell gathers the facts a decision needs
//! (who owns a card, their year so far) before it calls the core.

use crate::model::{CardUid, Member, YearSummary};

/// What the store knows about a tapped card.
#[derive(Debug, Clone, PartialEq)]
pub enum Holder {
    /// No member has this card.
    Unknown,
    /// The card belongs to `member`; `year` is their ledger for the tap's calendar year.
    Known { member: Member, year: YearSummary },
}

/// A course as the core needs to know it when it is played.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayedCourse {
    pub id: String,
    pub title: String,
    pub duration_s: u32,
    pub credit_minutes: u32,
    pub required: bool,
}

/// How a technician proved who they are without a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlock {
    /// The technician PIN, checked by the shell against the configured hash.
    Pin,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A card was seen on the reader: its arrival, or a repeat while it stays
    /// (wedge repeats, MFRC522 presence reports); the core tells them apart.
    CardTapped { uid: CardUid, holder: Holder },
    /// More than one card is on the reader at once: none of them is read.
    SeveralCards,
    /// The trainer on the trainer panel starts a session (scheduled or ad hoc).
    StartSession { schedule_id: Option<String>, title: String },
    /// The trainer ends the running session.
    EndSession,
    /// A video started playing (session or self-study), from `position_s`.
    PlayStarted { course: PlayedCourse, position_s: u32 },
    /// The video stopped: at `position_s`, after `watched_s` seconds actually watched.
    PlayStopped { position_s: u32, watched_s: u32, reached_end: bool },
    /// A member on the rating screen chose 1-5 stars.
    RatingGiven { stars: u8 },
    /// A member on the needs-survey screen picked topics.
    SurveyAnswered { topics: Vec<String> },
    /// A technician opened the panel without a card (the shell checked the PIN):
    /// the same panel and enrolment as a technician tap, with a shorter timeout.
    TechnicianUnlocked { by: Unlock },
    /// The technician asks that the next tapped card be enrolled.
    BeginEnrol,
    /// The technician picked the member the pending card belongs to.
    EnrolCard { uid: CardUid, member_id: String },
    /// The hub's `enrol_card` command: enrol `uid` for `member_id`;
    /// `on_roster` is whether the shell found the member on this device.
    HubEnrolCard { uid: CardUid, member_id: String, on_roster: bool },
    /// The person at the screen is done (back button, close).
    Dismiss,
    /// Periodic: lets the core time out screens and rating windows.
    Tick,
    /// The hub replaced the roster, the catalogue or the schedule.
    RosterReplaced { version: u64, members: usize },
    CatalogReplaced { version: u64, courses: usize },
    ScheduleReplaced { version: u64, entries: usize },
}
