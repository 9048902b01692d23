use super::fixture::*;
use crate::*;
use crate::model::Signal;
use crate::model::{Member, Role};

#[test]
fn a_member_outside_a_session_sees_their_status_and_nothing_is_credited() {
    let mut r = Rig::new();
    let zhang = member("m1", "张伟", &[Role::Member]);
    let fx = r.tap_with(&zhang, 833);
    assert_eq!(member_outcome(&fx), MemberOutcome::Status);
    match screen(&fx) {
        Some(Screen::Member(v)) => {
            assert_eq!(v.hours_tenths, 185);
            assert_eq!(v.quota_hours, 32);
        }
        s => panic!("{s:?}"),
    }
    assert!(credits(&fx).is_empty());
    assert_eq!(sound(&fx), Some(Signal::Ok));
}

#[test]
fn every_accepted_tap_writes_one_tap_row_and_queues_one_tap_message() {
    let mut r = Rig::new();
    let zhang = member("m1", "张伟", &[Role::Member]);
    for fx in [r.tap(&zhang), { r.advance_s(10); r.tap_unknown("DEADBEEF") }] {
        assert_eq!(records(&fx).iter().filter(|r| matches!(r, Record::Tap { .. })).count(), 1);
        assert_eq!(outgoing(&fx).iter().filter(|o| o.kind == "tap").count(), 1);
    }
}

#[test]
fn a_card_seen_again_within_the_presence_gap_is_the_same_tap_and_a_lifted_card_taps_anew() {
    let mut r = Rig::new();
    let zhang = member("m1", "张伟", &[Role::Member]);
    assert!(!r.tap(&zhang).is_empty());
    r.advance_s(4);
    assert!(r.tap(&zhang).is_empty(), "a second read 4 s later is the same tap");
    r.advance_s(4);
    assert!(r.tap(&zhang).is_empty(), "the repeat at 4 s moved the last sighting: 8 s after the first is still the same tap");
    r.advance_s(6);
    assert!(!r.tap(&zhang).is_empty(), "6 s without a sighting: the card was lifted, this is a new tap");
}

/// Taps `m` every `every_ms` for `hold_ms`, as a reader reports a card left on it;
/// returns every effect produced after the first sighting.
fn hold(r: &mut Rig, m: &Member, every_ms: i64, hold_ms: i64) -> Vec<Effect> {
    let mut later = Vec::new();
    let mut t = every_ms;
    while t <= hold_ms {
        r.wall += every_ms;
        r.mono += every_ms;
        later.extend(r.tap(m));
        if r.n % 300 == 0 {
            later.extend(r.ev(Event::Tick));
        }
        t += every_ms;
    }
    later
}

#[test]
fn a_card_left_on_a_wedge_reader_repeating_every_second_for_three_hours_signs_in_once_and_never_out() {
    let mut r = Rig::new();
    let (trainer, zhang) = (member("t1", "李老师", &[Role::Trainer]), member("m1", "张伟", &[Role::Member]));
    r.start_session(&trainer);
    r.advance_s(6);
    assert_eq!(member_outcome(&r.tap(&zhang)), MemberOutcome::SignedIn);
    let later = hold(&mut r, &zhang, 1000, 3 * 3600 * 1000);
    assert!(records(&later).iter().all(|x| !matches!(x, Record::Tap { .. } | Record::SignOut { .. })), "{later:?}");
    assert!(credits(&later).is_empty());
}

#[test]
fn a_card_left_on_an_mfrc522_with_a_300_ms_read_gap_after_eleven_minutes_is_never_signed_out() {
    let mut r = Rig::new();
    let (trainer, zhang) = (member("t1", "李老师", &[Role::Trainer]), member("m1", "张伟", &[Role::Member]));
    r.start_session(&trainer);
    r.advance_s(6);
    assert_eq!(member_outcome(&r.tap(&zhang)), MemberOutcome::SignedIn);
    // The MFRC522 reader reports a held card once a second; after 11 minutes
    // the field drops it for 300 ms and it "arrives" again at the reader.
    let mut later = hold(&mut r, &zhang, 1000, 11 * 60 * 1000);
    r.wall += 300;
    r.mono += 300;
    later.extend(r.tap(&zhang));
    later.extend(hold(&mut r, &zhang, 1000, 30 * 60 * 1000));
    assert!(records(&later).is_empty(), "{later:?}");
}

