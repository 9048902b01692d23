//! What a card tap means (rules in docs/attendance.md): presence (a tap is a
//! card arriving, not every sighting of it), sign in,
//! sign out after the minimum stay, panels for trainers and technicians,
//! rating prompts, unknown cards.

use super::effect::*;
use super::event::Holder;
use super::kiosk::{Ids, Kiosk};
use super::payload::{self, TapFacts};
use super::state::*;
use crate::model::clock::Now;
use crate::config::SignOutRule;
use crate::model::Signal;
use crate::model::{CardUid, Member, Role, YearSummary};

impl Kiosk {
    pub(crate) fn on_tap(&mut self, uid: CardUid, holder: Holder, now: Now, ids: &mut Ids) -> Vec<Effect> {
        // Presence, not a window from the last accepted tap: every sighting
        // moves the card's last-seen time, so a card left on the reader (wedge
        // repeats, MFRC522 polls) stays one tap however long it stays.
        if let Some(last) = self.st.last_tap.insert(uid.clone(), now.mono_ms) {
            if now.mono_ms - last < self.cfg.debounce_ms {
                return vec![];
            }
        }
        match holder {
            Holder::Unknown => self.unknown_card(uid, now, ids),
            Holder::Known { member, year } => self.known_card(uid, member, year, now, ids),
        }
    }

    /// Several cards on the reader at once: nobody is signed in or out, and
    /// no card that was on the reader counts as lifted meanwhile (the reader
    /// cannot tell which ones are there). Said once per presence, like a tap.
    pub(crate) fn on_several_cards(&mut self, now: Now) -> Vec<Effect> {
        let gap = self.cfg.debounce_ms;
        for seen in self.st.last_tap.values_mut() {
            if now.mono_ms - *seen < gap {
                *seen = now.mono_ms;
            }
        }
        let repeat = self.st.several_cards_ms.is_some_and(|t| now.mono_ms - t < gap);
        self.st.several_cards_ms = Some(now.mono_ms);
        if repeat || self.st.play.is_some() {
            return vec![];
        }
        self.focus(Focus::Notice, now);
        vec![Effect::Show(Screen::Error(ErrorKind::TwoCards)), Effect::Sound(Signal::Error)]
    }

    fn unknown_card(&mut self, uid: CardUid, now: Now, ids: &mut Ids) -> Vec<Effect> {
        let tap_id = ids.next();
        let session_id = self.st.session.as_ref().map(|s| s.id.clone());
        let mut fx = tap_effects(&tap_id, &uid, None, TapOutcome::Unknown, session_id.as_deref(), false, None, None, now);
        if let Focus::Technician { enrolling: true, .. } = &self.st.focus {
            if uid.is_random() {
                // Still waiting for a card: this one would never match again.
                fx.push(Effect::Show(Screen::Error(ErrorKind::RandomUid)));
                fx.push(Effect::Sound(Signal::Error));
                return fx;
            }
        }
        if let Focus::Technician { name, enrolling: true, pin, .. } = &self.st.focus {
            let (name, pin) = (name.clone(), *pin);
            self.focus(Focus::Technician { name, enrolling: true, pending: Some(uid.clone()), pin }, now);
            fx.push(Effect::Show(Screen::Enrol { uid: Some(uid) }));
            fx.push(Effect::Sound(Signal::Ok));
        } else {
            self.focus(Focus::Nobody, now);
            fx.push(Effect::Show(Screen::UnknownCard { uid }));
            fx.push(Effect::Sound(Signal::Unknown));
        }
        fx
    }

    fn known_card(&mut self, uid: CardUid, member: Member, year: YearSummary, now: Now, ids: &mut Ids) -> Vec<Effect> {
        let mobile = self.is_mobile(&member);
        if let Some(s) = &self.st.session {
            if s.trainer_id == member.id {
                return self.open_trainer_panel(uid, member, now, ids);
            }
            return self.attendance_tap(uid, member, year, mobile, now, ids);
        }
        if let Some(r) = &self.st.rating {
            if r.attendees.contains(&member.id) && !r.rated.contains(&member.id) {
                let title = r.title.clone();
                let session_id = r.session_id.clone();
                let tap_id = ids.next();
                let mut fx = tap_effects(&tap_id, &uid, Some(&member), TapOutcome::RatingPrompt, Some(&session_id), mobile, None, None, now);
                fx.push(Effect::Show(Screen::RatingPrompt { member_name: member.name.clone(), session_title: title }));
                fx.push(Effect::Sound(Signal::Ok));
                self.focus(Focus::Rater { member_id: member.id.clone(), name: member.name }, now);
                return fx;
            }
        }
        if member.has_role(Role::Trainer) {
            return self.open_trainer_panel(uid, member, now, ids);
        }
        if member.has_role(Role::Technician) {
            let tap_id = ids.next();
            let mut fx = tap_effects(&tap_id, &uid, Some(&member), TapOutcome::TechnicianPanel, None, mobile, None, None, now);
            // Every opening of the panel has one record of one kind, PIN or card.
            let unlock_id = ids.next();
            fx.push(Effect::Enqueue(payload::technician_unlock(payload::UnlockFacts {
                id: &unlock_id,
                method: payload::UnlockMethod::Card,
                uid: Some(&uid),
                member_id: Some(&member.id),
                tap_id: Some(&tap_id),
                at_ms: now.wall_ms,
                synced: now.synced,
            })));
            fx.push(Effect::Show(Screen::Technician { name: member.name.clone() }));
            fx.push(Effect::Sound(Signal::Ok));
            self.focus(Focus::Technician { name: member.name, enrolling: false, pending: None, pin: false }, now);
            return fx;
        }
        let tap_id = ids.next();
        let mut fx = tap_effects(&tap_id, &uid, Some(&member), TapOutcome::Status, None, mobile, None, None, now);
        let view = self.member_view(&member, &year, 0, MemberOutcome::Status, mobile);
        fx.push(Effect::Show(Screen::Member(view)));
        fx.push(Effect::Sound(Signal::Ok));
        self.focus(Focus::Member { member, year, mobile }, now);
        fx
    }

