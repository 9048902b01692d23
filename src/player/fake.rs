//! A fake player for the core's and the shell's tests: no decoding, time moves
//! only when the test calls `advance`, and failures are injected on purpose.
//! Clones share one state, so a test keeps a handle while the shell owns the
//! player. Never touches files beyond checking that they exist.

use super::{MediaProblem, Player, PlayerError, PlayerEvent};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct State {
    durations: HashMap<PathBuf, Duration>,
    default_duration: Duration,
    queue: Vec<PathBuf>,
    current: Option<usize>,
    position: Duration,
    playing: bool,
    volume: f64,
    events: VecDeque<PlayerEvent>,
    /// The next `play` fails with this problem.
    fail_next: Option<MediaProblem>,
    /// Every call, for assertions (`play a.mp4`, `pause`, `seek 10s`).
    log: Vec<String>,
}

#[derive(Clone)]
pub struct FakePlayer(Arc<Mutex<State>>);

impl FakePlayer {
    /// Every file lasts `default_duration` unless set with `set_duration`.
    pub fn new(default_duration: Duration) -> Self {
        FakePlayer(Arc::new(Mutex::new(State { default_duration, volume: 1.0, ..Default::default() })))
    }

    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_duration(&self, path: impl Into<PathBuf>, d: Duration) {
        self.st().durations.insert(path.into(), d);
    }

    /// Makes the next `play` fail as a damaged or unsupported file would.
    pub fn fail_next_play(&self, problem: MediaProblem) {
        self.st().fail_next = Some(problem);
    }

    pub fn volume(&self) -> f64 {
        self.st().volume
    }

    pub fn log(&self) -> Vec<String> {
        self.st().log.clone()
    }

    /// Lets `d` of playback pass: moves through queued files and ends the queue.
    pub fn advance(&self, d: Duration) {
        let mut st = self.st();
        if !st.playing {
            return;
        }
        let mut left = d;
        while let Some(i) = st.current {
            let len = st.durations.get(&st.queue[i]).copied().unwrap_or(st.default_duration);
            let room = len.saturating_sub(st.position);
            if left < room {
                st.position += left;
                return;
            }
            left -= room;
            if i + 1 < st.queue.len() {
                st.current = Some(i + 1);
                st.position = Duration::ZERO;
                st.events.push_back(PlayerEvent::Started { index: i + 1 });
            } else {
                st.position = len;
                st.playing = false;
                st.events.push_back(PlayerEvent::EndOfStream);
                return;
            }
        }
    }
}

impl Player for FakePlayer {
    fn play(&mut self, queue: &[PathBuf]) -> Result<(), PlayerError> {
        let mut st = self.st();
        st.log.push(format!("play {}", queue.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" ")));
        if queue.is_empty() {
            return Err(PlayerError::EmptyQueue);
        }
        if let Some(problem) = st.fail_next.take() {
            st.playing = false;
            st.current = None;
            return Err(PlayerError::Media { problem, message: format!("injected for {}", queue[0].display()) });
        }
        st.queue = queue.to_vec();
        st.current = Some(0);
        st.position = Duration::ZERO;
        st.playing = true;
        st.events.clear();
        st.events.push_back(PlayerEvent::Started { index: 0 });
        Ok(())
    }

    fn pause(&mut self) -> Result<(), PlayerError> {
        let mut st = self.st();
        st.log.push("pause".into());
        if !st.playing {
            return Err(PlayerError::Idle);
        }
        st.playing = false;
        st.events.push_back(PlayerEvent::Paused);
        Ok(())
    }

    fn resume(&mut self) -> Result<(), PlayerError> {
        let mut st = self.st();
        st.log.push("resume".into());
        if st.playing || st.current.is_none() {
            return Err(PlayerError::Idle);
        }
        st.playing = true;
        st.events.push_back(PlayerEvent::Resumed);
        Ok(())
    }

    fn stop(&mut self) -> Result<(), PlayerError> {
        let mut st = self.st();
        st.log.push("stop".into());
        st.playing = false;
        st.current = None;
        Ok(())
    }

    fn seek(&mut self, to: Duration) -> Result<(), PlayerError> {
        let mut st = self.st();
        st.log.push(format!("seek {}s", to.as_secs()));
        let Some(i) = st.current else { return Err(PlayerError::Idle) };
        let len = st.durations.get(&st.queue[i]).copied().unwrap_or(st.default_duration);
        st.position = to.min(len);
        Ok(())
    }

    fn set_volume(&mut self, volume: f64) -> Result<(), PlayerError> {
        self.st().volume = volume.clamp(0.0, 1.0);
        Ok(())
    }

    fn position(&self) -> Option<Duration> {
        let st = self.st();
        st.current.map(|_| st.position)
    }

    fn duration(&self) -> Option<Duration> {
        let st = self.st();
        st.current.map(|i| st.durations.get(&st.queue[i]).copied().unwrap_or(st.default_duration))
    }

    fn current(&self) -> Option<usize> {
        self.st().current
    }

    fn is_playing(&self) -> bool {
        self.st().playing
    }

    fn next_event(&mut self, _timeout: Duration) -> Option<PlayerEvent> {
        self.st().events.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_moves_only_when_the_test_advances_it_and_the_queue_plays_through() {
        let shared = FakePlayer::new(Duration::from_secs(10));
        let mut p = shared.clone();
        p.play(&["a.mp4".into(), "b.mp4".into()]).unwrap();
        assert_eq!(p.next_event(Duration::ZERO), Some(PlayerEvent::Started { index: 0 }));
        shared.advance(Duration::from_secs(12));
        assert_eq!((p.current(), p.position()), (Some(1), Some(Duration::from_secs(2))));
        assert_eq!(p.next_event(Duration::ZERO), Some(PlayerEvent::Started { index: 1 }));
        shared.advance(Duration::from_secs(60));
        assert_eq!(p.next_event(Duration::ZERO), Some(PlayerEvent::EndOfStream));
        assert!(!p.is_playing());
    }

    #[test]
    fn a_paused_fake_does_not_move_and_an_injected_failure_is_reported() {
        let shared = FakePlayer::new(Duration::from_secs(10));
        let mut p = shared.clone();
        p.play(&["a.mp4".into()]).unwrap();
        p.pause().unwrap();
        shared.advance(Duration::from_secs(5));
        assert_eq!(p.position(), Some(Duration::ZERO));
        shared.fail_next_play(MediaProblem::Corrupt);
        let err = p.play(&["b.mp4".into()]).unwrap_err();
        assert!(err.to_string().contains("视频文件已损坏"), "{err}");
        assert_eq!(shared.log(), ["play a.mp4", "pause", "play b.mp4"]);
    }
}
