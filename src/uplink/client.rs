//! The uplink's I/O loop on its own thread and tokio runtime: connect with
//! backoff and jitter, publish the birth, drain the outbox through
//! `DrainState`, mark rows sent on PUBACK, apply downlink documents, answer
//! commands, publish telemetry and run the disk guard. Protocol decisions
//! live in `state`, `command`, `downlink`; this file only moves bytes.

use super::command::{self, Command, RecentAcks};
use super::config::HubConfig;
use super::connect::{mqtt_options, offline_status};
use super::diskguard::{self, DiskLevel};
use super::downlink::{self, DocumentSink};
use super::envelope::{parse_public_key, DocKind, Expect};
use super::marker::{Marker, Pending};
use super::outbox;
use super::reboot::Rebooter;
use super::state::{Backoff, DrainState, PubTag};
use super::topics::{Incoming, Topics};
use super::wire::{self, Birth, DeviceState, ErrorCode, Status, PROTOCOL_VERSION};
use super::{CommandSink, Notice, UplinkError, UplinkStatus};
use crate::clock::Clock;
use ed25519_dalek::VerifyingKey;
use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, Outgoing, Packet, QoS};
use rusqlite::Connection;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tracing::{debug, info, warn};

/// Everything the uplink needs to run.
pub struct Uplink {
    pub config: HubConfig,
    pub db_path: PathBuf,
    pub clock: Arc<dyn Clock>,
    pub documents: Box<dyn DocumentSink>,
    pub commands: Box<dyn CommandSink>,
    /// Where CPU temperatures are read (`/sys/class/thermal` on the Pi).
    pub thermal_root: PathBuf,
    /// Carries out the `reboot` command; `None` answers it `unsupported`.
    pub rebooter: Option<Arc<dyn Rebooter>>,
}

/// A running uplink. Dropping it without `stop` leaves the thread running.
pub struct UplinkHandle {
    thread: Option<std::thread::JoinHandle<Result<(), UplinkError>>>,
    stop: watch::Sender<bool>,
    nudge: Arc<Notify>,
    sync: Arc<Notify>,
    status: Arc<Mutex<UplinkStatus>>,
    marks_pending: Pending,
}

/// A cloneable view of a running uplink for the screen: its status, and a
/// "sync now" that skips the reconnect backoff and drains at once.
#[derive(Clone)]
pub struct UplinkMonitor {
    sync: Arc<Notify>,
    status: Arc<Mutex<UplinkStatus>>,
    marks_pending: Pending,
}

impl UplinkMonitor {
    /// As [`UplinkHandle::status`].
    pub fn status(&self) -> UplinkStatus {
        let mut s = self.status.lock().map(|s| s.clone()).unwrap_or_default();
        s.drained = s.drained && self.marks_pending.get() == 0;
        s
    }

    /// Connects now if disconnected (no backoff wait), then drains the
    /// outbox, as the hub's `sync_now` command does.
    pub fn sync_now(&self) {
        self.sync.notify_one();
    }
}

impl std::fmt::Debug for UplinkMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UplinkMonitor").finish_non_exhaustive()
    }
}

impl UplinkHandle {
    pub fn monitor(&self) -> UplinkMonitor {
        UplinkMonitor { sync: self.sync.clone(), status: self.status.clone(), marks_pending: self.marks_pending.clone() }
    }

    /// Tells the uplink new rows are in the outbox (it also polls every second).
    pub fn nudge(&self) {
        self.nudge.notify_one();
    }

    pub fn status(&self) -> UplinkStatus {
        let mut s = self.status.lock().map(|s| s.clone()).unwrap_or_default();
        // Drained means on disk too: every acknowledged row marked sent.
        s.drained = s.drained && self.marks_pending.get() == 0;
        s
    }

    /// Publishes `offline`, disconnects and joins the thread.
    pub fn stop(mut self) -> Result<(), UplinkError> {
        let _ = self.stop.send(true);
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(UplinkError::Thread("uplink thread panicked".into())),
            None => Ok(()),
        }
    }
}

