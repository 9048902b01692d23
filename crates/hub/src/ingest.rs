//! What the hub does with each message of a district (protocol v1): events
//! batches into the store, status and telemetry into the fleet table,
//! command answers matched to the resends asked, and the periodic sweep
//! that turns sequence gaps into `resend` commands. No MQTT I/O here: the
//! caller hands in (topic, payload) and publishes what comes back.

use super::store::{Gap, HubStore, Origin, StoreError};
use microclass_protocol::topics::ROOT;
use microclass_protocol::wire::{Ack, Batch, CommandMsg, Status, Telemetry, PROTOCOL_VERSION};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The database failed: the message must not be acknowledged.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A message that can never be stored (logged, counted, acknowledged).
    #[error("bad message on {topic}: {reason}")]
    Bad { topic: String, reason: String },
}

/// Counters since the worker started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestStats {
    pub batches: u64,
    pub inserted: u64,
    pub duplicates: u64,
    pub status_updates: u64,
    pub telemetry: u64,
    pub bad_messages: u64,
    pub store_errors: u64,
    pub resends_requested: u64,
    pub gaps_closed: u64,
}

/// What a device topic carries, for the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Events,
    Status,
    Telemetry,
    CmdAck,
}

/// Splits `mc/v1/{district}/{centre}/{device}/{channel}`; None for other topics.
pub fn parse_topic(topic: &str) -> Option<(Origin, Channel)> {
    let rest = topic.strip_prefix(ROOT)?.strip_prefix('/')?;
    let mut parts = rest.splitn(4, '/');
    let (district, centre, device, tail) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let channel = match tail {
        "events" => Channel::Events,
        "status" => Channel::Status,
        "telemetry" => Channel::Telemetry,
        "cmd/ack" => Channel::CmdAck,
        _ => return None,
    };
    if [district, centre, device].iter().any(|p| p.is_empty()) {
        return None;
    }
    Some((Origin { district: district.into(), centre: centre.into(), device: device.into() }, channel))
}

/// The subscriptions of an ingest worker; events, telemetry and answers go
/// through the shared group when one is given, status never does (retained
/// messages are not delivered on shared subscriptions).
pub fn subscriptions(district: &str, share_group: Option<&str>) -> Vec<(String, bool)> {
    let share = share_group.map(|g| format!("$share/{g}/")).unwrap_or_default();
    vec![
        (format!("{share}{ROOT}/{district}/+/+/events"), true),
        (format!("{share}{ROOT}/{district}/+/+/telemetry"), false),
        (format!("{share}{ROOT}/{district}/+/+/cmd/ack"), true),
        (format!("{ROOT}/{district}/+/+/status"), true),
    ]
}

/// A command to publish (QoS 1, not retained).
#[derive(Debug, Clone, PartialEq)]
pub struct HubReply {
    pub topic: String,
    pub payload: Vec<u8>,
}

pub struct Ingest<S: HubStore + ?Sized> {
    pub district: String,
    pub stats: IngestStats,
    store: Box<S>,
}

impl<S: HubStore + ?Sized> Ingest<S> {
    pub fn new(district: &str, store: Box<S>) -> Self {
        Ingest { district: district.to_string(), stats: IngestStats::default(), store }
    }

    pub fn store(&mut self) -> &mut S {
        &mut self.store
    }

    fn bad(&mut self, topic: &str, reason: impl Into<String>) -> IngestError {
        self.stats.bad_messages += 1;
        IngestError::Bad { topic: topic.to_string(), reason: reason.into() }
    }

