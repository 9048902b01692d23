use super::fixture::*;
use crate::*;
use crate::model::Role;

fn course(id: &str, minutes: u32) -> PlayedCourse {
    PlayedCourse { id: id.into(), title: "微党课".into(), duration_s: minutes * 60, credit_minutes: minutes, required: true }
}

#[test]
fn members_who_attended_may_rate_the_session_once_after_it_ends() {
    let mut r = Rig::new();
    let trainer = member("t1", "李老师", &[Role::Trainer]);
    let (a, b, c) = (member("m1", "张伟", &[]), member("m2", "王芳", &[]), member("m3", "刘洋", &[]));
    r.start_session(&trainer);
    r.tap(&a);
    r.tap(&b);
    r.advance_s(3600);
    r.end_session(&trainer);
    r.advance_s(10);
    assert!(matches!(screen(&r.tap(&a)), Some(Screen::RatingPrompt { .. })));
    let fx = r.ev(Event::RatingGiven { stars: 5 });
    assert!(records(&fx).iter().any(|r| matches!(r, Record::Rating { stars: 5, member_id, .. } if member_id == "m1")));
    assert_eq!(outgoing(&fx)[0].kind, "rating");
    r.advance_s(10);
    assert_eq!(member_outcome(&r.tap(&a)), MemberOutcome::Status, "a second rating is not offered");
    assert_eq!(member_outcome(&r.tap(&c)), MemberOutcome::Status, "a non-attendee is not asked");
    assert!(matches!(screen(&r.tap(&b)), Some(Screen::RatingPrompt { .. })));
    assert!(!records(&r.ev(Event::RatingGiven { stars: 3 })).is_empty());
}

#[test]
fn a_rating_outside_one_to_five_is_refused() {
    let mut r = Rig::new();
    let trainer = member("t1", "李老师", &[Role::Trainer]);
    let a = member("m1", "张伟", &[]);
    r.start_session(&trainer);
    r.tap(&a);
    r.end_session(&trainer);
    r.advance_s(10);
    r.tap(&a);
    assert!(records(&r.ev(Event::RatingGiven { stars: 6 })).is_empty());
}

#[test]
fn a_course_played_to_the_end_in_a_session_completes_it_for_everyone_present() {
    let mut r = Rig::new();
    let trainer = member("t1", "李老师", &[Role::Trainer]);
    r.start_session(&trainer);
    r.tap(&member("m1", "张伟", &[]));
    r.tap(&member("m2", "王芳", &[]));
    r.advance_s(6);
    r.tap(&trainer);
    let fx = r.ev(Event::PlayStarted { course: course("c-15", 15), position_s: 0 });
    assert!(fx.contains(&Effect::PlayVideo { course_id: "c-15".into() }));
    r.advance_s(15 * 60);
    let fx = r.ev(Event::PlayStopped { position_s: 900, watched_s: 900, reached_end: true });
    let done: Vec<_> = records(&fx).into_iter().filter(|r| matches!(r, Record::Completion { .. })).collect();
    assert_eq!(done.len(), 2);
    let play = outgoing(&fx).into_iter().find(|o| o.kind == "play").unwrap();
    assert_eq!(play.payload["completed"], true);
    assert_eq!(play.payload["watched_s"], 900);
}

#[test]
fn a_course_stopped_half_way_is_recorded_as_played_but_not_completed() {
    let mut r = Rig::new();
    let trainer = member("t1", "李老师", &[Role::Trainer]);
    r.start_session(&trainer);
    r.tap(&member("m1", "张伟", &[]));
    r.advance_s(6);
    r.tap(&trainer);
    r.ev(Event::PlayStarted { course: course("c-15", 15), position_s: 0 });
    r.advance_s(400);
    let fx = r.ev(Event::PlayStopped { position_s: 400, watched_s: 400, reached_end: false });
    assert!(records(&fx).iter().any(|r| matches!(r, Record::Play { completed: false, watched_s: 400, .. })));
    assert!(!records(&fx).iter().any(|r| matches!(r, Record::Completion { .. })));
}

#[test]
fn a_member_studying_alone_is_credited_by_watched_time() {
    let mut r = Rig::new();
    let a = member("m1", "张伟", &[]);
    r.tap(&a);
    r.ev(Event::PlayStarted { course: course("c-60", 60), position_s: 0 });
    r.advance_s(50 * 60);
    let fx = r.ev(Event::PlayStopped { position_s: 40 * 60, watched_s: 40 * 60 + 59, reached_end: false });
    assert_eq!(credits(&fx), vec![40]);
    let credit = outgoing(&fx).into_iter().find(|o| o.kind == "credit").unwrap();
    assert_eq!(credit.payload["source"], "self_study");
    assert_eq!(credit.payload["course"], "c-60");
}

