//! Sample data for every screen: used by the golden-image tests, the UI
//! benchmark and the screenshot gallery. Fixed times so renders are
//! reproducible; never used by the running kiosk's logic.

use super::ambient::{Ambient, DeviceFact, LibraryCourse, LinkState, RosterEntry, ScheduleItem};
use super::controller::{Touch, Page};
use crate::board::BoardChoice;
use crate::core::{Attendee, ErrorKind, MemberOutcome, MemberView, Screen, SessionView, TrainerView};
use crate::model::{CardUid, Millis, OwedCourse};

/// 2026-03-05 14:05 Beijing time (a Thursday).
pub const NOW_MS: Millis = 1_772_690_700_000;
const MIN: Millis = 60_000;

fn uid(s: &str) -> CardUid {
    CardUid::parse(s).unwrap_or_else(|_| CardUid::from_bytes(&[0, 0, 0, 0]))
}

/// A centre with today's schedule, the demo catalogue and roster.
pub fn ambient() -> Ambient {
    let day = |h: i64, m: i64| NOW_MS - (14 * 60 + 5) * MIN + (h * 60 + m) * MIN;
    Ambient {
        centre: "幸福里社区微课堂".into(),
        now_ms: NOW_MS,
        schedule: vec![
            ScheduleItem { id: "s1".into(), start_ms: day(9, 0), end_ms: day(10, 30), title: "党史学习：百年奋斗".into(), trainer: "李老师".into() },
            ScheduleItem { id: "s2".into(), start_ms: day(14, 0), end_ms: day(15, 0), title: "党章党规微党课".into(), trainer: "周老师".into() },
            ScheduleItem { id: "s3".into(), start_ms: day(19, 0), end_ms: day(20, 30), title: "民法典与社区生活".into(), trainer: "李老师".into() },
        ],
        link: LinkState::Online,
        last_sync_ms: Some(NOW_MS - 3 * MIN),
        backlog: 3,
        courses: crate::demo::courses()
            .into_iter()
            .enumerate()
            .map(|(i, course)| LibraryCourse { course, cached: i != 2 })
            .collect(),
        roster: crate::demo::members()
            .into_iter()
            .map(|m| RosterEntry { id: m.id, name: m.name, branch: m.branch })
            .collect(),
        device: vec![
            DeviceFact { label: "设备 Device".into(), value: "demo-centre / pi-07 · v0.1.0".into(), ok: true },
            DeviceFact { label: "网络 Network".into(), value: "eth0 192.168.1.57".into(), ok: true },
            DeviceFact { label: "读卡器 Reader".into(), value: "MFRC522 v2.0 (SPI0)".into(), ok: true },
            DeviceFact { label: "缓存 Cache".into(), value: "4 / 5 · 2.1 GB of 24 GB".into(), ok: true },
            DeviceFact { label: "磁盘 Disk".into(), value: "31% used".into(), ok: true },
        ],
        boards: vec![
            BoardChoice { value: "sim".into(), name: "sim".into(), reader: "sim" },
            BoardChoice { value: format!("{}/pi4-mfrc522.toml", crate::board::BOARD_DIR), name: "pi4-mfrc522".into(), reader: "mfrc522" },
            BoardChoice { value: format!("{}/pi4-usb-reader.toml", crate::board::BOARD_DIR), name: "pi4-usb-reader".into(), reader: "usb" },
        ],
        ..Ambient::default()
    }
}

pub fn member_view(outcome: MemberOutcome) -> MemberView {
    MemberView {
        name: "张伟".into(),
        branch: "第三支部".into(),
        outcome,
        hours_tenths: 185,
        quota_hours: 32,
        owed: vec![
            OwedCourse { id: "c-history".into(), title: "党史学习：百年奋斗".into() },
            OwedCourse { id: "c-rules".into(), title: "党章党规微党课".into() },
        ],
        makeup: vec!["民法典与社区生活".into()],
        mobile: true,
    }
}

pub fn trainer_view(running: bool) -> TrainerView {
    TrainerView {
        name: "李老师".into(),
        session: running.then(|| SessionView {
            id: "sess-1".into(),
            title: "党章党规微党课".into(),
            started_ms: NOW_MS - 5 * MIN,
            present: [("m001", "张伟", 4), ("m002", "王芳", 3), ("m003", "李娜", 1)]
                .iter()
                .map(|(id, name, ago)| Attendee { member_id: (*id).into(), name: (*name).into(), in_ms: NOW_MS - ago * MIN })
                .collect(),
        }),
    }
}