/// Starts the uplink on its own thread.
pub fn spawn(uplink: Uplink) -> Result<UplinkHandle, UplinkError> {
    uplink.config.validate()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let nudge = Arc::new(Notify::new());
    let sync = Arc::new(Notify::new());
    let status = Arc::new(Mutex::new(UplinkStatus::default()));
    let marker = Marker::start(&uplink.db_path, status.clone())?;
    let marks_pending = marker.pending();
    let (n2, s2, sync2) = (nudge.clone(), status.clone(), sync.clone());
    let thread = std::thread::Builder::new()
        .name("uplink".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| UplinkError::Thread(e.to_string()))?;
            rt.block_on(run(uplink, marker, stop_rx, n2, sync2, s2))
        })
        .map_err(|e| UplinkError::Thread(e.to_string()))?;
    Ok(UplinkHandle { thread: Some(thread), stop: stop_tx, nudge, sync, status, marks_pending })
}

struct Session {
    client: AsyncClient,
    el: EventLoop,
    up: bool,
}

async fn poll(s: &mut Option<Session>) -> Result<Event, ConnectionError> {
    match s {
        Some(s) => s.el.poll().await,
        None => std::future::pending().await,
    }
}

struct Loop {
    u: Uplink,
    conn: Connection,
    marker: Marker,
    topics: Topics,
    stream: String,
    boot_id: String,
    key: Option<VerifyingKey>,
    state: DrainState,
    recent: RecentAcks,
    status: Arc<Mutex<UplinkStatus>>,
    buf: String,
    last_sample_ms: i64,
    disk_level: DiskLevel,
    /// After a packet too large to read (a retained document beyond every
    /// limit would otherwise break every connection), documents are not
    /// subscribed until this time; records and commands keep flowing.
    docs_paused_until_ms: i64,
    /// A `reboot` command was acknowledged: reboot at this time.
    reboot_at: Option<tokio::time::Instant>,
}

/// How long documents stay unsubscribed after an oversized packet.
const DOCS_PAUSE_MS: i64 = 3_600_000;

fn is_oversize(e: &ConnectionError) -> bool {
    matches!(e, ConnectionError::MqttState(rumqttc::StateError::Deserialization(rumqttc::mqttbytes::Error::PayloadSizeLimitExceeded(_))))
}

