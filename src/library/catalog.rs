//! The hub's catalogue document (courses with their files, and optionally the
//! centres' schedules): parsing from JSON or TOML, validation with readable
//! errors, and the atomic replacement of the `courses` and `schedule` tables.
//! Never downloads anything and never touches `cache_files`.

use crate::model::{Course, CourseFile, Millis};
use chrono::{DateTime, FixedOffset};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;

/// The catalogue as the hub publishes it (and as a USB stick carries it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Increases with every change; an older document never replaces a newer one.
    pub version: u64,
    #[serde(default)]
    pub courses: Vec<Course>,
    /// Absent: the document says nothing about schedules (they stay as they are).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Vec<PlannedClass>>,
}

/// One planned class meeting: which courses a centre needs, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedClass {
    pub id: String,
    /// The centre this entry is for; empty means every centre.
    #[serde(default)]
    pub centre: String,
    #[serde(default)]
    pub title: String,
    /// RFC 3339 with offset, e.g. `2026-03-02T09:00:00+08:00`.
    pub starts: DateTime<FixedOffset>,
    pub ends: DateTime<FixedOffset>,
    #[serde(default)]
    pub trainer_id: Option<String>,
    #[serde(default)]
    pub courses: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read catalogue file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("catalogue is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("catalogue is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("catalogue version {version} has {} problem(s):\n  - {}", .problems.len(), .problems.join("\n  - "))]
    Invalid { version: u64, problems: Vec<String> },
    #[error("catalogue version {offered} is older than the one in use ({current}); ignored")]
    Stale { offered: u64, current: u64 },
    #[error("catalogue database error: {0}")]
    Db(#[from] rusqlite::Error),
}

/// What a replacement changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub version: u64,
    pub courses: usize,
    /// Schedule entries kept for this centre; `None` when the document had no schedule.
    pub schedule_entries: Option<usize>,
}

const META_VERSION: &str = "catalog_version";

impl Catalog {
    /// Parses and validates a catalogue; JSON if it starts with `{`, TOML otherwise.
    pub fn parse(text: &str) -> Result<Catalog, CatalogError> {
        let mut cat: Catalog = if text.trim_start().starts_with('{') {
            serde_json::from_str(text)?
        } else {
            toml::from_str(text)?
        };
        cat.normalise();
        cat.validate()?;
        Ok(cat)
    }

    pub fn load(path: &Path) -> Result<Catalog, CatalogError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| CatalogError::Read { path: path.display().to_string(), source })?;
        Catalog::parse(&text)
    }

    pub fn to_json(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    fn normalise(&mut self) {
        for c in &mut self.courses {
            for f in &mut c.files {
                f.sha256 = f.sha256.trim().to_ascii_lowercase();
            }
        }
    }

    /// Every problem in the document, not just the first, so the hub can fix them at once.
    pub fn validate(&self) -> Result<(), CatalogError> {
        let mut p = Vec::new();
        if self.version == 0 {
            p.push("version must be 1 or more".to_string());
        }
        let mut ids = HashSet::new();
        for (i, c) in self.courses.iter().enumerate() {
            let at = format!("courses[{i}] ({})", c.id);
            if c.id.trim().is_empty() {
                p.push(format!("courses[{i}]: id is empty"));
            } else if !ids.insert(c.id.as_str()) {
                p.push(format!("{at}: id is used twice"));
            }
            if c.title.trim().is_empty() {
                p.push(format!("{at}: title is empty"));
            }
            if c.duration_s == 0 {
                p.push(format!("{at}: duration_s must be more than 0"));
            }
            if c.credit_minutes > 24 * 60 {
                p.push(format!("{at}: credit_minutes {} is more than a day", c.credit_minutes));
            }
            for (j, f) in c.files.iter().enumerate() {
                check_file(&format!("{at}: files[{j}]"), f, &mut p);
            }
        }
        if let Some(schedule) = &self.schedule {
            let mut sids = HashSet::new();
            for (i, s) in schedule.iter().enumerate() {
                let at = format!("schedule[{i}] ({})", s.id);
                if s.id.trim().is_empty() {
                    p.push(format!("schedule[{i}]: id is empty"));
                } else if !sids.insert(s.id.as_str()) {
                    p.push(format!("{at}: id is used twice"));
                }
                if s.ends <= s.starts {
                    p.push(format!("{at}: ends ({}) is not after starts ({})", s.ends, s.starts));
                }
                for cid in &s.courses {
                    if !ids.contains(cid.as_str()) {
                        p.push(format!("{at}: course {cid:?} is not in the catalogue"));
                    }
                }
            }
        }
        if p.is_empty() {
            Ok(())
        } else {
            Err(CatalogError::Invalid { version: self.version, problems: p })
        }
    }

    /// The course a file (by SHA-256) belongs to, first match in catalogue order.
    pub fn course_of(&self, sha256: &str) -> Option<&Course> {
        self.courses.iter().find(|c| c.files.iter().any(|f| f.sha256 == sha256))
    }
}

