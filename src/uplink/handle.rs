//! Starting and talking to the uplink: what it needs (`Uplink`), the
//! handle that stops and nudges it, and the monitor the screen reads. The
//! uplink itself runs in `link` on a thread of its own.

use super::link;
use super::config::HubConfig;
use super::marker::{Marker, Pending};
use super::reboot::Rebooter;
use super::{CommandSink, UplinkError, UplinkStatus};
use crate::clock::Clock;
use microclass_protocol::command::{self, Command};
use microclass_protocol::documents::DocumentSink;
use microclass_protocol::wire::ErrorCode;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::{watch, Notify};
use tracing::info;

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

/// Wakes the uplink: new rows were committed to the outbox.
#[derive(Clone)]
pub struct Nudger(Arc<Notify>);

impl Nudger {
    pub fn nudge(&self) {
        self.0.notify_one();
    }
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

    /// A cloneable nudge for the kiosk loop, called after each commit that queued messages.
    pub fn nudger(&self) -> Nudger {
        Nudger(self.nudge.clone())
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
            rt.block_on(link::run(uplink, marker, stop_rx, n2, sync2, s2))
        })
        .map_err(|e| UplinkError::Thread(e.to_string()))?;
    Ok(UplinkHandle { thread: Some(thread), stop: stop_tx, nudge, sync, status, marks_pending })
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
