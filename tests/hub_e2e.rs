//! The district hub end to end: a real mosquitto, `microclass-hub ingest`
//! (SQLite, then PostgreSQL with two workers on a shared subscription),
//! three centres each running the real kiosk binary on the sim board with
//! its uplink, one centre cut off the broker for part of the test (and
//! losing records the hub must ask for again), one member studying away
//! from home. The report's hours must equal the hours the script earned,
//! with nothing counted twice.

#[path = "support/certs.rs"]
#[allow(dead_code)]
mod certs;
#[path = "support/hub_device.rs"]
mod device;
#[path = "support/hub_env.rs"]
mod env;

use device::{hub_bin, Device};
use env::{Mosquitto, Postgres, Proxy};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DISTRICT: &str = "d1";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hub").join(name)
}

fn hub(args: &[&str]) -> String {
    let out = Command::new(hub_bin()).args(args).output().unwrap();
    assert!(out.status.success(), "hub {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Where the hub keeps its records: `--db FILE` or `--postgres CONN`.
fn store_args(store: &Store) -> Vec<String> {
    match store {
        Store::Sqlite(p) => vec!["--db".into(), p.display().to_string()],
        Store::Postgres(c) => vec!["--postgres".into(), c.clone()],
    }
}

enum Store {
    Sqlite(PathBuf),
    Postgres(String),
}

/// An ingest worker process, killed if the test fails before stopping it.
struct Worker(Option<Child>);

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn start_ingest(store: &Store, broker: &str, client_id: &str, share: Option<&str>, log: &Path) -> Worker {
    let mut args: Vec<String> = vec!["ingest".into()];
    args.extend(store_args(store));
    args.extend(["--broker", broker, "--district", DISTRICT, "--client-id", client_id, "--gap-grace-s", "1", "--resend-retry-s", "2", "--sweep-ms", "300"].map(String::from));
    if let Some(g) = share {
        args.extend(["--share-group".into(), g.into()]);
    }
    Worker(Some(Command::new(hub_bin()).args(&args).stdout(Stdio::piped()).stderr(std::fs::File::create(log).unwrap()).spawn().expect("start hub ingest")))
}

/// Stops a worker with SIGTERM and reads the counters it prints.
fn stop_ingest(mut w: Worker) -> serde_json::Value {
    let c = w.0.take().expect("a running worker");
    unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success(), "ingest exit {:?}", out.status);
    serde_json::from_slice(out.stdout.trim_ascii()).unwrap_or_else(|e| panic!("ingest stats {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn devices(store: &Store) -> Vec<serde_json::Value> {
    let mut args = vec!["devices".to_string(), "--json".into()];
    args.extend(store_args(store));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    serde_json::from_str(&hub(&a)).unwrap()
}

fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(secs), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn device_row<'a>(devs: &'a [serde_json::Value], id: &str) -> Option<&'a serde_json::Value> {
    devs.iter().find(|d| d["device"] == id)
}

/// What the script earns: (member, minutes) for each self-study; whole
/// minutes watched, capped at the course length.
fn earned(plan: &[(&str, &str, u32)], lengths: &BTreeMap<&str, u32>) -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    for (member, course, watched) in plan {
        *m.entry(member.to_string()).or_default() += i64::from((watched / 60).min(lengths[course]));
    }
    m
}

