//! One module per screen's view global (the `*View` globals next to the
//! screens in ui/screens/*.slint, and `Common` in ui/api.slint). Each module
//! owns that view's state as plain Rust values, builds it from the
//! controller and the ambient state (pure: tested without a UI), and copies
//! it into its global, setting only the properties that changed so an
//! unchanged list does not rebuild its items. A new field on a screen is an
//! edit of its module and its .slint file, nothing else. Never does I/O;
//! `apply` runs on the UI thread.

pub mod common;
pub mod enrol;
pub mod error;
pub mod idle;
pub mod library;
pub mod member;
pub mod pin;
pub mod player;
pub mod rating;
pub mod survey;
pub mod technician;
pub mod trainer;
pub mod wizard;

use super::ambient::{Ambient, Playback};
use super::controller::{Page, UiController};
use super::generated as g;
use super::lang::Lang;
use crate::core::Screen;
use slint::{ModelRc, SharedString, VecModel};

/// What every view is built from.
pub struct Inputs<'a> {
    pub ctl: &'a UiController,
    pub ambient: &'a Ambient,
    pub playback: &'a Playback,
    pub lang: Lang,
    pub page: Page,
    /// The core's screen under any UI-only page.
    pub screen: &'a Screen,
}

impl<'a> Inputs<'a> {
    pub fn new(ctl: &'a UiController, ambient: &'a Ambient, playback: &'a Playback) -> Self {
        Inputs { ctl, ambient, playback, lang: ctl.lang(), page: ctl.page(), screen: ctl.core_screen() }
    }
}

/// A person in a list (attendees, enrolment candidates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: String,
    pub text: String,
    pub detail: String,
}

/// Whether `v.field` differs from what the screen shows (or nothing was shown yet).
macro_rules! changed {
    ($prev:ident, $v:ident . $field:ident) => {
        $prev.is_none_or(|p| p.$field != $v.$field)
    };
}
pub(crate) use changed;

pub(crate) fn ss(s: &str) -> SharedString {
    SharedString::from(s)
}

pub(crate) fn model<T: Clone + 'static>(v: Vec<T>) -> ModelRc<T> {
    ModelRc::new(VecModel::from(v))
}

pub(crate) fn strings(v: &[String]) -> ModelRc<SharedString> {
    model(v.iter().map(|s| ss(s)).collect())
}

pub(crate) fn people(v: &[Row]) -> ModelRc<g::PersonRow> {
    model(v.iter().map(|r| g::PersonRow { id: ss(&r.id), name: ss(&r.text), detail: ss(&r.detail) }).collect())
}

/// Label, value, ok: the technician's and the wizard's lines.
pub(crate) fn infos(v: &[(String, String, bool)]) -> ModelRc<g::InfoRow> {
    model(v.iter().map(|(l, val, ok)| g::InfoRow { label: ss(l), value: ss(val), ok: *ok }).collect())
}