#[test]
fn after_the_card_is_lifted_past_the_gap_and_the_minimum_stay_a_new_tap_signs_out() {
    let mut r = Rig::new();
    let (trainer, zhang) = (member("t1", "李老师", &[Role::Trainer]), member("m1", "张伟", &[Role::Member]));
    r.start_session(&trainer);
    r.advance_s(6);
    r.tap(&zhang);
    hold(&mut r, &zhang, 1000, 20 * 60 * 1000);
    r.advance_s(10);
    assert!(matches!(member_outcome(&r.tap(&zhang)), MemberOutcome::SignedOut { .. }));
}

#[test]
fn debounce_uses_the_monotonic_clock_so_a_wall_clock_step_does_not_double_a_tap() {
    let mut r = Rig::new();
    let zhang = member("m1", "张伟", &[Role::Member]);
    r.tap(&zhang);
    r.wall += 3_600_000; // NTP steps the wall clock by an hour
    r.mono += 1000;
    assert!(r.tap(&zhang).is_empty());
}

#[test]
fn an_unknown_card_gets_a_clear_answer_and_is_still_recorded_for_the_hub() {
    let mut r = Rig::new();
    let fx = r.tap_unknown("04A1B2C3");
    assert!(matches!(screen(&fx), Some(Screen::UnknownCard { uid }) if uid.as_str() == "04A1B2C3"));
    assert_eq!(sound(&fx), Some(Signal::Unknown));
    assert_eq!(tap_outcome(&fx), TapOutcome::Unknown);
    let msg = &outgoing(&fx)[0];
    assert_eq!(msg.payload["uid"], "04A1B2C3");
    assert_eq!(msg.payload["outcome"], "unknown");
}

#[test]
fn during_a_session_the_first_tap_signs_the_member_in() {
    let mut r = Rig::new();
    let (trainer, zhang) = (member("t1", "李老师", &[Role::Member, Role::Trainer]), member("m1", "张伟", &[Role::Member]));
    r.start_session(&trainer);
    let fx = r.tap(&zhang);
    assert_eq!(member_outcome(&fx), MemberOutcome::SignedIn);
    assert!(records(&fx).iter().any(|r| matches!(r, Record::SignIn { member_id, .. } if member_id == "m1")));
}

#[test]
fn a_second_tap_before_the_minimum_stay_only_says_already_signed_in() {
    let mut r = Rig::new();
    let (trainer, zhang) = (member("t1", "李老师", &[Role::Trainer]), member("m1", "张伟", &[Role::Member]));
    r.start_session(&trainer);
    r.tap(&zhang);
    r.advance_s(9 * 60);
    let fx = r.tap(&zhang);
    assert!(matches!(member_outcome(&fx), MemberOutcome::AlreadySignedIn { .. }));
    assert!(credits(&fx).is_empty());
    assert_eq!(tap_outcome(&fx), TapOutcome::AlreadySignedIn);
}

#[test]
fn a_tap_after_the_minimum_stay_signs_out_and_credits_the_minutes_present() {
    let mut r = Rig::new();
    let (trainer, zhang) = (member("t1", "李老师", &[Role::Trainer]), member("m1", "张伟", &[Role::Member]));
    r.start_session(&trainer);
    r.advance_s(60);
    r.tap_with(&zhang, 0);
    r.advance_s(45 * 60 + 30);
    let fx = r.tap_with(&zhang, 0);
    assert_eq!(member_outcome(&fx), MemberOutcome::SignedOut { credited_minutes: 45 });
    assert_eq!(credits(&fx), vec![45]);
    match screen(&fx) {
        Some(Screen::Member(v)) => assert_eq!(v.hours_tenths, 10, "45 min = 1.0 study hour"),
        s => panic!("{s:?}"),
    }
    let credit = outgoing(&fx).into_iter().find(|o| o.kind == "credit").expect("a credit message");
    assert_eq!(credit.payload["minutes"], 45);
    assert_eq!(credit.payload["member"], "m1");
}

#[test]
fn with_the_session_end_rule_a_second_tap_never_signs_out() {
    let mut cfg = CoreConfig::defaults("c1", "d1");
    cfg.sign_out = crate::config::SignOutRule::SessionEnd;
    let mut r = Rig::with(cfg);
    let (trainer, zhang) = (member("t1", "李老师", &[Role::Trainer]), member("m1", "张伟", &[Role::Member]));
    r.start_session(&trainer);
    r.tap(&zhang);
    r.advance_s(3 * 3600);
    assert!(matches!(member_outcome(&r.tap(&zhang)), MemberOutcome::AlreadySignedIn { .. }));
}

