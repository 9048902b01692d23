//! The uplink's loop: one `select!` over stop, the connection's events, the
//! reconnect timer, nudges, the drain tick and telemetry. It owns the
//! connection and the outbox cursor; what to send is decided by the pure
//! drain state (`state`), the batches (`batches`), inbound messages
//! (`inbound`) and upkeep (`maintenance`), each an `impl Link` of its own.

use super::connect::{mqtt_options, offline_status};
use super::diskguard::DiskLevel;
use super::handle::Uplink;
use super::marker::Marker;
use super::session::{next_event, LinkError, Reconnect, Session};
use super::state::{ReconnectBackoff, DrainState, PubTag};
use super::{Notice, UplinkError, UplinkStatus};
use crate::store::drain;
use ed25519_dalek::VerifyingKey;
use microclass_protocol::command::RecentAcks;
use microclass_protocol::envelope::parse_public_key;
use microclass_protocol::topics::Topics;
use microclass_protocol::wire::{self, Birth, DeviceState, Status, PROTOCOL_VERSION};
use rumqttc::{ConnectionError, Event, Outgoing, Packet, QoS};
use rusqlite::Connection;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tracing::{info, warn};

/// How long documents stay unsubscribed after an oversized packet.
const DOCS_PAUSE_MS: i64 = 3_600_000;

/// The uplink's state between events.
pub(super) struct Link {
    pub(super) u: Uplink,
    pub(super) conn: Connection,
    pub(super) marker: Marker,
    pub(super) topics: Topics,
    pub(super) stream: String,
    pub(super) boot_id: String,
    pub(super) key: Option<VerifyingKey>,
    pub(super) state: DrainState,
    pub(super) recent: RecentAcks,
    pub(super) status: Arc<Mutex<UplinkStatus>>,
    pub(super) buf: String,
    pub(super) last_sample_ms: i64,
    pub(super) disk_level: DiskLevel,
    /// After a packet too large to read (a retained document beyond every
    /// limit would otherwise break every connection), documents are not
    /// subscribed until this time; records and commands keep flowing.
    pub(super) docs_paused_until_ms: i64,
    /// A `reboot` command was acknowledged: reboot at this time.
    pub(super) reboot_at: Option<tokio::time::Instant>,
}

fn is_oversize(e: &LinkError) -> bool {
    matches!(
        e,
        LinkError::Connection(ConnectionError::MqttState(rumqttc::StateError::Deserialization(rumqttc::mqttbytes::Error::PayloadSizeLimitExceeded(_))))
    )
}

