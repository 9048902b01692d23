//! The shell and the store together, on real SQLite files: what a decision
//! commits, and what the screen shows when a commit fails.

use crate::store::*;
use crate::clock::TestClock;
use crate::core::{CoreConfig, Screen, ErrorKind};
use crate::app::{Presenter, Shell, Shown};
use crate::hw::{sim::SimIndicator, Signal};
use crate::model::CardUid;
use std::sync::{Arc, Mutex};

const T0: i64 = 1_780_000_000_000;

#[derive(Clone, Default)]
struct Screens(Arc<Mutex<Vec<Shown>>>);
impl Presenter for Screens {
    fn present(&mut self, s: &Shown) {
        self.0.lock().unwrap().push(s.clone());
    }
}

fn shell(dir: &std::path::Path) -> (Shell, TestClock, Screens, SimIndicator) {
    let mut store = Store::open(&dir.join("m.db")).unwrap();
    crate::demo::load_if_empty(&mut store).unwrap();
    let clock = TestClock::at(T0);
    let screens = Screens::default();
    let ind = SimIndicator::default();
    let sh = Shell::new(CoreConfig::defaults("demo-centre", "d1"), store, Arc::new(clock.clone()), Box::new(ind.clone()), Box::new(screens.clone())).unwrap();
    (sh, clock, screens, ind)
}

fn uid(s: &str) -> CardUid {
    CardUid::parse(s).unwrap()
}

#[test]
fn a_tap_is_committed_with_its_outbox_message_before_it_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sh, _c, screens, _) = shell(dir.path());
    let shown = sh.tap(uid("04A1B2C3"));
    let id = shown.tap_id.clone().unwrap();
    // Read back through a second connection: the row is really on disk.
    let other = Store::open(&dir.path().join("m.db")).unwrap();
    let n: i64 = other.conn.query_row("SELECT count(*) FROM taps WHERE id = ?1", [&id], |r| r.get(0)).unwrap();
    assert_eq!(n, 1);
    assert_eq!(other.outbox_of_kind("tap").unwrap().len(), 1);
    assert_eq!(screens.0.lock().unwrap().len(), 1);
}

#[test]
fn a_full_session_is_in_the_ledger_in_study_hours() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sh, clock, _, _) = shell(dir.path());
    sh.tap(uid("0411223344")); // trainer
    sh.event(crate::core::Event::StartSession { schedule_id: None, title: "党史".into() });
    sh.tap(uid("04A1B2C3"));
    clock.advance_ms(90 * 60_000);
    sh.tap(uid("0411223344"));
    sh.event(crate::core::Event::EndSession);
    let y = sh.store().year_summary("m001", 2026).unwrap();
    assert_eq!(y.credited_minutes, 90);
    assert_eq!(y.hours_tenths(45), 20);
    assert_eq!(y.owed.len(), 2, "both required demo courses are still owed");
}

#[test]
fn a_session_running_at_a_crash_is_resumed_and_credited_at_its_end() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut sh, clock, _, _) = shell(dir.path());
        sh.tap(uid("0411223344"));
        sh.event(crate::core::Event::StartSession { schedule_id: None, title: "党史".into() });
        sh.tap(uid("04A1B2C3"));
        clock.advance_ms(10_000);
    } // dropped without ending: like a crash
    let (mut sh, clock, _, _) = shell(dir.path());
    assert_eq!(sh.kiosk().state().session.as_ref().unwrap().present.len(), 1);
    clock.advance_ms(60 * 60_000);
    sh.tap(uid("0411223344"));
    sh.event(crate::core::Event::EndSession);
    assert_eq!(sh.store().year_summary("m001", 2026).unwrap().credited_minutes, 60);
}

#[test]
fn a_read_only_database_gives_an_error_screen_and_never_a_false_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sh, _c, _, ind) = shell(dir.path());
    sh.tap(uid("0411223344"));
    sh.event(crate::core::Event::StartSession { schedule_id: None, title: "x".into() });
    sh.store_mut().conn.execute_batch("PRAGMA query_only = ON").unwrap();
    let shown = sh.tap(uid("04A1B2C3"));
    assert_eq!(shown.screen, Some(Screen::Error(ErrorKind::ReadOnly)));
    assert_eq!(ind.signals().last(), Some(&Signal::Error));
    assert!(sh.kiosk().state().session.as_ref().unwrap().present.is_empty(), "the core forgot the failed sign-in");
    // Once the disk is writable again, the same card signs in.
    sh.store_mut().conn.execute_batch("PRAGMA query_only = OFF").unwrap();
    let shown = sh.tap(uid("04A1B2C3"));
    assert!(matches!(shown.screen, Some(Screen::Member(_))), "{shown:?}");
}

