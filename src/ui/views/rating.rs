//! The `RatingView` global: who rates which session (the prompt) and the
//! stars given (the thank-you). Never records a rating: `Actions.rate` does.

use super::{changed, g, ss, Inputs};
use crate::core::Screen;
use slint::Global;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RatingState {
    pub member: String,
    pub session: String,
    pub stars: u8,
}

pub fn build(i: &Inputs<'_>) -> RatingState {
    match i.screen {
        Screen::RatingPrompt { member_name, session_title } => RatingState { member: member_name.clone(), session: session_title.clone(), stars: 0 },
        Screen::RatingThanks { member_name, stars } => RatingState { member: member_name.clone(), session: String::new(), stars: *stars },
        _ => RatingState::default(),
    }
}

pub(crate) fn apply(w: &g::KioskWindow, prev: Option<&RatingState>, v: &RatingState) {
    let r = g::RatingView::get(w);
    if changed!(prev, v.member) {
        r.set_member(ss(&v.member));
    }
    if changed!(prev, v.session) {
        r.set_session(ss(&v.session));
    }
    if changed!(prev, v.stars) {
        r.set_stars(i32::from(v.stars));
    }
}
