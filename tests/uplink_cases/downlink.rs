//! Signed and tampered roster/catalogue/schedule documents, and malformed
//! commands: rejected with a reason and a counter, never a crash or a wedge.

use super::*;
use base64::Engine as _;

fn member_names(db: &Path) -> Vec<String> {
    let c = outbox::open(db).unwrap();
    let mut st = c.prepare("SELECT name FROM members ORDER BY id").unwrap();
    let v = st.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect();
    v
}

#[test]
fn signed_documents_apply_and_tampered_or_foreign_ones_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::plain(&dir.path().join("broker"));
    let hub = Hub::connect(broker.port, None);
    let key = generate_key();
    let db = dir.path().join("k.db");
    let ids = fill(&db, 100, "doc");
    let cfg = HubConfig { hub_public_key: hex::encode(key.verifying_key().as_bytes()), ..hub_config(&broker.url()) };
    let sink = || Box::new(StoreSink::new(Store::open(&db).unwrap()));
    let up = start_with(cfg.clone(), &db, sink());
    wait_until(Duration::from_secs(10), "connect", || up.status().connected);

    let roster1 = r#"{"members":[{"id":"m-0001","name":"张三","branch":"第一支部","home_centre":"c1","cards":["04A1B2C3"]}]}"#.as_bytes();
    let env = seal(&key, DocKind::Roster, "d1", None, 1, 1, roster1);
    let env_json = serde_json::to_value(&env).unwrap();
    assert_valid("envelope.json", &env_json);
    assert_valid("doc-roster.json", &serde_json::from_slice(roster1).unwrap());
    hub.publish("mc/v1/d1/roster", serde_json::to_vec(&env).unwrap(), true);
    wait_until(Duration::from_secs(10), "roster applied", || up.status().counters.downlink_applied == 1);
    assert_eq!(member_names(&db), vec!["张三"]);

    // Tampered: a newer version whose body was changed after signing.
    let mut bad = seal(&key, DocKind::Roster, "d1", None, 2, 2, roster1);
    bad.body = base64::engine::general_purpose::STANDARD.encode(br#"{"members":[{"id":"x","name":"Mallory"}]}"#);
    hub.publish("mc/v1/d1/roster", serde_json::to_vec(&bad).unwrap(), true);
    // Signed by another key; garbage; oversized.
    let foreign = seal(&generate_key(), DocKind::Roster, "d1", None, 3, 3, roster1);
    hub.publish("mc/v1/d1/roster", serde_json::to_vec(&foreign).unwrap(), false);
    hub.publish("mc/v1/d1/roster", vec![0xff, 0x00, 0x7b], false);
    hub.publish("mc/v1/d1/roster", vec![b' '; 100 * 1024], false);
    wait_until(Duration::from_secs(10), "four rejections", || up.status().counters.downlink_rejected >= 4);
    assert_eq!(member_names(&db), vec!["张三"], "nothing but the signed roster may apply");

    // A signed catalogue and a schedule for this centre apply; one for another centre does not.
    let catalog = r#"{"courses":[{"id":"k1","title":"微党课：党章学习","duration_s":900,"credit_minutes":15,"required":true}]}"#.as_bytes();
    assert_valid("doc-catalog.json", &serde_json::from_slice(catalog).unwrap());
    hub.publish("mc/v1/d1/catalog", serde_json::to_vec(&seal(&key, DocKind::Catalog, "d1", None, 7, 7, catalog)).unwrap(), true);
    let sched = r#"{"entries":[{"id":"s1","title":"周三学习","starts_ms":1760000000000,"ends_ms":1760003600000,"trainer_id":"m-0001","courses":["k1"]}]}"#.as_bytes();
    assert_valid("doc-schedule.json", &serde_json::from_slice(sched).unwrap());
    hub.publish("mc/v1/d1/c1/schedule", serde_json::to_vec(&seal(&key, DocKind::Schedule, "d1", Some("c2"), 1, 1, sched)).unwrap(), false);
    hub.publish("mc/v1/d1/c1/schedule", serde_json::to_vec(&seal(&key, DocKind::Schedule, "d1", Some("c1"), 1, 1, sched)).unwrap(), true);
    wait_until(Duration::from_secs(10), "catalogue and schedule applied", || up.status().counters.downlink_applied == 3);
    assert_eq!(up.status().counters.downlink_rejected, 5);
    let store = Store::open(&db).unwrap();
    assert_eq!(store.course("k1").unwrap().map(|c| c.credit_minutes), Some(15));
    let classes = store.schedule_between(1_759_999_000_000, 1_760_100_000_000).unwrap();
    let seen: Vec<(&str, Option<&str>)> = classes.iter().map(|c| (c.entry.id.as_str(), c.trainer_name.as_deref())).collect();
    assert_eq!(seen, vec![("s1", Some("张三"))], "the signed schedule is in the table the screens read");
    finish(up);

    // After a restart the retained tampered roster arrives again and is rejected again.
    let up = start_with(cfg, &db, sink());
    wait_until(Duration::from_secs(10), "retained tampered roster rejected", || up.status().counters.downlink_rejected >= 1);
    assert!(up.status().last_rejected.unwrap_or_default().contains("signature"));
    assert_eq!(member_names(&db), vec!["张三"]);
    assert!(hub.wait_for_ids(&ids, Duration::from_secs(10)));

    // A retained document beyond every size limit breaks the connection once;
    // the device then pauses documents and keeps draining records.
    hub.publish("mc/v1/d1/catalog", vec![b'{'; 300 * 1024], true);
    wait_until(Duration::from_secs(10), "documents paused", || up.status().notices.iter().any(|n| n.text.contains("paused")));
    let more = fill(&db, 50, "after-oversize");
    up.nudge();
    assert!(hub.wait_for_ids(&more, Duration::from_secs(10)), "records stopped after an oversized document");
    let mut all = ids.clone();
    all.extend(more);
    hub.assert_complete(&stream_of(&db), &all);
    finish(up);
}

