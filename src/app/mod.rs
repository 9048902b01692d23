//! The running kiosk: the shell around the core, its input threads (reader,
//! control socket, stdin), the loop that feeds the shell one input at a time,
//! and the one assembly of all of it (`assemble`). Never depends on the UI:
//! the screen comes in through `assemble::Front` and `ScreenCapture`.

pub mod assemble;
pub mod capture;
pub mod control;
pub mod framing;
pub mod hub_link;
pub mod lines;
pub mod reply;
pub mod run;
pub mod shell;

pub use capture::{CaptureError, ScreenCapture};
pub use shell::{Presenter, Shell, ShellStats, Shown};

#[cfg(test)]
mod store_tests;

use crate::core::Event;
use crate::model::CardUid;
use std::sync::mpsc::Sender;

/// Everything the kiosk loop reacts to.
pub enum Input {
    /// A card tap; `reply` gets the result (control socket callers).
    Tap { uid: CardUid, reply: Option<Sender<reply::Reply>> },
    /// A UI action or hub update for the core.
    Event(Event),
    /// A screen action from the control socket; `reply` says what really happened.
    Action { event: Event, reply: Sender<reply::Reply> },
    /// Resolve a course for the player (control socket `play`).
    Lookup { course_id: String, reply: Sender<Option<crate::core::PlayedCourse>> },
    /// Resolve a course for the touchscreen player: the course, and its files in
    /// `cache_dir` when every one of them is verified.
    Playable { course_id: String, cache_dir: std::path::PathBuf, reply: Sender<Option<(crate::core::PlayedCourse, Option<Vec<std::path::PathBuf>>)>> },
    /// Send the next card read within `within` to `reply` instead of tapping it (technician reader test).
    ReaderTest { within: std::time::Duration, reply: Sender<CardUid> },
    /// The hub's `enrol_card` command, decided by the core like the panel's
    /// enrolment; `reply` gets whether the card was enrolled.
    HubEnrol { uid: CardUid, member_id: String, reply: Sender<Result<(), String>> },
    /// The reader failed or is missing; shown as the reader-fault screen.
    ReaderFault(String),
    /// The reader works again after a fault.
    ReaderBack,
    /// Stop the loop cleanly.
    Shutdown,
}
