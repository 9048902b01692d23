//! The cache index (`cache_files`): one row per file (SHA-256) with its state.
//! Plain functions over a `rusqlite::Connection`, so the library's download,
//! integrity and quota code and the uplink's telemetry read it the same way.
//! Only a file whose bytes were hashed and matched is ever `verified`; nothing
//! here reads or writes video files.

use crate::model::Millis;
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheState {
    /// Wanted but not on disk.
    Missing,
    /// A `.part` download exists.
    Partial,
    /// On disk, hashed and matching the catalogue.
    Verified,
    /// Last download or check failed (see `error`); never played.
    Failed,
}

impl CacheState {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheState::Missing => "missing",
            CacheState::Partial => "partial",
            CacheState::Verified => "verified",
            CacheState::Failed => "failed",
        }
    }
    fn parse(s: &str) -> CacheState {
        match s {
            "partial" => CacheState::Partial,
            "verified" => CacheState::Verified,
            "failed" => CacheState::Failed,
            _ => CacheState::Missing,
        }
    }
}

/// One row of `cache_files`. `name` is relative to the cache directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    pub sha256: String,
    pub course_id: String,
    pub url: String,
    pub size: u64,
    pub name: String,
    pub state: CacheState,
    pub verified_ms: Option<Millis>,
    pub last_played_ms: Option<Millis>,
    pub error: Option<String>,
}

impl CacheEntry {
    pub fn path_in(&self, cache_dir: &Path) -> PathBuf {
        cache_dir.join(&self.name)
    }
}

const COLS: &str = "sha256, course_id, url, size, path, state, verified_ms, last_played_ms, error";

fn from_row(r: &Row<'_>) -> rusqlite::Result<CacheEntry> {
    Ok(CacheEntry {
        sha256: r.get(0)?,
        course_id: r.get(1)?,
        url: r.get(2)?,
        size: r.get::<_, i64>(3)?.max(0) as u64,
        name: r.get(4)?,
        state: CacheState::parse(&r.get::<_, String>(5)?),
        verified_ms: r.get(6)?,
        last_played_ms: r.get(7)?,
        error: r.get(8)?,
    })
}

/// Adds a wanted file as `missing`, or refreshes its course/URL if already known
/// (its state is kept: the bytes are identified by the hash, not the URL).
pub fn ensure(conn: &Connection, sha256: &str, course_id: &str, url: &str, size: u64, name: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO cache_files (sha256, course_id, url, size, path, state) VALUES (?1, ?2, ?3, ?4, ?5, 'missing')
         ON CONFLICT(sha256) DO UPDATE SET course_id = excluded.course_id, url = excluded.url,
             size = excluded.size, path = excluded.path",
    )?
    .execute(params![sha256, course_id, url, size as i64, name])?;
    Ok(())
}

pub fn get(conn: &Connection, sha256: &str) -> rusqlite::Result<Option<CacheEntry>> {
    conn.prepare_cached(&format!("SELECT {COLS} FROM cache_files WHERE sha256 = ?1"))?
        .query_row([sha256], from_row)
        .optional()
}

pub fn list(conn: &Connection) -> rusqlite::Result<Vec<CacheEntry>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLS} FROM cache_files ORDER BY course_id, sha256"))?;
    let rows = stmt.query_map([], from_row)?;
    rows.collect()
}

/// Marks a file verified. Call only right after its bytes hashed to `sha256`.
pub fn mark_verified(conn: &Connection, sha256: &str, now_ms: Millis) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE cache_files SET state = 'verified', verified_ms = ?2, error = NULL WHERE sha256 = ?1")?
        .execute(params![sha256, now_ms])?;
    Ok(())
}

pub fn mark_partial(conn: &Connection, sha256: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE cache_files SET state = 'partial', verified_ms = NULL WHERE sha256 = ?1 AND state <> 'failed'")?
        .execute([sha256])?;
    Ok(())
}

pub fn mark_missing(conn: &Connection, sha256: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE cache_files SET state = 'missing', verified_ms = NULL WHERE sha256 = ?1")?
        .execute([sha256])?;
    Ok(())
}

