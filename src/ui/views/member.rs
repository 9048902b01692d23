//! The `MemberView` global: a member's answer to a tap (outcome, this
//! year's study hours against the quota, required courses still owed,
//! make-up courses, mobile member) and the unregistered card's UID.
//! Never decides anything: the core's `MemberView` says it all.

use super::{changed, g, ss, strings, Inputs};
use crate::core::{MemberOutcome, Screen};
use crate::model::fmt_tenths;
use crate::ui::lang::fmt_time;
use slint::Global;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutcomeKind {
    SignedIn,
    SignedOut,
    AlreadySignedIn,
    #[default]
    Status,
    AlreadyRated,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct MemberState {
    pub name: String,
    pub branch: String,
    pub outcome: OutcomeKind,
    pub hours: String,
    pub quota: u32,
    pub progress: f32,
    pub credited_minutes: u32,
    pub since: String,
    pub owed: Vec<String>,
    pub makeup: Vec<String>,
    pub mobile: bool,
    /// The unknown-card screen's card.
    pub card_uid: String,
}

pub fn build(i: &Inputs<'_>) -> MemberState {
    let mut v = MemberState { quota: i.ambient.quota_hours, ..Default::default() };
    match i.screen {
        Screen::Member(m) => {
            v.name = m.name.clone();
            v.branch = m.branch.clone();
            v.hours = fmt_tenths(m.hours_tenths);
            v.quota = m.quota_hours;
            v.progress = if m.quota_hours == 0 { 1.0 } else { (m.hours_tenths as f32 / (m.quota_hours as f32 * 10.0)).clamp(0.0, 1.0) };
            v.owed = m.owed.iter().map(|c| c.title.clone()).collect();
            v.makeup = m.makeup.clone();
            v.mobile = m.mobile;
            v.outcome = match &m.outcome {
                MemberOutcome::SignedIn => OutcomeKind::SignedIn,
                MemberOutcome::SignedOut { credited_minutes } => {
                    v.credited_minutes = *credited_minutes;
                    OutcomeKind::SignedOut
                }
                MemberOutcome::AlreadySignedIn { since_ms } => {
                    v.since = fmt_time(*since_ms, i.ambient.utc_offset_s);
                    OutcomeKind::AlreadySignedIn
                }
                MemberOutcome::Status => OutcomeKind::Status,
                MemberOutcome::AlreadyRated => OutcomeKind::AlreadyRated,
            };
        }
        Screen::UnknownCard { uid } => v.card_uid = uid.to_string(),
        _ => {}
    }
    v
}

pub(crate) fn apply(w: &g::KioskWindow, prev: Option<&MemberState>, v: &MemberState) {
    let m = g::MemberView::get(w);
    if changed!(prev, v.name) {
        m.set_name(ss(&v.name));
    }
    if changed!(prev, v.branch) {
        m.set_branch(ss(&v.branch));
    }
    if changed!(prev, v.outcome) {
        m.set_outcome(match v.outcome {
            OutcomeKind::SignedIn => g::Outcome::SignedIn,
            OutcomeKind::SignedOut => g::Outcome::SignedOut,
            OutcomeKind::AlreadySignedIn => g::Outcome::AlreadySignedIn,
            OutcomeKind::Status => g::Outcome::Status,
            OutcomeKind::AlreadyRated => g::Outcome::AlreadyRated,
        });
    }
    if changed!(prev, v.hours) {
        m.set_hours(ss(&v.hours));
    }
    if changed!(prev, v.quota) {
        m.set_quota(v.quota as i32);
    }
    if changed!(prev, v.progress) {
        m.set_progress(v.progress);
    }
    if changed!(prev, v.credited_minutes) {
        m.set_credited_minutes(v.credited_minutes as i32);
    }
    if changed!(prev, v.since) {
        m.set_since(ss(&v.since));
    }
    if changed!(prev, v.owed) {
        m.set_owed(strings(&v.owed));
    }
    if changed!(prev, v.makeup) {
        m.set_makeup(strings(&v.makeup));
    }
    if changed!(prev, v.mobile) {
        m.set_mobile(v.mobile);
    }
    if changed!(prev, v.card_uid) {
        m.set_card_uid(ss(&v.card_uid));
    }
}
