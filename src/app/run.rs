//! The kiosk loop and its input threads. The loop owns the shell; every
//! other thread only sends `Input`s. The loop never panics on bad input.

use super::lines::screen_line;
use super::{Input, Presenter, Shell, Shown};
use crate::core::Event;
use crate::hw::{CardReader, ReaderError};
use crate::model::CardUid;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

/// How the headless kiosk prints what it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LineFormat {
    Text,
    Json,
}

/// Prints one line per shown screen on stdout (flushed: a printed line is an
/// acknowledged tap).
pub struct LinePresenter {
    pub format: LineFormat,
}

impl Presenter for LinePresenter {
    fn present(&mut self, shown: &Shown) {
        let Some(screen) = &shown.screen else { return };
        let line = screen_line(screen);
        let text = match self.format {
            LineFormat::Text => line,
            LineFormat::Json => serde_json::json!({ "tap": shown.tap_id, "line": line, "screen": screen, "sound": shown.sound }).to_string(),
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }
}

/// Runs until `Input::Shutdown`, the `stop` flag, or all senders are gone.
/// `on_iteration` runs once per loop turn (the service watchdog hangs here).
pub fn run_loop(shell: &mut Shell, rx: Receiver<Input>, stop: Arc<AtomicBool>, tick: Duration, mut on_iteration: impl FnMut(&mut Shell)) {
    loop {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        match rx.recv_timeout(tick) {
            Ok(Input::Tap { uid, reply }) => {
                let shown = shell.tap(uid);
                if let Some(r) = reply {
                    let line = match (&shown.screen, &shown.tap_id) {
                        (Some(s), Some(id)) => format!("{id} {}", screen_line(s)),
                        (Some(s), None) => format!("- {}", screen_line(s)),
                        (None, _) => "- debounced (same card within the debounce window)".to_string(),
                    };
                    let _ = r.send(line);
                }
            }
            Ok(Input::Event(e)) => {
                shell.event(e);
            }
            Ok(Input::Lookup { course_id, reply }) => {
                let _ = reply.send(shell.played_course(&course_id));
            }
            Ok(Input::ReaderFault(msg)) => {
                shell.reader_fault(&msg);
            }
            Ok(Input::Shutdown) => break,
            Err(RecvTimeoutError::Timeout) => {
                shell.event(Event::Tick);
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
        on_iteration(shell);
    }
}

/// Polls a reader on its own thread and forwards taps to the loop.
pub fn spawn_reader(mut reader: Box<dyn CardReader>, tx: Sender<Input>, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    std::thread::Builder::new().name("reader".into()).spawn(move || {
        tracing::info!(reader = %reader.describe(), "card reader started");
        let mut failing = false;
        while !stop.load(Ordering::SeqCst) {
            match reader.next_tap(Duration::from_millis(200)) {
                Ok(Some(uid)) => {
                    failing = false;
                    if tx.send(Input::Tap { uid, reply: None }).is_err() {
                        return;
                    }
                }
                Ok(None) => failing = false,
                Err(ReaderError::Closed) => return,
                Err(e) => {
                    if !failing {
                        let _ = tx.send(Input::ReaderFault(e.to_string()));
                    }
                    failing = true;
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
    })?;
    Ok(())
}

/// Reads card UIDs, one per line, from standard input (simulated board).
pub fn spawn_stdin_taps(tx: Sender<CardUid>) -> std::io::Result<()> {
    std::thread::Builder::new().name("stdin".into()).spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { return };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match CardUid::parse(line) {
                Ok(uid) => {
                    if tx.send(uid).is_err() {
                        return;
                    }
                }
                Err(e) => tracing::warn!(input = line, error = %e, "ignoring a line that is not a card UID"),
            }
        }
    })?;
    Ok(())
}
