//! The kiosk process with its headless screen: `microclass run --ui headless`,
//! a tap and `microclass screenshot` through the control socket.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_microclass");

fn cli(socket: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).arg("--socket").arg(socket).output().expect("run the CLI");
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn png_size_and_pixels(path: &Path) -> (u32, u32, Vec<u8>) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).expect("png file")));
    let mut r = dec.read_info().expect("png");
    let mut buf = vec![0; r.output_buffer_size().expect("size")];
    let info = r.next_frame(&mut buf).expect("frame");
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_headless_kiosk_saves_its_live_screen_on_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("config.toml");
    let data = dir.path().join("data");
    std::fs::write(&cfg, format!("[device]\ncentre = \"demo-centre\"\ncentre_name = \"测试中心\"\nid = \"ui-1\"\ndata_dir = {:?}\n\n[board]\nkind = \"sim\"\n", data.display().to_string())).expect("config");
    let child = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args(["run", "--demo", "--no-stdin", "--ui", "headless", "--ui-size", "1280x800"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the kiosk");
    let _guard = Kill(child);
    let socket = data.join("control.sock");
    let t = Instant::now();
    while !socket.exists() {
        assert!(t.elapsed() < Duration::from_secs(20), "the kiosk never opened its control socket");
        std::thread::sleep(Duration::from_millis(20));
    }
    let idle = dir.path().join("idle.png");
    let reply = cli(&socket, &["screenshot", idle.to_str().expect("utf-8 path")]);
    assert!(reply.contains("idle.png"), "{reply}");
    let tapped = cli(&socket, &["tap", "04A1B2C3"]);
    assert!(tapped.contains("张伟"), "{tapped}");
    // The screen updates on the UI thread right after the tap is committed.
    let member = dir.path().join("member.png");
    let t = Instant::now();
    loop {
        cli(&socket, &["screenshot", member.to_str().expect("utf-8 path")]);
        let (w, h, px) = png_size_and_pixels(&member);
        assert_eq!((w, h), (1280, 800));
        if px != png_size_and_pixels(&idle).2 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "the screenshot never showed the tap's result");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn write_config(dir: &Path) -> std::path::PathBuf {
    let cfg = dir.join("config.toml");
    let data = dir.join("data");
    std::fs::write(&cfg, format!("[device]\ncentre = \"demo-centre\"\nid = \"ui-2\"\ndata_dir = {:?}\n\n[board]\nkind = \"sim\"\n", data.display().to_string())).expect("config");
    cfg
}

fn has_display_device() -> bool {
    let any = |dir: &str, prefix: &str| std::fs::read_dir(dir).map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with(prefix))).unwrap_or(false);
    any("/dev/dri", "card") || any("/dev", "fb")
}

#[test]
fn kms_on_a_machine_without_a_display_device_fails_at_start_with_the_reason() {
    if has_display_device() {
        eprintln!("skipped: this machine has a DRM card or framebuffer");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path());
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args(["run", "--demo", "--no-stdin", "--ui", "linuxkms"])
        .stdin(Stdio::null())
        .output()
        .expect("run the kiosk");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "it must not start: {err}");
    assert!(err.contains("/dev/dri") && err.contains("--ui headless"), "the reason and the way out: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!dir.path().join("data/control.sock").exists(), "nothing was started before the check");
}

#[test]
fn auto_without_a_display_falls_back_to_headless_and_says_so() {
    if has_display_device() {
        eprintln!("skipped: this machine has a DRM card or framebuffer");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path());
    let child = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args(["run", "--demo", "--no-stdin", "--ui", "auto"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the kiosk");
    let mut guard = Kill(child);
    let stderr = guard.0.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let t = Instant::now();
    let mut seen = Vec::new();
    loop {
        let left = Duration::from_secs(20).saturating_sub(t.elapsed());
        let line = rx.recv_timeout(left).unwrap_or_else(|_| panic!("no headless log line; got:\n{}", seen.join("\n")));
        if line.contains("runs headless") {
            break;
        }
        seen.push(line);
    }
    let t = Instant::now();
    while !dir.path().join("data/control.sock").exists() {
        assert!(t.elapsed() < Duration::from_secs(20), "the headless kiosk never opened its control socket");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The shipped /etc/microclass/config.toml, with a hub address but no
/// identity: a fresh device whose image builder already set the hub.
fn fresh_device_config(dir: &Path) -> std::path::PathBuf {
    let cfg = dir.join("config.toml");
    let shipped = include_str!("../../debian/config.toml");
    std::fs::write(&cfg, format!("{shipped}\n[hub]\nurl = \"mqtt://127.0.0.1:9\"\n")).expect("config");
    cfg
}

#[test]
fn a_fresh_device_starts_in_the_first_boot_wizard_and_records_no_tap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = fresh_device_config(dir.path());
    let data = dir.path().join("data");
    let log = dir.path().join("kiosk.log");
    let child = Command::new(BIN)
        .arg("--config")
        .arg(&cfg)
        .args(["run", "--no-stdin", "--ui", "headless", "--ui-size", "800x480", "--data-dir"])
        .arg(&data)
        .env("MICROCLASS_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("start the kiosk");
    let mut guard = Kill(child);
    let socket = data.join("control.sock");
    let t = Instant::now();
    while !socket.exists() {
        assert!(t.elapsed() < Duration::from_secs(20), "the kiosk never opened its control socket: {}", std::fs::read_to_string(&log).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(20));
    }
    let shot = |name: &str| {
        let path = dir.path().join(name);
        cli(&socket, &["screenshot", path.to_str().expect("utf-8 path")]);
        let (width, height, rgb) = png_size_and_pixels(&path);
        microclass::ui::Frame { width, height, rgb }
    };
    // The screen is the wizard's first step, exactly as its reviewed golden image.
    crate::ui_support::check_golden("provision-language-zh-800x480", &shot("wizard.png")).expect("the first-boot wizard");

    // Ignored, not recorded: `microclass tap` says so and exits 3.
    let out = Command::new(BIN).args(["tap", "04A1B2C3", "--socket"]).arg(&socket).output().expect("run the CLI");
    let reply = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{reply}");
    assert!(reply.contains("ignored: this device is not provisioned yet"), "{reply}");
    crate::ui_support::check_golden("provision-language-zh-800x480", &shot("after-tap.png")).expect("still the wizard after a tap");

    unsafe { libc::kill(guard.0.id() as i32, libc::SIGTERM) };
    let status = guard.0.wait().expect("wait");
    assert!(status.success(), "SIGTERM stops it cleanly: {status:?}");
    let db = rusqlite::Connection::open(data.join("microclass.db")).expect("the store opened in the configured data dir");
    for table in ["taps", "attendance", "sessions", "outbox"] {
        let n: i64 = db.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).expect("count");
        assert_eq!(n, 0, "{table}: nothing is recorded under a missing identity");
    }
    let log = std::fs::read_to_string(&log).expect("log");
    assert!(log.contains("first-boot wizard") && log.contains("card ignored"), "{log}");
    assert!(!log.contains("hub uplink started"), "no uplink without an identity: {log}");
}
