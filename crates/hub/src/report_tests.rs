use super::*;
use microclass_model::Member;
use serde_json::json;

fn row(centre: &str, kind: &str, payload: Value) -> RecordRow {
    RecordRow { centre: centre.into(), device: format!("{centre}-pi"), kind: kind.into(), payload }
}

fn credit(id: &str, member: &str, minutes: i64, year: i32) -> RecordRow {
    row("c1", "credit", json!({"id": id, "member": member, "minutes": minutes, "year": year}))
}

fn member(id: &str, name: &str) -> Member {
    Member { id: id.into(), name: name.into(), branch: "一支部".into(), home_centre: "c1".into(), roles: vec![], cards: vec![], makeup: vec![] }
}

#[test]
fn hours_are_summed_per_member_and_year_and_compared_with_the_quota() {
    let rows = vec![credit("a", "m1", 1440, 2026), credit("b", "m1", 45, 2026), credit("c", "m1", 90, 2025), credit("d", "m2", 100, 2026)];
    let r = build(&rows, None, None, &Settings::default());
    let got: Vec<_> = r.members.iter().map(|m| (m.member.as_str(), m.year, m.minutes, m.short_minutes)).collect();
    assert_eq!(got, vec![("m1", 2025, 90, 1350), ("m1", 2026, 1485, 0), ("m2", 2026, 100, 1340)]);
    assert_eq!(r.below_quota().count(), 2);
}

#[test]
fn a_credit_stored_twice_under_one_id_counts_once() {
    let rows = vec![credit("a", "m1", 45, 2026), credit("a", "m1", 45, 2026)];
    assert_eq!(build(&rows, None, None, &Settings::default()).members[0].minutes, 45);
}

#[test]
fn roster_members_without_any_credit_owe_the_whole_quota_of_the_chosen_year() {
    let roster = RosterDoc { members: vec![member("m1", "张伟"), member("m2", "王芳")] };
    let st = Settings { year: Some(2026), ..Settings::default() };
    let r = build(&[credit("a", "m1", 45, 2026), credit("b", "m1", 45, 2025)], Some(&roster), None, &st);
    let got: Vec<_> = r.members.iter().map(|m| (m.name.as_str(), m.minutes, m.short_minutes)).collect();
    assert_eq!(got, vec![("张伟", 45, 1395), ("王芳", 0, 1440)]);
}

#[test]
fn hours_are_shown_with_two_decimals_rounded_to_the_nearest() {
    assert_eq!(hours(1440, 45), "32.00");
    assert_eq!(hours(50, 45), "1.11");
    assert_eq!(hours(0, 45), "0.00");
    assert_eq!(hours(89, 60), "1.48");
}

#[test]
fn centres_count_sign_ins_mobile_members_sessions_and_average_ratings() {
    let rows = vec![
        row("c1", "tap", json!({"id": "t1", "member": "m1", "outcome": "signed_in", "mobile": false})),
        row("c1", "tap", json!({"id": "t2", "member": "m9", "outcome": "signed_in", "mobile": true})),
        row("c1", "tap", json!({"id": "t3", "member": "m1", "outcome": "signed_out"})),
        row("c1", "session", json!({"id": "s1", "event": "started"})),
        row("c1", "session", json!({"id": "s2", "event": "ended"})),
        row("c1", "rating", json!({"id": "r1", "stars": 5})),
        row("c1", "rating", json!({"id": "r2", "stars": 4})),
        row("c1", "rating", json!({"id": "r3", "stars": 9})),
    ];
    let r = build(&rows, None, None, &Settings::default());
    let c = &r.centres[0];
    assert_eq!((c.sign_ins, c.mobile_sign_ins, c.members, c.sessions, c.ratings), (2, 1, 2, 1, 2));
    assert_eq!(c.rating_avg, Some(4.5));
    assert_eq!(r.stars, [0, 0, 0, 1, 1]);
    assert_eq!(r.unreadable, 1);
}

#[test]
fn course_completion_counts_distinct_members_from_completed_plays() {
    let rows = vec![
        row("c1", "play", json!({"id": "p1", "course": "k1", "completed": true, "completed_by": ["m1", "m2"]})),
        row("c2", "play", json!({"id": "p2", "course": "k1", "completed": true, "completed_by": ["m2"], "member": "m3"})),
        row("c2", "play", json!({"id": "p3", "course": "k1", "completed": false})),
    ];
    let r = build(&rows, None, None, &Settings::default());
    assert_eq!((r.courses[0].plays, r.courses[0].completed_plays, r.courses[0].members_completed), (3, 2, 3));
}

#[test]
fn csv_files_quote_commas_and_mark_who_is_below_the_quota() {
    let roster = RosterDoc { members: vec![member("m1", "张,伟")] };
    let r = build(&[credit("a", "m1", 45, 2026)], Some(&roster), None, &Settings::default());
    let files = to_csv(&r);
    assert_eq!(files[0].0, "members.csv");
    assert!(files[0].1.contains("m1,\"张,伟\",一支部,c1,2026,45,1.00,32.00,31.00,yes\n"), "{}", files[0].1);
}
