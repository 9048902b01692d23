//! A kiosk driven by a hand-moved clock, with helpers to read its effects.

use crate::model::clock::Now;
use crate::*;
use crate::model::Signal;
use crate::model::{CardUid, Member, Role, YearSummary};
use ulid::Ulid;

pub const T0: i64 = 1_780_000_000_000; // 2026-05-28, a weekday morning (UTC)

pub struct Rig {
    pub kiosk: Kiosk,
    pub wall: i64,
    pub mono: i64,
    pub n: u64,
}

pub fn member(id: &str, name: &str, roles: &[Role]) -> Member {
    Member {
        id: id.into(),
        name: name.into(),
        branch: "第三支部".into(),
        home_centre: "c1".into(),
        roles: roles.to_vec(),
        cards: vec![card(id)],
        makeup: vec![],
    }
}

pub fn card(member_id: &str) -> CardUid {
    let n: u32 = member_id.bytes().map(u32::from).sum();
    CardUid::from_bytes(&n.to_be_bytes())
}

impl Rig {
    pub fn new() -> Self {
        Rig { kiosk: Kiosk::new(CoreConfig::defaults("c1", "d1")), wall: T0, mono: 0, n: 0 }
    }
    pub fn with(cfg: CoreConfig) -> Self {
        Rig { kiosk: Kiosk::new(cfg), wall: T0, mono: 0, n: 0 }
    }
    pub fn advance_s(&mut self, s: i64) {
        self.wall += s * 1000;
        self.mono += s * 1000;
    }
    pub fn ev(&mut self, e: Event) -> Vec<Effect> {
        self.n += 1;
        let ctx = Ctx { now: Now { wall_ms: self.wall, mono_ms: self.mono, synced: true }, fresh: Ulid::from_parts(self.wall as u64, u128::from(self.n) << 40) };
        self.kiosk.handle(e, ctx)
    }
    pub fn tap(&mut self, m: &Member) -> Vec<Effect> {
        self.tap_with(m, 0)
    }
    pub fn tap_with(&mut self, m: &Member, credited_minutes: i64) -> Vec<Effect> {
        let year = YearSummary { year: 2026, credited_minutes, owed: vec![] };
        self.ev(Event::CardTapped { uid: m.cards[0].clone(), holder: Holder::Known { member: m.clone(), year } })
    }
    pub fn tap_unknown(&mut self, uid: &str) -> Vec<Effect> {
        self.ev(Event::CardTapped { uid: CardUid::parse(uid).unwrap(), holder: Holder::Unknown })
    }
    /// Trainer taps in, starts a session.
    pub fn start_session(&mut self, trainer: &Member) {
        self.tap(trainer);
        let fx = self.ev(Event::StartSession { schedule_id: None, title: "微党课".into() });
        assert!(records(&fx).iter().any(|r| matches!(r, Record::SessionStarted { .. })), "{fx:?}");
    }
    pub fn end_session(&mut self, trainer: &Member) -> Vec<Effect> {
        self.advance_s(6);
        self.tap(trainer);
        self.ev(Event::EndSession)
    }
}

pub fn records(fx: &[Effect]) -> Vec<Record> {
    fx.iter().filter_map(|e| if let Effect::Write(r) = e { Some(r.clone()) } else { None }).collect()
}

pub fn outgoing(fx: &[Effect]) -> Vec<Outgoing> {
    fx.iter().filter_map(|e| if let Effect::Enqueue(o) = e { Some(o.clone()) } else { None }).collect()
}

pub fn screen(fx: &[Effect]) -> Option<Screen> {
    fx.iter().rev().find_map(|e| if let Effect::Show(s) = e { Some(s.clone()) } else { None })
}

pub fn sound(fx: &[Effect]) -> Option<Signal> {
    fx.iter().find_map(|e| if let Effect::Sound(s) = e { Some(*s) } else { None })
}

pub fn member_outcome(fx: &[Effect]) -> MemberOutcome {
    match screen(fx) {
        Some(Screen::Member(v)) => v.outcome,
        other => panic!("expected a member screen, got {other:?}"),
    }
}

pub fn tap_outcome(fx: &[Effect]) -> TapOutcome {
    records(fx)
        .into_iter()
        .find_map(|r| if let Record::Tap { outcome, .. } = r { Some(outcome) } else { None })
        .expect("a tap record")
}

pub fn credits(fx: &[Effect]) -> Vec<u32> {
    records(fx)
        .into_iter()
        .filter_map(|r| match r {
            Record::SignOut { credited_minutes, .. } => Some(credited_minutes),
            Record::SelfStudy { credited_minutes, .. } => Some(credited_minutes),
            _ => None,
        })
        .collect()
}
