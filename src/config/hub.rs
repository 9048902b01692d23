//! `HubConfig`: the `[hub]` section of the device configuration (broker, identity,
//! TLS, hub signing key, drain tuning). Plain data with serde defaults; it never
//! reads files or opens connections itself.

use serde::{Deserialize, Serialize};

/// Default of `hub.connect_timeout_s`: TCP connect, TLS handshake and
/// CONNACK together. Generous: a link of 1 s one-way delay needs about 6 s over TLS.
pub const CONNECT_TIMEOUT_S: u64 = 30;
use std::path::PathBuf;

/// How the device reaches the district hub. Every field has a default so an
/// empty `[hub]` section parses; an empty `url` keeps the uplink off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HubConfig {
    /// `mqtt://host:port` (plain TCP) or `mqtts://host:port` (TLS); empty = no uplink.
    pub url: String,
    /// MQTT client id; empty means `mc-{district}-{centre}-{device}`.
    pub client_id: String,
    /// Filled from `[device]` when empty.
    pub district: String,
    pub centre: String,
    pub device: String,
    /// PEM file of the CA that signed the broker certificate. Only this CA is
    /// trusted (pinning): the system roots are never consulted.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate and key for mutual TLS.
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
    pub username: Option<String>,
    /// A file holding the password (kept out of the config file itself).
    pub password_file: Option<PathBuf>,
    /// The hub's Ed25519 public key, 64 hex digits or standard base64.
    pub hub_public_key: String,
    /// Upper bound of one `events` message, in bytes of JSON.
    pub batch_bytes: usize,
    /// Upper bound of records in one `events` message.
    pub batch_records: usize,
    /// `events` messages published but not yet acknowledged.
    pub inflight: usize,
    pub keep_alive_s: u64,
    pub telemetry_interval_s: u64,
    /// While offline, one telemetry sample per this interval is queued as a
    /// low-value outbox row (0 disables).
    pub offline_sample_interval_s: u64,
    /// How long acknowledged rows stay in the outbox so the hub can ask for a resend.
    pub retention_days: u32,
    /// Free-space thresholds of the disk guard.
    pub disk_low_bytes: u64,
    pub disk_critical_bytes: u64,
    /// Largest downlink payload accepted (roster, catalogue, schedule, command).
    pub max_downlink_bytes: usize,
    pub reconnect_min_ms: u64,
    pub reconnect_max_ms: u64,
    /// TCP connect, TLS handshake and CONNACK together, in seconds: one
    /// deadline that nothing cancels; a failure is logged and backed off.
    pub connect_timeout_s: u64,
    /// How often the uplink looks at the outbox without being nudged (rows
    /// written by another process); the kiosk nudges it after every commit.
    pub drain_poll_ms: u64,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            url: String::new(),
            client_id: String::new(),
            district: String::new(),
            centre: String::new(),
            device: String::new(),
            ca_file: None,
            client_cert_file: None,
            client_key_file: None,
            username: None,
            password_file: None,
            hub_public_key: String::new(),
            // 500 tap records (~150 KiB) fit: the record bound decides, not the bytes.
            batch_bytes: 256 * 1024,
            batch_records: 500,
            inflight: 16,
            keep_alive_s: 30,
            telemetry_interval_s: 60,
            offline_sample_interval_s: 3600,
            retention_days: 30,
            disk_low_bytes: 512 * 1024 * 1024,
            disk_critical_bytes: 128 * 1024 * 1024,
            max_downlink_bytes: 16 * 1024 * 1024,
            reconnect_min_ms: 500,
            reconnect_max_ms: 60_000,
            connect_timeout_s: CONNECT_TIMEOUT_S,
            drain_poll_ms: 1000,
        }
    }
}

