//! Tap path benchmark: tap -> committed -> effect through the real shell and
//! store, against a bare SQLite insert+commit of the same bytes with the same
//! pragmas and checkpoint policy, interleaved on the same disk; and the
//! yearly-hours query at 1,000,000 rows.

use super::{percentile, sorted};
use crate::app::{Presenter, Shell, Shown};
use crate::clock::TestClock;
use crate::core::{CoreConfig, Event};
use crate::hw::sim::SimIndicator;
use crate::model::{CardUid, Member, Role};
use crate::store::{Store, StoreError, PRAGMAS};
use rusqlite::params;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

struct Quiet;
impl Presenter for Quiet {
    fn present(&mut self, _: &Shown) {}
}

pub struct CoreBench {
    pub tap_p50_ms: f64,
    pub tap_p99_ms: f64,
    pub bare_p50_ms: f64,
    pub bare_p99_ms: f64,
    pub ledger_p50_ms: f64,
    pub ledger_p99_ms: f64,
    pub ledger_rows: i64,
}

const T0: i64 = 1_780_000_000_000;

fn roster(n: usize) -> Vec<Member> {
    (0..n)
        .map(|i| Member {
            id: format!("m{i:06}"),
            name: format!("成员{i}"),
            branch: "第一支部".into(),
            home_centre: "bench".into(),
            roles: if i == 0 { vec![Role::Trainer] } else { vec![Role::Member] },
            cards: vec![CardUid::from_bytes(&(i as u32 + 0x1000_0000).to_be_bytes())],
            makeup: vec![],
        })
        .collect()
}

/// Runs the benchmark in `dir` (same disk for both sides).
pub fn run(dir: &Path, taps: usize, ledger_rows: i64) -> Result<CoreBench, StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let db = dir.join("bench-tap.db");
    let _ = std::fs::remove_file(&db);
    let members = roster(taps + 2);
    let mut store = Store::open(&db)?;
    store.replace_roster(&members, 1)?;
    store.replace_courses(&crate::demo::courses(), 1)?;
    let clock = TestClock::at(T0);
    let mut shell = Shell::new(CoreConfig::defaults("bench", "b1"), store, Arc::new(clock.clone()), Box::new(SimIndicator::default()), Box::new(Quiet))?;
    shell.tap(members[0].cards[0].clone());
    shell.event(Event::StartSession { schedule_id: None, title: "bench".into() });

    // The bare side writes as many bytes per commit as one sign-in does (its
    // tap row, attendance row and outbox message), measured on a warm-up tap.
    clock.advance_ms(1000);
    if shell.tap(members[1].cards[0].clone()).tap_id.is_none() {
        return Err(StoreError::Invalid("the warm-up tap was not recorded".into()));
    }
    let bytes: i64 = shell.store().conn().query_row(
        "SELECT (SELECT avg(length(id) + length(uid) + length(member_id) + length(outcome) + length(session_id) + 16) FROM taps)
              + (SELECT avg(length(id) + length(member_id) + length(session_id) + 32) FROM attendance)
              + (SELECT avg(length(id) + length(kind) + length(payload) + 24) FROM outbox)",
        [],
        |r| r.get::<_, f64>(0),
    )? as i64;
    let bare_db = dir.join("bench-bare.db");
    let _ = std::fs::remove_file(&bare_db);
    let conn = rusqlite::Connection::open(&bare_db)?;
    conn.execute_batch(PRAGMAS)?;
    conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")?;
    let body = vec![0x5au8; bytes.max(1) as usize];

    // Alternate the two sides so both see the same disk and machine noise.
    // Both checkpoint the WAL between writes, outside the timed part, as the
    // kiosk does on every idle tick between taps.
    let mut tap_ms = Vec::with_capacity(taps);
    let mut bare_ms = Vec::with_capacity(taps);
    for m in &members[2..] {
        clock.advance_ms(1000);
        let t = Instant::now();
        let shown = shell.tap(m.cards[0].clone());
        tap_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        if shown.tap_id.is_none() {
            return Err(StoreError::Invalid(format!("tap of {} was not recorded", m.id)));
        }
        shell.idle();

        let t = Instant::now();
        conn.execute("BEGIN IMMEDIATE", [])?;
        conn.prepare_cached("INSERT INTO t (body) VALUES (?1)")?.execute(params![body])?;
        conn.execute("COMMIT", [])?;
        bare_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
    }
    drop(shell);
    drop(conn);

    let (ledger_p50_ms, ledger_p99_ms) = ledger(dir, ledger_rows)?;
    let tap = sorted(tap_ms);
    let bare = sorted(bare_ms);
    Ok(CoreBench {
        tap_p50_ms: percentile(&tap, 50.0),
        tap_p99_ms: percentile(&tap, 99.0),
        bare_p50_ms: percentile(&bare, 50.0),
        bare_p99_ms: percentile(&bare, 99.0),
        ledger_p50_ms,
        ledger_p99_ms,
        ledger_rows,
    })
}

