//! Trainer and screen actions: sessions, course plays (session or
//! self-study), ratings, the needs survey and card enrolment.

use super::credit::self_study_minutes;
use super::effect::*;
use super::event::PlayedCourse;
use super::kiosk::{Ids, Kiosk};
use super::payload::{self, CreditFacts, PlayFacts};
use super::state::*;
use crate::model::clock::Now;
use crate::model::Signal;
use crate::model::CardUid;
use std::collections::{BTreeMap, BTreeSet, HashMap};

impl Kiosk {
    pub(crate) fn on_start_session(&mut self, schedule_id: Option<String>, title: String, now: Now, ids: &mut Ids) -> Vec<Effect> {
        let Focus::Trainer { member } = self.st.focus.clone() else { return refused() };
        // The edges check the limits with a message; this keeps any record sendable.
        if self.st.session.is_some() || super::limits::check_title(&title).is_err() || schedule_id.as_deref().is_some_and(|s| super::limits::check_id("schedule id", s).is_err()) {
            return refused();
        }
        let id = ids.next();
        let msg_id = ids.next();
        self.st.rating = None;
        self.st.session = Some(ActiveSession {
            id: id.clone(),
            title: title.clone(),
            trainer_id: member.id.clone(),
            trainer_name: member.name.clone(),
            schedule_id: schedule_id.clone(),
            started_ms: now.wall_ms,
            present: BTreeMap::new(),
            closed: HashMap::new(),
        });
        self.focus(Focus::Trainer { member: member.clone() }, now);
        vec![
            Effect::Write(Record::SessionStarted { id: id.clone(), trainer_id: member.id.clone(), schedule_id: schedule_id.clone(), title: title.clone(), started_ms: now.wall_ms }),
            Effect::Enqueue(payload::session_started(&id, &msg_id, &member.id, schedule_id.as_deref(), &title, now.wall_ms, now.synced)),
            Effect::Show(Screen::Trainer(self.trainer_view(&member.name))),
            Effect::Sound(Signal::Ok),
        ]
    }

    /// Ends the running session: everybody still present is signed out and credited.
    pub(crate) fn on_end_session(&mut self, now: Now, ids: &mut Ids, reason: &str) -> Vec<Effect> {
        let trainer_ok = matches!(&self.st.focus, Focus::Trainer { member } if self.st.session.as_ref().is_some_and(|s| s.trainer_id == member.id))
            || matches!(self.st.focus, Focus::Technician { .. });
        if !trainer_ok || self.st.session.is_none() {
            return refused();
        }
        let mut fx = Vec::new();
        if self.st.play.is_some() {
            fx.push(Effect::StopVideo);
        }
        let Some(mut s) = self.st.session.take() else { return refused() };
        let present = std::mem::take(&mut s.present);
        for (member_id, p) in &present {
            let (out, _) = s.sign_out(member_id, p, now);
            fx.extend(out);
        }
        let attendees: BTreeSet<String> = s.closed.keys().cloned().collect();
        let msg_id = ids.next();
        fx.push(Effect::Write(Record::SessionEnded { id: s.id.clone(), ended_ms: now.wall_ms, reason: reason.to_string() }));
        fx.push(Effect::Enqueue(payload::session_ended(&s.id, &msg_id, s.started_ms, now.wall_ms, reason, attendees.len(), now.synced)));
        self.st.rating = Some(RatingWindow {
            session_id: s.id.clone(),
            title: s.title.clone(),
            until_ms: now.wall_ms + self.cfg.rating_window_ms,
            attendees,
            rated: BTreeSet::new(),
        });
        // A video of the ended session is closed by the StopVideo above; its
        // proof of play arrives as PlayStopped and is credited to nobody.
        self.st.play = None;
        self.focus(Focus::Nobody, now);
        fx.push(Effect::Show(Screen::Idle));
        fx.push(Effect::Sound(Signal::Ok));
        fx
    }

    pub(crate) fn on_play_started(&mut self, course: PlayedCourse, position_s: u32, now: Now) -> Vec<Effect> {
        if self.st.play.is_some() {
            return refused();
        }
        let context = match (&self.st.focus, &self.st.session) {
            (Focus::Trainer { member }, Some(s)) if s.trainer_id == member.id => PlayContext::Session { session_id: s.id.clone() },
            (Focus::Member { member, mobile, .. }, None) => PlayContext::SelfStudy { member_id: member.id.clone(), mobile: *mobile },
            _ => return refused(),
        };
        let fx = vec![
            Effect::PlayVideo { course_id: course.id.clone() },
            Effect::Show(Screen::Player { course_id: course.id.clone(), title: course.title.clone() }),
        ];
        self.st.play = Some(ActivePlay { course, started_ms: now.wall_ms, start_pos_s: position_s, context });
        self.st.focus_until_mono = i64::MAX;
        fx
    }

