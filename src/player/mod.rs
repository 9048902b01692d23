//! Video playback behind the `Player` trait: a GStreamer `playbin` player
//! (`gst.rs`), a scripted fake for the core's and the shell's tests (`fake.rs`),
//! and the proof-of-play adapter that turns player events into the kiosk core's
//! `PlayStarted`/`PlayStopped` (`proof.rs`). Never decides credit, never
//! touches the database, and never picks which file to play.

pub mod fake;
pub mod gst;
pub mod proof;

use std::path::PathBuf;
use std::time::Duration;

/// Why a file could not be played, as far as the player can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaProblem {
    /// The file is not there or cannot be opened.
    NotFound,
    /// The bytes are not a playable video (truncated, damaged, not a video).
    Corrupt,
    /// No decoder/demuxer for this format is installed.
    MissingCodec,
    /// Anything else (sink, device, internal).
    Other,
}

impl MediaProblem {
    /// A short message for the screen, Chinese first.
    pub fn message(self) -> &'static str {
        match self {
            MediaProblem::NotFound => "视频文件不存在 / Video file not found",
            MediaProblem::Corrupt => "视频文件已损坏 / Video file is damaged",
            MediaProblem::MissingCodec => "缺少解码器 / No decoder for this video",
            MediaProblem::Other => "无法播放视频 / Cannot play the video",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum PlayerEvent {
    /// Queue item `index` began (the first one, or the next one gaplessly).
    Started { index: usize },
    Paused,
    Resumed,
    /// The last queued item played to its end.
    EndOfStream,
    /// Playback failed; the player has stopped. `index` is the item that failed.
    Error { index: Option<usize>, problem: MediaProblem, message: String },
}

#[derive(Debug, thiserror::Error)]
pub enum PlayerError {
    #[error("GStreamer is not usable: {0}")]
    Init(String),
    #[error("{} ({message})", .problem.message())]
    Media { problem: MediaProblem, message: String },
    #[error("player did not {0} within the time limit")]
    Timeout(&'static str),
    #[error("nothing is playing")]
    Idle,
    #[error("empty play queue")]
    EmptyQueue,
}

/// A decoded video frame (RGBA, tightly packed) for the UI.
#[derive(Debug, Clone)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
    /// Running time of the frame on the pipeline clock (gapless checks).
    pub running_time: Option<Duration>,
}

/// A video player. Calls return within bounded time; failures of the media
/// itself also arrive as `PlayerEvent::Error`.
pub trait Player: Send {
    /// Plays `queue` from its first file; the others follow without a gap.
    fn play(&mut self, queue: &[PathBuf]) -> Result<(), PlayerError>;
    fn pause(&mut self) -> Result<(), PlayerError>;
    fn resume(&mut self) -> Result<(), PlayerError>;
    fn stop(&mut self) -> Result<(), PlayerError>;
    /// Seeks within the current item.
    fn seek(&mut self, to: Duration) -> Result<(), PlayerError>;
    /// 0.0 (mute) to 1.0 (full).
    fn set_volume(&mut self, volume: f64) -> Result<(), PlayerError>;
    /// Position in the current item.
    fn position(&self) -> Option<Duration>;
    /// Duration of the current item.
    fn duration(&self) -> Option<Duration>;
    /// Queue index of the item playing now.
    fn current(&self) -> Option<usize>;
    fn is_playing(&self) -> bool;
    /// Waits up to `timeout` for the next event.
    fn next_event(&mut self, timeout: Duration) -> Option<PlayerEvent>;
    /// The newest decoded frame, when the player renders into memory.
    fn frame(&mut self, _timeout: Duration) -> Option<Frame> {
        None
    }
}
