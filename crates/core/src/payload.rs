//! JSON payloads of the records reported to the hub (schemas in docs/schemas/).
//! Every payload carries `v` (schema version), `type`, a unique `id` and the
//! wall-clock time with the clock's synchronisation state.

use super::effect::{Outgoing, TapOutcome};
use crate::model::{CardUid, Millis};
use serde_json::{json, Value};

pub const VERSION: u32 = 1;

pub struct TapFacts<'a> {
    pub id: &'a str,
    pub at_ms: Millis,
    pub synced: bool,
    pub uid: &'a CardUid,
    pub member_id: Option<&'a str>,
    pub outcome: TapOutcome,
    pub session_id: Option<&'a str>,
    pub mobile: bool,
    pub home_centre: Option<&'a str>,
    pub attendance_id: Option<&'a str>,
}

pub fn tap(f: TapFacts<'_>) -> Outgoing {
    Outgoing {
        id: f.id.to_string(),
        kind: "tap",
        payload: json!({
            "v": VERSION, "type": "tap", "id": f.id, "at": f.at_ms, "clock_synced": f.synced,
            "uid": f.uid.as_str(), "member": f.member_id, "outcome": f.outcome.as_str(),
            "session": f.session_id, "mobile": f.mobile, "home_centre": f.home_centre,
            "attendance": f.attendance_id,
        }),
    }
}

/// A credit of study minutes to a member: the unit the hub sums per year.
pub struct CreditFacts<'a> {
    pub id: &'a str,
    pub member_id: &'a str,
    pub source: &'static str,
    pub session_id: Option<&'a str>,
    pub course_id: Option<&'a str>,
    pub in_ms: Millis,
    pub out_ms: Millis,
    pub minutes: u32,
    pub year: i32,
    pub mobile: bool,
    pub synced: bool,
}

pub fn credit(f: CreditFacts<'_>) -> Outgoing {
    Outgoing {
        id: f.id.to_string(),
        kind: "credit",
        payload: json!({
            "v": VERSION, "type": "credit", "id": f.id, "member": f.member_id, "source": f.source,
            "session": f.session_id, "course": f.course_id, "in": f.in_ms, "out": f.out_ms,
            "minutes": f.minutes, "year": f.year, "mobile": f.mobile, "at": f.out_ms,
            "clock_synced": f.synced,
        }),
    }
}

pub fn session_started(id: &str, msg_id: &str, trainer: &str, schedule: Option<&str>, title: &str, at: Millis, synced: bool) -> Outgoing {
    Outgoing {
        id: msg_id.to_string(),
        kind: "session",
        payload: json!({
            "v": VERSION, "type": "session", "id": msg_id, "event": "started", "session": id,
            "trainer": trainer, "schedule": schedule, "title": title, "at": at, "clock_synced": synced,
        }),
    }
}

pub fn session_ended(id: &str, msg_id: &str, started: Millis, at: Millis, reason: &str, attendees: usize, synced: bool) -> Outgoing {
    Outgoing {
        id: msg_id.to_string(),
        kind: "session",
        payload: json!({
            "v": VERSION, "type": "session", "id": msg_id, "event": "ended", "session": id,
            "started": started, "at": at, "reason": reason, "attendees": attendees, "clock_synced": synced,
        }),
    }
}

pub struct PlayFacts<'a> {
    pub id: &'a str,
    pub course_id: &'a str,
    pub session_id: Option<&'a str>,
    pub member_id: Option<&'a str>,
    pub started_ms: Millis,
    pub ended_ms: Millis,
    pub start_pos_s: u32,
    pub end_pos_s: u32,
    pub watched_s: u32,
    pub completed: bool,
    pub completed_by: &'a [String],
    pub synced: bool,
}

pub fn play(f: PlayFacts<'_>) -> Outgoing {
    Outgoing {
        id: f.id.to_string(),
        kind: "play",
        payload: json!({
            "v": VERSION, "type": "play", "id": f.id, "course": f.course_id, "session": f.session_id,
            "member": f.member_id, "started": f.started_ms, "at": f.ended_ms,
            "start_pos_s": f.start_pos_s, "end_pos_s": f.end_pos_s, "watched_s": f.watched_s,
            "completed": f.completed, "completed_by": f.completed_by, "clock_synced": f.synced,
        }),
    }
}

pub fn rating(id: &str, session: &str, member: &str, stars: u8, at: Millis, synced: bool) -> Outgoing {
    Outgoing {
        id: id.to_string(),
        kind: "rating",
        payload: json!({
            "v": VERSION, "type": "rating", "id": id, "session": session, "member": member,
            "stars": stars, "at": at, "clock_synced": synced,
        }),
    }
}

pub fn survey(id: &str, member: &str, topics: &[String], at: Millis, synced: bool) -> Outgoing {
    Outgoing {
        id: id.to_string(),
        kind: "survey",
        payload: json!({
            "v": VERSION, "type": "survey", "id": id, "member": member, "topics": topics,
            "at": at, "clock_synced": synced,
        }),
    }
}

pub fn card_enrolled(id: &str, uid: &CardUid, member: &str, at: Millis, synced: bool) -> Outgoing {
    Outgoing {
        id: id.to_string(),
        kind: "card_enrolled",
        payload: json!({
            "v": VERSION, "type": "card_enrolled", "id": id, "uid": uid.as_str(), "member": member,
            "at": at, "clock_synced": synced,
        }),
    }
}

/// How the technician panel was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlockMethod {
    Pin,
    Card,
}

impl UnlockMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            UnlockMethod::Pin => "pin",
            UnlockMethod::Card => "card",
        }
    }
}

/// The technician panel was opened; a card unlock names the card, its
/// holder and its tap record, a PIN unlock has none of them.
pub struct UnlockFacts<'a> {
    pub id: &'a str,
    pub method: UnlockMethod,
    pub uid: Option<&'a CardUid>,
    pub member_id: Option<&'a str>,
    pub tap_id: Option<&'a str>,
    pub at_ms: Millis,
    pub synced: bool,
}

pub fn technician_unlock(f: UnlockFacts<'_>) -> Outgoing {
    Outgoing {
        id: f.id.to_string(),
        kind: "technician_unlock",
        payload: json!({
            "v": VERSION, "type": "technician_unlock", "id": f.id, "at": f.at_ms, "clock_synced": f.synced,
            "method": f.method.as_str(), "uid": f.uid.map(CardUid::as_str), "member": f.member_id, "tap": f.tap_id,
        }),
    }
}

/// Reads a payload's `id` back (used by tests and the outbox).
pub fn id_of(v: &Value) -> Option<&str> {
    v.get("id").and_then(Value::as_str)
}

/// The wall clock moved against the monotonic clock (or its sync state changed).
pub fn clock_jump(id: &str, at: Millis, jump_ms: i64, synced_before: bool, synced_after: bool) -> Outgoing {
    Outgoing {
        id: id.to_string(),
        kind: "clock_jump",
        payload: json!({
            "v": VERSION, "type": "clock_jump", "id": id, "at": at, "clock_synced": synced_after,
            "jump_ms": jump_ms, "synced_before": synced_before, "synced_after": synced_after,
        }),
    }
}
