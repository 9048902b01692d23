//! Keeps the index honest about the disk: a cheap check at start (presence and
//! size of every verified file, stray files) and a full re-hash in idle time,
//! a bounded number of bytes per call. A file that fails is marked failed (so it
//! is never played), deleted, left for the next sync to re-fetch, and reported.

use crate::store::cache::{self, CacheState};
use super::{disk, LibraryEvent};
use crate::model::Millis;
use rusqlite::Connection;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum IntegrityError {
    #[error("cannot list cache directory {path}: {source}")]
    ListDir { path: String, source: std::io::Error },
    #[error("cache index error: {0}")]
    Db(#[from] rusqlite::Error),
}

/// Presence and size of every verified file; also drops `.part` files and
/// cache-named files the index does not know. Cheap: no file is read.
pub fn startup_check(conn: &Connection, cache_dir: &Path) -> Result<Vec<LibraryEvent>, IntegrityError> {
    let mut events = Vec::new();
    let entries = cache::list(conn)?;
    for e in &entries {
        let path = e.path_in(cache_dir);
        match (e.state, std::fs::metadata(&path)) {
            (CacheState::Verified, Err(_)) => {
                cache::mark_missing(conn, &e.sha256)?;
                tracing::warn!(sha256 = %e.sha256, "cached file is gone");
                events.push(LibraryEvent::Missing { course_id: e.course_id.clone(), sha256: e.sha256.clone() });
            }
            (CacheState::Verified, Ok(m)) if m.len() != e.size => {
                let error = format!("size is {} bytes, expected {}", m.len(), e.size);
                events.push(fail(conn, cache_dir, e, error)?);
            }
            (CacheState::Partial, _) if !disk::part_path(&path).exists() => cache::mark_missing(conn, &e.sha256)?,
            _ => {}
        }
    }
    let known: HashSet<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    let dir = std::fs::read_dir(cache_dir).map_err(|source| IntegrityError::ListDir { path: cache_dir.display().to_string(), source })?;
    for item in dir.flatten() {
        let name = item.file_name().to_string_lossy().to_string();
        let base = name.strip_suffix(".part").unwrap_or(&name);
        let ours = base.len() >= 64 && base.as_bytes()[..64].iter().all(u8::is_ascii_hexdigit);
        if ours && !known.contains(base) {
            tracing::info!(file = %name, "removing a stray cache file");
            let _ = std::fs::remove_file(item.path());
        }
    }
    Ok(events)
}

fn fail(conn: &Connection, cache_dir: &Path, e: &cache::CacheEntry, error: String) -> Result<LibraryEvent, IntegrityError> {
    tracing::error!(sha256 = %e.sha256, course = %e.course_id, %error, "cached file is corrupt; removed for re-fetch");
    cache::mark_failed(conn, &e.sha256, &format!("corrupt: {error}"))?;
    let _ = std::fs::remove_file(e.path_in(cache_dir));
    let _ = disk::fsync_dir(cache_dir);
    Ok(LibraryEvent::Corrupt { course_id: e.course_id.clone(), sha256: e.sha256.clone(), error })
}

/// Re-hashes verified files in idle time, oldest verification first, carrying a
/// file over several calls when it is bigger than one call's budget.
#[derive(Default)]
pub struct Rehasher {
    current: Option<InProgress>,
}

struct InProgress {
    sha256: String,
    offset: u64,
    hasher: Sha256,
}

/// What one idle step did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StepReport {
    pub bytes_read: u64,
    /// Files whose re-hash finished (matched or not).
    pub files_checked: usize,
    pub events: Vec<LibraryEvent>,
}

impl Rehasher {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads at most about `budget` bytes. Call when idle; cheap to call often.
    pub fn step(&mut self, conn: &Connection, cache_dir: &Path, budget: u64, now_ms: Millis) -> Result<StepReport, IntegrityError> {
        let mut report = StepReport::default();
        let mut tried = HashSet::new();
        while report.bytes_read < budget {
            let cur = match self.current.take() {
                Some(c) => c,
                None => match next_due(conn, &tried)? {
                    Some(sha256) => InProgress { sha256, offset: 0, hasher: Sha256::new() },
                    None => break,
                },
            };
            tried.insert(cur.sha256.clone());
            let Some(entry) = cache::get(conn, &cur.sha256)?.filter(|e| e.state == CacheState::Verified) else {
                continue;
            };
            let left = budget - report.bytes_read;
            match read_more(&entry.path_in(cache_dir), cur, left, entry.size) {
                Ok(Step::More(c, n)) => {
                    report.bytes_read += n;
                    self.current = Some(c);
                }
                Ok(Step::Done(actual, n)) => {
                    report.bytes_read += n;
                    report.files_checked += 1;
                    if actual == entry.sha256 {
                        cache::mark_verified(conn, &entry.sha256, now_ms)?;
                    } else {
                        report.events.push(fail(conn, cache_dir, &entry, format!("SHA-256 is now {actual}"))?);
                    }
                }
                Err(error) => {
                    report.files_checked += 1;
                    report.events.push(fail(conn, cache_dir, &entry, error)?);
                }
            }
        }
        Ok(report)
    }
}

fn next_due(conn: &Connection, skip: &HashSet<String>) -> Result<Option<String>, IntegrityError> {
    let mut stmt = conn.prepare_cached("SELECT sha256 FROM cache_files WHERE state = 'verified' ORDER BY verified_ms, sha256")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    for sha in rows {
        let sha = sha?;
        if !skip.contains(&sha) {
            return Ok(Some(sha));
        }
    }
    Ok(None)
}

enum Step {
    More(InProgress, u64),
    Done(String, u64),
}

fn read_more(path: &Path, mut cur: InProgress, budget: u64, size: u64) -> Result<Step, String> {
    let mut f = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let len = f.metadata().map_err(|e| e.to_string())?.len();
    if len != size {
        return Err(format!("size is {len} bytes, expected {size}"));
    }
    f.seek(SeekFrom::Start(cur.offset)).map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut read = 0u64;
    while read < budget.max(1) {
        let want = (budget.max(1) - read).min(buf.len() as u64) as usize;
        let n = f.read(&mut buf[..want]).map_err(|e| format!("read error: {e}"))?;
        if n == 0 {
            break;
        }
        cur.hasher.update(&buf[..n]);
        read += n as u64;
        cur.offset += n as u64;
    }
    if read == 0 && cur.offset < size {
        return Err(format!("file ended at byte {} of {size}", cur.offset));
    }
    if cur.offset >= size {
        Ok(Step::Done(hex::encode(cur.hasher.finalize()), read))
    } else {
        Ok(Step::More(cur, read))
    }
}

#[cfg(test)]
#[path = "integrity_tests.rs"]
mod tests;
