//! The kiosk loop and its input threads. The loop owns the shell; every
//! other thread only sends `Input`s. The loop never panics on bad input.

use super::framing::{read_frame, Frame, Throttle};
use super::lines::screen_line;
use super::reply::{self, Reply};
use super::{Input, Presenter, Shell, Shown};
use crate::core::Event;
use crate::hw::{CardReader, ReaderError};
use crate::model::CardUid;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// A reader test waiting for a card: the next card read before `until` goes
/// to `reply` instead of being a tap.
struct ReaderTestArm {
    reply: Sender<CardUid>,
    until: Instant,
}

/// The reader test a card read at `now` answers, if one is waiting; an
/// expired one is dropped (its caller has timed out).
fn reader_test_for(arm: &mut Option<ReaderTestArm>, now: Instant) -> Option<Sender<CardUid>> {
    arm.take().filter(|a| now < a.until).map(|a| a.reply)
}

/// Runs until `Input::Shutdown`, the `stop` flag, or all senders are gone.
/// `on_iteration` runs once per loop turn (the service watchdog hangs here).
pub fn run_loop(shell: &mut Shell, rx: Receiver<Input>, stop: Arc<AtomicBool>, tick: Duration, mut on_iteration: impl FnMut(&mut Shell)) {
    let mut reader_test: Option<ReaderTestArm> = None;
    loop {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        match rx.recv_timeout(tick) {
            Ok(Input::Tap { uid, reply }) if reader_test.is_some() => {
                match reader_test_for(&mut reader_test, Instant::now()) {
                    Some(test) => {
                        tracing::info!(%uid, "reader test: card read");
                        let _ = test.send(uid.clone());
                        if let Some(r) = reply {
                            let _ = r.send(Reply::Ok(format!("- reader test: card {uid} read")));
                        }
                    }
                    None => tap(shell, uid, reply),
                }
            }
            Ok(Input::ReaderTest { within, reply }) => {
                reader_test = Some(ReaderTestArm { reply, until: Instant::now() + within });
            }
            Ok(Input::Playable { course_id, cache_dir, reply }) => {
                let _ = reply.send(shell.played_course(&course_id).map(|c| (c, shell.cached_files(&course_id, &cache_dir))));
            }
            Ok(Input::Tap { uid, reply }) => tap(shell, uid, reply),
            Ok(Input::Event(e)) => {
                shell.event(e);
            }
            Ok(Input::Action { event, reply }) => {
                let why = reply::why_refused(&event, shell.kiosk().state());
                let shown = shell.event(event);
                let _ = reply.send(reply::for_action(shell.provisioned(), &shown, why));
            }
            Ok(Input::Lookup { course_id, reply }) => {
                let _ = reply.send(shell.played_course(&course_id));
            }
            Ok(Input::HubEnrol { uid, member_id, reply }) => {
                let _ = reply.send(shell.hub_enrol(uid, member_id));
            }
            Ok(Input::ReaderFault(msg)) => {
                shell.reader_fault(&msg);
            }
            Ok(Input::ReaderBack) => shell.reader_back(),
            Ok(Input::Shutdown) => break,
            Err(RecvTimeoutError::Timeout) => {
                shell.event(Event::Tick);
                shell.idle();
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
        on_iteration(shell);
    }
}

fn tap(shell: &mut Shell, uid: CardUid, reply: Option<Sender<Reply>>) {
    let shown = shell.tap(uid);
    if let Some(r) = reply {
        let _ = r.send(reply::for_tap(shell.provisioned(), &shown));
    }
}

/// Polls a reader on its own thread and forwards taps to the loop.
pub fn spawn_reader(mut reader: Box<dyn CardReader>, tx: Sender<Input>, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    std::thread::Builder::new().name("reader".into()).spawn(move || {
        tracing::info!(reader = %reader.describe(), "card reader started");
        let mut failing = false;
        while !stop.load(Ordering::SeqCst) {
            let read = reader.next_tap(Duration::from_millis(200));
            crate::hw::counters::publish(reader.counters());
            if failing && matches!(read, Ok(_) | Err(ReaderError::SeveralCards)) {
                failing = false;
                if tx.send(Input::ReaderBack).is_err() {
                    return;
                }
            }
            match read {
                Ok(Some(uid)) => {
                    if tx.send(Input::Tap { uid, reply: None }).is_err() {
                        return;
                    }
                }
                Ok(None) => {}
                Err(ReaderError::Closed) => return,
                Err(ReaderError::SeveralCards) => {
                    if tx.send(Input::Event(Event::SeveralCards)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    if !failing {
                        let _ = tx.send(Input::ReaderFault(e.to_string()));
                    }
                    failing = true;
                    // Bounded, so a stop request is seen and a returning reader is soon picked up.
                    std::thread::sleep(Duration::from_millis(250));
                }
            }
        }
    })?;
    Ok(())
}

/// The longest stdin line read as a card UID; longer lines are skipped unread.
pub const MAX_STDIN_LINE_BYTES: usize = 256;

/// Reads card UIDs, one per line, from standard input (simulated board).
/// Bad lines (too long, not UTF-8, not a UID) are skipped and logged with a
/// throttle, so no input can stop the reader or flood the log.
pub fn spawn_stdin_taps(tx: Sender<CardUid>) -> std::io::Result<()> {
    std::thread::Builder::new().name("stdin".into()).spawn(move || {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        let (mut too_long, mut not_utf8, mut not_uid) = (Throttle::default(), Throttle::default(), Throttle::default());
        loop {
            let line = match read_frame(&mut input, MAX_STDIN_LINE_BYTES) {
                Ok(Some(Frame::Line(line))) => line,
                Ok(Some(Frame::TooLong { len })) => {
                    if too_long.should_log(1000) {
                        tracing::warn!(bytes = len, limit = MAX_STDIN_LINE_BYTES, so_far = too_long.count(), "ignoring an overlong stdin line");
                    }
                    continue;
                }
                Ok(Some(Frame::NotUtf8)) => {
                    if not_utf8.should_log(1000) {
                        tracing::warn!(so_far = not_utf8.count(), "ignoring a stdin line that is not UTF-8");
                    }
                    continue;
                }
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "stdin read failed; no more stdin taps");
                    return;
                }
            };
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
                Err(e) => {
                    if not_uid.should_log(1000) {
                        tracing::warn!(input = line, error = %e, so_far = not_uid.count(), "ignoring a line that is not a card UID");
                    }
                }
            }
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_reader_test_takes_the_next_card_once_and_only_before_its_deadline() {
        let t0 = Instant::now();
        let (tx, rx) = std::sync::mpsc::channel();
        let mut arm = Some(ReaderTestArm { reply: tx.clone(), until: t0 + Duration::from_secs(10) });
        let reply = reader_test_for(&mut arm, t0 + Duration::from_secs(9)).expect("in time");
        reply.send(CardUid::parse("04A1").unwrap()).unwrap();
        assert_eq!(rx.recv().unwrap().to_string(), "04A1");
        assert!(reader_test_for(&mut arm, t0 + Duration::from_secs(9)).is_none(), "only the first card");
        let mut late = Some(ReaderTestArm { reply: tx, until: t0 + Duration::from_secs(10) });
        assert!(reader_test_for(&mut late, t0 + Duration::from_secs(10)).is_none());
        assert!(late.is_none(), "an expired test is dropped");
    }
}