fn district_end_to_end(store: Store, workers: usize) {
    let root = tempfile::tempdir().unwrap();
    let broker = Mosquitto::start();
    let key_dir = root.path().join("key");
    hub(&["keygen", "--out", key_dir.to_str().unwrap()]);
    let public = std::fs::read_to_string(key_dir.join("hub.pub")).unwrap().trim().to_string();
    let key = key_dir.join("hub.key");
    for (kind, file) in [("roster", "roster.csv"), ("catalog", "catalog.csv")] {
        let out = hub(&["publish", kind, fixture(file).to_str().unwrap(), "--key", key.to_str().unwrap(), "--broker", &broker.url(), "--district", DISTRICT]);
        assert!(out.contains("retained"), "{out}");
    }

    let share = (workers > 1).then_some("ingest");
    let mut ingest: Vec<Worker> = (0..workers).map(|i| start_ingest(&store, &broker.url(), &format!("hub-{i}"), share, &root.path().join(format!("ingest-{i}.log")))).collect();

    let north_line = Proxy::start(broker.port);
    let east = Device::start(root.path(), DISTRICT, "east", "pi-east", &broker.url(), &public);
    let west = Device::start(root.path(), DISTRICT, "west", "pi-west", &broker.url(), &public);
    let north = Device::start(root.path(), DISTRICT, "north", "pi-north", &north_line.url(), &public);
    for d in [&east, &west, &north] {
        d.wait_documents(&["roster", "catalog"]);
    }
    wait_until("all three devices online at the hub", 20, || {
        let devs = devices(&store);
        ["pi-east", "pi-west", "pi-north"].iter().all(|id| device_row(&devs, id).is_some_and(|d| d["state"] == "online"))
    });

    // The north centre's line goes down; the broker publishes its Last Will.
    north_line.set_up(false);
    wait_until("north reported offline", 20, || device_row(&devices(&store), "pi-north").is_some_and(|d| d["state"] == "offline"));

    let lengths: BTreeMap<&str, u32> = [("k-history", 45), ("k-rules", 15), ("k-policy", 90)].into();
    // (card, member, course, seconds watched). m201 lives in the west and also studies in the east.
    let east_plan = [("04E00001", "m101", "k-rules", 900), ("04E00012", "m102", "k-history", 1210), ("04E00003", "m103", "k-policy", 6000), ("04F00001", "m201", "k-rules", 900)];
    let west_plan = [("04F00001", "m201", "k-history", 2700), ("04F00002", "m202", "k-rules", 900), ("04F00003", "m203", "k-history", 100)];
    let north_plan = [("04A00001", "m301", "k-policy", 5400), ("04A00002", "m302", "k-history", 2700), ("04A00003", "m303", "k-rules", 59)];
    std::thread::scope(|s| {
        s.spawn(|| east_plan.iter().for_each(|(card, _, c, w)| east.self_study(card, c, *w)));
        s.spawn(|| north_plan.iter().for_each(|(card, _, c, w)| north.self_study(card, c, *w)));
        s.spawn(|| {
            west_plan.iter().for_each(|(card, _, c, w)| west.self_study(card, c, *w));
            // A short session at the west centre, then a rating.
            assert!(west.tap("0411110002").contains("trainer panel"));
            west.ctl(&["start-session", "党章党规"]);
            west.tap("04A00009"); // m999, a north member, signs in at west
            std::thread::sleep(Duration::from_millis(5200));
            assert!(west.tap("0411110002").contains("running, 1 present"));
            west.ctl(&["end-session"]);
            let r = west.tap("04A00009");
            assert!(r.contains("rate"), "rating prompt: {r}");
            west.ctl(&["rate", "4"]);
        });
    });

    // While cut off, three of north's records are "lost": marked acknowledged
    // but never delivered. The hub must notice the gap and ask for them.
    let (north_rows, north_unsent) = north.outbox();
    assert!(north_unsent >= 6, "north queued its records while offline: {north_unsent}");
    let lost = north.lose_unsent(3);
    assert_eq!(lost.len(), 3);
    north_line.set_up(true);

    // Every row of every outbox (telemetry samples included) must reach the hub once.
    let caught_up = |store: &Store, fleet: &[&Device]| {
        let devs = devices(store);
        fleet.iter().all(|d| device_row(&devs, &d.id).is_some_and(|r| r["records"] == d.outbox().0 && r["missing"] == 0 && r["state"] == "online"))
    };
    wait_until("every record of every device at the hub", 60, || caught_up(&store, &[&east, &west, &north]));
    assert!(north.outbox().0 >= north_rows);

    // A device restored from a backup sends everything again: nothing may count twice.
    let mut west = west;
    west.stop_uplink();
    let resent = west.forget_acks();
    west.start_uplink();
    wait_until("west re-sent its whole outbox", 30, || west.outbox().1 == 0);
    std::thread::sleep(Duration::from_millis(500));
    wait_until("counts unchanged after the re-send", 10, || caught_up(&store, &[&east, &west, &north]));
    let total: i64 = [&east, &west, &north].iter().map(|d| d.outbox().0).sum();

    let stats: Vec<_> = ingest.drain(..).map(stop_ingest).collect();
    let sum = |k: &str| stats.iter().map(|s| s[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!(sum("inserted") as i64, total, "each record inserted exactly once across workers: {stats:?}");
    assert!(sum("duplicates") as i64 >= resent, "the re-sent records were seen and dropped: {stats:?}");
    assert_eq!((sum("store_errors"), sum("bad_messages")), (0, 0), "{stats:?}");
    assert!(sum("resends_requested") >= 1, "the lost records were asked for: {stats:?}");
    if workers > 1 {
        assert!(stats.iter().all(|s| s["batches"].as_u64().unwrap() > 0), "the shared subscription split the load: {stats:?}");
    }

    // The report: hours per member equal what the script earned.
    let out_dir = root.path().join("report");
    let html = root.path().join("report.html");
    let mut args: Vec<String> = vec!["report".into()];
    args.extend(store_args(&store));
    args.extend(["--roster", fixture("roster.csv").to_str().unwrap(), "--catalog", fixture("catalog.csv").to_str().unwrap(), "--csv-dir", out_dir.to_str().unwrap(), "--html", html.to_str().unwrap()].map(String::from));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    hub(&a);
    let mut want = earned(&east_plan.map(|(_, m, c, w)| (m, c, w)), &lengths);
    for (m, n) in earned(&west_plan.map(|(_, m, c, w)| (m, c, w)), &lengths).into_iter().chain(earned(&north_plan.map(|(_, m, c, w)| (m, c, w)), &lengths)) {
        *want.entry(m).or_default() += n;
    }
    assert_eq!(want["m201"], 15 + 45, "the mobile member's hours from both centres");
    let members = std::fs::read_to_string(out_dir.join("members.csv")).unwrap();
    let mut got = BTreeMap::new();
    for line in members.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert!(got.insert(f[0].to_string(), f[5].parse::<i64>().unwrap()).is_none(), "one line per member and year: {line}");
    }
    for (member, minutes) in &got {
        assert_eq!(*minutes, want.get(member).copied().unwrap_or(0), "minutes of {member}\n{members}");
    }
    assert_eq!(got.len(), 13, "every roster member is listed, with or without hours");
    let centres = std::fs::read_to_string(out_dir.join("centres.csv")).unwrap();
    assert!(centres.lines().any(|l| l.starts_with("west,1,1,1,")), "one session with one mobile sign-in at west:\n{centres}");
    assert_eq!(std::fs::read_to_string(out_dir.join("ratings.csv")).unwrap(), "stars,count\n1,0\n2,0\n3,0\n4,1\n5,0\n");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("张伟") && page.contains("<svg"));
}

