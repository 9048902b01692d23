//! What the kiosk loop feeds the screens from the store and the uplink:
//! today's schedule (at start, when a new schedule lands, at local midnight),
//! which courses are cached, the hub link and the outcome of "sync now".
//! Reads only, and only when asked; never touches Slint (the loop posts the
//! results through the `UiHandle`).

use super::ambient::{LinkState, ScheduleItem, SyncState};
use crate::model::Millis;
use crate::store::schedule::{local_day, ScheduledClass};
use crate::store::{Store, StoreError};
use crate::uplink::UplinkStatus;
use std::collections::HashSet;

/// Today's classes as the idle screen and the trainer panel list them.
pub fn schedule_items(classes: Vec<ScheduledClass>) -> Vec<ScheduleItem> {
    classes
        .into_iter()
        .map(|c| ScheduleItem {
            trainer: c.trainer_name.unwrap_or_default(),
            id: c.entry.id,
            start_ms: c.entry.starts_ms,
            end_ms: c.entry.ends_ms,
            title: c.entry.title,
        })
        .collect()
}

/// The header's hub light: offline without a hub or after a failed attempt,
/// connecting until the first connection.
pub fn link_state(status: Option<&UplinkStatus>) -> LinkState {
    match status {
        None => LinkState::Offline,
        Some(s) if s.connected => LinkState::Online,
        Some(s) if s.last_error.is_some() => LinkState::Offline,
        Some(_) => LinkState::Connecting,
    }
}

/// How long "sync now" waits for the uplink to connect and drain.
pub const SYNC_WAIT_MS: i64 = 20_000;

/// The answer to "sync now" once there is one: done when connected with
/// nothing left to send, failed after `SYNC_WAIT_MS`; `None` while waiting.
pub fn sync_outcome(status: &UplinkStatus, waited_ms: i64, now_ms: Millis) -> Option<SyncState> {
    if status.connected && status.drained {
        return Some(SyncState::Done { at_ms: status.last_sync_ms.unwrap_or(now_ms) });
    }
    if waited_ms >= SYNC_WAIT_MS {
        let why = match (&status.last_error, status.connected) {
            (_, true) => format!("{} 条记录未上传 records still to send", status.backlog),
            (Some(e), false) => e.clone(),
            (None, false) => "未连接 not connected".into(),
        };
        return Some(SyncState::Failed(why));
    }
    None
}

/// Remembers what the screens were last given, so the loop posts only changes.
#[derive(Debug)]
pub struct Feed {
    utc_offset_s: i32,
    day: Option<Millis>,
    stamp: Option<(Option<String>, Option<String>)>,
    cached: Option<HashSet<String>>,
}

impl Feed {
    pub fn new(utc_offset_s: i32) -> Self {
        Feed { utc_offset_s, day: None, stamp: None, cached: None }
    }

    /// Today's schedule, when it may differ from what was last returned: on
    /// the first call, on a new local day, and after the schedule (or a
    /// catalogue carrying one) was replaced.
    pub fn schedule(&mut self, store: &Store, now_ms: Millis) -> Result<Option<Vec<ScheduleItem>>, StoreError> {
        let (from, to) = local_day(now_ms, self.utc_offset_s);
        let stamp = store.schedule_stamp()?;
        if self.day == Some(from) && self.stamp.as_ref() == Some(&stamp) {
            return Ok(None);
        }
        let items = schedule_items(store.schedule_between(from, to)?);
        self.day = Some(from);
        self.stamp = Some(stamp);
        Ok(Some(items))
    }

