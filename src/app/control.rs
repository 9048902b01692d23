//! The kiosk's local control socket (a Unix socket in the data dir): one
//! command per line, one reply line each. `microclass tap` uses it; so can
//! scripts. Commands: `tap <UID>`, `ping`, and the screen actions
//! `start-session [title]`, `end-session`, `rate <1-5>`, `dismiss`,
//! `play <course-id>`, `stop <position_s> <watched_s> [end]`, `survey <topic>...`,
//! and `screenshot <absolute path.png>` (the live screen, when the UI runs).

use super::Input;
use crate::model::CardUid;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
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
pub fn serve(path: &Path, tx: Sender<Input>) -> Result<(), ControlError> {
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
                        let _ = std::thread::Builder::new().name("control-conn".into()).spawn(move || handle_conn(stream, tx));
                    }
                    Err(e) => tracing::warn!(error = %e, "control socket accept failed"),
                }
            }
        })
        .map_err(ControlError::Io)?;
    Ok(())
}

/// Longest command line accepted; a longer one ends the connection.
pub const MAX_LINE: usize = 4096;

fn handle_conn(stream: UnixStream, tx: Sender<Input>) {
    let Ok(mut out) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let mut raw = Vec::new();
        match reader.by_ref().take(MAX_LINE as u64 + 1).read_until(b'\n', &mut raw) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if raw.len() > MAX_LINE {
            let _ = writeln!(out, "error line longer than {MAX_LINE} bytes");
            return;
        }
        let reply = match std::str::from_utf8(&raw) {
            Ok(line) => answer(line.trim(), &tx),
            Err(_) => "error the line is not UTF-8".into(),
        };
        if writeln!(out, "{reply}").is_err() {
            return;
        }
    }
}

/// One control command, parsed. Nothing has happened yet.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Ping,
    Tap(CardUid),
    /// A screen action the core handles as it is.
    Event(crate::core::Event),
    /// `play`: the loop must first resolve the course id.
    Play(String),
    Screenshot(PathBuf),
}

/// Parses one line (without its newline). Pure: no I/O, no kiosk needed.
pub fn parse(line: &str) -> Result<Command, String> {
    use crate::core::Event;
    let (cmd, arg) = line.split_once(' ').map(|(c, a)| (c, a.trim())).unwrap_or((line, ""));
    let num = |s: Option<&str>, what: &str| -> Result<u32, String> {
        s.ok_or_else(|| format!("missing {what}"))?.parse::<u32>().map_err(|_| format!("{what} must be a whole number"))
    };
    let mut words = arg.split_whitespace();
    let event = match cmd {
        "ping" => return Ok(Command::Ping),
        "tap" => return CardUid::parse(arg).map(Command::Tap).map_err(|e| e.to_string()),
        "screenshot" if Path::new(arg).is_absolute() => return Ok(Command::Screenshot(PathBuf::from(arg))),
        "screenshot" => return Err("screenshot needs an absolute path".into()),
        "play" => return words.next().map(|id| Command::Play(id.to_string())).ok_or_else(|| "missing course id".into()),
        "start-session" => Event::StartSession { schedule_id: None, title: if arg.is_empty() { "课堂".into() } else { arg.into() } },
        "end-session" => Event::EndSession,
        "dismiss" => Event::Dismiss,
        "rate" => Event::RatingGiven { stars: num(words.next(), "stars")?.min(255) as u8 },
        "survey" => Event::SurveyAnswered { topics: words.map(str::to_string).collect() },
        "stop" => {
            let position_s = num(words.next(), "position_s")?;
            let watched_s = num(words.next(), "watched_s")?;
            Event::PlayStopped { position_s, watched_s, reached_end: words.next() == Some("end") }
        }
        "" => return Err("empty command".into()),
        other => return Err(format!("unknown command {other:?}")),
    };
    Ok(Command::Event(event))
}

