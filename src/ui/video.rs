//! Real video on the player screen: a `Player` (GStreamer, or the fake in
//! tests) playing a course's cached files, with the watched time measured from
//! the player's own position (pauses and seeks are not watched time), and the
//! frames going straight from the decoder to the screen.

use super::ambient::Playback;
use super::sim_player::Stopped;
use crate::player::gst::{AudioOut, GstOptions, GstPlayer, RgbFrame};
use crate::player::{Player, PlayerError, PlayerEvent};
use slint::{Rgb8Pixel, SharedPixelBuffer};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Where the player screen's picture and progress go. Called from the
/// bridge thread and from GStreamer's streaming threads; never blocks.
pub trait VideoScreen: Send + Sync {
    fn playback(&self, playback: Playback);
    /// A decoded frame. Returns false when the screen is still busy with the
    /// previous one, so the caller can skip the copy.
    fn wants_frame(&self) -> bool;
    fn frame(&self, frame: SharedPixelBuffer<Rgb8Pixel>);
    /// Removes the last frame (the play ended).
    fn clear(&self);
}

/// Opens a player on a course's files, drawing into `screen`.
pub trait VideoSource: Send {
    fn open(&mut self, screen: Arc<dyn VideoScreen>) -> Result<Box<dyn Player>, PlayerError>;
}

/// GStreamer, scaled in the pipeline to fit the screen.
pub struct GstVideo {
    pub max_w: u32,
    pub max_h: u32,
    pub audio: AudioOut,
}

impl VideoSource for GstVideo {
    fn open(&mut self, screen: Arc<dyn VideoScreen>) -> Result<Box<dyn Player>, PlayerError> {
        let opts = GstOptions { audio: self.audio, ..GstOptions::default() };
        let on_frame = Box::new(move |f: RgbFrame<'_>| {
            if screen.wants_frame() {
                if let Some(buf) = copy_frame(f) {
                    screen.frame(buf);
                }
            }
        });
        Ok(Box::new(GstPlayer::with_frames(opts, self.max_w, self.max_h, on_frame)?))
    }
}

/// The one copy of a frame: from the decoder's buffer into the UI's.
fn copy_frame(f: RgbFrame<'_>) -> Option<SharedPixelBuffer<Rgb8Pixel>> {
    let row = f.width as usize * 3;
    if f.width == 0 || f.height == 0 || f.stride < row || f.data.len() < f.stride * (f.height as usize - 1) + row {
        return None;
    }
    let mut buf = SharedPixelBuffer::<Rgb8Pixel>::new(f.width, f.height);
    let out = buf.make_mut_bytes();
    for (y, dst) in out.chunks_exact_mut(row).enumerate() {
        dst.copy_from_slice(&f.data[y * f.stride..y * f.stride + row]);
    }
    Some(buf)
}

/// A frame the screen has not drawn yet is replaced, not queued: a slow UI
/// drops frames instead of falling behind.
#[derive(Clone, Default)]
pub struct FrameGate(Arc<AtomicBool>);