    pub(crate) fn on_play_stopped(&mut self, position_s: u32, watched_s: u32, reached_end: bool, now: Now, ids: &mut Ids) -> Vec<Effect> {
        let Some(play) = self.st.play.take() else { return vec![] };
        let course = &play.course;
        let watched_s = watched_s.min(course.duration_s.max(1));
        let enough = u64::from(watched_s) * 100 >= u64::from(course.duration_s) * u64::from(self.cfg.completion_percent);
        let completed = enough && (reached_end || position_s >= course.duration_s.saturating_sub(1));
        let year = self.cfg.year_of(now.wall_ms);
        let play_id = ids.next();
        let mut fx = Vec::new();
        let (session_id, member_id, completed_by): (Option<String>, Option<String>, Vec<String>) = match &play.context {
            PlayContext::Session { session_id } => {
                let present: Vec<String> = self
                    .st
                    .session
                    .as_ref()
                    .filter(|s| &s.id == session_id)
                    .map(|s| s.present.keys().cloned().collect())
                    .unwrap_or_default();
                (Some(session_id.clone()), None, if completed { present } else { vec![] })
            }
            PlayContext::SelfStudy { member_id, mobile } => {
                let minutes = self_study_minutes(watched_s, course.duration_s);
                if minutes > 0 {
                    let credit_id = ids.next();
                    fx.push(Effect::Write(Record::SelfStudy {
                        id: credit_id.clone(),
                        member_id: member_id.clone(),
                        in_ms: play.started_ms,
                        out_ms: now.wall_ms,
                        credited_minutes: minutes,
                        year,
                        mobile: *mobile,
                    }));
                    fx.push(Effect::Enqueue(payload::credit(CreditFacts {
                        id: &credit_id,
                        member_id,
                        source: "self_study",
                        session_id: None,
                        course_id: Some(&course.id),
                        in_ms: play.started_ms,
                        out_ms: now.wall_ms,
                        minutes,
                        year,
                        mobile: *mobile,
                        synced: now.synced,
                    })));
                }
                (None, Some(member_id.clone()), if completed { vec![member_id.clone()] } else { vec![] })
            }
        };
        for m in &completed_by {
            fx.push(Effect::Write(Record::Completion {
                member_id: m.clone(),
                course_id: course.id.clone(),
                year,
                at_ms: now.wall_ms,
                source: if session_id.is_some() { "session".into() } else { "self_study".into() },
            }));
        }
        fx.insert(
            0,
            Effect::Write(Record::Play {
                id: play_id.clone(),
                course_id: course.id.clone(),
                session_id: session_id.clone(),
                member_id: member_id.clone(),
                started_ms: play.started_ms,
                ended_ms: now.wall_ms,
                start_pos_s: play.start_pos_s,
                end_pos_s: position_s,
                watched_s,
                completed,
            }),
        );
        fx.insert(
            1,
            Effect::Enqueue(payload::play(PlayFacts {
                id: &play_id,
                course_id: &course.id,
                session_id: session_id.as_deref(),
                member_id: member_id.as_deref(),
                started_ms: play.started_ms,
                ended_ms: now.wall_ms,
                start_pos_s: play.start_pos_s,
                end_pos_s: position_s,
                watched_s,
                completed,
                completed_by: &completed_by,
                synced: now.synced,
            })),
        );
        // Back to whoever launched the video.
        match self.st.focus.clone() {
            Focus::Trainer { member } => {
                fx.push(Effect::Show(Screen::Trainer(self.trainer_view(&member.name))));
                self.focus(Focus::Trainer { member }, now);
            }
            Focus::Member { member, mut year, mobile } => {
                let minutes = self_study_minutes(watched_s, course.duration_s);
                year.credited_minutes += i64::from(minutes);
                if completed {
                    year.owed.retain(|c| c.id != course.id);
                }
                let view = self.member_view(&member, &year, 0, MemberOutcome::Status, mobile);
                fx.push(Effect::Show(Screen::Member(view)));
                self.focus(Focus::Member { member, year, mobile }, now);
            }
            _ => {
                self.focus(Focus::Nobody, now);
                fx.push(Effect::Show(Screen::Idle));
            }
        }
        fx
    }

