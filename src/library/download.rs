//! Fetches one file into the cache: resumes a `.part` file with `Range`, restarts
//! cleanly when a server ignores it, checks size and SHA-256 before anything
//! else sees the file, then fsyncs and renames it into place. Retries network
//! trouble with backoff through an injectable `Sleeper`. Never touches the
//! database and never leaves an unverified file under its final name.

use super::disk;
use super::http::{HttpClient, HttpError};
use rand::Rng;
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("server answered HTTP {status} for {url}")]
    Status { status: u16, url: String },
    #[error("{url} has {got} bytes but the catalogue says {expected}")]
    SizeMismatch { url: String, expected: u64, got: u64 },
    #[error("{url} does not match the catalogue: SHA-256 is {actual}, expected {expected}")]
    HashMismatch { url: String, expected: String, actual: String },
    #[error("gave up on {url} after {attempts} attempts: {last}")]
    GaveUp { url: String, attempts: u32, last: String },
    #[error("not enough disk space for {url}: {need} bytes needed, {free} free, {keep} must stay free")]
    DiskFull { url: String, need: u64, free: u64, keep: u64 },
    #[error("cache file {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("download cancelled")]
    Cancelled,
}

/// Waits between attempts. Tests pass one that records instead of sleeping.
pub trait Sleeper: Send + Sync {
    fn sleep(&self, d: Duration);
}

pub struct RealSleeper;
impl Sleeper for RealSleeper {
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d)
    }
}

/// Exponential backoff with ±20 % jitter, so devices that lost the network
/// together do not come back in lockstep.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base_ms: u64,
    pub max_ms: u64,
}

impl Backoff {
    /// Delay before attempt `n + 1` after `n` consecutive failures (n >= 1).
    pub fn delay(&self, failures: u32) -> Duration {
        let exp = self.base_ms.saturating_mul(1u64 << failures.saturating_sub(1).min(20));
        let ms = exp.min(self.max_ms);
        let jitter = rand::thread_rng().gen_range(80..=120);
        Duration::from_millis(ms * jitter / 100)
    }
}

/// A file to fetch: where from, what it must be, where it goes.
#[derive(Debug, Clone)]
pub struct Job {
    pub url: String,
    pub size: u64,
    pub sha256: String,
    pub dest: PathBuf,
}

/// How a successful fetch went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fetched {
    /// Bytes already present from an earlier run when this one started.
    pub resumed_from: u64,
    /// Bytes received over the network in this call.
    pub received: u64,
    pub attempts: u32,
}

pub struct Downloader<'a> {
    pub client: &'a HttpClient,
    pub sleeper: &'a dyn Sleeper,
    pub backoff: Backoff,
    /// Failed attempts in a row (without progress) before giving up.
    pub max_attempts: u32,
    /// Space that must stay free on the cache's filesystem.
    pub min_free_bytes: u64,
    pub cancel: Option<&'a AtomicBool>,
}

const BUF: usize = 256 * 1024;
/// Flush the part file now and then so a power cut loses little.
const SYNC_EVERY: u64 = 32 * 1024 * 1024;
/// A file that keeps making progress is retried at most this many times in all.
const HARD_ATTEMPT_CAP: u32 = 200;

/// The verified part of a download: how many bytes the `.part` file holds and
/// the hash state over exactly those bytes.
struct PartState {
    file: File,
    path: PathBuf,
    len: u64,
    hasher: Sha256,
    /// Some bytes came from before this pass (an earlier run or attempt).
    resumed: bool,
}

enum Failure {
    /// Worth another attempt (network trouble, early close).
    Retry(DownloadError),
    /// Will not get better by retrying now.
    Fatal(DownloadError),
}

