//! Property tests of crediting: whatever the taps, credits are never
//! negative, never beyond the session, never double, and add up.

use super::fixture::*;
use crate::credit::{uncredited_ms, Interval};
use crate::*;
use crate::model::{Member, Role};
use proptest::prelude::*;
use std::collections::HashMap;

#[derive(Debug, Clone)]
enum Step {
    Wait(u16),
    Tap(usize),
    EndAndRestart,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (1u16..3000).prop_map(Step::Wait),
        4 => (0usize..5).prop_map(Step::Tap),
        1 => Just(Step::EndAndRestart),
    ]
}

struct Tally {
    /// Per session: its length in minutes and per-member credited minutes.
    sessions: Vec<(i64, HashMap<String, u32>)>,
}

fn run(steps: &[Step]) -> (Tally, Vec<Outgoing>) {
    let mut r = Rig::new();
    let trainer = member("t1", "李老师", &[Role::Trainer]);
    let people: Vec<Member> = (0..5).map(|i| member(&format!("m{i}"), &format!("成员{i}"), &[Role::Member])).collect();
    let mut tally = Tally { sessions: vec![] };
    let mut out = vec![];
    let mut current: HashMap<String, u32> = HashMap::new();
    let mut started = r.wall;
    r.start_session(&trainer);
    let collect = |fx: &[Effect], current: &mut HashMap<String, u32>, out: &mut Vec<Outgoing>| {
        for e in fx {
            match e {
                Effect::Write(Record::SignOut { attendance_id, credited_minutes, .. }) => {
                    let member = attendance_id.clone();
                    *current.entry(member).or_default() += credited_minutes;
                }
                Effect::Enqueue(o) => out.push(o.clone()),
                _ => {}
            }
        }
    };
    for s in steps {
        match s {
            Step::Wait(sec) => r.advance_s(i64::from(*sec)),
            Step::Tap(i) => {
                let fx = r.tap(&people[*i]);
                collect(&fx, &mut current, &mut out);
            }
            Step::EndAndRestart => {
                let fx = r.end_session(&trainer);
                collect(&fx, &mut current, &mut out);
                tally.sessions.push(((r.wall - started) / 60_000, std::mem::take(&mut current)));
                r.advance_s(6);
                started = r.wall;
                r.start_session(&trainer);
            }
        }
    }
    let fx = r.end_session(&trainer);
    collect(&fx, &mut current, &mut out);
    tally.sessions.push(((r.wall - started) / 60_000, current));
    (tally, out)
}

/// Per-member credit per session, keyed by member id (read from the credit messages).
fn credit_by_member_and_session(out: &[Outgoing]) -> HashMap<(String, String), u64> {
    let mut m = HashMap::new();
    for o in out.iter().filter(|o| o.kind == "credit") {
        let key = (o.payload["member"].as_str().unwrap().to_string(), o.payload["session"].as_str().unwrap().to_string());
        *m.entry(key).or_default() += o.payload["minutes"].as_u64().unwrap();
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn credited_minutes_never_exceed_the_session_for_anyone(steps in prop::collection::vec(step(), 0..80)) {
        let (tally, out) = run(&steps);
        for (len, _) in &tally.sessions {
            prop_assert!(*len >= 0);
        }
        let lengths: Vec<i64> = tally.sessions.iter().map(|s| s.0).collect();
        let max_len = lengths.iter().copied().max().unwrap_or(0) as u64;
        for ((_, _), minutes) in credit_by_member_and_session(&out) {
            prop_assert!(minutes <= max_len, "a member got {} min in a session of at most {}", minutes, max_len);
        }
        for (len, per) in &tally.sessions {
            for m in per.values() {
                prop_assert!(i64::from(*m) <= *len);
            }
        }
    }

    #[test]
    fn the_credit_messages_add_up_to_the_credited_rows(steps in prop::collection::vec(step(), 0..80)) {
        let (tally, out) = run(&steps);
        let rows: u64 = tally.sessions.iter().flat_map(|(_, per)| per.values()).map(|m| u64::from(*m)).sum();
        let msgs: u64 = out.iter().filter(|o| o.kind == "credit").map(|o| o.payload["minutes"].as_u64().unwrap()).sum();
        prop_assert_eq!(rows, msgs);
        // Every credit is reported exactly once.
        let mut ids: Vec<&str> = out.iter().filter(|o| o.kind == "credit").map(|o| o.id.as_str()).collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        prop_assert_eq!(ids.len(), n);
    }

    #[test]
    fn no_minute_is_credited_twice_whatever_the_intervals(
        ivs in prop::collection::vec((0i64..500, 0i64..500), 1..12),
        s in (0i64..200, 200i64..600),
    ) {
        let session = Interval::new(s.0 * 60_000, s.1 * 60_000);
        let mut earlier: Vec<Interval> = vec![];
        let mut total = 0i64;
        for (a, b) in ivs {
            let iv = Interval::new(a.min(b) * 60_000, a.max(b) * 60_000);
            let got = uncredited_ms(&earlier, iv, session);
            prop_assert!(got >= 0);
            prop_assert!(got <= iv.intersect(&session).len());
            earlier.push(iv);
            total += got;
        }
        // The sum equals the measure of the union inside the session.
        let mut parts: Vec<Interval> = earlier.iter().map(|i| i.intersect(&session)).filter(|i| !i.is_empty()).collect();
        parts.sort_by_key(|i| i.start);
        let mut union = 0;
        let mut cur: Option<Interval> = None;
        for p in parts {
            cur = match cur {
                Some(c) if p.start <= c.end => Some(Interval::new(c.start, c.end.max(p.end))),
                Some(c) => { union += c.len(); Some(p) }
                None => Some(p),
            };
        }
        union += cur.map(|c| c.len()).unwrap_or(0);
        prop_assert_eq!(total, union);
        prop_assert!(total <= session.len());
    }
}
