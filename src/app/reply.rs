//! The control protocol's replies: `ok <what happened>`, `ignored: <why>`,
//! `error: <why>`, and the pure rules that turn a decision of the core into
//! one of them. Says what really happened; never claims a record that the
//! store did not commit.

use super::lines::screen_line;
use super::Shown;
use crate::core::state::{Focus, KioskState};
use crate::core::{Event, Screen};

/// One reply line of the control socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Done; the text says what was shown or recorded.
    Ok(String),
    /// Understood but not done, and nothing was recorded.
    Ignored(String),
    /// Refused or failed.
    Error(String),
}

/// The exit code of `microclass tap` / `ctl` for each kind of reply.
pub const EXIT_OK: i32 = 0;
pub const EXIT_ERROR: i32 = 1;
pub const EXIT_IGNORED: i32 = 3;

impl Reply {
    pub fn exit_code(&self) -> i32 {
        match self {
            Reply::Ok(_) => EXIT_OK,
            Reply::Ignored(_) => EXIT_IGNORED,
            Reply::Error(_) => EXIT_ERROR,
        }
    }

    /// Reads a reply line; anything unrecognised is an error.
    pub fn parse(line: &str) -> Reply {
        let line = line.trim_end_matches(['\r', '\n']);
        if line == "ok" {
            Reply::Ok(String::new())
        } else if let Some(r) = line.strip_prefix("ok ") {
            Reply::Ok(r.to_string())
        } else if let Some(r) = line.strip_prefix("ignored: ") {
            Reply::Ignored(r.to_string())
        } else if let Some(r) = line.strip_prefix("error: ") {
            Reply::Error(r.to_string())
        } else {
            Reply::Error(format!("unexpected reply {line:?}"))
        }
    }
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Ok(s) if s.is_empty() => write!(f, "ok"),
            Reply::Ok(s) => write!(f, "ok {s}"),
            Reply::Ignored(s) => write!(f, "ignored: {s}"),
            Reply::Error(s) => write!(f, "error: {s}"),
        }
    }
}

/// The reply to a tap, from what the shell showed.
pub fn for_tap(provisioned: bool, shown: &Shown) -> Reply {
    match (&shown.screen, &shown.tap_id) {
        _ if !provisioned => Reply::Ignored("this device is not provisioned yet (first-boot wizard)".into()),
        (Some(s @ Screen::Error(_)), None) => Reply::Error(format!("the tap was not recorded: {}", fault_text(s))),
        (Some(s), Some(id)) => Reply::Ok(format!("{id} {}", screen_line(s))),
        (Some(s), None) => Reply::Ok(format!("- {}", screen_line(s))),
        (None, _) => Reply::Ignored("debounced (the same card is still on the reader: seen again within the presence gap)".into()),
    }
}

/// The reply to a screen action. `why` is [`why_refused`] of the state
/// before the event (the core does not say why it refuses).
pub fn for_action(provisioned: bool, shown: &Shown, why: String) -> Reply {
    if !provisioned {
        return Reply::Ignored("this device is not provisioned yet (first-boot wizard)".into());
    }
    match &shown.screen {
        Some(s @ Screen::Error(_)) => Reply::Error(format!("not recorded: {}", fault_text(s))),
        Some(s) => Reply::Ok(screen_line(s)),
        None if shown.play.is_some() || shown.stop_video => Reply::Ok("done".into()),
        None => Reply::Ignored(why),
    }
}

/// An error screen's line without its `error: ` prefix (the reply has one).
fn fault_text(s: &Screen) -> String {
    let line = screen_line(s);
    line.strip_prefix("error: ").unwrap_or(&line).to_string()
}

/// Why the core would refuse `event` in `state` (used only when it did).
pub fn why_refused(event: &Event, st: &KioskState) -> String {
    let s = match event {
        Event::StartSession { .. } if st.session.is_some() => "a session is already running",
        Event::StartSession { .. } if !matches!(st.focus, Focus::Trainer { .. }) => "the trainer panel is not open (a trainer taps first)",
        Event::EndSession if st.session.is_none() => "no session is running",
        Event::EndSession => "only the session's trainer or a technician can end it (tap the card first)",
        Event::RatingGiven { .. } if !matches!(st.focus, Focus::Rater { .. }) => "no rating prompt is on the screen",
        Event::RatingGiven { .. } if st.rating.is_none() => "the rating window has closed",
        Event::RatingGiven { .. } => "this member has already rated the session",
        Event::SurveyAnswered { .. } => "no member is on the screen to answer the survey",
        Event::PlayStarted { .. } if st.play.is_some() => "a video is already playing",
        Event::PlayStarted { .. } => "nobody may play now (a trainer with a running session, or a member without one, taps first)",
        Event::PlayStopped { .. } => "no video is playing",
        Event::Dismiss => "a video is playing (stop it first)",
        _ => "the kiosk did not act on it in its current state",
    };
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(screen: Option<Screen>) -> Shown {
        Shown { screen, sound: None, tap_id: None, play: None, stop_video: false }
    }

    #[test]
    fn replies_print_and_parse_back_to_the_same_kind() {
        for r in [Reply::Ok("pong".into()), Reply::Ok(String::new()), Reply::Ignored("no session is running".into()), Reply::Error("title longer than 200 bytes".into())] {
            assert_eq!(Reply::parse(&r.to_string()), r);
        }
        assert!(matches!(Reply::parse("garbage"), Reply::Error(_)));
    }

    #[test]
    fn exit_codes_follow_the_reply_kind() {
        assert_eq!([Reply::Ok("x".into()).exit_code(), Reply::Ignored("x".into()).exit_code(), Reply::Error("x".into()).exit_code()], [0, 3, 1]);
    }

    #[test]
    fn a_tap_that_was_not_recorded_is_an_error_not_ok() {
        let r = for_tap(true, &shown(Some(Screen::Error(crate::core::ErrorKind::DiskFull))));
        assert_eq!(r, Reply::Error("the tap was not recorded: disk full - call the technician".into()));
    }

    #[test]
    fn an_action_the_core_refused_is_ignored_with_the_reason() {
        let why = why_refused(&Event::EndSession, &KioskState::default());
        assert_eq!(for_action(true, &shown(None), why), Reply::Ignored("no session is running".into()));
        let why = why_refused(&Event::RatingGiven { stars: 5 }, &KioskState::default());
        assert_eq!(why, "no rating prompt is on the screen");
    }
}