fn check_file(at: &str, f: &CourseFile, p: &mut Vec<String>) {
    if f.sha256.len() != 64 || !f.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        p.push(format!("{at}: sha256 {:?} is not 64 hex digits", f.sha256));
    }
    if f.size == 0 {
        p.push(format!("{at}: size must be more than 0"));
    }
    if let Err(e) = crate::library::http::Url::parse(&f.url) {
        p.push(format!("{at}: url {:?}: {e}", f.url));
    }
}

impl PlannedClass {
    pub fn starts_ms(&self) -> Millis {
        self.starts.timestamp_millis()
    }
    pub fn ends_ms(&self) -> Millis {
        self.ends.timestamp_millis()
    }
    fn is_for(&self, centre: Option<&str>) -> bool {
        match centre {
            None => true,
            Some(c) => self.centre.is_empty() || self.centre == c,
        }
    }
}

/// The catalogue version in use, if any was ever applied.
pub fn current_version(conn: &Connection) -> Result<Option<u64>, CatalogError> {
    let v: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [META_VERSION], |r| r.get(0))
        .optional()?;
    Ok(v.and_then(|v| v.parse().ok()))
}

/// Replaces the `courses` table (and the `schedule` table, when the document has a
/// schedule, keeping entries for `centre`) in one transaction. An older version is
/// refused; the same version is applied again (harmless, the hub re-sends retained
/// documents). Must not be called inside another transaction on `conn`.
pub fn replace(conn: &Connection, cat: &Catalog, centre: Option<&str>) -> Result<Applied, CatalogError> {
    cat.validate()?;
    let tx = conn.unchecked_transaction()?;
    if let Some(current) = current_version(&tx)? {
        if cat.version < current {
            return Err(CatalogError::Stale { offered: cat.version, current });
        }
    }
    tx.execute("DELETE FROM courses", [])?;
    {
        let mut ins = tx.prepare_cached(
            "INSERT INTO courses (id, title, title_en, category, required, duration_s, credit_minutes, poster, files)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for c in &cat.courses {
            let files = serde_json::to_string(&c.files)?;
            ins.execute(params![c.id, c.title, c.title_en, c.category, c.required, c.duration_s, c.credit_minutes, c.poster, files])?;
        }
    }
    let mut schedule_entries = None;
    if let Some(schedule) = &cat.schedule {
        tx.execute("DELETE FROM schedule", [])?;
        let mut ins = tx.prepare_cached(
            "INSERT INTO schedule (id, title, starts_ms, ends_ms, trainer_id, courses) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut n = 0;
        for s in schedule.iter().filter(|s| s.is_for(centre)) {
            let courses = serde_json::to_string(&s.courses)?;
            ins.execute(params![s.id, s.title, s.starts_ms(), s.ends_ms(), s.trainer_id, courses])?;
            n += 1;
        }
        schedule_entries = Some(n);
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![META_VERSION, cat.version.to_string()],
    )?;
    tx.commit()?;
    Ok(Applied { version: cat.version, courses: cat.courses.len(), schedule_entries })
}

/// The catalogue in use, rebuilt from the tables (without schedules).
pub fn load_from_db(conn: &Connection) -> Result<Catalog, CatalogError> {
    let version = current_version(conn)?.unwrap_or(0);
    let sql = format!("SELECT {} FROM courses ORDER BY rowid", crate::store::roster::COURSE_COLUMNS);
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([], crate::store::roster::course_from_row)?;
    let mut courses = Vec::new();
    for row in rows {
        let (mut c, files) = row?;
        c.files = serde_json::from_str(&files)?;
        courses.push(c);
    }
    Ok(Catalog { version, courses, schedule: None })
}

/// Ids of courses that must stay cached at `now_ms`: required ones, and those
/// scheduled to run between now and `protect_days` ahead (or running now).
pub fn protected_courses(conn: &Connection, now_ms: Millis, protect_days: u32) -> Result<HashSet<String>, CatalogError> {
    let mut out = HashSet::new();
    let mut stmt = conn.prepare_cached("SELECT id FROM courses WHERE required = 1")?;
    for id in stmt.query_map([], |r| r.get::<_, String>(0))? {
        out.insert(id?);
    }
    let horizon = now_ms + i64::from(protect_days) * 86_400_000;
    let mut stmt = conn.prepare_cached("SELECT courses FROM schedule WHERE ends_ms > ?1 AND starts_ms < ?2")?;
    for courses in stmt.query_map(params![now_ms, horizon], |r| r.get::<_, String>(0))? {
        let ids: Vec<String> = serde_json::from_str(&courses?)?;
        out.extend(ids);
    }
    Ok(out)
}

/// The first scheduled start (from `now_ms` on) of each course, for download order.
pub fn next_scheduled(conn: &Connection, now_ms: Millis) -> Result<std::collections::HashMap<String, Millis>, CatalogError> {
    let mut out = std::collections::HashMap::new();
    let mut stmt = conn.prepare_cached("SELECT starts_ms, courses FROM schedule WHERE ends_ms > ?1 ORDER BY starts_ms")?;
    for row in stmt.query_map([now_ms], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
        let (starts, courses) = row?;
        for id in serde_json::from_str::<Vec<String>>(&courses)? {
            out.entry(id).or_insert(starts);
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "catalog_tests.rs"]
mod tests;