/// One named state per page (some pages in two states), as (name, core
/// screen, UI touches to apply after showing it, first boot).
pub struct Sample {
    pub name: &'static str,
    pub page: Page,
    pub screen: Screen,
    pub inputs: Vec<Touch>,
    pub first_boot: bool,
}

fn s(name: &'static str, page: Page, screen: Screen, inputs: Vec<Touch>) -> Sample {
    Sample { name, page, screen, inputs, first_boot: false }
}

pub fn all() -> Vec<Sample> {
    let trainer = |running| Screen::Trainer(trainer_view(running));
    let keys = |t: &str| t.chars().map(|c| Touch::WizardKey(c.to_string())).collect::<Vec<_>>();
    // The wizard, step by step: each sample goes one step further.
    let mut wizard = vec![Touch::WizardNext];
    wizard.extend(keys("d01"));
    wizard.push(Touch::WizardField(1));
    wizard.extend(keys("c17"));
    wizard.push(Touch::WizardField(2));
    let mut board = wizard.clone();
    board.extend(keys("pi-07"));
    board.push(Touch::WizardNext);
    let mut hub = board.clone();
    board.push(Touch::WizardBoard(1));
    hub.extend([Touch::WizardBoard(0), Touch::WizardNext]);
    hub.extend(keys("mqtts://hub.example.cn:8883"));
    hub.push(Touch::WizardField(1));
    let key = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
    let mut confirm = hub.clone();
    hub.extend(keys(&key[..36]));
    confirm.extend(keys(key));
    confirm.push(Touch::WizardNext);
    confirm.extend(keys("258036"));
    confirm.push(Touch::WizardNext);
    let first_boot = |name, inputs| Sample { name, page: Page::Provision, screen: Screen::Idle, inputs, first_boot: true };
    vec![
        s("idle", Page::Idle, Screen::Idle, vec![]),
        s("member-signed-in", Page::Member, Screen::Member(member_view(MemberOutcome::SignedIn)), vec![]),
        s("member-already", Page::Member, Screen::Member(member_view(MemberOutcome::AlreadySignedIn { since_ms: NOW_MS - 20 * MIN })), vec![]),
        s("unknown-card", Page::UnknownCard, Screen::UnknownCard { uid: uid("04A1B2FF") }, vec![]),
        s("trainer-start", Page::Trainer, trainer(false), vec![Touch::PickCourse("c-rules".into())]),
        s("trainer-session", Page::Trainer, trainer(true), vec![Touch::PickCourse("c-rules".into())]),
        s("player", Page::Player, Screen::Player { course_id: "c-rules".into(), title: "党章党规微党课".into() }, vec![]),
        s("rating", Page::RatingPrompt, Screen::RatingPrompt { member_name: "王芳".into(), session_title: "党章党规微党课".into() }, vec![]),
        s("rating-thanks", Page::RatingThanks, Screen::RatingThanks { member_name: "王芳".into(), stars: 5 }, vec![]),
        s("survey", Page::Survey, Screen::Member(member_view(MemberOutcome::Status)), vec![Touch::OpenSurvey, Touch::ToggleTopic(1), Touch::ToggleTopic(4)]),
        s("survey-thanks", Page::SurveyThanks, Screen::SurveyThanks, vec![]),
        s("library", Page::Library, trainer(true), vec![Touch::OpenLibrary, Touch::PickCourse("c-rules".into()), Touch::OpenLibrary]),
        s("pin", Page::Pin, Screen::Idle, vec![Touch::OpenTechnician, Touch::PinKey("1".into()), Touch::PinKey("2".into())]),
        s("technician", Page::Technician, Screen::Technician { name: "陈工".into() }, vec![Touch::ReaderTest]),
        s("enrol-wait", Page::Enrol, Screen::Enrol { uid: None }, vec![]),
        s("enrol-choose", Page::Enrol, Screen::Enrol { uid: Some(uid("04C0FFEE")) }, vec![Touch::EnrolKey("m".into()), Touch::EnrolKey("0".into())]),
        first_boot("provision-language", vec![]),
        first_boot("provision", wizard),
        first_boot("provision-board", board),
        first_boot("provision-hub", hub),
        first_boot("provision-confirm", confirm),
        s("error-reader", Page::Error, Screen::Error(ErrorKind::ReaderFault), vec![]),
        s("error-random-uid", Page::Error, Screen::Error(ErrorKind::RandomUid), vec![]),
        s("error-two-cards", Page::Error, Screen::Error(ErrorKind::TwoCards), vec![]),
        s("error-disk", Page::Error, Screen::Error(ErrorKind::DiskFull), vec![]),
        s("error-database", Page::Error, Screen::Error(ErrorKind::Database), vec![]),
    ]
}
