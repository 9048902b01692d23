//! Uplink integration tests against a real mosquitto started per test on a
//! free loopback port, with a hub-side client that deduplicates by id and
//! checks sequence numbers. Every scenario ends the same way: every record
//! at the hub, none missing, no gap, every duplicate a redelivery of one id.

mod support;

use microclass::clock::SystemClock;
use microclass::core::payload::{self, TapFacts};
use microclass::core::TapOutcome;
use microclass::model::CardUid;
use microclass::store::Store;
use microclass::uplink::envelope::{generate_key, seal, DocKind};
use microclass::store::drain as outbox;
use microclass::uplink::{self, HubConfig, MetaSink, StandaloneCommands, StoreSink, Uplink, UplinkHandle};
use rumqttc::Transport;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use support::broker::Broker;
use support::hub::Hub;
use support::schema::assert_valid;

const DEV_EVENTS: &str = "mc/v1/d1/c1/pi-1/events";
const DEV_CMD: &str = "mc/v1/d1/c1/pi-1/cmd";

fn hub_config(url: &str) -> HubConfig {
    HubConfig {
        url: url.into(),
        district: "d1".into(),
        centre: "c1".into(),
        device: "pi-1".into(),
        batch_bytes: 16 * 1024,
        batch_records: 50,
        inflight: 4,
        telemetry_interval_s: 1,
        reconnect_min_ms: 50,
        reconnect_max_ms: 400,
        max_downlink_bytes: 64 * 1024,
        ..Default::default()
    }
}

/// Queues `n` attendance-like records the way the kiosk does (store, one transaction).
fn fill(db: &Path, n: usize, tag: &str) -> Vec<String> {
    let mut store = Store::open(db).unwrap();
    let tx = store.conn_mut().transaction().unwrap();
    let uid = CardUid::parse("04A1B2C3D4E5F6").unwrap();
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("{tag}-{i:06}");
        let o = if i % 3 == 2 {
            payload::credit(payload::CreditFacts {
                id: &id, member_id: "m-0001", source: "session", session_id: Some("s-1"), course_id: None,
                in_ms: 1_760_000_000_000, out_ms: 1_760_000_000_000 + 5_400_000, minutes: 90, year: 2026, mobile: false, synced: true,
            })
        } else {
            payload::tap(TapFacts {
                id: &id, at_ms: 1_760_000_000_000 + i as i64, synced: i % 7 != 0, uid: &uid, member_id: Some("m-0001"),
                outcome: TapOutcome::SignedIn, session_id: Some("s-1"), mobile: i % 5 == 0, home_centre: Some("c9"), attendance_id: Some(&id),
            })
        };
        microclass::store::apply::enqueue(&tx, &o, 1_760_000_000_000).unwrap();
        ids.push(id);
    }
    tx.commit().unwrap();
    ids
}

fn stream_of(db: &Path) -> String {
    outbox::stream_id(&outbox::open(db).unwrap()).unwrap()
}

fn start(cfg: HubConfig, db: &Path) -> UplinkHandle {
    let sink = MetaSink::new(outbox::open(db).unwrap());
    start_with(cfg, db, Box::new(sink))
}

fn start_with(cfg: HubConfig, db: &Path, documents: Box<dyn uplink::DocumentSink>) -> UplinkHandle {
    uplink::spawn(Uplink {
        config: cfg,
        db_path: db.to_path_buf(),
        clock: Arc::new(SystemClock::new()),
        documents,
        commands: Box::new(StandaloneCommands { log: None }),
        thermal_root: PathBuf::from("/sys/class/thermal"),
        rebooter: None,
    })
    .unwrap()
}

fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let end = std::time::Instant::now() + timeout;
    while !cond() {
        assert!(std::time::Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn backlog(db: &Path) -> u64 {
    outbox::backlog(&outbox::open(db).unwrap()).unwrap().rows
}

/// Unsent records (not counting the low-value telemetry samples queued while offline).
fn records_unsent(db: &Path) -> i64 {
    outbox::open(db).unwrap().query_row("SELECT count(*) FROM outbox_unsent WHERE priority >= 0", [], |r| r.get(0)).unwrap()
}

#[test]
fn a_backlog_made_while_the_broker_was_down_arrives_complete_once_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Broker::plain(&dir.path().join("broker"));
    let hub = Hub::connect(broker.port, None);
    broker.stop();
    let db = dir.path().join("k.db");
    let ids = fill(&db, 700, "down");
    let up = start(hub_config(&broker.url()), &db);
    wait_until(Duration::from_secs(5), "failed connects", || up.status().counters.connect_failures >= 2);
    assert_eq!(records_unsent(&db), 700, "nothing may be marked sent without a broker");
    assert!(backlog(&db) > 700, "an offline telemetry sample is queued as a low-value row");
    broker.start();
    assert!(hub.wait_for_ids(&ids, Duration::from_secs(20)), "drain did not finish");
    hub.assert_complete(&stream_of(&db), &ids);
    wait_until(Duration::from_secs(5), "rows marked sent", || backlog(&db) == 0);
    // The birth is retained, carries the stream, and matches its schema; so do batches and telemetry.
    assert!(hub.wait(Duration::from_secs(5), |s| !s.telemetry.is_empty()), "no telemetry");
    // Marked sent means acknowledged by the broker, not yet forwarded to the hub.
    assert!(hub.wait(Duration::from_secs(5), |s| s.by_id.values().any(|r| r.kind == "telemetry")), "the offline sample did not arrive");
    let s = hub.state.lock().unwrap();
    let (_, birth, _) = s.statuses.iter().find(|(_, v, _)| v["state"] == "online").expect("no birth");
    assert_eq!(birth["birth"]["stream"], stream_of(&db));
    assert_valid("status.json", birth);
    for t in &s.telemetry {
        assert_valid("telemetry.json", t);
    }
    for b in &s.batches {
        let v: Value = serde_json::from_str(b).unwrap();
        assert_valid("events.json", &v);
        for r in v["records"].as_array().unwrap() {
            assert_valid(&support::schema::for_kind(r["kind"].as_str().unwrap()), &r["payload"]);
        }
    }
    drop(s);
    finish(up);
    // The broker forwards the offline status to the hub after the uplink has already gone.
    let last_status = |s: &support::hub::HubState| s.statuses.iter().rev().find(|(t, _, _)| t.ends_with("pi-1/status")).map(|x| x.1.clone());
    let offline = hub.wait(Duration::from_secs(5), |s| last_status(s).is_some_and(|v| v["state"] == "offline"));
    let last = last_status(&hub.state.lock().unwrap()).expect("no status");
    assert!(offline, "a clean stop replaces the birth with offline; the last status was {last}");
    assert_valid("status.json", &last);
}

#[test]
fn twenty_broker_restarts_during_a_drain_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Broker::plain(&dir.path().join("broker"));
    let hub = Hub::connect(broker.port, None);
    let db = dir.path().join("k.db");
    let mut ids = fill(&db, 8000, "boot");
    let cfg = HubConfig { batch_records: 4, inflight: 2, ..hub_config(&broker.url()) };
    let up = start(cfg, &db);
    // The kiosk keeps writing while the broker bounces.
    let db2 = db.clone();
    let writer = std::thread::spawn(move || (0..20).flat_map(|i| {
        std::thread::sleep(Duration::from_millis(60));
        fill(&db2, 10, &format!("live{i:02}"))
    }).collect::<Vec<_>>());
    let mut mid_drain = 0;
    for i in 0..20 {
        // Keep a drain going: a connect is quick, so top the backlog up
        // whenever it runs low rather than hope 8000 rows last 20 restarts.
        if backlog(&db) < 1000 {
            ids.extend(fill(&db, 3000, &format!("top{i:02}")));
        }
        std::thread::sleep(Duration::from_millis(80));
        if backlog(&db) > 0 {
            mid_drain += 1;
        }
        broker.restart();
    }
    ids.extend(writer.join().unwrap());
    eprintln!("restarts with rows still unsent: {mid_drain}/20");
    assert!(mid_drain >= 15, "only {mid_drain} of 20 restarts hit a drain in progress");
    assert!(hub.wait_for_ids(&ids, Duration::from_secs(30)), "drain did not finish after restarts");
    hub.assert_complete(&stream_of(&db), &ids);
    let st = up.status();
    assert!(st.counters.connects >= 5, "the device reconnected only {} times", st.counters.connects);
    wait_until(Duration::from_secs(5), "rows marked sent", || backlog(&db) == 0);
    finish(up);
}

