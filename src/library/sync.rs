//! Brings the cache in line with the catalogue: lists the files wanted (protected
//! courses first, then by next scheduled use), makes room, downloads each one
//! through the `Downloader`, and records the outcome in the index. Returns
//! events for the uplink. Never marks a file verified without a hash match.

use super::catalog::{self, CatalogError};
use super::download::{Backoff, DownloadError, Downloader, Job, Sleeper};
use super::http::HttpClient;
use super::progress::{Progress, ProgressSink};
use super::quota::{self, QuotaError};
use super::{disk, LibraryConfig, LibraryEvent};
use crate::store::cache;
use crate::clock::Clock;
use crate::model::Millis;
use rusqlite::Connection;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("cannot create cache directory {path}: {source}")]
    CacheDir { path: String, source: std::io::Error },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error("cache index error: {0}")]
    Db(#[from] rusqlite::Error),
}

/// One file the catalogue wants in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub course_id: String,
    pub sha256: String,
    pub url: String,
    pub size: u64,
    /// File name inside the cache directory.
    pub name: String,
    pub protected: bool,
    pub verified: bool,
}

/// Every catalogue file, registered in the index, in download order: protected
/// courses first, then by next scheduled start, then catalogue order.
pub fn wanted(conn: &Connection, cfg: &LibraryConfig, now_ms: Millis) -> Result<Vec<Wanted>, SyncError> {
    let cat = catalog::load_from_db(conn)?;
    let prot = catalog::protected_courses(conn, now_ms, cfg.protect_days)?;
    let next = catalog::next_scheduled(conn, now_ms)?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (pos, c) in cat.courses.iter().enumerate() {
        for f in &c.files {
            if !seen.insert(f.sha256.clone()) {
                continue;
            }
            let name = disk::cache_name(&f.sha256, &f.url);
            cache::ensure(conn, &f.sha256, &c.id, &f.url, f.size, &name)?;
            let verified = cache::get(conn, &f.sha256)?.is_some_and(|e| e.state == cache::CacheState::Verified);
            let protected = prot.contains(&c.id);
            let key = (!protected, next.get(&c.id).copied().unwrap_or(i64::MAX), pos);
            out.push((key, Wanted { course_id: c.id.clone(), sha256: f.sha256.clone(), url: f.url.clone(), size: f.size, name, protected, verified }));
        }
    }
    out.sort_by_key(|(k, _)| *k);
    Ok(out.into_iter().map(|(_, w)| w).collect())
}

/// What one sync round did.
#[derive(Debug, Default)]
pub struct SyncReport {
    pub downloaded: Vec<String>,
    pub already_cached: usize,
    pub failed: Vec<(String, String)>,
    /// Files left for a later round for lack of space.
    pub no_room: Vec<(String, String)>,
    pub cancelled: bool,
    pub events: Vec<LibraryEvent>,
}

pub struct Syncer<'a> {
    pub conn: &'a Connection,
    pub cfg: &'a LibraryConfig,
    pub clock: &'a dyn Clock,
    pub client: &'a HttpClient,
    pub sleeper: &'a dyn Sleeper,
    pub cancel: Option<&'a AtomicBool>,
    /// Files that must not be evicted now (e.g. the one playing).
    pub pinned: HashSet<String>,
}