impl FrameGate {
    /// True if no frame is in flight; marks one in flight.
    pub fn claim(&self) -> bool {
        !self.0.swap(true, Ordering::AcqRel)
    }
    pub fn release(&self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The kiosk's screen, reached from other threads through the event loop.
pub struct UiScreen {
    handle: super::handle::UiHandle,
    gate: FrameGate,
}

impl UiScreen {
    pub fn new() -> UiScreen {
        UiScreen { handle: super::handle::UiHandle::new(), gate: FrameGate::default() }
    }
}

impl Default for UiScreen {
    fn default() -> Self {
        Self::new()
    }
}

impl VideoScreen for UiScreen {
    fn playback(&self, playback: Playback) {
        let _ = self.handle.set_playback(playback);
    }
    fn wants_frame(&self) -> bool {
        self.gate.claim()
    }
    fn frame(&self, frame: SharedPixelBuffer<Rgb8Pixel>) {
        let gate = self.gate.clone();
        let r = slint::invoke_from_event_loop(move || {
            super::adapter::with_current(|ui| ui.set_video_frame(frame));
            gate.release();
        });
        if r.is_err() {
            self.gate.release();
        }
    }
    fn clear(&self) {
        let _ = slint::invoke_from_event_loop(|| super::adapter::with_current(|ui| ui.clear_video_frame()));
    }
}

/// Slack for the gap between two position readings and the clock.
const SLACK_MS: i64 = 500;

/// One course playing on a real player.
pub struct MediaPlay {
    player: Box<dyn Player>,
    course_ms: i64,
    /// Length of the file playing, once the player knows it.
    item_ms: Option<i64>,
    /// Sum of the lengths of the queue's earlier files.
    offset_ms: i64,
    last_pos_ms: i64,
    last_mono: i64,
    watched_ms: i64,
    paused: bool,
}

impl MediaPlay {
    /// Starts `player` on `files`; `course_s` is the catalogue's length (used
    /// until the player knows the real one).
    pub fn start(mut player: Box<dyn Player>, files: &[PathBuf], course_s: u32, now_ms: i64) -> Result<MediaPlay, PlayerError> {
        player.play(files)?;
        Ok(MediaPlay { player, course_ms: i64::from(course_s) * 1000, item_ms: None, offset_ms: 0, last_pos_ms: 0, last_mono: now_ms, watched_ms: 0, paused: false })
    }

    fn item_pos_ms(&self) -> i64 {
        self.player.position().map_or(self.last_pos_ms, |d| d.as_millis() as i64)
    }

    fn duration_ms(&self) -> i64 {
        match self.item_ms {
            Some(d) if self.offset_ms == 0 => d.max(1),
            _ => self.course_ms.max(1),
        }
    }

    /// Counts the position gained since the last reading as watched, never
    /// more than the time that passed.
    fn account_to(&mut self, pos_ms: i64, now_ms: i64) {
        if let Some(d) = self.player.duration() {
            self.item_ms = Some(d.as_millis() as i64);
        }
        if !self.paused {
            let gained = pos_ms - self.last_pos_ms;
            let elapsed = (now_ms - self.last_mono).max(0);
            if gained > 0 {
                self.watched_ms += gained.min(elapsed + SLACK_MS);
            }
        }
        self.last_pos_ms = pos_ms;
        self.last_mono = now_ms;
    }

    fn account(&mut self, now_ms: i64) {
        let pos = self.item_pos_ms();
        self.account_to(pos, now_ms);
    }

    pub fn toggle_pause(&mut self, now_ms: i64) {
        self.account(now_ms);
        let r = if self.paused { self.player.resume() } else { self.player.pause() };
        match r {
            Ok(()) => self.paused = !self.paused,
            Err(e) => tracing::warn!(error = %e, "pause/resume failed"),
        }
    }

    /// Jumps by `delta_s` within the file playing; skipped time is not watched.
    pub fn seek(&mut self, delta_s: i32, now_ms: i64) {
        self.account(now_ms);
        let item_len = self.item_ms.unwrap_or(self.course_ms);
        let to = (self.last_pos_ms + i64::from(delta_s) * 1000).clamp(0, item_len.max(0));
        match self.player.seek(Duration::from_millis(to as u64)) {
            Ok(()) => self.last_pos_ms = to,
            Err(e) => tracing::warn!(error = %e, "seek failed"),
        }
    }

    fn stopped(&self, reached_end: bool) -> Stopped {
        let pos = if reached_end { self.duration_ms() } else { self.offset_ms + self.last_pos_ms };
        Stopped { position_s: (pos / 1000) as u32, watched_s: (self.watched_ms / 1000) as u32, reached_end }
    }

    /// Stops the player: where it was and how much was watched.
    pub fn stop(&mut self, now_ms: i64) -> Stopped {
        self.account(now_ms);
        let end = self.offset_ms + self.last_pos_ms >= self.duration_ms() - SLACK_MS;
        if let Err(e) = self.player.stop() {
            tracing::warn!(error = %e, "stopping the player failed");
        }
        self.stopped(end)
    }

    /// Takes the player's news; `Some` when the play ended by itself (end of
    /// the last file, or a media error).
    pub fn poll(&mut self, now_ms: i64) -> Option<Stopped> {
        while let Some(ev) = self.player.next_event(Duration::ZERO) {
            match ev {
                PlayerEvent::Started { index } if index > 0 => {
                    // The previous file played out: count its rest, then start over.
                    let prev = self.item_ms.unwrap_or(self.last_pos_ms).max(self.last_pos_ms);
                    self.account_to(prev, now_ms);
                    self.offset_ms += self.last_pos_ms;
                    self.last_pos_ms = 0;
                    self.item_ms = None;
                }
                PlayerEvent::EndOfStream => {
                    let end = self.player.duration().map_or(self.item_pos_ms(), |d| d.as_millis() as i64);
                    self.account_to(end.max(self.last_pos_ms), now_ms);
                    let _ = self.player.stop();
                    let mut s = self.stopped(true);
                    s.position_s = ((self.offset_ms + self.last_pos_ms) / 1000) as u32;
                    return Some(s);
                }
                PlayerEvent::Error { problem, message, .. } => {
                    tracing::warn!(?problem, %message, "the video stopped on an error");
                    self.account(now_ms);
                    let _ = self.player.stop();
                    return Some(self.stopped(false));
                }
                PlayerEvent::Started { .. } | PlayerEvent::Paused | PlayerEvent::Resumed => {}
            }
        }
        self.account(now_ms);
        None
    }

    pub fn playback(&self) -> Playback {
        let dur = self.duration_ms();
        Playback {
            position_s: ((self.offset_ms + self.last_pos_ms).clamp(0, dur) / 1000) as u32,
            duration_s: (dur / 1000) as u32,
            paused: self.paused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::player::fake::FakePlayer;
    use crate::player::MediaProblem;

    fn start(fake: &FakePlayer) -> MediaPlay {
        MediaPlay::start(Box::new(fake.clone()), &["a.mp4".into()], 600, 0).unwrap()
    }

    #[test]
    fn watched_time_follows_the_players_position_and_pauses_do_not_count() {
        let fake = FakePlayer::new(Duration::from_secs(600));
        let mut m = start(&fake);
        fake.advance(Duration::from_secs(100));
        assert_eq!(m.poll(100_000), None);
        m.toggle_pause(100_000);
        assert!(m.playback().paused);
        fake.advance(Duration::from_secs(50)); // paused: the fake does not move
        m.toggle_pause(400_000);
        fake.advance(Duration::from_secs(20));
        assert_eq!(m.stop(420_000), Stopped { position_s: 120, watched_s: 120, reached_end: false });
        assert_eq!(fake.log(), ["play a.mp4", "pause", "resume", "stop"]);
    }

    #[test]
    fn a_seek_ahead_moves_the_position_but_adds_no_watched_time() {
        let fake = FakePlayer::new(Duration::from_secs(600));
        let mut m = start(&fake);
        fake.advance(Duration::from_secs(60));
        m.seek(300, 60_000);
        assert_eq!(m.playback().position_s, 360);
        fake.advance(Duration::from_secs(30));
        assert_eq!(m.stop(90_000), Stopped { position_s: 390, watched_s: 90, reached_end: false });
    }

    #[test]
    fn the_end_of_the_video_ends_the_play_with_the_real_watched_time() {
        let fake = FakePlayer::new(Duration::from_secs(42));
        let mut m = start(&fake);
        fake.advance(Duration::from_secs(30));
        assert_eq!(m.poll(30_000), None);
        fake.advance(Duration::from_secs(30));
        assert_eq!(m.poll(60_000), Some(Stopped { position_s: 42, watched_s: 42, reached_end: true }));
        assert_eq!(m.playback().duration_s, 42, "the file's own length, not the catalogue's");
    }

    #[test]
    fn a_position_that_jumps_faster_than_the_clock_is_not_counted_as_watched() {
        let fake = FakePlayer::new(Duration::from_secs(600));
        let mut m = start(&fake);
        fake.advance(Duration::from_secs(200));
        assert_eq!(m.poll(10_000), None);
        assert_eq!(m.stop(10_000).watched_s, 10);
    }

    #[test]
    fn a_file_that_cannot_be_played_fails_to_start() {
        let fake = FakePlayer::new(Duration::from_secs(600));
        fake.fail_next_play(MediaProblem::Corrupt);
        assert!(MediaPlay::start(Box::new(fake.clone()), &["a.mp4".into()], 600, 0).is_err());
    }

    #[test]
    fn a_frame_is_copied_row_by_row_without_the_padding() {
        // 2x2 RGB with rows padded to 8 bytes
        let data = [1, 2, 3, 4, 5, 6, 0, 0, 7, 8, 9, 10, 11, 12, 0, 0];
        let buf = copy_frame(RgbFrame { width: 2, height: 2, stride: 8, data: &data }).unwrap();
        assert_eq!(buf.as_bytes(), &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        assert!(copy_frame(RgbFrame { width: 2, height: 2, stride: 8, data: &data[..12] }).is_none());
        assert!(copy_frame(RgbFrame { width: 2, height: 0, stride: 8, data: &[] }).is_none(), "an empty frame is skipped, not a panic");
    }

    #[test]
    fn only_one_frame_is_in_flight_at_a_time() {
        let g = FrameGate::default();
        assert!(g.claim());
        assert!(!g.claim());
        g.release();
        assert!(g.claim());
    }
}
