//! `microclass run`: the kiosk. Opens the store, starts the reader, the
//! control socket and (on the simulated board) stdin taps, then runs the loop
//! until SIGTERM/SIGINT. Every decision is committed before it is shown, so
//! stopping at any moment loses nothing that was acknowledged.

use anyhow::{Context, Result};
use microclass::app::run::{run_loop, spawn_reader, spawn_stdin_taps, LineFormat, LinePresenter};
use microclass::app::{control, Input, Shell};
use microclass::clock::{Clock, SystemClock};
use microclass::config::{BoardConfig, BoardKind, Config, Loaded, Unprovisioned};
use microclass::core::CoreConfig;
use microclass::store::Store;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc};
use std::time::Duration;

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Override the board kind of the config (`sim` on a PC).
    #[arg(long, value_enum)]
    pub board: Option<BoardArg>,
    /// Override the data dir of the config.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Load the demo roster and catalogue when the store has no roster.
    #[arg(long)]
    pub demo: bool,
    /// How screens are printed when there is no UI.
    #[arg(long, value_enum, default_value = "text")]
    pub output: LineFormat,
    /// Do not read card UIDs from standard input (simulated board).
    #[arg(long)]
    pub no_stdin: bool,
    /// Show the touchscreen UI: winit (desktop), linuxkms (Pi), headless, or auto.
    #[arg(long, value_enum)]
    pub ui: Option<microclass::ui::backend::Backend>,
    /// Window size for the UI (headless and desktop).
    #[arg(long, default_value = "800x480", value_parser = super::ui::parse_size)]
    pub ui_size: (u32, u32),
}

/// A wall clock moving this much against the monotonic clock is a jump.
const CLOCK_JUMP_MS: i64 = 2_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BoardArg {
    Sim,
    Pi,
}

/// `config_path`: the file the config came from (`None` for the demo configuration).
/// A file without the device's identity starts the first-boot wizard when
/// there is a screen, and is refused without one.
pub fn run(args: RunArgs, loaded: Loaded, config_path: Option<PathBuf>, log: Arc<dyn microclass::logging::LogControl>) -> Result<()> {
    match loaded {
        Loaded::Ready(cfg) => run_provisioned(args, cfg, config_path, log),
        Loaded::NeedsProvisioning(u) => {
            let Some(backend) = args.ui else {
                // Without a screen nobody can answer the wizard.
                let path = config_path.unwrap_or_else(|| PathBuf::from(super::DEFAULT_CONFIG));
                return Err(microclass::config::ConfigError::NotProvisioned { path, missing: u.missing }.into());
            };
            run_first_boot(args, backend, u, config_path)
        }
    }
}

/// What both kinds of start open before the loop: the store, the stop flag
/// (SIGTERM/SIGINT), the reader thread, the indicator and the control socket.
struct Edges {
    store: Store,
    tx: mpsc::Sender<Input>,
    rx: mpsc::Receiver<Input>,
    stop: Arc<AtomicBool>,
    indicator: Box<dyn microclass::hw::Indicator>,
    socket: PathBuf,
}

/// Applies the command line's overrides to the board and data dir.
fn overrides(args: &RunArgs, board: &mut BoardConfig, data_dir: &mut PathBuf) {
    match args.board {
        Some(BoardArg::Sim) => board.kind = BoardKind::Sim,
        Some(BoardArg::Pi) => board.kind = BoardKind::Pi,
        None => {}
    }
    if let Some(d) = &args.data_dir {
        *data_dir = d.clone();
    }
}

/// `prepare` runs on the store before anything else starts (demo data).
fn start_edges(args: &RunArgs, board: &BoardConfig, data_dir: &Path, db_path: &Path, socket: PathBuf, prepare: impl FnOnce(&mut Store) -> Result<()>) -> Result<Edges> {
    if let Some(backend @ microclass::ui::backend::Backend::Linuxkms) = args.ui {
        // Before the reader, socket and uplink start: a screen that cannot work fails at once.
        microclass::ui::backend::preflight(backend).context("touchscreen UI")?;
    }
    super::ensure_dir(data_dir)?;
    let mut store = Store::open(db_path).with_context(|| format!("opening the database {}", db_path.display()))?;
    prepare(&mut store)?;

    let (tx, rx) = mpsc::channel::<Input>();
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).context("installing the signal handler")?;
    }

    let hw_clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let hw = microclass::board::build_hardware(board, hw_clock).context("opening the card reader and indicators")?;
    if let Some(taps) = hw.sim_taps {
        if !args.no_stdin {
            spawn_stdin_taps(taps.clone()).context("starting the stdin reader")?;
        }
        // Keep a sender alive so the simulated reader never reports Closed.
        std::mem::forget(taps);
    }
    spawn_reader(hw.reader, tx.clone(), stop.clone()).context("starting the reader thread")?;
    control::serve(&socket, tx.clone()).context("starting the control socket")?;
    Ok(Edges { store, tx, rx, stop, indicator: hw.indicator, socket })
}

