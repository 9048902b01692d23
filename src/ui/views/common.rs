//! The `Common` global: the page shown, the language and the header bar
//! (centre, date, clock, hub link, backlog), which every screen may read.
//! Never holds a screen's own state.

use super::{changed, g, ss, Inputs};
use crate::ui::ambient::LinkState;
use crate::ui::controller::Page;
use crate::ui::lang::{fmt_date, fmt_time};
use slint::Global;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct CommonState {
    pub page: Option<Page>,
    pub language: &'static str,
    pub centre: String,
    pub date: String,
    pub time: String,
    pub link: LinkState,
    pub backlog: u64,
}

pub fn build(i: &Inputs<'_>) -> CommonState {
    let a = i.ambient;
    CommonState {
        page: Some(i.page),
        language: i.lang.code(),
        centre: a.centre.clone(),
        date: fmt_date(a.now_ms, a.utc_offset_s, i.lang),
        time: fmt_time(a.now_ms, a.utc_offset_s),
        link: a.link,
        backlog: a.backlog,
    }
}

pub(crate) fn apply(w: &g::KioskWindow, prev: Option<&CommonState>, v: &CommonState) {
    let c = g::Common::get(w);
    if changed!(prev, v.page) {
        c.set_page(page(v.page.unwrap_or(Page::Idle)));
    }
    if changed!(prev, v.language) {
        c.set_language(ss(v.language));
    }
    if changed!(prev, v.centre) {
        c.set_centre(ss(&v.centre));
    }
    if changed!(prev, v.date) {
        c.set_date(ss(&v.date));
    }
    if changed!(prev, v.time) {
        c.set_time(ss(&v.time));
    }
    if changed!(prev, v.link) {
        c.set_link(match v.link {
            LinkState::Online => g::Link::Online,
            LinkState::Connecting => g::Link::Connecting,
            LinkState::Offline => g::Link::Offline,
        });
    }
    if changed!(prev, v.backlog) {
        c.set_backlog(i32::try_from(v.backlog).unwrap_or(i32::MAX));
    }
}

fn page(p: Page) -> g::Page {
    match p {
        Page::Idle => g::Page::Idle,
        Page::Member => g::Page::Member,
        Page::UnknownCard => g::Page::UnknownCard,
        Page::Trainer => g::Page::Trainer,
        Page::Technician => g::Page::Technician,
        Page::Enrol => g::Page::Enrol,
        Page::RatingPrompt => g::Page::RatingPrompt,
        Page::RatingThanks => g::Page::RatingThanks,
        Page::Survey => g::Page::Survey,
        Page::SurveyThanks => g::Page::SurveyThanks,
        Page::Player => g::Page::Player,
        Page::Library => g::Page::Library,
        Page::Pin => g::Page::Pin,
        Page::Provision => g::Page::Provision,
        Page::Error => g::Page::Error,
    }
}
