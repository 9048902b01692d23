//! The kiosk's in-memory state between events. Rebuilt from the store after a
//! restart (an open session and who is present), so it holds nothing the
//! store does not also hold, apart from screen focus and when each card was last seen.

use super::credit::Interval;
use crate::model::{CardUid, Member, Millis, YearSummary};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A member currently signed in to the running session.
#[derive(Debug, Clone, PartialEq)]
pub struct Presence {
    pub attendance_id: String,
    pub name: String,
    pub in_ms: Millis,
    pub year: i32,
    pub mobile: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActiveSession {
    pub id: String,
    pub title: String,
    pub trainer_id: String,
    pub trainer_name: String,
    pub schedule_id: Option<String>,
    pub started_ms: Millis,
    pub present: BTreeMap<String, Presence>,
    /// Intervals already credited in this session, per member.
    pub closed: HashMap<String, Vec<Interval>>,
}

impl ActiveSession {
    /// Closes `member_id`'s stay at `now`: the sign-out row and its credit
    /// message, and the minutes credited (never overlapping earlier stays).
    pub fn sign_out(&mut self, member_id: &str, p: &Presence, now: crate::model::clock::Now) -> (Vec<super::Effect>, u32) {
        use super::credit::credited_minutes;
        use super::payload::{credit, CreditFacts};
        use super::{Effect, Record};
        let session_iv = Interval::new(self.started_ms, now.wall_ms);
        let earlier = self.closed.entry(member_id.to_string()).or_default();
        let stay = Interval::new(p.in_ms, now.wall_ms);
        let minutes = credited_minutes(earlier, stay, session_iv);
        earlier.push(stay);
        let fx = vec![
            Effect::Write(Record::SignOut { attendance_id: p.attendance_id.clone(), out_ms: now.wall_ms, credited_minutes: minutes }),
            Effect::Enqueue(credit(CreditFacts {
                id: &p.attendance_id,
                member_id,
                source: "session",
                session_id: Some(&self.id),
                course_id: None,
                in_ms: p.in_ms,
                out_ms: now.wall_ms,
                minutes,
                year: p.year,
                mobile: p.mobile,
                synced: now.synced,
            })),
        ];
        (fx, minutes)
    }

    /// Everybody who was ever signed in to this session.
    pub fn attendees(&self) -> BTreeSet<String> {
        self.present.keys().chain(self.closed.keys()).cloned().collect()
    }
}

/// After a session ends, its attendees may rate it for a while.
#[derive(Debug, Clone, PartialEq)]
pub struct RatingWindow {
    pub session_id: String,
    pub title: String,
    pub until_ms: Millis,
    pub attendees: BTreeSet<String>,
    pub rated: BTreeSet<String>,
}

/// Whom a playing video is credited to.
#[derive(Debug, Clone, PartialEq)]
pub enum PlayContext {
    Session { session_id: String },
    SelfStudy { member_id: String, mobile: bool },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActivePlay {
    pub course: super::PlayedCourse,
    pub started_ms: Millis,
    pub start_pos_s: u32,
    pub context: PlayContext,
}

/// Who is using the screen right now.
#[derive(Debug, Clone, PartialEq)]
pub enum Focus {
    Nobody,
    Member { member: Member, year: YearSummary, mobile: bool },
    Trainer { member: Member },
    /// `pin`: opened with the technician PIN rather than a technician card.
    Technician { name: String, enrolling: bool, pending: Option<CardUid>, pin: bool },
    Rater { member_id: String, name: String },
    /// A message for whoever stands at the reader (several cards at once).
    Notice,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KioskState {
    /// Monotonic time each card was last seen (accepted or not): a card seen
    /// again within `debounce_ms` of this is still on the reader.
    pub last_tap: HashMap<CardUid, i64>,
    /// Monotonic time several cards were last reported on the reader at once.
    pub several_cards_ms: Option<i64>,
    pub session: Option<ActiveSession>,
    pub rating: Option<RatingWindow>,
    pub play: Option<ActivePlay>,
    pub focus: Focus,
    /// Monotonic time at which the current screen returns to idle.
    pub focus_until_mono: i64,
}

impl Default for KioskState {
    fn default() -> Self {
        KioskState {
            last_tap: HashMap::new(),
            several_cards_ms: None,
            session: None,
            rating: None,
            play: None,
            focus: Focus::Nobody,
            focus_until_mono: i64::MAX,
        }
    }
}