fn write_device_config(dir: &Path, url: &str, extra: &str) -> PathBuf {
    let p = dir.join("config.toml");
    let text = format!(
        "[device]\ndistrict = \"d1\"\ncentre = \"c1\"\nid = \"pi-1\"\ndata_dir = {:?}\n[hub]\nurl = {url:?}\nreconnect_min_ms = 50\nreconnect_max_ms = 300\n{extra}",
        dir.display().to_string()
    );
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn a_device_killed_mid_drain_resends_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::plain(&dir.path().join("broker"));
    let hub = Hub::connect(broker.port, None);
    let data = dir.path().join("data");
    let conf = write_device_config(&data_dir(&data), &broker.url(), "batch_records = 2\ninflight = 1\n");
    let db = data.join("microclass.db");
    let ids = fill(&db, 12_000, "kill");
    let bin = env!("CARGO_BIN_EXE_microclass");
    for round in 1..=3 {
        let mut child = std::process::Command::new(bin).args(["--config", conf.to_str().unwrap(), "--log", "warn", "uplink"]).spawn().unwrap();
        let target = round * 2000;
        assert!(hub.wait(Duration::from_secs(20), |s| s.by_id.len() >= target), "round {round}: no progress");
        // SAFETY: SIGKILL to our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        child.wait().unwrap();
        assert!(backlog(&db) > 0, "round {round}: the drain finished before the kill; make it longer");
    }
    let status = std::process::Command::new(bin)
        .args(["--config", conf.to_str().unwrap(), "--log", "warn", "uplink", "--until-drained", "--timeout-s", "60"])
        .status()
        .unwrap();
    assert!(status.success(), "final drain: {status}");
    assert!(hub.wait_for_ids(&ids, Duration::from_secs(10)));
    hub.assert_complete(&stream_of(&db), &ids);
    assert_eq!(backlog(&db), 0);
    let s = hub.state.lock().unwrap();
    assert!(s.deliveries >= ids.len() as u64);
    // A kill repeats at most the batches in flight plus the acks not yet on disk (2 rows a batch here).
    let bound = 3 * (2 * uplink::marker::QUEUE_BOUND as u64 + 2) * 2;
    assert!(s.duplicates <= bound, "{} duplicates for 3 kills (bound {bound})", s.duplicates);
    eprintln!("duplicates after 3 kills: {}", s.duplicates);
}

fn data_dir(p: &Path) -> PathBuf {
    std::fs::create_dir_all(p).unwrap();
    p.to_path_buf()
}

#[path = "uplink_cases/security.rs"]
mod security;
#[path = "uplink_cases/conformance.rs"]
mod conformance;
#[path = "uplink_cases/downlink.rs"]
mod downlink;
#[path = "uplink_cases/schemas.rs"]
mod schemas;
#[path = "uplink_cases/slow_broker.rs"]
mod slow_broker;
#[path = "uplink_cases/sync_now.rs"]
mod sync_now;

/// Stops an uplink after checking its packet-id bookkeeping never slipped.
fn finish(up: UplinkHandle) {
    assert_eq!(up.status().protocol_errors, 0, "publish events and requests no longer lined up");
    up.stop().unwrap();
}
