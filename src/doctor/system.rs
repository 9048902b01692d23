//! Storage and time checks: free space of the data dir, the wall clock
//! (synchronised, plausible), SQLite integrity (`PRAGMA quick_check`) and the
//! course cache (every verified file present with its indexed size). The
//! database is opened read-only: the doctor never repairs or migrates.

use super::{Check, DoctorEnv};
use rusqlite::{Connection, OpenFlags};

/// Below this the kiosk cannot be trusted to record taps: FAIL.
pub const DISK_FAIL_BYTES: u64 = 256 * 1024 * 1024;
/// Below this (or below 10 % of the disk) course downloads will stall: WARN.
pub const DISK_WARN_BYTES: u64 = 1024 * 1024 * 1024;
/// A wall clock before this date is certainly wrong (the build is newer).
pub const EARLIEST_PLAUSIBLE_MS: i64 = 1_735_689_600_000; // 2025-01-01T00:00:00Z

fn mib(b: u64) -> u64 {
    b / (1024 * 1024)
}

pub fn check_disk(env: &DoctorEnv) -> Check {
    if !env.data_dir.is_dir() {
        return Check::fail(
            "disk",
            format!("data directory {} does not exist", env.data_dir.display()),
            "reinstall the package (it creates /var/lib/microclass) or fix device.data_dir",
        );
    }
    match env.disk.space(&env.data_dir) {
        Err(e) => Check::fail("disk", format!("cannot stat {}: {e}", env.data_dir.display()), "check the SD card (dmesg)"),
        Ok((free, total)) => {
            let detail = format!("{} MiB free of {} MiB on {}", mib(free), mib(total), env.data_dir.display());
            if free < DISK_FAIL_BYTES {
                Check::fail("disk", detail, "free space now: remove old course videos (`microclass library`), or use a larger SD card")
            } else if free < DISK_WARN_BYTES || free.saturating_mul(10) < total {
                Check::warn("disk", detail, "space is getting low; course downloads will stop first")
            } else {
                Check::ok("disk", detail)
            }
        }
    }
}

pub fn check_clock(env: &DoctorEnv) -> Check {
    let now = env.clock.now();
    let shown = chrono::DateTime::from_timestamp_millis(now.wall_ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| format!("{} ms", now.wall_ms));
    if now.wall_ms < EARLIEST_PLAUSIBLE_MS {
        return Check::fail(
            "clock",
            format!("wall clock reads {shown}: wrong (no RTC, no network time yet)"),
            "connect the network so NTP can set the clock (`timedatectl status`); records made now are flagged unsynchronised",
        );
    }
    if now.synced {
        Check::ok("clock", format!("{shown}, synchronised"))
    } else {
        Check::warn(
            "clock",
            format!("{shown}, NOT synchronised"),
            "check `timedatectl status` and systemd-timesyncd; records are flagged unsynchronised until it is",
        )
    }
}

fn open_ro(env: &DoctorEnv) -> Result<Option<Connection>, Check> {
    if !env.db_path.exists() {
        return Ok(None);
    }
    Connection::open_with_flags(&env.db_path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map(Some)
        .map_err(|e| Check::fail("database", format!("{}: cannot open: {e}", env.db_path.display()), "check file ownership (microclass:microclass)"))
}

pub fn check_database(env: &DoctorEnv) -> Check {
    let conn = match open_ro(env) {
        Err(c) => return c,
        Ok(None) => {
            return Check::warn(
                "database",
                format!("{} does not exist yet", env.db_path.display()),
                "it is created when the kiosk first starts (`systemctl start microclass`)",
            )
        }
        Ok(Some(c)) => c,
    };
    let damaged = "stop the service, copy the file aside, and restore the device from the hub (see docs/operations.md)";
    let rows: Result<Vec<String>, _> = conn
        .prepare("PRAGMA quick_check")
        .and_then(|mut st| st.query_map([], |r| r.get::<_, String>(0))?.collect());
    let rows = match rows {
        Ok(r) => r,
        Err(e) => return Check::fail("database", format!("{}: {e}", env.db_path.display()), damaged),
    };
    if rows != ["ok"] {
        let shown: Vec<_> = rows.iter().take(3).cloned().collect();
        return Check::fail("database", format!("quick_check found {} problem(s): {}", rows.len(), shown.join("; ")), damaged);
    }
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap_or(-1);
    let known = crate::store::migrations::MIGRATIONS.len() as i64;
    if version > known {
        return Check::fail(
            "database",
            format!("schema version {version} is newer than this program ({known})"),
            "the package was downgraded; install the newer microclass again",
        );
    }
    Check::ok("database", format!("quick_check ok, schema version {version}"))
}

pub fn check_cache(env: &DoctorEnv) -> Check {
    let conn = match open_ro(env) {
        Err(_) | Ok(None) => return Check::skip("cache", "no database, no cache index"),
        Ok(Some(c)) => c,
    };
    let rows: Result<Vec<(String, String, i64)>, _> = conn
        .prepare("SELECT course_id, path, size FROM cache_files WHERE state = 'verified' ORDER BY course_id, path")
        .and_then(|mut st| st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect());
    let rows = match rows {
        Ok(r) => r,
        Err(e) => return Check::fail("cache", format!("cannot read the cache index: {e}"), "see the database line above"),
    };
    let mut bad = Vec::new();
    for (course, path, size) in &rows {
        let p = std::path::Path::new(path);
        let full = if p.is_absolute() { p.to_path_buf() } else { env.cache_dir.join(p) };
        match std::fs::metadata(&full) {
            Err(_) => bad.push(format!("{course}: {} missing", full.display())),
            Ok(m) if m.len() as i64 != *size => bad.push(format!("{course}: {} is {} bytes, index says {size}", full.display(), m.len())),
            Ok(_) => {}
        }
    }
    if bad.is_empty() {
        return Check::ok("cache", format!("{} verified course file(s) present with the right size", rows.len()));
    }
    Check::fail(
        "cache",
        format!("{} of {} verified file(s) damaged: {}", bad.len(), rows.len(), bad.iter().take(3).cloned().collect::<Vec<_>>().join("; ")),
        "restart the kiosk: its start-up check marks them for download again; or re-import from USB",
    )
}
