//! What the screens show, computed from the controller and the ambient state:
//! a plain mirror of the .slint `View` and `Ambient` globals, so mapping
//! `Screen` -> text is tested without a UI. Never sets Slint properties itself.

use super::ambient::{Ambient, LinkState, Playback, SyncState};
use super::controller::{Page, ReaderTestState, UiController};
use super::lang::{fmt_clock, fmt_date, fmt_time, Lang};
use super::library;
use crate::core::{ErrorKind, MemberOutcome, Screen};
use crate::model::fmt_tenths;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: String,
    pub text: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRow {
    pub id: String,
    pub time: String,
    pub title: String,
    pub trainer: String,
    pub current: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseRow {
    pub id: String,
    pub title: String,
    pub category: String,
    pub required: bool,
    pub minutes: u32,
    pub credit: String,
    pub cached: bool,
    pub selected: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutcomeKind {
    SignedIn,
    SignedOut,
    AlreadySignedIn,
    #[default]
    Status,
    AlreadyRated,
}

/// Everything the globals hold, as Rust values.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ViewState {
    pub page: Option<Page>,
    pub centre: String,
    pub date: String,
    pub time: String,
    pub schedule: Vec<ScheduleRow>,
    pub link: LinkState,
    pub backlog: u64,
    pub language: &'static str,
    // member
    pub member_name: String,
    pub member_branch: String,
    pub outcome: OutcomeKind,
    pub hours: String,
    pub quota: u32,
    pub progress: f32,
    pub credited_minutes: u32,
    pub since: String,
    pub owed: Vec<String>,
    pub makeup: Vec<String>,
    pub mobile: bool,
    // cards
    pub card_uid: String,
    pub query: String,
    pub candidates: Vec<Row>,
    // trainer
    pub trainer_name: String,
    pub session_running: bool,
    pub session_title: String,
    pub session_started: String,
    pub attendees: Vec<Row>,
    pub picked_course_id: String,
    pub picked_course: String,
    // player
    pub video_title: String,
    pub video_position: String,
    pub video_duration: String,
    pub video_progress: f32,
    pub video_paused: bool,
    // rating, survey
    pub rating_member: String,
    pub rating_session: String,
    pub stars: u8,
    pub topics: Vec<(String, bool)>,
    // library
    pub categories: Vec<String>,
    pub category: i32,
    pub courses: Vec<CourseRow>,
    pub picking: bool,
    // technician
    pub technician: String,
    pub info: Vec<(String, String, bool)>,
    pub reader_test: ReaderTestState,
    pub pin_length: usize,
    pub pin_wrong: bool,
    // wizard
    pub wizard_step: usize,
    pub wizard_fields: Vec<(String, String, bool)>,
    pub wizard_field: usize,
    pub wizard_error: String,
    /// The board step's choices: reader kind, board name, chosen.
    pub wizard_boards: Vec<(String, String, bool)>,
    pub fault: Option<ErrorKind>,
}

/// Candidates shown for enrolment at most (the roster can hold thousands).
const MAX_CANDIDATES: usize = 5;

pub fn build(ctl: &UiController, a: &Ambient, playback: &Playback) -> ViewState {
    let lang = ctl.lang();
    let off = a.utc_offset_s;
    let mut v = ViewState {
        page: Some(ctl.page()),
        centre: a.centre.clone(),
        date: fmt_date(a.now_ms, off, lang),
        time: fmt_time(a.now_ms, off),
        schedule: a
            .schedule
            .iter()
            .map(|s| ScheduleRow {
                id: s.id.clone(),
                time: fmt_time(s.start_ms, off),
                title: s.title.clone(),
                trainer: s.trainer.clone(),
                current: s.start_ms <= a.now_ms && a.now_ms < s.end_ms,
            })
            .collect(),
        link: a.link,
        backlog: a.backlog,
        language: lang.code(),
        quota: a.quota_hours,
        category: ctl.library_category.map_or(-1, |c| c as i32),
        picking: ctl.picking(),
        reader_test: ctl.reader_test.clone(),
        pin_length: ctl.pin.len(),
        pin_wrong: ctl.pin_wrong,
        query: ctl.enrol_query.clone(),
        ..Default::default()
    };

    match ctl.core_screen() {
        Screen::Idle | Screen::SurveyThanks => {}
        Screen::Member(m) => {
            v.member_name = m.name.clone();
            v.member_branch = m.branch.clone();
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
                    v.since = fmt_time(*since_ms, off);
                    OutcomeKind::AlreadySignedIn
                }
                MemberOutcome::Status => OutcomeKind::Status,
                MemberOutcome::AlreadyRated => OutcomeKind::AlreadyRated,
            };
        }
        Screen::UnknownCard { uid } => v.card_uid = uid.to_string(),
        Screen::Trainer(t) => {
            v.trainer_name = t.name.clone();
            if let Some(s) = &t.session {
                v.session_running = true;
                v.session_title = s.title.clone();
                v.session_started = fmt_time(s.started_ms, off);
                v.attendees = s
                    .present
                    .iter()
                    .map(|p| Row { id: p.member_id.clone(), text: p.name.clone(), detail: fmt_time(p.in_ms, off) })
                    .collect();
            }
        }
        Screen::Technician { name } => v.technician = name.clone(),
        Screen::Enrol { uid } => {
            v.card_uid = uid.as_ref().map(|u| u.to_string()).unwrap_or_default();
            let q = ctl.enrol_query.trim().to_lowercase();
            v.candidates = a
                .roster
                .iter()
                .filter(|m| q.is_empty() || m.name.to_lowercase().contains(&q) || m.id.to_lowercase().contains(&q))
                .take(MAX_CANDIDATES)
                .map(|m| Row { id: m.id.clone(), text: m.name.clone(), detail: format!("{} · {}", m.id, m.branch) })
                .collect();
        }
        Screen::RatingPrompt { member_name, session_title } => {
            v.rating_member = member_name.clone();
            v.rating_session = session_title.clone();
        }
        Screen::RatingThanks { member_name, stars } => {
            v.rating_member = member_name.clone();
            v.stars = *stars;
        }
        Screen::Player { course_id, title } => {
            v.video_title = if title.is_empty() { course_id.clone() } else { title.clone() };
            v.video_position = fmt_clock(playback.position_s);
            v.video_duration = fmt_clock(playback.duration_s);
            v.video_progress = if playback.duration_s == 0 { 0.0 } else { (playback.position_s as f32 / playback.duration_s as f32).clamp(0.0, 1.0) };
            v.video_paused = playback.paused;
        }
        Screen::Error(kind) => v.fault = Some(*kind),
    }

    if let Some(id) = &ctl.picked_course {
        if let Some(c) = a.courses.iter().find(|c| &c.course.id == id) {
            v.picked_course_id = id.clone();
            v.picked_course = library::title(c, lang).to_string();
        }
    }

    if v.page == Some(Page::Library) {
        v.categories = library::categories(&a.courses);
        let cat = ctl.library_category.and_then(|i| v.categories.get(i)).map(String::as_str);
        v.courses = library::filter(&a.courses, cat, &ctl.library_query, lang)
            .into_iter()
            .map(|c| CourseRow {
                id: c.course.id.clone(),
                title: library::title(c, lang).to_string(),
                category: c.course.category.clone(),
                required: c.course.required,
                minutes: c.course.duration_s.div_ceil(60),
                credit: fmt_tenths(i64::from(c.course.credit_minutes) * 10 / i64::from(a.minutes_per_hour.max(1))),
                cached: c.cached,
                selected: ctl.picked_course.as_deref() == Some(c.course.id.as_str()),
            })
            .collect();
        v.query = ctl.library_query.clone();
    }

    if v.page == Some(Page::Survey) {
        v.topics = a
            .survey_topics
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), ctl.survey_chosen.get(i).copied().unwrap_or(false)))
            .collect();
    }

    if v.page == Some(Page::Technician) {
        v.info = a.device.iter().map(|d| (d.label.clone(), d.value.clone(), d.ok)).collect();
        v.info.extend(hub_rows(a, lang));
    }

    if let Some(w) = &ctl.wizard {
        v.wizard_step = w.step;
        v.wizard_field = w.active;
        v.wizard_error = w.error.clone();
        v.wizard_fields = w.views().into_iter().map(|f| (f.key.to_string(), f.value, f.ok)).collect();
        if w.step == super::wizard::STEP_BOARD {
            v.wizard_boards = a.boards.iter().map(|b| (b.reader.to_string(), b.name.clone(), b.value == w.form.board)).collect();
        }
    }
    v
}

