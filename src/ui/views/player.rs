//! The `PlayerView` global: the playing course's title, position, length
//! and pause state. The frame itself is set straight from the player thread
//! (`KioskUi::set_video_frame`), not through this state. Never touches the player.

use super::{changed, g, ss, Inputs};
use crate::core::Screen;
use crate::ui::lang::fmt_clock;
use slint::Global;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlayerState {
    pub title: String,
    pub position: String,
    pub duration: String,
    pub progress: f32,
    pub paused: bool,
}

pub fn build(i: &Inputs<'_>) -> PlayerState {
    let Screen::Player { course_id, title } = i.screen else { return PlayerState::default() };
    let p = i.playback;
    PlayerState {
        title: if title.is_empty() { course_id.clone() } else { title.clone() },
        position: fmt_clock(p.position_s),
        duration: fmt_clock(p.duration_s),
        progress: if p.duration_s == 0 { 0.0 } else { (p.position_s as f32 / p.duration_s as f32).clamp(0.0, 1.0) },
        paused: p.paused,
    }
}

pub(crate) fn apply(w: &g::KioskWindow, prev: Option<&PlayerState>, v: &PlayerState) {
    let p = g::PlayerView::get(w);
    if changed!(prev, v.title) {
        p.set_title(ss(&v.title));
    }
    if changed!(prev, v.position) {
        p.set_position(ss(&v.position));
    }
    if changed!(prev, v.duration) {
        p.set_duration(ss(&v.duration));
    }
    if changed!(prev, v.progress) {
        p.set_progress(v.progress);
    }
    if changed!(prev, v.paused) {
        p.set_paused(v.paused);
    }
}
