//! `UiHandle`: how threads other than the UI thread (reader, uplink, player,
//! control socket) reach the kiosk UI. Every call is queued onto the Slint
//! event loop with `invoke_from_event_loop`; none of them runs UI code on the
//! caller's thread.

use super::adapter::{with_current, KioskUi};
use super::ambient::{Ambient, Playback};
use super::controller::Touch;
use super::UiError;
use crate::core::Screen;
use crate::model::CardUid;
use std::sync::mpsc;
use std::time::Duration;

/// A `Send + Clone` handle to the kiosk UI of the event-loop thread.
#[derive(Clone, Debug, Default)]
pub struct UiHandle {
    _private: (),
}

impl UiHandle {
    pub fn new() -> Self {
        UiHandle { _private: () }
    }

    fn post(&self, f: impl FnOnce(&KioskUi) + Send + 'static) -> Result<(), UiError> {
        slint::invoke_from_event_loop(move || with_current(f)).map_err(|e| UiError::EventLoop(e.to_string()))
    }

    pub fn show(&self, screen: Screen) -> Result<(), UiError> {
        self.post(move |ui| ui.show(screen))
    }

    pub fn set_ambient(&self, ambient: Ambient) -> Result<(), UiError> {
        self.post(move |ui| ui.set_ambient(ambient))
    }

    pub fn update_ambient(&self, f: impl FnOnce(&mut Ambient) + Send + 'static) -> Result<(), UiError> {
        self.post(move |ui| ui.update_ambient(f))
    }

    pub fn set_playback(&self, playback: Playback) -> Result<(), UiError> {
        self.post(move |ui| ui.set_playback(playback))
    }

    pub fn set_video_frame(&self, frame: slint::SharedPixelBuffer<slint::Rgb8Pixel>) -> Result<(), UiError> {
        self.post(move |ui| ui.set_video_frame(frame))
    }

    pub fn pin_rejected(&self) -> Result<(), UiError> {
        self.post(|ui| ui.pin_rejected())
    }

    pub fn reader_test_result(&self, result: Result<CardUid, String>) -> Result<(), UiError> {
        self.post(move |ui| ui.reader_test_result(result))
    }

    /// Feeds a touch as if it came from the screen (remote control, tests).
    pub fn input(&self, input: Touch) -> Result<(), UiError> {
        self.post(move |ui| ui.input(input))
    }

    /// Asks the UI thread something and waits (bounded) for the answer.
    /// Blocks the calling thread: never call it on the UI thread.
    pub fn query<T: Send + 'static>(&self, timeout: Duration, f: impl FnOnce(&KioskUi) -> T + Send + 'static) -> Result<T, UiError> {
        let (tx, rx) = mpsc::channel();
        self.post(move |ui| {
            let _ = tx.send(f(ui));
        })?;
        rx.recv_timeout(timeout).map_err(|_| UiError::EventLoop("the UI did not answer in time".into()))
    }

    pub fn provision_failed(&self, message: String) -> Result<(), UiError> {
        self.post(move |ui| ui.provision_failed(message))
    }

    pub fn tick(&self) -> Result<(), UiError> {
        self.post(|ui| ui.tick())
    }

    /// A PNG of the live screen. Blocks the calling thread (never call it on
    /// the UI thread) until the event loop has taken the snapshot.
    pub fn screenshot(&self, timeout: Duration) -> Result<Vec<u8>, UiError> {
        let (tx, rx) = mpsc::channel();
        self.post(move |ui| {
            let _ = tx.send(ui.screenshot_png());
        })?;
        rx.recv_timeout(timeout).map_err(|_| UiError::Snapshot("the UI did not answer in time".into()))?
    }

    /// Ends the event loop (and with it `run`).
    pub fn quit(&self) -> Result<(), UiError> {
        slint::quit_event_loop().map_err(|e| UiError::EventLoop(e.to_string()))
    }
}
