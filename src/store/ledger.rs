//! The study-hour ledger: a member's credited minutes for a calendar year and
//! the required courses they still owe. Runs on every tap, so it reads only
//! the covering index `attendance_ledger` and the small courses table.

use super::{Result, Store};
use crate::model::{OwedCourse, YearSummary};
use rusqlite::params;

impl Store {
    pub fn year_summary(&self, member_id: &str, year: i32) -> Result<YearSummary> {
        let credited_minutes: i64 = self
            .conn
            .prepare_cached("SELECT coalesce(sum(credited_minutes), 0) FROM attendance WHERE member_id = ?1 AND year = ?2")?
            .query_row(params![member_id, year], |r| r.get(0))?;
        let mut st = self.conn.prepare_cached(
            "SELECT id, title FROM courses WHERE required = 1 AND id NOT IN
               (SELECT course_id FROM completions WHERE member_id = ?1 AND year = ?2)
             ORDER BY title",
        )?;
        let owed = st
            .query_map(params![member_id, year], |r| Ok(OwedCourse { id: r.get(0)?, title: r.get(1)? }))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(YearSummary { year, credited_minutes, owed })
    }
}
