//! What the kiosk does at start with a bad config, a bad database file or a
//! full disk, as a process (`microclass run --board sim`): it refuses with
//! one clear message naming the file (and the key and line), leaves the file
//! as it was, or starts and shows the fault on its screen.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_microclass");
const MEMBER: &str = "04A1B2C3";

fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let cfg = dir.join("config.toml");
    let data = dir.join("data");
    std::fs::write(&cfg, format!("[device]\ncentre = \"demo-centre\"\nid = \"test-1\"\ndata_dir = {:?}\n\n[board]\nkind = \"sim\"\n{extra}", data.display().to_string())).unwrap();
    cfg
}

/// Runs the kiosk and waits for it to exit by itself (it must not keep running).
fn run_to_exit(cfg: &Path, uid: Option<u32>) -> Output {
    use std::os::unix::process::CommandExt;
    let mut c = Command::new(BIN);
    c.arg("--config").arg(cfg).args(["run", "--no-stdin", "--demo"]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some(u) = uid {
        c.uid(u).gid(u);
    }
    let mut child = c.spawn().unwrap();
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("the kiosk kept running instead of refusing to start");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The `error: ...` line the kiosk ends with.
fn error_line(o: &Output) -> String {
    stderr(o).lines().filter(|l| l.starts_with("error: ")).last().unwrap_or_default().to_string()
}

#[test]
fn hub_config_mistakes_stop_the_kiosk_before_anything_starts_naming_file_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[hub]\nurl = \"mqtt://127.0.0.1:1\"\nbatch_byte = 1\n", "line 10: [hub]: unknown field `batch_byte`"),
        ("[hub]\nurl = \"mqtts://127.0.0.1:1\"\n", "line 9: hub.url: mqtts:// needs hub.ca_file"),
        ("[hub]\nurl = \"mqtts://127.0.0.1:1\"\nca_file = \"/nonexistent/ca.pem\"\n", "line 10: hub.ca_file: /nonexistent/ca.pem: No such file or directory"),
        ("[hub]\nurl = \"mqtt://127.0.0.1:1\"\npassword_file = \"/etc/hostname\"\n", "line 10: hub.password_file: is set but hub.username is not"),
    ];
    for (hub, expected) in cases {
        let cfg = write_config(dir.path(), hub);
        let o = run_to_exit(&cfg, None);
        assert_eq!(o.status.code(), Some(1), "{hub}");
        let err = error_line(&o);
        assert!(err.contains("config.toml") && err.contains(expected), "{hub:?}: {err}");
        assert!(!dir.path().join("data").exists(), "{hub:?}: the kiosk started something before refusing");
    }
}

/// A database made by the kiosk itself (closed cleanly), at `dir/data/microclass.db`.
fn kiosk_database(dir: &Path) -> (PathBuf, PathBuf) {
    let cfg = write_config(dir, "");
    let db = dir.join("data/microclass.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let mut s = microclass::store::Store::open(&db).unwrap();
    microclass::demo::load_if_empty(&mut s).unwrap();
    drop(s);
    (cfg, db)
}

#[test]
fn a_negative_or_future_schema_version_is_refused_and_the_file_is_left_as_it_was() {
    for version in [-5i64, 99] {
        let dir = tempfile::tempdir().unwrap();
        let (cfg, db) = kiosk_database(dir.path());
        let c = rusqlite::Connection::open(&db).unwrap();
        c.pragma_update(None, "user_version", version).unwrap();
        c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        drop(c);
        let before = std::fs::read(&db).unwrap();
        let o = run_to_exit(&cfg, None);
        assert_eq!(o.status.code(), Some(1));
        assert!(error_line(&o).contains(&format!("schema version {version}")), "{}", stderr(&o));
        assert_eq!(std::fs::read(&db).unwrap(), before, "version {version}: the file was changed");
    }
}

#[test]
fn an_empty_database_file_is_refused_and_left_empty() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "");
    let db = dir.path().join("data/microclass.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    std::fs::write(&db, b"").unwrap();
    let o = run_to_exit(&cfg, None);
    assert_eq!(o.status.code(), Some(1));
    let err = error_line(&o);
    assert!(err.contains("microclass.db") && err.contains("empty (0 bytes)") && err.contains("restore it from a backup"), "{err}");
    assert_eq!(std::fs::metadata(&db).unwrap().len(), 0);
}