    pub(crate) fn on_rating(&mut self, stars: u8, now: Now, ids: &mut Ids) -> Vec<Effect> {
        let Focus::Rater { member_id, name } = self.st.focus.clone() else { return refused() };
        if !(1..=5).contains(&stars) {
            return refused();
        }
        let Some(r) = self.st.rating.as_mut() else { return refused() };
        if !r.rated.insert(member_id.clone()) {
            return refused();
        }
        let session_id = r.session_id.clone();
        let id = ids.next();
        self.focus(Focus::Nobody, now);
        self.st.focus_until_mono = now.mono_ms.saturating_add(self.cfg.result_ms);
        vec![
            Effect::Write(Record::Rating { id: id.clone(), session_id: session_id.clone(), member_id: member_id.clone(), stars, at_ms: now.wall_ms }),
            Effect::Enqueue(payload::rating(&id, &session_id, &member_id, stars, now.wall_ms, now.synced)),
            Effect::Show(Screen::RatingThanks { member_name: name, stars }),
            Effect::Sound(Signal::Ok),
        ]
    }

    pub(crate) fn on_survey(&mut self, topics: Vec<String>, now: Now, ids: &mut Ids) -> Vec<Effect> {
        let member_id = match &self.st.focus {
            Focus::Member { member, .. } => member.id.clone(),
            Focus::Rater { member_id, .. } => member_id.clone(),
            _ => return refused(),
        };
        let topics: Vec<String> = topics.into_iter().filter(|t| !t.trim().is_empty()).collect();
        if topics.is_empty() || super::limits::check_topics(&topics).is_err() {
            return refused();
        }
        let id = ids.next();
        self.focus(Focus::Nobody, now);
        vec![
            Effect::Write(Record::Survey { id: id.clone(), member_id: member_id.clone(), topics: topics.clone(), at_ms: now.wall_ms }),
            Effect::Enqueue(payload::survey(&id, &member_id, &topics, now.wall_ms, now.synced)),
            Effect::Show(Screen::SurveyThanks),
            Effect::Sound(Signal::Ok),
        ]
    }

    pub(crate) fn on_technician_unlocked(&mut self, by: crate::Unlock, now: Now, ids: &mut Ids) -> Vec<Effect> {
        if self.st.play.is_some() {
            return refused();
        }
        let crate::Unlock::Pin = by;
        let name = super::kiosk::PIN_TECHNICIAN.to_string();
        self.focus(Focus::Technician { name: name.clone(), enrolling: false, pending: None, pin: true }, now);
        // No tap row says who opened it: the outbox message is the local log.
        let id = ids.next();
        let unlock = payload::UnlockFacts { id: &id, method: payload::UnlockMethod::Pin, uid: None, member_id: None, tap_id: None, at_ms: now.wall_ms, synced: now.synced };
        vec![Effect::Enqueue(payload::technician_unlock(unlock)), Effect::Show(Screen::Technician { name }), Effect::Sound(Signal::Ok)]
    }

    pub(crate) fn on_begin_enrol(&mut self, now: Now) -> Vec<Effect> {
        let Focus::Technician { name, pin, .. } = self.st.focus.clone() else { return refused() };
        self.focus(Focus::Technician { name, enrolling: true, pending: None, pin }, now);
        vec![Effect::Show(Screen::Enrol { uid: None })]
    }

    pub(crate) fn on_enrol(&mut self, uid: CardUid, member_id: String, now: Now, ids: &mut Ids) -> Vec<Effect> {
        let Focus::Technician { name, pending, pin, .. } = self.st.focus.clone() else { return refused() };
        if pending.as_ref() != Some(&uid) {
            return refused();
        }
        self.focus(Focus::Technician { name: name.clone(), enrolling: false, pending: None, pin }, now);
        let mut fx = enrolled(&uid, &member_id, now, ids);
        fx.extend([Effect::Show(Screen::Technician { name }), Effect::Sound(Signal::Ok)]);
        fx
    }
}

/// The record and the hub message of one enrolment, however it was asked for.
fn enrolled(uid: &CardUid, member_id: &str, now: Now, ids: &mut Ids) -> Vec<Effect> {
    let id = ids.next();
    vec![
        Effect::Write(Record::CardEnrolled { uid: uid.clone(), member_id: member_id.to_string(), at_ms: now.wall_ms }),
        Effect::Enqueue(payload::card_enrolled(&id, uid, member_id, now.wall_ms, now.synced)),
    ]
}

impl Kiosk {
    /// The hub enrols a card: the same record and message as the panel's
    /// enrolment, without touching the screen; nothing for a member the
    /// device does not know.
    pub(crate) fn on_hub_enrol(&mut self, uid: CardUid, member_id: String, on_roster: bool, now: Now, ids: &mut Ids) -> Vec<Effect> {
        if !on_roster {
            return Vec::new();
        }
        enrolled(&uid, &member_id, now, ids)
    }
}

/// An action that is not allowed in the current state: an error beep, nothing else.
fn refused() -> Vec<Effect> {
    vec![Effect::Sound(Signal::Error)]
}
