//! The `microclass` command: the kiosk and its tools.

mod cli;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "microclass", version, about = "Community micro-classroom sign-in terminal")]
struct Cli {
    /// Config file (default /etc/microclass/config.toml).
    #[arg(long, global = true, env = "MICROCLASS_CONFIG")]
    config: Option<PathBuf>,
    /// Log filter, e.g. `info` or `microclass=debug`.
    #[arg(long, global = true, env = "MICROCLASS_LOG", default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the kiosk.
    Run(cli::run::RunArgs),
    /// Present card(s) to a running kiosk (simulated board, tests, scripts).
    Tap(cli::tap::TapArgs),
    /// Send a screen action to a running kiosk (start-session, end-session, rate 5, ...).
    Ctl(cli::tap::CtlArgs),
    /// Run a benchmark (prints the measured ratio against its baseline).
    Bench(cli::bench::BenchArgs),
    /// Save the running kiosk's screen as a PNG.
    Screenshot(cli::screenshot::ScreenshotArgs),
    /// Load the demonstration roster and catalogue.
    DemoData(cli::demo::DemoArgs),
    /// Run only the hub uplink against the device database (drain, downlink, commands).
    Uplink(cli::uplink::UplinkArgs),
    /// Download the courses the catalogue lists into the cache.
    Fetch(cli::fetch::FetchArgs),
    /// Import courses from a USB stick folder (verified by hash).
    Import(cli::import::ImportArgs),
    /// Write a USB stick folder from the course cache.
    Export(cli::export::ExportArgs),
    /// Write or change the device configuration (prompts, or flags for scripts).
    Provision(cli::provision::ProvisionArgs),
    /// Check the hardware, storage, clock and hub link; non-zero exit on a failure.
    /// `doctor reader` opens the card reader and reads a card.
    Doctor(cli::doctor::DoctorArgs),
}

fn main() {
    let cli = Cli::parse();
    // The hub's set_log_level command changes the filter through this handle.
    let log: std::sync::Arc<dyn microclass::logging::LogControl> = std::sync::Arc::new(microclass::logging::init(&cli.log));
    let code = match dispatch(cli, log) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}

fn dispatch(cli: Cli, log: std::sync::Arc<dyn microclass::logging::LogControl>) -> Result<i32> {
    let config = cli.config.as_deref();
    match cli.command {
        Command::Fetch(args) => return cli::fetch::run(args, config),
        Command::Import(args) => return cli::import::run(args, config),
        Command::Export(args) => return cli::export::run(args, config),
        Command::Run(args) => {
            let fallback = args.data_dir.clone().unwrap_or_else(cli::demo_data_dir);
            let sim = matches!(args.board, Some(cli::run::BoardArg::Sim));
            let loaded = cli::load_for_run(config, sim.then_some(fallback.as_path()))?;
            cli::run::run(args, loaded, cli::config_path(config), log)?;
        }
        Command::Tap(args) => {
            let socket = match &args.socket {
                Some(s) => s.clone(),
                None => cli::control_socket(config)?,
            };
            return cli::tap::run(args, socket);
        }
        Command::Ctl(args) => {
            let socket = match &args.socket {
                Some(s) => s.clone(),
                None => cli::control_socket(config)?,
            };
            return cli::tap::ctl(args, socket);
        }
        Command::Screenshot(args) => {
            let socket = match &args.socket {
                Some(s) => s.clone(),
                None => cli::control_socket(config)?,
            };
            cli::screenshot::run(args, socket)?;
        }
        Command::Bench(args) => cli::bench::run(args)?,
        Command::DemoData(args) => {
            let cfg = cli::load_config(config, Some(&cli::demo_data_dir()))?;
            cli::demo::run(args, &cfg)?;
        }
        Command::Uplink(args) => {
            let cfg = cli::load_config(config, None)?;
            return cli::uplink::run(args, &cfg, log);
        }
        Command::Provision(args) => return cli::provision::run(args, config),
        Command::Doctor(args) => {
            return Ok(match args.check {
                Some(cli::doctor::DoctorCheck::Reader(r)) => cli::doctor_reader::run(r, config),
                None => cli::doctor::run(args, config),
            })
        }
    }
    Ok(0)
}
