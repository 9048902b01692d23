//! Unit tests for the start-up check and the idle re-hash, on real files and SQLite.

use super::*;
use crate::store::migrations::migrate;

struct Fixture {
    _dir: tempfile::TempDir,
    cache: std::path::PathBuf,
    conn: Connection,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    let mut conn = Connection::open(dir.path().join("db.sqlite")).unwrap();
    migrate(&mut conn).unwrap();
    Fixture { _dir: dir, cache, conn }
}

/// Writes a file into the cache and registers it as verified; returns its hash.
fn cached(f: &Fixture, course: &str, data: &[u8], at: i64) -> String {
    let (sha, _) = disk::hash_reader(data).unwrap();
    let name = format!("{sha}.mp4");
    std::fs::write(f.cache.join(&name), data).unwrap();
    cache::ensure(&f.conn, &sha, course, "http://h/x.mp4", data.len() as u64, &name).unwrap();
    cache::mark_verified(&f.conn, &sha, at).unwrap();
    sha
}

fn state(f: &Fixture, sha: &str) -> CacheState {
    cache::get(&f.conn, sha).unwrap().unwrap().state
}

#[test]
fn the_startup_check_finds_missing_and_resized_files_without_reading_them() {
    let f = fixture();
    let gone = cached(&f, "c1", b"gone file", 1);
    let short = cached(&f, "c2", b"will be cut", 1);
    let fine = cached(&f, "c3", b"fine", 1);
    std::fs::remove_file(f.cache.join(format!("{gone}.mp4"))).unwrap();
    std::fs::write(f.cache.join(format!("{short}.mp4")), b"cut").unwrap();
    let events = startup_check(&f.conn, &f.cache).unwrap();
    assert_eq!(state(&f, &gone), CacheState::Missing);
    assert_eq!(state(&f, &short), CacheState::Failed);
    assert_eq!(state(&f, &fine), CacheState::Verified);
    assert!(!f.cache.join(format!("{short}.mp4")).exists());
    assert_eq!(events.len(), 2);
    assert!(matches!(&events[1], LibraryEvent::Corrupt { course_id, .. } if course_id == "c2"));
}

#[test]
fn stray_cache_files_are_removed_and_foreign_files_are_left() {
    let f = fixture();
    let stray = f.cache.join(format!("{}.mp4.part", "ab".repeat(32)));
    std::fs::write(&stray, b"x").unwrap();
    std::fs::write(f.cache.join("README"), b"x").unwrap();
    startup_check(&f.conn, &f.cache).unwrap();
    assert!(!stray.exists());
    assert!(f.cache.join("README").exists());
}

#[test]
fn the_idle_rehash_spreads_a_big_file_over_several_budgets() {
    let f = fixture();
    let data = vec![7u8; 600 * 1024];
    let sha = cached(&f, "c1", &data, 1);
    let mut r = Rehasher::new();
    let first = r.step(&f.conn, &f.cache, 256 * 1024, 100).unwrap();
    assert_eq!((first.bytes_read, first.files_checked), (256 * 1024, 0));
    let second = r.step(&f.conn, &f.cache, 1024 * 1024, 200).unwrap();
    assert_eq!((second.bytes_read, second.files_checked), (344 * 1024, 1));
    assert!(second.events.is_empty());
    assert_eq!(cache::get(&f.conn, &sha).unwrap().unwrap().verified_ms, Some(200));
}

#[test]
fn a_file_that_rotted_in_place_is_failed_removed_and_reported() {
    let f = fixture();
    let good = cached(&f, "c1", b"good bytes", 1);
    let bad = cached(&f, "c2", b"will rot!!", 2);
    std::fs::write(f.cache.join(format!("{bad}.mp4")), b"has rotted").unwrap();
    let rep = Rehasher::new().step(&f.conn, &f.cache, 1 << 20, 50).unwrap();
    assert_eq!(rep.files_checked, 2);
    assert_eq!(state(&f, &good), CacheState::Verified);
    assert_eq!(state(&f, &bad), CacheState::Failed);
    assert!(!f.cache.join(format!("{bad}.mp4")).exists());
    assert!(matches!(&rep.events[..], [LibraryEvent::Corrupt { course_id, .. }] if course_id == "c2"));
    assert!(cache::playable(&f.conn, &f.cache, "c2").unwrap().is_none());
}

#[test]
fn the_oldest_verification_is_checked_first_and_a_small_budget_stops_early() {
    let f = fixture();
    let newer = cached(&f, "c1", &[1u8; 1000], 500);
    let older = cached(&f, "c2", &[2u8; 1000], 100);
    let rep = Rehasher::new().step(&f.conn, &f.cache, 1000, 900).unwrap();
    assert_eq!(rep.files_checked, 1);
    assert_eq!(cache::get(&f.conn, &older).unwrap().unwrap().verified_ms, Some(900));
    assert_eq!(cache::get(&f.conn, &newer).unwrap().unwrap().verified_ms, Some(500));
}
