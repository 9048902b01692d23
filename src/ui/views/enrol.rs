//! The `EnrolView` global: the new card's UID, the name or number typed so
//! far, and the few roster members that match it. Never enrols: the core
//! does, on `Actions.enrol-member`.

use super::{changed, g, people, ss, Inputs, Row};
use crate::core::Screen;
use slint::Global;

/// Candidates shown for enrolment at most (the roster can hold thousands).
const MAX_CANDIDATES: usize = 5;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct EnrolState {
    pub card_uid: String,
    pub query: String,
    pub candidates: Vec<Row>,
}

pub fn build(i: &Inputs<'_>) -> EnrolState {
    let mut v = EnrolState { query: i.ctl.enrol_query.clone(), ..Default::default() };
    if let Screen::Enrol { uid } = i.screen {
        v.card_uid = uid.as_ref().map(|u| u.to_string()).unwrap_or_default();
        let q = i.ctl.enrol_query.trim().to_lowercase();
        v.candidates = i
            .ambient
            .roster
            .iter()
            .filter(|m| q.is_empty() || m.name.to_lowercase().contains(&q) || m.id.to_lowercase().contains(&q))
            .take(MAX_CANDIDATES)
            .map(|m| Row { id: m.id.clone(), text: m.name.clone(), detail: format!("{} · {}", m.id, m.branch) })
            .collect();
    }
    v
}

pub(crate) fn apply(w: &g::KioskWindow, prev: Option<&EnrolState>, v: &EnrolState) {
    let e = g::EnrolView::get(w);
    if changed!(prev, v.card_uid) {
        e.set_card_uid(ss(&v.card_uid));
    }
    if changed!(prev, v.query) {
        e.set_query(ss(&v.query));
    }
    if changed!(prev, v.candidates) {
        e.set_candidates(people(&v.candidates));
    }
}
