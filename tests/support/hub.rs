//! A hub-side test client that subscribes like a real hub: a persistent
//! session, QoS 1 on every device's `events`, `status`, `cmd/ack` and
//! `telemetry`. It deduplicates records by id, checks per-stream sequence
//! numbers for gaps, and flags any id that comes back with other content.

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, Transport};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub stream: String,
    pub seq: i64,
    pub kind: String,
    pub payload: Value,
}

#[derive(Debug, Default)]
pub struct HubState {
    pub by_id: HashMap<String, Seen>,
    pub seqs: HashMap<String, BTreeSet<i64>>,
    pub deliveries: u64,
    pub duplicates: u64,
    /// An id seen again with a different seq, stream or payload: never allowed.
    pub conflicts: Vec<String>,
    /// Messages on `events` that are not valid batches.
    pub malformed: Vec<String>,
    pub batches: Vec<String>,
    pub statuses: Vec<(String, Value, bool)>,
    pub acks: Vec<Value>,
    pub telemetry: Vec<Value>,
    pub other: Vec<(String, Vec<u8>)>,
    pub connects: u64,
}

pub struct Hub {
    pub client: AsyncClient,
    pub state: Arc<Mutex<HubState>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HubState {
    fn on_events(&mut self, topic: &str, payload: &[u8]) {
        let text = String::from_utf8_lossy(payload).to_string();
        let batch: Value = match serde_json::from_slice(payload) {
            Ok(v) => v,
            Err(e) => return self.malformed.push(format!("{topic}: {e}")),
        };
        let (Some(stream), Some(records)) = (batch["stream"].as_str(), batch["records"].as_array()) else {
            return self.malformed.push(format!("{topic}: no stream or records"));
        };
        if self.batches.len() < 50 {
            self.batches.push(text);
        }
        for r in records {
            let (Some(id), Some(seq), Some(kind)) = (r["id"].as_str(), r["seq"].as_i64(), r["kind"].as_str()) else {
                self.malformed.push(format!("{topic}: record without id/seq/kind"));
                continue;
            };
            self.deliveries += 1;
            let seen = Seen { stream: stream.to_string(), seq, kind: kind.to_string(), payload: r["payload"].clone() };
            match self.by_id.get(id) {
                Some(prev) if *prev == seen => self.duplicates += 1,
                Some(prev) => self.conflicts.push(format!("{id}: first {prev:?}, now {seen:?}")),
                None => {
                    self.seqs.entry(stream.to_string()).or_default().insert(seq);
                    self.by_id.insert(id.to_string(), seen);
                }
            }
        }
    }

    /// The seqs missing from 1..=max of a stream.
    pub fn gaps(&self, stream: &str) -> Vec<i64> {
        let Some(s) = self.seqs.get(stream) else { return vec![] };
        let max = s.iter().next_back().copied().unwrap_or(0);
        (1..=max).filter(|q| !s.contains(q)).collect()
    }
}

impl Hub {
    pub fn connect(port: u16, transport: Option<Transport>) -> Hub {
        Hub::connect_as("hub", port, transport)
    }

    pub fn connect_as(client_id: &str, port: u16, transport: Option<Transport>) -> Hub {
        Hub::connect_with(client_id, port, |o| {
            if let Some(t) = transport {
                o.set_transport(t);
            }
        })
    }

