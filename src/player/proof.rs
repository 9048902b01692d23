//! Proof of play: turns what the player reports (events and position samples)
//! into the kiosk core's `PlayStarted`/`PlayStopped` events, with the position
//! reached, the seconds actually watched (seeking ahead does not count) and
//! whether the end was reached. Consecutive queue items of one course count as
//! one play. Pure bookkeeping: never talks to the player or the store.

use super::PlayerEvent;
use crate::core::{Event, PlayedCourse};
use std::time::Duration;

/// A position jump larger than this between two samples is a seek, not watching.
const MAX_STEP: Duration = Duration::from_secs(3);

struct Open {
    course: PlayedCourse,
    /// Length of the earlier files of this course in the queue.
    offset: Duration,
    last_pos: Option<Duration>,
    last_len: Option<Duration>,
    watched: Duration,
    playing: bool,
}

impl Open {
    fn position(&self) -> Duration {
        self.offset + self.last_pos.unwrap_or_default()
    }
    /// Counts the bit between the last sample and the end of the file.
    fn finish_file(&mut self) {
        if let (Some(pos), Some(len), true) = (self.last_pos, self.last_len, self.playing) {
            let tail = len.saturating_sub(pos);
            if tail <= MAX_STEP {
                self.watched += tail;
            }
        }
        if let Some(len) = self.last_len.or(self.last_pos) {
            self.offset += len;
        }
        self.last_pos = Some(Duration::ZERO);
        self.last_len = None;
    }
}

pub struct ProofOfPlay {
    /// The course of each queue item, in queue order.
    items: Vec<PlayedCourse>,
    open: Option<Open>,
}

fn secs(d: Duration) -> u32 {
    d.as_secs().min(u64::from(u32::MAX)) as u32
}

impl ProofOfPlay {
    pub fn new(items: Vec<PlayedCourse>) -> Self {
        ProofOfPlay { items, open: None }
    }

    /// Feed the position (and duration) of the current item often (every ~0.5 s) while a video is up.
    pub fn sample(&mut self, position: Duration, duration: Option<Duration>, playing: bool) {
        let Some(o) = &mut self.open else { return };
        if let (Some(last), true, true) = (o.last_pos, playing, o.playing) {
            if position >= last && position - last <= MAX_STEP {
                o.watched += position - last;
            }
        }
        o.last_pos = Some(position);
        o.last_len = duration.or(o.last_len);
        o.playing = playing;
    }

    /// Feed every player event; returns the core events to hand to the kiosk.
    pub fn on_event(&mut self, ev: &PlayerEvent) -> Vec<Event> {
        match ev {
            PlayerEvent::Started { index } => {
                let Some(course) = self.items.get(*index).cloned() else { return vec![] };
                if let Some(o) = &mut self.open {
                    if o.course.id == course.id {
                        o.finish_file();
                        o.playing = true;
                        return vec![];
                    }
                }
                let mut out = self.close(true);
                self.open = Some(Open { course: course.clone(), offset: Duration::ZERO, last_pos: Some(Duration::ZERO), last_len: None, watched: Duration::ZERO, playing: true });
                out.push(Event::PlayStarted { course, position_s: 0 });
                out
            }
            PlayerEvent::Paused => {
                if let Some(o) = &mut self.open {
                    o.playing = false;
                }
                vec![]
            }
            PlayerEvent::Resumed => {
                if let Some(o) = &mut self.open {
                    o.playing = true;
                }
                vec![]
            }
            PlayerEvent::EndOfStream => self.close(true),
            PlayerEvent::Error { .. } => self.close(false),
        }
    }

    /// The person closed the video (or the kiosk is stopping).
    pub fn stopped(&mut self) -> Vec<Event> {
        self.close(false)
    }

