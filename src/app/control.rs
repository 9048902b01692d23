//! The kiosk's local control socket (a Unix socket in the data dir). One
//! command per connection: one line of at most [`MAX_LINE_BYTES`], answered
//! by one reply line (`ok ...`, `ignored: why`, `error: why`, see
//! `reply.rs`), then the connection closes, so a newline inside an argument
//! can never become a second command. At most [`MAX_CONNECTIONS`] are served
//! at once; a client that sends nothing within [`READ_TIMEOUT`] is dropped.
//! Commands: `tap <UID>`, `ping`, the screen actions `start-session [title]`,
//! `end-session`, `rate <1-5>`, `dismiss`, `play <course-id>`,
//! `stop <position_s> <watched_s> [end]`, `survey <topic>...`, and
//! `screenshot <absolute path.png>` (the live screen, when the UI runs: the
//! assembly hands in the UI's [`ScreenCapture`]).
//! This module parses and forwards; it never decides or records anything.

use super::framing::{read_frame, Frame};
use super::reply::Reply;
use super::{Input, ScreenCapture};
use crate::core::limits::{self, shorten};
use crate::model::CardUid;
use std::io::{BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::time::Duration;

/// The longest command line accepted, in bytes (without the newline).
pub const MAX_LINE_BYTES: usize = 4096;
/// Connections served at the same time; more are answered `error: busy` and closed.
pub const MAX_CONNECTIONS: usize = 16;
/// How long a connection may take to send its command line.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a command waits for the kiosk loop to answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot listen on {path}: {source}")]
    Listen { path: PathBuf, source: std::io::Error },
    #[error("cannot reach the kiosk at {path}: {source} (is `microclass run` running?)")]
    Connect { path: PathBuf, source: std::io::Error },
    #[error("control socket I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    BadArgument(String),
}

/// Binds the socket (replacing a stale one) and serves it on a thread.
/// `screen`: what `screenshot` saves; `None` when the kiosk has no screen.
pub fn serve(path: &Path, tx: Sender<Input>, screen: Option<Arc<dyn ScreenCapture>>) -> Result<(), ControlError> {
    if path.exists() {
        // A live kiosk answers; a stale socket file from a crash does not.
        if UnixStream::connect(path).is_ok() {
            return Err(ControlError::Listen { path: path.into(), source: std::io::Error::new(std::io::ErrorKind::AddrInUse, "another kiosk is running") });
        }
        let _ = std::fs::remove_file(path);
    }
    let listener = UnixListener::bind(path).map_err(|source| ControlError::Listen { path: path.into(), source })?;
    let active = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("control".into())
        .spawn(move || {
            for conn in listener.incoming() {
                match conn {
                    Ok(stream) => accept(stream, &tx, &active, screen.clone()),
                    Err(e) => tracing::warn!(error = %e, "control socket accept failed"),
                }
            }
        })
        .map_err(ControlError::Io)?;
    Ok(())
}

/// Serves one connection on its own thread, within the connection limit.
fn accept(mut stream: UnixStream, tx: &Sender<Input>, active: &Arc<AtomicUsize>, screen: Option<Arc<dyn ScreenCapture>>) {
    if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
        active.fetch_sub(1, Ordering::SeqCst);
        let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
        let _ = writeln!(stream, "{}", Reply::Error(format!("busy: {MAX_CONNECTIONS} control connections are open")));
        return;
    }
    let (tx, guard) = (tx.clone(), ConnGuard(active.clone()));
    let spawned = std::thread::Builder::new().name("control-conn".into()).spawn(move || {
        let _guard = guard;
        handle_conn(stream, &tx, screen.as_deref());
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start a control connection thread");
    }
}

/// Gives the connection's slot back however the thread ends.
struct ConnGuard(Arc<AtomicUsize>);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn handle_conn(stream: UnixStream, tx: &Sender<Input>, screen: Option<&dyn ScreenCapture>) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(READ_TIMEOUT));
    let Ok(mut out) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    let reply = match read_frame(&mut reader, MAX_LINE_BYTES) {
        Ok(Some(Frame::Line(line))) => answer(&line, tx, screen),
        Ok(Some(Frame::TooLong { len })) => Reply::Error(format!("command longer than {MAX_LINE_BYTES} bytes ({len} bytes)")),
        Ok(Some(Frame::NotUtf8)) => Reply::Error("command is not UTF-8".into()),
        Ok(None) | Err(_) => return,
    };
    let _ = writeln!(out, "{reply}");
}

/// Answers one command line.
pub fn answer(line: &str, tx: &Sender<Input>, screen: Option<&dyn ScreenCapture>) -> Reply {
    if line.chars().any(char::is_control) {
        return Reply::Error("command contains a control character".into());
    }
    let line = line.trim();
    let (cmd, arg) = line.split_once(' ').map(|(c, a)| (c, a.trim())).unwrap_or((line, ""));
    match cmd {
        "ping" => Reply::Ok("pong".into()),
        "tap" => match CardUid::parse(arg) {
            Err(e) => Reply::Error(shorten(&e.to_string())),
            Ok(uid) => {
                let (rtx, rrx) = mpsc::channel();
                if tx.send(Input::Tap { uid, reply: Some(rtx) }).is_err() {
                    return Reply::Error("the kiosk is shutting down".into());
                }
                rrx.recv_timeout(ANSWER_TIMEOUT).unwrap_or_else(|_| Reply::Error("no answer from the kiosk".into()))
            }
        },
        "start-session" | "end-session" | "rate" | "dismiss" | "play" | "stop" | "survey" => match screen_action(cmd, arg, tx) {
            Ok(event) => {
                let (rtx, rrx) = mpsc::channel();
                if tx.send(Input::Action { event, reply: rtx }).is_err() {
                    return Reply::Error("the kiosk is shutting down".into());
                }
                rrx.recv_timeout(ANSWER_TIMEOUT).unwrap_or_else(|_| Reply::Error("no answer from the kiosk".into()))
            }
            Err(e) => Reply::Error(e),
        },
        "screenshot" if Path::new(arg).is_absolute() => match screen.map(|s| s.save_png(Path::new(arg))) {
            Some(Ok(bytes)) => Reply::Ok(format!("{arg} {bytes}")),
            Some(Err(e)) => Reply::Error(e.to_string()),
            None => Reply::Error(super::capture::NO_SCREEN.into()),
        },
        "screenshot" => Reply::Error("screenshot needs an absolute path".into()),
        "" => Reply::Error("empty command".into()),
        other => Reply::Error(format!("unknown command {:?}", shorten(other))),
    }
}

