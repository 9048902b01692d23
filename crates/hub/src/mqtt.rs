//! The hub's MQTT edge (MQTT 5 via rumqttc::v5, blocking client): the ingest
//! worker loop (manual acks after the store commits, shared subscriptions,
//! gap sweeps) and the retained publication of signed documents. Bad
//! messages are logged, counted and acknowledged; a failing store leaves the
//! message unacknowledged and is retried, never a panic.

use super::ingest::{subscriptions, Ingest, IngestError, IngestStats};
use super::store::HubStore;
use microclass_model::clock::Clock;
use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{Client, Event, MqttOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    #[error("broker url {0:?}: expected mqtt://host[:port] or mqtts://host[:port]")]
    Url(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("mqtt client: {0}")]
    Client(#[from] rumqttc::v5::ClientError),
    #[error("mqtt connection: {0}")]
    Connection(String),
    #[error("timed out waiting for the broker to acknowledge {0}")]
    Timeout(String),
}

/// `mqtt://host[:port]` or `mqtts://host[:port]` into (host, port, tls).
pub fn broker_tls(url: &str) -> Result<(String, u16, bool), MqttError> {
    let u = url.trim();
    let (rest, tls) = match (u.strip_prefix("mqtt://"), u.strip_prefix("mqtts://")) {
        (Some(r), _) => (r, false),
        (_, Some(r)) => (r, true),
        _ => return Err(MqttError::Url(url.into())),
    };
    let rest = rest.trim_end_matches('/');
    match rest.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => Ok((h.to_string(), p.parse().map_err(|_| MqttError::Url(url.into()))?, tls)),
        None if !rest.is_empty() => Ok((rest.to_string(), if tls { 8883 } else { 1883 }, tls)),
        _ => Err(MqttError::Url(url.into())),
    }
}

/// (host, port) of a broker URL.
pub fn broker(url: &str) -> Result<(String, u16), MqttError> {
    broker_tls(url).map(|(h, p, _)| (h, p))
}

/// Largest MQTT packet the hub accepts or sends (batches, signed documents).
pub const MAX_PACKET_BYTES: u32 = 16 << 20;

/// Connection settings shared by ingest and publish.
#[derive(Debug, Clone, Default)]
pub struct BrokerOptions {
    pub url: String,
    pub client_id: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// CA that signed the broker's certificate (pinned; needed for mqtts://).
    pub ca_file: Option<std::path::PathBuf>,
    /// Client certificate and key, when the broker authenticates clients by certificate.
    pub client_cert: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

impl BrokerOptions {
    fn mqtt(&self) -> Result<MqttOptions, MqttError> {
        let (host, port, tls) = broker_tls(&self.url)?;
        let mut o = MqttOptions::new(self.client_id.clone(), host, port);
        if tls {
            let read = |p: &std::path::Path| std::fs::read(p).map_err(|e| MqttError::Tls(format!("{}: {e}", p.display())));
            let ca = read(self.ca_file.as_deref().ok_or_else(|| MqttError::Tls("mqtts:// needs --ca-file (the broker's CA is pinned)".into()))?)?;
            let client_auth = match &self.client_cert {
                Some((c, k)) => Some((read(c)?, read(k)?)),
                None => None,
            };
            o.set_transport(rumqttc::Transport::Tls(rumqttc::TlsConfiguration::Simple { ca, alpn: None, client_auth }));
        }
        o.set_keep_alive(Duration::from_secs(30));
        // rumqttc's default limit (10 KiB) is below a device batch (256 KiB,
        // a single large record more): a lower limit would drop the connection.
        o.set_max_packet_size(Some(MAX_PACKET_BYTES));
        if let (Some(u), Some(p)) = (&self.username, &self.password) {
            o.set_credentials(u.clone(), p.clone());
        }
        Ok(o)
    }
}

/// Tuning of an ingest worker.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub broker: BrokerOptions,
    pub district: String,
    /// MQTT 5 shared subscription group; None = this worker takes everything.
    pub share_group: Option<String>,
    /// A gap must stay open this long before a resend is asked (batches of
    /// one device may arrive out of order across workers).
    pub gap_grace_ms: i64,
    /// Between two resends for the same stream.
    pub resend_retry_ms: i64,
    pub sweep_every: Duration,
    /// Broker session kept this long while the worker is away (messages queue).
    pub session_expiry_s: u32,
}

