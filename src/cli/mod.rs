//! Command-line front end: argument types and the config resolution shared
//! by the subcommands. Each subcommand lives in its own file.

pub mod bench;
pub mod demo;
pub mod doctor;
pub mod doctor_reader;
pub mod export;
pub mod fetch;
pub mod import;
pub mod provision;
pub mod run;
pub mod screenshot;
pub mod tap;
pub mod ui;
pub mod uplink;

use anyhow::{Context, Result};
use microclass::config::{Config, Loaded};
use std::path::{Path, PathBuf};

pub const DEFAULT_CONFIG: &str = "/etc/microclass/config.toml";

/// Loads the config. Without an explicit path and without the default file,
/// a simulated board gets a demo configuration (so the kiosk runs on a PC).
/// A file without the device's identity is an error naming the way out.
pub fn load_config(path: Option<&Path>, sim_fallback: Option<&Path>) -> Result<Config> {
    match load_any(path, sim_fallback)? {
        (Loaded::Ready(cfg), _) => Ok(cfg),
        (Loaded::NeedsProvisioning(u), file) => {
            let path = file.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
            Err(microclass::config::ConfigError::NotProvisioned { path, missing: u.missing }.into())
        }
    }
}

/// As [`load_config`], but a file that only lacks the device's identity
/// loads as `NeedsProvisioning` (the kiosk then shows the first-boot wizard).
pub fn load_for_run(path: Option<&Path>, sim_fallback: Option<&Path>) -> Result<Loaded> {
    Ok(load_any(path, sim_fallback)?.0)
}

/// The running kiosk's control socket, from a provisioned config or not.
pub fn control_socket(path: Option<&Path>) -> Result<PathBuf> {
    Ok(match load_any(path, Some(&demo_data_dir()))?.0 {
        Loaded::Ready(cfg) => cfg.control_socket(),
        Loaded::NeedsProvisioning(u) => u.control_socket(),
    })
}

/// The loaded config and the file it came from (`None`: the demo configuration).
fn load_any(path: Option<&Path>, sim_fallback: Option<&Path>) -> Result<(Loaded, Option<PathBuf>)> {
    if let Some(p) = path {
        return Ok((Config::load_any(p)?, Some(p.to_path_buf())));
    }
    let default = Path::new(DEFAULT_CONFIG);
    if default.exists() {
        return Ok((Config::load_any(default)?, Some(default.to_path_buf())));
    }
    let cfg = match sim_fallback {
        Some(data_dir) => {
            let text = format!(
                "[device]\ndistrict = \"demo\"\ncentre = \"demo-centre\"\ncentre_name = \"示范社区微课堂\"\nid = \"sim-1\"\ndata_dir = {:?}\n",
                data_dir.display().to_string()
            );
            let cfg = Config::parse(&text).map_err(|e| anyhow::anyhow!("built-in demo config: {e}"))?;
            tracing::info!(data_dir = %data_dir.display(), "no config file: using the demo configuration");
            cfg
        }
        None => anyhow::bail!("no config file: pass --config or create {DEFAULT_CONFIG} (see `microclass provision`)"),
    };
    Ok((Loaded::Ready(cfg), None))
}

/// The config file `load_config` reads, if any (`None`: the demo configuration).
pub fn config_path(path: Option<&Path>) -> Option<PathBuf> {
    match path {
        Some(p) => Some(p.to_path_buf()),
        None => Some(PathBuf::from(DEFAULT_CONFIG)).filter(|p| p.exists()),
    }
}

/// The data dir for the demo configuration.
pub fn demo_data_dir() -> PathBuf {
    PathBuf::from("microclass-data")
}

pub fn ensure_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create data dir {}", dir.display()))
}