#[test]
fn a_district_of_three_centres_is_counted_exactly_once_in_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    district_end_to_end(Store::Sqlite(dir.path().join("hub.db")), 1);
}

#[test]
fn two_postgres_workers_on_a_shared_subscription_count_a_district_exactly_once() {
    let pg = Postgres::start();
    district_end_to_end(Store::Postgres(pg.conn.clone()), 2);
}

/// A device batch may reach 256 KiB and a single large record more; the
/// worker must take packets far above rumqttc's 10 KiB default.
#[test]
fn a_batch_of_several_hundred_kilobytes_is_ingested() {
    let root = tempfile::tempdir().unwrap();
    let broker = Mosquitto::start();
    let store = Store::Sqlite(root.path().join("hub.db"));
    let worker = start_ingest(&store, &broker.url(), "hub-big", None, &root.path().join("ingest.log"));
    let records: Vec<_> = (1..=500)
        .map(|seq| serde_json::json!({"seq": seq, "id": format!("big-{seq}"), "kind": "credit", "created_ms": seq,
            "payload": {"v": 1, "type": "credit", "id": format!("big-{seq}"), "member": "m101", "minutes": 1, "year": 2026, "note": "x".repeat(600)}}))
        .collect();
    let batch = serde_json::json!({"v": 1, "stream": "S1", "device": "pi-big", "sent_ms": 0, "records": records}).to_string();
    assert!(batch.len() > 300_000);
    let file = root.path().join("batch.json");
    std::fs::write(&file, &batch).unwrap();
    // The status subscription is the worker's last: once its retained status arrives, all are in place.
    let publish = |topic: &str, args: &[&str]| {
        let st = Command::new("mosquitto_pub")
            .args(["-p", &broker.port.to_string(), "-q", "1", "-t", topic])
            .args(args)
            .status()
            .expect("mosquitto_pub must be installed (mosquitto-clients, see .ci/install-deps)");
        assert!(st.success());
    };
    publish("mc/v1/d1/c1/pi-big/status", &["-r", "-m", r#"{"v":1,"state":"offline","district":"d1","centre":"c1","device":"pi-big","boot_id":"b"}"#]);
    wait_until("the worker subscribed", 20, || devices(&store).len() == 1);
    publish("mc/v1/d1/c1/pi-big/events", &["-f", file.to_str().unwrap()]);
    wait_until("500 records stored", 20, || devices(&store)[0]["records"] == 500);
    let stats = stop_ingest(worker);
    assert_eq!((stats["inserted"].as_u64(), stats["bad_messages"].as_u64()), (Some(500), Some(0)));
}

/// Publish and ingest over TLS with a pinned CA; without the CA the hub refuses to connect.
#[test]
fn the_hub_publishes_and_ingests_over_tls_with_a_pinned_ca() {
    let root = tempfile::tempdir().unwrap();
    let pki = certs::Pki::new(&root.path().join("pki"), "district-ca");
    let broker = Mosquitto::start_tls(&pki.ca, &pki.server_cert, &pki.server_key);
    let url = format!("mqtts://127.0.0.1:{}", broker.port);
    let key_dir = root.path().join("key");
    hub(&["keygen", "--out", key_dir.to_str().unwrap()]);
    let key = key_dir.join("hub.key");
    let roster = fixture("roster.csv");
    let out = Command::new(hub_bin()).args(["publish", "roster", roster.to_str().unwrap(), "--key", key.to_str().unwrap(), "--broker", &url, "--district", DISTRICT]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--ca-file"), "{out:?}");
    hub(&["publish", "roster", roster.to_str().unwrap(), "--key", key.to_str().unwrap(), "--broker", &url, "--district", DISTRICT, "--ca-file", pki.ca.to_str().unwrap()]);
    let got = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &broker.port.to_string(), "--cafile", pki.ca.to_str().unwrap(), "-t", "mc/v1/d1/roster", "-C", "1", "-W", "10"])
        .output()
        .expect("mosquitto_sub must be installed (mosquitto-clients)");
    let env: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap_or_else(|e| panic!("{e}: {got:?}"));
    assert_eq!((env["kind"].as_str(), env["district"].as_str()), (Some("roster"), Some("d1")));

    let store = Store::Sqlite(root.path().join("hub.db"));
    let mut args: Vec<String> = vec!["ingest".into()];
    args.extend(store_args(&store));
    args.extend(["--broker", &url, "--district", DISTRICT, "--client-id", "hub-tls", "--ca-file", pki.ca.to_str().unwrap()].map(String::from));
    let worker = Worker(Some(Command::new(hub_bin()).args(&args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap()));
    let status = r#"{"v":1,"state":"offline","district":"d1","centre":"c1","device":"pi-tls","boot_id":"b"}"#;
    let pubd = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &broker.port.to_string(), "--cafile", pki.ca.to_str().unwrap(), "-q", "1", "-r", "-t", "mc/v1/d1/c1/pi-tls/status", "-m", status])
        .status()
        .unwrap();
    assert!(pubd.success());
    wait_until("the device status stored over TLS", 20, || devices(&store).len() == 1);
    let stats = stop_ingest(worker);
    assert_eq!(stats["status_updates"].as_u64(), Some(1));
}