#[test]
fn members_still_present_are_signed_out_and_credited_at_session_end() {
    let mut r = Rig::new();
    let trainer = member("t1", "李老师", &[Role::Trainer]);
    let (a, b) = (member("m1", "张伟", &[Role::Member]), member("m2", "王芳", &[Role::Member]));
    r.start_session(&trainer);
    r.tap(&a);
    r.advance_s(30 * 60);
    r.tap(&b);
    r.advance_s(60 * 60 - 6);
    let fx = r.end_session(&trainer);
    let mut c = credits(&fx);
    c.sort();
    assert_eq!(c, vec![60, 90]);
    assert_eq!(outgoing(&fx).iter().filter(|o| o.kind == "credit").count(), 2);
    assert!(records(&fx).iter().any(|r| matches!(r, Record::SessionEnded { .. })));
    assert!(r.kiosk.state().session.is_none());
}

#[test]
fn a_member_who_leaves_and_returns_is_credited_for_both_stays_but_never_twice() {
    let mut r = Rig::new();
    let trainer = member("t1", "李老师", &[Role::Trainer]);
    let a = member("m1", "张伟", &[Role::Member]);
    r.start_session(&trainer);
    r.tap(&a);
    r.advance_s(20 * 60);
    assert_eq!(credits(&r.tap(&a)), vec![20]);
    r.advance_s(10 * 60);
    assert_eq!(member_outcome(&r.tap(&a)), MemberOutcome::SignedIn);
    r.advance_s(30 * 60 - 6);
    assert_eq!(credits(&r.end_session(&trainer)), vec![30]);
}

#[test]
fn a_mobile_member_from_another_centre_is_accepted_and_marked() {
    let mut r = Rig::new();
    let trainer = member("t1", "李老师", &[Role::Trainer]);
    let mut visitor = member("m9", "赵敏", &[Role::Member]);
    visitor.home_centre = "c7".into();
    r.start_session(&trainer);
    let fx = r.tap(&visitor);
    assert_eq!(member_outcome(&fx), MemberOutcome::SignedIn);
    assert!(matches!(screen(&fx), Some(Screen::Member(v)) if v.mobile));
    assert!(records(&fx).iter().any(|r| matches!(r, Record::SignIn { mobile: true, .. })));
    let tap = outgoing(&fx).into_iter().find(|o| o.kind == "tap").unwrap();
    assert_eq!(tap.payload["mobile"], true);
    assert_eq!(tap.payload["home_centre"], "c7");
}

#[test]
fn a_trainer_tap_outside_a_session_opens_the_trainer_panel() {
    let mut r = Rig::new();
    let fx = r.tap(&member("t1", "李老师", &[Role::Member, Role::Trainer]));
    assert!(matches!(screen(&fx), Some(Screen::Trainer(v)) if v.session.is_none()));
    assert_eq!(tap_outcome(&fx), TapOutcome::TrainerPanel);
}

#[test]
fn a_technician_tap_outside_a_session_opens_the_technician_panel() {
    let mut r = Rig::new();
    let fx = r.tap(&member("x1", "陈工", &[Role::Technician]));
    assert!(matches!(screen(&fx), Some(Screen::Technician { .. })));
}

#[test]
fn the_session_trainer_tapping_during_the_session_gets_the_panel_with_the_live_list() {
    let mut r = Rig::new();
    let trainer = member("t1", "李老师", &[Role::Trainer]);
    r.start_session(&trainer);
    r.tap(&member("m1", "张伟", &[Role::Member]));
    r.tap(&member("m2", "王芳", &[Role::Member]));
    r.advance_s(6);
    match screen(&r.tap(&trainer)) {
        Some(Screen::Trainer(v)) => assert_eq!(v.session.unwrap().present.len(), 2),
        s => panic!("{s:?}"),
    }
}

#[test]
fn another_trainer_tapping_during_a_session_attends_it() {
    let mut r = Rig::new();
    r.start_session(&member("t1", "李老师", &[Role::Trainer]));
    let fx = r.tap(&member("t2", "周老师", &[Role::Member, Role::Trainer]));
    assert_eq!(member_outcome(&fx), MemberOutcome::SignedIn);
}