async fn run(u: Uplink, marker: Marker, mut stop: watch::Receiver<bool>, nudge: Arc<Notify>, sync: Arc<Notify>, status: Arc<Mutex<UplinkStatus>>) -> Result<(), UplinkError> {
    let conn = outbox::open(&u.db_path)?;
    let stream = outbox::stream_id(&conn)?;
    let key = match parse_public_key(&u.config.hub_public_key) {
        Ok(k) => Some(k),
        Err(e) => {
            warn!(error = %e, "no usable hub public key: every roster, catalogue and schedule will be rejected");
            None
        }
    };
    let topics = Topics::new(&u.config.district, &u.config.centre, &u.config.device);
    let mut backoff = Backoff::new(u.config.reconnect_min_ms, u.config.reconnect_max_ms);
    let mut l = Loop {
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
    let reconnect = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(reconnect);
    let mut reconnect_armed = true;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut telemetry = tokio::time::interval(Duration::from_secs(l.u.config.telemetry_interval_s.max(1)));
    let reboot = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(reboot);
    let mut rebooting = false;
    loop {
        if let Some(at) = l.reboot_at.take() {
            reboot.as_mut().reset(at);
            rebooting = true;
        }
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
                reconnect.as_mut().reset(tokio::time::Instant::now() + Duration::from_millis(l.u.config.reconnect_max_ms));
                reconnect_armed = true;
            }
            _ = &mut reconnect, if reconnect_armed && session.is_none() => {
                reconnect_armed = false;
                match mqtt_options(&l.u.config, &l.topics, &l.boot_id) {
                    Ok(opts) => {
                        let (client, mut el) = AsyncClient::new(opts, l.u.config.inflight + 64);
                        // Every write is a whole MQTT packet: Nagle would only hold
                        // back small ones (a sign-in's batch, a command ack) by up to 40 ms.
                        let mut net = rumqttc::NetworkOptions::new();
                        net.set_tcp_nodelay(true);
                        el.set_network_options(net);
                        session = Some(Session { client, el, up: false });
                    }
                    Err(e) => {
                        warn!(error = %e, "cannot build the connection");
                        l.notice(format!("uplink configuration: {e}"));
                        reconnect.as_mut().reset(tokio::time::Instant::now() + Duration::from_millis(l.u.config.reconnect_max_ms));
                        reconnect_armed = true;
                    }
                }
            }
            ev = poll(&mut session) => {
                let result = match (ev, session.as_mut()) {
                    (Ok(ev), Some(s)) => l.on_event(s, ev, &mut backoff),
                    (Err(e), _) => {
                        if is_oversize(&e) {
                            l.docs_paused_until_ms = l.now_ms() + DOCS_PAUSE_MS;
                            l.notice(format!("a hub message exceeded every size limit ({e}); roster, catalogue and schedule paused for an hour"));
                        }
                        Err(e.to_string())
                    }
                    (Ok(_), None) => Ok(()),
                };
                if let Err(reason) = result {
                    let was_up = session.as_ref().is_some_and(|s| s.up);
                    session = None;
                    l.state.on_disconnect();
                    let delay = backoff.next_delay_ms(rand::random::<f64>());
                    l.with_status(|s| {
                        s.connected = false;
                        s.last_error = Some(reason.clone());
                        if !was_up {
                            s.counters.connect_failures += 1;
                        }
                    });
                    if was_up { warn!(%reason, delay_ms = delay, "connection lost") } else { info!(%reason, delay_ms = delay, "connect failed") }
                    reconnect.as_mut().reset(tokio::time::Instant::now() + Duration::from_millis(delay));
                    reconnect_armed = true;
                }
            }
            _ = nudge.notified() => {
                if l.fill(&mut session) {
                    reconnect.as_mut().reset(tokio::time::Instant::now() + Duration::from_millis(backoff.next_delay_ms(rand::random::<f64>())));
                    reconnect_armed = true;
                }
            }
            _ = sync.notified() => {
                if session.is_none() {
                    // Asked by a person: connect now instead of after the backoff.
                    backoff.reset();
                    reconnect.as_mut().reset(tokio::time::Instant::now());
                    reconnect_armed = true;
                } else if l.fill(&mut session) {
                    reconnect.as_mut().reset(tokio::time::Instant::now() + Duration::from_millis(backoff.next_delay_ms(rand::random::<f64>())));
                    reconnect_armed = true;
                }
            }
            _ = tick.tick() => {
                if l.fill(&mut session) {
                    reconnect.as_mut().reset(tokio::time::Instant::now() + Duration::from_millis(backoff.next_delay_ms(rand::random::<f64>())));
                    reconnect_armed = true;
                }
            }
            _ = telemetry.tick() => {
                l.maintain(session.as_ref().is_some_and(|s| s.up));
                if let Some(s) = session.as_mut().filter(|s| s.up) {
                    l.publish_telemetry(s);
                }
            }
        }
    }
    if let Some(mut s) = session.filter(|s| s.up) {
        l.goodbye(&mut s).await;
    }
    l.marker.finish();
    Ok(())
}

impl Loop {
    fn now_ms(&self) -> i64 {
        self.u.clock.now().wall_ms
    }

    fn with_status(&self, f: impl FnOnce(&mut UplinkStatus)) {
        if let Ok(mut s) = self.status.lock() {
            f(&mut s);
        }
    }

    fn notice(&self, text: String) {
        let at_ms = self.now_ms();
        self.with_status(|s| {
            if s.notices.len() >= 20 {
                s.notices.remove(0);
            }
            s.notices.push(Notice { at_ms, text });
        });
    }

