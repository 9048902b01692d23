//! USB-stick transfer of courses. A stick folder holds `catalog.json` (or
//! `catalog.toml`) and `files/<sha256>.<ext>`; import copies what the catalogue
//! wants into the cache, export writes such a folder from the cache. Every copy
//! is hashed while copying and renamed into place only on a match, exactly like
//! a download. Never trusts a file's name, only its hash.

use super::catalog::{self, Catalog, CatalogError};
use super::progress::{Progress, ProgressSink};
use super::quota::{self, QuotaError};
use super::sync::{self, SyncError};
use super::{disk, LibraryConfig, LibraryEvent};
use crate::store::cache;
use crate::clock::Clock;
use rusqlite::Connection;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

pub const FILES_DIR: &str = "files";
pub const CATALOG_JSON: &str = "catalog.json";

#[derive(Debug, thiserror::Error)]
pub enum UsbError {
    #[error("no catalog.json or catalog.toml in {0}")]
    NoCatalog(String),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("cache index error: {0}")]
    Db(#[from] rusqlite::Error),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> UsbError + '_ {
    move |source| UsbError::Io { path: path.display().to_string(), source }
}

/// Why a copy did not land.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("content does not match: {got_size} bytes with SHA-256 {actual}")]
    Mismatch { actual: String, got_size: u64 },
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Copies `src` to `dest` through `dest.part`, hashing on the way; renames into
/// place (durably) only when size and SHA-256 match. Leaves nothing on failure.
pub fn copy_verified(src: &Path, dest: &Path, size: u64, sha256: &str, progress: &mut dyn FnMut(u64)) -> Result<(), CopyError> {
    let part = disk::part_path(dest);
    let result = (|| {
        let mut input = File::open(src)?;
        let mut out = File::create(&part)?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1024 * 1024];
        let mut n = 0u64;
        loop {
            let k = input.read(&mut buf)?;
            if k == 0 {
                break;
            }
            n += k as u64;
            if n > size {
                break;
            }
            h.update(&buf[..k]);
            out.write_all(&buf[..k])?;
            progress(n);
        }
        let actual = hex::encode(h.finalize());
        if n != size || actual != sha256 {
            return Err(CopyError::Mismatch { actual, got_size: n });
        }
        out.sync_all()?;
        drop(out);
        disk::durable_rename(&part, dest)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    result
}

/// Finds the catalogue file of a stick folder.
pub fn find_catalog(dir: &Path) -> Option<PathBuf> {
    ["catalog.json", "catalog.toml"].iter().map(|n| dir.join(n)).find(|p| p.is_file())
}

/// Where a stick may hold a file: `files/<cache name>`, `files/<sha256>`, or
/// the URL's file name in `files/` or at the top (hand-made sticks).
fn locate(dir: &Path, w: &sync::Wanted) -> Option<PathBuf> {
    let base = w.url.split(['?', '#']).next().unwrap_or("").rsplit('/').next().unwrap_or("").to_string();
    let files = dir.join(FILES_DIR);
    let mut candidates = vec![files.join(&w.name), files.join(&w.sha256)];
    if !base.is_empty() && !base.contains("..") {
        candidates.push(files.join(&base));
        candidates.push(dir.join(&base));
    }
    candidates.into_iter().find(|p| p.is_file())
}

#[derive(Debug, Default)]
pub struct ImportReport {
    /// The stick's catalogue version, when it replaced the device's.
    pub catalog_applied: Option<u64>,
    pub imported: Vec<String>,
    pub already_cached: usize,
    pub not_on_stick: Vec<String>,
    pub bad_on_stick: Vec<(String, String)>,
    pub no_room: Vec<(String, String)>,
    pub events: Vec<LibraryEvent>,
}

/// Imports a stick folder: applies its catalogue when newer than the device's,
/// then copies in every wanted file it carries.
pub fn import(
    conn: &Connection,
    cfg: &LibraryConfig,
    clock: &dyn Clock,
    dir: &Path,
    centre: Option<&str>,
    progress: &mut dyn ProgressSink,
) -> Result<ImportReport, UsbError> {
    let cat_path = find_catalog(dir).ok_or_else(|| UsbError::NoCatalog(dir.display().to_string()))?;
    let stick = Catalog::load(&cat_path)?;
    let mut report = ImportReport::default();
    match catalog::current_version(conn)? {
        Some(v) if v > stick.version => {
            tracing::info!(stick = stick.version, device = v, "stick catalogue is older; keeping the device's");
        }
        _ => {
            catalog::replace(conn, &stick, centre)?;
            report.catalog_applied = Some(stick.version);
        }
    }
    std::fs::create_dir_all(&cfg.cache_dir).map_err(io_err(&cfg.cache_dir))?;
    let now = clock.now().wall_ms;
    let mut todo = Vec::new();
    for w in sync::wanted(conn, cfg, now)? {
        if w.verified && cfg.cache_dir.join(&w.name).exists() {
            report.already_cached += 1;
        } else if let Some(src) = locate(dir, &w) {
            todo.push((w, src));
        } else {
            report.not_on_stick.push(w.sha256);
        }
    }
    let mut p = Progress {
        activity: "import",
        files_total: todo.len(),
        bytes_total: todo.iter().map(|(w, _)| w.size).sum(),
        ..Default::default()
    };
    progress.report(&p);
    for (w, src) in todo {
        p.course_id = w.course_id.clone();
        p.sha256 = w.sha256.clone();
        p.file_size = w.size;
        let base = p.bytes_done;
        match quota::make_room(conn, cfg, w.size, w.protected, &HashSet::new(), now) {
            Ok(mut ev) => report.events.append(&mut ev),
            Err(QuotaError::Db(e)) => return Err(e.into()),
            Err(e) => {
                report.no_room.push((w.sha256.clone(), e.to_string()));
                continue;
            }
        }
        let dest = cfg.cache_dir.join(&w.name);
        let copied = copy_verified(&src, &dest, w.size, &w.sha256, &mut |n| {
            p.file_done = n;
            p.bytes_done = base + n;
            progress.report(&p);
        });
        match copied {
            Ok(()) => {
                cache::mark_verified(conn, &w.sha256, clock.now().wall_ms)?;
                report.events.push(LibraryEvent::Verified { course_id: w.course_id.clone(), sha256: w.sha256.clone(), size: w.size, source: "import" });
                report.imported.push(w.sha256.clone());
            }
            Err(e) => {
                let why = format!("{}: {e}", src.display());
                tracing::warn!(%why, "file on the stick is not usable");
                report.events.push(LibraryEvent::Failed { course_id: w.course_id.clone(), sha256: w.sha256.clone(), error: format!("import: {why}") });
                report.bad_on_stick.push((w.sha256.clone(), why));
            }
        }
        p.files_done += 1;
        p.bytes_done = base + w.size;
        progress.report(&p);
    }
    Ok(report)
}

#[derive(Debug, Default)]
pub struct ExportReport {
    pub exported: Vec<String>,
    /// Already on the stick with the right hash.
    pub already_there: usize,
    /// Not (verified) in the cache, so not exported.
    pub not_cached: Vec<String>,
    /// Cache files that failed their hash on the way out (marked failed).
    pub corrupt: Vec<(String, String)>,
    pub events: Vec<LibraryEvent>,
}

/// Writes a stick folder from the cache: the device's catalogue (without the
/// centre's schedule) and every verified file (of `courses`, when given). The
/// catalogue is written last, so a stick pulled out early has none.
pub fn export(
    conn: &Connection,
    cfg: &LibraryConfig,
    dir: &Path,
    courses: Option<&[String]>,
    progress: &mut dyn ProgressSink,
) -> Result<ExportReport, UsbError> {
    let cat = catalog::load_from_db(conn)?;
    let files_dir = dir.join(FILES_DIR);
    std::fs::create_dir_all(&files_dir).map_err(io_err(&files_dir))?;
    let mut report = ExportReport::default();
    let mut todo = Vec::new();
    let mut seen = HashSet::new();
    for c in cat.courses.iter().filter(|c| courses.is_none_or(|cs| cs.contains(&c.id))) {
        for f in &c.files {
            if !seen.insert(f.sha256.clone()) {
                continue;
            }
            match cache::get(conn, &f.sha256)? {
                Some(e) if e.state == cache::CacheState::Verified => todo.push(e),
                _ => report.not_cached.push(f.sha256.clone()),
            }
        }
    }
    let mut p = Progress {
        activity: "export",
        files_total: todo.len(),
        bytes_total: todo.iter().map(|e| e.size).sum(),
        ..Default::default()
    };
    progress.report(&p);
    for e in todo {
        p.course_id = e.course_id.clone();
        p.sha256 = e.sha256.clone();
        p.file_size = e.size;
        let base = p.bytes_done;
        let dest = files_dir.join(&e.name);
        let on_stick = std::fs::metadata(&dest).is_ok_and(|m| m.len() == e.size)
            && disk::hash_file(&dest).is_ok_and(|(h, _)| h == e.sha256);
        if on_stick {
            report.already_there += 1;
        } else {
            let copied = copy_verified(&e.path_in(&cfg.cache_dir), &dest, e.size, &e.sha256, &mut |n| {
                p.file_done = n;
                p.bytes_done = base + n;
                progress.report(&p);
            });
            match copied {
                Ok(()) => report.exported.push(e.sha256.clone()),
                Err(CopyError::Mismatch { actual, got_size }) => {
                    // The cache copy itself is bad: take it out of service.
                    let error = format!("export found {got_size} bytes with SHA-256 {actual}");
                    cache::mark_failed(conn, &e.sha256, &format!("corrupt: {error}"))?;
                    let _ = std::fs::remove_file(e.path_in(&cfg.cache_dir));
                    report.events.push(LibraryEvent::Corrupt { course_id: e.course_id.clone(), sha256: e.sha256.clone(), error: error.clone() });
                    report.corrupt.push((e.sha256.clone(), error));
                }
                Err(CopyError::Io(source)) => return Err(UsbError::Io { path: dest.display().to_string(), source }),
            }
        }
        p.files_done += 1;
        p.bytes_done = base + e.size;
        progress.report(&p);
    }
    let cat_path = dir.join(CATALOG_JSON);
    let tmp = disk::part_path(&cat_path);
    std::fs::write(&tmp, cat.to_json()).map_err(io_err(&tmp))?;
    disk::durable_rename(&tmp, &cat_path).map_err(io_err(&cat_path))?;
    Ok(report)
}

#[cfg(test)]
#[path = "usb_tests.rs"]
mod tests;
