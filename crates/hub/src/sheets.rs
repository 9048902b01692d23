//! The district office's spreadsheets (CSV, or TOML) turned into the
//! roster, catalogue and schedule documents of the protocol, with every
//! problem reported by line. It never signs or publishes.
//!
//! Column names are English or Chinese (see docs/hub.md); lists inside a
//! cell (cards, roles, courses) are separated by `;`, `；` or `、`.

use super::csv::{CsvError, Table};
use microclass_model::{CardUid, Course, CourseFile, Member, Role};
use microclass_protocol::documents::{CatalogDoc, RosterDoc, ScheduleDoc, ScheduleEntry};
use chrono::{NaiveDateTime, TimeZone};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// One problem in a sheet; line 0 means the header or the whole file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SheetError {
    #[error(transparent)]
    Csv(#[from] CsvError),
    #[error("TOML: {0}")]
    Toml(String),
    #[error("{} problem(s):\n{}", .0.len(), .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

/// Chinese column names accepted as aliases of the English ones.
const ALIASES: &[(&str, &str)] = &[
    ("编号", "id"), ("党员编号", "id"), ("姓名", "name"), ("支部", "branch"), ("所属中心", "home_centre"),
    ("角色", "roles"), ("卡号", "cards"), ("补训", "makeup"), ("课程名称", "title"), ("英文名称", "title_en"),
    ("类别", "category"), ("必修", "required"), ("时长分钟", "duration_min"), ("学时分钟", "credit_min"),
    ("视频地址", "url"), ("大小", "size"), ("中心", "centre"), ("开始", "start"), ("结束", "end"),
    ("讲师", "trainer"), ("课程", "courses"), ("名称", "title"),
];

fn table(text: &str) -> Result<Table, SheetError> {
    let mut t = Table::parse(text)?;
    for h in &mut t.header {
        if let Some((_, en)) = ALIASES.iter().find(|(zh, _)| zh == h) {
            *h = en.to_string();
        }
    }
    Ok(t)
}

fn need_columns(t: &Table, cols: &[&str]) -> Result<(), SheetError> {
    let missing: Vec<_> = cols.iter().filter(|c| t.col(c).is_none()).map(|c| Problem { line: 1, message: format!("missing column {c:?}") }).collect();
    if missing.is_empty() { Ok(()) } else { Err(SheetError::Invalid(missing)) }
}

fn list(cell: &str) -> Vec<String> {
    cell.split([';', '；', '、']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

fn role(s: &str) -> Option<Role> {
    Role::parse(s).or(match s {
        "党员" => Some(Role::Member),
        "讲师" => Some(Role::Trainer),
        "技术员" => Some(Role::Technician),
        _ => None,
    })
}

/// Reads a roster sheet (columns id, name, branch, home_centre, roles, cards, makeup).
pub fn roster_csv(text: &str) -> Result<RosterDoc, SheetError> {
    let t = table(text)?;
    need_columns(&t, &["id", "name"])?;
    let mut members = Vec::new();
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for row in &t.rows {
        let mut roles = Vec::new();
        for r in list(t.get(row, "roles")) {
            match role(&r) {
                Some(r) if !roles.contains(&r) => roles.push(r),
                Some(_) => {}
                None => problems.push(Problem { line: row.line, message: format!("unknown role {r:?} (member/trainer/technician or 党员/讲师/技术员)") }),
            }
        }
        if roles.is_empty() {
            roles.push(Role::Member);
        }
        let mut cards = Vec::new();
        for c in list(t.get(row, "cards")) {
            match CardUid::parse(&c) {
                Ok(u) => cards.push(u),
                Err(e) => problems.push(Problem { line: row.line, message: format!("bad card UID: {e}") }),
            }
        }
        members.push(Member {
            id: t.get(row, "id").to_string(),
            name: t.get(row, "name").to_string(),
            branch: t.get(row, "branch").to_string(),
            home_centre: t.get(row, "home_centre").to_string(),
            roles,
            cards,
            makeup: list(t.get(row, "makeup")),
        });
        lines.push(row.line);
    }
    problems.extend(check_roster(&members, &lines));
    finish(problems, RosterDoc { members })
}

/// The checks shared by CSV and TOML rosters; `lines[i]` is member i's line.
pub fn check_roster(members: &[Member], lines: &[usize]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut cards: HashMap<&CardUid, (usize, &str)> = HashMap::new();
    for (m, &line) in members.iter().zip(lines) {
        if m.id.is_empty() {
            problems.push(Problem { line, message: "empty member id".into() });
        } else if let Some(first) = ids.insert(&m.id, line) {
            problems.push(Problem { line, message: format!("duplicate member id {:?} (first on line {first})", m.id) });
        }
        if m.name.is_empty() {
            problems.push(Problem { line, message: format!("member {:?} has no name", m.id) });
        }
        for c in &m.cards {
            if let Some((first, owner)) = cards.insert(c, (line, &m.id)) {
                problems.push(Problem { line, message: format!("card {c} is already given to member {owner:?} on line {first}") });
            }
        }
    }
    problems
}

fn finish<T>(mut problems: Vec<Problem>, doc: T) -> Result<T, SheetError> {
    if problems.is_empty() {
        return Ok(doc);
    }
    problems.sort_by_key(|p| p.line);
    Err(SheetError::Invalid(problems))
}

fn yes_no(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "" | "0" | "no" | "n" | "false" | "否" | "选修" | "elective" => Some(false),
        "1" | "yes" | "y" | "true" | "是" | "必修" | "required" => Some(true),
        _ => None,
    }
}

/// Longest course a sheet may declare, in minutes (a whole day).
pub const MAX_COURSE_MINUTES: u32 = 24 * 60;

/// Reads a catalogue sheet (id, title, title_en, category, required,
/// duration_min, credit_min, url, size, sha256, poster).
pub fn catalog_csv(text: &str) -> Result<CatalogDoc, SheetError> {
    let t = table(text)?;
    need_columns(&t, &["id", "title", "duration_min"])?;
    let mut courses = Vec::new();
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for row in &t.rows {
        let line = row.line;
        let mut bad = |m: String| problems.push(Problem { line, message: m });
        let required = yes_no(t.get(row, "required")).unwrap_or_else(|| {
            bad(format!("required must be yes/no (是/否, 必修/选修), not {:?}", t.get(row, "required")));
            false
        });
        let dur = t.get(row, "duration_min");
        let duration_min = match dur.parse::<u32>() {
            Ok(d) if (1..=MAX_COURSE_MINUTES).contains(&d) => d,
            _ => {
                bad(format!("bad course duration {dur:?}: whole minutes from 1 to {MAX_COURSE_MINUTES}"));
                0
            }
        };
        let credit = t.get(row, "credit_min");
        let credit_minutes = if credit.is_empty() {
            duration_min
        } else {
            credit.parse::<u32>().ok().filter(|c| *c <= MAX_COURSE_MINUTES).unwrap_or_else(|| {
                bad(format!("bad credit {credit:?}: whole minutes from 0 to {MAX_COURSE_MINUTES}"));
                0
            })
        };
        let mut files = Vec::new();
        let url = t.get(row, "url");
        if !url.is_empty() {
            let size = t.get(row, "size").parse::<u64>().unwrap_or_else(|_| {
                bad(format!("bad size {:?}: bytes as a whole number", t.get(row, "size")));
                0
            });
            let sha = t.get(row, "sha256").to_ascii_lowercase();
            if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
                bad(format!("bad sha256 {sha:?}: 64 hex digits"));
            }
            files.push(CourseFile { url: url.to_string(), size, sha256: sha });
        }
        let poster = Some(t.get(row, "poster").to_string()).filter(|p| !p.is_empty());
        courses.push(Course {
            id: t.get(row, "id").to_string(),
            title: t.get(row, "title").to_string(),
            title_en: t.get(row, "title_en").to_string(),
            category: t.get(row, "category").to_string(),
            required,
            duration_s: duration_min * 60,
            credit_minutes,
            poster,
            files,
        });
        lines.push(line);
    }
    problems.extend(check_catalog(&courses, &lines));
    finish(problems, CatalogDoc { courses })
}

pub fn check_catalog(courses: &[Course], lines: &[usize]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (c, &line) in courses.iter().zip(lines) {
        if c.id.is_empty() {
            problems.push(Problem { line, message: "empty course id".into() });
        } else if let Some(first) = ids.insert(&c.id, line) {
            problems.push(Problem { line, message: format!("duplicate course id {:?} (first on line {first})", c.id) });
        }
        if c.title.is_empty() {
            problems.push(Problem { line, message: format!("course {:?} has no title", c.id) });
        }
    }
    problems
}

fn local_ms(s: &str, utc_offset_minutes: i32) -> Option<i64> {
    let s = s.trim();
    let dt = ["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M:%S"].iter().find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())?;
    let tz = chrono::FixedOffset::east_opt(utc_offset_minutes * 60)?;
    tz.from_local_datetime(&dt).single().map(|t| t.timestamp_millis())
}

