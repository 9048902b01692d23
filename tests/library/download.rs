//! The downloader and the sync round against a loopback server that drops,
//! stalls, throttles, ignores Range, lies about content and fails.

use crate::common::{bytes, sha, NoSleep};
use microclass::clock::TestClock;
use microclass::library::catalog::{self, Catalog};
use microclass::library::download::{Backoff, DownloadError, Downloader, Fetched, Job};
use microclass::library::http::HttpClient;
use microclass::store::cache::{self, CacheState};
use microclass::library::progress::NoProgress;
use microclass::library::sync::Syncer;
use microclass::library::testserver::{Faults, Seen, TestServer};
use microclass::library::{disk, LibraryConfig, LibraryEvent};
use microclass::model::{Course, CourseFile};
use std::path::{Path, PathBuf};
use std::time::Duration;

const SIZE: usize = 300 * 1024;

fn client() -> HttpClient {
    HttpClient::new(Duration::from_secs(2), Duration::from_millis(300), None)
}

fn fetch(server: &TestServer, data_sha: &str, dir: &Path, sleeper: &NoSleep, max_attempts: u32) -> (Result<Fetched, DownloadError>, PathBuf, Vec<u64>) {
    let c = client();
    let d = Downloader {
        client: &c,
        sleeper,
        backoff: Backoff { base_ms: 100, max_ms: 1000 },
        max_attempts,
        min_free_bytes: 0,
        cancel: None,
    };
    let dest = dir.join("file.mp4");
    let job = Job { url: server.url("/v/file.mp4"), size: SIZE as u64, sha256: data_sha.to_string(), dest: dest.clone() };
    let mut seen = Vec::new();
    let r = d.fetch(&job, &mut |n| seen.push(n));
    (r, dest, seen)
}

fn served(data: &[u8]) -> TestServer {
    let s = TestServer::start().unwrap();
    s.add_bytes("/v/file.mp4", data.to_vec());
    s
}

fn ranges(s: &TestServer) -> Vec<Option<u64>> {
    s.seen().into_iter().map(|Seen { range_from, .. }| range_from).collect()
}

#[test]
fn a_clean_download_lands_verified_with_no_part_left() {
    let data = bytes(SIZE, 1);
    let s = served(&data);
    let dir = tempfile::tempdir().unwrap();
    let (r, dest, progress) = fetch(&s, &sha(&data), dir.path(), &NoSleep::default(), 3);
    assert_eq!(r.unwrap(), Fetched { resumed_from: 0, received: SIZE as u64, attempts: 1 });
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    assert!(!disk::part_path(&dest).exists());
    assert_eq!(progress.last(), Some(&(SIZE as u64)));
}

