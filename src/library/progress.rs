//! Progress of cache work (download, import, export, re-hash) as plain numbers:
//! a callback for the CLI's progress bar and a shared snapshot the uplink's
//! telemetry and the UI read. Never blocks the worker that reports.

use serde::Serialize;
use std::sync::{Arc, Mutex};

/// One report from a worker. Cheap to copy; sent often (every ~256 KiB).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Progress {
    /// What is being done: `download`, `import`, `export`, `verify`.
    pub activity: &'static str,
    pub course_id: String,
    pub sha256: String,
    /// Bytes of the current file done (including bytes resumed from an earlier run).
    pub file_done: u64,
    pub file_size: u64,
    /// Files finished in this run and files the run will handle.
    pub files_done: usize,
    pub files_total: usize,
    /// Bytes finished over all files of the run, and the run's total.
    pub bytes_done: u64,
    pub bytes_total: u64,
}

impl Progress {
    /// Percent of the whole run, 0-100.
    pub fn percent(&self) -> u8 {
        if self.bytes_total == 0 {
            return if self.files_total == 0 || self.files_done >= self.files_total { 100 } else { 0 };
        }
        ((self.bytes_done.min(self.bytes_total) * 100) / self.bytes_total) as u8
    }
}

/// Receives progress reports. Implemented for closures.
pub trait ProgressSink {
    fn report(&mut self, p: &Progress);
}

impl<F: FnMut(&Progress)> ProgressSink for F {
    fn report(&mut self, p: &Progress) {
        self(p)
    }
}

/// A sink that ignores reports.
pub struct NoProgress;
impl ProgressSink for NoProgress {
    fn report(&mut self, _: &Progress) {}
}

/// The latest report, shared with readers on other threads (telemetry, UI).
#[derive(Clone, Default)]
pub struct SharedProgress(Arc<Mutex<Option<Progress>>>);

impl SharedProgress {
    pub fn new() -> Self {
        Self::default()
    }
    /// The latest report, or `None` when nothing has run yet.
    pub fn snapshot(&self) -> Option<Progress> {
        self.0.lock().map(|g| g.clone()).unwrap_or_else(|e| e.into_inner().clone())
    }
}

impl ProgressSink for SharedProgress {
    fn report(&mut self, p: &Progress) {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *g = Some(p.clone());
    }
}

/// Reports to two sinks (e.g. the CLI bar and the shared snapshot).
pub struct Both<'a, A: ProgressSink, B: ProgressSink>(pub &'a mut A, pub &'a mut B);
impl<A: ProgressSink, B: ProgressSink> ProgressSink for Both<'_, A, B> {
    fn report(&mut self, p: &Progress) {
        self.0.report(p);
        self.1.report(p);
    }
}

/// Renders a one-line progress bar (for stderr), e.g.
/// `[#########-----------]  45%  2/5 files  120.0/260.0 MB  c-2026-03`.
pub fn bar_line(p: &Progress) -> String {
    let pct = p.percent() as usize;
    let filled = pct / 5;
    format!(
        "{:<8} [{}{}] {:>3}%  {}/{} files  {:.1}/{:.1} MB  {}",
        p.activity,
        "#".repeat(filled),
        "-".repeat(20 - filled),
        pct,
        p.files_done,
        p.files_total,
        p.bytes_done as f64 / 1e6,
        p.bytes_total as f64 / 1e6,
        p.course_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_covers_the_whole_run_and_an_empty_run_is_complete() {
        let p = Progress { bytes_done: 50, bytes_total: 200, ..Default::default() };
        assert_eq!(p.percent(), 25);
        assert_eq!(Progress::default().percent(), 100);
        assert!(bar_line(&p).contains("[#####---------------]  25%"));
    }

    #[test]
    fn the_shared_snapshot_holds_the_latest_report() {
        let shared = SharedProgress::new();
        let mut writer = shared.clone();
        assert_eq!(shared.snapshot(), None);
        writer.report(&Progress { files_done: 1, ..Default::default() });
        writer.report(&Progress { files_done: 2, ..Default::default() });
        assert_eq!(shared.snapshot().unwrap().files_done, 2);
    }
}
