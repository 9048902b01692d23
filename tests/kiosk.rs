//! The kiosk as a process: `microclass run --board sim` driven through
//! `microclass tap` / `microclass ctl` and stdin, and killed with SIGKILL.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_microclass");

fn write_config(dir: &Path) -> PathBuf {
    let cfg = dir.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[device]\ncentre = \"demo-centre\"\nid = \"test-1\"\ndata_dir = {:?}\n\n[board]\nkind = \"sim\"\n",
            dir.join("data").display().to_string()
        ),
    )
    .unwrap();
    cfg
}

fn spawn_kiosk(cfg: &Path, extra: &[&str], stdin: bool) -> Child {
    Command::new(BIN)
        .arg("--config")
        .arg(cfg)
        .args(["run", "--demo"])
        .args(extra)
        .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the kiosk")
}

/// Lines the kiosk prints, delivered through a channel so reads can time out.
fn lines_of(out: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn wait_for(path: &Path) {
    let t = Instant::now();
    while !path.exists() {
        assert!(t.elapsed() < Duration::from_secs(20), "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn cli(cfg: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN).arg("--config").arg(cfg).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn next_line(rx: &mpsc::Receiver<String>) -> String {
    rx.recv_timeout(Duration::from_secs(10)).expect("the kiosk printed a line")
}

#[test]
fn taps_through_the_cli_print_the_effects_of_a_whole_session() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path());
    let mut kiosk = spawn_kiosk(&cfg, &["--no-stdin"], false);
    let lines = lines_of(kiosk.stdout.take().unwrap());
    wait_for(&dir.path().join("data/control.sock"));

    let reply = cli(&cfg, &["tap", "04A1B2C3"]);
    assert!(reply.contains("status: 张伟 (第三支部) 0.0/32 h"), "{reply}");
    assert!(next_line(&lines).starts_with("status: 张伟 (第三支部) 0.0/32 h; required still owed:"));

    assert!(cli(&cfg, &["tap", "FFFF0001"]).contains("card not registered: FFFF0001"));
    assert_eq!(next_line(&lines), "card not registered: FFFF0001");

    cli(&cfg, &["tap", "0411223344"]);
    assert_eq!(next_line(&lines), "trainer panel: 李老师 - no session running");
    cli(&cfg, &["ctl", "start-session", "党史学习"]);
    assert_eq!(next_line(&lines), "trainer panel: 李老师 - session 党史学习 running, 0 present");
    cli(&cfg, &["tap", "04A1B2C4"]);
    assert_eq!(next_line(&lines), "signed in: 王芳 (第三支部) 0.0/32 h; required still owed: 党史学习：百年奋斗, 党章党规微党课");
    cli(&cfg, &["tap", "04A1B2C9"]);
    assert!(next_line(&lines).starts_with("signed in: 赵敏 (第五支部) 0.0/32 h [mobile]"));
    let again = Command::new(BIN).arg("--config").arg(&cfg).args(["tap", "04A1B2C4"]).output().unwrap();
    assert_eq!(again.status.code(), Some(3), "a debounced tap is ignored, not recorded");
    assert!(String::from_utf8_lossy(&again.stdout).contains("ignored: debounced"), "{again:?}");

    // The trainer ends the session after the debounce window.
    std::thread::sleep(Duration::from_millis(5100));
    cli(&cfg, &["tap", "0411223344"]);
    assert_eq!(next_line(&lines), "trainer panel: 李老师 - session 党史学习 running, 2 present");
    cli(&cfg, &["ctl", "end-session"]);
    assert_eq!(next_line(&lines), "idle");
    cli(&cfg, &["tap", "04A1B2C4"]);
    assert_eq!(next_line(&lines), "rate the session: 王芳, 党史学习 (1-5)");
    cli(&cfg, &["ctl", "rate", "5"]);
    assert_eq!(next_line(&lines), "rated: 王芳 5/5");

    // A bad command gets a clear error and the kiosk carries on.
    let out = Command::new(BIN).arg("--config").arg(&cfg).args(["tap", "not-a-card"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not hexadecimal"));
    assert!(cli(&cfg, &["tap", "04A1B2C5"]).contains("李娜"));

    unsafe { libc::kill(kiosk.id() as i32, libc::SIGTERM) };
    let status = kiosk.wait().unwrap();
    assert!(status.success(), "SIGTERM stops the kiosk cleanly: {status:?}");
    assert!(!dir.path().join("data/control.sock").exists(), "the socket is removed on exit");
}

#[test]
fn a_bad_config_file_fails_at_start_naming_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[device]\ncentre = \"c1\"\nid = \"d1\"\n[attendance]\nminutes_per_study_hour = 0\n").unwrap();
    let out = Command::new(BIN).arg("--config").arg(&cfg).args(["run", "--board", "sim"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("attendance.minutes_per_study_hour"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// A storm of taps on stdin while the kiosk is killed with SIGKILL at random
/// moments, 200 times. Every tap it acknowledged (printed) must be in the
/// database exactly once with exactly one outbox message.
#[test]
fn acknowledged_taps_survive_200_sigkills_exactly_once() {
    use rand::{Rng, SeedableRng};
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path());
    let seed: u64 = std::env::var("CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    println!("CRASH_SEED={seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let cards = ["04A1B2C3", "04A1B2C4", "04A1B2C5", "0411223344", "04A1B2C9"];
    let mut acked: Vec<String> = Vec::new();
    let mut card_no: u32 = 0;
    for round in 0..200 {
        let mut kiosk = spawn_kiosk(&cfg, &["--output", "json"], true);
        let lines = lines_of(kiosk.stdout.take().unwrap());
        let mut stdin = kiosk.stdin.take().unwrap();
        let feed: Vec<String> = (0..40)
            .map(|_| {
                card_no += 1;
                if rng.gen_bool(0.2) { cards[rng.gen_range(0..cards.len())].to_string() } else { format!("{:08X}", 0xA000_0000u32 + card_no) }
            })
            .collect();
        let writer = std::thread::spawn(move || {
            for uid in feed {
                if writeln!(stdin, "{uid}").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_micros(500));
            }
        });
        std::thread::sleep(Duration::from_millis(rng.gen_range(5..60)));
        kiosk.kill().unwrap();
        kiosk.wait().unwrap();
        let _ = writer.join();
        while let Ok(line) = lines.recv_timeout(Duration::from_secs(5)) {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("round {round}: bad line {line:?}: {e}"));
            if let Some(id) = v["tap"].as_str() {
                acked.push(id.to_string());
            }
        }
    }
    assert!(acked.len() > 200, "the storm acknowledged only {} taps", acked.len());

    let db = rusqlite::Connection::open(dir.path().join("data/microclass.db")).unwrap();
    let check: String = db.query_row("PRAGMA quick_check", [], |r| r.get(0)).unwrap();
    assert_eq!(check, "ok");
    for id in &acked {
        let taps: i64 = db.query_row("SELECT count(*) FROM taps WHERE id = ?1", [id], |r| r.get(0)).unwrap();
        let msgs: i64 = db.query_row("SELECT count(*) FROM outbox WHERE kind = 'tap' AND id = ?1", [id], |r| r.get(0)).unwrap();
        assert_eq!((taps, msgs), (1, 1), "acknowledged tap {id}");
    }
    // Atomicity: no tap row without its message, and no message without its row.
    let orphans: i64 = db
        .query_row(
            "SELECT (SELECT count(*) FROM taps WHERE id NOT IN (SELECT id FROM outbox WHERE kind = 'tap'))
                  + (SELECT count(*) FROM outbox WHERE kind = 'tap' AND id NOT IN (SELECT id FROM taps))",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);
    println!("{} acknowledged taps over 200 kills", acked.len());
}

#[test]
fn a_fresh_device_without_a_screen_refuses_to_start_and_says_how_to_provision() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, include_str!("../debian/config.toml")).unwrap();
    let data = dir.path().join("data");
    let out = Command::new(BIN).arg("--config").arg(&cfg).args(["run", "--board", "sim", "--no-stdin", "--data-dir"]).arg(&data).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("config.toml") && err.contains("device.centre and device.id not set"), "{err}");
    assert!(err.contains("microclass provision") && err.contains("--ui"), "the two ways out: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!data.exists(), "nothing was started");
}
