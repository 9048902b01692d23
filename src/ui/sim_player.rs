//! A simulated video player: keeps position, pause and watched time against
//! the monotonic clock, so the player screen, its controls and the core's
//! proof-of-play work before (and without) GStreamer. Never decodes anything.

use super::ambient::Playback;
use crate::core::PlayedCourse;

#[derive(Debug, Clone)]
struct Playing {
    course: PlayedCourse,
    /// Position (ms) at `since_ms`.
    base_ms: i64,
    /// When it last started running; None while paused.
    since_ms: Option<i64>,
    /// Real playing time before `since_ms`.
    watched_ms: i64,
}

/// Where a stopped play ended, as the core's `PlayStopped` wants it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    pub position_s: u32,
    pub watched_s: u32,
    pub reached_end: bool,
}

#[derive(Debug, Default)]
pub struct SimPlayer {
    cur: Option<Playing>,
}

impl SimPlayer {
    pub fn start(&mut self, course: PlayedCourse, position_s: u32, now_ms: i64) {
        self.cur = Some(Playing { course, base_ms: i64::from(position_s) * 1000, since_ms: Some(now_ms), watched_ms: 0 });
    }

    pub fn is_playing(&self) -> bool {
        self.cur.is_some()
    }

    fn duration_ms(p: &Playing) -> i64 {
        i64::from(p.course.duration_s) * 1000
    }

    fn position_ms(p: &Playing, now_ms: i64) -> i64 {
        let run = p.since_ms.map_or(0, |s| (now_ms - s).max(0));
        (p.base_ms + run).min(Self::duration_ms(p))
    }

    fn watched_ms(p: &Playing, now_ms: i64) -> i64 {
        let run = p.since_ms.map_or(0, |s| (now_ms - s).max(0));
        // never more than what was left to play when it last started
        let left = (Self::duration_ms(p) - p.base_ms).max(0);
        p.watched_ms + run.min(left)
    }

    pub fn toggle_pause(&mut self, now_ms: i64) {
        if let Some(p) = self.cur.as_mut() {
            match p.since_ms {
                Some(_) => {
                    let (pos, w) = (Self::position_ms(p, now_ms), Self::watched_ms(p, now_ms));
                    p.base_ms = pos;
                    p.watched_ms = w;
                    p.since_ms = None;
                }
                None => p.since_ms = Some(now_ms),
            }
        }
    }

    /// Jumps by `delta_s` (clamped to the course); skipped time is not watched time.
    pub fn seek(&mut self, delta_s: i32, now_ms: i64) {
        if let Some(p) = self.cur.as_mut() {
            let (pos, w) = (Self::position_ms(p, now_ms), Self::watched_ms(p, now_ms));
            p.watched_ms = w;
            p.base_ms = (pos + i64::from(delta_s) * 1000).clamp(0, Self::duration_ms(p));
            if p.since_ms.is_some() {
                p.since_ms = Some(now_ms);
            }
        }
    }

    /// True once the position reached the end of the course.
    pub fn at_end(&self, now_ms: i64) -> bool {
        self.cur.as_ref().is_some_and(|p| Self::position_ms(p, now_ms) >= Self::duration_ms(p))
    }

    pub fn stop(&mut self, now_ms: i64) -> Option<Stopped> {
        let p = self.cur.take()?;
        let pos = Self::position_ms(&p, now_ms);
        Some(Stopped {
            position_s: (pos / 1000) as u32,
            watched_s: (Self::watched_ms(&p, now_ms) / 1000) as u32,
            reached_end: pos >= Self::duration_ms(&p),
        })
    }

    pub fn playback(&self, now_ms: i64) -> Playback {
        match &self.cur {
            None => Playback::default(),
            Some(p) => Playback {
                position_s: (Self::position_ms(p, now_ms) / 1000) as u32,
                duration_s: p.course.duration_s,
                paused: p.since_ms.is_none(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn course() -> PlayedCourse {
        PlayedCourse { id: "c".into(), title: "t".into(), duration_s: 600, credit_minutes: 10, required: true }
    }

    #[test]
    fn pausing_stops_both_the_position_and_the_watched_time() {
        let mut p = SimPlayer::default();
        p.start(course(), 0, 0);
        p.toggle_pause(100_000);
        assert_eq!(p.playback(400_000), Playback { position_s: 100, duration_s: 600, paused: true });
        p.toggle_pause(400_000);
        assert_eq!(p.stop(450_000), Some(Stopped { position_s: 150, watched_s: 150, reached_end: false }));
        assert!(!p.is_playing());
    }

    #[test]
    fn seeking_ahead_moves_the_position_but_not_the_watched_time() {
        let mut p = SimPlayer::default();
        p.start(course(), 0, 0);
        p.seek(300, 60_000);
        assert_eq!(p.playback(60_000).position_s, 360);
        assert_eq!(p.stop(120_000), Some(Stopped { position_s: 420, watched_s: 120, reached_end: false }));
    }

    #[test]
    fn playing_past_the_end_stops_at_the_end() {
        let mut p = SimPlayer::default();
        p.start(course(), 590, 0);
        assert!(p.at_end(20_000));
        assert_eq!(p.stop(20_000), Some(Stopped { position_s: 600, watched_s: 10, reached_end: true }));
    }
}
