//! The technician's operations behind the screen, run off the UI thread:
//! "sync now" (asks the running uplink, then waits on its own thread for the
//! outcome) and the first-boot wizard's provisioning (writes the config file
//! through `crate::provision`, then stops the kiosk so systemd starts it
//! again with the new config, as the hub's `reload_config` does).

use super::ambient::SyncState;
use super::feed::{link_state, sync_outcome};
use super::handle::UiHandle;
use super::wizard::ProvisionForm;
use crate::clock::{Clock, SystemClock};
use crate::provision::{self, config_file::ConfigFile, ProvisionAnswers, ProvisionError};
use crate::uplink::UplinkMonitor;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the operations need from the running kiosk.
#[derive(Debug, Clone)]
pub struct Ops {
    /// The running uplink; `None` when the device has no hub.
    pub hub: Option<UplinkMonitor>,
    /// The config file the wizard writes; `None` when the kiosk runs on the
    /// built-in demo configuration.
    pub config_path: Option<PathBuf>,
    /// Setting it stops the kiosk cleanly.
    pub stop: Arc<AtomicBool>,
    syncing: Arc<AtomicBool>,
}

impl Ops {
    pub fn new(hub: Option<UplinkMonitor>, config_path: Option<PathBuf>, stop: Arc<AtomicBool>) -> Self {
        Ops { hub, config_path, stop, syncing: Arc::new(AtomicBool::new(false)) }
    }

    /// "Sync now" from the technician panel; the answer appears on the panel.
    pub fn sync_now(&self, ui: &UiHandle) {
        let Some(hub) = self.hub.clone() else {
            let _ = ui.update_ambient(|a| a.sync = SyncState::NoHub);
            return;
        };
        if self.syncing.swap(true, Ordering::SeqCst) {
            return; // a press while one is running changes nothing
        }
        let _ = ui.update_ambient(|a| a.sync = SyncState::Requested);
        hub.sync_now();
        let (ui, syncing) = (ui.clone(), self.syncing.clone());
        let spawned = std::thread::Builder::new().name("sync-now".into()).spawn(move || {
            let clock = SystemClock::new();
            let started = clock.now().mono_ms;
            loop {
                std::thread::sleep(Duration::from_millis(250));
                let st = hub.status();
                let now = clock.now();
                if let Some(outcome) = sync_outcome(&st, now.mono_ms - started, now.wall_ms) {
                    tracing::info!(?outcome, "sync requested from the technician panel");
                    let link = link_state(Some(&st));
                    let _ = ui.update_ambient(move |a| {
                        a.sync = outcome;
                        a.link = link;
                        a.last_sync_ms = st.last_sync_ms.or(a.last_sync_ms);
                    });
                    break;
                }
            }
            syncing.store(false, Ordering::SeqCst);
        });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot wait for the sync");
            self.syncing.store(false, Ordering::SeqCst);
        }
    }

    /// Writes the wizard's answers into the config file and stops the kiosk
    /// (systemd starts it again with them). On error nothing is written and
    /// the message, Chinese first, is for the wizard to show.
    pub fn provision(&self, form: &ProvisionForm) -> Result<(), String> {
        let Some(path) = &self.config_path else {
            return Err("没有配置文件：演示模式下不能保存。No config file: the demo configuration cannot be provisioned (run with --config).".into());
        };
        provision_config(path, form).map_err(|e| match e {
            ProvisionError::Invalid(problems) => {
                let missing: Vec<String> = problems.iter().map(|p| format!("{:?}: {}", p.field, p.message)).collect();
                format!("配置未保存，请用 microclass provision 补全：{}", missing.join("; "))
            }
            other => format!("配置未保存 Config not written: {other}"),
        })?;
        tracing::info!(config = %path.display(), district = %form.district, centre = %form.centre, device = %form.device, board = %form.board, "provisioned from the first-boot wizard; restarting");
        self.stop.store(true, Ordering::SeqCst);
        Ok(())
    }
}

