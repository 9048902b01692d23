//! The touchscreen UI: Slint screens under ui/ (their API is the shared
//! `Common` and `Actions` globals of ui/api.slint plus one view global per
//! screen) and the thin Rust layer that maps core `Screen`s to those globals
//! (`views`, one adapter per view) and touches back to core `Event`s. It
//! plugs into the kiosk as `app::assemble`'s front (`front`); app never
//! depends on it.
//!
//! Threading: Slint owns the main thread. The run loop creates a [`KioskUi`]
//! there, other threads use a [`UiHandle`]; every [`UiAction`] goes to the
//! sink given to [`KioskUi::new`], which must hand work off and return.

pub mod adapter;
pub mod ambient;
pub mod backend;
pub mod controller;
pub mod feed;
pub mod front;
pub mod generated;
pub mod handle;
pub mod headless;
pub mod kiosk;
pub mod lang;
pub mod playing;
pub mod library;
pub mod ops;
pub mod samples;
pub mod sim_player;
pub mod video;
pub mod view;
pub mod views;
pub mod wizard;

#[cfg(test)]
mod controller_tests;

pub use adapter::{render_to_png, KioskUi};
pub use ambient::{Ambient, DeviceFact, LibraryCourse, LinkState, Playback, RosterEntry, ScheduleItem, SyncState};
pub use controller::{Page, Touch, UiAction, UiController};
pub use handle::UiHandle;
pub use headless::{Frame, Headless, HeadlessPlatform};
pub use lang::Lang;
pub use wizard::{DeviceChecks, ProvisionChecks, ProvisionForm};

#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("UI platform: {0}")]
    Platform(String),
    #[error("event loop: {0}")]
    EventLoop(String),
    #[error("screenshot: {0}")]
    Snapshot(String),
    #[error("PNG encoding: {0}")]
    Png(#[from] png::EncodingError),
    #[error("translation: {0}")]
    Translation(#[from] slint::SelectBundledTranslationError),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}
