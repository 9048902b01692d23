//! Uplink benchmark: against one local mosquitto started here, drain a
//! backlog of 10,000 then 100,000 attendance-like records through the real
//! uplink (QoS 1, batches) and report events/s and peak RSS (VmHWM) after
//! each; then publish the same 100,000 payloads one per message at QoS 1
//! with `mosquitto_pub -l` as the baseline, and print the ratio.

use crate::clock::SystemClock;
use crate::core::payload::{self, TapFacts};
use crate::core::TapOutcome;
use crate::model::CardUid;
use crate::store::Store;
use crate::uplink::{self, sysinfo, HubConfig, MetaSink, StandaloneCommands, Uplink};
use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Uplink(#[from] uplink::UplinkError),
    #[error("{0}")]
    Failed(String),
}

/// One drain measured.
#[derive(Debug, Clone, Copy)]
pub struct Drain {
    pub records: usize,
    pub seconds: f64,
    pub peak_rss_bytes: u64,
}

impl Drain {
    pub fn per_second(&self) -> f64 {
        self.records as f64 / self.seconds
    }
}

pub struct UplinkBench {
    pub small: Drain,
    pub large: Drain,
    pub baseline_records: usize,
    pub baseline_seconds: f64,
    pub batch_records: usize,
    pub inflight: usize,
}