pub(super) async fn run(u: Uplink, marker: Marker, mut stop: watch::Receiver<bool>, nudge: Arc<Notify>, sync: Arc<Notify>, status: Arc<Mutex<UplinkStatus>>) -> Result<(), UplinkError> {
    let conn = drain::open(&u.db_path)?;
    let stream = drain::stream_id(&conn)?;
    let key = match parse_public_key(&u.config.hub_public_key) {
        Ok(k) => Some(k),
        Err(e) => {
            warn!(error = %e, "no usable hub public key: every roster, catalogue and schedule will be rejected");
            None
        }
    };
    let topics = Topics::new(&u.config.district, &u.config.centre, &u.config.device);
    let mut backoff = ReconnectBackoff::new(u.config.reconnect_min_ms, u.config.reconnect_max_ms);
    let mut l = Link {
        state: DrainState::new(u.config.inflight),
        topics,
        stream,
        boot_id: super::sysinfo::boot_id(),
        key,
        recent: RecentAcks::default(),
        status,
        buf: String::with_capacity(u.config.batch_bytes + wire::BATCH_HEADER_MAX),
        last_sample_ms: 0,
        disk_level: DiskLevel::Ok,
        docs_paused_until_ms: 0,
        reboot_at: None,
        conn,
        marker,
        u,
    };
    l.maintain(false);
    let mut session: Option<Session> = None;
    let mut reconnect = Reconnect::now();
    let mut tick = tokio::time::interval(Duration::from_millis(l.u.config.drain_poll_ms.max(1)));
    let mut telemetry = tokio::time::interval(Duration::from_secs(l.u.config.telemetry_interval_s.max(1)));
    let reboot = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(reboot);
    let mut rebooting = false;
    loop {
        if let Some(at) = l.reboot_at.take() {
            reboot.as_mut().reset(at);
            rebooting = true;
        }
        let mut dropped = false;
        tokio::select! {
            _ = stop.changed() => break,
            _ = &mut reboot, if rebooting => {
                rebooting = false;
                // The ack was requested before the goodbye, so it leaves first;
                // the marks are on disk before the rebooter runs.
                if let Some(mut s) = session.take().filter(|s| s.up) {
                    l.goodbye(&mut s).await;
                }
                l.state.on_disconnect();
                l.marker.flush();
                l.reboot();
                // Normally the system is going down now; if not, come back online later.
                reconnect.after_ms(l.u.config.reconnect_max_ms);
            }
            _ = reconnect.fired(), if reconnect.armed() && session.is_none() => {
                match mqtt_options(&l.u.config, &l.topics, &l.boot_id) {
                    Ok(opts) => {
                        info!(broker = %l.u.config.url, "connecting to the hub");
                        session = Some(Session::start(opts, l.u.config.inflight + 64, l.u.config.connect_timeout_s));
                    }
                    Err(e) => {
                        warn!(error = %e, "cannot build the connection");
                        l.notice(format!("uplink configuration: {e}"));
                        reconnect.after_ms(l.u.config.reconnect_max_ms);
                    }
                }
            }
            ev = next_event(&mut session) => {
                let result = match (ev, session.as_mut()) {
                    (Ok(ev), Some(s)) => l.on_event(s, ev, &mut backoff),
                    (Ok(_), None) => Ok(()),
                    (Err(e), _) => {
                        if is_oversize(&e) {
                            l.docs_paused_until_ms = l.now_ms() + DOCS_PAUSE_MS;
                            l.notice(format!("a hub message exceeded every size limit ({e}); roster, catalogue and schedule paused for an hour"));
                        }
                        Err(e)
                    }
                };
                if let Err(e) = result {
                    let was_up = session.as_ref().is_some_and(|s| s.up);
                    session = None;
                    let delay = l.lost(&e, was_up, &mut backoff);
                    reconnect.after_ms(delay);
                }
            }
            _ = nudge.notified() => dropped = l.fill(&mut session),
            _ = sync.notified() => {
                if session.is_none() {
                    // Asked by a person: connect now instead of after the backoff.
                    backoff.reset();
                    reconnect.after_ms(0);
                } else {
                    dropped = l.fill(&mut session);
                }
            }
            _ = tick.tick() => dropped = l.fill(&mut session),
            _ = telemetry.tick() => {
                l.maintain(session.as_ref().is_some_and(|s| s.up));
                if let Some(s) = session.as_mut().filter(|s| s.up) {
                    l.publish_telemetry(s);
                }
            }
        }
        if dropped {
            reconnect.after_ms(backoff.next_delay_ms(rand::random::<f64>()));
        }
    }
    if let Some(mut s) = session.filter(|s| s.up) {
        l.goodbye(&mut s).await;
    }
    l.marker.finish();
    Ok(())
}

impl Link {
    pub(super) fn now_ms(&self) -> i64 {
        self.u.clock.now().wall_ms
    }

    pub(super) fn with_status(&self, f: impl FnOnce(&mut UplinkStatus)) {
        if let Ok(mut s) = self.status.lock() {
            f(&mut s);
        }
    }

    pub(super) fn notice(&self, text: String) {
        let at_ms = self.now_ms();
        self.with_status(|s| {
            if s.notices.len() >= 20 {
                s.notices.remove(0);
            }
            s.notices.push(Notice { at_ms, text });
        });
    }

    /// A connection ended or never came up: count and log it; returns the
    /// backoff delay before the next attempt.
    fn lost(&mut self, e: &LinkError, was_up: bool, backoff: &mut ReconnectBackoff) -> u64 {
        self.state.on_disconnect();
        let delay = backoff.next_delay_ms(rand::random::<f64>());
        let reason = e.to_string();
        self.with_status(|s| {
            s.connected = false;
            s.last_error = Some(reason.clone());
            if !was_up {
                s.counters.connect_failures += 1;
            }
        });
        if was_up {
            warn!(%reason, delay_ms = delay, "connection lost")
        } else {
            warn!(%reason, delay_ms = delay, "connect failed")
        }
        delay
    }