pub fn mark_failed(conn: &Connection, sha256: &str, error: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE cache_files SET state = 'failed', verified_ms = NULL, error = ?2 WHERE sha256 = ?1")?
        .execute(params![sha256, error])?;
    Ok(())
}

pub fn remove(conn: &Connection, sha256: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM cache_files WHERE sha256 = ?1")?.execute([sha256])?;
    Ok(())
}

/// Bytes of verified files (what the quota counts besides `.part` files).
pub fn verified_bytes(conn: &Connection) -> rusqlite::Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT COALESCE(SUM(size), 0) FROM cache_files WHERE state = 'verified'")?
        .query_row([], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

/// The files to play for a course, in catalogue order, or `None` unless every
/// file of the course is verified (a course is never played half-present).
pub fn playable(conn: &Connection, cache_dir: &Path, course_id: &str) -> rusqlite::Result<Option<Vec<PathBuf>>> {
    let files: Option<String> = conn
        .prepare_cached("SELECT files FROM courses WHERE id = ?1")?
        .query_row([course_id], |r| r.get(0))
        .optional()?;
    let Some(files) = files else { return Ok(None) };
    let files: Vec<crate::model::CourseFile> = serde_json::from_str(&files).unwrap_or_default();
    if files.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        match get(conn, &f.sha256)? {
            Some(e) if e.state == CacheState::Verified => out.push(e.path_in(cache_dir)),
            _ => return Ok(None),
        }
    }
    Ok(Some(out))
}

/// Ids of the courses whose every file is verified (what `playable` would
/// accept), in one query over the catalogue and the index; for the screens.
pub fn cached_courses(conn: &Connection) -> rusqlite::Result<std::collections::HashSet<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.id FROM courses c
         WHERE json_array_length(c.files) > 0
           AND NOT EXISTS (
             SELECT 1 FROM json_each(c.files) f
             LEFT JOIN cache_files cf ON cf.sha256 = json_extract(f.value, '$.sha256')
             WHERE cf.state IS NOT 'verified')",
    )?;
    let ids = stmt.query_map([], |r| r.get::<_, String>(0))?;
    ids.collect()
}

/// Notes that a course was played (eviction keeps recently played courses).
pub fn touch_course(conn: &Connection, course_id: &str, now_ms: Millis) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE cache_files SET last_played_ms = ?2 WHERE course_id = ?1")?
        .execute(params![course_id, now_ms])?;
    Ok(())
}

