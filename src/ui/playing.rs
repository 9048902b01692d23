//! The player behind the player screen, as the UI bridge drives it: a course
//! whose files are all in the verified cache plays on a real player (through
//! a `VideoSource`); any other course (demo data on a PC) on the simulated
//! player. Turns the big controls and the end of the video into core events.

use super::sim_player::{SimPlayer, Stopped};
use super::video::{MediaPlay, VideoScreen, VideoSource};
use crate::core::{Event, PlayedCourse};
use std::path::PathBuf;
use std::sync::Arc;

enum Current {
    Sim(SimPlayer),
    Media(MediaPlay),
}

/// What the UI asked to play, until the core agrees.
struct Pending {
    course: PlayedCourse,
    files: Option<Vec<PathBuf>>,
}

pub struct VideoDesk {
    source: Box<dyn VideoSource>,
    screen: Arc<dyn VideoScreen>,
    pending: Option<Pending>,
    current: Option<Current>,
}

fn stopped_event(s: Stopped) -> Event {
    Event::PlayStopped { position_s: s.position_s, watched_s: s.watched_s, reached_end: s.reached_end }
}

impl VideoDesk {
    pub fn new(source: Box<dyn VideoSource>, screen: Arc<dyn VideoScreen>) -> VideoDesk {
        VideoDesk { source, screen, pending: None, current: None }
    }

    /// The UI asked for `course`; `files` are its cached files when every one
    /// is verified. Returns the event that asks the core to start.
    pub fn request(&mut self, course: PlayedCourse, files: Option<Vec<PathBuf>>) -> Event {
        self.pending = Some(Pending { course: course.clone(), files });
        Event::PlayStarted { course, position_s: 0 }
    }

    /// The core started the video `course_id`. Returns an event when the
    /// video could not start after all (the core must hear that it stopped).
    pub fn core_started(&mut self, course_id: &str, now_ms: i64) -> Option<Event> {
        let Some(p) = self.pending.take().filter(|p| p.course.id == course_id) else {
            tracing::warn!(%course_id, "the core started a video the UI did not ask for");
            return None;
        };
        self.end(now_ms);
        match p.files {
            Some(files) => {
                let opened = self.source.open(self.screen.clone()).and_then(|player| MediaPlay::start(player, &files, p.course.duration_s, now_ms));
                match opened {
                    Ok(m) => {
                        tracing::info!(course_id, files = files.len(), "playing the cached video");
                        self.current = Some(Current::Media(m));
                    }
                    Err(e) => {
                        tracing::warn!(course_id, error = %e, "cannot play the cached video");
                        return Some(Event::PlayStopped { position_s: 0, watched_s: 0, reached_end: false });
                    }
                }
            }
            None => {
                tracing::info!(course_id, "course not in the local cache: simulated playback");
                let mut sim = SimPlayer::default();
                sim.start(p.course, 0, now_ms);
                self.current = Some(Current::Sim(sim));
            }
        }
        self.publish(now_ms);
        None
    }

    /// The core stopped the video itself (session ended): no report back.
    pub fn core_stopped(&mut self, now_ms: i64) {
        self.end(now_ms);
    }

    fn end(&mut self, now_ms: i64) -> Option<Stopped> {
        let s = match self.current.take()? {
            Current::Sim(mut p) => p.stop(now_ms),
            Current::Media(mut m) => Some(m.stop(now_ms)),
        };
        self.screen.clear();
        s
    }

    pub fn is_playing(&self) -> bool {
        self.current.is_some()
    }

    /// Whether the video playing comes from the cache (false: simulated).
    pub fn is_real(&self) -> bool {
        matches!(self.current, Some(Current::Media(_)))
    }

    pub fn toggle_pause(&mut self, now_ms: i64) {
        match self.current.as_mut() {
            Some(Current::Sim(p)) => p.toggle_pause(now_ms),
            Some(Current::Media(m)) => m.toggle_pause(now_ms),
            None => {}
        }
        self.publish(now_ms);
    }

    pub fn seek(&mut self, delta_s: i32, now_ms: i64) {
        match self.current.as_mut() {
            Some(Current::Sim(p)) => p.seek(delta_s, now_ms),
            Some(Current::Media(m)) => m.seek(delta_s, now_ms),
            None => {}
        }
        self.publish(now_ms);
    }

    /// The stop button: the event that tells the core where it stopped.
    pub fn stop(&mut self, now_ms: i64) -> Option<Event> {
        self.end(now_ms).map(stopped_event)
    }

    /// Progress to the screen, and the event when the video ended by itself.
    pub fn poll(&mut self, now_ms: i64) -> Option<Event> {
        let ended = match self.current.as_mut()? {
            Current::Sim(p) => {
                if p.at_end(now_ms) {
                    p.stop(now_ms).map(|s| Stopped { reached_end: true, ..s })
                } else {
                    None
                }
            }
            Current::Media(m) => m.poll(now_ms),
        };
        if let Some(s) = ended {
            self.current = None;
            self.screen.clear();
            return Some(stopped_event(s));
        }
        self.publish(now_ms);
        None
    }

