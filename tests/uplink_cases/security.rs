//! The shipped broker layout (deploy/mosquitto/microclass.conf and the ACL
//! `microclass-hub broker-acl` generates) against a real mosquitto: TLS with
//! a pinned CA, client certificates as identities bound to the client id, and
//! a device that can only be itself: its own topics to publish, its own
//! district's documents and its own centre's schedule to read.

use super::*;
use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Packet, QoS};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use support::certs::Pki;
use support::layout::{Layout, SHIPPED_CONF};

/// The device list of docs/mosquitto.md's example.
const DOC_DEVICES: &str = "# district centre device\nd1 c1 pi-1\nd1 c2 pi-2\n";

fn acl_for(devices: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("devices.txt");
    std::fs::write(&list, devices).unwrap();
    let out = std::process::Command::new(std::path::Path::new(env!("CARGO_BIN_EXE_microclass")).with_file_name("microclass-hub")).args(["broker-acl", "--devices"]).arg(&list).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_broker_config_and_acl_in_the_docs_are_the_shipped_and_generated_ones() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/mosquitto.md")).unwrap();
    let conf = std::fs::read_to_string(SHIPPED_CONF).unwrap();
    assert!(doc.contains(&conf), "docs/mosquitto.md must contain deploy/mosquitto/microclass.conf verbatim");
    assert!(doc.contains(DOC_DEVICES), "docs/mosquitto.md must contain the example device list");
    assert!(doc.contains(&acl_for(DOC_DEVICES)), "docs/mosquitto.md must contain the ACL generated for its example");
}

/// A bare MQTT client that records what happens to it.
#[derive(Default)]
struct ProbeLog {
    connacks: u32,
    errors: u32,
    last_error: Option<String>,
    received: Vec<(String, Vec<u8>)>,
}

struct Probe {
    client: AsyncClient,
    log: Arc<Mutex<ProbeLog>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Probe {
    fn connect(client_id: &str, port: u16, transport: Transport, will: Option<&str>) -> Probe {
        let mut o = MqttOptions::new(client_id, "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(5));
        o.set_transport(transport);
        if let Some(topic) = will {
            o.set_last_will(LastWill::new(topic, b"{\"state\":\"offline\"}".to_vec(), QoS::AtLeastOnce, false));
        }
        let (client, mut el) = AsyncClient::new(o, 100);
        let (log, stop) = (Arc::new(Mutex::new(ProbeLog::default())), Arc::new(AtomicBool::new(false)));
        let (l, s) = (log.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                // Never cancel a poll (a half-written packet breaks the connection):
                // Drop sends DISCONNECT, which ends the poll.
                while !s.load(Ordering::SeqCst) {
                    let ev = el.poll().await;
                    let mut g = l.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    match ev {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => g.connacks += 1,
                        Ok(Event::Incoming(Packet::Publish(p))) => g.received.push((p.topic.clone(), p.payload.to_vec())),
                        Ok(_) => {}
                        Err(e) => {
                            g.errors += 1;
                            g.last_error = Some(e.to_string());
                            drop(g);
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                    }
                }
            });
        });
        let p = Probe { client, log, stop, thread: Some(thread) };
        p.wait("the first CONNACK", |l| l.connacks >= 1);
        p
    }

    fn wait(&self, what: &str, cond: impl Fn(&ProbeLog) -> bool) {
        wait_until(Duration::from_secs(15), what, || cond(&self.log.lock().unwrap()));
    }

    fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>, retain: bool) {
        self.client.try_publish(topic, QoS::AtLeastOnce, retain, payload.into()).unwrap();
    }

    /// Publishes on a connection of its own what the broker should deny, and
    /// waits until the broker answered: mosquitto 2.0.11 drops a connection that
    /// published where it may not (a 3.1.1 client gets no other answer), and
    /// `arrived` says the message got through instead.
    fn publish_denied(client_id: &str, port: u16, transport: Transport, topic: &str, payload: impl Into<Vec<u8>>, retain: bool, arrived: impl Fn() -> bool) {
        let p = Probe::connect(client_id, port, transport, None);
        p.publish(topic, payload, retain);
        wait_until(Duration::from_secs(15), "the broker's answer to a forbidden publish", || p.log.lock().unwrap().errors > 0 || arrived());
    }

    fn subscribe(&self, filters: &[&str]) {
        let subs = filters.iter().map(|f| rumqttc::SubscribeFilter::new(f.to_string(), QoS::AtLeastOnce));
        self.client.try_subscribe_many(subs).unwrap();
    }

    fn received_topics(&self) -> Vec<String> {
        self.log.lock().unwrap().received.iter().map(|(t, _)| t.clone()).collect()
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.client.try_disconnect();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn marker_seen(hub: &Hub, marker: &str) -> bool {
    hub.wait(Duration::from_secs(15), |s| s.telemetry.iter().any(|t| t["marker"] == marker))
}

#[test]
fn a_device_using_another_devices_client_id_does_not_knock_it_offline() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::start(dir.path(), "d1 c1 pi-1\nd1 c1 pi-2\n");
    let hub = Hub::connect_as("hub-ingest-1", layout.hub_port, Some(layout.hub_tls()));
    let pi2 = Probe::connect("mc-d1-c1-pi-2", layout.broker.port, layout.device_tls("pi-2"), Some("mc/v1/d1/c1/pi-2/status"));
    // pi-1, with its own valid certificate, asks for pi-2's client id.
    let pi1 = Probe::connect("mc-d1-c1-pi-2", layout.broker.port, layout.device_tls("pi-1"), None);
    pi1.publish("mc/v1/d1/c1/pi-1/telemetry", "{\"marker\":\"pi-1\"}", false);
    assert!(marker_seen(&hub, "pi-1"), "pi-1 never got through on its own topic");
    // pi-2's first connection still works: its message arrives without a reconnect.
    pi2.publish("mc/v1/d1/c1/pi-2/telemetry", "{\"marker\":\"pi-2\"}", false);
    assert!(marker_seen(&hub, "pi-2"), "pi-2 could not publish after pi-1 connected");
    let log = pi2.log.lock().unwrap();
    assert_eq!((log.connacks, log.errors), (1, 0), "pi-2 was disconnected when pi-1 used its client id");
    let s = hub.state.lock().unwrap();
    assert!(!s.statuses.iter().any(|(t, _, _)| t == "mc/v1/d1/c1/pi-2/status"), "pi-2's Last Will was published: {:?}", s.statuses);
}

#[test]
fn a_device_cannot_read_another_districts_roster_or_another_centres_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::start(dir.path(), "d1 c1 pi-1\nd1 c2 pi-5\nd2 c1 pi-9\n");
    let hub = Probe::connect("hub-publisher", layout.hub_port, layout.hub_tls(), None);
    let docs = ["mc/v1/d2/roster", "mc/v1/d2/catalog", "mc/v1/d1/c2/schedule", "mc/v1/d1/roster", "mc/v1/d1/c1/schedule"];
    for t in docs {
        hub.publish(t, format!("{{\"doc\":\"{t}\"}}"), true);
    }
    // The broker holds every retained document (the hub reads them back).
    hub.subscribe(&["mc/v1/+/roster", "mc/v1/+/catalog", "mc/v1/+/+/schedule"]);
    hub.wait("the retained documents", |l| docs.iter().all(|d| l.received.iter().any(|(t, _)| t == d)));

    let pi1 = Probe::connect("pi-1", layout.broker.port, layout.device_tls("pi-1"), None);
    // The forbidden filters first: their retained messages would come before the allowed ones'.
    pi1.subscribe(&["mc/v1/d2/roster", "mc/v1/d2/catalog", "mc/v1/d1/c2/schedule", "mc/v1/+/roster", "mc/v1/#"]);
    pi1.subscribe(&["mc/v1/d1/roster", "mc/v1/d1/c1/schedule"]);
    pi1.wait("its own district's roster and centre's schedule", |l| ["mc/v1/d1/roster", "mc/v1/d1/c1/schedule"].iter().all(|d| l.received.iter().any(|(t, _)| t == d)));
    let got = pi1.received_topics();
    let leaked: Vec<&String> = got.iter().filter(|t| !["mc/v1/d1/roster", "mc/v1/d1/c1/schedule"].contains(&t.as_str())).collect();
    assert!(leaked.is_empty(), "pi-1 read documents that are not its own: {leaked:?}");
}

