//! Card readers end to end: `microclass doctor reader` as a process (the exit
//! code and the messages a technician sees on a PC without SPI or GPIO), and
//! long holds on both reader types fed through the kiosk core.

use microclass::clock::{Clock, TestClock};
use microclass::core::{Ctx, CoreConfig, Effect, Event, Holder, Kiosk, Record};
use microclass::hw::CardReader;
use microclass::model::{CardUid, Member, Role, YearSummary};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_microclass");

fn doctor(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN).args(["doctor", "reader"]).args(args).output().expect("run microclass");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn doctor_reader_on_a_pc_without_spi_fails_with_the_spi_hint() {
    if Path::new("/dev/spidev0.0").exists() {
        panic!("this test expects a machine without /dev/spidev0.0 (CI); run `doctor reader` by hand on a Pi");
    }
    let board = concat!(env!("CARGO_MANIFEST_DIR"), "/board/pi4-mfrc522.toml");
    let (code, text) = doctor(&["--board-file", board, "--wait", "0"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("/dev/spidev0.0") && text.contains("dtparam=spi=on"), "{text}");
}

#[test]
fn doctor_reader_reports_json_and_passes_on_the_sim_board() {
    let board = concat!(env!("CARGO_MANIFEST_DIR"), "/board/sim.toml");
    let (code, text) = doctor(&["--board-file", board, "--json"]);
    assert_eq!(code, 0, "{text}");
    let v: serde_json::Value = serde_json::from_str(text.trim()).expect("JSON");
    assert_eq!(v["verdict"], "ok");
}

#[test]
fn doctor_reader_names_a_broken_board_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\n[reader]\nkind = \"mfrc522\"\nreset_pin = 9\n").unwrap();
    let (code, text) = doctor(&["--board-file", bad.to_str().unwrap(), "--wait", "0"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("bad.toml") && text.contains("GPIO9") && text.contains("MISO"), "{text}");
}

/// A kiosk core with a session running, fed with every sighting a reader makes.
struct HeldCard {
    kiosk: Kiosk,
    zhang: Member,
    year: YearSummary,
    n: u128,
    sightings: usize,
    records: Vec<Record>,
}

impl HeldCard {
    fn new(clock: &TestClock) -> Self {
        let trainer = Member { id: "t1".into(), name: "李老师".into(), branch: String::new(), home_centre: "c1".into(), roles: vec![Role::Trainer], cards: vec![CardUid::parse("0411223344").unwrap()], makeup: vec![] };
        let zhang = Member { id: "m1".into(), name: "张伟".into(), roles: vec![Role::Member], cards: vec![], ..trainer.clone() };
        let year = YearSummary { year: 2026, credited_minutes: 0, owed: vec![] };
        let mut h = HeldCard { kiosk: Kiosk::new(CoreConfig::defaults("c1", "d1")), zhang, year, n: 0, sightings: 0, records: Vec::new() };
        let holder = Holder::Known { member: trainer.clone(), year: h.year.clone() };
        h.handle(Event::CardTapped { uid: trainer.cards[0].clone(), holder }, clock);
        h.handle(Event::StartSession { schedule_id: None, title: "微党课".into() }, clock);
        h
    }

    fn handle(&mut self, e: Event, clock: &TestClock) -> Vec<Effect> {
        self.n += 1;
        let now = clock.now();
        self.kiosk.handle(e, Ctx { now, fresh: ulid::Ulid::from_parts(now.wall_ms as u64, self.n << 40) })
    }

    /// Reads for `ms` of test time; every sighting is a `CardTapped` for the member.
    fn feed(&mut self, reader: &mut dyn CardReader, clock: &TestClock, ms: i64) {
        let end = clock.now().mono_ms + ms;
        while clock.now().mono_ms < end {
            if let Some(uid) = reader.next_tap(Duration::from_millis(500)).expect("the reader keeps reading") {
                self.sightings += 1;
                let holder = Holder::Known { member: self.zhang.clone(), year: self.year.clone() };
                let fx = self.handle(Event::CardTapped { uid, holder }, clock);
                self.records.extend(fx.into_iter().filter_map(|e| if let Effect::Write(r) = e { Some(r) } else { None }));
            }
        }
    }

    /// The first sighting signed the member in and nothing was written since.
    fn assert_signed_in_once_and_never_out(&self) {
        let sign_ins = self.records.iter().filter(|r| matches!(r, Record::SignIn { .. })).count();
        let taps = self.records.iter().filter(|r| matches!(r, Record::Tap { .. })).count();
        assert_eq!((sign_ins, taps), (1, 1), "one sign-in, one tap row: {:?}", self.records);
        assert!(!self.records.iter().any(|r| matches!(r, Record::SignOut { .. })), "{:?}", self.records);
    }
}

#[test]
fn a_card_left_for_fifteen_minutes_on_a_usb_reader_that_repeats_it_every_second_signs_in_once_and_never_out() {
    use microclass::hw::usb_wedge::{RecordedKeys, UsbWedgeReader, WedgeFormat};
    // A decimal10 reader typing 3283263748 + Enter every second (8 ms per key).
    let mut text = String::new();
    for i in 0..15 * 60 {
        let t0 = 100 + i * 1000;
        for (k, c) in "3283263748".chars().chain(std::iter::once('\n')).enumerate() {
            let key = if c == '\n' { "KEY_ENTER".to_string() } else { format!("KEY_{c}") };
            let t = t0 + k as i64 * 8;
            text.push_str(&format!("{t} {key} 1\n{} {key} 0\n", t + 4));
        }
    }
    let clock = TestClock::at(1_780_000_000_000);
    let keys = RecordedKeys::parse("repeating.events", &text, clock.clone()).unwrap();
    let mut r = UsbWedgeReader::new(keys, WedgeFormat::default(), Arc::new(clock.clone())).unwrap();
    let mut held = HeldCard::new(&clock);
    held.feed(&mut r, &clock, 15 * 60 * 1000 + 500);
    assert_eq!(held.sightings, 15 * 60, "every repeat reaches the core");
    held.assert_signed_in_once_and_never_out();
}

