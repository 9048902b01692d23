//! Restoring the running session after a restart: the session row without an
//! end, and who was signed in and out of it.

use super::{Result, Store};
use crate::core::credit::Interval;
use crate::core::state::{ActiveSession, Presence};
use rusqlite::OptionalExtension;
use std::collections::{BTreeMap, HashMap};

impl Store {
    /// The session that was running when the program stopped, if any.
    pub fn open_session(&self) -> Result<Option<ActiveSession>> {
        let row: Option<(String, String, Option<String>, i64, String)> = self
            .conn
            .query_row(
                "SELECT id, trainer_id, schedule_id, started_ms, title FROM sessions WHERE ended_ms IS NULL ORDER BY started_ms DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        let Some((id, trainer_id, schedule_id, started_ms, title)) = row else { return Ok(None) };
        let trainer_name = self.member(&trainer_id)?.map(|m| m.name).unwrap_or_else(|| trainer_id.clone());
        let mut present = BTreeMap::new();
        let mut closed: HashMap<String, Vec<Interval>> = HashMap::new();
        let mut st = self.conn.prepare(
            "SELECT a.id, a.member_id, coalesce(m.name, a.member_id), a.in_ms, a.out_ms, a.year, a.mobile
             FROM attendance a LEFT JOIN members m ON m.id = a.member_id WHERE a.session_id = ?1 ORDER BY a.in_ms",
        )?;
        let rows = st.query_map([&id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?, r.get::<_, Option<i64>>(4)?, r.get::<_, i32>(5)?, r.get::<_, bool>(6)?))
        })?;
        for row in rows {
            let (attendance_id, member_id, name, in_ms, out_ms, year, mobile) = row?;
            match out_ms {
                Some(out) => closed.entry(member_id).or_default().push(Interval::new(in_ms, out)),
                None => {
                    present.insert(member_id, Presence { attendance_id, name, in_ms, year, mobile });
                }
            }
        }
        Ok(Some(ActiveSession { id, title, trainer_id, trainer_name, schedule_id, started_ms, present, closed }))
    }
}
