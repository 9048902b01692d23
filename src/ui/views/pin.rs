//! The `PinView` global: how many PIN digits are typed (never the digits)
//! and whether the last PIN was wrong. Never checks a PIN: the bridge does.

use super::{changed, g, Inputs};
use slint::Global;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PinState {
    pub length: usize,
    pub wrong: bool,
}

pub fn build(i: &Inputs<'_>) -> PinState {
    PinState { length: i.ctl.pin.len(), wrong: i.ctl.pin_wrong }
}

pub(crate) fn apply(w: &g::KioskWindow, prev: Option<&PinState>, v: &PinState) {
    let p = g::PinView::get(w);
    if changed!(prev, v.length) {
        p.set_length(v.length as i32);
    }
    if changed!(prev, v.wrong) {
        p.set_wrong(v.wrong);
    }
}
