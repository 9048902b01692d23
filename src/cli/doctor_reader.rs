//! `microclass doctor reader`: opens the configured card reader, prints the
//! chip version and self-test (MFRC522) or the USB device, waits for a card
//! and prints its UID. Thin: the check is `microclass::doctor::reader`. The exit
//! code is the verdict (0 ok or warning, 1 failure). It never opens the
//! reader while the kiosk of the same config is running (its control socket
//! answers): resetting the chip under the service would break its reads.

use microclass::board::{Board, BOARD_DIR};
use microclass::clock::SystemClock;
use microclass::config::{BoardKind, Config};
use microclass::doctor::reader::{check_reader, ReaderCheck, ReaderVerdict};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args, Debug, Clone)]
pub struct DoctorReaderArgs {
    /// Board file to check instead of the one the config names.
    #[arg(long)]
    pub board_file: Option<PathBuf>,
    /// USB reader name or /dev/input path (overrides the config).
    #[arg(long)]
    pub usb_reader: Option<String>,
    /// Seconds to wait for a card (0: only open the reader).
    #[arg(long, default_value_t = 15)]
    pub wait: u64,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the check; `config` is the --config path (default file if None).
pub fn run(args: DoctorReaderArgs, config: Option<&Path>) -> i32 {
    let check = match resolve_board(&args, config) {
        Ok((_, _, Some(socket))) => ReaderCheck {
            verdict: ReaderVerdict::Fail,
            reader: None,
            self_test: None,
            uid: None,
            detail: format!("the kiosk is running (it answers on {}) and holds the card reader", socket.display()),
            hint: Some(
                "use the reader test on the technician panel, or stop the kiosk first (systemctl stop microclass) \
                 so this check does not reset the chip under it"
                    .into(),
            ),
            counters: None,
        },
        Ok((board, usb, None)) => {
            if !args.json && args.wait > 0 && !matches!(board.reader, microclass::board::ReaderSpec::Sim(_)) {
                eprintln!("请刷卡 / tap a card on the reader within {} s ...", args.wait);
            }
            check_reader(&board, usb.as_deref(), Duration::from_secs(args.wait), Arc::new(SystemClock::new()))
        }
        Err(detail) => ReaderCheck {
            verdict: ReaderVerdict::Fail,
            reader: None,
            self_test: None,
            uid: None,
            detail,
            hint: Some(format!("pass --board-file, or set [board] file in the config (boards ship in {BOARD_DIR})")),
            counters: None,
        },
    };
    if args.json {
        println!("{}", serde_json::to_string(&check).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")));
    } else {
        print_human(&check);
    }
    match check.verdict {
        ReaderVerdict::Ok | ReaderVerdict::Warn => 0,
        ReaderVerdict::Fail => 1,
    }
}

/// The control socket of a kiosk that is running with this config, if one answers.
fn running_kiosk(cfg: &Config) -> Option<PathBuf> {
    let socket = cfg.control_socket();
    std::os::unix::net::UnixStream::connect(&socket).ok().map(|_| socket)
}

/// The board to check, the USB override, and the socket of a running kiosk (then nothing is opened).
fn resolve_board(args: &DoctorReaderArgs, config: Option<&Path>) -> Result<(Board, Option<String>, Option<PathBuf>), String> {
    let cfg = match config {
        Some(p) => Some(Config::load(p).map_err(|e| e.to_string())?),
        None => {
            let default = Path::new(super::DEFAULT_CONFIG);
            default.exists().then(|| Config::load(default)).transpose().map_err(|e| e.to_string())?
        }
    };
    let running = cfg.as_ref().and_then(running_kiosk);
    let usb = args.usb_reader.clone().or_else(|| cfg.as_ref().and_then(|c| c.board.usb_reader.clone()));
    let file = match (&args.board_file, &cfg) {
        (Some(f), _) => f.clone(),
        (None, Some(c)) if c.board.kind == BoardKind::Sim => PathBuf::from("board/sim.toml"),
        (None, Some(c)) => c.board.file.clone().ok_or("the config's [board] has no `file`")?,
        (None, None) => return Err("no config file and no --board-file".into()),
    };
    if !file.exists() && cfg.as_ref().is_some_and(|c| c.board.kind == BoardKind::Sim) {
        return Board::parse("name = \"sim\"\n[reader]\nkind = \"sim\"\n", &file).map(|b| (b, usb, running)).map_err(|e| e.to_string());
    }
    let board = Board::load(&file).map_err(|e| e.to_string())?;
    Ok((board, usb, running))
}

fn print_human(c: &ReaderCheck) {
    let mark = match c.verdict {
        ReaderVerdict::Ok => "ok  ",
        ReaderVerdict::Warn => "warn",
        ReaderVerdict::Fail => "FAIL",
    };
    println!("[{mark}] reader: {}", c.detail);
    if let Some(r) = &c.reader {
        println!("       device: {r}");
    }
    if let Some(s) = &c.self_test {
        println!("       self-test: {s}");
    }
    if let Some(u) = &c.uid {
        println!("       card UID: {u}");
    }
    if let Some(n) = &c.counters {
        println!("       counters: {} reads, {} glitches, {} rejects, {} faults", n.reads, n.glitches, n.rejects, n.faults);
    }
    if let Some(h) = &c.hint {
        println!("       hint: {h}");
    }
}