fn answer(line: &str, tx: &Sender<Input>) -> String {
    match parse(line).and_then(|c| run(c, tx)) {
        Ok(reply) => format!("ok {reply}"),
        Err(e) => format!("error {e}"),
    }
}

/// Carries out a parsed command against the running kiosk.
fn run(cmd: Command, tx: &Sender<Input>) -> Result<String, String> {
    use crate::core::{Event, PlayedCourse};
    let gone = |_| "the kiosk is shutting down".to_string();
    let no_answer = |_| "no answer from the kiosk".to_string();
    match cmd {
        Command::Ping => Ok("pong".into()),
        Command::Tap(uid) => {
            let (rtx, rrx) = mpsc::channel();
            tx.send(Input::Tap { uid, reply: Some(rtx) }).map_err(gone)?;
            rrx.recv_timeout(Duration::from_secs(10)).map_err(no_answer)
        }
        Command::Screenshot(path) => {
            crate::ui::kiosk::screenshot_to(&path).map(|bytes| format!("{} {bytes}", path.display())).map_err(|e| e.to_string())
        }
        Command::Play(id) => {
            let (rtx, rrx) = mpsc::channel();
            tx.send(Input::Lookup { course_id: id.clone(), reply: rtx }).map_err(gone)?;
            let course: Option<PlayedCourse> = rrx.recv_timeout(Duration::from_secs(10)).map_err(no_answer)?;
            let course = course.ok_or_else(|| format!("unknown course {id:?}"))?;
            tx.send(Input::Event(Event::PlayStarted { course, position_s: 0 })).map_err(gone)?;
            Ok("sent".into())
        }
        Command::Event(event) => {
            tx.send(Input::Event(event)).map_err(gone)?;
            Ok("sent".into())
        }
    }
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
    use crate::core::Event;

    #[test]
    fn each_command_parses_into_what_the_kiosk_will_do() {
        assert_eq!(parse("ping"), Ok(Command::Ping));
        assert_eq!(parse("tap 04A1B2C3"), Ok(Command::Tap(CardUid::parse("04A1B2C3").unwrap())));
        assert_eq!(parse("play k1"), Ok(Command::Play("k1".into())));
        assert_eq!(parse("screenshot /tmp/x.png"), Ok(Command::Screenshot("/tmp/x.png".into())));
        assert_eq!(parse("rate 4"), Ok(Command::Event(Event::RatingGiven { stars: 4 })));
        assert_eq!(parse("rate 9999"), Ok(Command::Event(Event::RatingGiven { stars: 255 })), "the core judges the range");
        assert_eq!(
            parse("stop 90 80 end"),
            Ok(Command::Event(Event::PlayStopped { position_s: 90, watched_s: 80, reached_end: true }))
        );
        assert!(matches!(parse("start-session"), Ok(Command::Event(Event::StartSession { title, .. })) if title == "课堂"));
    }

    #[test]
    fn bad_lines_are_refused_with_a_reason() {
        for (line, why) in [
            ("", "empty"),
            ("fly", "unknown command"),
            ("tap", ""),
            ("rate x", "whole number"),
            ("stop 1", "missing watched_s"),
            ("play", "missing course id"),
            ("screenshot x.png", "absolute"),
        ] {
            let err = parse(line).unwrap_err();
            assert!(err.contains(why), "{line:?}: {err}");
        }
    }

    #[test]
    fn an_overlong_line_ends_the_connection_with_an_error() {
        let (a, b) = UnixStream::pair().unwrap();
        let (tx, _rx) = mpsc::channel();
        let server = std::thread::spawn(move || handle_conn(b, tx));
        let mut a2 = a.try_clone().unwrap();
        writeln!(a2, "ping").unwrap();
        a2.write_all(&vec![b'x'; MAX_LINE + 10]).unwrap();
        let mut replies = String::new();
        BufReader::new(a).read_to_string(&mut replies).unwrap();
        assert_eq!(replies, format!("ok pong\nerror line longer than {MAX_LINE} bytes\n"));
        server.join().unwrap();
    }
}