struct Mosquitto(Child);

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_mosquitto(dir: &Path) -> Result<(Mosquitto, u16), BenchError> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let conf = dir.join("mosquitto.conf");
    // SAFETY: geteuid has no preconditions.
    let user = if unsafe { libc::geteuid() } == 0 { "user root\n" } else { "" };
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 0\n{user}"))?;
    let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"].into_iter().find(|p| Path::new(p).exists()).ok_or_else(|| BenchError::Failed("mosquitto is not installed (.ci/install-deps)".into()))?;
    let child = Mosquitto(Command::new(bin).arg("-c").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn()?);
    let end = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > end {
            return Err(BenchError::Failed("mosquitto did not start".into()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok((child, port))
}

/// The i-th attendance-like record payload (a real `tap` payload from the core).
pub fn record(i: usize) -> crate::core::Outgoing {
    let uid = CardUid::from_bytes(&(0x0400_0000u32 + i as u32).to_be_bytes());
    let id = ulid::Ulid::from_parts(1_780_000_000_000 + i as u64, i as u128).to_string();
    let member = format!("m{:06}", i % 5000);
    payload::tap(TapFacts {
        id: &id, at_ms: 1_780_000_000_000 + i as i64, synced: true, uid: &uid, member_id: Some(&member),
        outcome: TapOutcome::SignedIn, session_id: Some("01JBENCHSESSION000000000000"), mobile: i % 9 == 0,
        home_centre: Some("c1"), attendance_id: Some(&id),
    })
}

fn fill(db: &Path, n: usize) -> Result<(), BenchError> {
    let mut store = Store::open(db)?;
    let tx = store.conn_mut().transaction().map_err(crate::store::StoreError::from)?;
    for i in 0..n {
        crate::store::apply::enqueue(&tx, &record(i), 1_780_000_000_000)?;
    }
    tx.commit().map_err(crate::store::StoreError::from)?;
    Ok(())
}

fn drain(dir: &Path, port: u16, n: usize, batch_records: usize, inflight: usize) -> Result<Drain, BenchError> {
    let db = dir.join(format!("drain-{n}.db"));
    let _ = std::fs::remove_file(&db);
    fill(&db, n)?;
    let config = HubConfig {
        url: format!("mqtt://127.0.0.1:{port}"),
        district: "bench".into(),
        centre: "c1".into(),
        device: format!("bench-{n}"),
        batch_records,
        batch_bytes: 256 * 1024,
        inflight,
        offline_sample_interval_s: 0,
        ..HubConfig::default()
    };
    let started = Instant::now();
    let handle = uplink::spawn(Uplink {
        config,
        db_path: db.clone(),
        clock: Arc::new(SystemClock::new()),
        documents: Box::new(MetaSink::new(crate::uplink::outbox::open(&db).map_err(uplink::UplinkError::from)?)),
        commands: Box::new(StandaloneCommands { set_log: None }),
        thermal_root: PathBuf::from("/sys/class/thermal"),
    })?;
    let deadline = started + Duration::from_secs(600);
    loop {
        let st = handle.status();
        if st.drained && st.counters.records_acked >= n as u64 {
            break;
        }
        if Instant::now() > deadline {
            return Err(BenchError::Failed(format!("drain of {n} did not finish: {:?}", st.last_error)));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let seconds = started.elapsed().as_secs_f64();
    handle.stop()?;
    let left = crate::uplink::outbox::backlog(&crate::uplink::outbox::open(&db).map_err(uplink::UplinkError::from)?).map_err(uplink::UplinkError::from)?;
    if left.rows != 0 {
        return Err(BenchError::Failed(format!("{} rows left unsent", left.rows)));
    }
    Ok(Drain { records: n, seconds, peak_rss_bytes: sysinfo::peak_rss_bytes().unwrap_or(0) })
}

fn baseline(dir: &Path, port: u16, n: usize) -> Result<f64, BenchError> {
    let file = dir.join("payloads.txt");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&file)?);
        for i in 0..n {
            writeln!(f, "{}", record(i).payload)?;
        }
    }
    let started = Instant::now();
    let status = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1", "-t", "mc/v1/bench/c1/baseline/events", "-l"])
        .stdin(std::fs::File::open(&file)?)
        .status()
        .map_err(|e| BenchError::Failed(format!("mosquitto_pub (mosquitto-clients): {e}")))?;
    if !status.success() {
        return Err(BenchError::Failed(format!("mosquitto_pub exited with {status}")));
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Runs the whole benchmark in `dir`.
pub fn run(dir: &Path, records: usize, batch_records: usize, inflight: usize) -> Result<UplinkBench, BenchError> {
    std::fs::create_dir_all(dir)?;
    let (_broker, port) = start_mosquitto(dir)?;
    let small = drain(dir, port, records / 10, batch_records, inflight)?;
    let large = drain(dir, port, records, batch_records, inflight)?;
    let baseline_seconds = baseline(dir, port, records)?;
    Ok(UplinkBench { small, large, baseline_records: records, baseline_seconds, batch_records, inflight })
}

impl UplinkBench {
    pub fn ratio(&self) -> f64 {
        self.large.per_second() / (self.baseline_records as f64 / self.baseline_seconds)
    }

    pub fn report(&self) -> String {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let base = self.baseline_records as f64 / self.baseline_seconds;
        let growth = mib(self.large.peak_rss_bytes) - mib(self.small.peak_rss_bytes);
        format!(
            "uplink drain (QoS 1, up to {} records/batch, {} batches in flight)\n\
             \x20 {:>7} records  {:>8.2} s  {:>9.0} events/s  peak RSS {:.1} MiB\n\
             \x20 {:>7} records  {:>8.2} s  {:>9.0} events/s  peak RSS {:.1} MiB  (growth {:+.1} MiB for 10x the backlog)\n\
             mosquitto_pub -l, QoS 1, one record per message\n\
             \x20 {:>7} records  {:>8.2} s  {:>9.0} events/s\n\
             ratio uplink / baseline {:.2}  (target >= 2: {})",
            self.batch_records,
            self.inflight,
            self.small.records, self.small.seconds, self.small.per_second(), mib(self.small.peak_rss_bytes),
            self.large.records, self.large.seconds, self.large.per_second(), mib(self.large.peak_rss_bytes), growth,
            self.baseline_records, self.baseline_seconds, base,
            self.ratio(),
            if self.ratio() >= 2.0 { "met" } else { "NOT met" },
        )
    }
}