#[test]
fn a_device_cannot_publish_under_another_centre_or_district_even_with_its_own_id() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::start(dir.path(), "d1 c1 pi-1\nd1 c2 pi-5\n");
    let hub = Hub::connect_as("hub-ingest-1", layout.hub_port, Some(layout.hub_tls()));
    let forged = |id: &str| json!({"v":1,"stream":"X","device":"pi-1","sent_ms":0,"records":[{"seq":1,"id":id,"kind":"tap","created_ms":0,"payload":{}}]}).to_string();
    for (topic, id) in [("mc/v1/d1/c2/pi-1/events", "other-centre"), ("mc/v1/d2/c1/pi-1/events", "other-district"), ("mc/v1/d1/c2/pi-5/events", "other-device")] {
        let seen = || hub.state.lock().unwrap().by_id.contains_key(id);
        Probe::publish_denied("pi-1", layout.broker.port, layout.device_tls("pi-1"), topic, forged(id), false, seen);
    }
    // The broker handled each forbidden publish before it dropped its connection,
    // so had one got through, the hub would have it before these.
    let pi1 = Probe::connect("pi-1", layout.broker.port, layout.device_tls("pi-1"), None);
    pi1.publish("mc/v1/d1/c1/pi-1/events", forged("own"), false);
    pi1.publish("mc/v1/d1/c1/pi-1/telemetry", "{\"marker\":\"done\"}", false);
    assert!(marker_seen(&hub, "done"), "the own-prefix marker never arrived: {:?}", pi1.log.lock().unwrap().last_error);
    let s = hub.state.lock().unwrap();
    assert!(s.by_id.contains_key("own"), "pi-1's own events did not get through");
    for id in ["other-centre", "other-district", "other-device"] {
        assert!(!s.by_id.contains_key(id), "the broker let pi-1 publish {id}");
    }
}

#[test]
fn tls_with_client_certificates_and_the_acl_keep_devices_in_their_own_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::start(dir.path(), "d1 c1 pi-1\nd1 c1 pi-3\n");
    let hub = Hub::connect_as("hub-ingest-1", layout.hub_port, Some(layout.hub_tls()));

    let db = dir.path().join("k.db");
    let ids = fill(&db, 400, "tls");
    let (cert, key) = layout.device_files("pi-1");
    let cfg = HubConfig {
        url: format!("mqtts://localhost:{}", layout.broker.port),
        ca_file: Some(layout.district.ca.clone()),
        client_cert_file: Some(cert),
        client_key_file: Some(key),
        ..hub_config("")
    };
    let up = start(cfg.clone(), &db);
    assert!(hub.wait_for_ids(&ids, Duration::from_secs(20)), "TLS drain did not finish: {:?}", up.status().last_error);
    hub.assert_complete(&stream_of(&db), &ids);

    // pi-3's valid certificate used to publish as pi-1 and to forge a roster: the broker drops both.
    let forged = json!({"v":1,"stream":"X","device":"pi-1","sent_ms":0,"records":[{"seq":1,"id":"forged","kind":"tap","created_ms":0,"payload":{}}]});
    let seen = || hub.state.lock().unwrap().by_id.contains_key("forged");
    Probe::publish_denied("pi-3", layout.broker.port, layout.device_tls("pi-3"), "mc/v1/d1/c1/pi-1/events", forged.to_string(), false, seen);
    let rejected = || up.status().counters.downlink_rejected > 0;
    Probe::publish_denied("pi-3", layout.broker.port, layout.device_tls("pi-3"), "mc/v1/d1/roster", "{}", true, rejected);
    let rogue = Probe::connect("pi-3", layout.broker.port, layout.device_tls("pi-3"), None);
    rogue.publish("mc/v1/d1/c1/pi-3/telemetry", "{\"marker\":1}", false);
    assert!(hub.wait(Duration::from_secs(10), |s| s.telemetry.iter().any(|t| t["marker"] == 1)), "own-prefix control message not seen: {:?}", rogue.log.lock().unwrap().last_error);
    assert!(!hub.state.lock().unwrap().by_id.contains_key("forged"), "a device published under another device's prefix");
    // Had the broker taken the forged retained roster, the device (subscribed to it) would have rejected it.
    assert_eq!(up.status().counters.downlink_rejected, 0, "a device wrote the roster: {:?}", up.status().last_rejected);
    drop(rogue);
    finish(up);

    // No client certificate: refused. A device pinned to another CA: refused.
    let other = Pki::new(&dir.path().join("other-pki"), "someone-else");
    let db2 = dir.path().join("k2.db");
    fill(&db2, 5, "pin");
    let pinned_wrong = HubConfig { ca_file: Some(other.ca.clone()), client_id: "pi-1b".into(), ..cfg.clone() };
    let up2 = start(pinned_wrong, &db2);
    let no_cert = HubConfig { client_cert_file: None, client_key_file: None, client_id: "pi-1c".into(), ..cfg };
    let db3 = dir.path().join("k3.db");
    fill(&db3, 5, "nocert");
    let up3 = start(no_cert, &db3);
    wait_until(Duration::from_secs(10), "refused connects", || {
        up2.status().counters.connect_failures >= 2 && up3.status().counters.connect_failures >= 2
    });
    assert!(!up2.status().connected && !up3.status().connected);
    assert_eq!((records_unsent(&db2), records_unsent(&db3)), (5, 5));
    finish(up2);
    finish(up3);
}

