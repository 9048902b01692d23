//! TLS with a pinned CA, client certificates as identities, and the
//! per-device ACL from docs/mosquitto.md: a device publishes only under its own prefix.

use super::*;
use support::certs::Pki;

/// The ACL of docs/mosquitto.md (kept identical; the doc test below checks it).
pub const ACL: &str = "\
# The hub: everything under mc/v1.
user hub
topic readwrite mc/v1/#

# Every device (username = certificate CN = device id): its own prefix,
# its commands, and the district documents, read-only.
pattern write mc/v1/+/+/%u/status
pattern write mc/v1/+/+/%u/events
pattern write mc/v1/+/+/%u/telemetry
pattern write mc/v1/+/+/%u/cmd/ack
pattern read mc/v1/+/+/%u/cmd
pattern read mc/v1/+/roster
pattern read mc/v1/+/catalog
pattern read mc/v1/+/+/schedule
";

fn tls(pki: &Pki, identity: Option<&str>) -> Transport {
    let ca = std::fs::read(&pki.ca).unwrap();
    let client_auth = identity.map(|id| {
        let (c, k) = pki.client(id);
        (std::fs::read(c).unwrap(), std::fs::read(k).unwrap())
    });
    Transport::Tls(TlsConfiguration::Simple { ca, alpn: None, client_auth })
}

fn mtls_broker(dir: &Path, pki: &Pki) -> Broker {
    std::fs::write(dir.join("acl"), ACL).unwrap();
    let (ca, cert, key, acl) = (pki.ca.clone(), pki.server_cert.clone(), pki.server_key.clone(), dir.join("acl"));
    Broker::with_listener(&dir.join("broker"), move |port, _| {
        format!(
            "listener {port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\nuse_identity_as_username true\nallow_anonymous false\nacl_file {}\n",
            ca.display(), cert.display(), key.display(), acl.display()
        )
    })
}

#[test]
fn the_acl_in_the_docs_is_the_one_tested() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/mosquitto.md")).unwrap();
    assert!(doc.contains(ACL), "docs/mosquitto.md must contain the tested ACL verbatim");
}

#[test]
fn tls_with_client_certificates_and_the_acl_keep_devices_in_their_own_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(&dir.path().join("pki"), "microclass-test-ca");
    let broker = mtls_broker(dir.path(), &pki);
    let hub = Hub::connect(broker.port, Some(tls(&pki, Some("hub"))));

    let db = dir.path().join("k.db");
    let ids = fill(&db, 400, "tls");
    let (cert, key) = pki.client("pi-1");
    let cfg = HubConfig {
        url: format!("mqtts://localhost:{}", broker.port),
        ca_file: Some(pki.ca.clone()),
        client_cert_file: Some(cert),
        client_key_file: Some(key),
        ..hub_config("")
    };
    let up = start(cfg.clone(), &db);
    assert!(hub.wait_for_ids(&ids, Duration::from_secs(20)), "TLS drain did not finish: {:?}", up.status().last_error);
    hub.assert_complete(&stream_of(&db), &ids);

    // pi-1's certificate used to publish as pi-2 and to forge a roster: the broker drops both.
    let rogue = Hub::connect_as("pi-1", broker.port, Some(tls(&pki, Some("pi-1"))));
    let forged = json!({"v":1,"stream":"X","device":"pi-2","sent_ms":0,"records":[{"seq":1,"id":"forged","kind":"tap","created_ms":0,"payload":{}}]});
    rogue.publish("mc/v1/d1/c1/pi-2/events", forged.to_string().into_bytes(), false);
    rogue.publish("mc/v1/d1/roster", b"{}".to_vec(), true);
    rogue.publish("mc/v1/d1/c1/pi-1/telemetry", b"{\"marker\":1}".to_vec(), false);
    assert!(hub.wait(Duration::from_secs(10), |s| s.telemetry.iter().any(|t| t["marker"] == 1)), "own-prefix control message not seen");
    std::thread::sleep(Duration::from_millis(300));
    {
        let s = hub.state.lock().unwrap();
        assert!(!s.by_id.contains_key("forged"), "a device published under another device's prefix");
    }
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
    std::fs::write(dir.path().join("acl"), ACL).unwrap();
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
    let broker = Broker::with_listener(&dir.path().join("broker"), move |port, _| {
        format!("listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\nacl_file {}\n", pw.display(), acl.display())
    });
    let hub = Hub::connect_with("hub", broker.port, |o| {
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