    fn publish(&self, now_ms: i64) {
        let playback = match &self.current {
            Some(Current::Sim(p)) => p.playback(now_ms),
            Some(Current::Media(m)) => m.playback(),
            None => return,
        };
        self.screen.playback(playback);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::player::fake::FakePlayer;
    use crate::player::{MediaProblem, Player, PlayerError};
    use crate::ui::ambient::Playback;
    use slint::{Rgb8Pixel, SharedPixelBuffer};
    use std::sync::Mutex;
    use std::time::Duration;

    #[derive(Default)]
    struct Screen {
        playback: Mutex<Vec<Playback>>,
        cleared: Mutex<u32>,
    }

    impl VideoScreen for Screen {
        fn playback(&self, p: Playback) {
            self.playback.lock().unwrap().push(p);
        }
        fn wants_frame(&self) -> bool {
            true
        }
        fn frame(&self, _: SharedPixelBuffer<Rgb8Pixel>) {}
        fn clear(&self) {
            *self.cleared.lock().unwrap() += 1;
        }
    }

    struct Fake(FakePlayer);

    impl VideoSource for Fake {
        fn open(&mut self, _: Arc<dyn VideoScreen>) -> Result<Box<dyn Player>, PlayerError> {
            Ok(Box::new(self.0.clone()))
        }
    }

    fn course() -> PlayedCourse {
        PlayedCourse { id: "c1".into(), title: "微党课".into(), duration_s: 600, credit_minutes: 10, required: true }
    }

    fn desk(fake: &FakePlayer) -> (VideoDesk, Arc<Screen>) {
        let screen = Arc::new(Screen::default());
        (VideoDesk::new(Box::new(Fake(fake.clone())), screen.clone()), screen)
    }

    #[test]
    fn a_cached_course_plays_on_the_real_player_and_its_end_stops_the_play() {
        let fake = FakePlayer::new(Duration::from_secs(90));
        let (mut d, screen) = desk(&fake);
        let ev = d.request(course(), Some(vec!["/cache/ab.mp4".into()]));
        assert_eq!(ev, Event::PlayStarted { course: course(), position_s: 0 });
        assert_eq!(d.core_started("c1", 0), None);
        assert!(d.is_real());
        fake.advance(Duration::from_secs(60));
        assert_eq!(d.poll(60_000), None);
        assert_eq!(screen.playback.lock().unwrap().last(), Some(&Playback { position_s: 60, duration_s: 90, paused: false }));
        fake.advance(Duration::from_secs(60));
        assert_eq!(d.poll(120_000), Some(Event::PlayStopped { position_s: 90, watched_s: 90, reached_end: true }));
        assert!(!d.is_playing());
        assert_eq!(*screen.cleared.lock().unwrap(), 1, "the last frame leaves the screen");
        assert_eq!(fake.log()[0], "play /cache/ab.mp4");
    }

    #[test]
    fn the_big_controls_reach_the_real_player() {
        let fake = FakePlayer::new(Duration::from_secs(600));
        let (mut d, _) = desk(&fake);
        d.request(course(), Some(vec!["a.mp4".into()]));
        d.core_started("c1", 0);
        fake.advance(Duration::from_secs(10));
        d.toggle_pause(10_000);
        d.toggle_pause(20_000);
        d.seek(30, 20_000);
        fake.advance(Duration::from_secs(5));
        assert_eq!(d.stop(25_000), Some(Event::PlayStopped { position_s: 45, watched_s: 15, reached_end: false }));
        assert_eq!(fake.log(), ["play a.mp4", "pause", "resume", "seek 40s", "stop"]);
        assert_eq!(d.stop(26_000), None, "nothing left to stop");
    }

    #[test]
    fn a_course_not_in_the_cache_plays_on_the_simulated_player() {
        let fake = FakePlayer::new(Duration::from_secs(600));
        let (mut d, _) = desk(&fake);
        d.request(course(), None);
        d.core_started("c1", 0);
        assert!(d.is_playing() && !d.is_real());
        assert!(fake.log().is_empty(), "the real player is not touched");
        assert_eq!(d.poll(600_000), Some(Event::PlayStopped { position_s: 600, watched_s: 600, reached_end: true }));
    }

    #[test]
    fn a_cached_file_that_cannot_play_stops_the_play_at_once() {
        let fake = FakePlayer::new(Duration::from_secs(600));
        fake.fail_next_play(MediaProblem::Corrupt);
        let (mut d, _) = desk(&fake);
        d.request(course(), Some(vec!["a.mp4".into()]));
        assert_eq!(d.core_started("c1", 0), Some(Event::PlayStopped { position_s: 0, watched_s: 0, reached_end: false }));
        assert!(!d.is_playing());
    }

    #[test]
    fn a_start_the_ui_did_not_ask_for_is_ignored() {
        let fake = FakePlayer::new(Duration::from_secs(600));
        let (mut d, _) = desk(&fake);
        d.request(course(), Some(vec!["a.mp4".into()]));
        assert_eq!(d.core_started("other", 0), None);
        assert!(!d.is_playing());
    }
}