    fn on_event(&mut self, s: &mut Session, ev: Event, backoff: &mut ReconnectBackoff) -> Result<(), LinkError> {
        match ev {
            Event::Incoming(Packet::ConnAck(_)) => {
                s.up = true;
                backoff.reset();
                self.on_connected(s)?;
            }
            Event::Outgoing(Outgoing::Publish(pkid)) => {
                self.state.on_outgoing_publish(pkid);
                let n = self.state.unmatched();
                self.with_status(|st| st.protocol_errors = n);
            }
            Event::Incoming(Packet::PubAck(a)) => {
                if let Some(acked) = self.state.on_puback(a.pkid) {
                    let now = self.now_ms();
                    self.marker.sent(&acked.seqs, now);
                    self.with_status(|st| {
                        st.counters.batches_acked += 1;
                        st.last_sync_ms = Some(now);
                    });
                    self.fill_session(s)?;
                }
            }
            Event::Incoming(Packet::Publish(p)) => self.on_publish(s, &p.topic, &p.payload)?,
            _ => {}
        }
        Ok(())
    }

    /// CONNACK: the birth, the subscriptions, the unacknowledged batches again, then the drain.
    fn on_connected(&mut self, s: &mut Session) -> Result<(), LinkError> {
        let again = self.state.on_connect();
        let backlog = drain::backlog(&self.conn).map(|b| b.rows).unwrap_or(0);
        let now = self.u.clock.now();
        let birth = Status {
            v: PROTOCOL_VERSION,
            state: DeviceState::Online,
            district: self.u.config.district.clone(),
            centre: self.u.config.centre.clone(),
            device: self.u.config.device.clone(),
            boot_id: self.boot_id.clone(),
            birth: Some(Birth {
                version: env!("CARGO_PKG_VERSION").to_string(),
                stream: self.stream.clone(),
                backlog,
                last_seq: drain::last_seq(&self.conn).unwrap_or(0),
                at_ms: now.wall_ms,
                clock_synced: now.synced,
            }),
        };
        self.publish(s, &self.topics.status.clone(), QoS::AtLeastOnce, true, serde_json::to_vec(&birth).unwrap_or_default())?;
        let docs = self.now_ms() >= self.docs_paused_until_ms;
        if !docs {
            warn!("documents paused after an oversized message: subscribing to commands only");
        }
        let subs: Vec<_> = self
            .topics
            .subscriptions()
            .into_iter()
            .filter(|t| docs || *t == self.topics.cmd)
            .map(|t| rumqttc::SubscribeFilter::new(t.to_string(), QoS::AtLeastOnce))
            .collect();
        s.client.try_subscribe_many(subs)?;
        let resent = again.len() as u64;
        self.resend(s, again)?;
        self.with_status(|st| {
            st.connected = true;
            st.backlog = backlog;
            st.counters.connects += 1;
            st.counters.batches_resent += resent;
        });
        info!(backlog, resent, "connected to the hub");
        self.fill_session(s)
    }

    /// Hands one publish to the client and records what it was, so the
    /// `Outgoing::Publish` events (one per publish, QoS 0 included) line up.
    pub(super) fn publish_tagged(&mut self, s: &mut Session, topic: &str, qos: QoS, retain: bool, payload: Vec<u8>, tag: PubTag) -> Result<(), LinkError> {
        s.client.try_publish(topic, qos, retain, payload)?;
        self.state.requested(tag);
        Ok(())
    }

    pub(super) fn publish(&mut self, s: &mut Session, topic: &str, qos: QoS, retain: bool, payload: Vec<u8>) -> Result<(), LinkError> {
        self.publish_tagged(s, topic, qos, retain, payload, PubTag::Other)
    }

    /// A clean stop: `offline` replaces the retained birth, then disconnect.
    async fn goodbye(&mut self, s: &mut Session) {
        let off = offline_status(&self.u.config, &self.boot_id);
        let _ = self.publish(s, &self.topics.status.clone(), QoS::AtLeastOnce, true, serde_json::to_vec(&off).unwrap_or_default());
        let _ = s.client.try_disconnect();
        let deadline = tokio::time::sleep(Duration::from_secs(2));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => break,
                ev = s.next() => match ev {
                    Ok(Event::Incoming(Packet::PubAck(a))) => {
                        if let Some(acked) = self.state.on_puback(a.pkid) {
                            self.marker.sent(&acked.seqs, self.u.clock.now().wall_ms);
                        }
                    }
                    Ok(Event::Outgoing(Outgoing::Publish(p))) => self.state.on_outgoing_publish(p),
                    Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                    Ok(_) => {}
                },
            }
        }
        self.with_status(|st| st.connected = false);
    }
}