#[test]
fn a_connection_dropped_mid_file_is_resumed_with_range() {
    let data = bytes(SIZE, 2);
    let s = served(&data);
    s.set_faults(Faults { drop_after: Some(100_000), drop_requests: 2, ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let sleeper = NoSleep::default();
    let (r, dest, _) = fetch(&s, &sha(&data), dir.path(), &sleeper, 3);
    assert_eq!(r.unwrap().attempts, 3);
    assert_eq!(ranges(&s), [None, Some(100_000), Some(200_000)]);
    assert_eq!(std::fs::read(&dest).unwrap(), data);
    assert_eq!(sleeper.0.lock().unwrap().len(), 2, "each interruption waits before resuming");
}

#[test]
fn a_server_that_ignores_range_restarts_the_file_cleanly() {
    let data = bytes(SIZE, 3);
    let s = served(&data);
    s.set_faults(Faults { drop_after: Some(120_000), drop_requests: 1, ignore_range: true, ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let (r, dest, progress) = fetch(&s, &sha(&data), dir.path(), &NoSleep::default(), 3);
    r.unwrap();
    assert_eq!(ranges(&s), [None, Some(120_000)]);
    assert_eq!(std::fs::read(&dest).unwrap(), data, "the 200 answer must not be appended to the old bytes");
    assert!(progress.contains(&0), "progress goes back to zero on a restart");
}

#[test]
fn a_wrong_file_on_the_server_is_a_clear_failure_and_nothing_is_left_in_place() {
    let data = bytes(SIZE, 4);
    let s = served(&bytes(SIZE, 5));
    let dir = tempfile::tempdir().unwrap();
    let (r, dest, _) = fetch(&s, &sha(&data), dir.path(), &NoSleep::default(), 3);
    let err = r.unwrap_err();
    assert!(matches!(err, DownloadError::HashMismatch { .. }), "{err}");
    assert!(err.to_string().contains("does not match the catalogue"));
    assert_eq!(ranges(&s).len(), 1, "a clean single pass that mismatches is not fetched again");
    assert!(!dest.exists() && !disk::part_path(&dest).exists());
}

#[test]
fn a_corrupt_part_from_an_earlier_run_is_fetched_again_from_the_start() {
    let data = bytes(SIZE, 6);
    let s = served(&data);
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("file.mp4");
    // A power cut can leave zeros where data should be.
    std::fs::write(disk::part_path(&dest), vec![0u8; 50_000]).unwrap();
    let (r, _, _) = fetch(&s, &sha(&data), dir.path(), &NoSleep::default(), 3);
    assert_eq!(r.unwrap().resumed_from, 50_000);
    assert_eq!(ranges(&s), [Some(50_000), None]);
    assert_eq!(std::fs::read(&dest).unwrap(), data);
}

#[test]
fn a_stalled_server_times_out_and_the_download_resumes() {
    let data = bytes(SIZE, 7);
    let s = served(&data);
    s.set_faults(Faults { stall: Some((64_000, Duration::from_secs(2))), stall_requests: 1, ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let (r, dest, _) = fetch(&s, &sha(&data), dir.path(), &NoSleep::default(), 3);
    assert_eq!(r.unwrap().attempts, 2);
    assert_eq!(ranges(&s), [None, Some(64_000)]);
    assert_eq!(std::fs::read(&dest).unwrap(), data);
}

#[test]
fn a_slow_server_is_waited_for_when_it_keeps_sending() {
    let data = bytes(SIZE, 8);
    let s = served(&data);
    s.set_faults(Faults { throttle_bps: Some(1_000_000), ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let (r, dest, _) = fetch(&s, &sha(&data), dir.path(), &NoSleep::default(), 3);
    assert_eq!(r.unwrap().attempts, 1);
    assert_eq!(std::fs::read(&dest).unwrap(), data);
}

#[test]
fn server_errors_are_retried_with_growing_waits_then_given_up() {
    let data = bytes(SIZE, 9);
    let s = served(&data);
    s.set_faults(Faults { status: Some(503), status_requests: 100, ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let sleeper = NoSleep::default();
    let (r, dest, _) = fetch(&s, &sha(&data), dir.path(), &sleeper, 3);
    let err = r.unwrap_err();
    assert!(matches!(err, DownloadError::GaveUp { attempts: 3, .. }), "{err}");
    assert!(err.to_string().contains("503"));
    let waits = sleeper.0.lock().unwrap().clone();
    assert_eq!(waits.len(), 2);
    assert!(waits[1] > waits[0], "backoff grows: {waits:?}");
    assert!(!dest.exists());
}

#[test]
fn a_missing_file_fails_at_once() {
    let s = TestServer::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (r, _, _) = fetch(&s, &"0".repeat(64), dir.path(), &NoSleep::default(), 5);
    assert!(matches!(r, Err(DownloadError::Status { status: 404, .. })));
    assert_eq!(s.seen().len(), 1);
}

#[test]
fn a_server_offering_a_different_size_is_refused() {
    let data = bytes(SIZE, 10);
    let s = served(&data[..SIZE - 1]);
    let dir = tempfile::tempdir().unwrap();
    let (r, dest, _) = fetch(&s, &sha(&data), dir.path(), &NoSleep::default(), 3);
    assert!(matches!(r, Err(DownloadError::SizeMismatch { got, .. }) if got == SIZE as u64 - 1));
    assert!(!dest.exists());
}

// --- sync rounds: index, quota, events ---

struct Device {
    _dir: tempfile::TempDir,
    cfg: LibraryConfig,
    conn: rusqlite::Connection,
}

fn device(quota: u64) -> Device {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LibraryConfig {
        cache_dir: dir.path().join("cache"),
        quota_bytes: quota,
        min_free_bytes: 0,
        read_timeout_ms: 300,
        max_attempts: 2,
        backoff_base_ms: 10,
        ..Default::default()
    };
    let store = microclass::store::Store::open(&dir.path().join("db.sqlite")).unwrap();
    drop(store);
    let conn = rusqlite::Connection::open(dir.path().join("db.sqlite")).unwrap();
    Device { _dir: dir, cfg, conn }
}

fn course(s: &TestServer, id: &str, required: bool, data: &[u8]) -> Course {
    let path = format!("/v/{id}.mp4");
    s.add_bytes(&path, data.to_vec());
    Course {
        id: id.into(),
        title: id.into(),
        title_en: String::new(),
        category: String::new(),
        required,
        duration_s: 60,
        credit_minutes: 45,
        poster: None,
        files: vec![CourseFile { url: s.url(&path), size: data.len() as u64, sha256: sha(data) }],
    }
}

fn sync(d: &Device, clock: &TestClock) -> microclass::library::sync::SyncReport {
    let c = HttpClient::new(Duration::from_secs(2), d.cfg.read_timeout(), None);
    let sleeper = NoSleep::default();
    let syncer = Syncer { conn: &d.conn, cfg: &d.cfg, clock, client: &c, sleeper: &sleeper, cancel: None, pinned: Default::default() };
    syncer.run(None, &mut NoProgress).unwrap()
}

#[test]
fn a_sync_round_caches_good_files_and_reports_a_bad_one_as_failed() {
    let s = TestServer::start().unwrap();
    let d = device(u64::MAX);
    let good = course(&s, "good", false, &bytes(50_000, 11));
    let mut bad = course(&s, "bad", false, &bytes(50_000, 12));
    bad.files[0].sha256 = sha(&bytes(50_000, 13));
    catalog::replace(&d.conn, &Catalog { version: 1, courses: vec![good, bad.clone()], schedule: None }, None).unwrap();
    let clock = TestClock::at(1_000);
    let rep = sync(&d, &clock);
    assert_eq!((rep.downloaded.len(), rep.failed.len()), (1, 1));
    assert!(cache::playable(&d.conn, &d.cfg.cache_dir, "good").unwrap().is_some());
    assert!(cache::playable(&d.conn, &d.cfg.cache_dir, "bad").unwrap().is_none());
    let e = cache::get(&d.conn, &bad.files[0].sha256).unwrap().unwrap();
    assert_eq!(e.state, CacheState::Failed);
    assert!(e.error.unwrap().contains("does not match"));
    assert!(rep.events.iter().any(|e| matches!(e, LibraryEvent::Failed { course_id, .. } if course_id == "bad")));
    let again = sync(&d, &clock);
    assert_eq!((again.already_cached, again.failed.len()), (1, 1), "a failed file is tried again next round");
}

#[test]
fn room_for_a_required_course_is_made_by_evicting_the_least_recently_played_elective() {
    let s = TestServer::start().unwrap();
    let d = device(100_000);
    let e1 = course(&s, "e1", false, &bytes(40_000, 21));
    let e2 = course(&s, "e2", false, &bytes(40_000, 22));
    catalog::replace(&d.conn, &Catalog { version: 1, courses: vec![e1.clone(), e2.clone()], schedule: None }, None).unwrap();
    let clock = TestClock::at(1_000);
    assert_eq!(sync(&d, &clock).downloaded.len(), 2);
    cache::touch_course(&d.conn, "e1", 5_000).unwrap();
    cache::touch_course(&d.conn, "e2", 9_000).unwrap();

    let r = course(&s, "req", true, &bytes(40_000, 23));
    let e3 = course(&s, "e3", false, &bytes(40_000, 24));
    catalog::replace(&d.conn, &Catalog { version: 2, courses: vec![e1, e2, r, e3], schedule: None }, None).unwrap();
    let rep = sync(&d, &clock);
    assert!(cache::playable(&d.conn, &d.cfg.cache_dir, "req").unwrap().is_some());
    assert!(cache::playable(&d.conn, &d.cfg.cache_dir, "e1").unwrap().is_none(), "e1 was played longest ago");
    assert!(cache::playable(&d.conn, &d.cfg.cache_dir, "e2").unwrap().is_some());
    assert!(rep.events.iter().any(|e| matches!(e, LibraryEvent::Evicted { course_id, .. } if course_id == "e1")));
    assert_eq!(rep.no_room.len(), 1, "an elective does not push out another elective");
    assert!(cache::verified_bytes(&d.conn).unwrap() <= 100_000);
}

#[test]
fn the_free_disk_guard_leaves_files_for_later_instead_of_filling_the_disk() {
    let s = TestServer::start().unwrap();
    let mut d = device(u64::MAX);
    d.cfg.min_free_bytes = u64::MAX / 4;
    let c = course(&s, "c", true, &bytes(10_000, 31));
    catalog::replace(&d.conn, &Catalog { version: 1, courses: vec![c], schedule: None }, None).unwrap();
    let rep = sync(&d, &TestClock::at(0));
    assert_eq!(rep.no_room.len(), 1);
    assert!(rep.no_room[0].1.contains("no room"), "{}", rep.no_room[0].1);
    assert!(s.seen().is_empty(), "nothing is requested when it cannot fit");
}
