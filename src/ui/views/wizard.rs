//! The `WizardView` global: the first-boot wizard's step, its fields (key,
//! value, valid), the active field, the last complaint and, on the board
//! step, the boards to choose from. Validation is `ui::wizard`'s; never
//! writes the config.

use super::{changed, g, infos, model, ss, Inputs};
use slint::Global;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct WizardState {
    pub step: usize,
    /// Field key, value, ok.
    pub fields: Vec<(String, String, bool)>,
    pub field: usize,
    pub error: String,
    /// The board step's choices: reader kind, board name, chosen.
    pub boards: Vec<(String, String, bool)>,
}

pub fn build(i: &Inputs<'_>) -> WizardState {
    let Some(w) = &i.ctl.wizard else { return WizardState::default() };
    WizardState {
        step: w.step,
        field: w.active,
        error: w.error.clone(),
        fields: w.views().into_iter().map(|f| (f.key.to_string(), f.value, f.ok)).collect(),
        boards: if w.step == crate::ui::wizard::STEP_BOARD {
            i.ambient.boards.iter().map(|b| (b.reader.to_string(), b.name.clone(), b.value == w.form.board)).collect()
        } else {
            Vec::new()
        },
    }
}

pub(crate) fn apply(w: &g::KioskWindow, prev: Option<&WizardState>, v: &WizardState) {
    let z = g::WizardView::get(w);
    if changed!(prev, v.step) {
        z.set_step(v.step as i32);
    }
    if changed!(prev, v.fields) {
        z.set_fields(infos(&v.fields));
    }
    if changed!(prev, v.field) {
        z.set_field(v.field as i32);
    }
    if changed!(prev, v.error) {
        z.set_error(ss(&v.error));
    }
    if changed!(prev, v.boards) {
        z.set_boards(model(v.boards.iter().map(|(reader, name, chosen)| g::BoardRow { reader: ss(reader), name: ss(name), chosen: *chosen }).collect()));
    }
}