#[test]
fn self_study_credit_never_exceeds_the_course_length() {
    let mut r = Rig::new();
    r.tap(&member("m1", "张伟", &[]));
    r.ev(Event::PlayStarted { course: course("c-15", 15), position_s: 0 });
    r.advance_s(3600);
    let fx = r.ev(Event::PlayStopped { position_s: 900, watched_s: 3600, reached_end: true });
    assert_eq!(credits(&fx), vec![15]);
}

#[test]
fn nobody_can_play_a_video_from_the_idle_screen() {
    let mut r = Rig::new();
    assert_eq!(r.ev(Event::PlayStarted { course: course("c", 15), position_s: 0 }), vec![Effect::Sound(crate::model::Signal::Error)]);
}

#[test]
fn a_technician_enrols_an_unknown_card_by_tapping_it_and_choosing_the_member() {
    let mut r = Rig::new();
    r.tap(&member("x1", "陈工", &[Role::Technician]));
    assert_eq!(screen(&r.ev(Event::BeginEnrol)), Some(Screen::Enrol { uid: None }));
    let fx = r.tap_unknown("0A0B0C0D");
    assert!(matches!(screen(&fx), Some(Screen::Enrol { uid: Some(_) })));
    let uid = crate::model::CardUid::parse("0A0B0C0D").unwrap();
    let fx = r.ev(Event::EnrolCard { uid: uid.clone(), member_id: "m1".into() });
    assert!(records(&fx).contains(&Record::CardEnrolled { uid, member_id: "m1".into(), at_ms: r.wall }));
    assert_eq!(outgoing(&fx)[0].kind, "card_enrolled");
}

#[test]
fn enrolling_a_card_that_was_not_tapped_is_refused() {
    let mut r = Rig::new();
    r.tap(&member("x1", "陈工", &[Role::Technician]));
    r.ev(Event::BeginEnrol);
    let fx = r.ev(Event::EnrolCard { uid: crate::model::CardUid::parse("01").unwrap(), member_id: "m1".into() });
    assert!(records(&fx).is_empty());
}

#[test]
fn a_member_answers_the_needs_survey() {
    let mut r = Rig::new();
    r.tap(&member("m1", "张伟", &[]));
    let fx = r.ev(Event::SurveyAnswered { topics: vec!["党史".into(), "".into()] });
    assert!(records(&fx).iter().any(|r| matches!(r, Record::Survey { topics, .. } if topics == &vec!["党史".to_string()])));
}

#[test]
fn a_technician_who_entered_the_pin_can_enrol_an_unknown_card() {
    let mut r = Rig::new();
    let fx = r.ev(Event::TechnicianUnlocked { by: Unlock::Pin });
    assert_eq!(screen(&fx), Some(Screen::Technician { name: PIN_TECHNICIAN.into() }));
    assert!(records(&fx).is_empty(), "a PIN is not a tap: no tap row");
    assert_eq!(screen(&r.ev(Event::BeginEnrol)), Some(Screen::Enrol { uid: None }));
    let fx = r.tap_unknown("0A0B0C0D");
    assert!(matches!(screen(&fx), Some(Screen::Enrol { uid: Some(_) })));
    let uid = crate::model::CardUid::parse("0A0B0C0D").unwrap();
    let fx = r.ev(Event::EnrolCard { uid: uid.clone(), member_id: "m1".into() });
    assert!(records(&fx).contains(&Record::CardEnrolled { uid, member_id: "m1".into(), at_ms: r.wall }));
    assert_eq!(screen(&fx), Some(Screen::Technician { name: PIN_TECHNICIAN.into() }));
}

#[test]
fn without_the_pin_or_a_technician_card_enrolment_is_refused() {
    let mut r = Rig::new();
    assert_eq!(r.ev(Event::BeginEnrol), vec![Effect::Sound(crate::model::Signal::Error)]);
}

#[test]
fn a_pin_opened_panel_locks_again_after_its_short_timeout() {
    let mut r = Rig::new();
    r.ev(Event::TechnicianUnlocked { by: Unlock::Pin });
    r.ev(Event::BeginEnrol);
    r.advance_s(PIN_PANEL_MS / 1000 - 1);
    assert_eq!(screen(&r.ev(Event::Tick)), None, "still open just before the timeout");
    r.advance_s(1);
    assert_eq!(screen(&r.ev(Event::Tick)), Some(Screen::Idle));
    assert_eq!(r.ev(Event::BeginEnrol), vec![Effect::Sound(crate::model::Signal::Error)], "locked: enrolment needs the PIN again");
    let fx = r.tap_unknown("0A0B0C0D");
    assert!(matches!(screen(&fx), Some(Screen::UnknownCard { .. })));
}

