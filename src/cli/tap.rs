//! `microclass tap <UID>...` and `microclass ctl <action>...`: clients of a
//! running kiosk's control socket. They print what the kiosk answered and
//! exit with its kind: 0 `ok`, 3 `ignored: why`, 1 `error: why` (or no kiosk).

use anyhow::{Context, Result};
use microclass::app::control;
use microclass::app::reply::Reply;
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

/// Prints a reply where it belongs; errors go to stderr.
fn show(reply: &Reply) {
    match reply {
        Reply::Ok(text) => println!("{text}"),
        Reply::Ignored(_) => println!("{reply}"),
        Reply::Error(_) => eprintln!("{reply}"),
    }
}

/// Taps each card in turn; stops at the first error. The exit code is the
/// worst reply's: an error beats an ignored tap.
pub fn run(args: TapArgs, socket: PathBuf) -> Result<i32> {
    let socket = args.socket.unwrap_or(socket);
    let mut code = 0;
    for uid in &args.uids {
        let reply = control::request(&socket, &format!("tap {uid}")).with_context(|| format!("tap {uid:?}"))?;
        show(&reply);
        match reply {
            Reply::Error(_) => return Ok(reply.exit_code()),
            Reply::Ignored(_) => code = reply.exit_code(),
            Reply::Ok(_) => {}
        }
    }
    Ok(code)
}

#[derive(clap::Args, Debug)]
pub struct CtlArgs {
    /// The action and its arguments, e.g. `start-session 微党课` or `rate 5`.
    #[arg(required = true, num_args = 1..)]
    pub action: Vec<String>,
    /// The kiosk's control socket (default: control.sock in the data dir).
    #[arg(long)]
    pub socket: Option<PathBuf>,
}

pub fn ctl(args: CtlArgs, socket: PathBuf) -> Result<i32> {
    let socket = args.socket.unwrap_or(socket);
    let command = args.action.join(" ");
    let reply = control::request(&socket, &command).with_context(|| args.action[0].clone())?;
    show(&reply);
    Ok(reply.exit_code())
}