/// A broker address parsed from `url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddr {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("broker URL {0:?} must start with mqtt:// or mqtts://")]
    Scheme(String),
    #[error("broker URL {0:?} has a bad port")]
    Port(String),
    #[error("hub.{0} must not be empty")]
    Missing(&'static str),
    #[error("hub.{field} {value:?} may not contain '/', '+', '#' or spaces")]
    BadSegment { field: &'static str, value: String },
    #[error("hub.{0} must be greater than zero")]
    Zero(&'static str),
}

impl HubConfig {
    /// Reads the `[hub]` table of the device config (`url` plus the other
    /// keys above), taking district, centre and device from `[device]` when unset.
    pub fn from_settings(hub: &crate::config::HubSettings, device: &crate::config::DeviceConfig) -> Result<HubConfig, String> {
        let mut table = hub.rest.clone();
        table.insert("url".into(), toml::Value::String(hub.url.clone()));
        let mut c: HubConfig = table.try_into().map_err(|e: toml::de::Error| format!("[hub]: {}", e.message()))?;
        for (mine, theirs) in [(&mut c.district, &device.district), (&mut c.centre, &device.centre), (&mut c.device, &device.id)] {
            if mine.is_empty() {
                mine.clone_from(theirs);
            }
        }
        Ok(c)
    }

    pub fn enabled(&self) -> bool {
        !self.url.trim().is_empty()
    }

    pub fn broker(&self) -> Result<BrokerAddr, ConfigError> {
        let url = self.url.trim();
        let (tls, rest) = if let Some(r) = url.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("mqtt://") {
            (false, r)
        } else {
            return Err(ConfigError::Scheme(url.to_string()));
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| ConfigError::Port(url.to_string()))?),
            None => (rest, if tls { 8883 } else { 1883 }),
        };
        if host.is_empty() {
            return Err(ConfigError::Missing("url host"));
        }
        Ok(BrokerAddr { host: host.trim_matches(|c| c == '[' || c == ']').to_string(), port, tls })
    }

    pub fn effective_client_id(&self) -> String {
        if self.client_id.is_empty() {
            format!("mc-{}-{}-{}", self.district, self.centre, self.device)
        } else {
            self.client_id.clone()
        }
    }

    /// Checks what the uplink needs before it starts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.broker()?;
        for (field, value) in [("district", &self.district), ("centre", &self.centre), ("device", &self.device)] {
            if value.is_empty() {
                return Err(ConfigError::Missing(field));
            }
            if value.chars().any(|c| matches!(c, '/' | '+' | '#') || c.is_whitespace()) {
                return Err(ConfigError::BadSegment { field, value: value.clone() });
            }
        }
        for (field, v) in [("batch_bytes", self.batch_bytes), ("batch_records", self.batch_records), ("inflight", self.inflight), ("connect_timeout_s", self.connect_timeout_s as usize), ("drain_poll_ms", self.drain_poll_ms as usize)] {
            if v == 0 {
                return Err(ConfigError::Zero(field));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_hub_section_parses_to_the_defaults() {
        let c: HubConfig = toml::from_str("").unwrap();
        assert_eq!(c, HubConfig::default());
    }

    #[test]
    fn broker_urls_give_host_port_and_tls() {
        let mut c = HubConfig { url: "mqtts://hub.example:8884".into(), ..Default::default() };
        assert_eq!(c.broker().unwrap(), BrokerAddr { host: "hub.example".into(), port: 8884, tls: true });
        c.url = "mqtt://127.0.0.1".into();
        assert_eq!(c.broker().unwrap(), BrokerAddr { host: "127.0.0.1".into(), port: 1883, tls: false });
        c.url = "http://x".into();
        assert!(matches!(c.broker(), Err(ConfigError::Scheme(_))));
        c.url = "mqtt://x:99999".into();
        assert!(matches!(c.broker(), Err(ConfigError::Port(_))));
    }

    #[test]
    fn the_device_config_hub_table_fills_the_hub_config() {
        let cfg = crate::config::Config::parse(
            "[device]\ndistrict = \"d9\"\ncentre = \"c3\"\nid = \"pi-7\"\n[hub]\nurl = \"mqtt://10.0.0.1\"\ninflight = 4\n",
        )
        .unwrap();
        let h = HubConfig::from_settings(&cfg.hub, &cfg.device).unwrap();
        assert_eq!((h.district.as_str(), h.centre.as_str(), h.device.as_str(), h.inflight), ("d9", "c3", "pi-7", 4));
        assert!(h.enabled());
        // A bad key is refused when the file is read, with its line (config_hub.rs).
        let bad = crate::config::Config::parse("[device]\ncentre = \"c\"\nid = \"p\"\n[hub]\nurl = \"mqtt://x\"\nbatch_byte = 1\n").unwrap_err();
        assert!(bad.contains("line 6") && bad.contains("batch_byte"), "{bad}");
    }

    #[test]
    fn topic_segments_with_wildcards_are_refused() {
        let c = HubConfig { url: "mqtt://h".into(), district: "d1".into(), centre: "c/1".into(), device: "p1".into(), ..Default::default() };
        assert!(matches!(c.validate(), Err(ConfigError::BadSegment { field: "centre", .. })));
        let ok = HubConfig { url: "mqtt://h".into(), district: "d1".into(), centre: "c1".into(), device: "p1".into(), ..Default::default() };
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(ok.effective_client_id(), "mc-d1-c1-p1");
    }
}