impl Downloader<'_> {
    /// Fetches `job` into `job.dest`, calling `progress(bytes_of_file_done)` as it goes.
    pub fn fetch(&self, job: &Job, progress: &mut dyn FnMut(u64)) -> Result<Fetched, DownloadError> {
        let part_path = disk::part_path(&job.dest);
        let mut st = open_part(&part_path, job.size)?;
        let mut out = Fetched { resumed_from: st.len, ..Default::default() };
        progress(st.len);
        let mut failures = 0u32;
        let mut restarted_after_mismatch = false;
        loop {
            if self.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                return Err(DownloadError::Cancelled);
            }
            self.check_space(job, st.len)?;
            out.attempts += 1;
            let before = st.len;
            let result = self.attempt(job, &mut st, &mut out.received, progress);
            match result {
                Ok(()) => {
                    let actual = hex::encode(std::mem::take(&mut st.hasher).finalize());
                    if actual == job.sha256 {
                        disk::durable_rename(&part_path, &job.dest).map_err(|e| io_err(&job.dest, e))?;
                        return Ok(out);
                    }
                    let mismatch =
                        DownloadError::HashMismatch { url: job.url.clone(), expected: job.sha256.clone(), actual };
                    let resumed = st.resumed;
                    truncate(&mut st).map_err(|e| io_err(&part_path, e))?;
                    // Bytes kept from an earlier pass may be what is wrong: one clean retry.
                    if resumed && !restarted_after_mismatch {
                        tracing::warn!(url = %job.url, "hash mismatch on a resumed download; fetching it again from the start");
                        restarted_after_mismatch = true;
                        continue;
                    }
                    drop(st);
                    let _ = std::fs::remove_file(&part_path);
                    return Err(mismatch);
                }
                Err(Failure::Fatal(e)) => {
                    rollback(&mut st).map_err(|e| io_err(&part_path, e))?;
                    return Err(e);
                }
                Err(Failure::Retry(e)) => {
                    rollback(&mut st).map_err(|e| io_err(&part_path, e))?;
                    st.resumed = st.len > 0;
                    failures = if st.len > before { 1 } else { failures + 1 };
                    if failures >= self.max_attempts || out.attempts >= HARD_ATTEMPT_CAP {
                        return Err(DownloadError::GaveUp { url: job.url.clone(), attempts: out.attempts, last: e.to_string() });
                    }
                    let wait = self.backoff.delay(failures);
                    tracing::info!(url = %job.url, at = st.len, error = %e, wait_ms = wait.as_millis() as u64, "download interrupted; will resume");
                    self.sleeper.sleep(wait);
                }
            }
        }
    }

    fn check_space(&self, job: &Job, have: u64) -> Result<(), DownloadError> {
        let dir = job.dest.parent().unwrap_or(Path::new("."));
        let free = disk::free_bytes(dir).map_err(|e| io_err(dir, e))?;
        let need = job.size.saturating_sub(have);
        if free < need.saturating_add(self.min_free_bytes) {
            return Err(DownloadError::DiskFull { url: job.url.clone(), need, free, keep: self.min_free_bytes });
        }
        Ok(())
    }

    /// One request. On success the part file holds exactly `job.size` bytes.
    fn attempt(&self, job: &Job, st: &mut PartState, received: &mut u64, progress: &mut dyn FnMut(u64)) -> Result<(), Failure> {
        if st.len == job.size {
            return Ok(());
        }
        let range = (st.len > 0).then_some(st.len);
        let resp = self.client.get(&job.url, range).map_err(|e| {
            if e.is_transient() { Failure::Retry(e.into()) } else { Failure::Fatal(e.into()) }
        })?;
        let size_mismatch = |got| Failure::Fatal(DownloadError::SizeMismatch { url: job.url.clone(), expected: job.size, got });
        match resp.status {
            206 => match resp.content_range() {
                Some((first, _, total)) if first == st.len => {
                    if let Some(total) = total.filter(|t| *t != job.size) {
                        return Err(size_mismatch(total));
                    }
                }
                _ => {
                    // A range we did not ask for: start over rather than splice.
                    truncate(st).map_err(|e| Failure::Fatal(io_err(&st.path, e)))?;
                    return Err(Failure::Retry(DownloadError::Status { status: 206, url: job.url.clone() }));
                }
            },
            200 => {
                if st.len > 0 {
                    tracing::info!(url = %job.url, "server ignored Range; restarting the file");
                    truncate(st).map_err(|e| Failure::Fatal(io_err(&st.path, e)))?;
                    progress(0);
                }
                if let Some(n) = resp.content_length.filter(|n| *n != job.size) {
                    return Err(size_mismatch(n));
                }
            }
            416 => {
                truncate(st).map_err(|e| Failure::Fatal(io_err(&st.path, e)))?;
                return Err(Failure::Retry(DownloadError::Status { status: 416, url: job.url.clone() }));
            }
            s @ (408 | 425 | 429 | 500..=599) => {
                return Err(Failure::Retry(DownloadError::Status { status: s, url: job.url.clone() }))
            }
            s => return Err(Failure::Fatal(DownloadError::Status { status: s, url: job.url.clone() })),
        }
        let mut body = resp.body;
        let mut buf = vec![0u8; BUF];
        let mut since_sync = 0u64;
        loop {
            if self.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                return Err(Failure::Fatal(DownloadError::Cancelled));
            }
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let host = job.url.clone();
                    let err = match e.kind() {
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => HttpError::Timeout(host),
                        _ => HttpError::Io { host, source: e },
                    };
                    return Err(Failure::Retry(err.into()));
                }
            };
            if st.len + n as u64 > job.size {
                return Err(size_mismatch(st.len + n as u64));
            }
            st.file.write_all(&buf[..n]).map_err(|e| Failure::Fatal(write_err(job, &st.path, e)))?;
            st.hasher.update(&buf[..n]);
            st.len += n as u64;
            *received += n as u64;
            since_sync += n as u64;
            if since_sync >= SYNC_EVERY {
                st.file.sync_data().map_err(|e| Failure::Fatal(io_err(&st.path, e)))?;
                since_sync = 0;
            }
            progress(st.len);
        }
        if st.len < job.size {
            let msg = format!("connection closed at byte {} of {}", st.len, job.size);
            return Err(Failure::Retry(HttpError::Io { host: job.url.clone(), source: io::Error::new(io::ErrorKind::UnexpectedEof, msg) }.into()));
        }
        Ok(())
    }
}