impl Syncer<'_> {
    /// Downloads every wanted file that is not verified yet (only those of
    /// `courses`, when given). Per-file failures are reported, not returned.
    pub fn run(&self, courses: Option<&[String]>, progress: &mut dyn ProgressSink) -> Result<SyncReport, SyncError> {
        std::fs::create_dir_all(&self.cfg.cache_dir)
            .map_err(|source| SyncError::CacheDir { path: self.cfg.cache_dir.display().to_string(), source })?;
        let now = self.clock.now().wall_ms;
        let all = wanted(self.conn, self.cfg, now)?;
        let mut report = SyncReport::default();
        let todo: Vec<Wanted> = all
            .into_iter()
            .filter(|w| courses.is_none_or(|cs| cs.iter().any(|c| *c == w.course_id)))
            .filter(|w| {
                let done = w.verified && self.cfg.cache_dir.join(&w.name).exists();
                report.already_cached += usize::from(done);
                !done
            })
            .collect();
        let mut p = Progress {
            activity: "download",
            files_total: todo.len(),
            bytes_total: todo.iter().map(|w| w.size).sum(),
            ..Default::default()
        };
        progress.report(&p);
        let downloader = Downloader {
            client: self.client,
            sleeper: self.sleeper,
            backoff: Backoff { base_ms: self.cfg.backoff_base_ms, max_ms: self.cfg.backoff_max_ms },
            max_attempts: self.cfg.max_attempts.max(1),
            min_free_bytes: self.cfg.min_free_bytes,
            cancel: self.cancel,
        };
        for w in todo {
            p.course_id = w.course_id.clone();
            p.sha256 = w.sha256.clone();
            p.file_size = w.size;
            p.file_done = 0;
            let base = p.bytes_done;
            match self.one(&downloader, &w, &mut |done| {
                p.file_done = done;
                p.bytes_done = base + done;
                progress.report(&p);
            }) {
                Ok(mut events) => {
                    report.downloaded.push(w.sha256.clone());
                    report.events.append(&mut events);
                }
                Err(OneError::Cancelled) => {
                    report.cancelled = true;
                    break;
                }
                Err(OneError::NoRoom(why)) => {
                    tracing::warn!(course = %w.course_id, sha256 = %w.sha256, %why, "no room; left for later");
                    report.no_room.push((w.sha256.clone(), why));
                }
                Err(OneError::Failed(why)) => {
                    tracing::warn!(course = %w.course_id, sha256 = %w.sha256, %why, "download failed");
                    cache::mark_failed(self.conn, &w.sha256, &why)?;
                    report.events.push(LibraryEvent::Failed { course_id: w.course_id.clone(), sha256: w.sha256.clone(), error: why.clone() });
                    report.failed.push((w.sha256.clone(), why));
                }
                Err(OneError::Db(e)) => return Err(e.into()),
            }
            p.files_done += 1;
            p.bytes_done = base + w.size;
            p.file_done = w.size;
            progress.report(&p);
        }
        Ok(report)
    }

    fn one(&self, d: &Downloader<'_>, w: &Wanted, progress: &mut dyn FnMut(u64)) -> Result<Vec<LibraryEvent>, OneError> {
        let dest: PathBuf = self.cfg.cache_dir.join(&w.name);
        let mut events = Vec::new();
        // A file under its final name that the index does not vouch for (a crash
        // between rename and commit, or an import) is trusted only after hashing.
        if dest.exists() {
            match disk::hash_file(&dest) {
                Ok((h, n)) if h == w.sha256 && n == w.size => {
                    cache::mark_verified(self.conn, &w.sha256, self.clock.now().wall_ms)?;
                    return Ok(vec![LibraryEvent::Verified { course_id: w.course_id.clone(), sha256: w.sha256.clone(), size: w.size, source: "download" }]);
                }
                _ => {
                    let _ = std::fs::remove_file(&dest);
                }
            }
        }
        let part = disk::part_path(&dest);
        let have = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0).min(w.size);
        match quota::make_room(self.conn, self.cfg, w.size - have, w.protected, &self.pinned, self.clock.now().wall_ms) {
            Ok(mut ev) => events.append(&mut ev),
            Err(QuotaError::Db(e)) => return Err(OneError::Db(e)),
            Err(e) => return Err(OneError::NoRoom(e.to_string())),
        }
        cache::mark_partial(self.conn, &w.sha256)?;
        let job = Job { url: w.url.clone(), size: w.size, sha256: w.sha256.clone(), dest };
        match d.fetch(&job, progress) {
            Ok(f) => {
                cache::mark_verified(self.conn, &w.sha256, self.clock.now().wall_ms)?;
                tracing::info!(course = %w.course_id, sha256 = %w.sha256, resumed_from = f.resumed_from, attempts = f.attempts, "cached");
                events.push(LibraryEvent::Verified { course_id: w.course_id.clone(), sha256: w.sha256.clone(), size: w.size, source: "download" });
                Ok(events)
            }
            Err(DownloadError::Cancelled) => Err(OneError::Cancelled),
            Err(e @ DownloadError::DiskFull { .. }) => Err(OneError::NoRoom(e.to_string())),
            Err(e) => Err(OneError::Failed(e.to_string())),
        }
    }
}

enum OneError {
    Cancelled,
    NoRoom(String),
    Failed(String),
    Db(rusqlite::Error),
}

impl From<rusqlite::Error> for OneError {
    fn from(e: rusqlite::Error) -> Self {
        OneError::Db(e)
    }
}
