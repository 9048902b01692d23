//! `Kiosk`: the state machine. `handle(event, ctx)` is pure: all it knows of
//! the world is the event and `ctx` (the time and a fresh id), and all it does
//! is return effects for the shell to carry out.

use super::config::CoreConfig;
use super::effect::*;
use super::event::Event;
use super::state::*;
use crate::model::clock::Now;
use crate::model::{Member, YearSummary};
use ulid::Ulid;

/// The inputs of one decision besides the event.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    pub now: Now,
    /// A fresh unique id; further ids of the same decision are derived from it.
    pub fresh: Ulid,
}

/// The name the technician panel shows when it was opened with the PIN.
pub const PIN_TECHNICIAN: &str = "PIN";
/// A panel opened with the PIN locks again after this long without a touch
/// (or sooner, when the configured panel timeout is shorter).
pub const PIN_PANEL_MS: i64 = 60_000;

/// Hands out the ids of one decision.
pub(crate) struct Ids(Ulid);

impl Ids {
    pub(crate) fn next(&mut self) -> String {
        let id = self.0;
        self.0 = self.0.increment().unwrap_or_else(|| Ulid::from_parts(self.0.timestamp_ms() + 1, 0));
        id.to_string()
    }
}

pub struct Kiosk {
    pub(crate) cfg: CoreConfig,
    pub(crate) st: KioskState,
}

impl Kiosk {
    pub fn new(cfg: CoreConfig) -> Self {
        Kiosk { cfg, st: KioskState::default() }
    }

    /// Resumes with a session that was running when the program stopped.
    pub fn with_session(cfg: CoreConfig, session: Option<ActiveSession>) -> Self {
        Kiosk { cfg, st: KioskState { session, ..KioskState::default() } }
    }

    pub fn config(&self) -> &CoreConfig {
        &self.cfg
    }

    pub fn state(&self) -> &KioskState {
        &self.st
    }

    pub fn handle(&mut self, event: Event, ctx: Ctx) -> Vec<Effect> {
        let mut ids = Ids(ctx.fresh);
        let now = ctx.now;
        match event {
            Event::CardTapped { uid, holder } => self.on_tap(uid, holder, now, &mut ids),
            Event::SeveralCards => self.on_several_cards(now),
            Event::StartSession { schedule_id, title } => self.on_start_session(schedule_id, title, now, &mut ids),
            Event::EndSession => self.on_end_session(now, &mut ids, "trainer"),
            Event::PlayStarted { course, position_s } => self.on_play_started(course, position_s, now),
            Event::PlayStopped { position_s, watched_s, reached_end } => {
                self.on_play_stopped(position_s, watched_s, reached_end, now, &mut ids)
            }
            Event::RatingGiven { stars } => self.on_rating(stars, now, &mut ids),
            Event::SurveyAnswered { topics } => self.on_survey(topics, now, &mut ids),
            Event::TechnicianUnlocked { by } => self.on_technician_unlocked(by, now, &mut ids),
            Event::BeginEnrol => self.on_begin_enrol(now),
            Event::EnrolCard { uid, member_id } => self.on_enrol(uid, member_id, now, &mut ids),
            Event::HubEnrolCard { uid, member_id, on_roster } => self.on_hub_enrol(uid, member_id, on_roster, now, &mut ids),
            Event::Dismiss => self.on_dismiss(),
            Event::Tick => self.on_tick(now),
            Event::RosterReplaced { .. } | Event::CatalogReplaced { .. } | Event::ScheduleReplaced { .. } => {
                // New data shows on the next tap; refresh the idle screen (schedule, counts).
                if self.st.focus == Focus::Nobody && self.st.play.is_none() {
                    vec![Effect::Show(Screen::Idle)]
                } else {
                    vec![]
                }
            }
        }
    }

    fn on_dismiss(&mut self) -> Vec<Effect> {
        if self.st.play.is_some() {
            return vec![];
        }
        self.st.focus = Focus::Nobody;
        self.st.focus_until_mono = i64::MAX;
        vec![Effect::Show(Screen::Idle)]
    }

    fn on_tick(&mut self, now: Now) -> Vec<Effect> {
        let debounce = self.cfg.debounce_ms;
        self.st.last_tap.retain(|_, t| now.mono_ms - *t < debounce);
        if let Some(r) = &self.st.rating {
            if now.wall_ms >= r.until_ms {
                self.st.rating = None;
            }
        }
        if self.st.play.is_none() && self.st.focus != Focus::Nobody && now.mono_ms >= self.st.focus_until_mono {
            return self.on_dismiss();
        }
        vec![]
    }

    /// Sets who uses the screen and when it times out.
    pub(crate) fn focus(&mut self, focus: Focus, now: Now) {
        let ms = match focus {
            Focus::Nobody => i64::MAX,
            Focus::Member { .. } | Focus::Rater { .. } | Focus::Notice => self.cfg.result_ms,
            Focus::Technician { pin: true, .. } => self.cfg.panel_ms.min(PIN_PANEL_MS),
            Focus::Trainer { .. } | Focus::Technician { .. } => self.cfg.panel_ms,
        };
        self.st.focus = focus;
        self.st.focus_until_mono = now.mono_ms.saturating_add(ms);
    }

    pub(crate) fn member_view(&self, member: &Member, year: &YearSummary, extra_minutes: u32, outcome: MemberOutcome, mobile: bool) -> MemberView {
        let mut y = year.clone();
        y.credited_minutes += i64::from(extra_minutes);
        MemberView {
            name: member.name.clone(),
            branch: member.branch.clone(),
            outcome,
            hours_tenths: y.hours_tenths(self.cfg.minutes_per_hour),
            quota_hours: self.cfg.quota_hours,
            owed: y.owed,
            makeup: member.makeup.clone(),
            mobile,
        }
    }

    pub(crate) fn trainer_view(&self, name: &str) -> TrainerView {
        TrainerView {
            name: name.to_string(),
            session: self.st.session.as_ref().map(|s| SessionView {
                id: s.id.clone(),
                title: s.title.clone(),
                started_ms: s.started_ms,
                present: s
                    .present
                    .iter()
                    .map(|(id, p)| Attendee { member_id: id.clone(), name: p.name.clone(), in_ms: p.in_ms })
                    .collect(),
            }),
        }
    }

    pub(crate) fn is_mobile(&self, member: &Member) -> bool {
        !member.home_centre.is_empty() && member.home_centre != self.cfg.centre
    }
}
