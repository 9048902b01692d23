//! One simulated centre for the hub's end-to-end tests: the real kiosk
//! binary on the sim board (`microclass run`) and its uplink
//! (`microclass uplink`) as two processes sharing the device database,
//! driven with `microclass tap` / `microclass ctl`.

use rusqlite::{params, Connection};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_microclass");

/// The `microclass-hub` binary of the same build, beside the kiosk binary
/// (`cargo test --workspace` builds it: the hub package has tests of its own).
pub fn hub_bin() -> std::path::PathBuf {
    let p = std::path::Path::new(BIN).with_file_name(format!("microclass-hub{}", std::env::consts::EXE_SUFFIX));
    assert!(p.exists(), "{} is missing: run the tests with `cargo test --workspace` (or `cargo build -p microclass-hub` first)", p.display());
    p
}

pub struct Device {
    #[allow(dead_code)]
    pub centre: String,
    pub id: String,
    pub dir: PathBuf,
    kiosk: Child,
    uplink: Option<Child>,
}

impl Device {
    /// Starts the kiosk and its uplink to `url` (the broker or a proxy in front of it).
    pub fn start(root: &Path, district: &str, centre: &str, id: &str, url: &str, hub_public_key: &str) -> Device {
        let dir = root.join(id);
        std::fs::create_dir_all(&dir).unwrap();
        let device = format!("[device]\ndistrict = \"{district}\"\ncentre = \"{centre}\"\nid = \"{id}\"\ndata_dir = {:?}\n", dir.join("data").display().to_string());
        std::fs::write(dir.join("kiosk.toml"), format!("{device}\n[board]\nkind = \"sim\"\n")).unwrap();
        std::fs::write(
            dir.join("uplink.toml"),
            format!("{device}\n[hub]\nurl = \"{url}\"\nhub_public_key = \"{hub_public_key}\"\nreconnect_min_ms = 100\nreconnect_max_ms = 500\nkeep_alive_s = 5\n"),
        )
        .unwrap();
        let kiosk = Command::new(BIN)
            .arg("--config")
            .arg(dir.join("kiosk.toml"))
            .args(["run", "--board", "sim", "--no-stdin"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the kiosk");
        let t = Instant::now();
        while !dir.join("data/control.sock").exists() {
            assert!(t.elapsed() < Duration::from_secs(20), "{id}: the kiosk never opened its control socket");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut d = Device { centre: centre.into(), id: id.into(), dir, kiosk, uplink: None };
        d.start_uplink();
        d
    }

    pub fn start_uplink(&mut self) {
        let log = std::fs::File::create(self.dir.join(format!("uplink-{}.log", Instant::now().elapsed().as_nanos()))).unwrap();
        let child = Command::new(BIN)
            .arg("--config")
            .arg(self.dir.join("uplink.toml"))
            .arg("uplink")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the uplink");
        self.uplink = Some(child);
    }

    pub fn stop_uplink(&mut self) {
        if let Some(mut c) = self.uplink.take() {
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
    }

    pub fn db(&self) -> Connection {
        let c = Connection::open(self.dir.join("data/microclass.db")).unwrap();
        c.busy_timeout(Duration::from_secs(10)).unwrap();
        c
    }

    fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(BIN).arg("--config").arg(self.dir.join("kiosk.toml")).args(args).output().unwrap();
        assert!(out.status.success(), "{} {args:?}: {}", self.id, String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn tap(&self, card: &str) -> String {
        self.cli(&["tap", card])
    }

    pub fn ctl(&self, action: &[&str]) -> String {
        let mut args = vec!["ctl"];
        args.extend_from_slice(action);
        self.cli(&args)
    }

    /// A member studies alone: tap, play `course`, stop after `watched_s` seconds watched.
    pub fn self_study(&self, card: &str, course: &str, watched_s: u32) {
        let r = self.tap(card);
        assert!(r.contains("status:"), "{}: {card} did not get the status screen: {r}", self.id);
        self.ctl(&["play", course]);
        let w = watched_s.to_string();
        self.ctl(&["stop", &w, &w, "end"]);
    }

    /// Waits until the device applied signed documents of every `kinds`.
    pub fn wait_documents(&self, kinds: &[&str]) {
        let t = Instant::now();
        let db = self.db();
        loop {
            let n: i64 = kinds
                .iter()
                .map(|k| db.query_row("SELECT count(*) FROM meta WHERE key = ?1", params![format!("downlink.{k}.version")], |r| r.get::<_, i64>(0)).unwrap_or(0))
                .sum();
            if n == kinds.len() as i64 {
                return;
            }
            assert!(t.elapsed() < Duration::from_secs(20), "{}: documents {kinds:?} never applied", self.id);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// (rows in the outbox, rows not yet acknowledged by the broker).
    pub fn outbox(&self) -> (i64, i64) {
        self.db().query_row("SELECT (SELECT count(*) FROM outbox), (SELECT count(*) FROM outbox_unsent)", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap()
    }

    /// Marks unsent rows as acknowledged without sending them, as a broker that
    /// acknowledged and then lost them would leave them. Returns their seqs.
    pub fn lose_unsent(&self, n: i64) -> Vec<i64> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        let mut db = self.db();
        let seqs: Vec<i64> = db.prepare("SELECT seq FROM outbox_unsent ORDER BY seq LIMIT ?1 OFFSET 2").unwrap().query_map([n], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        microclass::store::drain::mark_sent(&mut db, &seqs, now).unwrap();
        seqs
    }

    /// Marks every row unsent again, as a device restored from a backup would be.
    pub fn forget_acks(&self) -> i64 {
        let db = self.db();
        let rows: i64 = db.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0)).unwrap();
        db.execute_batch("DELETE FROM outbox_acked; UPDATE outbox_state SET acked_through = 0;").unwrap();
        rows
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        self.stop_uplink();
        unsafe { libc::kill(self.kiosk.id() as i32, libc::SIGTERM) };
        let _ = self.kiosk.wait();
    }
}
