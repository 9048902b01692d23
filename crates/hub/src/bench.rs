//! `microclass bench hub`: replays N records (default 100,000) as protocol
//! `events` batches from several devices through a real broker and measures
//! (1) the broker alone: publish to a counting subscriber, no storage, the
//! baseline; (2) ingest into SQLite; (3) ingest into PostgreSQL when a
//! connection string is given. Rates are printed with their ratio to the
//! baseline of the same run. It never touches a device database.

use super::ingest::{Ingest, IngestStats};
use super::mqtt::{broker, run_ingest, BrokerOptions, IngestOptions};
use super::store::HubStore;
use microclass_model::clock::SystemClock;
use microclass_protocol::wire::OutRow;
use microclass_protocol::wire::encode_batch;
use rumqttc::v5::mqttbytes::v5::Packet;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{Client, Event, MqttOptions};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Mqtt(#[from] super::mqtt::MqttError),
    #[error(transparent)]
    Store(#[from] super::store::StoreError),
    #[error("mqtt client: {0}")]
    Client(#[from] rumqttc::v5::ClientError),
    #[error("{0}")]
    Stalled(String),
}

/// The replay: (topic, payload) per batch, and the record count.
pub struct Replay {
    pub district: String,
    pub messages: Vec<(String, Vec<u8>)>,
    pub records: u64,
}

/// `records` credit and tap records from `devices` devices in batches of `batch`.
pub fn replay(district: &str, records: u64, devices: u64, batch: u64) -> Replay {
    let run = ulid::Ulid::new().to_string();
    let mut messages = Vec::new();
    let per_device = records.div_ceil(devices.max(1));
    let mut made = 0;
    let mut buf = String::new();
    for d in 0..devices {
        let device = format!("bench-{d}");
        let topic = format!("mc/v1/{district}/centre-{}/{device}/events", d % 10);
        let mut seq = 0i64;
        while seq < per_device as i64 && made < records {
            let n = batch.min(records - made).min(per_device - seq as u64);
            let rows: Vec<OutRow> = (1..=n as i64)
                .map(|k| {
                    let seq = seq + k;
                    let id = format!("{run}-{d}-{seq}");
                    let (kind, payload) = if seq % 2 == 0 {
                        ("credit", format!(r#"{{"v":1,"type":"credit","id":"{id}","member":"m{}","source":"session","minutes":45,"year":2026,"in":0,"out":2700000,"mobile":false,"at":2700000,"clock_synced":true}}"#, seq % 500))
                    } else {
                        ("tap", format!(r#"{{"v":1,"type":"tap","id":"{id}","at":0,"clock_synced":true,"uid":"04A1B2C3","member":"m{}","outcome":"signed_in","mobile":false}}"#, seq % 500))
                    };
                    OutRow { seq, id, kind: kind.into(), payload, priority: 0, created_ms: seq }
                })
                .collect();
            seq += n as i64;
            made += rows.len() as u64;
            encode_batch(&mut buf, &run, &device, 0, &rows);
            messages.push((topic.clone(), buf.as_bytes().to_vec()));
        }
    }
    Replay { district: district.to_string(), messages, records: made }
}

fn publisher(opts: &BrokerOptions, id: &str) -> Result<(Client, rumqttc::v5::Connection), BenchError> {
    let (host, port) = broker(&opts.url)?;
    let mut o = MqttOptions::new(id, host, port);
    o.set_outgoing_inflight_upper_limit(100);
    o.set_max_packet_size(Some(1 << 24));
    Ok(Client::new(o, 200))
}

/// Publishes every message at QoS 1 (100 in flight) and waits for every PUBACK.
fn publish_all(opts: &BrokerOptions, msgs: &[(String, Vec<u8>)]) -> Result<Duration, BenchError> {
    let (client, mut conn) = publisher(opts, &format!("bench-pub-{}", ulid::Ulid::new()))?;
    let n = msgs.len();
    let msgs = msgs.to_vec();
    let started = Instant::now();
    let feeder = std::thread::spawn(move || {
        for (t, p) in msgs {
            if client.publish(t, QoS::AtLeastOnce, false, p).is_err() {
                return;
            }
        }
    });
    let mut acked = 0;
    while acked < n {
        match conn.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(Event::Incoming(Packet::PubAck(_)))) => acked += 1,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(BenchError::Stalled(format!("publisher: {e}"))),
            Err(_) => return Err(BenchError::Stalled(format!("publisher: {acked} of {n} acknowledged"))),
        }
    }
    let _ = feeder.join();
    Ok(started.elapsed())
}

/// Baseline: the broker delivering the replay to a subscriber that only counts.
pub fn broker_only(opts: &BrokerOptions, r: &Replay) -> Result<Duration, BenchError> {
    let (host, port) = broker(&opts.url)?;
    let mut o = MqttOptions::new(format!("bench-sub-{}", ulid::Ulid::new()), host, port);
    o.set_max_packet_size(Some(1 << 24));
    let (client, mut conn) = Client::new(o, 200);
    client.subscribe(format!("mc/v1/{}/+/+/events", r.district), QoS::AtLeastOnce)?;
    // Wait for the subscription before publishing.
    loop {
        match conn.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(Event::Incoming(Packet::SubAck(_)))) => break,
            Ok(Ok(_)) => {}
            other => return Err(BenchError::Stalled(format!("subscriber: {other:?}"))),
        }
    }
    let n = r.messages.len();
    let started = Instant::now();
    let counter = std::thread::spawn(move || {
        let mut got = 0;
        while got < n {
            match conn.recv_timeout(Duration::from_secs(10)) {
                Ok(Ok(Event::Incoming(Packet::Publish(_)))) => got += 1,
                Ok(Ok(_)) => {}
                _ => return got,
            }
        }
        got
    });
    publish_all(opts, &r.messages)?;
    let got = counter.join().map_err(|_| BenchError::Stalled("subscriber thread".into()))?;
    if got < n {
        return Err(BenchError::Stalled(format!("subscriber got {got} of {n}")));
    }
    Ok(started.elapsed())
}

/// The replay through a real ingest worker into `store`, until every record is stored.
pub fn through_ingest(opts: &BrokerOptions, r: &Replay, store: Box<dyn HubStore>) -> Result<Duration, BenchError> {
    let inserted = Arc::new(AtomicU64::new(0));
    let statuses = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let io = IngestOptions {
        broker: BrokerOptions { client_id: format!("bench-ingest-{}", ulid::Ulid::new()), ..opts.clone() },
        district: r.district.clone(),
        share_group: None,
        gap_grace_ms: 600_000,
        resend_retry_ms: 600_000,
        sweep_every: Duration::from_secs(3600),
        session_expiry_s: 0,
    };
    let (ins, st, stop2) = (inserted.clone(), statuses.clone(), stop.clone());
    let worker = std::thread::spawn(move || {
        let mut ingest = Ingest::new(&io.district, store);
        let progress = move |s: &IngestStats| {
            ins.store(s.inserted, Ordering::SeqCst);
            st.store(s.status_updates, Ordering::SeqCst);
        };
        run_ingest(&io, &mut ingest, &SystemClock::new(), &stop2, Some(&progress))
    });
    // A status message tells when the worker's subscriptions are in place.
    let status = format!(r#"{{"v":1,"state":"offline","district":"{0}","centre":"centre-0","device":"bench-ready","boot_id":"b"}}"#, r.district);
    let ready = Instant::now();
    while statuses.load(Ordering::SeqCst) == 0 {
        if ready.elapsed() > Duration::from_secs(20) {
            stop.store(true, Ordering::SeqCst);
            return Err(BenchError::Stalled("the ingest worker never subscribed".into()));
        }
        publish_all(opts, &[(format!("mc/v1/{}/centre-0/bench-ready/status", r.district), status.clone().into_bytes())])?;
        std::thread::sleep(Duration::from_millis(200));
    }
    let started = Instant::now();
    publish_all(opts, &r.messages)?;
    let mut last = (0, Instant::now());
    while inserted.load(Ordering::SeqCst) < r.records {
        let now = inserted.load(Ordering::SeqCst);
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(30) {
            stop.store(true, Ordering::SeqCst);
            return Err(BenchError::Stalled(format!("ingest stuck at {now} of {} records", r.records)));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let _ = worker.join();
    Ok(took)
}

pub fn rate(records: u64, d: Duration) -> f64 {
    records as f64 / d.as_secs_f64().max(1e-9)
}

/// A private mosquitto on a free loopback port, for a benchmark without a broker given.
struct OwnBroker(std::process::Child, std::path::PathBuf);

impl OwnBroker {
    fn start(dir: &std::path::Path) -> Result<(OwnBroker, String), BenchError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| BenchError::Stalled(e.to_string()))?.port();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n")).map_err(|e| BenchError::Stalled(e.to_string()))?;
        let child = std::process::Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| BenchError::Stalled(format!("starting mosquitto (install it or pass --broker): {e}")))?;
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if t.elapsed() > Duration::from_secs(10) {
                return Err(BenchError::Stalled("mosquitto did not start".into()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok((OwnBroker(child, conf), format!("mqtt://127.0.0.1:{port}")))
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_file(&self.1);
    }
}

pub struct BenchArgs {
    pub broker: Option<String>,
    pub postgres: Option<String>,
    pub dir: std::path::PathBuf,
    pub records: u64,
    pub devices: u64,
    pub batch: u64,
}

/// Runs the three measurements and returns the printed report.
pub fn run(a: &BenchArgs) -> Result<String, BenchError> {
    std::fs::create_dir_all(&a.dir).map_err(|e| BenchError::Stalled(e.to_string()))?;
    let (_own, url) = match &a.broker {
        Some(u) => (None, u.clone()),
        None => {
            let (b, u) = OwnBroker::start(&a.dir)?;
            (Some(b), u)
        }
    };
    let opts = BrokerOptions { url, ..Default::default() };
    let district = format!("bench{}", ulid::Ulid::new().to_string().to_ascii_lowercase());
    let r = replay(&district, a.records, a.devices, a.batch);
    let mut out = format!("replay: {} records in {} batches from {} devices, broker {}\n", r.records, r.messages.len(), a.devices, opts.url);
    let base = rate(r.records, broker_only(&opts, &r)?);
    out += &format!("broker alone (publish -> counting subscriber, no storage)  {base:>10.0} records/s  (baseline)\n");
    let db = a.dir.join(format!("{district}.db"));
    let sqlite = rate(r.records, through_ingest(&opts, &r, Box::new(super::store::SqliteHub::open(&db)?))?);
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
    }
    out += &format!("ingest into SQLite                                         {sqlite:>10.0} records/s  ratio {:.2}\n", sqlite / base);
    match &a.postgres {
        Some(conn) => {
            let pg = rate(r.records, through_ingest(&opts, &r, Box::new(super::pg::PgHub::connect(conn)?))?);
            out += &format!("ingest into PostgreSQL                                     {pg:>10.0} records/s  ratio {:.2}\n", pg / base);
        }
        None => out += "ingest into PostgreSQL: skipped (pass --postgres \"host=... dbname=...\", a scratch database)\n",
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use microclass_protocol::wire::Batch;

    #[test]
    fn the_replay_holds_every_record_once_in_per_device_sequences() {
        let r = replay("b", 1_005, 4, 100);
        assert_eq!(r.records, 1_005);
        let mut ids = std::collections::HashSet::new();
        let mut total = 0;
        for (topic, p) in &r.messages {
            let b: Batch = serde_json::from_slice(p).unwrap();
            assert!(topic.ends_with(&format!("/{}/events", b.device)));
            assert!(b.records.windows(2).all(|w| w[1].seq == w[0].seq + 1));
            total += b.records.len();
            ids.extend(b.records.into_iter().map(|r| r.id));
        }
        assert_eq!((total, ids.len()), (1_005, 1_005));
    }
}
