//! `microclass doctor`: health checks of one device, each a function over an
//! injectable `DoctorEnv` (paths, resolver, clock, disk) so tests can stage
//! every failure. Owns the verdict model, the order of the checks and the two
//! renderings (human lines, JSON for the hub). Checks only look: they never
//! repair, write to the store, or touch a device beyond opening it.

pub mod devices;
pub mod env;
pub mod hub;
pub mod reader;
pub mod system;

pub use env::{DiskSpace, DoctorEnv, ReaderTarget, Resolver, StatvfsDisk, SystemResolver};
use serde::Serialize;

/// The verdict of one check line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Not applicable here or not reachable because an earlier step failed.
    Skip,
    Ok,
    Warn,
    Fail,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Skip => "SKIP",
            Verdict::Ok => "OK",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable id for the hub, e.g. `spi`, `hub.tls`.
    pub id: String,
    pub verdict: Verdict,
    /// What was found.
    pub detail: String,
    /// What to do about it (for WARN and FAIL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Check {
    pub fn new(id: &str, verdict: Verdict, detail: impl Into<String>) -> Self {
        Check { id: id.to_string(), verdict, detail: detail.into(), hint: None }
    }
    pub fn ok(id: &str, detail: impl Into<String>) -> Self {
        Self::new(id, Verdict::Ok, detail)
    }
    pub fn skip(id: &str, detail: impl Into<String>) -> Self {
        Self::new(id, Verdict::Skip, detail)
    }
    pub fn warn(id: &str, detail: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(id, Verdict::Warn, detail).with_hint(hint)
    }
    pub fn fail(id: &str, detail: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(id, Verdict::Fail, detail).with_hint(hint)
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Every check of one run, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub verdict: Verdict,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(checks: Vec<Check>) -> Self {
        let verdict = checks.iter().map(|c| c.verdict).max().unwrap_or(Verdict::Ok).max(Verdict::Ok);
        Report { verdict, checks }
    }

    pub fn get(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// 0 when nothing failed (warnings allowed), 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.verdict == Verdict::Fail)
    }

    /// One line per check, hints indented below, and a closing verdict.
    pub fn to_human(&self) -> String {
        let width = self.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
        let mut out = String::new();
        for c in &self.checks {
            out.push_str(&format!("{:<4}  {:<width$}  {}\n", c.verdict.label(), c.id, c.detail));
            if let Some(h) = &c.hint {
                out.push_str(&format!("{:<4}  {:<width$}  -> {}\n", "", "", h));
            }
        }
        let count = |v| self.checks.iter().filter(|c| c.verdict == v).count();
        out.push_str(&format!(
            "verdict: {} ({} ok, {} warn, {} fail, {} skipped)\n",
            self.verdict.label(),
            count(Verdict::Ok),
            count(Verdict::Warn),
            count(Verdict::Fail),
            count(Verdict::Skip)
        ));
        out
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

/// Runs every check in order: hardware, display, storage, clock, hub.
pub fn run_all(env: &DoctorEnv) -> Report {
    let mut checks = vec![
        devices::check_spi(env),
        devices::check_gpio(env),
        devices::check_reader(env),
        devices::check_display(env),
        system::check_disk(env),
        system::check_clock(env),
        system::check_database(env),
        system::check_cache(env),
    ];
    checks.extend(hub::check_hub(env));
    Report::new(checks)
}

#[cfg(test)]
mod tests;
