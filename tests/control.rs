//! The control protocol and the kiosk's text inputs, against a running
//! `microclass run --board sim`: replies that say what happened and exit
//! codes that follow them, one bounded command per connection, a bounded
//! number of connections, size limits on record text, and stdin that
//! survives bad bytes and overlong lines.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_microclass");
const TRAINER: &str = "0411223344";
const MEMBER: &str = "04A1B2C3";

struct Kiosk {
    child: Child,
    cfg: PathBuf,
    socket: PathBuf,
    dir: tempfile::TempDir,
}

impl Kiosk {
    /// A demo kiosk; `stdin`: taps can be written to `child.stdin`; stderr goes to `log`.
    fn start(stdin: bool) -> Kiosk {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config.toml");
        let data = dir.path().join("data");
        std::fs::write(&cfg, format!("[device]\ncentre = \"demo-centre\"\nid = \"test-1\"\ndata_dir = {:?}\n\n[board]\nkind = \"sim\"\n", data.display().to_string())).unwrap();
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.arg("--config").arg(&cfg).args(["run", "--demo"]).stdout(Stdio::piped()).stderr(log);
        if stdin {
            cmd.stdin(Stdio::piped());
        } else {
            cmd.arg("--no-stdin").stdin(Stdio::null());
        }
        let child = cmd.spawn().unwrap();
        let socket = data.join("control.sock");
        let k = Kiosk { child, cfg, socket, dir };
        k.wait_ready();
        k
    }

    fn wait_ready(&self) {
        let t = Instant::now();
        while !matches!(self.raw("ping").as_deref(), Some("ok pong")) {
            assert!(t.elapsed() < Duration::from_secs(30), "the kiosk never answered ping");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One command on its own connection; the first reply line.
    fn raw(&self, line: &str) -> Option<String> {
        let mut s = UnixStream::connect(&self.socket).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
        s.write_all(format!("{line}\n").as_bytes()).ok()?;
        let mut reply = String::new();
        BufReader::new(s).read_line(&mut reply).ok()?;
        Some(reply.trim_end().to_string())
    }

    fn cli(&self, args: &[&str]) -> Output {
        Command::new(BIN).arg("--config").arg(&self.cfg).args(args).output().unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    fn proc_status(&self, key: &str) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = s.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("no {key} in /proc status"));
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    fn db(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(self.dir.path().join("data/microclass.db")).unwrap();
        c.busy_timeout(Duration::from_secs(10)).unwrap();
        c
    }
}

impl Drop for Kiosk {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).trim_end().to_string(), String::from_utf8_lossy(&o.stderr).to_string())
}

