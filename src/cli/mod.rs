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
pub mod hub;
pub mod run;
pub mod screenshot;
pub mod tap;
pub mod ui;
pub mod uplink;

use anyhow::{Context, Result};
use microclass::config::Config;
use std::path::{Path, PathBuf};

pub const DEFAULT_CONFIG: &str = "/etc/microclass/config.toml";

/// Loads the config. Without an explicit path and without the default file,
/// a simulated board gets a demo configuration (so the kiosk runs on a PC).
pub fn load_config(path: Option<&Path>, sim_fallback: Option<&Path>) -> Result<Config> {
    if let Some(p) = path {
        return Config::load(p).map_err(anyhow::Error::from);
    }
    let default = Path::new(DEFAULT_CONFIG);
    if default.exists() {
        return Config::load(default).map_err(anyhow::Error::from);
    }
    match sim_fallback {
        Some(data_dir) => {
            let text = format!(
                "[device]\ndistrict = \"demo\"\ncentre = \"demo-centre\"\ncentre_name = \"示范社区微课堂\"\nid = \"sim-1\"\ndata_dir = {:?}\n",
                data_dir.display().to_string()
            );
            let cfg = Config::parse(&text).map_err(|e| anyhow::anyhow!("built-in demo config: {e}"))?;
            tracing::info!(data_dir = %data_dir.display(), "no config file: using the demo configuration");
            Ok(cfg)
        }
        None => anyhow::bail!("no config file: pass --config or create {DEFAULT_CONFIG} (see `microclass provision`)"),
    }
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
