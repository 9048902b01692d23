//! `microclass run --ui <backend>`: the kiosk with its touchscreen. Builds the
//! UI options from the config (or, on a device without its identity, for the
//! first-boot wizard) and hands the kiosk loop to `ui::kiosk::run`.

use anyhow::{Context, Result};
use microclass::app::{Input, Shell};
use microclass::clock::Clock;
use microclass::config::{Config, Unprovisioned};
use microclass::core::CoreConfig;
use microclass::hw::Indicator;
use microclass::store::Store;
use microclass::ui::backend::Backend;
use microclass::ui::kiosk::{self, UiOptions};
use microclass::ui::DeviceFact;
use microclass::uplink::UplinkMonitor;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

/// Parses `800x480`.
pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once('x').ok_or("expected WIDTHxHEIGHT, e.g. 800x480")?;
    let n = |v: &str| v.trim().parse::<u32>().ok().filter(|n| (100..=8192).contains(n)).ok_or(format!("bad size {s:?}"));
    Ok((n(w)?, n(h)?))
}

#[allow(clippy::too_many_arguments)]
pub fn run(backend: Backend, size: (u32, u32), cfg: &Config, config_path: Option<PathBuf>, hub: Option<UplinkMonitor>, store: Store, clock: Arc<dyn Clock>, indicator: Box<dyn Indicator>, rx: Receiver<Input>, tx: Sender<Input>, stop: Arc<AtomicBool>, socket: &Path) -> Result<()> {
    let (presenter, inbox) = kiosk::presenter();
    let mut shell = Shell::new(CoreConfig::from_config(cfg), store, clock, indicator, presenter).context("restoring the kiosk state")?;
    shell.check_at_start(&cfg.device.data_dir);
    let d = &cfg.device;
    let opts = UiOptions {
        backend,
        width: size.0,
        height: size.1,
        centre_name: if d.centre_name.is_empty() { d.centre.clone() } else { d.centre_name.clone() },
        utc_offset_s: d.utc_offset_minutes * 60,
        quota_hours: cfg.attendance.yearly_quota_hours,
        minutes_per_hour: cfg.attendance.minutes_per_study_hour,
        pin_hash: cfg.ui.technician_pin_hash.clone(),
        device_facts: vec![
            DeviceFact { label: "设备 Device".into(), value: format!("{} / {} / {} · v{}", d.district, d.centre, d.id, env!("CARGO_PKG_VERSION")), ok: true },
            DeviceFact { label: "数据 Data".into(), value: d.data_dir.display().to_string(), ok: true },
            DeviceFact { label: "督导 Hub".into(), value: if cfg.hub.url.is_empty() { "-".into() } else { cfg.hub.url.clone() }, ok: !cfg.hub.url.is_empty() },
        ],
        hub_configured: !cfg.hub.url.is_empty(),
        hub,
        config_path,
        first_boot: false,
        boards: Vec::new(),
        cache_dir: Some(cfg.library.resolved(&d.data_dir).cache_dir),
    };
    tracing::info!(centre = %d.centre, device = %d.id, socket = %socket.display(), "kiosk running with its screen");
    kiosk::run(opts, shell, rx, tx, stop, inbox).context("touchscreen UI")?;
    let _ = std::fs::remove_file(socket);
    Ok(())
}

/// The kiosk of a device without its identity: the first-boot wizard over
/// everything, a shell that records nothing, no hub. Returns after the
/// wizard's config is written (or on SIGTERM).
#[allow(clippy::too_many_arguments)]
pub fn run_first_boot(backend: Backend, size: (u32, u32), u: &Unprovisioned, config_path: Option<PathBuf>, store: Store, clock: Arc<dyn Clock>, indicator: Box<dyn Indicator>, rx: Receiver<Input>, tx: Sender<Input>, stop: Arc<AtomicBool>, socket: &Path) -> Result<()> {
    let (presenter, inbox) = kiosk::presenter();
    let shell = Shell::first_boot(store, clock, indicator, presenter);
    let opts = UiOptions {
        backend,
        width: size.0,
        height: size.1,
        centre_name: String::new(),
        utc_offset_s: u.utc_offset_minutes * 60,
        quota_hours: u.attendance.yearly_quota_hours,
        minutes_per_hour: u.attendance.minutes_per_study_hour,
        pin_hash: None,
        device_facts: vec![DeviceFact { label: "设备 Device".into(), value: format!("not provisioned · v{}", env!("CARGO_PKG_VERSION")), ok: false }],
        hub_configured: false,
        hub: None,
        config_path,
        first_boot: true,
        boards: microclass::board::choices(Path::new(microclass::board::BOARD_DIR)),
        cache_dir: None,
    };
    tracing::info!(socket = %socket.display(), "first-boot wizard on the screen");
    kiosk::run(opts, shell, rx, tx, stop, inbox).context("touchscreen UI")?;
    let _ = std::fs::remove_file(socket);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screen_sizes_are_written_width_x_height() {
        assert_eq!(parse_size("800x480"), Ok((800, 480)));
        assert!(parse_size("800").is_err());
        assert!(parse_size("0x480").is_err());
    }
}
