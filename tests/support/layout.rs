//! The shipped broker layout (deploy/mosquitto/microclass.conf) started for
//! real: the config file as shipped, with only its ports, certificate paths,
//! ACL path and persistence (set by the harness) replaced, and the ACL made
//! by `microclass-hub broker-acl` from a device list.

use super::broker::{free_port, Broker};
use super::certs::Pki;
use rumqttc::{TlsConfiguration, Transport};
use std::path::{Path, PathBuf};

pub const SHIPPED_CONF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/mosquitto/microclass.conf");

pub struct Layout {
    pub broker: Broker,
    /// The hub listener (8884 in the shipped file); `broker.port` is the device listener.
    pub hub_port: u16,
    pub district: Pki,
    pub hub: Pki,
    pub acl: String,
}

/// The shipped config with the test's ports and paths.
fn adapt(shipped: &str, device_port: u16, hub_port: u16, certs: &Path, acl: &Path) -> String {
    shipped
        .lines()
        // The harness sets persistence and its location itself.
        .filter(|l| !["persistence", "autosave_interval", "max_queued_messages"].iter().any(|k| l.starts_with(k)))
        .map(|l| match l {
            "listener 8883" => format!("listener {device_port} 127.0.0.1"),
            "listener 8884 127.0.0.1" => format!("listener {hub_port} 127.0.0.1"),
            _ => l.replace("/etc/mosquitto/certs/", &format!("{}/", certs.display())).replace("/etc/mosquitto/microclass.acl", &acl.display().to_string()),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

impl Layout {
    /// `devices`: the device list (`district centre device` per line).
    pub fn start(dir: &Path, devices: &str) -> Layout {
        let district = Pki::new(&dir.join("district-pki"), "district-ca");
        let hub = Pki::new(&dir.join("hub-pki"), "hub-ca");
        let certs = dir.join("certs");
        std::fs::create_dir_all(&certs).unwrap();
        for (from, to) in [
            (&district.ca, "district-ca.pem"),
            (&district.server_cert, "broker.pem"),
            (&district.server_key, "broker.key"),
            (&hub.ca, "hub-ca.pem"),
            (&hub.server_cert, "broker-hub.pem"),
            (&hub.server_key, "broker-hub.key"),
        ] {
            std::fs::copy(from, certs.join(to)).unwrap();
        }
        let list = dir.join("devices.txt");
        std::fs::write(&list, devices).unwrap();
        let out = std::process::Command::new(std::path::Path::new(env!("CARGO_BIN_EXE_microclass")).with_file_name("microclass-hub")).args(["broker-acl", "--devices"]).arg(&list).output().unwrap();
        assert!(out.status.success(), "broker-acl: {}", String::from_utf8_lossy(&out.stderr));
        let acl = String::from_utf8(out.stdout).unwrap();
        let acl_path = dir.join("microclass.acl");
        std::fs::write(&acl_path, &acl).unwrap();
        let shipped = std::fs::read_to_string(SHIPPED_CONF).unwrap();
        let hub_port = free_port();
        let broker = Broker::with_listener(&dir.join("broker"), |port, _| adapt(&shipped, port, hub_port, &certs, &acl_path));
        Layout { broker, hub_port, district, hub, acl }
    }

    fn tls(pki: &Pki, identity: &str) -> Transport {
        let (c, k) = pki.client(identity);
        let client_auth = Some((std::fs::read(c).unwrap(), std::fs::read(k).unwrap()));
        Transport::Tls(TlsConfiguration::Simple { ca: std::fs::read(&pki.ca).unwrap(), alpn: None, client_auth })
    }

    /// TLS for a device certificate with CN `id`, issued by the district CA.
    pub fn device_tls(&self, id: &str) -> Transport {
        Layout::tls(&self.district, id)
    }

    /// A device's (cert, key) files.
    pub fn device_files(&self, id: &str) -> (PathBuf, PathBuf) {
        self.district.client(id)
    }

    /// TLS for the hub's certificate (CN `hub`), issued by the hub CA.
    pub fn hub_tls(&self) -> Transport {
        Layout::tls(&self.hub, "hub")
    }
}
