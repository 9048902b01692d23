//! The `IdleView` global: today's schedule at this centre, with the class
//! now running marked. The trainer's panel lists the same rows
//! ([`schedule_rows`]). Never reads the store; the run loop feeds `Ambient`.

use super::{changed, g, model, ss, Inputs};
use crate::ui::ambient::Ambient;
use crate::ui::lang::fmt_time;
use slint::{Global, ModelRc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRow {
    pub id: String,
    pub time: String,
    pub title: String,
    pub trainer: String,
    pub current: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct IdleState {
    pub schedule: Vec<ScheduleRow>,
}

/// Today's classes as the screens list them.
pub fn schedule_rows(a: &Ambient) -> Vec<ScheduleRow> {
    a.schedule
        .iter()
        .map(|s| ScheduleRow {
            id: s.id.clone(),
            time: fmt_time(s.start_ms, a.utc_offset_s),
            title: s.title.clone(),
            trainer: s.trainer.clone(),
            current: s.start_ms <= a.now_ms && a.now_ms < s.end_ms,
        })
        .collect()
}

pub fn build(i: &Inputs<'_>) -> IdleState {
    IdleState { schedule: schedule_rows(i.ambient) }
}

pub(crate) fn schedule_model(rows: &[ScheduleRow]) -> ModelRc<g::ScheduleRow> {
    model(rows.iter().map(|s| g::ScheduleRow { id: ss(&s.id), time: ss(&s.time), title: ss(&s.title), trainer: ss(&s.trainer), current: s.current }).collect())
}

pub(crate) fn apply(w: &g::KioskWindow, prev: Option<&IdleState>, v: &IdleState) {
    if changed!(prev, v.schedule) {
        g::IdleView::get(w).set_schedule(schedule_model(&v.schedule));
    }
}
