//! `microclass tap <UID>...`: presents cards to a running kiosk through its
//! control socket and prints what the kiosk answered.

use anyhow::{Context, Result};
use microclass::app::control;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct TapArgs {
    /// Card UIDs in hex (e.g. 04A1B2C3 or 04:A1:B2:C3).
    #[arg(required = true)]
    pub uids: Vec<String>,
    /// The kiosk's control socket (default: control.sock in the data dir).
    #[arg(long)]
    pub socket: Option<PathBuf>,
}

pub fn run(args: TapArgs, socket: PathBuf) -> Result<()> {
    let socket = args.socket.unwrap_or(socket);
    for uid in &args.uids {
        let reply = control::request(&socket, &format!("tap {uid}")).with_context(|| format!("tap {uid}"))?;
        println!("{reply}");
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct CtlArgs {
    /// The action and its arguments, e.g. `start-session 微党课` or `rate 5`.
    #[arg(required = true, trailing_var_arg = true)]
    pub action: Vec<String>,
    /// The kiosk's control socket (default: control.sock in the data dir).
    #[arg(long)]
    pub socket: Option<PathBuf>,
}

pub fn ctl(args: CtlArgs, socket: PathBuf) -> Result<()> {
    let socket = args.socket.unwrap_or(socket);
    let command = args.action.join(" ");
    let reply = control::request(&socket, &command).with_context(|| command.clone())?;
    println!("{reply}");
    Ok(())
}
