//! Controller and view-mapping tests: every touch and core screen, without a UI.

use super::ambient::Playback;
use super::controller::{Touch, Page, UiAction, UiController, OVERLAY_TIMEOUT_MS};
use super::lang::Lang;
use super::samples;
use super::view::{self, OutcomeKind};
use crate::core::{Event, MemberOutcome, Screen};
use crate::model::CardUid;

fn ctl_with(screen: Screen) -> UiController {
    let mut c = UiController::new();
    c.show(screen);
    c
}

fn trainer() -> Screen {
    Screen::Trainer(samples::trainer_view(false))
}

#[test]
fn a_tap_closes_the_library_because_the_core_screen_wins() {
    let a = samples::ambient();
    let mut c = ctl_with(Screen::Idle);
    assert!(c.input(Touch::OpenLibrary, &a, 0).is_empty());
    assert_eq!(c.page(), Page::Library);
    c.show(Screen::Member(samples::member_view(MemberOutcome::SignedIn)));
    assert_eq!(c.page(), Page::Member);
}

#[test]
fn back_on_a_ui_page_closes_it_and_back_on_a_core_screen_tells_the_core() {
    let a = samples::ambient();
    let mut c = ctl_with(Screen::Member(samples::member_view(MemberOutcome::Status)));
    c.input(Touch::OpenSurvey, &a, 0);
    assert_eq!(c.input(Touch::Dismiss, &a, 1), vec![]);
    assert_eq!(c.page(), Page::Member);
    assert_eq!(c.input(Touch::Dismiss, &a, 2), vec![UiAction::Core(Event::Dismiss)]);
}

#[test]
fn ui_pages_close_after_a_minute_without_a_touch() {
    let a = samples::ambient();
    let mut c = ctl_with(Screen::Idle);
    c.input(Touch::OpenTechnician, &a, 1_000);
    c.input(Touch::PinKey("1".into()), &a, 2_000);
    assert!(!c.tick(2_000 + OVERLAY_TIMEOUT_MS - 1));
    assert_eq!(c.page(), Page::Pin);
    assert!(c.tick(2_000 + OVERLAY_TIMEOUT_MS));
    assert_eq!(c.page(), Page::Idle);
    assert_eq!(c.pin, "", "a half-typed PIN does not survive the timeout");
}

#[test]
fn the_pin_is_handed_over_on_ok_and_a_wrong_one_is_said_so() {
    let a = samples::ambient();
    let mut c = ctl_with(Screen::Idle);
    c.input(Touch::OpenTechnician, &a, 0);
    for k in ["1", "2", "x", "3", "back", "4"] {
        assert!(c.input(Touch::PinKey(k.into()), &a, 0).is_empty());
    }
    assert_eq!(c.input(Touch::PinKey("ok".into()), &a, 0), vec![UiAction::TechnicianPin("124".into())]);
    c.pin_rejected();
    let v = view::build(&c, &a, &Playback::default());
    assert!(v.pin.wrong);
    assert_eq!(v.pin.length, 0);
    assert!(c.input(Touch::PinKey("ok".into()), &a, 0).is_empty(), "an empty PIN is not sent");
}

#[test]
fn a_scheduled_session_starts_with_its_own_title() {
    let a = samples::ambient();
    let mut c = ctl_with(trainer());
    assert_eq!(
        c.input(Touch::StartSession { schedule_id: "s2".into() }, &a, 0),
        vec![UiAction::Core(Event::StartSession { schedule_id: Some("s2".into()), title: "党章党规微党课".into() })]
    );
}

#[test]
fn an_ad_hoc_session_is_named_after_the_picked_course_or_generically() {
    let a = samples::ambient();
    let mut c = ctl_with(trainer());
    let start = |c: &mut UiController| c.input(Touch::StartSession { schedule_id: String::new() }, &a, 0);
    assert_eq!(start(&mut c), vec![UiAction::Core(Event::StartSession { schedule_id: None, title: "临时课次".into() })]);
    c.input(Touch::OpenLibrary, &a, 0);
    c.input(Touch::PickCourse("c-law".into()), &a, 0);
    assert_eq!(c.page(), Page::Trainer, "picking a course closes the library");
    assert_eq!(start(&mut c), vec![UiAction::Core(Event::StartSession { schedule_id: None, title: "民法典与社区生活".into() })]);
    c.input(Touch::SetLanguage("en".into()), &a, 0);
    assert_eq!(start(&mut c), vec![UiAction::Core(Event::StartSession { schedule_id: None, title: "The Civil Code and community life".into() })]);
}

#[test]
fn a_course_that_is_not_in_the_catalogue_cannot_be_picked() {
    let a = samples::ambient();
    let mut c = ctl_with(trainer());
    c.input(Touch::PickCourse("nope".into()), &a, 0);
    assert_eq!(view::build(&c, &a, &Playback::default()).trainer.picked_course_id, "");
    assert!(c.input(Touch::Play(String::new()), &a, 0).is_empty());
}