/// Merges the wizard's answers into the config file at `path` with the same
/// rules as `microclass provision`, and writes it atomically when complete.
pub fn provision_config(path: &Path, form: &ProvisionForm) -> Result<(), ProvisionError> {
    let answers = ProvisionAnswers {
        district: Some(form.district.clone()),
        centre: Some(form.centre.clone()),
        device_id: Some(form.device.clone()),
        hub_url: Some(form.hub.clone()),
        signing_key: Some(form.hub_key.clone()),
        board: Some(form.board.clone()),
        technician_pin: Some(form.pin.clone()),
        ..ProvisionAnswers::default()
    };
    let mut file = ConfigFile::load(path)?;
    provision::apply(&mut file, &answers)?;
    provision::commit(&file, &answers)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";

    fn form() -> ProvisionForm {
        ProvisionForm {
            district: "d01".into(),
            centre: "c-17".into(),
            device: "pi_3".into(),
            board: "sim".into(),
            hub: "mqtt://10.0.0.2:1883".into(),
            hub_key: KEY.into(),
            pin: "258036".into(),
        }
    }

    #[test]
    fn the_wizard_writes_the_config_and_stops_the_kiosk_for_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, include_str!("../../debian/config.toml")).unwrap();
        let ops = Ops::new(None, Some(path.clone()), Arc::new(AtomicBool::new(false)));
        ops.provision(&form()).expect("provisioned");
        assert!(ops.stop.load(Ordering::SeqCst), "the kiosk stops so systemd restarts it");
        let cfg = crate::config::Config::load(&path).expect("the written config loads");
        assert_eq!((cfg.device.district.as_str(), cfg.device.centre.as_str(), cfg.device.id.as_str()), ("d01", "c-17", "pi_3"));
        assert_eq!(cfg.hub.url, "mqtt://10.0.0.2:1883");
        assert_eq!(cfg.hub.rest.get("hub_public_key").and_then(|v| v.as_str()), Some(KEY));
        assert_eq!(cfg.board.kind, crate::config::BoardKind::Sim);
        assert!(crate::provision::pin::verify_pin("258036", cfg.ui.technician_pin_hash.as_deref().unwrap()).unwrap());
        assert_eq!(cfg.device.data_dir, PathBuf::from("/var/lib/microclass"), "the rest of the file is kept");
        assert!(std::fs::read_to_string(&path).unwrap().contains("# Fill it in on the touchscreen"), "and its comments");
    }

    #[test]
    fn answers_the_provisioning_rules_refuse_are_not_written_and_the_kiosk_keeps_running() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let before = "[device]\ndata_dir = \"/var/lib/microclass\"\n";
        std::fs::write(&path, before).unwrap();
        let ops = Ops::new(None, Some(path.clone()), Arc::new(AtomicBool::new(false)));
        let bad = ProvisionForm { hub_key: "abcd".into(), board: "/nonexistent/board.toml".into(), ..form() };
        let err = ops.provision(&bad).unwrap_err();
        assert!(err.contains("SigningKey") && err.contains("Board") && err.contains("microclass provision"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
        assert!(!ops.stop.load(Ordering::SeqCst));
        let demo = Ops::new(None, None, Arc::new(AtomicBool::new(false)));
        assert!(demo.provision(&form()).unwrap_err().contains("No config file"));
    }

    #[test]
    fn a_config_directory_the_kiosk_cannot_write_leaves_the_file_and_says_why() {
        use std::os::unix::fs::PermissionsExt;
        if unsafe { libc::geteuid() } == 0 {
            eprintln!("skipped: root writes into read-only directories");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc");
        std::fs::create_dir(&etc).unwrap();
        let path = etc.join("config.toml");
        let before = include_str!("../../debian/config.toml");
        std::fs::write(&path, before).unwrap();
        std::fs::set_permissions(&etc, std::fs::Permissions::from_mode(0o500)).unwrap();
        let ops = Ops::new(None, Some(path.clone()), Arc::new(AtomicBool::new(false)));
        let err = ops.provision(&form()).unwrap_err();
        std::fs::set_permissions(&etc, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(err.contains("Config not written") && err.contains("config.toml"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
        assert!(!ops.stop.load(Ordering::SeqCst));
    }
}
