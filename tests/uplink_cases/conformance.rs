//! The device does what docs/protocol.md says: a committed record leaves at
//! once (the kiosk nudges the uplink), telemetry carries the stream's
//! `last_seq`, and the hub's `enrol_card` queues a `card_enrolled` record as
//! the panel's enrolment does.

use super::*;
use microclass::app::{Presenter, Shell, Shown};
use microclass::hw::sim::SimIndicator;

struct Quiet;
impl Presenter for Quiet {
    fn present(&mut self, _: &Shown) {}
}

fn kiosk_shell(db: &Path) -> Shell {
    let mut store = Store::open(db).unwrap();
    microclass::demo::load_if_empty(&mut store).unwrap();
    Shell::new(microclass::core::CoreConfig::defaults("c1", "pi-1"), store, Arc::new(SystemClock::new()), Box::new(SimIndicator::default()), Box::new(Quiet)).unwrap()
}

#[test]
fn a_committed_tap_leaves_at_once_because_the_kiosk_nudges_the_uplink() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::plain(&dir.path().join("broker"));
    let hub = Hub::connect(broker.port, None);
    let db = dir.path().join("k.db");
    let mut shell = kiosk_shell(&db);
    // The uplink would look at the outbox on its own only after ten minutes.
    let cfg = HubConfig { drain_poll_ms: 600_000, ..hub_config(&broker.url()) };
    let up = start(cfg, &db);
    let nudger = up.nudger();
    shell.on_enqueued(move || nudger.nudge());
    wait_until(Duration::from_secs(20), "connected and drained", || {
        let st = up.status();
        st.connected && st.drained
    });
    let shown = shell.tap(CardUid::parse("04A1B2C3").unwrap());
    let id = shown.tap_id.expect("the demo member's tap is recorded");
    assert!(hub.wait(Duration::from_secs(20), |s| s.by_id.values().any(|r| r.kind == "tap" && r.payload["id"] == id.as_str())), "the tap did not leave without the poll");
    finish(up);
}

#[test]
fn telemetry_tells_the_hub_the_highest_seq_of_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::plain(&dir.path().join("broker"));
    let hub = Hub::connect(broker.port, None);
    let db = dir.path().join("k.db");
    let ids = fill(&db, 30, "tele");
    let last = outbox::last_seq(&outbox::open(&db).unwrap()).unwrap();
    assert!(last >= 30);
    let up = start(hub_config(&broker.url()), &db);
    assert!(hub.wait_for_ids(&ids, Duration::from_secs(20)));
    assert!(
        hub.wait(Duration::from_secs(20), |s| s.telemetry.iter().any(|t| t["last_seq"].as_i64().is_some_and(|v| v >= last))),
        "no telemetry sample with last_seq >= {last}"
    );
    finish(up);
}

const KIOSK: &str = env!("CARGO_BIN_EXE_microclass");

/// A kiosk process (`microclass run`, sim board, demo roster) with its uplink to `url`.
struct Kiosk {
    child: std::process::Child,
    dir: PathBuf,
}

impl Kiosk {
    fn start(dir: &Path, url: &str) -> Kiosk {
        let data = dir.join("data");
        let cfg = dir.join("kiosk.toml");
        std::fs::write(
            &cfg,
            format!("[device]\ndistrict = \"d1\"\ncentre = \"c1\"\nid = \"pi-1\"\ndata_dir = {:?}\n[board]\nkind = \"sim\"\n[hub]\nurl = \"{url}\"\nreconnect_min_ms = 100\nreconnect_max_ms = 500\n", data.display().to_string()),
        )
        .unwrap();
        let child = std::process::Command::new(KIOSK)
            .arg("--config")
            .arg(&cfg)
            .args(["run", "--board", "sim", "--no-stdin", "--demo"])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join("kiosk.log")).unwrap())
            .spawn()
            .unwrap();
        wait_until(Duration::from_secs(30), "the control socket", || data.join("control.sock").exists());
        Kiosk { child, dir: data }
    }
}

impl Drop for Kiosk {
    fn drop(&mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

#[test]
fn the_hubs_enrol_card_is_decided_by_the_kiosk_and_reported_as_card_enrolled() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::plain(&dir.path().join("broker"));
    let hub = Hub::connect(broker.port, None);
    let kiosk = Kiosk::start(dir.path(), &broker.url());
    assert!(hub.wait(Duration::from_secs(30), |s| s.statuses.iter().any(|(t, v, _)| t.ends_with("pi-1/status") && v["state"] == "online")), "the kiosk never came online");
    let cmd = |id: &str, member: &str| serde_json::to_vec(&json!({"v": 1, "id": id, "cmd": "enrol_card", "args": {"uid": "0A0B0C0D", "member_id": member}})).unwrap();
    hub.publish(DEV_CMD, cmd("c-enrol", "m002"), false);
    hub.publish(DEV_CMD, cmd("c-nobody", "nobody"), false);
    let ack = |id: &'static str| move |s: &support::hub::HubState| s.acks.iter().any(|a| a["id"] == id);
    assert!(hub.wait(Duration::from_secs(30), ack("c-enrol")) && hub.wait(Duration::from_secs(30), ack("c-nobody")), "no acks");
    let acks = hub.state.lock().unwrap().acks.clone();
    let by = |id: &str| acks.iter().find(|a| a["id"] == id).unwrap().clone();
    assert_eq!(by("c-enrol")["ok"], true, "{acks:?}");
    assert_eq!(by("c-nobody")["error"]["code"], "not_found", "{acks:?}");
    assert!(
        hub.wait(Duration::from_secs(30), |s| s.by_id.values().any(|r| r.kind == "card_enrolled" && r.payload["member"] == "m002")),
        "no card_enrolled record at the hub"
    );
    let n: i64 = outbox::open(&kiosk.dir.join("microclass.db")).unwrap().query_row("SELECT count(*) FROM outbox WHERE kind = 'card_enrolled'", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 1, "one record for the one enrolment the kiosk accepted");
}