/// Course-cache files by state, from the `cache_files` table.
pub fn cache_state(conn: &Connection) -> rusqlite::Result<microclass_protocol::wire::CacheState> {
    let mut c = microclass_protocol::wire::CacheState::default();
    let mut stmt = conn.prepare_cached("SELECT state, count(*), coalesce(sum(size), 0) FROM cache_files GROUP BY state")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let (state, n, bytes): (String, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
        let n = n.max(0) as u64;
        match state.as_str() {
            "verified" => {
                c.verified = n;
                c.verified_bytes = bytes.max(0) as u64;
            }
            "partial" => c.partial = n,
            "missing" => c.missing = n,
            _ => c.failed += n,
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::migrations::migrate;

    fn db() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        c
    }

    #[test]
    fn a_new_file_starts_missing_and_keeps_its_state_when_the_url_changes() {
        let c = db();
        ensure(&c, "aa", "c1", "http://a/x.mp4", 10, "aa.mp4").unwrap();
        assert_eq!(get(&c, "aa").unwrap().unwrap().state, CacheState::Missing);
        mark_verified(&c, "aa", 5).unwrap();
        ensure(&c, "aa", "c1", "http://b/x.mp4", 10, "aa.mp4").unwrap();
        let e = get(&c, "aa").unwrap().unwrap();
        assert_eq!((e.state, e.url.as_str(), e.verified_ms), (CacheState::Verified, "http://b/x.mp4", Some(5)));
    }

    #[test]
    fn a_failed_file_is_not_downgraded_to_partial_and_keeps_its_error() {
        let c = db();
        ensure(&c, "aa", "c1", "http://a/x", 10, "aa").unwrap();
        mark_failed(&c, "aa", "hash mismatch").unwrap();
        mark_partial(&c, "aa").unwrap();
        let e = get(&c, "aa").unwrap().unwrap();
        assert_eq!((e.state, e.error.as_deref()), (CacheState::Failed, Some("hash mismatch")));
    }

    #[test]
    fn only_verified_bytes_count_as_cached() {
        let c = db();
        ensure(&c, "aa", "c1", "http://a/x", 10, "aa").unwrap();
        ensure(&c, "bb", "c1", "http://a/y", 20, "bb").unwrap();
        mark_verified(&c, "bb", 1).unwrap();
        assert_eq!(verified_bytes(&c).unwrap(), 20);
    }

    #[test]
    fn a_course_is_playable_only_when_all_its_files_are_verified() {
        let c = db();
        let files = r#"[{"url":"http://a/1.mp4","size":1,"sha256":"aa"},{"url":"http://a/2.mp4","size":1,"sha256":"bb"}]"#;
        c.execute("INSERT INTO courses (id, title, duration_s, credit_minutes, files) VALUES ('c1', 't', 60, 45, ?1)", [files])
            .unwrap();
        ensure(&c, "aa", "c1", "http://a/1.mp4", 1, "aa.mp4").unwrap();
        ensure(&c, "bb", "c1", "http://a/2.mp4", 1, "bb.mp4").unwrap();
        mark_verified(&c, "aa", 1).unwrap();
        assert_eq!(playable(&c, Path::new("/c"), "c1").unwrap(), None);
        mark_verified(&c, "bb", 1).unwrap();
        let got = playable(&c, Path::new("/c"), "c1").unwrap().unwrap();
        assert_eq!(got, vec![PathBuf::from("/c/aa.mp4"), PathBuf::from("/c/bb.mp4")]);
        mark_failed(&c, "aa", "bad").unwrap();
        assert_eq!(playable(&c, Path::new("/c"), "c1").unwrap(), None);
        assert_eq!(playable(&c, Path::new("/c"), "nope").unwrap(), None);
    }

    #[test]
    fn a_course_counts_as_cached_only_when_every_file_is_verified() {
        let c = db();
        let two = r#"[{"url":"http://a/1.mp4","size":1,"sha256":"aa"},{"url":"http://a/2.mp4","size":1,"sha256":"bb"}]"#;
        let one = r#"[{"url":"http://a/3.mp4","size":1,"sha256":"cc"}]"#;
        for (id, files) in [("c1", two), ("c2", one), ("c3", "[]"), ("c4", r#"[{"url":"http://a/4.mp4","size":1,"sha256":"dd"}]"#)] {
            c.execute("INSERT INTO courses (id, title, duration_s, credit_minutes, files) VALUES (?1, 't', 60, 45, ?2)", [id, files]).unwrap();
        }
        ensure(&c, "aa", "c1", "http://a/1.mp4", 1, "aa.mp4").unwrap();
        ensure(&c, "bb", "c1", "http://a/2.mp4", 1, "bb.mp4").unwrap();
        ensure(&c, "cc", "c2", "http://a/3.mp4", 1, "cc.mp4").unwrap();
        mark_verified(&c, "aa", 1).unwrap();
        mark_verified(&c, "cc", 1).unwrap();
        // c1 half there, c3 has no file to play, c4's file is not in the index at all.
        assert_eq!(cached_courses(&c).unwrap(), ["c2".to_string()].into_iter().collect());
        mark_verified(&c, "bb", 1).unwrap();
        assert_eq!(cached_courses(&c).unwrap(), ["c1".to_string(), "c2".to_string()].into_iter().collect());
        for id in ["c1", "c2"] {
            assert!(playable(&c, Path::new("/c"), id).unwrap().is_some(), "cached and playable agree on {id}");
        }
    }
}
