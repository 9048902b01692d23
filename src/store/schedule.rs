//! The centre's class schedule as the hub signed it: replaced as a whole when
//! a newer schedule document arrives, read by time window for the screens
//! (today's classes) and the course cache (what is coming up). Never decides
//! which schedule is newer: the uplink's version gate does.

use super::{Result, Store, StoreError};
use crate::model::{Millis, ScheduleEntry};
use rusqlite::{params, TransactionBehavior};

/// The `meta` key holding the version of the schedule in the table.
pub const SCHEDULE_VERSION: &str = "schedule_version";

/// A scheduled class with its trainer's name (when the trainer is on the roster).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledClass {
    pub entry: ScheduleEntry,
    pub trainer_name: Option<String>,
}

impl Store {
    /// Replaces the schedule with `entries` in one transaction and records
    /// `version`. Entries are checked first, so a bad one changes nothing.
    pub fn replace_schedule(&mut self, entries: &[ScheduleEntry], version: u64) -> Result<()> {
        for e in entries {
            if e.id.trim().is_empty() {
                return Err(StoreError::Invalid("a schedule entry has an empty id".into()));
            }
            if e.ends_ms < e.starts_ms {
                return Err(StoreError::Invalid(format!("schedule entry {:?} ends before it starts", e.id)));
            }
            // The title becomes a session record's title: bounded like one.
            crate::core::limits::check_id("schedule id", &e.id)
                .and_then(|()| crate::core::limits::check_title(&e.title))
                .map_err(|err| StoreError::Invalid(format!("schedule entry {:?}: {err}", crate::core::limits::shorten(&e.id))))?;
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM schedule", [])?;
        {
            let mut ins = tx.prepare_cached(
                "INSERT INTO schedule (id, title, starts_ms, ends_ms, trainer_id, courses) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for e in entries {
                ins.execute(params![e.id, e.title, e.starts_ms, e.ends_ms, e.trainer_id, serde_json::to_string(&e.courses)?])
                    .map_err(|err| match err.sqlite_error_code() {
                        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Invalid(format!("schedule entry {:?} is listed twice", e.id)),
                        _ => err.into(),
                    })?;
            }
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![SCHEDULE_VERSION, version.to_string()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Classes overlapping `[from_ms, to_ms)`, earliest first.
    pub fn schedule_between(&self, from_ms: Millis, to_ms: Millis) -> Result<Vec<ScheduledClass>> {
        let mut st = self.conn.prepare_cached(
            "SELECT s.id, s.title, s.starts_ms, s.ends_ms, s.trainer_id, s.courses, m.name
             FROM schedule s LEFT JOIN members m ON m.id = s.trainer_id
             WHERE s.ends_ms > ?1 AND s.starts_ms < ?2
             ORDER BY s.starts_ms, s.id",
        )?;
        let rows = st.query_map(params![from_ms, to_ms], |r| {
            Ok((
                ScheduleEntry { id: r.get(0)?, title: r.get(1)?, starts_ms: r.get(2)?, ends_ms: r.get(3)?, trainer_id: r.get(4)?, courses: Vec::new() },
                r.get::<_, String>(5)?,
                r.get::<_, Option<String>>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (mut entry, courses, trainer_name) = row?;
            entry.courses = serde_json::from_str(&courses)?;
            out.push(ScheduledClass { entry, trainer_name });
        }
        Ok(out)
    }

    /// What identifies the schedule now in the table: its version and the
    /// catalogue's (a catalogue document may carry schedules too). Cheap to
    /// poll; a change means the schedule may have been replaced.
    pub fn schedule_stamp(&self) -> Result<(Option<String>, Option<String>)> {
        Ok((self.meta(SCHEDULE_VERSION)?, self.meta("catalog_version")?))
    }
}

/// Start and end (UTC ms) of the local day containing `now_ms` at `utc_offset_s`.
pub fn local_day(now_ms: Millis, utc_offset_s: i32) -> (Millis, Millis) {
    const DAY: Millis = 86_400_000;
    let off = Millis::from(utc_offset_s) * 1000;
    let start = (now_ms + off).div_euclid(DAY) * DAY - off;
    (start, start + DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, starts_ms: Millis, ends_ms: Millis, trainer: Option<&str>) -> ScheduleEntry {
        ScheduleEntry { id: id.into(), title: format!("课 {id}"), starts_ms, ends_ms, trainer_id: trainer.map(Into::into), courses: vec!["c-history".into()] }
    }

    fn store(dir: &std::path::Path) -> Store {
        let mut s = Store::open(&dir.join("m.db")).unwrap();
        crate::demo::load_if_empty(&mut s).unwrap();
        s
    }

    #[test]
    fn a_replaced_schedule_holds_only_the_new_entries_and_its_version() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path());
        s.replace_schedule(&[entry("a", 10, 20, None), entry("b", 30, 40, None)], 1).unwrap();
        s.replace_schedule(&[entry("c", 50, 60, Some("t001"))], 2).unwrap();
        // A second connection sees the committed result.
        let other = Store::open(&dir.path().join("m.db")).unwrap();
        let ids: Vec<String> = other.schedule_between(0, 1_000).unwrap().into_iter().map(|c| c.entry.id).collect();
        assert_eq!(ids, vec!["c".to_string()]);
        assert_eq!(other.meta(SCHEDULE_VERSION).unwrap().as_deref(), Some("2"));
    }

    #[test]
    fn a_bad_entry_leaves_the_previous_schedule_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path());
        s.replace_schedule(&[entry("a", 10, 20, None)], 1).unwrap();
        assert!(matches!(s.replace_schedule(&[entry("b", 10, 20, None), entry("b", 30, 40, None)], 2), Err(StoreError::Invalid(_))));
        assert!(matches!(s.replace_schedule(&[entry("c", 20, 10, None)], 3), Err(StoreError::Invalid(_))));
        let ids: Vec<String> = s.schedule_between(0, 1_000).unwrap().into_iter().map(|c| c.entry.id).collect();
        assert_eq!(ids, vec!["a".to_string()]);
        assert_eq!(s.meta(SCHEDULE_VERSION).unwrap().as_deref(), Some("1"));
    }

    #[test]
    fn the_window_returns_overlapping_classes_in_order_with_trainer_names() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path());
        s.replace_schedule(
            &[entry("late", 300, 400, Some("t002")), entry("before", 0, 100, None), entry("running", 50, 150, Some("t001")), entry("ghost", 200, 250, Some("nobody"))],
            1,
        )
        .unwrap();
        let got = s.schedule_between(100, 300).unwrap();
        let seen: Vec<(&str, Option<&str>)> = got.iter().map(|c| (c.entry.id.as_str(), c.trainer_name.as_deref())).collect();
        // "before" ends exactly at the window's start and "late" starts at its end: both outside.
        assert_eq!(seen, vec![("running", Some("李老师")), ("ghost", None)]);
        assert_eq!(got[0].entry.courses, vec!["c-history".to_string()]);
    }

    #[test]
    fn the_local_day_follows_the_utc_offset() {
        // 2026-03-02 01:30 in Beijing is 2026-03-01 17:30 UTC.
        let now = chrono::DateTime::parse_from_rfc3339("2026-03-02T01:30:00+08:00").unwrap().timestamp_millis();
        let (from, to) = local_day(now, 8 * 3600);
        assert_eq!(from, chrono::DateTime::parse_from_rfc3339("2026-03-02T00:00:00+08:00").unwrap().timestamp_millis());
        assert_eq!(to - from, 86_400_000);
        let (utc_from, _) = local_day(now, 0);
        assert_eq!(utc_from, chrono::DateTime::parse_from_rfc3339("2026-03-01T00:00:00Z").unwrap().timestamp_millis());
    }
}