#[test]
fn a_full_disk_gives_the_disk_full_screen() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sh, clock, _, _) = shell(dir.path());
    let pages: i64 = sh.store().conn.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
    sh.store_mut().conn.execute_batch(&format!("PRAGMA max_page_count = {pages}")).unwrap();
    let mut last = None;
    for i in 0..2000u32 {
        clock.advance_ms(10_000);
        let s = sh.tap(CardUid::from_bytes(&i.to_be_bytes()));
        if let Some(Screen::Error(k)) = s.screen {
            last = Some(k);
            break;
        }
    }
    assert_eq!(last, Some(ErrorKind::DiskFull));
}

#[test]
fn a_new_roster_replaces_the_old_but_keeps_locally_enrolled_cards() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("m.db")).unwrap();
    s.replace_roster(&crate::demo::members(), 1).unwrap();
    s.apply(&[crate::core::Effect::Write(crate::core::Record::CardEnrolled { uid: uid("AABBCCDD"), member_id: "m002".into(), at_ms: T0 })], T0).unwrap();
    let mut members = crate::demo::members();
    members.retain(|m| m.id != "m001");
    s.replace_roster(&members, 2).unwrap();
    assert!(s.member_by_card(&uid("04A1B2C3")).unwrap().is_none());
    assert_eq!(s.member_by_card(&uid("AABBCCDD")).unwrap().unwrap().id, "m002");
    assert_eq!(s.meta("roster_version").unwrap().as_deref(), Some("2"));
}

#[test]
fn a_roster_giving_one_card_to_two_members_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("m.db")).unwrap();
    s.replace_roster(&crate::demo::members(), 1).unwrap();
    let mut bad = crate::demo::members();
    bad[1].cards = bad[0].cards.clone();
    assert!(matches!(s.replace_roster(&bad, 2), Err(StoreError::Invalid(_))));
    assert_eq!(s.meta("roster_version").unwrap().as_deref(), Some("1"));
    assert_eq!(s.member_by_card(&uid("04A1B2C4")).unwrap().unwrap().id, "m002");
}

#[test]
fn completed_required_courses_are_no_longer_owed_that_year() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("m.db")).unwrap();
    crate::demo::load_if_empty(&mut s).unwrap();
    s.apply(&[crate::core::Effect::Write(crate::core::Record::Completion { member_id: "m001".into(), course_id: "c-rules".into(), year: 2026, at_ms: T0, source: "session".into() })], T0).unwrap();
    let owed: Vec<String> = s.year_summary("m001", 2026).unwrap().owed.into_iter().map(|c| c.id).collect();
    assert_eq!(owed, vec!["c-history".to_string()]);
    assert_eq!(s.year_summary("m001", 2027).unwrap().owed.len(), 2);
}

#[test]
fn the_ledger_total_equals_the_sum_of_its_rows_across_sessions_and_years() {
    use proptest::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let s = std::cell::RefCell::new(Store::open(&dir.path().join("m.db")).unwrap());
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(32));
    let n = std::cell::Cell::new(0u64);
    runner
        .run(&prop::collection::vec((0u32..300, 2025i32..2028, 0usize..3), 1..40), |rows| {
            n.set(n.get() + 1);
            let n = n.get();
            let mut s = s.borrow_mut();
            s.conn.execute_batch("DELETE FROM attendance").unwrap();
            let mut expect = std::collections::HashMap::new();
            for (i, (minutes, year, who)) in rows.iter().enumerate() {
                let member = format!("p{who}");
                s.apply(
                    &[crate::core::Effect::Write(crate::core::Record::SelfStudy { id: format!("{n}-{i}"), member_id: member.clone(), in_ms: T0, out_ms: T0, credited_minutes: *minutes, year: *year, mobile: false })],
                    T0,
                )
                .unwrap();
                *expect.entry((member, *year)).or_insert(0i64) += i64::from(*minutes);
            }
            for ((member, year), total) in expect {
                prop_assert_eq!(s.year_summary(&member, year).unwrap().credited_minutes, total);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_wall_clock_jump_is_recorded_and_queued_for_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sh, clock, _, _) = shell(dir.path());
    let mut watch = crate::clock_watch::ClockWatch::new(2_000);
    assert!(watch.observe(sh.now()).is_none());
    clock.advance_ms(1_000);
    assert!(watch.observe(sh.now()).is_none());
    clock.jump_wall_ms(-3_600_000);
    let ev = watch.observe(sh.now()).expect("a one-hour step back is a jump");
    sh.record_clock_event(&ev);
    let (jump, n): (i64, i64) = sh.store().conn.query_row("SELECT jump_ms, count(*) FROM clock_events", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!((jump, n), (-3_600_000, 1));
    let msgs = sh.store().outbox_of_kind("clock_jump").unwrap();
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].payload.contains("\"jump_ms\":-3600000"));
}

