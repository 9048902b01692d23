//! The disk-space guard: turns free space into a level and the level into
//! what the uplink may do with the outbox. Low-value rows go first, then the
//! retention of acknowledged rows shrinks; unsent records are never touched.


use std::path::Path;

pub use microclass_protocol::wire::DiskLevel;

pub fn assess(free_bytes: u64, low_bytes: u64, critical_bytes: u64) -> DiskLevel {
    if free_bytes < critical_bytes {
        DiskLevel::Critical
    } else if free_bytes < low_bytes {
        DiskLevel::Low
    } else {
        DiskLevel::Ok
    }
}

/// What the uplink does to the outbox at a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// May new low-value rows (offline telemetry samples) be queued?
    pub queue_low_value: bool,
    /// Rewrite unsent low-value rows as `dropped` tombstones.
    pub drop_low_value: bool,
    /// Delete acknowledged rows sent more than this long ago.
    pub keep_sent_ms: i64,
}

const DAY_MS: i64 = 86_400_000;

pub fn policy(level: DiskLevel, retention_days: u32) -> Policy {
    let retention = i64::from(retention_days) * DAY_MS;
    match level {
        DiskLevel::Ok => Policy { queue_low_value: true, drop_low_value: false, keep_sent_ms: retention },
        DiskLevel::Low => Policy { queue_low_value: false, drop_low_value: true, keep_sent_ms: retention.min(DAY_MS) },
        DiskLevel::Critical => Policy { queue_low_value: false, drop_low_value: true, keep_sent_ms: 0 },
    }
}

/// What one enforcement pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Enforced {
    pub low_value_dropped: usize,
    pub sent_pruned: usize,
}

/// Applies `policy` to the outbox: tombstones unsent low-value rows when it
/// says so and prunes acknowledged rows older than its retention. Unsent
/// records are never touched (see `outbox`).
pub fn enforce(conn: &rusqlite::Connection, policy: Policy, now_ms: i64) -> Result<Enforced, crate::store::drain::OutboxError> {
    let low_value_dropped = if policy.drop_low_value { crate::store::drain::drop_low_value(conn)? } else { 0 };
    let sent_pruned = crate::store::drain::prune_sent(conn, now_ms.saturating_sub(policy.keep_sent_ms))?;
    Ok(Enforced { low_value_dropped, sent_pruned })
}

/// Free and total bytes of the filesystem holding `path` (None if unknown).
pub fn disk_space(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs only writes into the zeroed struct we pass; `c` is NUL-terminated.
    unsafe {
        let mut s: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c.as_ptr(), &mut s) != 0 {
            return None;
        }
        let frsize = s.f_frsize as u64;
        Some((s.f_bavail as u64 * frsize, s.f_blocks as u64 * frsize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_space_maps_to_levels_at_the_thresholds() {
        assert_eq!(assess(1000, 500, 100), DiskLevel::Ok);
        assert_eq!(assess(499, 500, 100), DiskLevel::Low);
        assert_eq!(assess(99, 500, 100), DiskLevel::Critical);
    }

    #[test]
    fn low_value_rows_stop_before_acknowledged_rows_are_cut() {
        let ok = policy(DiskLevel::Ok, 30);
        let low = policy(DiskLevel::Low, 30);
        let crit = policy(DiskLevel::Critical, 30);
        assert!(ok.queue_low_value && !ok.drop_low_value);
        assert!(!low.queue_low_value && low.drop_low_value);
        assert!(ok.keep_sent_ms > low.keep_sent_ms && low.keep_sent_ms > crit.keep_sent_ms);
        assert_eq!(crit.keep_sent_ms, 0);
    }

    #[test]
    fn under_pressure_records_survive_while_samples_and_old_sent_rows_go() {
        use crate::store::drain;
        let d = tempfile::tempdir().unwrap();
        let mut c = drain::open(&d.path().join("g.db")).unwrap();
        let day = 86_400_000;
        let now = 100 * day;
        drain::enqueue(&c, "sent-old", "tap", "{}", 0, 0).unwrap();
        drain::enqueue(&c, "sent-recent", "tap", "{}", 0, 0).unwrap();
        drain::enqueue(&c, "unsent-tap", "tap", r#"{"m":1}"#, 0, 0).unwrap();
        drain::enqueue(&c, "sample", "telemetry", r#"{"t":1}"#, -1, 0).unwrap();
        drain::mark_sent(&mut c, &[1], now - 3 * day).unwrap();
        drain::mark_sent(&mut c, &[2], now - 1000).unwrap();
        let ok = enforce(&c, policy(DiskLevel::Ok, 30), now).unwrap();
        assert_eq!(ok, Enforced { low_value_dropped: 0, sent_pruned: 0 });
        let low = enforce(&c, policy(DiskLevel::Low, 30), now).unwrap();
        assert_eq!(low, Enforced { low_value_dropped: 1, sent_pruned: 1 });
        let crit = enforce(&c, policy(DiskLevel::Critical, 30), now).unwrap();
        assert_eq!(crit, Enforced { low_value_dropped: 0, sent_pruned: 1 });
        let left = drain::next_batch_after(&c, 0, 1 << 20, 10).unwrap();
        assert_eq!(left.iter().map(|r| (r.id.as_str(), r.kind.as_str())).collect::<Vec<_>>(), vec![("unsent-tap", "tap"), ("sample", "dropped")]);
        assert_eq!(left[0].payload, r#"{"m":1}"#);
    }

    #[test]
    fn the_disk_of_a_real_directory_has_space() {
        let (free, total) = disk_space(Path::new("/")).unwrap();
        assert!(total > 0 && free <= total);
        assert_eq!(disk_space(Path::new("/no/such/dir")), None);
    }
}