#[test]
fn a_technician_card_keeps_the_longer_panel_timeout() {
    let mut r = Rig::new();
    r.tap(&member("x1", "陈工", &[Role::Technician]));
    r.advance_s(PIN_PANEL_MS / 1000);
    assert_eq!(screen(&r.ev(Event::Tick)), None, "the configured panel timeout is longer than the PIN's");
}

#[test]
fn the_pin_cannot_open_the_panel_while_a_video_plays() {
    let mut r = Rig::new();
    r.tap(&member("m1", "张伟", &[]));
    r.ev(Event::PlayStarted { course: course("c", 15), position_s: 0 });
    assert_eq!(r.ev(Event::TechnicianUnlocked { by: Unlock::Pin }), vec![Effect::Sound(crate::model::Signal::Error)]);
}

#[test]
fn opening_the_panel_with_the_pin_queues_a_technician_unlock_for_the_hub() {
    let mut r = Rig::new();
    let fx = r.ev(Event::TechnicianUnlocked { by: Unlock::Pin });
    let msgs = outgoing(&fx);
    assert_eq!(msgs.len(), 1, "{fx:?}");
    let p = &msgs[0].payload;
    assert_eq!(msgs[0].kind, "technician_unlock");
    assert_eq!(p["id"].as_str(), Some(msgs[0].id.as_str()));
    assert_eq!((p["method"].as_str(), p["at"].as_i64(), p["clock_synced"].as_bool()), (Some("pin"), Some(r.wall), Some(true)));
    assert!(p["uid"].is_null() && p["member"].is_null() && p["tap"].is_null(), "a PIN names no card: {p}");
    assert!(records(&fx).is_empty(), "the outbox message is the whole log: no table row");
}

#[test]
fn each_pin_unlock_gets_its_own_record() {
    let mut r = Rig::new();
    let first = outgoing(&r.ev(Event::TechnicianUnlocked { by: Unlock::Pin }));
    r.advance_s(1);
    let second = outgoing(&r.ev(Event::TechnicianUnlocked { by: Unlock::Pin }));
    assert_ne!(first[0].id, second[0].id);
}

#[test]
fn a_technician_card_opening_the_panel_is_logged_with_the_card_its_holder_and_the_tap() {
    let mut r = Rig::new();
    let tech = member("x1", "陈工", &[Role::Technician]);
    let fx = r.tap(&tech);
    let msgs = outgoing(&fx);
    let tap = msgs.iter().find(|o| o.kind == "tap").expect("the tap message");
    let unlock = msgs.iter().find(|o| o.kind == "technician_unlock").expect("the unlock message");
    assert_ne!(tap.id, unlock.id);
    let p = &unlock.payload;
    assert_eq!(p["method"].as_str(), Some("card"));
    assert_eq!(p["uid"].as_str(), Some(tech.cards[0].as_str()));
    assert_eq!(p["member"].as_str(), Some("x1"));
    assert_eq!(p["tap"].as_str(), Some(tap.id.as_str()));
}

#[test]
fn a_pin_refused_while_a_video_plays_logs_no_unlock() {
    let mut r = Rig::new();
    r.tap(&member("m1", "张伟", &[]));
    r.ev(Event::PlayStarted { course: course("c", 15), position_s: 0 });
    assert!(outgoing(&r.ev(Event::TechnicianUnlocked { by: Unlock::Pin })).is_empty());
}

#[test]
fn a_member_or_trainer_tap_logs_no_technician_unlock() {
    let mut r = Rig::new();
    for m in [member("m1", "张伟", &[]), member("t1", "李老师", &[Role::Trainer])] {
        let fx = r.tap(&m);
        assert!(!outgoing(&fx).iter().any(|o| o.kind == "technician_unlock"), "{fx:?}");
    }
}

#[test]
fn a_card_enrolled_by_the_hub_is_recorded_and_reported_like_one_enrolled_at_the_panel() {
    let mut r = Rig::new();
    let uid = crate::model::CardUid::parse("04AA55AA").unwrap();
    let fx = r.ev(Event::HubEnrolCard { uid: uid.clone(), member_id: "m1".into(), on_roster: true });
    assert!(records(&fx).contains(&Record::CardEnrolled { uid, member_id: "m1".into(), at_ms: r.wall }));
    let msgs = outgoing(&fx);
    assert_eq!(msgs.iter().map(|m| m.kind.to_string()).collect::<Vec<_>>(), vec!["card_enrolled".to_string()]);
    assert_eq!(screen(&fx), None, "the hub's enrolment leaves the screen alone");
}

#[test]
fn the_hub_cannot_enrol_a_card_for_a_member_this_device_does_not_know() {
    let mut r = Rig::new();
    let fx = r.ev(Event::HubEnrolCard { uid: crate::model::CardUid::parse("04AA55AB").unwrap(), member_id: "nobody".into(), on_roster: false });
    assert!(fx.is_empty(), "{fx:?}");
}
