//! Uplink benchmark: against one local mosquitto started here, drain a
//! backlog of 10,000 then 100,000 attendance-like records through the real
//! uplink (QoS 1, batches) and report events/s and peak RSS (VmHWM, reset
//! before each drain so filling the backlog does not count) after
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
    /// CPU seconds of the publishing process and of the broker during the run.
    pub client_cpu_s: f64,
    pub broker_cpu_s: f64,
}

impl Drain {
    pub fn per_second(&self) -> f64 {
        self.records as f64 / self.seconds
    }
}

pub struct UplinkBench {
    pub small: Drain,
    pub large: Drain,
    pub baseline: Drain,
    pub shape: Shape,
    pub rounds: usize,
    /// Wall time of each side for a single record, subtracted for the net rates.
    pub uplink_fixed_s: f64,
    pub baseline_fixed_s: f64,
}

struct Mosquitto(Child);

/// How the drain is tuned (the `[hub]` keys of the same names).
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub batch_records: usize,
    pub batch_bytes: usize,
    pub inflight: usize,
}

fn ticks_per_s() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// utime + stime of a process, in seconds (0 when unreadable).
fn process_cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (get(11) + get(12)) / ticks_per_s()
}

fn self_cpu_s() -> f64 {
    process_cpu_s(std::process::id())
}

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
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 0\nset_tcp_nodelay true\n{user}"))?;
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
    // The kiosk checkpoints on idle ticks, so a drain meets a short WAL; a
    // WAL of the whole backlog would grow every connection's mapped index.
    store.conn().query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).map_err(crate::store::StoreError::from)?;
    Ok(())
}

fn drain(dir: &Path, broker: u32, port: u16, n: usize, shape: Shape) -> Result<Drain, BenchError> {
    let db = dir.join(format!("drain-{n}.db"));
    let _ = std::fs::remove_file(&db);
    fill(&db, n)?;
    let config = HubConfig {
        url: format!("mqtt://127.0.0.1:{port}"),
        district: "bench".into(),
        centre: "c1".into(),
        device: format!("bench-{n}"),
        batch_records: shape.batch_records,
        batch_bytes: shape.batch_bytes,
        inflight: shape.inflight,
        offline_sample_interval_s: 0,
        ..HubConfig::default()
    };
    // Peak RSS of the drain alone: not of filling the backlog before it, nor
    // the heap an earlier drain freed but the allocator kept.
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::malloc_trim(0);
    }
    sysinfo::reset_peak_rss();
    let (cpu0, broker0) = (self_cpu_s(), process_cpu_s(broker));
    let started = Instant::now();
    let handle = uplink::spawn(Uplink {
        config,
        db_path: db.clone(),
        clock: Arc::new(SystemClock::new()),
        documents: Box::new(MetaSink::new(crate::store::drain::open(&db).map_err(uplink::UplinkError::from)?)),
        commands: Box::new(StandaloneCommands { log: None }),
        rebooter: None,
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
    let (client_cpu_s, broker_cpu_s) = (self_cpu_s() - cpu0, process_cpu_s(broker) - broker0);
    let peak_rss_bytes = sysinfo::peak_rss_bytes().unwrap_or(0);
    handle.stop()?;
    let left = crate::store::drain::backlog(&crate::store::drain::open(&db).map_err(uplink::UplinkError::from)?).map_err(uplink::UplinkError::from)?;
    if left.rows != 0 {
        return Err(BenchError::Failed(format!("{} rows left unsent", left.rows)));
    }
    Ok(Drain { records: n, seconds, peak_rss_bytes, client_cpu_s, broker_cpu_s })
}

fn baseline(dir: &Path, broker: u32, port: u16, n: usize) -> Result<Drain, BenchError> {
    let file = dir.join("payloads.txt");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&file)?);
        for i in 0..n {
            writeln!(f, "{}", record(i).payload)?;
        }
    }
    let broker0 = process_cpu_s(broker);
    let started = Instant::now();
    let child = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1", "-t", "mc/v1/bench/c1/baseline/events", "-l"])
        .stdin(std::fs::File::open(&file)?)
        .spawn()
        .map_err(|e| BenchError::Failed(format!("mosquitto_pub (mosquitto-clients): {e}")))?;
    // wait4 gives the child's CPU time along with its exit status.
    let mut status = 0;
    // SAFETY: rusage is plain data we own; the pid is our child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut ru) };
    let seconds = started.elapsed().as_secs_f64();
    if rc < 0 || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(BenchError::Failed(format!("mosquitto_pub failed (wait status {status})")));
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Drain { records: n, seconds, peak_rss_bytes: 0, client_cpu_s: tv(ru.ru_utime) + tv(ru.ru_stime), broker_cpu_s: process_cpu_s(broker) - broker0 })
}

