//! `microclass doctor`: builds the real `DoctorEnv` from the config file and
//! prints the report (human lines or `--json`). The exit code is the verdict:
//! 0 when nothing failed, 1 when a check failed. A config that does not load
//! is itself a failed line; the local checks still run with default paths.

use microclass::config::{BoardKind, Config};
use microclass::doctor::{self, hub::HubTarget, Check, DoctorEnv, ReaderTarget, Report};
use microclass::provision::{DeviceSettings, DEFAULT_CONFIG_PATH};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(clap::Args, Debug, Clone, Default)]
pub struct DoctorArgs {
    /// Print the report as JSON (for the hub and scripts).
    #[arg(long)]
    pub json: bool,
    /// The kiosk runs without a screen: skip the display check.
    #[arg(long)]
    pub headless: bool,
    /// Skip the hub checks (no network here).
    #[arg(long)]
    pub no_hub: bool,
    /// Seconds per network step.
    #[arg(long, default_value_t = 5)]
    pub timeout: u64,
    /// Run one check interactively instead of the whole report.
    #[command(subcommand)]
    pub check: Option<DoctorCheck>,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum DoctorCheck {
    /// Open the card reader, print its chip version or USB device, wait for a card.
    Reader(super::doctor_reader::DoctorReaderArgs),
}

pub fn run(args: DoctorArgs, config: Option<&Path>) -> i32 {
    let path = config.unwrap_or(Path::new(DEFAULT_CONFIG_PATH));
    let mut checks = Vec::new();
    let cfg = match Config::load(path) {
        Ok(c) => {
            checks.push(Check::ok("config", format!("{} loads", path.display())));
            Some(c)
        }
        Err(e) => {
            checks.push(Check::fail("config", e.to_string(), "run `microclass provision` to write or fix it"));
            None
        }
    };
    let env = build_env(&args, path, cfg.as_ref());
    let mut report = doctor::run_all(&env);
    if args.no_hub {
        report.checks.retain(|c| !c.id.starts_with("hub."));
        report.checks.push(Check::skip("hub", "skipped (--no-hub)"));
    }
    checks.append(&mut report.checks);
    let report = Report::new(checks);
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_human());
    }
    report.exit_code()
}

fn build_env(args: &DoctorArgs, path: &Path, cfg: Option<&Config>) -> DoctorEnv {
    let data_dir = cfg.map(|c| c.device.data_dir.clone()).unwrap_or_else(|| PathBuf::from("/var/lib/microclass"));
    let db_path = cfg.map(Config::db_path).unwrap_or_else(|| data_dir.join("microclass.db"));
    let hub = if cfg.is_some() {
        DeviceSettings::load(path).map_err(|e| e.to_string()).and_then(|s| HubTarget::from_settings(&s))
    } else {
        Err("no usable config file".into())
    };
    let mut env = DoctorEnv::system(data_dir, db_path, hub);
    env.headless = args.headless;
    env.timeout = Duration::from_secs(args.timeout.max(1));
    if let Some(c) = cfg {
        // A board file that does not load leaves the default SPI reader: the
        // kiosk itself refuses to start on it and says why.
        let board = match (c.board.kind, &c.board.file) {
            (BoardKind::Pi, Some(f)) => microclass::board::Board::load(f).ok(),
            _ => None,
        };
        env.reader = ReaderTarget::for_board(&c.board, board.as_ref());
        match &env.reader {
            ReaderTarget::Spi(path) => env.spi_device = Some(path.clone()),
            _ => env.spi_device = None,
        }
    }
    env
}
