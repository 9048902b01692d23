//! The `TechnicianView` global: the technician's name, the device panel's
//! lines (device facts, last sync, the answer to "sync now") and the reader
//! test's state. Never runs a test or a sync: the bridge does.

use super::{changed, g, infos, ss, Inputs};
use crate::core::Screen;
use crate::ui::ambient::{Ambient, SyncState};
use crate::ui::controller::{Page, ReaderTestState};
use crate::ui::lang::{fmt_date, fmt_time, Lang};
use slint::Global;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct TechnicianState {
    pub name: String,
    /// Label, value, ok.
    pub info: Vec<(String, String, bool)>,
    pub reader_test: ReaderTestState,
}

pub fn build(i: &Inputs<'_>) -> TechnicianState {
    let mut v = TechnicianState { reader_test: i.ctl.reader_test.clone(), ..Default::default() };
    if let Screen::Technician { name } = i.screen {
        v.name = name.clone();
    }
    if i.page == Page::Technician {
        v.info = i.ambient.device.iter().map(|d| (d.label.clone(), d.value.clone(), d.ok)).collect();
        v.info.extend(hub_rows(i.ambient, i.lang));
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

pub(crate) fn apply(w: &g::KioskWindow, prev: Option<&TechnicianState>, v: &TechnicianState) {
    let t = g::TechnicianView::get(w);
    if changed!(prev, v.name) {
        t.set_name(ss(&v.name));
    }
    if changed!(prev, v.info) {
        t.set_info(infos(&v.info));
    }
    if changed!(prev, v.reader_test) {
        let (state, detail) = match &v.reader_test {
            ReaderTestState::Idle => (g::ReaderTest::Idle, ""),
            ReaderTestState::Waiting => (g::ReaderTest::Waiting, ""),
            ReaderTestState::Ok(d) => (g::ReaderTest::Ok, d.as_str()),
            ReaderTestState::Failed(d) => (g::ReaderTest::Failed, d.as_str()),
        };
        t.set_reader_test(state);
        t.set_reader_test_detail(ss(detail));
    }
}