#[test]
fn screen_actions_answer_ok_ignored_or_error_and_the_exit_code_follows() {
    let k = Kiosk::start(false);
    let o = k.cli(&["ctl", "end-session"]);
    assert_eq!((o.status.code(), text(&o).0.as_str()), (Some(3), "ignored: no session is running"), "{:?}", text(&o));
    let o = k.cli(&["ctl", "rate", "300"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("error: stars must be 1 to 5, not 300"), "{:?}", text(&o));
    let o = k.cli(&["ctl", "start-session", "党史"]);
    assert_eq!((o.status.code(), text(&o).0.as_str()), (Some(3), "ignored: the trainer panel is not open (a trainer taps first)"));
    assert_eq!(k.cli(&["tap", TRAINER]).status.code(), Some(0));
    let o = k.cli(&["ctl", "start-session", "党史"]);
    assert_eq!((o.status.code(), text(&o).0.as_str()), (Some(0), "trainer panel: 李老师 - session 党史 running, 0 present"));
    let o = k.cli(&["ctl", "start-session", "again"]);
    assert_eq!((o.status.code(), text(&o).0.as_str()), (Some(3), "ignored: a session is already running"));
    let o = k.cli(&["ctl", "stop", "1", "1"]);
    assert_eq!((o.status.code(), text(&o).0.as_str()), (Some(3), "ignored: no video is playing"));
    // A debounced tap is not a new record: ignored, with its reason.
    assert_eq!(k.cli(&["tap", MEMBER]).status.code(), Some(0));
    let o = k.cli(&["tap", MEMBER]);
    assert_eq!((o.status.code(), text(&o).0.as_str()), (Some(3), "ignored: debounced (the same card is still on the reader: seen again within the presence gap)"));
    let sessions: i64 = k.db().query_row("SELECT count(*) FROM sessions", [], |r| r.get(0)).unwrap();
    assert_eq!(sessions, 1);
}

#[test]
fn ctl_reads_socket_as_an_option_wherever_it_stands() {
    let k = Kiosk::start(false);
    // No --config and a working dir without a kiosk: only --socket can reach it.
    let elsewhere = tempfile::tempdir().unwrap();
    let sock = k.socket.to_str().unwrap();
    for args in [vec!["ctl", "ping", "--socket", sock], vec!["ctl", "--socket", sock, "ping"], vec!["tap", MEMBER, "--socket", sock]] {
        let o = Command::new(BIN).args(&args).current_dir(elsewhere.path()).env_remove("MICROCLASS_CONFIG").output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {:?}", text(&o));
    }
}

#[test]
fn a_newline_in_an_argument_is_refused_by_the_cli_and_never_becomes_a_second_command() {
    let k = Kiosk::start(false);
    assert_eq!(k.cli(&["tap", TRAINER]).status.code(), Some(0));
    let o = k.cli(&["ctl", "start-session", "a\nend-session"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("newline"), "{:?}", text(&o));
    let o = k.cli(&["tap", "04A1\ntap 04A1B2C4"]);
    assert_eq!(o.status.code(), Some(1));
    // Straight to the socket: one command per connection, the second line is never read.
    let mut s = UnixStream::connect(&k.socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"start-session one\nend-session\n").unwrap();
    let mut replies = String::new();
    s.read_to_string(&mut replies).unwrap();
    assert_eq!(replies, "ok trainer panel: 李老师 - session one running, 0 present\n");
    let running: i64 = k.db().query_row("SELECT count(*) FROM sessions WHERE ended_ms IS NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(running, 1, "the injected end-session ran");
    assert_eq!(k.raw("ping\u{1}").as_deref(), Some("error: command contains a control character"));
}

#[test]
fn titles_and_survey_topics_over_their_limits_are_refused_with_the_limit_and_nothing_is_recorded() {
    let k = Kiosk::start(false);
    assert_eq!(k.cli(&["tap", TRAINER]).status.code(), Some(0));
    let o = k.cli(&["ctl", "start-session", &"课".repeat(67)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("error: title longer than 200 bytes"), "{:?}", text(&o));
    // The CLI refuses it before sending (an argument is at most 128 KiB on Linux).
    let o = k.cli(&["ctl", "start-session", &"x".repeat(100_000)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("command longer than 4096 bytes"), "{}", text(&o).1.chars().take(300).collect::<String>());
    // Straight to the socket, as in the filed case (1.2 MB).
    let huge = "x".repeat(1_200_000);
    assert_eq!(k.raw(&format!("start-session {huge}")).as_deref(), Some("error: command longer than 4096 bytes (1200014 bytes)"));
    let sessions: i64 = k.db().query_row("SELECT count(*) FROM sessions", [], |r| r.get(0)).unwrap();
    assert_eq!(sessions, 0);
    assert_eq!(k.cli(&["tap", MEMBER]).status.code(), Some(0));
    let o = k.cli(&["ctl", "survey", &"题".repeat(34)]);
    assert!(text(&o).1.contains("error: survey topic longer than 100 bytes"), "{:?}", text(&o));
    let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    let mut args = vec!["ctl", "survey"];
    args.extend(many.iter().map(String::as_str));
    assert!(text(&k.cli(&args)).1.contains("error: more than 20 survey topics"));
    let answers: i64 = k.db().query_row("SELECT count(*) FROM survey_answers", [], |r| r.get(0)).unwrap();
    assert_eq!(answers, 0);
}

#[test]
fn a_huge_control_line_gets_a_short_error_and_does_not_grow_the_kiosk() {
    let k = Kiosk::start(false);
    let before = k.proc_status("VmRSS:");
    let s = UnixStream::connect(&k.socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'A'; 1 << 20];
        for _ in 0..100 {
            if w.write_all(&chunk).is_err() {
                return;
            }
        }
        let _ = w.write_all(b"\n");
    });
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply).unwrap();
    let _ = writer.join();
    assert_eq!(reply, "error: command longer than 4096 bytes (104857600 bytes)\n");
    let after = k.proc_status("VmRSS:");
    assert!(after < before + 20 * 1024, "RSS grew from {before} kB to {after} kB");
    assert_eq!(k.raw("ping").as_deref(), Some("ok pong"));
}

#[test]
fn connections_beyond_the_limit_are_told_busy_and_do_not_get_threads() {
    let k = Kiosk::start(false);
    let threads_before = k.proc_status("Threads:");
    // Idle connections hold every slot (each drops after 10 s without a line).
    let idle: Vec<UnixStream> = (0..16).map(|_| UnixStream::connect(&k.socket).unwrap()).collect();
    let extra: Vec<UnixStream> = (0..24).map(|_| UnixStream::connect(&k.socket).unwrap()).collect();
    for mut s in extra {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        assert_eq!(reply, "error: busy: 16 control connections are open\n");
    }
    let threads = k.proc_status("Threads:");
    assert!(threads <= threads_before + 16, "{threads} threads with 40 connections (was {threads_before})");
    drop(idle);
    let t = Instant::now();
    while k.raw("ping").as_deref() != Some("ok pong") {
        assert!(t.elapsed() < Duration::from_secs(20), "the kiosk did not serve again after the idle connections closed");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn stdin_taps_survive_bad_bytes_and_overlong_lines_and_the_log_stays_small() {
    let mut k = Kiosk::start(true);
    let mut stdin = k.child.stdin.take().unwrap();
    let out = k.child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // On a thread: a reader that stopped would block these writes, and the test must fail, not hang.
    std::thread::spawn(move || -> std::io::Result<()> {
        stdin.write_all(b"\xff\xfe\xfd\n")?;
        for _ in 0..3 {
            stdin.write_all(&b"AB".repeat(10 << 20))?;
            stdin.write_all(b"\n")?;
        }
        for _ in 0..200 {
            stdin.write_all(b"\x80not a card\nnot-a-card\n")?;
        }
        writeln!(stdin, "{MEMBER}")?;
        // Keep stdin open: end of input is not what is tested.
        std::thread::sleep(Duration::from_secs(60));
        Ok(())
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("the tap after the bad lines was never shown");
        if line.starts_with("status: 张伟") {
            break;
        }
    }
    let log = k.log();
    assert!(log.len() < 16 * 1024, "{} bytes of log for bad stdin lines", log.len());
    assert!(log.contains("overlong stdin line") && log.contains("not UTF-8") && log.contains("not a card UID"), "{log}");
}

#[test]
fn a_tap_that_was_not_recorded_exits_non_zero() {
    let k = Kiosk::start(false);
    // Another writer holds the database: the kiosk's write times out.
    let db = k.db();
    db.execute_batch("BEGIN IMMEDIATE; INSERT INTO meta (key, value) VALUES ('lock', 'held');").unwrap();
    let o = k.cli(&["tap", MEMBER]);
    db.execute_batch("ROLLBACK").unwrap();
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    assert!(text(&o).1.contains("error: the tap was not recorded: database error"), "{:?}", text(&o));
    let taps: i64 = db.query_row("SELECT count(*) FROM taps", [], |r| r.get(0)).unwrap();
    assert_eq!(taps, 0);
}