    /// Handles one message. `Err(Store)` means: do not acknowledge, try later.
    pub fn handle(&mut self, topic: &str, payload: &[u8], now_ms: i64) -> Result<(), IngestError> {
        let Some((origin, channel)) = parse_topic(topic) else {
            return Err(self.bad(topic, "not a device topic of protocol v1"));
        };
        if origin.district != self.district {
            return Err(self.bad(topic, format!("district {:?} is not {:?}", origin.district, self.district)));
        }
        let r = match channel {
            Channel::Events => {
                let batch: Batch = serde_json::from_slice(payload).map_err(|e| self.bad(topic, e.to_string()))?;
                if batch.v != PROTOCOL_VERSION {
                    return Err(self.bad(topic, format!("batch version {}", batch.v)));
                }
                if batch.device != origin.device {
                    return Err(self.bad(topic, format!("batch says device {:?}", batch.device)));
                }
                self.store_batch(&origin, &batch, now_ms)
            }
            Channel::Status => {
                if payload.is_empty() {
                    return Ok(()); // a cleared retained status
                }
                let s: Status = serde_json::from_slice(payload).map_err(|e| self.bad(topic, e.to_string()))?;
                self.stats.status_updates += 1;
                self.store.device_status(&origin, &s, now_ms)
            }
            Channel::Telemetry => {
                let t: Telemetry = serde_json::from_slice(payload).map_err(|e| self.bad(topic, e.to_string()))?;
                self.stats.telemetry += 1;
                self.store.device_seen(&origin, Some(t.backlog), now_ms)
            }
            Channel::CmdAck => {
                let a: Ack = serde_json::from_slice(payload).map_err(|e| self.bad(topic, e.to_string()))?;
                let Some(id) = a.id.as_deref() else { return Ok(()) };
                let code = a.error.as_ref().and_then(|e| serde_json::to_value(e.code).ok()).and_then(|v| v.as_str().map(str::to_string));
                let closed = self.store.command_answered(id, a.ok, code.as_deref(), now_ms);
                if let Ok(true) = closed {
                    self.stats.gaps_closed += 1;
                    tracing::warn!(device = %origin.device, command = id, "records pruned on the device before the hub got them: gap closed");
                }
                closed.map(|_| ())
            }
        };
        r.map_err(|e| {
            self.stats.store_errors += 1;
            IngestError::Store(e)
        })
    }

    fn store_batch(&mut self, origin: &Origin, batch: &Batch, now_ms: i64) -> Result<(), StoreError> {
        let stored = self.store.insert_batch(origin, &batch.stream, &batch.records, now_ms)?;
        self.stats.batches += 1;
        self.stats.inserted += stored.inserted as u64;
        self.stats.duplicates += stored.duplicates as u64;
        Ok(())
    }

    /// Claims open gaps and returns the `resend` commands to publish.
    pub fn sweep(&mut self, now_ms: i64, grace_ms: i64, retry_ms: i64) -> Result<Vec<HubReply>, StoreError> {
        let gaps = self.store.claim_gaps(now_ms, grace_ms, retry_ms)?;
        let mut out = Vec::with_capacity(gaps.len());
        for g in gaps {
            let (id, msg) = resend_command(&g, now_ms);
            self.store.record_command(&id, &g, now_ms)?;
            tracing::info!(device = %g.device, from = g.from_seq, to = g.to_seq, "asking for a resend");
            self.stats.resends_requested += 1;
            out.push(HubReply { topic: format!("{ROOT}/{}/{}/{}/cmd", self.district, g.centre, g.device), payload: msg });
        }
        Ok(out)
    }
}

/// How long a resend stays valid on the device.
pub const RESEND_TTL_MS: i64 = 3_600_000;

/// The `resend` command for a gap: (command id, payload).
pub fn resend_command(g: &Gap, now_ms: i64) -> (String, Vec<u8>) {
    let id = format!("resend-{}", ulid::Ulid::new());
    let msg = CommandMsg {
        v: PROTOCOL_VERSION,
        id: id.clone(),
        cmd: "resend".into(),
        args: serde_json::json!({ "from_seq": g.from_seq, "to_seq": g.to_seq }),
        expires_ms: Some(now_ms + RESEND_TTL_MS),
    };
    (id, serde_json::to_vec(&msg).unwrap_or_default())
}

#[cfg(test)]
#[path = "ingest_tests.rs"]
mod tests;