#[test]
fn another_programs_sqlite_file_is_refused_before_it_is_switched_to_wal_in_one_short_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "");
    let db = dir.path().join("data/microclass.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let c = rusqlite::Connection::open(&db).unwrap();
    let schema: String = (0..40).map(|i| format!("CREATE TABLE invoices_{i} (id INTEGER PRIMARY KEY, customer TEXT, amount REAL, note TEXT);")).collect();
    c.execute_batch(&schema).unwrap();
    drop(c);
    let before = std::fs::read(&db).unwrap();
    let o = run_to_exit(&cfg, None);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("another program's SQLite database") && err.contains("40 tables"), "{err}");
    assert!(err.len() < 600 && !err.contains("CREATE TABLE"), "the message dumps the schema: {err}");
    assert_eq!(std::fs::read(&db).unwrap(), before, "the file was changed (journal mode or schema)");
    assert!(!db.with_extension("db-wal").exists(), "a WAL file was made");
}

#[test]
fn a_database_the_kiosk_cannot_open_says_permission_denied_once_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, db) = kiosk_database(dir.path());
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(dir.path().join("data"), std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    // root is never denied by mode bits: run the kiosk as nobody then.
    let uid = (unsafe { libc::geteuid() } == 0).then_some(65534);
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(if uid.is_some() { 0o600 } else { 0o000 })).unwrap();
    let o = run_to_exit(&cfg, uid);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.matches("Permission denied").count(), 1, "{err}");
    assert_eq!(err.matches("unable to open database file").count(), 0, "{err}");
    assert!(error_line(&o).contains(&db.display().to_string()), "{err}");
}

/// A kiosk process with its stdout lines.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    fn start(cfg: &Path) -> Running {
        let mut child = Command::new(BIN).arg("--config").arg(cfg).args(["run", "--no-stdin", "--demo"]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        Running { child, lines }
    }

    /// Waits for a printed screen line starting with `prefix`.
    fn wait_line(&self, prefix: &str) {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            match self.lines.recv_timeout(end.saturating_duration_since(Instant::now())) {
                Ok(l) if l.starts_with(prefix) => return,
                Ok(_) => {}
                Err(_) => panic!("the kiosk never showed {prefix:?}"),
            }
        }
    }

    fn sigterm(mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        assert!(self.child.wait().unwrap().success());
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tap(cfg: &Path, socket: &Path) -> Output {
    let t = Instant::now();
    while !socket.exists() {
        assert!(t.elapsed() < Duration::from_secs(30), "no control socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    Command::new(BIN).arg("--config").arg(cfg).args(["tap", MEMBER]).output().unwrap()
}

#[test]
fn a_database_with_damaged_pages_shows_the_database_fault_and_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, db) = kiosk_database(dir.path());
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch("BEGIN;").unwrap();
    for i in 0..3000 {
        c.execute("INSERT INTO clock_events (id, at_ms, jump_ms, synced) VALUES (?1, ?2, 0, 1)", rusqlite::params![format!("c-{i:05}-{}", "x".repeat(40)), i]).unwrap();
    }
    c.execute_batch("COMMIT; PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
    let (root, page_size): (i64, i64) = c.query_row("SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_master WHERE name = 'clock_events'", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    drop(c);
    {
        use std::io::{Seek, SeekFrom};
        let mut f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
        f.seek(SeekFrom::Start(((root - 1) * page_size) as u64)).unwrap();
        f.write_all(&vec![0xA5; 64]).unwrap();
    }
    let k = Running::start(&cfg);
    k.wait_line("error: database error - call the technician");
    let o = tap(&cfg, &dir.path().join("data/control.sock"));
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(stderr(&o).contains("error: the tap was not recorded: database error"), "{}", stderr(&o));
    k.sigterm();
    let c = rusqlite::Connection::open(&db).unwrap();
    let taps: i64 = c.query_row("SELECT count(*) FROM taps", [], |r| r.get(0)).unwrap();
    assert_eq!(taps, 0);
}

/// A small tmpfs mounted on `at` for the test's life.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let st = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(at).status().unwrap();
        assert!(st.success(), "this test mounts a small tmpfs to fill it up: it needs root (CAP_SYS_ADMIN)");
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn fill_up(dir: &Path) {
    let mut f = std::fs::File::create(dir.join("filler")).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
    // The last blocks, smaller than a chunk.
    while f.write_all(&[0u8; 512]).is_ok() {}
}

#[test]
fn the_kiosk_starts_on_a_full_disk_and_shows_the_disk_full_screen() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "");
    let _fs = Tmpfs::mount(&dir.path().join("data"), "4m");
    let socket = dir.path().join("data/control.sock");
    let k = Running::start(&cfg);
    let o = tap(&cfg, &socket);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    k.sigterm();

    fill_up(&dir.path().join("data"));
    let k = Running::start(&cfg);
    k.wait_line("error: disk full - call the technician");
    let o = tap(&cfg, &socket);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(stderr(&o).contains("error: the tap was not recorded: disk full"), "{}", stderr(&o));
    // Room again: the next tap is recorded without a restart.
    std::fs::remove_file(dir.path().join("data/filler")).unwrap();
    let o = tap(&cfg, &socket);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    k.sigterm();
}
