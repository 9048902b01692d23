//! The `TrainerView` global: the trainer's panel (today's schedule to start
//! a session from, the running session and who is signed in, the course
//! picked for the video). Never starts anything: touches go to `Actions`.

use super::idle::{schedule_model, schedule_rows, ScheduleRow};
use super::{changed, g, people, ss, Inputs, Row};
use crate::core::Screen;
use crate::ui::lang::fmt_time;
use crate::ui::library;
use slint::Global;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrainerState {
    pub name: String,
    pub schedule: Vec<ScheduleRow>,
    pub session_running: bool,
    pub session_title: String,
    pub session_started: String,
    pub attendees: Vec<Row>,
    /// The course the trainer picked in the library (kept across the video).
    pub picked_course_id: String,
    pub picked_course: String,
}

pub fn build(i: &Inputs<'_>) -> TrainerState {
    let a = i.ambient;
    let mut v = TrainerState { schedule: schedule_rows(a), ..Default::default() };
    if let Screen::Trainer(t) = i.screen {
        v.name = t.name.clone();
        if let Some(s) = &t.session {
            v.session_running = true;
            v.session_title = s.title.clone();
            v.session_started = fmt_time(s.started_ms, a.utc_offset_s);
            v.attendees = s
                .present
                .iter()
                .map(|p| Row { id: p.member_id.clone(), text: p.name.clone(), detail: fmt_time(p.in_ms, a.utc_offset_s) })
                .collect();
        }
    }
    if let Some(id) = &i.ctl.picked_course {
        if let Some(c) = a.courses.iter().find(|c| &c.course.id == id) {
            v.picked_course_id = id.clone();
            v.picked_course = library::title(c, i.lang).to_string();
        }
    }
    v
}

pub(crate) fn apply(w: &g::KioskWindow, prev: Option<&TrainerState>, v: &TrainerState) {
    let t = g::TrainerView::get(w);
    if changed!(prev, v.name) {
        t.set_name(ss(&v.name));
    }
    if changed!(prev, v.schedule) {
        t.set_schedule(schedule_model(&v.schedule));
    }
    if changed!(prev, v.session_running) {
        t.set_session_running(v.session_running);
    }
    if changed!(prev, v.session_title) {
        t.set_session_title(ss(&v.session_title));
    }
    if changed!(prev, v.session_started) {
        t.set_session_started(ss(&v.session_started));
    }
    if changed!(prev, v.attendees) {
        t.set_attendees(people(&v.attendees));
    }
    if changed!(prev, v.picked_course_id) {
        t.set_picked_course_id(ss(&v.picked_course_id));
    }
    if changed!(prev, v.picked_course) {
        t.set_picked_course(ss(&v.picked_course));
    }
}
