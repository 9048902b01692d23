//! The one place that assembles a running kiosk: the store (and demo data),
//! the stop flag for SIGTERM/SIGINT, the reader thread, stdin taps on the
//! simulated board, the control socket, the hub uplink, the shell, and the
//! hooks every loop turn runs (systemd watchdog, clock watch). How the kiosk
//! shows itself is a [`Front`]: printed lines ([`LineFront`]) or a screen,
//! which the UI implements and hands in. The first-boot wizard (a device
//! without its identity) is assembled here too: no uplink, a shell that
//! records nothing. Never parses arguments and never names the UI module.

use super::capture::ScreenCapture;
use super::run::{run_loop, spawn_reader, spawn_stdin_taps, LineFormat, LinePresenter};
use super::{control, hub_link, Input, Presenter, Shell};
use crate::clock::{Clock, SystemClock};
use crate::clock_watch::ClockWatch;
use crate::config::{BoardConfig, Config, Unprovisioned};
use crate::service::ServiceHooks;
use crate::store::{Store, StoreError};
use crate::uplink::{UplinkHandle, UplinkMonitor};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

/// A wall clock moving this much against the monotonic clock is a jump.
pub const CLOCK_JUMP_MS: i64 = 2_000;

/// How long a loop turn waits for an input before it is an idle turn
/// (core tick, WAL checkpoint).
pub const LOOP_TICK: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum AssembleError {
    #[error("the screen cannot start here: {0}")]
    Preflight(String),
    #[error("cannot create data dir {path}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("opening the database {path}")]
    Store { path: PathBuf, source: StoreError },
    #[error("loading the demo data: {0}")]
    Demo(StoreError),
    #[error("installing the signal handler: {0}")]
    Signals(std::io::Error),
    #[error("opening the card reader and indicators: {0}")]
    Hardware(#[from] crate::board::BoardError),
    #[error("starting the {what} thread")]
    Thread { what: &'static str, source: std::io::Error },
    #[error("starting the control socket: {0}")]
    Control(#[from] control::ControlError),
    #[error("starting the hub uplink: {0}")]
    Uplink(String),
    #[error("restoring the kiosk state: {0}")]
    Restore(StoreError),
    #[error("touchscreen UI: {0}")]
    Front(String),
}

/// What kind of device is starting.
pub enum Device {
    /// A device with its identity: the full kiosk, with the uplink when `[hub] url` is set.
    Provisioned {
        cfg: Config,
        log: Arc<dyn crate::logging::LogControl>,
        /// Load the demo roster, catalogue and week of classes into an empty store.
        demo: bool,
    },
    /// A device without its identity: the first-boot wizard (needs a screen).
    FirstBoot(Unprovisioned),
}

/// Everything `microclass run` decided from its arguments and config.
pub struct Assembly {
    pub device: Device,
    /// Read card UIDs from standard input (simulated board only).
    pub stdin_taps: bool,
}

/// The assembled kiosk a [`Front`] runs: the shell and its input channel,
/// the stop flag, the uplink's monitor.
pub struct Kiosk {
    pub shell: Shell,
    pub rx: Receiver<Input>,
    pub tx: Sender<Input>,
    pub stop: Arc<AtomicBool>,
    /// The running uplink (link state, last sync, "sync now"); `None` without a hub.
    pub hub: Option<UplinkMonitor>,
    /// The status line systemd shows once the kiosk serves.
    pub status: String,
}

/// How the running kiosk shows itself. The line front lives here; the
/// screen front is the UI's, handed in by the caller.
pub trait Front {
    /// Checked before anything starts, so a screen that cannot work fails at once.
    fn preflight(&self) -> Result<(), AssembleError> {
        Ok(())
    }
    /// What the control socket and the hub's `screenshot` save; `None`: no screen.
    fn screen(&self) -> Option<Arc<dyn ScreenCapture>>;
    /// The presenter the shell shows screens with (called once).
    fn presenter(&mut self) -> Box<dyn Presenter>;
    /// Runs the kiosk until it stops, on the calling thread; the kiosk loop
    /// itself runs through [`drive`] (here or on a thread the front starts).
    fn run(self: Box<Self>, kiosk: Kiosk) -> Result<(), AssembleError>;
}

/// The hooks every loop turn runs, whatever the front: the systemd
/// watchdog (a wedged loop gets the service restarted) and the clock watch
/// (jumps are recorded for the hub).
pub struct TurnHooks {
    service: ServiceHooks,
    clock_watch: ClockWatch,
}

impl TurnHooks {
    /// From the process environment (NOTIFY_SOCKET, WATCHDOG_USEC).
    pub fn from_env(clock: Arc<dyn Clock>, stop: Arc<AtomicBool>) -> Self {
        Self::with_service(ServiceHooks::from_env(clock, stop))
    }

    pub fn with_service(service: ServiceHooks) -> Self {
        TurnHooks { service, clock_watch: ClockWatch::new(CLOCK_JUMP_MS) }
    }

    /// Once per loop turn.
    pub fn turn(&mut self, shell: &mut Shell) {
        self.service.iteration();
        if let Some(ev) = self.clock_watch.observe(shell.now()) {
            shell.record_clock_event(&ev);
        }
    }
}

/// Runs the kiosk loop on the calling thread until `Input::Shutdown`, the
/// stop flag or the last sender is gone: READY=1 first, then per turn the
/// [`TurnHooks`] and `each_turn` (the screen's refresh), STOPPING=1 last.
pub fn drive(shell: &mut Shell, rx: Receiver<Input>, stop: Arc<AtomicBool>, mut hooks: TurnHooks, status: &str, mut each_turn: impl FnMut(&mut Shell)) {
    hooks.service.ready(status);
    run_loop(shell, rx, stop, LOOP_TICK, |shell| {
        hooks.turn(shell);
        each_turn(shell);
    });
    hooks.service.stopping();
}

/// The kiosk without a screen: one line per shown screen on stdout.
pub struct LineFront {
    pub format: LineFormat,
}

impl Front for LineFront {
    fn screen(&self) -> Option<Arc<dyn ScreenCapture>> {
        None
    }

    fn presenter(&mut self) -> Box<dyn Presenter> {
        Box::new(LinePresenter { format: self.format })
    }

    fn run(self: Box<Self>, kiosk: Kiosk) -> Result<(), AssembleError> {
        let Kiosk { mut shell, rx, tx, stop, hub: _, status } = kiosk;
        // The reader and the control socket hold their own senders.
        drop(tx);
        let hooks = TurnHooks::from_env(Arc::new(SystemClock::new()), stop.clone());
        drive(&mut shell, rx, stop, hooks, &status, |_| {});
        tracing::info!(taps = shell.stats().taps, "kiosk stopped");
        Ok(())
    }
}

/// Where the device keeps its data, whichever kind it is.
struct Place<'a> {
    board: &'a BoardConfig,
    data_dir: &'a Path,
    db_path: PathBuf,
    socket: PathBuf,
}

/// The edges both kinds of start open before the shell.
struct Edges {
    store: Store,
    tx: Sender<Input>,
    rx: Receiver<Input>,
    stop: Arc<AtomicBool>,
    indicator: Box<dyn crate::hw::Indicator>,
}

/// Assembles the kiosk and runs it with `front` until SIGTERM/SIGINT (or,
/// for the first-boot wizard, until its config is written).
pub fn run(assembly: Assembly, mut front: Box<dyn Front>) -> Result<(), AssembleError> {
    front.preflight()?;
    let Assembly { device, stdin_taps } = assembly;
    match device {
        Device::Provisioned { cfg, log, demo } => {
            let place = Place { board: &cfg.board, data_dir: &cfg.device.data_dir, db_path: cfg.db_path(), socket: cfg.control_socket() };
            let utc_offset_s = cfg.device.utc_offset_minutes * 60;
            let edges = start_edges(&place, stdin_taps, front.screen(), |store| load_demo(store, demo, utc_offset_s))?;
            let socket = place.socket;
            let uplink = hub_link::start(&cfg, edges.tx.clone(), edges.stop.clone(), front.screen(), log).map_err(AssembleError::Uplink)?;
            if uplink.is_some() {
                tracing::info!(hub = %cfg.hub.url, "hub uplink started");
            }
            let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
            let Edges { store, tx, rx, stop, indicator } = edges;
            let mut shell = match Shell::new(cfg.core_config(), store, clock, indicator, front.presenter()) {
                Ok(shell) => shell,
                Err(e) => {
                    stop_uplink(uplink);
                    return Err(AssembleError::Restore(e));
                }
            };
            shell.check_at_start(&cfg.device.data_dir);
            if let Some(u) = &uplink {
                // A committed record leaves at once, not at the uplink's next poll.
                let nudger = u.nudger();
                shell.on_enqueued(move || nudger.nudge());
            }
            tracing::info!(centre = %cfg.device.centre, device = %cfg.device.id, socket = %socket.display(), "kiosk running; tap cards with `microclass tap <UID>`");
            let status = format!("serving centre {} device {}", cfg.device.centre, cfg.device.id);
            let hub = uplink.as_ref().map(|u| u.monitor());
            let result = front.run(Kiosk { shell, rx, tx, stop, hub, status });
            stop_uplink(uplink);
            let _ = std::fs::remove_file(&socket);
            result
        }
        Device::FirstBoot(u) => {
            let place = Place { board: &u.board, data_dir: &u.data_dir, db_path: u.db_path(), socket: u.control_socket() };
            let Edges { store, tx, rx, stop, indicator } = start_edges(&place, stdin_taps, front.screen(), |_| Ok(()))?;
            tracing::warn!(missing = %u.missing.join(", "), "this device is not provisioned: showing the first-boot wizard; no hub uplink");
            let shell = Shell::first_boot(store, Arc::new(SystemClock::new()), indicator, front.presenter());
            tracing::info!(socket = %place.socket.display(), "first-boot wizard on the screen");
            let status = "first-boot wizard".to_string();
            let result = front.run(Kiosk { shell, rx, tx, stop, hub: None, status });
            let _ = std::fs::remove_file(&place.socket);
            result
        }
    }
}

fn load_demo(store: &mut Store, demo: bool, utc_offset_s: i32) -> Result<(), StoreError> {
    if demo && crate::demo::load_if_empty(store)? {
        tracing::info!("loaded the demo roster and catalogue");
    }
    if demo && crate::demo::load_schedule_if_empty(store, SystemClock::new().now().wall_ms, utc_offset_s)? {
        tracing::info!("loaded a demo week of classes");
    }
    Ok(())
}

/// The store, the stop flag, the reader thread, stdin taps and the control
/// socket. `prepare` runs on the store before anything else starts.
fn start_edges(place: &Place<'_>, stdin_taps: bool, screen: Option<Arc<dyn ScreenCapture>>, prepare: impl FnOnce(&mut Store) -> Result<(), StoreError>) -> Result<Edges, AssembleError> {
    std::fs::create_dir_all(place.data_dir).map_err(|source| AssembleError::DataDir { path: place.data_dir.into(), source })?;
    let mut store = Store::open(&place.db_path).map_err(|source| AssembleError::Store { path: place.db_path.clone(), source })?;
    prepare(&mut store).map_err(AssembleError::Demo)?;

    let (tx, rx) = mpsc::channel::<Input>();
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone()).map_err(AssembleError::Signals)?;
    }

    let hw_clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let hw = crate::board::build_hardware(place.board, hw_clock)?;
    store.set_reader_kind(hw.reader_kind);
    if let Some(taps) = hw.sim_taps {
        if stdin_taps {
            spawn_stdin_taps(taps.clone()).map_err(|source| AssembleError::Thread { what: "stdin reader", source })?;
        }
        // Keep a sender alive so the simulated reader never reports Closed.
        std::mem::forget(taps);
    }
    spawn_reader(hw.reader, tx.clone(), stop.clone()).map_err(|source| AssembleError::Thread { what: "reader", source })?;
    control::serve(&place.socket, tx.clone(), screen)?;
    Ok(Edges { store, tx, rx, stop, indicator: hw.indicator })
}

fn stop_uplink(uplink: Option<UplinkHandle>) {
    if let Some(h) = uplink {
        if let Err(e) = h.stop() {
            tracing::warn!(error = %e, "the uplink did not stop cleanly");
        }
    }
}

#[cfg(test)]
#[path = "assemble_tests.rs"]
mod tests;