    fn on_event(&mut self, s: &mut Session, ev: Event, backoff: &mut Backoff) -> Result<(), String> {
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

    fn on_connected(&mut self, s: &mut Session) -> Result<(), String> {
        let again = self.state.on_connect();
        let backlog = outbox::backlog(&self.conn).map(|b| b.rows).unwrap_or(0);
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
                last_seq: outbox::last_seq(&self.conn).unwrap_or(0),
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
        s.client.try_subscribe_many(subs).map_err(|e| e.to_string())?;
        let resent = again.len() as u64;
        for (no, seqs) in again {
            let now = self.now_ms();
            let mut w = wire::BatchWriter::begin(&mut self.buf, &self.stream, &self.u.config.device, now);
            let read = outbox::write_batch_of(&self.conn, &seqs, &mut w);
            w.finish();
            let written = read.map_err(|e| format!("reading batch {no} again: {e}"))?;
            if written.len() != seqs.len() {
                warn!(batch = no, expected = seqs.len(), found = written.len(), "rows of an unacknowledged batch are gone from the outbox");
            }
            let bytes = self.take_batch();
            self.publish_tagged(s, &self.topics.events.clone(), QoS::AtLeastOnce, false, bytes, PubTag::Batch(no))?;
        }
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
    fn publish_tagged(&mut self, s: &mut Session, topic: &str, qos: QoS, retain: bool, payload: Vec<u8>, tag: PubTag) -> Result<(), String> {
        s.client.try_publish(topic, qos, retain, payload).map_err(|e| format!("publish request: {e}"))?;
        self.state.requested(tag);
        Ok(())
    }

    fn publish(&mut self, s: &mut Session, topic: &str, qos: QoS, retain: bool, payload: Vec<u8>) -> Result<(), String> {
        self.publish_tagged(s, topic, qos, retain, payload, PubTag::Other)
    }

    /// Tops up the window; true when the session had to be dropped (the
    /// caller then schedules a reconnect).
    fn fill(&mut self, session: &mut Option<Session>) -> bool {
        if let Some(s) = session.as_mut().filter(|s| s.up) {
            if let Err(e) = self.fill_session(s) {
                warn!(error = %e, "drain stalled; reconnecting");
                *session = None;
                self.state.on_disconnect();
                self.with_status(|st| {
                    st.connected = false;
                    st.last_error = Some(e);
                });
                return true;
            }
        }
        false
    }

    /// Hands the encoded batch over without copying it. Every batch buffer
    /// has the same capacity, so the allocator reuses freed ones exactly and
    /// memory stays at one buffer per batch in flight, whatever the backlog.
    fn take_batch(&mut self) -> Vec<u8> {
        let cap = self.u.config.batch_bytes + wire::BATCH_HEADER_MAX;
        std::mem::replace(&mut self.buf, String::with_capacity(cap)).into_bytes()
    }

    /// Reads and publishes batches while the window has room.
    fn fill_session(&mut self, s: &mut Session) -> Result<(), String> {
        while self.state.has_room() {
            let now = self.now_ms();
            let mut w = wire::BatchWriter::begin(&mut self.buf, &self.stream, &self.u.config.device, now);
            let read = outbox::write_next_batch(&self.conn, self.state.cursor(), self.u.config.batch_bytes, self.u.config.batch_records, &mut w);
            w.finish();
            let seqs = match read {
                Ok(seqs) => seqs,
                Err(e) => {
                    warn!(error = %e, "reading the outbox failed; will retry");
                    return Ok(());
                }
            };
            if seqs.is_empty() {
                let idle = self.state.in_flight() == 0;
                self.with_status(|st| st.drained = idle);
                return Ok(());
            }
            let rows = seqs.len();
            let no = self.state.add_batch(seqs);
            let bytes = self.take_batch();
            self.publish_tagged(s, &self.topics.events.clone(), QoS::AtLeastOnce, false, bytes, PubTag::Batch(no))?;
            self.with_status(|st| st.drained = false);
            debug!(batch = no, rows, "batch published");
        }
        Ok(())
    }

    fn on_publish(&mut self, s: &mut Session, topic: &str, payload: &[u8]) -> Result<(), String> {
        let kind = match self.topics.classify(topic) {
            Incoming::Roster => DocKind::Roster,
            Incoming::Catalog => DocKind::Catalog,
            Incoming::Schedule => DocKind::Schedule,
            Incoming::Command => return self.on_command(s, payload),
            Incoming::Other => {
                warn!(topic, "message on an unexpected topic ignored");
                return Ok(());
            }
        };
        if payload.is_empty() {
            info!(kind = kind.as_str(), "retained document cleared by the hub; keeping the applied one");
            return Ok(());
        }
        let Some(key) = self.key else {
            self.reject(kind, "no hub public key configured".into());
            return Ok(());
        };
        let expect = Expect {
            kind,
            district: &self.u.config.district,
            centre: (kind == DocKind::Schedule).then_some(self.u.config.centre.as_str()),
            key: &key,
            max_bytes: self.u.config.max_downlink_bytes,
        };
        match downlink::handle(payload, &expect, self.u.documents.as_mut()) {
            Ok(a) => {
                info!(kind = kind.as_str(), version = a.version, items = a.items, "downlink document applied");
                self.with_status(|st| st.counters.downlink_applied += 1);
                self.notice(format!("{} v{} applied ({} items)", kind.as_str(), a.version, a.items));
            }
            Err(downlink::Rejected::NotNewer { current, offered }) if current == offered => {
                debug!(kind = kind.as_str(), version = offered, "document already applied");
            }
            Err(e) => self.reject(kind, e.to_string()),
        }
        Ok(())
    }

    fn reject(&self, kind: DocKind, reason: String) {
        warn!(kind = kind.as_str(), %reason, "downlink document rejected");
        self.with_status(|st| {
            st.counters.downlink_rejected += 1;
            st.last_rejected = Some(format!("{}: {reason}", kind.as_str()));
        });
    }

    fn on_command(&mut self, s: &mut Session, payload: &[u8]) -> Result<(), String> {
        let now = self.now_ms();
        let max = self.u.config.max_downlink_bytes.min(64 * 1024);
        let mut sync = false;
        let mut reboot_in_s = None;
        let mut recent = std::mem::take(&mut self.recent);
        let ack = command::respond(payload, max, now, &mut recent, |cmd| match cmd {
            Command::SyncNow => {
                sync = true;
                let b = outbox::backlog(&self.conn).map_err(|e| (ErrorCode::Failed, e.to_string()))?;
                Ok(serde_json::json!({ "backlog": b.rows, "oldest_unsent_ms": b.oldest_created_ms }))
            }
            Command::Resend { from_seq, to_seq } => {
                let r = self.marker.requeue(*from_seq, *to_seq).map_err(|e| (ErrorCode::BadArgs, e))?;
                if r.queued == 0 {
                    return Err((ErrorCode::Pruned, format!("no rows of {from_seq}..={to_seq} are still on the device")));
                }
                self.state.rewind(from_seq - 1);
                sync = true;
                Ok(serde_json::json!({ "queued": r.queued, "missing": r.missing }))
            }
            Command::Reboot { delay_s } => {
                if self.u.rebooter.is_none() {
                    return Err((ErrorCode::Unsupported, "this device cannot reboot itself".into()));
                }
                reboot_in_s = Some(*delay_s);
                Ok(serde_json::json!({ "reboot_in_s": delay_s }))
            }
            other => self.u.commands.execute(other),
        });
        self.recent = recent;
        self.with_status(|st| if ack.ok { st.counters.commands_ok += 1 } else { st.counters.commands_failed += 1 });
        if !ack.ok {
            warn!(id = ?ack.id, error = ?ack.error, "command refused");
        }
        self.publish(s, &self.topics.cmd_ack.clone(), QoS::AtLeastOnce, false, serde_json::to_vec(&ack).unwrap_or_default())?;
        if let Some(d) = reboot_in_s {
            // The loop stops at this time; the ack is already queued ahead of the goodbye.
            let at = tokio::time::Instant::now() + Duration::from_secs(u64::from(d));
            self.reboot_at = Some(self.reboot_at.map_or(at, |t| t.min(at)));
            info!(delay_s = d, "reboot scheduled by the hub");
            self.notice(format!("reboot in {d} s (hub command)"));
        }
        if sync {
            self.fill_session(s)?;
        }
        Ok(())
    }

    fn publish_telemetry(&mut self, s: &mut Session) {
        let t = self.telemetry();
        if let Err(e) = self.publish(s, &self.topics.telemetry.clone(), QoS::AtMostOnce, false, serde_json::to_vec(&t).unwrap_or_default()) {
            debug!(error = %e, "telemetry not sent");
        }
    }

    fn telemetry(&self) -> wire::Telemetry {
        let now = self.u.clock.now();
        let dir = self.u.db_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        let disk = diskguard::disk_space(dir);
        let (mem_total, mem_avail) = super::sysinfo::memory();
        let b = outbox::backlog(&self.conn).unwrap_or_default();
        let st = self.status.lock().map(|s| s.clone()).unwrap_or_default();
        wire::Telemetry {
            v: PROTOCOL_VERSION,
            device: self.u.config.device.clone(),
            at_ms: now.wall_ms,
            clock_synced: now.synced,
            cpu_temp_c: super::sysinfo::cpu_temp_c(&self.u.thermal_root),
            disk_free_bytes: disk.map(|d| d.0),
            disk_total_bytes: disk.map(|d| d.1),
            disk_level: self.disk_level,
            mem_total_bytes: mem_total,
            mem_available_bytes: mem_avail,
            rss_bytes: super::sysinfo::rss_bytes(),
            backlog: b.rows,
            oldest_unsent_ms: b.oldest_created_ms,
            last_sync_ms: st.last_sync_ms,
            cache: super::cache_state(&self.conn).unwrap_or_default(),
            counters: {
                let r = crate::hw::counters::latest();
                wire::Counters { reader_reads: r.reads, reader_glitches: r.glitches, reader_rejects: r.rejects, reader_faults: r.faults, ..st.counters }
            },
        }
    }

    /// The disk guard, retention pruning and (offline) low-value samples.
    fn maintain(&mut self, online: bool) {
        let dir = self.u.db_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new(".")).to_path_buf();
        let c = &self.u.config;
        let level = diskguard::disk_space(&dir).map_or(DiskLevel::Ok, |(free, _)| diskguard::assess(free, c.disk_low_bytes, c.disk_critical_bytes));
        self.apply_disk_level(level, online);
    }

    fn apply_disk_level(&mut self, level: DiskLevel, online: bool) {
        let policy = diskguard::policy(level, self.u.config.retention_days);
        if level != self.disk_level {
            let text = match level {
                DiskLevel::Ok => "disk space recovered".to_string(),
                DiskLevel::Low => "disk space low: telemetry samples stopped, old sent records pruned".to_string(),
                DiskLevel::Critical => "disk space critical: all sent records pruned; sign-ins are kept but free space now".to_string(),
            };
            if level > self.disk_level { warn!(?level, "{text}") } else { info!(?level, "{text}") }
            self.notice(text);
            self.disk_level = level;
            self.with_status(|s| s.disk_level = level);
        }
        let now = self.now_ms();
        match diskguard::enforce(&self.conn, policy, now) {
            Ok(done) if done.low_value_dropped > 0 => self.with_status(|s| s.counters.low_value_dropped += done.low_value_dropped as u64),
            Ok(_) => {}
            Err(e) => warn!(error = %e, "disk guard could not shrink the outbox"),
        }
        let every = i64::try_from(self.u.config.offline_sample_interval_s).unwrap_or(i64::MAX / 2).saturating_mul(1000);
        if !online && policy.queue_low_value && every > 0 && now - self.last_sample_ms >= every {
            self.last_sample_ms = now;
            let t = self.telemetry();
            let payload = serde_json::to_string(&t).unwrap_or_else(|_| "{}".into());
            if let Err(e) = outbox::enqueue(&self.conn, &ulid::Ulid::new().to_string(), "telemetry", &payload, -1, now) {
                warn!(error = %e, "queueing a telemetry sample failed");
            }
        }
    }

    fn reboot(&self) {
        let Some(r) = &self.u.rebooter else { return };
        warn!("rebooting on the hub's command");
        match r.reboot() {
            Ok(()) => self.notice("reboot requested by the hub".into()),
            Err(e) => {
                warn!(error = %e, "reboot failed; reconnecting");
                self.notice(format!("reboot failed: {e}"));
            }
        }
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
                ev = s.el.poll() => match ev {
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

/// Executes the commands that need no kiosk: `set_log_level` through `log`
/// (refused as `unsupported` without one); the kiosk-only ones are refused.
pub struct StandaloneCommands {
    pub log: Option<Arc<dyn crate::logging::LogControl>>,
}

impl CommandSink for StandaloneCommands {
    fn execute(&mut self, cmd: &Command) -> Result<serde_json::Value, command::CmdError> {
        match (cmd, &self.log) {
            (Command::SetLogLevel { filter }, Some(log)) => {
                let now = log.set_filter(filter).map_err(|e| (ErrorCode::Failed, e))?;
                info!(filter = %now, "log filter changed by the hub");
                Ok(serde_json::json!({ "level": now }))
            }
            (Command::SetLogLevel { .. }, None) => Err((ErrorCode::Unsupported, "this process cannot change its log filter".into())),
            _ => Err((ErrorCode::Unsupported, format!("{} needs the kiosk; this device runs the uplink alone", cmd.name()))),
        }
    }
}
