//! Cache quota and eviction. The plan is a pure function over the index rows;
//! `make_room` applies it (delete file, fsync directory, update the index).
//! Policy: files no longer in the catalogue go first; then, only to make room
//! for a protected course, the least recently played unprotected files. A file
//! of a required course or of one scheduled within `protect_days` is never
//! evicted, nor is a pinned one (e.g. playing now).

use super::catalog::{self, Catalog};
use crate::store::cache::{self, CacheEntry, CacheState};
use super::{disk, LibraryConfig, LibraryEvent};
use crate::model::Millis;
use rusqlite::Connection;
use std::collections::{HashMap, HashSet};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    #[error("no room for {need} more bytes: {evictable} bytes could be evicted, {short} more are needed (quota or free-disk limit)")]
    NoRoom { need: u64, evictable: u64, short: u64 },
    #[error("cannot read free space of {path}: {source}")]
    FreeSpace { path: String, source: std::io::Error },
    #[error("cannot delete {path}: {source}")]
    Delete { path: String, source: std::io::Error },
    #[error(transparent)]
    Catalog(#[from] catalog::CatalogError),
    #[error("cache index error: {0}")]
    Db(#[from] rusqlite::Error),
}

/// Which verified files to delete to free `to_free` bytes, best victims first.
/// `allow_lru`: whether catalogue files (not just orphans) may go.
pub fn plan(
    entries: &[CacheEntry],
    referenced: &HashMap<String, Vec<String>>,
    protected_courses: &HashSet<String>,
    pinned: &HashSet<String>,
    to_free: u64,
    allow_lru: bool,
) -> Result<Vec<CacheEntry>, (u64, u64)> {
    if to_free == 0 {
        return Ok(Vec::new());
    }
    let mut victims: Vec<(bool, &CacheEntry)> = entries
        .iter()
        .filter(|e| e.state == CacheState::Verified && !pinned.contains(&e.sha256))
        .filter_map(|e| match referenced.get(&e.sha256) {
            None => Some((true, e)),
            Some(courses) if allow_lru && !courses.iter().any(|c| protected_courses.contains(c)) => Some((false, e)),
            Some(_) => None,
        })
        .collect();
    // Orphans first, then never played, then least recently played, then oldest.
    victims.sort_by_key(|(orphan, e)| (!orphan, e.last_played_ms.unwrap_or(i64::MIN), e.verified_ms.unwrap_or(0)));
    let mut freed = 0u64;
    let mut out = Vec::new();
    for (_, e) in victims {
        if freed >= to_free {
            break;
        }
        freed += e.size;
        out.push(e.clone());
    }
    if freed < to_free {
        return Err((freed, to_free - freed));
    }
    Ok(out)
}

/// SHA-256 -> ids of the catalogue courses that list it.
pub fn referenced(cat: &Catalog) -> HashMap<String, Vec<String>> {
    let mut m: HashMap<String, Vec<String>> = HashMap::new();
    for c in &cat.courses {
        for f in &c.files {
            m.entry(f.sha256.clone()).or_default().push(c.id.clone());
        }
    }
    m
}

/// Whether any course listing this file is protected at `now_ms`.
pub fn is_protected(conn: &Connection, cfg: &LibraryConfig, sha256: &str, now_ms: Millis) -> Result<bool, QuotaError> {
    let cat = catalog::load_from_db(conn)?;
    let prot = catalog::protected_courses(conn, now_ms, cfg.protect_days)?;
    Ok(referenced(&cat).get(sha256).is_some_and(|cs| cs.iter().any(|c| prot.contains(c))))
}

/// Frees space for `need` more bytes under both the quota and the free-disk
/// guard, evicting per the policy. `for_protected`: the incoming file belongs to
/// a protected course (may evict unprotected files, not only orphans).
pub fn make_room(
    conn: &Connection,
    cfg: &LibraryConfig,
    need: u64,
    for_protected: bool,
    pinned: &HashSet<String>,
    now_ms: Millis,
) -> Result<Vec<LibraryEvent>, QuotaError> {
    let used = cache::verified_bytes(conn)?;
    let free = disk::free_bytes(&cfg.cache_dir)
        .map_err(|source| QuotaError::FreeSpace { path: cfg.cache_dir.display().to_string(), source })?;
    let over_quota = (used + need).saturating_sub(cfg.quota_bytes);
    let under_free = (need + cfg.min_free_bytes).saturating_sub(free);
    let to_free = over_quota.max(under_free);
    if to_free == 0 {
        return Ok(Vec::new());
    }
    let cat = catalog::load_from_db(conn)?;
    let prot = catalog::protected_courses(conn, now_ms, cfg.protect_days)?;
    let entries = cache::list(conn)?;
    let victims = plan(&entries, &referenced(&cat), &prot, pinned, to_free, for_protected)
        .map_err(|(evictable, short)| QuotaError::NoRoom { need, evictable, short })?;
    let mut events = Vec::new();
    for v in victims {
        let path = v.path_in(&cfg.cache_dir);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(QuotaError::Delete { path: path.display().to_string(), source }),
        }
        let _ = disk::fsync_dir(&cfg.cache_dir);
        if cat.course_of(&v.sha256).is_some() {
            cache::mark_missing(conn, &v.sha256)?;
        } else {
            cache::remove(conn, &v.sha256)?;
        }
        tracing::info!(sha256 = %v.sha256, course = %v.course_id, size = v.size, "evicted from the cache");
        events.push(LibraryEvent::Evicted { course_id: v.course_id, sha256: v.sha256, size: v.size });
    }
    Ok(events)
}