    /// The ids of cached courses, when they changed since the last call.
    pub fn cached(&mut self, store: &Store) -> Result<Option<HashSet<String>>, StoreError> {
        let now = crate::store::cache::cached_courses(store.conn())?;
        if self.cached.as_ref() == Some(&now) {
            return Ok(None);
        }
        self.cached = Some(now.clone());
        Ok(Some(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ScheduleEntry;

    const HOUR: Millis = 3_600_000;

    fn entry(id: &str, starts_ms: Millis) -> ScheduleEntry {
        ScheduleEntry { id: id.into(), title: format!("课 {id}"), starts_ms, ends_ms: starts_ms + HOUR, trainer_id: Some("t001".into()), courses: vec![] }
    }

    fn store(dir: &std::path::Path) -> Store {
        let mut s = Store::open(&dir.join("m.db")).unwrap();
        crate::demo::load_if_empty(&mut s).unwrap();
        s
    }

    #[test]
    fn the_feed_gives_todays_classes_once_and_again_after_a_replacement_or_at_midnight() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store(dir.path());
        let (today, tomorrow) = local_day(1_772_416_800_000, 8 * 3600);
        s.replace_schedule(&[entry("yesterday", today - 10 * HOUR), entry("a", today + 9 * HOUR), entry("b", tomorrow + 9 * HOUR)], 1).unwrap();
        let mut feed = Feed::new(8 * 3600);
        let ids = |v: Option<Vec<ScheduleItem>>| v.map(|v| v.into_iter().map(|i| i.id).collect::<Vec<_>>());
        let first = feed.schedule(&s, today + 8 * HOUR).unwrap();
        assert_eq!(first.as_ref().map(|v| v[0].trainer.as_str()), Some("李老师"));
        assert_eq!(ids(first), Some(vec!["a".to_string()]));
        assert_eq!(ids(feed.schedule(&s, today + 10 * HOUR).unwrap()), None, "nothing changed");
        // The uplink replaces the schedule through its own connection.
        let mut other = Store::open(&dir.path().join("m.db")).unwrap();
        other.replace_schedule(&[entry("a2", today + 14 * HOUR), entry("b", tomorrow + 9 * HOUR)], 2).unwrap();
        assert_eq!(ids(feed.schedule(&s, today + 11 * HOUR).unwrap()), Some(vec!["a2".to_string()]));
        assert_eq!(ids(feed.schedule(&s, tomorrow + 1).unwrap()), Some(vec!["b".to_string()]), "a new day");
    }

    #[test]
    fn the_feed_reports_cached_courses_only_when_they_change() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let files = r#"[{"url":"http://a/1.mp4","size":1,"sha256":"aa"}]"#;
        s.conn().execute("UPDATE courses SET files = ?1 WHERE id = 'c-rules'", [files]).unwrap();
        let mut feed = Feed::new(0);
        assert_eq!(feed.cached(&s).unwrap(), Some(HashSet::new()));
        assert_eq!(feed.cached(&s).unwrap(), None);
        crate::store::cache::ensure(s.conn(), "aa", "c-rules", "http://a/1.mp4", 1, "aa.mp4").unwrap();
        crate::store::cache::mark_verified(s.conn(), "aa", 5).unwrap();
        assert_eq!(feed.cached(&s).unwrap(), Some(["c-rules".to_string()].into_iter().collect()));
    }

    #[test]
    fn the_link_light_follows_the_uplink() {
        assert_eq!(link_state(None), LinkState::Offline);
        let mut st = UplinkStatus::default();
        assert_eq!(link_state(Some(&st)), LinkState::Connecting);
        st.last_error = Some("connection refused".into());
        assert_eq!(link_state(Some(&st)), LinkState::Offline);
        st.connected = true;
        assert_eq!(link_state(Some(&st)), LinkState::Online);
    }

    #[test]
    fn sync_now_succeeds_when_drained_and_fails_with_the_reason_after_the_wait() {
        let mut st = UplinkStatus::default();
        assert_eq!(sync_outcome(&st, 1_000, 50), None);
        st.last_error = Some("connection refused".into());
        assert_eq!(sync_outcome(&st, SYNC_WAIT_MS, 50), Some(SyncState::Failed("connection refused".into())));
        st.connected = true;
        st.backlog = 7;
        assert!(matches!(sync_outcome(&st, SYNC_WAIT_MS, 50), Some(SyncState::Failed(m)) if m.contains('7')));
        st.drained = true;
        st.last_sync_ms = Some(42);
        assert_eq!(sync_outcome(&st, 10, 50), Some(SyncState::Done { at_ms: 42 }));
    }
}
