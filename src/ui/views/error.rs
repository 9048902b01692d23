//! The `ErrorView` global: which fault the error screen explains. Never
//! clears a fault: the core decides when the screen goes.

use super::{changed, g, Inputs};
use crate::core::{ErrorKind, Screen};
use slint::Global;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ErrorState {
    pub fault: Option<ErrorKind>,
}

pub fn build(i: &Inputs<'_>) -> ErrorState {
    match i.screen {
        Screen::Error(kind) => ErrorState { fault: Some(*kind) },
        _ => ErrorState::default(),
    }
}

pub(crate) fn apply(w: &g::KioskWindow, prev: Option<&ErrorState>, v: &ErrorState) {
    if changed!(prev, v.fault) {
        g::ErrorView::get(w).set_fault(match v.fault {
            Some(ErrorKind::DiskFull) => g::Fault::DiskFull,
            Some(ErrorKind::ReadOnly) => g::Fault::ReadOnly,
            Some(ErrorKind::ReaderFault) => g::Fault::ReaderFault,
            Some(ErrorKind::RandomUid) => g::Fault::RandomUid,
            Some(ErrorKind::TwoCards) => g::Fault::TwoCards,
            Some(ErrorKind::Database) | None => g::Fault::Database,
        });
    }
}
