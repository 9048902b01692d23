//! A small demonstration district: a roster with Chinese names, trainers, a
//! technician, a visiting member from another centre, a few courses and a
//! week of classes from today. Lets a new user see the kiosk do something real
//! in the first minute.

use crate::model::{CardUid, Course, Member, Millis, Role, ScheduleEntry};
use crate::store::schedule::local_day;
use crate::store::{Store, StoreError};

/// (member id, name, branch, home centre, roles, card UID)
const PEOPLE: &[(&str, &str, &str, &str, &[Role], &str)] = &[
    ("m001", "张伟", "第三支部", "demo-centre", &[Role::Member], "04A1B2C3"),
    ("m002", "王芳", "第三支部", "demo-centre", &[Role::Member], "04A1B2C4"),
    ("m003", "李娜", "第一支部", "demo-centre", &[Role::Member], "04A1B2C5"),
    ("m004", "刘洋", "第一支部", "demo-centre", &[Role::Member], "04A1B2C6"),
    ("m005", "陈静", "第二支部", "demo-centre", &[Role::Member], "04A1B2C7"),
    ("m006", "杨磊", "第二支部", "demo-centre", &[Role::Member], "04A1B2C8"),
    ("m007", "赵敏", "第五支部", "east-centre", &[Role::Member], "04A1B2C9"),
    ("m008", "黄海", "第三支部", "demo-centre", &[Role::Member], "3A5F0C21"),
    ("t001", "李老师", "第一支部", "demo-centre", &[Role::Member, Role::Trainer], "0411223344"),
    ("t002", "周老师", "第二支部", "demo-centre", &[Role::Member, Role::Trainer], "0411223355"),
    ("x001", "陈工", "", "demo-centre", &[Role::Technician], "0499887766"),
];

pub fn members() -> Vec<Member> {
    PEOPLE
        .iter()
        .map(|(id, name, branch, centre, roles, card)| Member {
            id: (*id).into(),
            name: (*name).into(),
            branch: (*branch).into(),
            home_centre: (*centre).into(),
            roles: roles.to_vec(),
            cards: vec![CardUid::parse(card).unwrap_or_else(|e| panic!("demo card {card}: {e}"))],
            makeup: if *id == "m004" { vec!["c-rules".into()] } else { vec![] },
        })
        .collect()
}

pub fn courses() -> Vec<Course> {
    let c = |id: &str, title: &str, en: &str, cat: &str, required: bool, minutes: u32| Course {
        id: id.into(),
        title: title.into(),
        title_en: en.into(),
        category: cat.into(),
        required,
        duration_s: minutes * 60,
        credit_minutes: minutes,
        poster: None,
        files: vec![],
    };
    vec![
        c("c-history", "党史学习：百年奋斗", "Party history: a century of struggle", "党史", true, 45),
        c("c-rules", "党章党规微党课", "Micro lesson: Party constitution and rules", "党章党规", true, 15),
        c("c-policy", "基层治理政策解读", "Grassroots governance policy", "政策", false, 90),
        c("c-service", "社区志愿服务实务", "Community volunteering in practice", "实务", false, 15),
        c("c-law", "民法典与社区生活", "The Civil Code and community life", "法律", false, 180),
    ]
}

/// Loads the demo roster and catalogue into an empty store. Returns false
/// (and changes nothing) when a roster is already present.
pub fn load_if_empty(store: &mut Store) -> Result<bool, StoreError> {
    if store.member_count()? > 0 {
        return Ok(false);
    }
    store.replace_roster(&members(), 1)?;
    store.replace_courses(&courses(), 1)?;
    Ok(true)
}

/// Days of demo classes written from today on.
pub const SCHEDULE_DAYS: i64 = 7;

/// Three classes a day (09:00, 14:30, 19:00 local time) for `SCHEDULE_DAYS`
/// days from the local day of `now_ms`.
pub fn schedule(now_ms: Millis, utc_offset_s: i32) -> Vec<ScheduleEntry> {
    const SLOTS: &[(i64, i64, &str, &str, &str)] = &[
        (9 * 60, 45, "党史学习：百年奋斗", "t001", "c-history"),
        (14 * 60 + 30, 15, "党章党规微党课", "t002", "c-rules"),
        (19 * 60, 90, "基层治理政策解读", "t001", "c-policy"),
    ];
    let (today, _) = local_day(now_ms, utc_offset_s);
    let mut out = Vec::new();
    for day in 0..SCHEDULE_DAYS {
        let base = today + day * 86_400_000;
        for (i, (minute, length, title, trainer, course)) in SLOTS.iter().enumerate() {
            let starts_ms = base + minute * 60_000;
            let date = chrono::DateTime::from_timestamp_millis(base + i64::from(utc_offset_s) * 1000).map(|d| d.format("%Y%m%d").to_string()).unwrap_or_default();
            out.push(ScheduleEntry {
                id: format!("demo-{date}-{}", i + 1),
                title: (*title).into(),
                starts_ms,
                ends_ms: starts_ms + length * 60_000,
                trainer_id: Some((*trainer).into()),
                courses: vec![(*course).into()],
            });
        }
    }
    out
}

/// Writes the demo week of classes unless classes are already planned from
/// today on (a hub schedule, or the demo week written earlier). Version 0 so
/// any schedule the hub signs replaces it.
pub fn load_schedule_if_empty(store: &mut Store, now_ms: Millis, utc_offset_s: i32) -> Result<bool, StoreError> {
    let (today, _) = local_day(now_ms, utc_offset_s);
    if !store.schedule_between(today, today + SCHEDULE_DAYS * 86_400_000)?.is_empty() {
        return Ok(false);
    }
    store.replace_schedule(&schedule(now_ms, utc_offset_s), 0)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_week_starts_today_and_is_written_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("m.db")).unwrap();
        load_if_empty(&mut store).unwrap();
        // 2026-03-02 10:00 in Beijing.
        let now = 1_772_416_800_000;
        assert!(load_schedule_if_empty(&mut store, now, 8 * 3600).unwrap());
        let (from, to) = local_day(now, 8 * 3600);
        let today = store.schedule_between(from, to).unwrap();
        let titles: Vec<(&str, Option<&str>)> = today.iter().map(|c| (c.entry.id.as_str(), c.trainer_name.as_deref())).collect();
        assert_eq!(titles, vec![("demo-20260302-1", Some("李老师")), ("demo-20260302-2", Some("周老师")), ("demo-20260302-3", Some("李老师"))]);
        assert_eq!(today[0].entry.starts_ms, from + 9 * 3_600_000);
        assert!(!load_schedule_if_empty(&mut store, now + 86_400_000, 8 * 3600).unwrap(), "tomorrow still has demo classes");
        assert_eq!(store.schedule_between(from, from + SCHEDULE_DAYS * 86_400_000).unwrap().len(), 3 * SCHEDULE_DAYS as usize);
    }
}