#[test]
fn a_result_screen_returns_to_idle_after_its_timeout() {
    let mut r = Rig::new();
    r.tap(&member("m1", "张伟", &[Role::Member]));
    r.advance_s(5);
    assert!(r.ev(Event::Tick).is_empty());
    r.advance_s(5);
    assert_eq!(screen(&r.ev(Event::Tick)), Some(Screen::Idle));
}

#[test]
fn a_second_tap_while_a_result_is_shown_replaces_it() {
    let mut r = Rig::new();
    r.tap(&member("m1", "张伟", &[Role::Member]));
    r.advance_s(1);
    let fx = r.tap(&member("m2", "王芳", &[Role::Member]));
    assert!(matches!(screen(&fx), Some(Screen::Member(v)) if v.name == "王芳"));
}

#[test]
fn a_member_cannot_start_a_session() {
    let mut r = Rig::new();
    r.tap(&member("m1", "张伟", &[Role::Member]));
    let fx = r.ev(Event::StartSession { schedule_id: None, title: "x".into() });
    assert_eq!(fx, vec![Effect::Sound(Signal::Error)]);
}

#[test]
fn a_random_uid_offered_for_enrolment_is_refused_with_its_reason_and_the_panel_keeps_waiting() {
    let mut r = Rig::new();
    r.tap(&member("x1", "陈工", &[Role::Technician]));
    r.ev(Event::BeginEnrol);
    let fx = r.tap_unknown("08A1B2C3");
    assert_eq!(screen(&fx), Some(Screen::Error(ErrorKind::RandomUid)));
    assert_eq!(sound(&fx), Some(Signal::Error));
    let phone = crate::model::CardUid::parse("08A1B2C3").unwrap();
    assert!(records(&r.ev(Event::EnrolCard { uid: phone, member_id: "m1".into() })).is_empty(), "never enrolled");
    r.advance_s(1);
    assert!(matches!(screen(&r.tap_unknown("0A0B0C0D")), Some(Screen::Enrol { uid: Some(_) })), "a real card is still taken");
}

#[test]
fn a_seven_byte_uid_starting_08_is_not_random() {
    assert!(crate::model::CardUid::parse("08A1B2C3").unwrap().is_random());
    assert!(!crate::model::CardUid::parse("08A1B2C3D4E5F6").unwrap().is_random());
    assert!(!crate::model::CardUid::parse("04A1B2C3").unwrap().is_random());
}

#[test]
fn two_cards_at_once_sign_nobody_in_and_say_so_once_while_they_stay() {
    let mut r = Rig::new();
    let (trainer, zhang) = (member("t1", "李老师", &[Role::Trainer]), member("m1", "张伟", &[Role::Member]));
    r.start_session(&trainer);
    r.advance_s(6);
    let fx = r.ev(Event::SeveralCards);
    assert_eq!(fx, vec![Effect::Show(Screen::Error(ErrorKind::TwoCards)), Effect::Sound(Signal::Error)]);
    for _ in 0..30 {
        r.advance_s(1);
        assert!(r.ev(Event::SeveralCards).is_empty(), "said once while the cards stay");
    }
    r.advance_s(6);
    assert_eq!(screen(&r.ev(Event::Tick)), Some(Screen::Idle), "the notice times out");
    // One card lifted: the one left is a tap of its own.
    assert_eq!(member_outcome(&r.tap(&zhang)), MemberOutcome::SignedIn);
}

#[test]
fn a_second_card_laid_on_a_held_one_does_not_make_the_held_card_arrive_again() {
    let mut r = Rig::new();
    let (trainer, zhang) = (member("t1", "李老师", &[Role::Trainer]), member("m1", "张伟", &[Role::Member]));
    r.start_session(&trainer);
    r.advance_s(6);
    r.tap(&zhang);
    // Twenty minutes later someone lays a second card on top for 8 s; the reader
    // reports only "several cards" meanwhile, then the held card alone again.
    let mut later = Vec::new();
    for _ in 0..1200 {
        r.advance_s(1);
        later.extend(r.tap(&zhang));
    }
    for _ in 0..8 {
        r.advance_s(1);
        r.ev(Event::SeveralCards);
    }
    r.advance_s(1);
    later.extend(r.tap(&zhang));
    assert!(records(&later).is_empty(), "{later:?}");
}