#[test]
fn the_picked_course_is_forgotten_when_the_trainer_leaves() {
    let a = samples::ambient();
    let mut c = ctl_with(trainer());
    c.input(Touch::PickCourse("c-rules".into()), &a, 0);
    c.show(Screen::Player { course_id: "c-rules".into(), title: "t".into() });
    c.show(trainer());
    assert_eq!(view::build(&c, &a, &Playback::default()).trainer.picked_course_id, "c-rules", "kept across the video");
    c.show(Screen::Idle);
    c.show(trainer());
    assert_eq!(view::build(&c, &a, &Playback::default()).trainer.picked_course_id, "");
}

#[test]
fn only_one_to_five_stars_reach_the_core() {
    let a = samples::ambient();
    let mut c = ctl_with(Screen::RatingPrompt { member_name: "王芳".into(), session_title: "t".into() });
    assert!(c.input(Touch::Rate(0), &a, 0).is_empty());
    assert!(c.input(Touch::Rate(6), &a, 0).is_empty());
    assert_eq!(c.input(Touch::Rate(4), &a, 0), vec![UiAction::Core(Event::RatingGiven { stars: 4 })]);
}

#[test]
fn the_survey_sends_the_chosen_topics_and_an_empty_one_sends_nothing() {
    let a = samples::ambient();
    let mut c = ctl_with(Screen::Member(samples::member_view(MemberOutcome::Status)));
    c.input(Touch::OpenSurvey, &a, 0);
    assert!(c.input(Touch::SubmitSurvey, &a, 0).is_empty());
    c.input(Touch::OpenSurvey, &a, 0);
    for i in [0, 2, 2, 3, 99, -1] {
        c.input(Touch::ToggleTopic(i), &a, 0);
    }
    assert_eq!(
        c.input(Touch::SubmitSurvey, &a, 0),
        vec![UiAction::Core(Event::SurveyAnswered { topics: vec![a.survey_topics[0].clone(), a.survey_topics[3].clone()] })]
    );
}

#[test]
fn a_card_is_enrolled_only_for_a_pending_card_and_a_known_member() {
    let a = samples::ambient();
    let uid = CardUid::parse("04C0FFEE").unwrap();
    let mut c = ctl_with(Screen::Enrol { uid: None });
    assert!(c.input(Touch::EnrolMember("m001".into()), &a, 0).is_empty());
    c.show(Screen::Enrol { uid: Some(uid.clone()) });
    assert!(c.input(Touch::EnrolMember("ghost".into()), &a, 0).is_empty());
    assert_eq!(
        c.input(Touch::EnrolMember("m002".into()), &a, 0),
        vec![UiAction::Core(Event::EnrolCard { uid, member_id: "m002".into() })]
    );
}

#[test]
fn enrolment_candidates_follow_the_typed_text() {
    let a = samples::ambient();
    let mut c = ctl_with(Screen::Enrol { uid: Some(CardUid::parse("01020304").unwrap()) });
    for k in ["t", "0"] {
        c.input(Touch::EnrolKey(k.into()), &a, 0);
    }
    let names: Vec<String> = view::build(&c, &a, &Playback::default()).enrol.candidates.into_iter().map(|r| r.text).collect();
    assert_eq!(names, vec!["李老师", "周老师"]);
}

#[test]
fn a_language_change_is_reported_once() {
    let a = samples::ambient();
    let mut c = UiController::new();
    assert_eq!(c.input(Touch::SetLanguage("en".into()), &a, 0), vec![UiAction::LanguageChanged(Lang::En)]);
    assert!(c.input(Touch::SetLanguage("en".into()), &a, 0).is_empty());
    assert!(c.input(Touch::SetLanguage("klingon".into()), &a, 0).is_empty());
    assert_eq!(view::build(&c, &a, &Playback::default()).common.date, "Thu 5 Mar 2026");
}

#[test]
fn the_member_screen_shows_hours_against_the_quota() {
    let a = samples::ambient();
    let mut m = samples::member_view(MemberOutcome::SignedOut { credited_minutes: 90 });
    let c = ctl_with(Screen::Member(m.clone()));
    let v = view::build(&c, &a, &Playback::default());
    assert_eq!((v.member.hours.as_str(), v.member.quota, v.member.outcome, v.member.credited_minutes), ("18.5", 32, OutcomeKind::SignedOut, 90));
    assert!((v.member.progress - 185.0 / 320.0).abs() < 1e-6);
    assert_eq!(v.member.owed.len(), 2);
    assert!(v.member.mobile);
    m.hours_tenths = 400;
    m.outcome = MemberOutcome::AlreadySignedIn { since_ms: samples::NOW_MS - 20 * 60_000 };
    let v = view::build(&ctl_with(Screen::Member(m)), &a, &Playback::default());
    assert_eq!(v.member.progress, 1.0, "more than the quota shows as a full bar");
    assert_eq!(v.member.since, "13:45");
}