/// The fastest of several runs of one side, with the highest peak RSS any of them reached.
fn best(runs: &[Drain]) -> Drain {
    let fastest = runs.iter().copied().min_by(|a, b| a.seconds.total_cmp(&b.seconds)).expect("at least one round");
    Drain { peak_rss_bytes: runs.iter().map(|d| d.peak_rss_bytes).max().unwrap_or(0), ..fastest }
}

/// Runs the whole benchmark in `dir`: `rounds` rounds of (10%, 100%,
/// baseline), so a hiccup of this machine or of the broker hits neither side alone.
pub fn run(dir: &Path, records: usize, shape: Shape, rounds: usize) -> Result<UplinkBench, BenchError> {
    std::fs::create_dir_all(dir)?;
    let (broker, port) = start_mosquitto(dir)?;
    let pid = broker.0.id();
    // The first drain in a process faults in the code of the whole MQTT and
    // SQLite path (about 2 MiB of file pages); the device's uplink has long
    // done that, so a short unreported drain comes first.
    drain(dir, pid, port, (records / 100).max(1000), shape)?;
    let (mut small, mut large, mut base) = (Vec::new(), Vec::new(), Vec::new());
    let (mut uplink_fixed_s, mut baseline_fixed_s) = (f64::MAX, 0.0f64);
    for _ in 0..rounds.max(1) {
        // What each side takes for one record (start, connect, stop; for
        // mosquitto_pub 0.1-0.2 s of its own exit wait) is not per-event cost.
        // Against the uplink: its shortest such time, the baseline's longest.
        uplink_fixed_s = uplink_fixed_s.min(drain(dir, pid, port, 1, shape)?.seconds);
        baseline_fixed_s = baseline_fixed_s.max(baseline(dir, pid, port, 1)?.seconds);
        small.push(drain(dir, pid, port, records / 10, shape)?);
        large.push(drain(dir, pid, port, records, shape)?);
        base.push(baseline(dir, pid, port, records)?);
    }
    let (large, baseline) = (best(&large), best(&base));
    Ok(UplinkBench { small: best(&small), large, baseline, shape, rounds: rounds.max(1), uplink_fixed_s, baseline_fixed_s })
}

/// Events/s once the one-record time of that side is taken off.
fn net_per_second(d: &Drain, fixed_s: f64) -> f64 {
    d.records as f64 / (d.seconds - fixed_s).max(1e-6)
}

impl UplinkBench {
    /// Net events/s of the uplink over net events/s of the per-message
    /// baseline: the target is about the cost per event, not start-up.
    pub fn ratio(&self) -> f64 {
        net_per_second(&self.large, self.uplink_fixed_s) / net_per_second(&self.baseline, self.baseline_fixed_s)
    }

    /// The same with wall-clock rates as measured (start-up included).
    pub fn raw_ratio(&self) -> f64 {
        self.large.per_second() / self.baseline.per_second()
    }

    /// CPU (client + broker) per event of the baseline over that of the uplink.
    pub fn cpu_ratio(&self) -> f64 {
        let per = |d: &Drain| (d.client_cpu_s + d.broker_cpu_s) / d.records as f64;
        per(&self.baseline) / per(&self.large)
    }

    pub fn report(&self) -> String {
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let line = |d: &Drain| {
            format!(
                "  {:>7} records  {:>6.2} s  {:>8.0} events/s  CPU client {:.2} s + broker {:.2} s",
                d.records, d.seconds, d.per_second(), d.client_cpu_s, d.broker_cpu_s
            )
        };
        let growth = mib(self.large.peak_rss_bytes) - mib(self.small.peak_rss_bytes);
        format!(
            "uplink drain (QoS 1, up to {} records or {} KiB/batch, {} batches in flight; best of {} rounds, highest peak RSS)\n\
             {}  peak RSS {:.1} MiB\n\
             {}  peak RSS {:.1} MiB ({:+.1} MiB, {:+.1}% for 10x the backlog; in-flight data is bounded by {} x {} KiB)\n\
             mosquitto_pub -l, QoS 1, one record per message\n\
             {}\n\
             one record takes {:.3} s (uplink) and {:.3} s (mosquitto_pub); without it: {:.0} and {:.0} events/s\n\
             ratio uplink / baseline: net events/s {:.2} (target >= 2: {}), wall-clock events/s {:.2}, CPU per event {:.2}x less",
            self.shape.batch_records,
            self.shape.batch_bytes / 1024,
            self.shape.inflight,
            self.rounds,
            line(&self.small), mib(self.small.peak_rss_bytes),
            line(&self.large), mib(self.large.peak_rss_bytes), growth, 100.0 * growth / mib(self.small.peak_rss_bytes).max(1.0), self.shape.inflight, self.shape.batch_bytes / 1024,
            line(&self.baseline),
            self.uplink_fixed_s, self.baseline_fixed_s,
            net_per_second(&self.large, self.uplink_fixed_s), net_per_second(&self.baseline, self.baseline_fixed_s),
            self.ratio(),
            if self.ratio() >= 2.0 { "met" } else { "NOT met" },
            self.raw_ratio(),
            self.cpu_ratio(),
        )
    }
}
