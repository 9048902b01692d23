//! `microclass screenshot <file.png>`: asks the running kiosk (over its
//! control socket, command `screenshot <absolute path>`) to save what its
//! screen shows now. The kiosk answers with `ok <path> <bytes>`.

use anyhow::{Context, Result};
use microclass::app::control;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct ScreenshotArgs {
    /// Where to save the PNG.
    pub file: PathBuf,
    /// The kiosk's control socket (default: control.sock in the data dir).
    #[arg(long)]
    pub socket: Option<PathBuf>,
}

pub fn run(args: ScreenshotArgs, socket: PathBuf) -> Result<()> {
    let socket = args.socket.unwrap_or(socket);
    // The kiosk may run in another directory: give it an absolute path.
    let file = if args.file.is_absolute() { args.file.clone() } else { std::env::current_dir().context("current directory")?.join(&args.file) };
    match control::request(&socket, &format!("screenshot {}", file.display())).context("screenshot")? {
        microclass::app::reply::Reply::Ok(text) => {
            println!("{text}");
            Ok(())
        }
        other => anyhow::bail!("screenshot: {other}"),
    }
}
