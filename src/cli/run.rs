//! `microclass run`: the kiosk. Opens the store, starts the reader, the
//! control socket and (on the simulated board) stdin taps, then runs the loop
//! until SIGTERM/SIGINT. Every decision is committed before it is shown, so
//! stopping at any moment loses nothing that was acknowledged.

use anyhow::{Context, Result};
use microclass::app::run::{run_loop, spawn_reader, spawn_stdin_taps, LineFormat, LinePresenter};
use microclass::app::{control, Input, Shell};
use microclass::clock::{Clock, SystemClock};
use microclass::config::{BoardKind, Config};
use microclass::core::CoreConfig;
use microclass::store::Store;
use std::path::PathBuf;
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

/// `config_path`: the file `cfg` came from (`None` for the demo configuration).
pub fn run(args: RunArgs, mut cfg: Config, config_path: Option<PathBuf>, log: Arc<dyn microclass::logging::LogControl>) -> Result<()> {
    match args.board {
        Some(BoardArg::Sim) => cfg.board.kind = BoardKind::Sim,
        Some(BoardArg::Pi) => cfg.board.kind = BoardKind::Pi,
        None => {}
    }
    if let Some(d) = &args.data_dir {
        cfg.device.data_dir = d.clone();
    }
    if let Some(backend @ microclass::ui::backend::Backend::Linuxkms) = args.ui {
        // Before the reader, socket and uplink start: a screen that cannot work fails at once.
        microclass::ui::backend::preflight(backend).context("touchscreen UI")?;
    }
    super::ensure_dir(&cfg.device.data_dir)?;
    let mut store = Store::open(&cfg.db_path()).with_context(|| format!("opening the database {}", cfg.db_path().display()))?;
    if args.demo && microclass::demo::load_if_empty(&mut store)? {
        tracing::info!("loaded the demo roster and catalogue");
    }
    if args.demo && microclass::demo::load_schedule_if_empty(&mut store, SystemClock::new().now().wall_ms, cfg.device.utc_offset_minutes * 60)? {
        tracing::info!("loaded a demo week of classes");
    }

    let (tx, rx) = mpsc::channel::<Input>();
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).context("installing the signal handler")?;
    }

    let hw_clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let hw = microclass::board::build_hardware(&cfg.board, hw_clock).context("opening the card reader and indicators")?;
    if let Some(taps) = hw.sim_taps {
        if !args.no_stdin {
            spawn_stdin_taps(taps.clone()).context("starting the stdin reader")?;
        }
        // Keep a sender alive so the simulated reader never reports Closed.
        std::mem::forget(taps);
    }
    let (reader, indicator) = (hw.reader, hw.indicator);
    spawn_reader(reader, tx.clone(), stop.clone()).context("starting the reader thread")?;

    let socket = cfg.control_socket();
    control::serve(&socket, tx.clone()).context("starting the control socket")?;
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
