//! Builds the rumqttc connection options from `HubConfig`: broker address,
//! client id, keep-alive, Last Will, TLS with a pinned CA, client
//! certificate or username/password. Reads the key files; never connects.

use super::config::{ConfigError, HubConfig};
use super::topics::Topics;
use super::wire::{DeviceState, Status, PROTOCOL_VERSION};
use rumqttc::{LastWill, MqttOptions, QoS, TlsConfiguration, Transport};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("mqtts:// needs hub.ca_file: the broker's CA is pinned, system roots are not used")]
    NoCa,
    #[error("hub.client_cert_file and hub.client_key_file go together")]
    HalfClientCert,
    #[error("hub.password_file needs hub.username")]
    PasswordWithoutUser,
}

fn read(path: &Path) -> Result<Vec<u8>, ConnectError> {
    std::fs::read(path).map_err(|source| ConnectError::Read { path: path.to_path_buf(), source })
}

/// The `offline` status: the Last Will, and what a clean stop publishes.
pub fn offline_status(cfg: &HubConfig, boot_id: &str) -> Status {
    Status {
        v: PROTOCOL_VERSION,
        state: DeviceState::Offline,
        district: cfg.district.clone(),
        centre: cfg.centre.clone(),
        device: cfg.device.clone(),
        boot_id: boot_id.to_string(),
        birth: None,
    }
}

/// The largest packet read from the broker. Above `max_downlink_bytes` so an
/// oversized document or command is read and refused with a reason; a packet
/// above this limit breaks the connection (see `client`, documents pause).
pub fn incoming_packet_limit(cfg: &HubConfig) -> usize {
    cfg.max_downlink_bytes.saturating_mul(2).saturating_add(64 * 1024)
}

pub fn mqtt_options(cfg: &HubConfig, topics: &Topics, boot_id: &str) -> Result<MqttOptions, ConnectError> {
    cfg.validate()?;
    let broker = cfg.broker()?;
    let mut o = MqttOptions::new(cfg.effective_client_id(), broker.host, broker.port);
    o.set_keep_alive(Duration::from_secs(cfg.keep_alive_s.max(5)));
    o.set_clean_session(true);
    // Our window bounds batches; status, telemetry and acks need a few more slots.
    o.set_inflight((cfg.inflight + 8).min(u16::MAX as usize - 1) as u16);
    let incoming = incoming_packet_limit(cfg);
    let outgoing = cfg.batch_bytes.saturating_mul(2).max(1 << 20);
    o.set_max_packet_size(incoming, outgoing);
    let will = serde_json::to_vec(&offline_status(cfg, boot_id)).unwrap_or_default();
    o.set_last_will(LastWill::new(topics.status.clone(), will, QoS::AtLeastOnce, true));
    if broker.tls {
        let ca = read(cfg.ca_file.as_deref().ok_or(ConnectError::NoCa)?)?;
        let client_auth = match (&cfg.client_cert_file, &cfg.client_key_file) {
            (Some(c), Some(k)) => Some((read(c)?, read(k)?)),
            (None, None) => None,
            _ => return Err(ConnectError::HalfClientCert),
        };
        o.set_transport(Transport::Tls(TlsConfiguration::Simple { ca, alpn: None, client_auth }));
    }
    match (&cfg.username, &cfg.password_file) {
        (Some(u), Some(p)) => {
            let pw = String::from_utf8_lossy(&read(p)?).trim_end_matches(['\r', '\n']).to_string();
            o.set_credentials(u.clone(), pw);
        }
        (Some(u), None) => {
            o.set_credentials(u.clone(), "");
        }
        (None, Some(_)) => return Err(ConnectError::PasswordWithoutUser),
        (None, None) => {}
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(url: &str) -> HubConfig {
        HubConfig { url: url.into(), district: "d".into(), centre: "c".into(), device: "p".into(), ..Default::default() }
    }

    #[test]
    fn tls_without_a_pinned_ca_is_refused() {
        let c = cfg("mqtts://127.0.0.1:8883");
        let t = Topics::new("d", "c", "p");
        assert!(matches!(mqtt_options(&c, &t, "b"), Err(ConnectError::NoCa)));
    }

    #[test]
    fn plain_options_carry_the_client_id_and_an_offline_will() {
        let c = cfg("mqtt://127.0.0.1:1883");
        let t = Topics::new("d", "c", "p");
        let o = mqtt_options(&c, &t, "boot1").unwrap();
        assert_eq!(o.client_id(), "mc-d-c-p");
        let will = o.last_will().unwrap();
        assert_eq!(will.topic, "mc/v1/d/c/p/status");
        assert!(will.retain);
        let s: Status = serde_json::from_slice(&will.message).unwrap();
        assert_eq!(s.state, DeviceState::Offline);
    }

    #[test]
    fn half_a_client_certificate_is_a_config_error() {
        let d = tempfile::tempdir().unwrap();
        let ca = d.path().join("ca.pem");
        std::fs::write(&ca, "x").unwrap();
        let mut c = cfg("mqtts://127.0.0.1:8883");
        c.ca_file = Some(ca);
        c.client_cert_file = Some(d.path().join("c.pem"));
        let t = Topics::new("d", "c", "p");
        assert!(matches!(mqtt_options(&c, &t, "b"), Err(ConnectError::HalfClientCert)));
    }
}