    /// Connects with options adjusted by `tweak` (credentials, TLS).
    pub fn connect_with(client_id: &str, port: u16, tweak: impl FnOnce(&mut MqttOptions)) -> Hub {
        let mut o = MqttOptions::new(client_id, "127.0.0.1", port);
        o.set_clean_session(false);
        o.set_keep_alive(Duration::from_secs(5));
        o.set_max_packet_size(32 << 20, 32 << 20);
        tweak(&mut o);
        let (client, mut el) = AsyncClient::new(o, 1000);
        let state = Arc::new(Mutex::new(HubState::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp, cl) = (state.clone(), stop.clone(), client.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                while !sp.load(Ordering::SeqCst) {
                    let ev = tokio::select! {
                        ev = el.poll() => ev,
                        _ = tokio::time::sleep(Duration::from_millis(100)) => continue,
                    };
                    match ev {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            lock(&st).connects += 1;
                            for t in ["mc/v1/+/+/+/events", "mc/v1/+/+/+/status", "mc/v1/+/+/+/cmd/ack", "mc/v1/+/+/+/telemetry"] {
                                let _ = cl.try_subscribe(t, QoS::AtLeastOnce);
                            }
                        }
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            let mut s = lock(&st);
                            let json = || serde_json::from_slice::<Value>(&p.payload).unwrap_or(Value::Null);
                            if p.topic.ends_with("/events") {
                                s.on_events(&p.topic, &p.payload);
                            } else if p.topic.ends_with("/status") {
                                let v = json();
                                s.statuses.push((p.topic.clone(), v, p.retain));
                            } else if p.topic.ends_with("/cmd/ack") {
                                let v = json();
                                s.acks.push(v);
                            } else if p.topic.ends_with("/telemetry") {
                                let v = json();
                                s.telemetry.push(v);
                            } else {
                                s.other.push((p.topic.clone(), p.payload.to_vec()));
                            }
                        }
                        Ok(_) => {}
                        Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            });
        });
        let hub = Hub { client, state, stop, thread: Some(thread) };
        assert!(hub.wait(Duration::from_secs(10), |s| s.connects > 0), "hub could not connect to port {port}");
        hub
    }

    /// Waits until `cond` holds on the hub's state; false on timeout.
    pub fn wait(&self, timeout: Duration, cond: impl Fn(&HubState) -> bool) -> bool {
        let end = Instant::now() + timeout;
        loop {
            if cond(&self.state.lock().unwrap()) {
                return true;
            }
            if Instant::now() > end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn wait_for_ids(&self, ids: &[String], timeout: Duration) -> bool {
        self.wait(timeout, |s| ids.iter().all(|i| s.by_id.contains_key(i)))
    }

    /// Every expected record at the hub, no record missing, no gap in the
    /// stream, every duplicate a redelivery of the same id with the same content.
    pub fn assert_complete(&self, stream: &str, expected: &[String]) {
        let s = self.state.lock().unwrap();
        let missing: Vec<_> = expected.iter().filter(|i| !s.by_id.contains_key(*i)).take(10).collect();
        assert!(missing.is_empty(), "records missing at the hub (first 10): {missing:?}");
        assert!(s.conflicts.is_empty(), "ids redelivered with other content: {:?}", &s.conflicts[..s.conflicts.len().min(5)]);
        assert!(s.malformed.is_empty(), "malformed batches: {:?}", s.malformed);
        let gaps = s.gaps(stream);
        assert!(gaps.is_empty(), "sequence gaps in stream {stream}: {:?}", &gaps[..gaps.len().min(10)]);
        let seqs = s.seqs.get(stream).map(|x| x.len()).unwrap_or(0);
        assert!(seqs >= expected.len(), "stream {stream} has {seqs} seqs for {} records", expected.len());
    }

    pub fn publish(&self, topic: &str, payload: Vec<u8>, retain: bool) {
        self.client.try_publish(topic, QoS::AtLeastOnce, retain, payload).expect("hub publish");
    }

    /// Acks received for a command id.
    pub fn ack_for(&self, id: &str) -> Option<Value> {
        self.state.lock().unwrap().acks.iter().find(|a| a["id"] == id).cloned()
    }

    pub fn wait_ack(&self, id: &str, timeout: Duration) -> Value {
        assert!(self.wait(timeout, |s| s.acks.iter().any(|a| a["id"] == id)), "no ack for command {id}");
        self.ack_for(id).unwrap()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The hub thread goes on after a test panicked while holding the state, so
/// the log shows that one failure and not a second, poisoned-lock panic.
fn lock(state: &Mutex<HubState>) -> std::sync::MutexGuard<'_, HubState> {
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