/// Reads a schedule sheet (centre, id, title, start, end, trainer, courses)
/// into one document per centre. Times are local (`YYYY-MM-DD HH:MM`).
pub fn schedule_csv(text: &str, utc_offset_minutes: i32) -> Result<BTreeMap<String, ScheduleDoc>, SheetError> {
    let t = table(text)?;
    need_columns(&t, &["centre", "id", "start", "end"])?;
    let mut rows = Vec::new();
    for row in &t.rows {
        rows.push(SheetEntry {
            line: row.line,
            centre: t.get(row, "centre").to_string(),
            id: t.get(row, "id").to_string(),
            title: t.get(row, "title").to_string(),
            start: t.get(row, "start").to_string(),
            end: t.get(row, "end").to_string(),
            trainer: t.get(row, "trainer").to_string(),
            courses: list(t.get(row, "courses")),
        });
    }
    schedule_entries(rows, utc_offset_minutes)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SheetEntry {
    #[serde(skip)]
    line: usize,
    centre: String,
    id: String,
    #[serde(default)]
    title: String,
    start: String,
    end: String,
    #[serde(default)]
    trainer: String,
    #[serde(default)]
    courses: Vec<String>,
}

fn schedule_entries(rows: Vec<SheetEntry>, off: i32) -> Result<BTreeMap<String, ScheduleDoc>, SheetError> {
    let mut problems = Vec::new();
    let mut out: BTreeMap<String, ScheduleDoc> = BTreeMap::new();
    let mut ids: HashMap<String, usize> = HashMap::new();
    for r in rows {
        let line = r.line;
        if r.centre.is_empty() {
            problems.push(Problem { line, message: "empty centre".into() });
        }
        if r.id.is_empty() {
            problems.push(Problem { line, message: "empty schedule id".into() });
        } else if let Some(first) = ids.insert(r.id.clone(), line) {
            problems.push(Problem { line, message: format!("duplicate schedule id {:?} (first on line {first})", r.id) });
        }
        let (Some(s), Some(e)) = (local_ms(&r.start, off), local_ms(&r.end, off)) else {
            problems.push(Problem { line, message: format!("bad time {:?} / {:?}: use YYYY-MM-DD HH:MM", r.start, r.end) });
            continue;
        };
        if e <= s {
            problems.push(Problem { line, message: format!("entry {:?} ends before it starts", r.id) });
        }
        out.entry(r.centre).or_insert_with(|| ScheduleDoc { entries: vec![] }).entries.push(ScheduleEntry {
            id: r.id,
            title: r.title,
            starts_ms: s,
            ends_ms: e,
            trainer_id: Some(r.trainer).filter(|t| !t.is_empty()),
            courses: r.courses,
        });
    }
    finish(problems, out)
}

/// TOML line of the n-th `[[table]]`, for error messages.
fn toml_lines(text: &str, table: &str) -> Vec<usize> {
    let marker = format!("[[{table}]]");
    text.lines().enumerate().filter(|(_, l)| l.trim() == marker).map(|(i, _)| i + 1).collect()
}

/// A roster written as TOML `[[members]]` tables (the fields of `Member`).
pub fn roster_toml(text: &str) -> Result<RosterDoc, SheetError> {
    let doc: RosterDoc = toml::from_str(text).map_err(|e| SheetError::Toml(e.to_string()))?;
    let lines = toml_lines(text, "members");
    finish(check_roster(&doc.members, &lines), doc)
}

/// A catalogue written as TOML `[[courses]]` tables (the fields of `Course`).
pub fn catalog_toml(text: &str) -> Result<CatalogDoc, SheetError> {
    let doc: CatalogDoc = toml::from_str(text).map_err(|e| SheetError::Toml(e.to_string()))?;
    let lines = toml_lines(text, "courses");
    let mut p = check_catalog(&doc.courses, &lines);
    for (c, &line) in doc.courses.iter().zip(&lines) {
        if c.duration_s == 0 || c.duration_s > MAX_COURSE_MINUTES * 60 {
            p.push(Problem { line, message: format!("bad course duration {} s", c.duration_s) });
        }
    }
    finish(p, doc)
}

/// A schedule written as TOML `[[entries]]` (centre, id, title, start, end, trainer, courses).
pub fn schedule_toml(text: &str, utc_offset_minutes: i32) -> Result<BTreeMap<String, ScheduleDoc>, SheetError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        entries: Vec<SheetEntry>,
    }
    let mut f: File = toml::from_str(text).map_err(|e| SheetError::Toml(e.to_string()))?;
    for (e, line) in f.entries.iter_mut().zip(toml_lines(text, "entries")) {
        e.line = line;
    }
    schedule_entries(f.entries, utc_offset_minutes)
}

#[cfg(test)]
#[path = "sheets_tests.rs"]
mod tests;
