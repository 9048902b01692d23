//! Starts the uplink next to the kiosk and answers the hub's kiosk-side
//! commands (enrol a card, reload the config, screenshot). Documents from the
//! hub go straight to the store: the next tap reads them. `reboot` asks
//! systemd (the simulated board only records it); `set_log_level` changes
//! the process's log filter.

use super::capture::{ScreenCapture, NO_SCREEN};
use crate::clock::SystemClock;
use crate::config::Config;
use super::Input;
use crate::store::Store;
use std::sync::mpsc::Sender;
use crate::uplink::wire::ErrorCode;
use crate::uplink::{self, CmdError, Command, CommandSink, HubConfig, StandaloneCommands, StoreSink, Uplink, UplinkHandle};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// How long a hub command waits for the kiosk loop's answer.
const KIOSK_REPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The kiosk's answers to hub commands.
pub struct KioskCommands {
    /// The kiosk loop, which decides the commands that change data.
    pub inputs: Sender<Input>,
    pub data_dir: PathBuf,
    /// Setting it stops the kiosk cleanly; systemd starts it again with the new config.
    pub stop: Arc<AtomicBool>,
    /// The screen, when one runs (screenshots need one).
    pub screen: Option<Arc<dyn ScreenCapture>>,
    pub rest: StandaloneCommands,
}

impl CommandSink for KioskCommands {
    fn execute(&mut self, cmd: &Command) -> Result<serde_json::Value, CmdError> {
        match cmd {
            Command::EnrolCard { uid, member_id } => {
                if uid.is_random() {
                    return Err((ErrorCode::BadArgs, format!("card {uid} has a random UID (phone or bank card): it changes at every tap and cannot be enrolled")));
                }
                // Decided by the core on the kiosk loop, as the panel's enrolment is.
                let (tx, rx) = std::sync::mpsc::channel();
                self.inputs
                    .send(Input::HubEnrol { uid: uid.clone(), member_id: member_id.clone(), reply: tx })
                    .map_err(|_| (ErrorCode::Failed, "the kiosk loop is not running".to_string()))?;
                match rx.recv_timeout(KIOSK_REPLY_TIMEOUT) {
                    Ok(Ok(())) => Ok(serde_json::json!({ "uid": uid.as_str(), "member": member_id })),
                    Ok(Err(e)) if e.contains("not on this device's roster") => Err((ErrorCode::NotFound, e)),
                    Ok(Err(e)) => Err((ErrorCode::Failed, e)),
                    Err(_) => Err((ErrorCode::Failed, "the kiosk loop did not answer".to_string())),
                }
            }
            Command::ReloadConfig => {
                self.stop.store(true, Ordering::SeqCst);
                Ok(serde_json::json!({ "restarting": true }))
            }
            Command::Screenshot => {
                let Some(screen) = &self.screen else {
                    return Err((ErrorCode::Unsupported, NO_SCREEN.into()));
                };
                let path = self.data_dir.join("screenshot.png");
                let bytes = screen.save_png(&path).map_err(|e| (ErrorCode::Failed, e.to_string()))?;
                Ok(serde_json::json!({ "path": path.display().to_string(), "bytes": bytes }))
            }
            other => self.rest.execute(other),
        }
    }
}

/// Starts the uplink when `[hub] url` is set; `None` when the device has no hub.
/// `screen` answers the hub's `screenshot` command (`None`: no screen).
pub fn start(cfg: &Config, inputs: Sender<Input>, stop: Arc<AtomicBool>, screen: Option<Arc<dyn ScreenCapture>>, log: Arc<dyn crate::logging::LogControl>) -> Result<Option<UplinkHandle>, String> {
    let hub = HubConfig::from_settings(&cfg.hub, &cfg.device)?;
    if !hub.enabled() {
        return Ok(None);
    }
    let store = Store::open(&cfg.db_path()).map_err(|e| e.to_string())?;
    let handle = uplink::spawn(Uplink {
        config: hub,
        db_path: cfg.db_path(),
        clock: Arc::new(SystemClock::new()),
        documents: Box::new(StoreSink::new(store).on_applied({
            let inputs = inputs.clone();
            move |ev| {
                let _ = inputs.send(Input::Event(ev));
            }
        })),
        commands: Box::new(KioskCommands {
            inputs,
            data_dir: cfg.device.data_dir.clone(),
            stop,
            screen,
            rest: StandaloneCommands { log: Some(log) },
        }),
        thermal_root: PathBuf::from("/sys/class/thermal"),
        rebooter: Some(uplink::reboot::for_board(cfg.board.kind)),
    })
    .map_err(|e| e.to_string())?;
    Ok(Some(handle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::CaptureError;
    use std::path::Path;

    struct Painted;
    impl ScreenCapture for Painted {
        fn save_png(&self, path: &Path) -> Result<usize, CaptureError> {
            std::fs::write(path, b"png").map_err(|e| CaptureError(e.to_string()))?;
            Ok(3)
        }
    }

    fn commands(dir: &Path, screen: Option<Arc<dyn ScreenCapture>>) -> KioskCommands {
        KioskCommands {
            inputs: std::sync::mpsc::channel().0,
            data_dir: dir.to_path_buf(),
            stop: Arc::new(AtomicBool::new(false)),
            screen,
            rest: StandaloneCommands { log: None },
        }
    }

    #[test]
    fn the_hub_screenshot_command_is_unsupported_without_a_screen() {
        let dir = tempfile::tempdir().unwrap();
        let err = commands(dir.path(), None).execute(&Command::Screenshot).unwrap_err();
        assert_eq!(err, (ErrorCode::Unsupported, "the kiosk runs without a screen".to_string()));
    }

    #[test]
    fn the_hub_screenshot_command_saves_the_screen_in_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let answer = commands(dir.path(), Some(Arc::new(Painted))).execute(&Command::Screenshot).unwrap();
        let path = dir.path().join("screenshot.png");
        assert_eq!(answer, serde_json::json!({ "path": path.display().to_string(), "bytes": 3 }));
        assert_eq!(std::fs::read(&path).unwrap(), b"png");
    }
}
