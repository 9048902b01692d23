//! Starts the uplink next to the kiosk and answers the hub's kiosk-side
//! commands (enrol a card, reload the config, screenshot). Documents from the
//! hub go straight to the store: the next tap reads them. `reboot` asks
//! systemd (the simulated board only records it); `set_log_level` changes
//! the process's log filter.

use crate::clock::SystemClock;
use crate::config::Config;
use crate::core::{Effect, Record};
use crate::store::Store;
use crate::uplink::wire::ErrorCode;
use crate::uplink::{self, CmdError, Command, CommandSink, HubConfig, StandaloneCommands, StoreSink, Uplink, UplinkHandle};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The kiosk's answers to hub commands.
pub struct KioskCommands {
    pub db_path: PathBuf,
    pub data_dir: PathBuf,
    /// Setting it stops the kiosk cleanly; systemd starts it again with the new config.
    pub stop: Arc<AtomicBool>,
    /// Whether a screen runs (screenshots need one).
    pub ui: bool,
    pub rest: StandaloneCommands,
}

impl CommandSink for KioskCommands {
    fn execute(&mut self, cmd: &Command) -> Result<serde_json::Value, CmdError> {
        match cmd {
            Command::EnrolCard { uid, member_id } => {
                if uid.is_random() {
                    return Err((ErrorCode::BadArgs, format!("card {uid} has a random UID (phone or bank card): it changes at every tap and cannot be enrolled")));
                }
                let mut store = Store::open(&self.db_path).map_err(|e| (ErrorCode::Failed, e.to_string()))?;
                store.set_reader_kind("hub");
                if store.member(member_id).map_err(|e| (ErrorCode::Failed, e.to_string()))?.is_none() {
                    return Err((ErrorCode::NotFound, format!("member {member_id} is not on this device's roster")));
                }
                let now = chrono::Utc::now().timestamp_millis();
                let rec = Record::CardEnrolled { uid: uid.clone(), member_id: member_id.clone(), at_ms: now };
                store.apply(&[Effect::Write(rec)], now).map_err(|e| (ErrorCode::Failed, e.to_string()))?;
                Ok(serde_json::json!({ "uid": uid.as_str(), "member": member_id }))
            }
            Command::ReloadConfig => {
                self.stop.store(true, Ordering::SeqCst);
                Ok(serde_json::json!({ "restarting": true }))
            }
            Command::Screenshot if self.ui => {
                let path = self.data_dir.join("screenshot.png");
                let bytes = crate::ui::kiosk::screenshot_to(&path).map_err(|e| (ErrorCode::Failed, e.to_string()))?;
                Ok(serde_json::json!({ "path": path.display().to_string(), "bytes": bytes }))
            }
            Command::Screenshot => Err((ErrorCode::Unsupported, "the kiosk runs without a screen".into())),
            other => self.rest.execute(other),
        }
    }
}

/// Starts the uplink when `[hub] url` is set; `None` when the device has no hub.
pub fn start(cfg: &Config, stop: Arc<AtomicBool>, ui: bool, log: Arc<dyn crate::logging::LogControl>) -> Result<Option<UplinkHandle>, String> {
    let hub = HubConfig::from_settings(&cfg.hub, &cfg.device)?;
    if !hub.enabled() {
        return Ok(None);
    }
    let store = Store::open(&cfg.db_path()).map_err(|e| e.to_string())?;
    let handle = uplink::spawn(Uplink {
        config: hub,
        db_path: cfg.db_path(),
        clock: Arc::new(SystemClock::new()),
        documents: Box::new(StoreSink::new(store)),
        commands: Box::new(KioskCommands {
            db_path: cfg.db_path(),
            data_dir: cfg.device.data_dir.clone(),
            stop,
            ui,
            rest: StandaloneCommands { log: Some(log) },
        }),
        thermal_root: PathBuf::from("/sys/class/thermal"),
        rebooter: Some(uplink::reboot::for_board(cfg.board.kind)),
    })
    .map_err(|e| e.to_string())?;
    Ok(Some(handle))
}