/// Fills `attendance` with `rows` rows over up to 20,000 members and three years,
/// then times the yearly summary for random members.
fn ledger(dir: &Path, rows: i64) -> Result<(f64, f64), StoreError> {
    let db = dir.join("bench-ledger.db");
    let _ = std::fs::remove_file(&db);
    let mut store = Store::open(&db)?;
    store.replace_courses(&crate::demo::courses(), 1)?;
    let members = (rows / 50).clamp(1, 20_000);
    {
        let tx = store.conn_mut().transaction()?;
        {
            let mut ins = tx.prepare(
                "INSERT INTO attendance (id, member_id, session_id, kind, in_ms, out_ms, credited_minutes, year, mobile)
                 VALUES (?1, ?2, ?3, 'session', ?4, ?4, ?5, ?6, 0)",
            )?;
            for i in 0..rows {
                let member = format!("m{:06}", i % members);
                ins.execute(params![format!("a{i:08}"), member, format!("s{}", i / 40), T0 + i, 30 + (i % 60), 2024 + (i % 3)])?;
            }
        }
        tx.commit()?;
    }
    store.conn().execute_batch("ANALYZE")?;
    let mut samples = Vec::with_capacity(2000);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let member = format!("m{:06}", x % members as u64);
        let t = Instant::now();
        let y = store.year_summary(&member, 2026)?;
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
        if y.credited_minutes <= 0 {
            return Err(StoreError::Invalid(format!("{member} has no hours in 2026")));
        }
    }
    let s = sorted(samples);
    Ok((percentile(&s, 50.0), percentile(&s, 99.0)))
}

impl CoreBench {
    pub fn report(&self) -> String {
        let ratio = self.tap_p99_ms / self.bare_p99_ms;
        format!(
            "tap -> committed -> effect   p50 {:.3} ms  p99 {:.3} ms\n\
             bare insert+commit (same bytes, pragmas, idle checkpoints; interleaved)  p50 {:.3} ms  p99 {:.3} ms\n\
             ratio p50 {:.2}  p99 {:.2}  (target p99 <= 1.5: {})\n\
             yearly hours, one member, {} attendance rows  p50 {:.3} ms  p99 {:.3} ms  (target <= 2 ms: {})",
            self.tap_p50_ms,
            self.tap_p99_ms,
            self.bare_p50_ms,
            self.bare_p99_ms,
            self.tap_p50_ms / self.bare_p50_ms,
            ratio,
            if ratio <= 1.5 { "met" } else { "NOT met" },
            self.ledger_rows,
            self.ledger_p50_ms,
            self.ledger_p99_ms,
            if self.ledger_p99_ms <= 2.0 { "met" } else { "NOT met" },
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_small_run_records_every_tap_and_reports_both_sides() {
        let d = tempfile::tempdir().unwrap();
        let r = super::run(d.path(), 30, 2_000).unwrap();
        for v in [r.tap_p50_ms, r.tap_p99_ms, r.bare_p50_ms, r.bare_p99_ms, r.ledger_p50_ms, r.ledger_p99_ms] {
            assert!(v.is_finite() && v > 0.0, "{v}");
        }
        assert!(r.tap_p50_ms <= r.tap_p99_ms && r.bare_p50_ms <= r.bare_p99_ms);
        assert!(r.report().contains("ratio p50"));
    }
}