/// Turns a screen action into a core event, checking its arguments and limits.
fn screen_action(cmd: &str, arg: &str, tx: &Sender<Input>) -> Result<crate::core::Event, String> {
    use crate::core::{Event, PlayedCourse};
    let num = |s: Option<&str>, what: &str| -> Result<u32, String> {
        s.ok_or_else(|| format!("missing {what}"))?.parse::<u32>().map_err(|_| format!("{what} must be a whole number"))
    };
    let mut words = arg.split_whitespace();
    Ok(match cmd {
        "start-session" => {
            limits::check_title(arg).map_err(|e| e.to_string())?;
            Event::StartSession { schedule_id: None, title: if arg.is_empty() { "课堂".into() } else { arg.into() } }
        }
        "end-session" => Event::EndSession,
        "dismiss" => Event::Dismiss,
        "rate" => {
            let stars = num(words.next(), "stars")?;
            if !(1..=5).contains(&stars) {
                return Err(format!("stars must be 1 to 5, not {stars}"));
            }
            Event::RatingGiven { stars: stars as u8 }
        }
        "survey" => {
            let topics: Vec<String> = words.map(str::to_string).collect();
            if topics.is_empty() {
                return Err("missing topics".into());
            }
            limits::check_topics(&topics).map_err(|e| e.to_string())?;
            Event::SurveyAnswered { topics }
        }
        "play" => {
            let id = words.next().ok_or("missing course id")?;
            limits::check_id("course id", id).map_err(|e| e.to_string())?;
            let (rtx, rrx) = mpsc::channel();
            tx.send(Input::Lookup { course_id: id.to_string(), reply: rtx }).map_err(|_| "the kiosk is shutting down")?;
            let course: Option<PlayedCourse> = rrx.recv_timeout(ANSWER_TIMEOUT).map_err(|_| "no answer from the kiosk")?;
            let course = course.ok_or_else(|| format!("unknown course {id:?}"))?;
            Event::PlayStarted { course, position_s: 0 }
        }
        "stop" => {
            let position_s = num(words.next(), "position_s")?;
            let watched_s = num(words.next(), "watched_s")?;
            Event::PlayStopped { position_s, watched_s, reached_end: words.next() == Some("end") }
        }
        _ => return Err(format!("unknown action {cmd:?}")),
    })
}

/// Sends one command and returns the kiosk's reply. A command with a newline
/// or another control character, or longer than the line limit, is refused
/// here before anything is sent.
pub fn request(path: &Path, command: &str) -> Result<Reply, ControlError> {
    if command.chars().any(char::is_control) {
        return Err(ControlError::BadArgument("arguments may not contain newlines or other control characters".into()));
    }
    if command.len() > MAX_LINE_BYTES {
        return Err(ControlError::BadArgument(format!("command longer than {MAX_LINE_BYTES} bytes")));
    }
    let mut s = UnixStream::connect(path).map_err(|source| ControlError::Connect { path: path.into(), source })?;
    s.set_read_timeout(Some(Duration::from_secs(15)))?;
    writeln!(s, "{command}")?;
    let mut reader = BufReader::new(s);
    match read_frame(&mut reader, 64 * 1024)? {
        Some(Frame::Line(line)) => Ok(Reply::parse(&line)),
        Some(_) => Ok(Reply::Error("the kiosk sent an unreadable reply".into())),
        None => Ok(Reply::Error("the kiosk closed the connection without a reply".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::CaptureError;

    /// A screen that writes a fixed PNG-sized blob where it is asked to.
    struct Painted;
    impl ScreenCapture for Painted {
        fn save_png(&self, path: &Path) -> Result<usize, CaptureError> {
            std::fs::write(path, b"\x89PNG-not-really").map_err(|e| CaptureError(e.to_string()))?;
            Ok(15)
        }
    }

    #[test]
    fn a_kiosk_without_a_screen_answers_a_screenshot_with_no_screen() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("shot.png");
        let (tx, _rx) = mpsc::channel();
        assert_eq!(answer(&format!("screenshot {}", file.display()), &tx, None).to_string(), "error: the kiosk runs without a screen");
        assert!(!file.exists());
    }

    #[test]
    fn a_kiosk_with_a_screen_saves_the_screenshot_where_it_was_asked_to() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("shot.png");
        let (tx, _rx) = mpsc::channel();
        let reply = answer(&format!("screenshot {}", file.display()), &tx, Some(&Painted));
        assert_eq!(reply.to_string(), format!("ok {} 15", file.display()));
        assert_eq!(std::fs::read(&file).unwrap(), b"\x89PNG-not-really");
        assert_eq!(answer("screenshot shot.png", &tx, Some(&Painted)).to_string(), "error: screenshot needs an absolute path");
    }
}