#[test]
fn malformed_commands_get_coded_errors_and_the_device_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::plain(&dir.path().join("broker"));
    let hub = Hub::connect(broker.port, None);
    let db = dir.path().join("k.db");
    let mut ids = fill(&db, 30, "cmd");
    let up = start(hub_config(&broker.url()), &db);
    assert!(hub.wait_for_ids(&ids, Duration::from_secs(10)));

    let cases: Vec<(Vec<u8>, Option<&str>, &str)> = vec![
        (b"{".to_vec(), None, "bad_request"),
        (vec![0xde, 0xad, 0xbe, 0xef], None, "bad_request"),
        (vec![b'x'; 70 * 1024], None, "too_large"),
        (br#"{"v":1,"cmd":"sync_now"}"#.to_vec(), None, "bad_request"),
        (br#"{"v":1,"id":"c-unknown","cmd":"self_destruct"}"#.to_vec(), Some("c-unknown"), "unknown_command"),
        (br#"{"v":1,"id":"c-args","cmd":"enrol_card","args":{"uid":"not-hex","member_id":"m"}}"#.to_vec(), Some("c-args"), "bad_args"),
        (br#"{"v":1,"id":"c-reboot","cmd":"reboot"}"#.to_vec(), Some("c-reboot"), "unsupported"),
        (br#"{"v":1,"id":"c-old","cmd":"sync_now","expires_ms":1}"#.to_vec(), Some("c-old"), "expired"),
        (br#"{"v":1,"id":"c-gone","cmd":"resend","args":{"from_seq":100000,"to_seq":100010}}"#.to_vec(), Some("c-gone"), "pruned"),
    ];
    for (payload, _, _) in &cases {
        hub.publish(DEV_CMD, payload.clone(), false);
    }
    assert!(hub.wait(Duration::from_secs(10), |s| s.acks.len() >= cases.len()), "not every command was answered");
    {
        let s = hub.state.lock().unwrap();
        for a in &s.acks {
            assert_valid("cmd-ack.json", a);
        }
        for (_, id, code) in &cases {
            let found = s.acks.iter().any(|a| a["ok"] == false && a["error"]["code"] == *code && a["id"].as_str() == *id);
            assert!(found, "no {code} ack for {id:?}: {:?}", s.acks);
        }
    }

    // The device still works: sync_now answers, a resend redelivers the same ids.
    let sync = br#"{"v":1,"id":"c-sync","cmd":"sync_now"}"#;
    assert_valid("command.json", &serde_json::from_slice(sync).unwrap());
    hub.publish(DEV_CMD, sync.to_vec(), false);
    let ack = hub.wait_ack("c-sync", Duration::from_secs(10));
    assert_eq!(ack["ok"], true, "{ack}");
    let before = hub.state.lock().unwrap().duplicates;
    hub.publish(DEV_CMD, br#"{"v":1,"id":"c-resend","cmd":"resend","args":{"from_seq":1,"to_seq":10}}"#.to_vec(), false);
    let ack = hub.wait_ack("c-resend", Duration::from_secs(10));
    assert_eq!(ack["result"], json!({"queued": 10, "missing": 0}), "{ack}");
    assert!(hub.wait(Duration::from_secs(10), |s| s.duplicates >= before + 10), "resent records did not arrive");
    // The same command id again: the same answer, not a second resend.
    hub.publish(DEV_CMD, br#"{"v":1,"id":"c-resend","cmd":"resend","args":{"from_seq":1,"to_seq":10}}"#.to_vec(), false);
    assert!(hub.wait(Duration::from_secs(5), |s| s.acks.iter().filter(|a| a["id"] == "c-resend").count() == 2));
    ids.extend(fill(&db, 40, "after"));
    up.nudge();
    assert!(hub.wait_for_ids(&ids, Duration::from_secs(10)));
    hub.assert_complete(&stream_of(&db), &ids);
    let dups = hub.state.lock().unwrap().duplicates;
    assert_eq!(dups, before + 10, "the repeated resend command ran twice");
    let st = up.status();
    assert!(st.connected);
    assert_eq!(st.counters.commands_failed, cases.len() as u64);
    finish(up);
    let _ = DEV_EVENTS;
}

#[test]
fn set_log_level_changes_the_filter_and_reboot_runs_after_its_ack_and_the_goodbye() {
    use microclass::logging::LogControl as _;
    use microclass::uplink::reboot::SimRebooter;
    let dir = tempfile::tempdir().unwrap();
    let broker = Broker::plain(&dir.path().join("broker"));
    let hub = Hub::connect(broker.port, None);
    let db = dir.path().join("k.db");
    let ids = fill(&db, 30, "ops");
    let (_subscriber, log) = microclass::logging::subscriber("info", std::io::sink, false);
    let rebooter = SimRebooter::default();
    let up = uplink::spawn(Uplink {
        config: hub_config(&broker.url()),
        db_path: db.clone(),
        clock: Arc::new(SystemClock::new()),
        documents: Box::new(MetaSink::new(outbox::open(&db).unwrap())),
        commands: Box::new(StandaloneCommands { log: Some(Arc::new(log.clone())) }),
        thermal_root: PathBuf::from("/sys/class/thermal"),
        rebooter: Some(Arc::new(rebooter.clone())),
    })
    .unwrap();
    assert!(hub.wait_for_ids(&ids, Duration::from_secs(10)));

    hub.publish(DEV_CMD, br#"{"v":1,"id":"c-log","cmd":"set_log_level","args":{"level":"microclass::uplink=debug,warn"}}"#.to_vec(), false);
    let ack = hub.wait_ack("c-log", Duration::from_secs(10));
    assert_eq!(ack["ok"], true, "{ack}");
    assert_valid("cmd-ack.json", &ack);
    assert_eq!(log.current(), ack["result"]["level"].as_str().unwrap());
    assert!(log.current().contains("microclass::uplink=debug"), "{}", log.current());

    hub.publish(DEV_CMD, br#"{"v":1,"id":"c-boot","cmd":"reboot","args":{"delay_s":0}}"#.to_vec(), false);
    let ack = hub.wait_ack("c-boot", Duration::from_secs(10));
    assert_eq!(ack["result"], json!({"reboot_in_s": 0}), "{ack}");
    assert_valid("cmd-ack.json", &ack);
    wait_until(Duration::from_secs(10), "the simulated reboot", || rebooter.requests() == 1);
    // The goodbye went out before the reboot: an offline status after the birth.
    assert!(hub.wait(Duration::from_secs(5), |s| s.statuses.iter().any(|(_, v, _)| v["state"] == "offline")), "no offline status before the reboot");
    assert_eq!(backlog(&db), 0, "acknowledged rows were not marked before the reboot");
    // The simulated board does not go down: the device comes back and keeps draining.
    wait_until(Duration::from_secs(10), "reconnect after the simulated reboot", || up.status().counters.connects >= 2);
    let mut all = ids.clone();
    all.extend(fill(&db, 10, "after-reboot"));
    up.nudge();
    assert!(hub.wait_for_ids(&all, Duration::from_secs(10)));
    hub.assert_complete(&stream_of(&db), &all);
    finish(up);
    assert_eq!(rebooter.requests(), 1, "one reboot command, one reboot");
}
