//! The kiosk's local control socket (a Unix socket in the data dir): one
//! command per line, one reply line each. `microclass tap` uses it; so can
//! scripts. Commands: `tap <UID>`, `ping`, and the screen actions
//! `start-session [title]`, `end-session`, `rate <1-5>`, `dismiss`,
//! `play <course-id>`, `stop <position_s> <watched_s> [end]`, `survey <topic>...`,
//! and `screenshot <absolute path.png>` (the live screen, when the UI runs:
//! the assembly hands in the UI's [`ScreenCapture`]).

use super::{Input, ScreenCapture};
use crate::model::CardUid;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("cannot listen on {path}: {source}")]
    Listen { path: PathBuf, source: std::io::Error },
    #[error("cannot reach the kiosk at {path}: {source} (is `microclass run` running?)")]
    Connect { path: PathBuf, source: std::io::Error },
    #[error("control socket I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("the kiosk answered: {0}")]
    Refused(String),
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
    std::thread::Builder::new()
        .name("control".into())
        .spawn(move || {
            for conn in listener.incoming() {
                match conn {
                    Ok(stream) => {
                        let tx = tx.clone();
                        let screen = screen.clone();
                        let _ = std::thread::Builder::new().name("control-conn".into()).spawn(move || handle_conn(stream, tx, screen.as_deref()));
                    }
                    Err(e) => tracing::warn!(error = %e, "control socket accept failed"),
                }
            }
        })
        .map_err(ControlError::Io)?;
    Ok(())
}

fn handle_conn(stream: UnixStream, tx: Sender<Input>, screen: Option<&dyn ScreenCapture>) {
    let Ok(mut out) = stream.try_clone() else { return };
    let reader = BufReader::new(stream);
    for line in reader.lines() {
        let Ok(line) = line else { return };
        let reply = answer(line.trim(), &tx, screen);
        if writeln!(out, "{reply}").is_err() {
            return;
        }
    }
}

fn answer(line: &str, tx: &Sender<Input>, screen: Option<&dyn ScreenCapture>) -> String {
    let (cmd, arg) = line.split_once(' ').map(|(c, a)| (c, a.trim())).unwrap_or((line, ""));
    match cmd {
        "ping" => "ok pong".into(),
        "tap" => match CardUid::parse(arg) {
            Err(e) => format!("error {e}"),
            Ok(uid) => {
                let (rtx, rrx) = mpsc::channel();
                if tx.send(Input::Tap { uid, reply: Some(rtx) }).is_err() {
                    return "error the kiosk is shutting down".into();
                }
                match rrx.recv_timeout(Duration::from_secs(10)) {
                    Ok(r) => format!("ok {r}"),
                    Err(_) => "error no answer from the kiosk".into(),
                }
            }
        },
        "start-session" | "end-session" | "rate" | "dismiss" | "play" | "stop" | "survey" => match screen_action(cmd, arg, tx) {
            Ok(()) => "ok sent".into(),
            Err(e) => format!("error {e}"),
        },
        "screenshot" if Path::new(arg).is_absolute() => match screen.map(|s| s.save_png(Path::new(arg))) {
            Some(Ok(bytes)) => format!("ok {arg} {bytes}"),
            Some(Err(e)) => format!("error {e}"),
            None => format!("error {}", super::capture::NO_SCREEN),
        },
        "screenshot" => "error screenshot needs an absolute path".into(),
        "" => "error empty command".into(),
        other => format!("error unknown command {other:?}"),
    }
}

/// Turns a screen action into a core event for the loop.
fn screen_action(cmd: &str, arg: &str, tx: &Sender<Input>) -> Result<(), String> {
    use crate::core::{Event, PlayedCourse};
    let num = |s: Option<&str>, what: &str| -> Result<u32, String> {
        s.ok_or_else(|| format!("missing {what}"))?.parse::<u32>().map_err(|_| format!("{what} must be a whole number"))
    };
    let mut words = arg.split_whitespace();
    let event = match cmd {
        "start-session" => Event::StartSession { schedule_id: None, title: if arg.is_empty() { "课堂".into() } else { arg.into() } },
        "end-session" => Event::EndSession,
        "dismiss" => Event::Dismiss,
        "rate" => Event::RatingGiven { stars: num(words.next(), "stars")?.min(255) as u8 },
        "survey" => Event::SurveyAnswered { topics: words.map(str::to_string).collect() },
        "play" => {
            let id = words.next().ok_or("missing course id")?;
            let (rtx, rrx) = mpsc::channel();
            tx.send(Input::Lookup { course_id: id.to_string(), reply: rtx }).map_err(|_| "the kiosk is shutting down")?;
            let course: Option<PlayedCourse> = rrx.recv_timeout(Duration::from_secs(10)).map_err(|_| "no answer from the kiosk")?;
            let course = course.ok_or_else(|| format!("unknown course {id:?}"))?;
            Event::PlayStarted { course, position_s: 0 }
        }
        "stop" => {
            let position_s = num(words.next(), "position_s")?;
            let watched_s = num(words.next(), "watched_s")?;
            Event::PlayStopped { position_s, watched_s, reached_end: words.next() == Some("end") }
        }
        _ => return Err(format!("unknown action {cmd:?}")),
    };
    tx.send(Input::Event(event)).map_err(|_| "the kiosk is shutting down".to_string())
}

/// Sends one command and returns the reply line (without the `ok ` prefix).
pub fn request(path: &Path, command: &str) -> Result<String, ControlError> {
    let mut s = UnixStream::connect(path).map_err(|source| ControlError::Connect { path: path.into(), source })?;
    s.set_read_timeout(Some(Duration::from_secs(15)))?;
    writeln!(s, "{command}")?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    let line = line.trim_end();
    match line.strip_prefix("ok ") {
        Some(r) => Ok(r.to_string()),
        None => Err(ControlError::Refused(line.strip_prefix("error ").unwrap_or(line).to_string())),
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
        assert_eq!(answer(&format!("screenshot {}", file.display()), &tx, None), "error the kiosk runs without a screen");
        assert!(!file.exists());
    }

    #[test]
    fn a_kiosk_with_a_screen_saves_the_screenshot_where_it_was_asked_to() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("shot.png");
        let (tx, _rx) = mpsc::channel();
        let reply = answer(&format!("screenshot {}", file.display()), &tx, Some(&Painted));
        assert_eq!(reply, format!("ok {} 15", file.display()));
        assert_eq!(std::fs::read(&file).unwrap(), b"\x89PNG-not-really");
        assert_eq!(answer("screenshot shot.png", &tx, Some(&Painted)), "error screenshot needs an absolute path");
    }
}