/// Opens (or creates) the part file and hashes what it already holds. A part
/// longer than the file it is for is garbage and is emptied.
fn open_part(path: &Path, size: u64) -> Result<PartState, DownloadError> {
    let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(|e| io_err(path, e))?;
    let mut len = file.metadata().map_err(|e| io_err(path, e))?.len();
    let mut hasher = Sha256::new();
    if len > size {
        file.set_len(0).map_err(|e| io_err(path, e))?;
        len = 0;
    } else if len > 0 {
        let mut buf = vec![0u8; BUF];
        let mut left = len;
        file.seek(SeekFrom::Start(0)).map_err(|e| io_err(path, e))?;
        while left > 0 {
            let k = file.read(&mut buf[..(left.min(BUF as u64) as usize)]).map_err(|e| io_err(path, e))?;
            if k == 0 {
                break;
            }
            hasher.update(&buf[..k]);
            left -= k as u64;
        }
        len -= left;
    }
    file.seek(SeekFrom::Start(len)).map_err(|e| io_err(path, e))?;
    Ok(PartState { file, path: path.to_path_buf(), len, hasher, resumed: len > 0 })
}

/// Cuts the part file back to the bytes the hash covers (a failed write may
/// have left a torn tail).
fn rollback(st: &mut PartState) -> io::Result<()> {
    st.file.set_len(st.len)?;
    st.file.seek(SeekFrom::Start(st.len)).map(|_| ())
}

fn truncate(st: &mut PartState) -> io::Result<()> {
    st.len = 0;
    st.hasher = Sha256::new();
    st.resumed = false;
    rollback(st)
}

fn io_err(path: &Path, source: io::Error) -> DownloadError {
    DownloadError::Io { path: path.display().to_string(), source }
}

fn write_err(job: &Job, path: &Path, e: io::Error) -> DownloadError {
    if e.raw_os_error() == Some(libc::ENOSPC) {
        DownloadError::DiskFull { url: job.url.clone(), need: job.size, free: 0, keep: 0 }
    } else {
        io_err(path, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_bounded_jitter() {
        let b = Backoff { base_ms: 1000, max_ms: 8000 };
        for (n, nominal) in [(1, 1000u128), (2, 2000), (3, 4000), (4, 8000), (30, 8000)] {
            let d = b.delay(n).as_millis();
            assert!(d >= nominal * 8 / 10 && d <= nominal * 12 / 10, "{n}: {d}");
        }
    }

    #[test]
    fn a_part_longer_than_its_file_is_emptied_and_a_shorter_one_is_hashed() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.part");
        std::fs::write(&p, b"abcdef").unwrap();
        assert_eq!(open_part(&p, 4).unwrap().len, 0);
        std::fs::write(&p, b"abc").unwrap();
        let st = open_part(&p, 10).unwrap();
        assert_eq!((st.len, st.resumed), (3, true));
        assert_eq!(hex::encode(st.hasher.finalize()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