    fn open_trainer_panel(&mut self, uid: CardUid, member: Member, now: Now, ids: &mut Ids) -> Vec<Effect> {
        let tap_id = ids.next();
        let session_id = self.st.session.as_ref().map(|s| s.id.clone());
        let mobile = self.is_mobile(&member);
        let mut fx = tap_effects(&tap_id, &uid, Some(&member), TapOutcome::TrainerPanel, session_id.as_deref(), mobile, None, None, now);
        fx.push(Effect::Show(Screen::Trainer(self.trainer_view(&member.name))));
        fx.push(Effect::Sound(Signal::Ok));
        self.focus(Focus::Trainer { member }, now);
        fx
    }

    fn attendance_tap(&mut self, uid: CardUid, member: Member, year: YearSummary, mobile: bool, now: Now, ids: &mut Ids) -> Vec<Effect> {
        let cfg_sign_out = self.cfg.sign_out;
        let min_stay = self.cfg.min_stay_ms;
        let tap_year = self.cfg.year_of(now.wall_ms);
        let Some(s) = self.st.session.as_mut() else { return vec![] };
        let session_id = s.id.clone();
        let tap_id = ids.next();
        let home = Some(member.home_centre.as_str()).filter(|h| !h.is_empty());

        let (mut fx, outcome, extra) = match s.present.get(&member.id).cloned() {
            None => {
                let attendance_id = ids.next();
                s.present.insert(
                    member.id.clone(),
                    Presence { attendance_id: attendance_id.clone(), name: member.name.clone(), in_ms: now.wall_ms, year: tap_year, mobile },
                );
                let mut fx = vec![Effect::Write(Record::SignIn {
                    id: attendance_id.clone(),
                    member_id: member.id.clone(),
                    session_id: session_id.clone(),
                    in_ms: now.wall_ms,
                    year: tap_year,
                    mobile,
                })];
                fx.extend(tap_effects(&tap_id, &uid, Some(&member), TapOutcome::SignedIn, Some(&session_id), mobile, home, Some(&attendance_id), now));
                (fx, MemberOutcome::SignedIn, 0)
            }
            Some(p) if cfg_sign_out == SignOutRule::TapAgain && now.wall_ms - p.in_ms >= min_stay => {
                s.present.remove(&member.id);
                let (out, minutes) = s.sign_out(&member.id, &p, now);
                let mut fx = out;
                fx.extend(tap_effects(&tap_id, &uid, Some(&member), TapOutcome::SignedOut, Some(&session_id), mobile, home, Some(&p.attendance_id), now));
                let extra = if p.year == year.year { minutes } else { 0 };
                (fx, MemberOutcome::SignedOut { credited_minutes: minutes }, extra)
            }
            Some(p) => {
                let fx = tap_effects(&tap_id, &uid, Some(&member), TapOutcome::AlreadySignedIn, Some(&session_id), mobile, home, Some(&p.attendance_id), now);
                (fx, MemberOutcome::AlreadySignedIn { since_ms: p.in_ms }, 0)
            }
        };
        let view = self.member_view(&member, &year, extra, outcome, mobile);
        fx.push(Effect::Show(Screen::Member(view)));
        fx.push(Effect::Sound(Signal::Ok));
        self.focus(Focus::Member { member, year, mobile }, now);
        fx
    }
}

/// The tap row and its outbox message: every accepted tap has exactly one of each.
#[allow(clippy::too_many_arguments)]
fn tap_effects(
    tap_id: &str,
    uid: &CardUid,
    member: Option<&Member>,
    outcome: TapOutcome,
    session_id: Option<&str>,
    mobile: bool,
    home_centre: Option<&str>,
    attendance_id: Option<&str>,
    now: Now,
) -> Vec<Effect> {
    let member_id = member.map(|m| m.id.as_str());
    vec![
        Effect::Write(Record::Tap {
            id: tap_id.to_string(),
            uid: uid.clone(),
            member_id: member_id.map(str::to_string),
            at_ms: now.wall_ms,
            synced: now.synced,
            outcome,
            session_id: session_id.map(str::to_string),
        }),
        Effect::Enqueue(payload::tap(TapFacts {
            id: tap_id,
            at_ms: now.wall_ms,
            synced: now.synced,
            uid,
            member_id,
            outcome,
            session_id,
            mobile,
            home_centre: home_centre.or(if mobile { member.map(|m| m.home_centre.as_str()) } else { None }),
            attendance_id,
        })),
    ]
}