#[test]
fn the_trainer_panel_lists_who_is_signed_in_with_their_time() {
    let a = samples::ambient();
    let v = view::build(&ctl_with(Screen::Trainer(samples::trainer_view(true))), &a, &Playback::default());
    assert!(v.trainer.session_running);
    assert_eq!(v.trainer.session_started, "14:00");
    let rows: Vec<(String, String)> = v.trainer.attendees.into_iter().map(|r| (r.text, r.detail)).collect();
    assert_eq!(rows[0], ("张伟".to_string(), "14:01".to_string()));
    assert_eq!(rows.len(), 3);
}

#[test]
fn the_schedule_marks_the_session_running_now() {
    let v = view::build(&UiController::new(), &samples::ambient(), &Playback::default());
    let current: Vec<&str> = v.idle.schedule.iter().filter(|s| s.current).map(|s| s.time.as_str()).collect();
    assert_eq!(current, vec!["14:00"]);
}

#[test]
fn the_player_shows_position_and_duration() {
    let c = ctl_with(Screen::Player { course_id: "c-rules".into(), title: String::new() });
    let v = view::build(&c, &samples::ambient(), &Playback { position_s: 90, duration_s: 900, paused: true });
    assert_eq!((v.player.title.as_str(), v.player.position.as_str(), v.player.duration.as_str()), ("c-rules", "01:30", "15:00"));
    assert!((v.player.progress - 0.1).abs() < 1e-6);
    assert!(v.player.paused);
}

#[test]
fn a_first_boot_shows_the_wizard_over_everything() {
    let a = samples::ambient();
    let mut c = UiController::new();
    c.set_first_boot(true);
    c.show(Screen::Member(samples::member_view(MemberOutcome::Status)));
    assert_eq!(c.page(), Page::Provision);
    c.input(Touch::WizardNext, &a, 0);
    for ch in "d01".chars() {
        c.input(Touch::WizardKey(ch.to_string()), &a, 0);
    }
    let v = view::build(&c, &a, &Playback::default());
    assert_eq!(v.wizard.step, 1);
    assert_eq!(v.wizard.fields[0], ("district".to_string(), "d01".to_string(), true));
    c.set_first_boot(false);
    assert_eq!(c.page(), Page::Member);
}

#[test]
fn the_technician_panel_shows_the_last_sync_and_the_answer_to_sync_now() {
    use super::ambient::SyncState;
    let c = ctl_with(Screen::Technician { name: "陈工".into() });
    let mut a = samples::ambient();
    let rows = |a: &super::Ambient| view::build(&c, a, &Playback::default()).technician.info;
    let last = |a: &super::Ambient| rows(a).into_iter().find(|r| r.0 == "上次同步").expect("a last-sync row");
    assert_eq!(last(&a).1, "14:02");
    a.last_sync_ms = None;
    assert_eq!(last(&a), ("上次同步".to_string(), "尚未同步".to_string(), false));
    assert!(!rows(&a).iter().any(|r| r.0 == "立即同步"), "no sync answer before the button is pressed");
    a.sync = SyncState::NoHub;
    let answer = rows(&a).into_iter().find(|r| r.0 == "立即同步").unwrap();
    assert!(answer.1.contains("未配置督导平台") && !answer.2);
    a.sync = SyncState::Done { at_ms: a.now_ms };
    assert_eq!(rows(&a).into_iter().find(|r| r.0 == "立即同步").unwrap().1, "已完成 14:05");
}

#[test]
fn the_wizard_board_step_lists_the_ambient_boards_and_marks_the_chosen_one() {
    let a = samples::ambient();
    let mut c = UiController::new();
    c.set_first_boot(true);
    c.wizard.as_mut().expect("wizard").step = super::wizard::STEP_BOARD;
    c.input(Touch::WizardBoard(7), &a, 0);
    c.input(Touch::WizardBoard(-1), &a, 0);
    let v = view::build(&c, &a, &Playback::default());
    assert_eq!(v.wizard.boards.len(), 3);
    assert!(v.wizard.boards.iter().all(|b| !b.2), "an index outside the list chooses nothing");
    c.input(Touch::WizardBoard(2), &a, 0);
    let v = view::build(&c, &a, &Playback::default());
    assert_eq!(v.wizard.boards[2], ("usb".to_string(), "pi4-usb-reader".to_string(), true));
    assert_eq!(v.wizard.fields[0].1, "pi4-usb-reader", "the field shows the board file's name");
}
