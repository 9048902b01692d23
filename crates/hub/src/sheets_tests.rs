use super::*;

fn problems(r: Result<impl fmt::Debug, SheetError>) -> Vec<Problem> {
    match r {
        Err(SheetError::Invalid(p)) => p,
        other => panic!("expected problems, got {other:?}"),
    }
}

#[test]
fn a_chinese_roster_from_excel_reads_with_several_cards_and_roles() {
    let text = "\u{feff}编号,姓名,支部,所属中心,角色,卡号\r\nm1,张伟,第三支部,c1,党员;讲师,04A1B2C3;04:a1:b2:ff\r\nm2,王芳,第三支部,c2,,04A1B2C4\r\n";
    let doc = roster_csv(text).unwrap();
    assert_eq!(doc.members.len(), 2);
    assert_eq!(doc.members[0].name, "张伟");
    assert_eq!(doc.members[0].roles, vec![Role::Member, Role::Trainer]);
    assert_eq!(doc.members[0].cards.iter().map(|c| c.as_str()).collect::<Vec<_>>(), vec!["04A1B2C3", "04A1B2FF"]);
    assert_eq!(doc.members[1].roles, vec![Role::Member]);
}

#[test]
fn every_roster_mistake_is_reported_with_its_line() {
    let text = "id,name,roles,cards\nm1,张伟,member,04A1\nm1,李四,member,04A2\nm3,赵六,boss,04a1\nm4,,member,XYZ\n";
    let p = problems(roster_csv(text));
    let shown: Vec<String> = p.iter().map(|p| p.to_string()).collect();
    assert!(shown.iter().any(|s| s.starts_with("line 3: duplicate member id \"m1\" (first on line 2)")), "{shown:?}");
    assert!(shown.iter().any(|s| s.starts_with("line 4: unknown role \"boss\"")), "{shown:?}");
    assert!(shown.iter().any(|s| s == "line 4: card 04A1 is already given to member \"m1\" on line 2"), "{shown:?}");
    assert!(shown.iter().any(|s| s.starts_with("line 5: bad card UID")), "{shown:?}");
    assert!(shown.iter().any(|s| s == "line 5: member \"m4\" has no name"), "{shown:?}");
    assert_eq!(p.len(), 5);
}

#[test]
fn a_roster_without_a_name_column_is_refused_at_the_header() {
    let p = problems(roster_csv("id,cards\nm1,04A1\n"));
    assert_eq!(p, vec![Problem { line: 1, message: "missing column \"name\"".into() }]);
}

#[test]
fn a_catalogue_reads_required_flags_and_minutes_and_refuses_bad_durations() {
    let text = "id,title,required,duration_min,credit_min\nc1,党史学习,必修,90,\nc2,微党课,no,15,20\nc3,坏课,yes,0,\nc4,太长,yes,2000,\nc5,x,maybe,abc,\n";
    let p = problems(catalog_csv(text));
    let lines: Vec<usize> = p.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![4, 5, 6, 6], "{p:?}");
    assert!(p[0].message.contains("bad course duration \"0\""));
    let ok = catalog_csv("id,title,required,duration_min,credit_min\nc1,党史学习,必修,90,\nc2,微党课,no,15,20\n").unwrap();
    assert_eq!((ok.courses[0].required, ok.courses[0].duration_s, ok.courses[0].credit_minutes), (true, 5400, 90));
    assert_eq!((ok.courses[1].required, ok.courses[1].credit_minutes), (false, 20));
}

#[test]
fn a_schedule_is_split_per_centre_in_local_time() {
    let text = "centre,id,title,start,end,trainer,courses\nc1,s1,党课,2026-03-01 19:00,2026-03-01 20:30,t1,k1;k2\nc2,s2,,2026-03-02 09:00,2026-03-02 10:00,,\n";
    let docs = schedule_csv(text, 480).unwrap();
    assert_eq!(docs.len(), 2);
    let s1 = &docs["c1"].entries[0];
    assert_eq!(s1.starts_ms, 1_772_362_800_000); // 2026-03-01 11:00 UTC
    assert_eq!(s1.ends_ms - s1.starts_ms, 90 * 60_000);
    assert_eq!(s1.courses, vec!["k1", "k2"]);
    let p = problems(schedule_csv("centre,id,start,end\nc1,s1,2026-03-01 19:00,2026-03-01 18:00\nc1,s1,tomorrow,later\n", 480));
    assert_eq!(p.iter().map(|p| p.line).collect::<Vec<_>>(), vec![2, 3, 3]);
}

#[test]
fn toml_rosters_get_the_same_checks_with_lines_of_their_tables() {
    let text = "[[members]]\nid = \"m1\"\nname = \"张伟\"\ncards = [\"04A1\"]\n\n[[members]]\nid = \"m2\"\nname = \"王芳\"\ncards = [\"04a1\"]\n";
    let p = problems(roster_toml(text));
    assert_eq!(p[0].line, 6);
    assert!(p[0].message.contains("already given"));
}