fn roster_with_cards(cards: &[(&str, &str)]) -> Vec<crate::model::Member> {
    let mut members = crate::demo::members();
    for m in &mut members {
        m.cards.clear();
    }
    for (member_id, card) in cards {
        let m = members.iter_mut().find(|m| m.id == *member_id).unwrap();
        m.cards.push(uid(card));
    }
    members
}

#[test]
fn a_four_byte_read_of_a_seven_byte_card_matches_its_holder_when_nobody_else_could_be_meant() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("m.db")).unwrap();
    s.replace_roster(&roster_with_cards(&[("m001", "04A1B2C3D4E5F6"), ("m002", "04112233")]), 1).unwrap();
    assert_eq!(s.member_by_card(&uid("04A1B2C3")).unwrap().unwrap().id, "m001", "first four UID bytes");
    assert_eq!(s.member_by_card(&uid("8804A1B2")).unwrap().unwrap().id, "m001", "cascade tag and three bytes");
    assert_eq!(s.member_by_card(&uid("04112233")).unwrap().unwrap().id, "m002", "an exact match wins");
    assert!(s.member_by_card(&uid("04A1B2C4")).unwrap().is_none());
}

#[test]
fn a_seven_byte_read_matches_a_card_enrolled_from_a_truncating_reader() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("m.db")).unwrap();
    s.replace_roster(&roster_with_cards(&[("m002", "04A1B2C3")]), 1).unwrap();
    assert_eq!(s.member_by_card(&uid("04A1B2C3D4E5F6")).unwrap().unwrap().id, "m002");
}

#[test]
fn a_truncated_read_two_members_could_own_matches_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("m.db")).unwrap();
    s.replace_roster(&roster_with_cards(&[("m001", "04A1B2C3D4E5F6"), ("m002", "04A1B2C3001122")]), 1).unwrap();
    assert!(s.member_by_card(&uid("04A1B2C3")).unwrap().is_none());
    assert_eq!(s.truncation_match(&uid("04A1B2C3")).unwrap(), None);
}

#[test]
fn a_random_four_byte_uid_never_matches_by_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("m.db")).unwrap();
    s.replace_roster(&roster_with_cards(&[("m001", "08A1B2C3D4E5F6")]), 1).unwrap();
    assert!(s.member_by_card(&uid("08A1B2C3")).unwrap().is_none());
}

#[test]
fn a_local_enrolment_records_the_reader_kind_and_keeps_it_across_a_new_roster() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("m.db")).unwrap();
    s.replace_roster(&crate::demo::members(), 1).unwrap();
    s.set_reader_kind("usb");
    s.apply(&[crate::core::Effect::Write(crate::core::Record::CardEnrolled { uid: uid("AABBCCDD"), member_id: "m002".into(), at_ms: T0 })], T0).unwrap();
    assert_eq!(s.card_reader_kind(&uid("AABBCCDD")).unwrap().as_deref(), Some("usb"));
    s.replace_roster(&crate::demo::members(), 2).unwrap();
    assert_eq!(s.card_reader_kind(&uid("AABBCCDD")).unwrap().as_deref(), Some("usb"));
    assert_eq!(s.card_reader_kind(&uid("04A1B2C3")).unwrap(), None, "roster cards have no reader kind");
}
