//! The organisation department's report, computed from stored records only:
//! study hours per member and year against the quota (credit records, each
//! counted once by id), attendance and sessions per centre, course
//! completion, ratings; written as CSV files. Pure maths over `RecordRow`s;
//! it never reads the database itself (the caller passes the rows).

use super::store::RecordRow;
use microclass_protocol::documents::{CatalogDoc, RosterDoc};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;

/// The record kinds the report reads.
pub const KINDS: [&str; 5] = ["credit", "tap", "session", "play", "rating"];

#[derive(Debug, Clone)]
pub struct Settings {
    pub minutes_per_hour: u32,
    pub quota_hours: u32,
    /// Only this year; None = every year seen.
    pub year: Option<i32>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { minutes_per_hour: 45, quota_hours: 32, year: None }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberLine {
    pub member: String,
    pub name: String,
    pub branch: String,
    pub home_centre: String,
    pub year: i32,
    pub minutes: i64,
    /// Minutes still owed to reach the quota (0 when reached).
    pub short_minutes: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CentreLine {
    pub centre: String,
    pub sessions: u64,
    pub sign_ins: u64,
    pub mobile_sign_ins: u64,
    pub members: u64,
    pub credited_minutes: i64,
    pub ratings: u64,
    pub rating_avg: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CourseLine {
    pub course: String,
    pub title: String,
    pub required: bool,
    pub plays: u64,
    pub completed_plays: u64,
    pub members_completed: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub settings_quota_minutes: i64,
    pub minutes_per_hour: u32,
    pub members: Vec<MemberLine>,
    pub centres: Vec<CentreLine>,
    pub courses: Vec<CourseLine>,
    /// Count of ratings by stars 1..=5.
    pub stars: [u64; 5],
    /// Records whose payload could not be read (counted, skipped).
    pub unreadable: u64,
}

impl Report {
    pub fn below_quota(&self) -> impl Iterator<Item = &MemberLine> {
        self.members.iter().filter(|m| m.short_minutes > 0)
    }
}

/// Minutes as hours with two decimals (45 min/h: 50 min -> "1.11").
pub fn hours(minutes: i64, minutes_per_hour: u32) -> String {
    let mph = i64::from(minutes_per_hour.max(1));
    let hundredths = (minutes * 100 + mph / 2) / mph;
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

/// Builds the report from stored rows (any order), the roster (names, and
/// members with no credit at all) and the catalogue (titles, required flags).
pub fn build(rows: &[RecordRow], roster: Option<&RosterDoc>, catalog: Option<&CatalogDoc>, st: &Settings) -> Report {
    let mut b = Builder::new(st);
    for r in rows {
        b.add(r);
    }
    b.finish(roster, catalog)
}

/// The report accumulated one record at a time: only totals are kept (and
/// the ids seen, so a record stored twice under one id counts once).
pub struct Builder {
    st: Settings,
    r: Report,
    seen_ids: HashSet<String>,
    minutes: BTreeMap<(String, i32), i64>,
    centres: BTreeMap<String, (CentreLine, BTreeSet<String>, i64)>,
    courses: BTreeMap<String, (CourseLine, BTreeSet<String>)>,
    years: BTreeSet<i32>,
}

impl Builder {
    pub fn new(st: &Settings) -> Builder {
        let r = Report { settings_quota_minutes: i64::from(st.quota_hours) * i64::from(st.minutes_per_hour), minutes_per_hour: st.minutes_per_hour, ..Default::default() };
        Builder { st: st.clone(), r, seen_ids: HashSet::new(), minutes: BTreeMap::new(), centres: BTreeMap::new(), courses: BTreeMap::new(), years: st.year.into_iter().collect() }
    }

    pub fn add(&mut self, row: &RecordRow) {
        let p = &row.payload;
        if let Some(id) = s(p, "id") {
            if !self.seen_ids.insert(id.to_string()) {
                return;
            }
        }
        let centre = self.centres.entry(row.centre.clone()).or_insert_with(|| (CentreLine { centre: row.centre.clone(), ..Default::default() }, BTreeSet::new(), 0));
        match row.kind.as_str() {
            "credit" => {
                let (Some(m), Some(min), Some(y)) = (s(p, "member"), p.get("minutes").and_then(Value::as_i64), p.get("year").and_then(Value::as_i64)) else {
                    self.r.unreadable += 1;
                    return;
                };
                let y = y as i32;
                if self.st.year.is_some_and(|want| want != y) {
                    return;
                }
                self.years.insert(y);
                *self.minutes.entry((m.to_string(), y)).or_default() += min;
                centre.0.credited_minutes += min;
            }
            "tap" if s(p, "outcome") == Some("signed_in") => {
                centre.0.sign_ins += 1;
                if p.get("mobile").and_then(Value::as_bool) == Some(true) {
                    centre.0.mobile_sign_ins += 1;
                }
                if let Some(m) = s(p, "member") {
                    centre.1.insert(m.to_string());
                }
            }
            "session" if s(p, "event") == Some("started") => centre.0.sessions += 1,
            "rating" => {
                let Some(stars) = p.get("stars").and_then(Value::as_u64).filter(|s| (1..=5).contains(s)) else {
                    self.r.unreadable += 1;
                    return;
                };
                self.r.stars[stars as usize - 1] += 1;
                centre.0.ratings += 1;
                centre.2 += stars as i64;
            }
            "play" => {
                let Some(c) = s(p, "course") else {
                    self.r.unreadable += 1;
                    return;
                };
                let e = self.courses.entry(c.to_string()).or_insert_with(|| (CourseLine { course: c.to_string(), ..Default::default() }, BTreeSet::new()));
                e.0.plays += 1;
                if p.get("completed").and_then(Value::as_bool) == Some(true) {
                    e.0.completed_plays += 1;
                    let by = p.get("completed_by").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str);
                    e.1.extend(by.chain(s(p, "member")).map(str::to_string));
                }
            }
            _ => {}
        }
    }

    pub fn finish(self, roster: Option<&RosterDoc>, catalog: Option<&CatalogDoc>) -> Report {
        let Builder { mut r, mut minutes, centres, mut courses, years, .. } = self;
        // Members on the roster with nothing credited still owe the whole quota.
        let mut names = BTreeMap::new();
        if let Some(roster) = roster {
            for m in &roster.members {
                names.insert(m.id.clone(), (m.name.clone(), m.branch.clone(), m.home_centre.clone()));
                for &y in &years {
                    minutes.entry((m.id.clone(), y)).or_default();
                }
            }
        }
        for ((member, year), min) in minutes {
            let (name, branch, home) = names.get(&member).cloned().unwrap_or_default();
            r.members.push(MemberLine { member, name, branch, home_centre: home, year, minutes: min, short_minutes: (r.settings_quota_minutes - min).max(0) });
        }
        r.centres = centres
            .into_values()
            .map(|(mut c, members, sum)| {
                c.members = members.len() as u64;
                c.rating_avg = (c.ratings > 0).then(|| sum as f64 / c.ratings as f64);
                c
            })
            .collect();
        if let Some(cat) = catalog {
            for c in &cat.courses {
                let e = courses.entry(c.id.clone()).or_insert_with(|| (CourseLine { course: c.id.clone(), ..Default::default() }, BTreeSet::new()));
                e.0.title = c.title.clone();
                e.0.required = c.required;
            }
        }
        r.courses = courses
            .into_values()
            .map(|(mut c, m)| {
                c.members_completed = m.len() as u64;
                c
            })
            .collect();
        r
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// The report as CSV files: (file name, contents), UTF-8 with a BOM so Excel reads the Chinese.
pub fn to_csv(r: &Report) -> Vec<(&'static str, String)> {
    let mph = r.minutes_per_hour;
    let mut m = String::from("\u{feff}member,name,branch,home_centre,year,minutes,hours,quota_hours,short_hours,below_quota\n");
    for l in &r.members {
        let _ = writeln!(m, "{},{},{},{},{},{},{},{},{},{}", csv_field(&l.member), csv_field(&l.name), csv_field(&l.branch), csv_field(&l.home_centre), l.year, l.minutes,
            hours(l.minutes, mph), hours(r.settings_quota_minutes, mph), hours(l.short_minutes, mph), if l.short_minutes > 0 { "yes" } else { "no" });
    }
    let mut c = String::from("\u{feff}centre,sessions,sign_ins,mobile_sign_ins,members,credited_hours,ratings,rating_avg\n");
    for l in &r.centres {
        let avg = l.rating_avg.map(|a| format!("{a:.2}")).unwrap_or_default();
        let _ = writeln!(c, "{},{},{},{},{},{},{},{}", csv_field(&l.centre), l.sessions, l.sign_ins, l.mobile_sign_ins, l.members, hours(l.credited_minutes, mph), l.ratings, avg);
    }
    let mut k = String::from("\u{feff}course,title,required,plays,completed_plays,members_completed\n");
    for l in &r.courses {
        let _ = writeln!(k, "{},{},{},{},{},{}", csv_field(&l.course), csv_field(&l.title), if l.required { "yes" } else { "no" }, l.plays, l.completed_plays, l.members_completed);
    }
    let mut s = String::from("stars,count\n");
    for (i, n) in r.stars.iter().enumerate() {
        let _ = writeln!(s, "{},{n}", i + 1);
    }
    vec![("members.csv", m), ("centres.csv", c), ("courses.csv", k), ("ratings.csv", s)]
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
