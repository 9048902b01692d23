//! Unit tests for the catalogue: parsing, validation and table replacement.

use super::*;
use crate::store::migrations::migrate;

const H1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const H2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

fn toml_doc(version: u64) -> String {
    format!(
        r#"
version = {version}

[[courses]]
id = "c-req"
title = "学习贯彻党章"
title_en = "Studying the Constitution"
category = "theory"
required = true
duration_s = 2700
credit_minutes = 45
poster = "posters/c-req.png"
files = [{{ url = "https://hub.example.cn/v/c-req.mp4", size = 1000, sha256 = "{H1}" }}]

[[courses]]
id = "c-el"
title = "微党课：社区治理"
duration_s = 900
credit_minutes = 15
files = [{{ url = "https://hub.example.cn/v/c-el.mp4", size = 500, sha256 = "{}" }}]

[[schedule]]
id = "s1"
centre = "centre-a"
title = "三月主题党日"
starts = "2026-03-02T09:00:00+08:00"
ends = "2026-03-02T11:00:00+08:00"
trainer_id = "m-7"
courses = ["c-el"]

[[schedule]]
id = "s2"
centre = "centre-b"
starts = "2026-03-03T09:00:00+08:00"
ends = "2026-03-03T10:00:00+08:00"
courses = ["c-req"]
"#,
        H2.to_uppercase()
    )
}

fn db() -> Connection {
    let mut c = Connection::open_in_memory().unwrap();
    migrate(&mut c).unwrap();
    c
}

fn ms(rfc: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc).unwrap().timestamp_millis()
}

#[test]
fn a_toml_catalogue_parses_with_schedules_and_normalised_hashes() {
    let cat = Catalog::parse(&toml_doc(3)).unwrap();
    assert_eq!(cat.version, 3);
    assert_eq!(cat.courses.len(), 2);
    assert_eq!(cat.courses[1].files[0].sha256, H2);
    let s = cat.schedule.as_ref().unwrap();
    assert_eq!(s[0].starts_ms(), ms("2026-03-02T01:00:00Z"));
    assert_eq!(cat.course_of(H1).unwrap().id, "c-req");
}

#[test]
fn the_json_form_round_trips() {
    let cat = Catalog::parse(&toml_doc(3)).unwrap();
    let again = Catalog::parse(&cat.to_json()).unwrap();
    assert_eq!(cat, again);
}

#[test]
fn every_problem_in_a_bad_catalogue_is_listed() {
    let doc = r#"{"version": 0, "courses": [
        {"id": "a", "title": "", "duration_s": 0, "credit_minutes": 5000,
         "files": [{"url": "ftp://x/y", "size": 0, "sha256": "zz"}]},
        {"id": "a", "title": "t", "duration_s": 1, "credit_minutes": 1}],
        "schedule": [{"id": "s", "starts": "2026-01-01T10:00:00+08:00", "ends": "2026-01-01T09:00:00+08:00", "courses": ["nope"]}]}"#;
    let err = Catalog::parse(doc).unwrap_err();
    let CatalogError::Invalid { problems, .. } = &err else { panic!("{err}") };
    let text = err.to_string();
    for needle in ["version must be", "title is empty", "duration_s", "more than a day", "not 64 hex", "size must be", "only http", "used twice", "is not after", "\"nope\" is not in"] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert_eq!(problems.len(), 10);
}

#[test]
fn unknown_fields_and_broken_syntax_are_refused_clearly() {
    assert!(matches!(Catalog::parse("{\"version\": 1, \"coursez\": []}"), Err(CatalogError::Json(_))));
    assert!(matches!(Catalog::parse("version = "), Err(CatalogError::Toml(_))));
}

#[test]
fn replacing_keeps_only_this_centres_schedule_and_records_the_version() {
    let c = db();
    let cat = Catalog::parse(&toml_doc(3)).unwrap();
    let applied = replace(&c, &cat, Some("centre-a")).unwrap();
    assert_eq!(applied, Applied { version: 3, courses: 2, schedule_entries: Some(1) });
    assert_eq!(current_version(&c).unwrap(), Some(3));
    let back = load_from_db(&c).unwrap();
    assert_eq!(back.courses, cat.courses);
    let ids: Vec<String> = c.prepare("SELECT id FROM schedule").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert_eq!(ids, ["s1"]);
}

#[test]
fn an_older_catalogue_is_refused_and_changes_nothing() {
    let c = db();
    replace(&c, &Catalog::parse(&toml_doc(5)).unwrap(), None).unwrap();
    let mut old = Catalog::parse(&toml_doc(4)).unwrap();
    old.courses.truncate(1);
    old.schedule = None;
    assert!(matches!(replace(&c, &old, None), Err(CatalogError::Stale { offered: 4, current: 5 })));
    assert_eq!(load_from_db(&c).unwrap().courses.len(), 2);
}

#[test]
fn a_catalogue_without_a_schedule_leaves_the_schedule_alone() {
    let c = db();
    replace(&c, &Catalog::parse(&toml_doc(1)).unwrap(), None).unwrap();
    let mut next = Catalog::parse(&toml_doc(2)).unwrap();
    next.schedule = None;
    assert_eq!(replace(&c, &next, None).unwrap().schedule_entries, None);
    let n: i64 = c.query_row("SELECT COUNT(*) FROM schedule", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 2);
}

#[test]
fn required_courses_and_those_scheduled_within_the_window_are_protected() {
    let c = db();
    replace(&c, &Catalog::parse(&toml_doc(1)).unwrap(), Some("centre-a")).unwrap();
    let before = ms("2026-02-20T00:00:00+08:00");
    assert_eq!(protected_courses(&c, before, 7).unwrap(), ["c-req".to_string()].into());
    let week_before = ms("2026-02-24T00:00:00+08:00");
    assert!(protected_courses(&c, week_before, 7).unwrap().contains("c-el"));
    let after = ms("2026-03-02T12:00:00+08:00");
    assert!(!protected_courses(&c, after, 7).unwrap().contains("c-el"));
    assert_eq!(next_scheduled(&c, week_before).unwrap().get("c-el"), Some(&ms("2026-03-02T09:00:00+08:00")));
}
