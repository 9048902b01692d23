//! `microclass uplink`: runs only the hub uplink against the device database
//! (ops: drain a backlog by hand; tests: a device process that can be killed).
//! Documents are applied to the store; `set_log_level` and `reboot` are
//! carried out, kiosk-only commands are refused.

use anyhow::{Context, Result};
use microclass::clock::SystemClock;
use microclass::config::Config;
use microclass::logging::LogControl;
use microclass::store::Store;
use microclass::uplink::{self, HubConfig, StandaloneCommands, StoreSink, Uplink};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct UplinkArgs {
    /// Database file (default: microclass.db in the configured data dir).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Exit 0 once the outbox is drained (nothing unsent, nothing in flight).
    #[arg(long)]
    pub until_drained: bool,
    /// Give up after this many seconds (exit 2); 0 = run until stopped.
    #[arg(long, default_value_t = 0)]
    pub timeout_s: u64,
}

/// Runs until SIGTERM/SIGINT, the drain completes (`--until-drained`) or the timeout.
pub fn run(args: UplinkArgs, cfg: &Config, log: Arc<dyn LogControl>) -> Result<i32> {
    let hub = HubConfig::from_settings(&cfg.hub, &cfg.device).map_err(anyhow::Error::msg)?;
    anyhow::ensure!(hub.enabled(), "no [hub] url configured: nothing to do");
    let db = args.db.clone().unwrap_or_else(|| cfg.db_path());
    let store = Store::open(&db).with_context(|| format!("opening {}", db.display()))?;
    let handle = uplink::spawn(Uplink {
        config: hub,
        db_path: db.clone(),
        clock: Arc::new(SystemClock::new()),
        documents: Box::new(StoreSink::new(store)),
        commands: Box::new(StandaloneCommands { log: Some(log) }),
        thermal_root: PathBuf::from("/sys/class/thermal"),
        rebooter: Some(uplink::reboot::for_board(cfg.board.kind)),
    })
    .context("starting the uplink")?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).context("installing the signal handler")?;
    }
    let started = Instant::now();
    let code = loop {
        std::thread::sleep(Duration::from_millis(100));
        if stop.load(std::sync::atomic::Ordering::SeqCst) {
            break 0;
        }
        let st = handle.status();
        if args.until_drained && st.connected && st.drained {
            tracing::info!(acked = st.counters.records_acked, "outbox drained");
            break 0;
        }
        if args.timeout_s > 0 && started.elapsed() > Duration::from_secs(args.timeout_s) {
            tracing::warn!(backlog = st.backlog, "timed out before the outbox drained");
            break 2;
        }
    };
    handle.stop().context("stopping the uplink")?;
    Ok(code)
}