/// Runs an ingest worker until `stop` is set. Returns its counters.
pub fn run_ingest<S: HubStore + ?Sized>(opts: &IngestOptions, ingest: &mut Ingest<S>, clock: &dyn Clock, stop: &AtomicBool, progress: Option<&(dyn Fn(&IngestStats) + Sync)>) -> Result<IngestStats, MqttError> {
    let mut mo = opts.broker.mqtt()?;
    mo.set_manual_acks(true);
    mo.set_clean_start(false);
    mo.set_session_expiry_interval(Some(opts.session_expiry_s));
    let (client, mut conn) = Client::new(mo, 1000);
    let mut last_sweep = Instant::now();
    let mut failures = 0u32;
    while !stop.load(Ordering::SeqCst) {
        if last_sweep.elapsed() >= opts.sweep_every {
            last_sweep = Instant::now();
            match ingest.sweep(clock.now().wall_ms, opts.gap_grace_ms, opts.resend_retry_ms) {
                Ok(cmds) => {
                    for c in cmds {
                        if let Err(e) = client.try_publish(c.topic, QoS::AtLeastOnce, false, c.payload) {
                            tracing::warn!(error = %e, "resend command not queued");
                        }
                    }
                }
                Err(e) => tracing::error!(error = %e, "gap sweep failed"),
            }
        }
        let ev = match conn.recv_timeout(Duration::from_millis(200)) {
            Err(rumqttc::v5::RecvTimeoutError::Timeout) => continue,
            Err(rumqttc::v5::RecvTimeoutError::Disconnected) => return Err(MqttError::Connection("event loop closed".into())),
            Ok(Err(e)) => {
                failures += 1;
                tracing::warn!(error = %e, "broker connection lost; reconnecting");
                std::thread::sleep(Duration::from_millis((100 * u64::from(failures.min(50))).min(5000)));
                continue;
            }
            Ok(Ok(ev)) => ev,
        };
        match ev {
            Event::Incoming(Packet::ConnAck(ack)) => {
                failures = 0;
                tracing::info!(session_present = ack.session_present, "connected to the broker");
                for (topic, qos1) in subscriptions(&opts.district, opts.share_group.as_deref()) {
                    client.try_subscribe(topic, if qos1 { QoS::AtLeastOnce } else { QoS::AtMostOnce })?;
                }
            }
            Event::Incoming(Packet::Publish(p)) => {
                let topic = String::from_utf8_lossy(&p.topic).into_owned();
                let mut tries = 0;
                let acked = loop {
                    match ingest.handle(&topic, &p.payload, clock.now().wall_ms) {
                        Ok(()) => break true,
                        Err(IngestError::Bad { topic, reason }) => {
                            tracing::warn!(%topic, %reason, "message dropped");
                            break true;
                        }
                        Err(IngestError::Store(e)) => {
                            tries += 1;
                            tracing::error!(error = %e, tries, "store failed; retrying");
                            if tries >= 10 || stop.load(Ordering::SeqCst) {
                                // Left unacknowledged: the broker redelivers it on the next
                                // session, and the gap sweep asks the device otherwise.
                                break false;
                            }
                            std::thread::sleep(Duration::from_millis(200 * tries));
                        }
                    }
                };
                if acked && p.qos != QoS::AtMostOnce {
                    client.try_ack(&p)?;
                }
                if let Some(f) = progress {
                    f(&ingest.stats);
                }
            }
            _ => {}
        }
    }
    let _ = client.try_disconnect();
    // Let the disconnect go out.
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        match conn.recv_timeout(Duration::from_millis(100)) {
            Ok(Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect))) | Ok(Err(_)) | Err(rumqttc::v5::RecvTimeoutError::Disconnected) => break,
            _ => {}
        }
    }
    Ok(ingest.stats.clone())
}

/// Publishes `messages` (topic, payload) retained at QoS 1 and waits until
/// the broker acknowledged every one.
pub fn publish_retained(opts: &BrokerOptions, messages: &[(String, Vec<u8>)], timeout: Duration) -> Result<(), MqttError> {
    let mo = opts.mqtt()?;
    let (client, mut conn) = Client::new(mo, messages.len() + 10);
    let deadline = Instant::now() + timeout;
    let mut queued = false;
    let mut acked = 0;
    while acked < messages.len() {
        if Instant::now() > deadline {
            return Err(MqttError::Timeout(format!("{} of {} documents", messages.len() - acked, messages.len())));
        }
        match conn.recv_timeout(Duration::from_millis(200)) {
            Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) if !queued => {
                for (t, p) in messages {
                    client.try_publish(t.clone(), QoS::AtLeastOnce, true, p.clone())?;
                }
                queued = true;
            }
            Ok(Ok(Event::Incoming(Packet::PubAck(_)))) => acked += 1,
            Ok(Err(e)) => return Err(MqttError::Connection(e.to_string())),
            Err(rumqttc::v5::RecvTimeoutError::Disconnected) => return Err(MqttError::Connection("event loop closed".into())),
            _ => {}
        }
    }
    let _ = client.try_disconnect();
    let _ = conn.recv_timeout(Duration::from_millis(200));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_need_the_mqtt_scheme_and_default_to_1883() {
        assert_eq!(broker("mqtt://10.0.0.5").unwrap(), ("10.0.0.5".into(), 1883));
        assert_eq!(broker("mqtt://localhost:18830/").unwrap(), ("localhost".into(), 18830));
        assert!(broker("http://x").is_err());
        let o = BrokerOptions { url: "mqtts://h".into(), ..Default::default() };
        assert!(matches!(o.mqtt(), Err(MqttError::Tls(m)) if m.contains("--ca-file")));
        assert!(broker("mqtt://:1").is_err());
        assert!(broker("mqtt://h:port").is_err());
        assert_eq!(broker_tls("mqtts://hub.example").unwrap(), ("hub.example".into(), 8883, true));
    }
}
