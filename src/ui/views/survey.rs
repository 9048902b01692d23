//! The `SurveyView` global: the needs survey's topics and which are chosen.
//! Never submits: `Actions.submit-survey` does.

use super::{changed, g, model, ss, Inputs};
use crate::ui::controller::Page;
use slint::Global;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SurveyState {
    /// Topic, chosen.
    pub topics: Vec<(String, bool)>,
}

pub fn build(i: &Inputs<'_>) -> SurveyState {
    if i.page != Page::Survey {
        return SurveyState::default();
    }
    let chosen = &i.ctl.survey_chosen;
    SurveyState { topics: i.ambient.survey_topics.iter().enumerate().map(|(n, t)| (t.clone(), chosen.get(n).copied().unwrap_or(false))).collect() }
}

pub(crate) fn apply(w: &g::KioskWindow, prev: Option<&SurveyState>, v: &SurveyState) {
    if changed!(prev, v.topics) {
        g::SurveyView::get(w).set_topics(model(v.topics.iter().map(|(l, c)| g::TopicRow { label: ss(l), chosen: *c }).collect()));
    }
}