    fn close(&mut self, reached_end: bool) -> Vec<Event> {
        let Some(mut o) = self.open.take() else { return vec![] };
        if reached_end {
            o.finish_file();
            let position_s = secs(o.offset);
            return vec![Event::PlayStopped { position_s, watched_s: secs(o.watched), reached_end }];
        }
        vec![Event::PlayStopped { position_s: secs(o.position()), watched_s: secs(o.watched), reached_end }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn course(id: &str) -> PlayedCourse {
        PlayedCourse { id: id.into(), title: id.into(), duration_s: 20, credit_minutes: 15, required: false }
    }

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// Samples once a second from `from` to `to` (inclusive).
    fn watch(p: &mut ProofOfPlay, from: u64, to: u64, len: u64) {
        for t in from..=to {
            p.sample(s(t), Some(s(len)), true);
        }
    }

    #[test]
    fn a_video_watched_to_the_end_is_reported_complete_with_its_watched_seconds() {
        let mut p = ProofOfPlay::new(vec![course("a")]);
        assert_eq!(p.on_event(&PlayerEvent::Started { index: 0 }), vec![Event::PlayStarted { course: course("a"), position_s: 0 }]);
        watch(&mut p, 0, 19, 20);
        let out = p.on_event(&PlayerEvent::EndOfStream);
        assert_eq!(out, vec![Event::PlayStopped { position_s: 20, watched_s: 20, reached_end: true }]);
    }

    #[test]
    fn seeking_ahead_is_not_counted_as_watching() {
        let mut p = ProofOfPlay::new(vec![course("a")]);
        p.on_event(&PlayerEvent::Started { index: 0 });
        watch(&mut p, 0, 2, 20);
        watch(&mut p, 15, 19, 20);
        let out = p.on_event(&PlayerEvent::EndOfStream);
        assert_eq!(out, vec![Event::PlayStopped { position_s: 20, watched_s: 7, reached_end: true }]);
    }

    #[test]
    fn time_spent_paused_is_not_watching_and_a_stop_is_not_the_end() {
        let mut p = ProofOfPlay::new(vec![course("a")]);
        p.on_event(&PlayerEvent::Started { index: 0 });
        watch(&mut p, 0, 5, 20);
        p.on_event(&PlayerEvent::Paused);
        p.sample(s(5), Some(s(20)), false);
        p.sample(s(5), Some(s(20)), false);
        p.on_event(&PlayerEvent::Resumed);
        watch(&mut p, 6, 8, 20);
        assert_eq!(p.stopped(), vec![Event::PlayStopped { position_s: 8, watched_s: 8, reached_end: false }]);
        assert!(p.stopped().is_empty(), "a play is closed once");
    }

    #[test]
    fn two_courses_in_a_queue_make_two_plays() {
        let mut p = ProofOfPlay::new(vec![course("a"), course("b")]);
        p.on_event(&PlayerEvent::Started { index: 0 });
        watch(&mut p, 0, 19, 20);
        let out = p.on_event(&PlayerEvent::Started { index: 1 });
        assert_eq!(
            out,
            vec![
                Event::PlayStopped { position_s: 20, watched_s: 20, reached_end: true },
                Event::PlayStarted { course: course("b"), position_s: 0 }
            ]
        );
        watch(&mut p, 0, 4, 20);
        let out = p.on_event(&PlayerEvent::Error { index: Some(1), problem: super::super::MediaProblem::Corrupt, message: String::new() });
        assert_eq!(out, vec![Event::PlayStopped { position_s: 4, watched_s: 4, reached_end: false }]);
    }

    #[test]
    fn the_files_of_one_course_count_as_one_play() {
        let mut p = ProofOfPlay::new(vec![course("a"), course("a")]);
        p.on_event(&PlayerEvent::Started { index: 0 });
        watch(&mut p, 0, 10, 10);
        assert!(p.on_event(&PlayerEvent::Started { index: 1 }).is_empty());
        watch(&mut p, 0, 9, 10);
        let out = p.on_event(&PlayerEvent::EndOfStream);
        assert_eq!(out, vec![Event::PlayStopped { position_s: 20, watched_s: 20, reached_end: true }]);
    }
}