/// The first-boot wizard on the screen: the store opens in the configured
/// data dir, the reader and control socket run (taps are ignored and logged),
/// and no hub uplink starts. A confirmed wizard writes the config and stops
/// the process; systemd starts it again with the full config.
fn run_first_boot(args: RunArgs, backend: microclass::ui::backend::Backend, mut u: Unprovisioned, config_path: Option<PathBuf>) -> Result<()> {
    overrides(&args, &mut u.board, &mut u.data_dir);
    let edges = start_edges(&args, &u.board, &u.data_dir, &u.db_path(), u.control_socket(), |_| Ok(()))?;
    tracing::warn!(missing = %u.missing.join(", "), "this device is not provisioned: showing the first-boot wizard; no hub uplink");
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let Edges { store, tx, rx, stop, indicator, socket } = edges;
    super::ui::run_first_boot(backend, args.ui_size, &u, config_path, store, clock, indicator, rx, tx, stop, &socket)
}

fn run_provisioned(args: RunArgs, mut cfg: Config, config_path: Option<PathBuf>, log: Arc<dyn microclass::logging::LogControl>) -> Result<()> {
    overrides(&args, &mut cfg.board, &mut cfg.device.data_dir);
    let utc_offset_s = cfg.device.utc_offset_minutes * 60;
    let demo = |store: &mut Store| -> Result<()> {
        if args.demo && microclass::demo::load_if_empty(store)? {
            tracing::info!("loaded the demo roster and catalogue");
        }
        if args.demo && microclass::demo::load_schedule_if_empty(store, SystemClock::new().now().wall_ms, utc_offset_s)? {
            tracing::info!("loaded a demo week of classes");
        }
        Ok(())
    };
    let Edges { store, tx, rx, stop, indicator, socket } = start_edges(&args, &cfg.board, &cfg.device.data_dir, &cfg.db_path(), cfg.control_socket(), demo)?;

    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let uplink = microclass::app::hub_link::start(&cfg, stop.clone(), args.ui.is_some(), log)
        .map_err(anyhow::Error::msg)
        .context("starting the hub uplink")?;
    if uplink.is_some() {
        tracing::info!(hub = %cfg.hub.url, "hub uplink started");
    }
    if let Some(backend) = args.ui {
        let hub = uplink.as_ref().map(|u| u.monitor());
        let r = super::ui::run(backend, args.ui_size, &cfg, config_path, hub, store, clock, indicator, rx, tx, stop, &socket);
        stop_uplink(uplink);
        return r;
    }
    let presenter = Box::new(LinePresenter { format: args.output });
    let mut shell = Shell::new(CoreConfig::from_config(&cfg), store, clock.clone(), indicator, presenter).context("restoring the kiosk state")?;
    shell.check_at_start(&cfg.device.data_dir);
    tracing::info!(centre = %cfg.device.centre, device = %cfg.device.id, socket = %socket.display(), "kiosk running; tap cards with `microclass tap <UID>`");
    drop(tx);
    let mut service = microclass::service::ServiceHooks::from_env(clock.clone(), stop.clone());
    service.ready(&format!("serving centre {} device {}", cfg.device.centre, cfg.device.id));
    let mut clock_watch = microclass::clock_watch::ClockWatch::new(CLOCK_JUMP_MS);
    run_loop(&mut shell, rx, stop, Duration::from_millis(250), |shell| {
        service.iteration();
        if let Some(ev) = clock_watch.observe(shell.now()) {
            shell.record_clock_event(&ev);
        }
    });
    service.stopping();
    stop_uplink(uplink);
    let _ = std::fs::remove_file(&socket);
    tracing::info!(taps = shell.stats().taps, "kiosk stopped");
    Ok(())
}

fn stop_uplink(uplink: Option<microclass::uplink::UplinkHandle>) {
    if let Some(h) = uplink {
        if let Err(e) = h.stop() {
            tracing::warn!(error = %e, "the uplink did not stop cleanly");
        }
    }
}