#[test]
fn a_card_left_for_fifteen_minutes_on_an_mfrc522_with_a_300_ms_gap_after_eleven_signs_in_once_and_never_out() {
    use microclass::hw::mfrc522::sim_card::SimCard;
    use microclass::hw::mfrc522::sim_chip::SimChip;
    use microclass::hw::mfrc522::{Mfrc522, Mfrc522Config};
    use microclass::hw::mfrc522_reader::Mfrc522Source;
    use microclass::hw::presence::{PolledReader, PresenceConfig, TestSleeper};
    let chip = SimChip::new(0x92);
    let clock = TestClock::at(1_780_000_000_000);
    let d = Mfrc522::new(chip.spi(), Some(chip.reset_pin()), chip.delay(), Mfrc522Config::default());
    let mut r = PolledReader::new(Mfrc522Source::new(d, "sim"), PresenceConfig::default(), Arc::new(clock.clone()), Box::new(TestSleeper(clock.clone())));
    let card = chip.add_card(SimCard::new(&[0x04, 0xA1, 0xB2, 0xC3], 0x08).unwrap());
    let mut held = HeldCard::new(&clock);
    held.feed(&mut r, &clock, 11 * 60 * 1000);
    chip.remove_card(card);
    held.feed(&mut r, &clock, 300);
    chip.return_card(card);
    held.feed(&mut r, &clock, 4 * 60 * 1000);
    assert_eq!(r.stats().taps, 2, "the reader saw the card leave and arrive again: {:?}", r.stats());
    assert!(held.sightings > 800, "a held card is reported every second: {}", held.sightings);
    held.assert_signed_in_once_and_never_out();
}

/// Lines the kiosk prints, through a channel so reads can wait with a deadline.
fn lines_of(out: std::process::ChildStdout) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// Waits (up to 30 s) for a printed line containing `want`; returns it.
fn line_containing(rx: &std::sync::mpsc::Receiver<String>, want: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(want) => return line,
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    panic!("no line containing {want:?}; the kiosk printed {seen:?}");
}

fn cli(cfg: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN).arg("--config").arg(cfg).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

struct KioskProcess(std::process::Child);

impl Drop for KioskProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_kiosk_starts_without_its_reader_shows_the_fault_and_signs_a_member_in_once_the_reader_appears() {
    let dir = tempfile::tempdir().unwrap();
    let reader = dir.path().join("reader");
    let board = dir.path().join("late-reader.toml");
    std::fs::write(&board, format!("name = \"late-reader\"\n[reader]\nkind = \"sim\"\ndevice = {:?}\n", reader.display().to_string())).unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[device]\ncentre = \"demo-centre\"\nid = \"test-1\"\ndata_dir = {:?}\n\n[board]\nkind = \"pi\"\nfile = {:?}\n",
            dir.path().join("data").display().to_string(),
            board.display().to_string()
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args(["run", "--demo", "--no-stdin"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the kiosk");
    let lines = lines_of(child.stdout.take().unwrap());
    let mut kiosk = KioskProcess(child);
    line_containing(&lines, "card reader fault");
    assert!(kiosk.0.try_wait().unwrap().is_none(), "the kiosk keeps running without its reader");

    // A session runs (trainer through the control socket), then the reader is plugged in.
    let socket = dir.path().join("data/control.sock");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        assert!(std::time::Instant::now() < deadline, "no control socket");
        std::thread::sleep(Duration::from_millis(10));
    }
    cli(&cfg, &["tap", "0411223344"]);
    line_containing(&lines, "trainer panel: 李老师");
    cli(&cfg, &["ctl", "start-session", "党史学习"]);
    line_containing(&lines, "session 党史学习 running");
    std::fs::write(&reader, "04A1B2C4\n").unwrap();
    line_containing(&lines, "signed in: 王芳");
}

#[test]
fn doctor_reader_refuses_to_take_the_reader_from_a_running_kiosk() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!("[device]\ncentre = \"demo-centre\"\nid = \"test-1\"\ndata_dir = {:?}\n\n[board]\nkind = \"sim\"\n", dir.path().join("data").display().to_string()),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args(["run", "--demo", "--no-stdin"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the kiosk");
    let lines = lines_of(child.stdout.take().unwrap());
    let _kiosk = KioskProcess(child);
    let socket = dir.path().join("data/control.sock");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        assert!(std::time::Instant::now() < deadline, "the kiosk's control socket never answered");
        std::thread::sleep(Duration::from_millis(10));
    }
    let board = concat!(env!("CARGO_MANIFEST_DIR"), "/board/pi4-mfrc522.toml");
    let out = Command::new(BIN).arg("--config").arg(&cfg).args(["doctor", "reader", "--board-file", board, "--wait", "0"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("the kiosk is running") && text.contains("technician panel"), "{text}");
    assert!(!text.contains("spidev"), "the reader was not touched: {text}");
    drop(lines);
}