#[test]
fn username_and_password_with_the_same_acl_admit_only_the_right_password() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("acl"), acl_for("d1 c1 pi-1\n")).unwrap();
    let passwd = dir.path().join("passwd");
    for (user, pw) in [("pi-1", "s3cret-pi-1"), ("hub", "s3cret-hub")] {
        let mut c = std::process::Command::new("mosquitto_passwd");
        if !passwd.exists() {
            c.arg("-c");
        }
        let st = c.args(["-b", passwd.to_str().unwrap(), user, pw]).status().expect("mosquitto_passwd (mosquitto) is not installed");
        assert!(st.success());
    }
    let (pw, acl) = (passwd.clone(), dir.path().join("acl"));
    // As docs/mosquitto.md's password variant: the device listener binds the client id to the username.
    let hub_port = support::broker::free_port();
    let broker = Broker::with_listener(&dir.path().join("broker"), move |port, _| {
        format!(
            "per_listener_settings false\nallow_anonymous false\npassword_file {}\nacl_file {}\nlistener {port} 127.0.0.1\nuse_username_as_clientid true\nlistener {hub_port} 127.0.0.1\n",
            pw.display(),
            acl.display()
        )
    });
    let hub = Hub::connect_with("hub", hub_port, |o| {
        o.set_credentials("hub", "s3cret-hub");
    });
    let db = dir.path().join("k.db");
    let ids = fill(&db, 200, "pw");
    let good = dir.path().join("pi-1.pw");
    std::fs::write(&good, "s3cret-pi-1\n").unwrap();
    let cfg = HubConfig { username: Some("pi-1".into()), password_file: Some(good), ..hub_config(&broker.url()) };
    let up = start(cfg.clone(), &db);
    assert!(hub.wait_for_ids(&ids, Duration::from_secs(15)), "password drain did not finish: {:?}", up.status().last_error);
    hub.assert_complete(&stream_of(&db), &ids);
    finish(up);

    let bad = dir.path().join("bad.pw");
    std::fs::write(&bad, "guess").unwrap();
    let db2 = dir.path().join("k2.db");
    fill(&db2, 3, "badpw");
    let up2 = start(HubConfig { password_file: Some(bad), client_id: "pi-1-bad".into(), ..cfg }, &db2);
    wait_until(Duration::from_secs(10), "refused logins", || up2.status().counters.connect_failures >= 2);
    assert_eq!(records_unsent(&db2), 3);
    finish(up2);
}