/// Quota numbers for status screens and telemetry.
pub fn usage(conn: &Connection, cache_dir: &Path) -> rusqlite::Result<(u64, Option<u64>)> {
    Ok((cache::verified_bytes(conn)?, disk::free_bytes(cache_dir).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(sha: &str, course: &str, size: u64, played: Option<i64>) -> CacheEntry {
        CacheEntry {
            sha256: sha.into(),
            course_id: course.into(),
            url: String::new(),
            size,
            name: sha.into(),
            state: CacheState::Verified,
            verified_ms: Some(1),
            last_played_ms: played,
            error: None,
        }
    }

    fn refs(pairs: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
        let mut m: HashMap<String, Vec<String>> = HashMap::new();
        for (s, c) in pairs {
            m.entry(s.to_string()).or_default().push(c.to_string());
        }
        m
    }

    fn shas(v: &[CacheEntry]) -> Vec<&str> {
        v.iter().map(|e| e.sha256.as_str()).collect()
    }

    #[test]
    fn files_no_longer_in_the_catalogue_are_evicted_first() {
        let es = [entry("a", "c1", 10, None), entry("orphan", "old", 10, Some(99))];
        let got = plan(&es, &refs(&[("a", "c1")]), &HashSet::new(), &HashSet::new(), 5, true).unwrap();
        assert_eq!(shas(&got), ["orphan"]);
    }

    #[test]
    fn the_least_recently_played_go_first_and_never_played_before_them() {
        let es = [entry("new", "c1", 10, Some(300)), entry("old", "c2", 10, Some(100)), entry("never", "c3", 10, None)];
        let r = refs(&[("new", "c1"), ("old", "c2"), ("never", "c3")]);
        let got = plan(&es, &r, &HashSet::new(), &HashSet::new(), 15, true).unwrap();
        assert_eq!(shas(&got), ["never", "old"]);
    }

    #[test]
    fn required_scheduled_and_pinned_files_are_never_evicted() {
        let es = [entry("req", "c1", 10, None), entry("pin", "c2", 10, None), entry("ok", "c3", 10, Some(5))];
        let r = refs(&[("req", "c1"), ("pin", "c2"), ("ok", "c3")]);
        let prot: HashSet<String> = ["c1".to_string()].into();
        let pinned: HashSet<String> = ["pin".to_string()].into();
        assert_eq!(shas(&plan(&es, &r, &prot, &pinned, 10, true).unwrap()), ["ok"]);
        assert_eq!(plan(&es, &r, &prot, &pinned, 11, true), Err((10, 1)));
    }

    #[test]
    fn an_unprotected_download_may_only_push_out_orphans() {
        let es = [entry("a", "c1", 10, None)];
        assert_eq!(plan(&es, &refs(&[("a", "c1")]), &HashSet::new(), &HashSet::new(), 5, false), Err((0, 5)));
    }

    #[test]
    fn nothing_is_evicted_when_there_is_room() {
        let es = [entry("a", "c1", 10, None)];
        assert!(plan(&es, &HashMap::new(), &HashSet::new(), &HashSet::new(), 0, true).unwrap().is_empty());
    }
}