/// The technician panel's hub lines: the last acknowledged sync, and the
/// answer to "sync now" once it was pressed.
fn hub_rows(a: &Ambient, lang: Lang) -> Vec<(String, String, bool)> {
    let zh = lang == Lang::Zh;
    let t = |zh_text: &str, en_text: &str| if zh { zh_text.to_string() } else { en_text.to_string() };
    let off = a.utc_offset_s;
    let when = |ms| {
        if crate::store::schedule::local_day(ms, off) == crate::store::schedule::local_day(a.now_ms, off) {
            fmt_time(ms, off)
        } else {
            format!("{} {}", fmt_date(ms, off, lang), fmt_time(ms, off))
        }
    };
    let mut rows = vec![(
        t("上次同步", "Last sync"),
        a.last_sync_ms.map_or_else(|| t("尚未同步", "not yet"), when),
        a.last_sync_ms.is_some(),
    )];
    let sync = match &a.sync {
        SyncState::None => None,
        SyncState::Requested => Some((t("正在同步…", "Syncing…"), true)),
        SyncState::Done { at_ms } => Some((if zh { format!("已完成 {}", when(*at_ms)) } else { format!("Done at {}", when(*at_ms)) }, true)),
        SyncState::Failed(why) => Some((if zh { format!("失败：{why}") } else { format!("Failed: {why}") }, false)),
        SyncState::NoHub => Some((t("未配置督导平台，无法同步（[hub] url）", "No hub configured ([hub] url)"), false)),
    };
    if let Some((value, ok)) = sync {
        rows.push((t("立即同步", "Sync now"), value, ok));
    }
    rows
}
