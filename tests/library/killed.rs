//! `microclass fetch` killed with SIGKILL at random points and restarted: the
//! download resumes, and at no point does the index call an unverified file
//! cached or does an unverified file sit under its final name.

use crate::common::{bytes, sha};
use microclass::library::catalog::Catalog;
use microclass::store::cache::{self, CacheState};
use microclass::library::testserver::{Faults, TestServer};
use microclass::library::disk;
use microclass::model::{Course, CourseFile};
use rand::Rng;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const SIZE: usize = 6 * 1024 * 1024;

/// Every claim of the cache must hold: verified rows point at files with the
/// right hash, and any complete-looking file (no `.part`) hashes right.
fn assert_cache_honest(db: &Path, cache: &Path, want: &str) {
    let conn = rusqlite::Connection::open(db).unwrap();
    for e in cache::list(&conn).unwrap() {
        if e.state == CacheState::Verified {
            let (h, _) = disk::hash_file(&e.path_in(cache)).expect("a verified file must exist");
            assert_eq!(h, e.sha256, "verified row with wrong bytes");
        }
    }
    if let Ok(dir) = std::fs::read_dir(cache) {
        for f in dir.flatten() {
            let name = f.file_name().to_string_lossy().to_string();
            if !name.ends_with(".part") {
                assert_eq!(disk::hash_file(&f.path()).unwrap().0, want, "{name} is under a final name but not whole");
            }
        }
    }
}

#[test]
fn a_downloader_killed_at_random_points_resumes_and_never_reports_a_bad_file() {
    let data = bytes(SIZE, 42);
    let want = sha(&data);
    let server = TestServer::start().unwrap();
    server.add_bytes("/v/big.mp4", data);
    // About 3 s for the whole file, so kills land mid-transfer.
    server.set_faults(Faults { throttle_bps: Some(2 * 1024 * 1024), ..Default::default() });

    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[device]\ndistrict = \"t\"\ncentre = \"c\"\nid = \"d1\"\ndata_dir = {:?}\n\n[library]\nmin_free_bytes = 0\nread_timeout_ms = 2000\nbackoff_base_ms = 50\n",
            data_dir.display().to_string()
        ),
    )
    .unwrap();
    let course = Course {
        id: "big".into(),
        title: "大课".into(),
        title_en: String::new(),
        category: String::new(),
        required: true,
        duration_s: 600,
        credit_minutes: 45,
        poster: None,
        files: vec![CourseFile { url: server.url("/v/big.mp4"), size: SIZE as u64, sha256: want.clone() }],
    };
    let cat_path = dir.path().join("catalog.json");
    std::fs::write(&cat_path, Catalog { version: 1, courses: vec![course], schedule: None }.to_json()).unwrap();
    let db = data_dir.join("microclass.db");
    let cache = data_dir.join("cache");
    let fetch = || {
        Command::new(env!("CARGO_BIN_EXE_microclass"))
            .args(["fetch", "-q", "--config"])
            .arg(&config)
            .arg("--catalog")
            .arg(&cat_path)
            .env("MICROCLASS_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("microclass binary")
    };

    let mut rng = rand::thread_rng();
    let mut kills = 0;
    for _ in 0..6 {
        let mut child = fetch();
        std::thread::sleep(Duration::from_millis(rng.gen_range(150..600)));
        if child.try_wait().unwrap().is_some() {
            break;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        assert_cache_honest(&db, &cache, &want);
    }
    assert!(kills >= 2, "the download finished too fast to be interrupted");

    let status = fetch().wait().unwrap();
    assert!(status.success(), "the last run completes the download");
    assert_cache_honest(&db, &cache, &want);
    let conn = rusqlite::Connection::open(&db).unwrap();
    assert_eq!(cache::get(&conn, &want).unwrap().unwrap().state, CacheState::Verified);
    let resumed: Vec<u64> = server.seen().iter().filter_map(|s| s.range_from).collect();
    assert!(!resumed.is_empty(), "later runs resume with Range, not from zero");
    assert!(resumed.windows(2).all(|w| w[0] <= w[1]), "resume offsets only grow: {resumed:?}");
}
