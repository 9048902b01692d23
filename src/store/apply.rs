//! Writes the records and outbox messages of one core decision in one
//! transaction: either all of a tap is on disk, or none of it is.

use super::{Result, Store, StoreError};
use microclass_protocol::wire::MAX_RECORD_BYTES;
use crate::core::{Effect, Outgoing, Record};
use rusqlite::{params, Transaction, TransactionBehavior};

impl Store {
    /// Commits every `Write` and `Enqueue` in `effects`. Returns how many rows
    /// were written. Screens and sounds are ignored here.
    pub fn apply(&mut self, effects: &[Effect], now_ms: i64) -> Result<usize> {
        let writes = effects.iter().filter(|e| matches!(e, Effect::Write(_) | Effect::Enqueue(_))).count();
        if writes == 0 {
            return Ok(0);
        }
        let reader_kind = self.reader_kind.clone();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for e in effects {
            match e {
                Effect::Write(r) => write_record(&tx, r, reader_kind.as_deref())?,
                Effect::Enqueue(o) => enqueue(&tx, o, now_ms)?,
                _ => {}
            }
        }
        tx.commit()?;
        Ok(writes)
    }
}

/// Appends one message to the outbox; its `seq` becomes its sequence number.
pub fn enqueue(tx: &Transaction<'_>, o: &Outgoing, now_ms: i64) -> Result<()> {
    let priority = if o.kind == "telemetry" { -1 } else { 0 };
    let payload = o.payload.to_string();
    if payload.len() > MAX_RECORD_BYTES {
        return Err(StoreError::Invalid(format!("a {} record of {} bytes is above the limit of {MAX_RECORD_BYTES}", o.kind, payload.len())));
    }
    tx.prepare_cached(super::outbox::ENQUEUE_SQL)?
        .execute(params![o.id, o.kind, payload, priority, now_ms])?;
    Ok(())
}

fn write_record(tx: &Transaction<'_>, r: &Record, reader_kind: Option<&str>) -> Result<()> {
    match r {
        Record::Tap { id, uid, member_id, at_ms, synced, outcome, session_id } => {
            tx.prepare_cached("INSERT INTO taps (id, uid, member_id, at_ms, synced, outcome, session_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
                .execute(params![id, uid.as_str(), member_id, at_ms, synced, outcome.as_str(), session_id])?;
        }
        Record::SignIn { id, member_id, session_id, in_ms, year, mobile } => {
            tx.prepare_cached("INSERT INTO attendance (id, member_id, session_id, kind, in_ms, year, mobile) VALUES (?1, ?2, ?3, 'session', ?4, ?5, ?6)")?
                .execute(params![id, member_id, session_id, in_ms, year, mobile])?;
        }
        Record::SignOut { attendance_id, out_ms, credited_minutes } => {
            tx.prepare_cached("UPDATE attendance SET out_ms = ?2, credited_minutes = ?3 WHERE id = ?1 AND out_ms IS NULL")?
                .execute(params![attendance_id, out_ms, credited_minutes])?;
        }
        Record::SessionStarted { id, trainer_id, schedule_id, title, started_ms } => {
            tx.prepare_cached("INSERT INTO sessions (id, trainer_id, schedule_id, title, started_ms) VALUES (?1, ?2, ?3, ?4, ?5)")?
                .execute(params![id, trainer_id, schedule_id, title, started_ms])?;
        }
        Record::SessionEnded { id, ended_ms, reason } => {
            tx.prepare_cached("UPDATE sessions SET ended_ms = ?2, end_reason = ?3 WHERE id = ?1")?
                .execute(params![id, ended_ms, reason])?;
        }
        Record::Play { id, course_id, session_id, member_id, started_ms, ended_ms, start_pos_s, end_pos_s, watched_s, completed } => {
            tx.prepare_cached(
                "INSERT INTO plays (id, course_id, session_id, member_id, started_ms, ended_ms, start_pos_s, end_pos_s, watched_s, completed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![id, course_id, session_id, member_id, started_ms, ended_ms, start_pos_s, end_pos_s, watched_s, completed])?;
            tx.prepare_cached("UPDATE cache_files SET last_played_ms = ?2 WHERE course_id = ?1")?.execute(params![course_id, ended_ms])?;
        }
        Record::SelfStudy { id, member_id, in_ms, out_ms, credited_minutes, year, mobile } => {
            tx.prepare_cached(
                "INSERT INTO attendance (id, member_id, session_id, kind, in_ms, out_ms, credited_minutes, year, mobile)
                 VALUES (?1, ?2, NULL, 'self_study', ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![id, member_id, in_ms, out_ms, credited_minutes, year, mobile])?;
        }
        Record::Completion { member_id, course_id, year, at_ms, source } => {
            tx.prepare_cached("INSERT OR IGNORE INTO completions (member_id, course_id, year, at_ms, source) VALUES (?1, ?2, ?3, ?4, ?5)")?
                .execute(params![member_id, course_id, year, at_ms, source])?;
        }
        Record::Rating { id, session_id, member_id, stars, at_ms } => {
            tx.prepare_cached("INSERT INTO ratings (id, session_id, member_id, stars, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)")?
                .execute(params![id, session_id, member_id, stars, at_ms])?;
        }
        Record::Survey { id, member_id, topics, at_ms } => {
            tx.prepare_cached("INSERT INTO survey_answers (id, member_id, topics, at_ms) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![id, member_id, serde_json::to_string(topics)?, at_ms])?;
        }
        Record::CardEnrolled { uid, member_id, at_ms } => {
            tx.prepare_cached(
                "INSERT INTO cards (uid, member_id, source, enrolled_ms, reader_kind) VALUES (?1, ?2, 'local', ?3, ?4)
                 ON CONFLICT(uid) DO UPDATE SET member_id = excluded.member_id, source = 'local', enrolled_ms = excluded.enrolled_ms,
                    reader_kind = excluded.reader_kind",
            )?
            .execute(params![uid.as_str(), member_id, at_ms, reader_kind])?;
        }
        Record::ClockJump { id, at_ms, jump_ms, synced } => {
            tx.prepare_cached("INSERT INTO clock_events (id, at_ms, jump_ms, synced) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![id, at_ms, jump_ms, synced])?;
        }
    }
    Ok(())
}
