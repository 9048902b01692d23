//! `microclass run`: the kiosk. Parses the arguments, applies their
//! overrides to the config and picks the front (printed lines or the
//! touchscreen); `app::assemble::run` builds and runs the rest until
//! SIGTERM/SIGINT. Every decision is committed before it is shown, so
//! stopping at any moment loses nothing that was acknowledged.

use anyhow::Result;
use microclass::app::assemble::{self, Assembly, Device, Front, LineFront};
use microclass::app::run::LineFormat;
use microclass::config::{BoardConfig, BoardKind, Loaded};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Override the board kind of the config (`sim` on a PC).
    #[arg(long, value_enum)]
    pub board: Option<BoardArg>,
    /// Override the data dir of the config.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Load the demo roster and catalogue when the store has no roster.
    #[arg(long)]
    pub demo: bool,
    /// How screens are printed when there is no UI.
    #[arg(long, value_enum, default_value = "text")]
    pub output: LineFormat,
    /// Do not read card UIDs from standard input (simulated board).
    #[arg(long)]
    pub no_stdin: bool,
    /// Show the touchscreen UI: winit (desktop), linuxkms (Pi), headless, or auto.
    #[arg(long, value_enum)]
    pub ui: Option<microclass::ui::backend::Backend>,
    /// Window size for the UI (headless and desktop).
    #[arg(long, default_value = "800x480", value_parser = super::ui::parse_size)]
    pub ui_size: (u32, u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BoardArg {
    Sim,
    Pi,
}

/// `config_path`: the file the config came from (`None` for the demo configuration).
/// A file without the device's identity starts the first-boot wizard when
/// there is a screen, and is refused without one.
pub fn run(args: RunArgs, loaded: Loaded, config_path: Option<PathBuf>, log: Arc<dyn microclass::logging::LogControl>) -> Result<()> {
    let stdin_taps = !args.no_stdin;
    let (device, front): (Device, Box<dyn Front>) = match loaded {
        Loaded::Ready(mut cfg) => {
            overrides(&args, &mut cfg.board, &mut cfg.device.data_dir);
            let front: Box<dyn Front> = match args.ui {
                Some(backend) => Box::new(super::ui::front(backend, args.ui_size, &cfg, config_path)),
                None => Box::new(LineFront { format: args.output }),
            };
            (Device::Provisioned { cfg, log, demo: args.demo }, front)
        }
        Loaded::NeedsProvisioning(mut u) => {
            let Some(backend) = args.ui else {
                // Without a screen nobody can answer the wizard.
                let path = config_path.unwrap_or_else(|| PathBuf::from(super::DEFAULT_CONFIG));
                return Err(microclass::config::ConfigError::NotProvisioned { path, missing: u.missing }.into());
            };
            overrides(&args, &mut u.board, &mut u.data_dir);
            let front = Box::new(super::ui::first_boot_front(backend, args.ui_size, &u, config_path));
            (Device::FirstBoot(u), front)
        }
    };
    assemble::run(Assembly { device, stdin_taps }, front)?;
    Ok(())
}

/// Applies the command line's overrides to the board and data dir.
fn overrides(args: &RunArgs, board: &mut BoardConfig, data_dir: &mut PathBuf) {
    match args.board {
        Some(BoardArg::Sim) => board.kind = BoardKind::Sim,
        Some(BoardArg::Pi) => board.kind = BoardKind::Pi,
        None => {}
    }
    if let Some(d) = &args.data_dir {
        *data_dir = d.clone();
    }
}
