//! The GStreamer player: one `playbin3`, which picks the decoders (the Pi's
//! hardware decoder when present). Queued files follow through `about-to-finish`
//! (gapless); `playbin` (v2) deadlocked here on GStreamer 1.22 when the position
//! was queried during that switch, `playbin3` does not. Video goes to an `appsink` (frames for the UI, headless tests), a
//! `fakesink`, or the screen (`autovideosink`, `kmssink`). Every wait is bounded;
//! media errors become `MediaProblem`s. Never reads the cache index.

use super::{Frame, MediaProblem, Player, PlayerError, PlayerEvent};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where decoded video goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoOut {
    /// RGBA frames in memory, pulled with `Player::frame` (UI, tests).
    AppSink,
    /// Decoded and dropped (benchmarks, audio-only checks).
    Fake,
    /// GStreamer's choice of window/display sink.
    Auto,
    /// Full screen on the DRM/KMS display (the Pi without a compositor).
    Kms,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioOut {
    Auto,
    /// Decoded and dropped (headless tests, machines without sound).
    Fake,
}

#[derive(Debug, Clone, Copy)]
pub struct GstOptions {
    pub video: VideoOut,
    pub audio: AudioOut,
    /// Play in real time (true) or as fast as decoding goes (benchmarks).
    pub sync: bool,
    /// Limit for starting, pausing and seeking.
    pub wait: Duration,
}

impl Default for GstOptions {
    fn default() -> Self {
        GstOptions { video: VideoOut::Auto, audio: AudioOut::Auto, sync: true, wait: Duration::from_secs(5) }
    }
}

#[derive(Default)]
struct Queue {
    items: Vec<PathBuf>,
    /// Index of the item handed to playbin last (current or about to start).
    queued: usize,
    /// Items that have started (StreamStart seen).
    started: usize,
}

pub struct GstPlayer {
    playbin: gst::Element,
    appsink: Option<gst_app::AppSink>,
    queue: Arc<Mutex<Queue>>,
    events: VecDeque<PlayerEvent>,
    opts: GstOptions,
    playing: bool,
}

fn uri(path: &std::path::Path) -> Result<String, PlayerError> {
    let abs = std::path::absolute(path).map_err(|e| PlayerError::Media { problem: MediaProblem::NotFound, message: e.to_string() })?;
    gst::glib::filename_to_uri(&abs, None)
        .map(|u| u.to_string())
        .map_err(|e| PlayerError::Media { problem: MediaProblem::NotFound, message: e.to_string() })
}

fn make(name: &str) -> Result<gst::Element, PlayerError> {
    gst::ElementFactory::make(name).build().map_err(|_| PlayerError::Init(format!("GStreamer element {name:?} is not installed")))
}

/// A decoded frame as the pipeline hands it over: packed RGB, rows `stride`
/// bytes apart, valid only during the callback (copy what you keep).
#[derive(Debug, Clone, Copy)]
pub struct RgbFrame<'a> {
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    pub data: &'a [u8],
}

/// Called on a GStreamer streaming thread for every frame; must return quickly.
pub type FrameCallback = Box<dyn Fn(RgbFrame<'_>) + Send + Sync>;

impl GstPlayer {
    pub fn new(opts: GstOptions) -> Result<GstPlayer, PlayerError> {
        Self::build(opts, None)
    }

    /// A player for a screen: the pipeline scales each frame to fit in
    /// `max_w` x `max_h` (keeping its aspect, never enlarging) and converts it to
    /// RGB, and `on_frame` gets it straight from the decoded buffer, so the only
    /// copy is the one the callback makes. `opts.video` is ignored.
    pub fn with_frames(opts: GstOptions, max_w: u32, max_h: u32, on_frame: FrameCallback) -> Result<GstPlayer, PlayerError> {
        Self::build(GstOptions { video: VideoOut::AppSink, ..opts }, Some((max_w.max(2), max_h.max(2), on_frame)))
    }

    fn build(opts: GstOptions, frames: Option<(u32, u32, FrameCallback)>) -> Result<GstPlayer, PlayerError> {
        gst::init().map_err(|e| PlayerError::Init(e.to_string()))?;
        let playbin = make("playbin3")?;
        let mut appsink = None;
        let video = match (opts.video, frames) {
            (VideoOut::AppSink, Some((max_w, max_h, on_frame))) => {
                // Ranges, not sizes: videoscale keeps the picture's aspect and a
                // small video stays small (the UI scales it when it draws).
                let caps = gst::Caps::builder("video/x-raw")
                    .field("format", "RGB")
                    .field("width", gst::IntRange::new(1, max_w as i32))
                    .field("height", gst::IntRange::new(1, max_h as i32))
                    .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
                    .build();
                let sink = gst_app::AppSink::builder().caps(&caps).max_buffers(1).drop(true).sync(opts.sync).build();
                sink.set_callbacks(
                    gst_app::AppSinkCallbacks::builder()
                        .new_sample(move |sink| {
                            let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                            if let Some(frame) = sample.caps().and_then(|c| gstreamer_video::VideoInfo::from_caps(c).ok()) {
                                if let Some(map) = sample.buffer().and_then(|b| b.map_readable().ok()) {
                                    on_frame(RgbFrame { width: frame.width(), height: frame.height(), stride: frame.stride()[0] as usize, data: map.as_slice() });
                                }
                            }
                            Ok(gst::FlowSuccess::Ok)
                        })
                        .build(),
                );
                sink.upcast()
            }
            (VideoOut::AppSink, None) => {
                let caps = gst::Caps::builder("video/x-raw").field("format", "RGBA").build();
                let sink = gst_app::AppSink::builder().caps(&caps).max_buffers(2).drop(true).sync(opts.sync).build();
                appsink = Some(sink.clone());
                sink.upcast()
            }
            (VideoOut::Fake, _) => make("fakesink")?,
            (VideoOut::Auto, _) => make("autovideosink")?,
            (VideoOut::Kms, _) => make("kmssink")?,
        };
        if opts.video == VideoOut::Fake {
            video.set_property("sync", opts.sync);
        }
        playbin.set_property("video-sink", &video);
        if opts.audio == AudioOut::Fake {
            let a = make("fakesink")?;
            a.set_property("sync", opts.sync);
            playbin.set_property("audio-sink", &a);
        }
        let queue = Arc::new(Mutex::new(Queue::default()));
        let q = queue.clone();
        // Called on a streaming thread near the end of an item: hand playbin the
        // next one now so it starts without a gap.
        playbin.connect("about-to-finish", false, move |args| {
            let pb = args[0].get::<gst::Element>().ok()?;
            let mut q = q.lock().unwrap_or_else(|e| e.into_inner());
            let next = q.queued + 1;
            if let Some(path) = q.items.get(next).cloned() {
                match uri(&path) {
                    Ok(u) => {
                        pb.set_property("uri", u);
                        q.queued = next;
                    }
                    Err(e) => tracing::warn!(file = %path.display(), error = %e, "cannot queue the next video"),
                }
            }
            None
        });
        Ok(GstPlayer { playbin, appsink, queue, events: VecDeque::new(), opts, playing: false })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets a state and waits (bounded) for it, watching the bus: a media error
    /// on the way is returned at once instead of after the whole wait.
    fn change(&mut self, state: gst::State, what: &'static str) -> Result<(), PlayerError> {
        let set = self.playbin.set_state(state);
        let deadline = std::time::Instant::now() + self.opts.wait;
        let mut outcome = if set.is_err() { Err(None) } else { Ok(()) };
        while outcome.is_ok() {
            let (res, _, _) = self.playbin.state(Some(gst::ClockTime::from_mseconds(50)));
            match res {
                Err(_) => outcome = Err(self.wait_error(Duration::from_millis(500))),
                Ok(gst::StateChangeSuccess::Async) => {
                    if let Some(e) = self.wait_error(Duration::ZERO) {
                        outcome = Err(Some(e));
                    } else if std::time::Instant::now() >= deadline {
                        outcome = Err(Some(PlayerError::Timeout(what)));
                    }
                }
                Ok(_) => return Ok(()),
            }
        }
        let err = match outcome {
            Err(Some(e)) => e,
            _ => self.wait_error(Duration::from_millis(500)).unwrap_or(PlayerError::Media { problem: MediaProblem::Other, message: format!("could not {what}") }),
        };
        // Going to NULL flushes the bus, so only after the error was read.
        let _ = self.playbin.set_state(gst::State::Null);
        self.playing = false;
        Err(err)
    }

    /// Waits (bounded) for an error on the bus; other messages become queued events.
    fn wait_error(&mut self, within: Duration) -> Option<PlayerError> {
        let bus = self.playbin.bus()?;
        let deadline = std::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let msg = if left.is_zero() {
                bus.pop_filtered(&WATCHED)?
            } else {
                bus.timed_pop_filtered(Some(Self::clock_time(left)), &WATCHED)?
            };
            match self.translate(&msg) {
                Some(PlayerEvent::Error { problem, message, .. }) => return Some(PlayerError::Media { problem, message }),
                Some(ev) => self.events.push_back(ev),
                None => {}
            }
        }
    }

    /// Moves every pending bus message into the event queue, in order.
    fn pump(&mut self) {
        let Some(bus) = self.playbin.bus() else { return };
        while let Some(msg) = bus.pop_filtered(&WATCHED) {
            if let Some(ev) = self.translate(&msg) {
                self.events.push_back(ev);
            }
        }
    }

    fn translate(&mut self, msg: &gst::Message) -> Option<PlayerEvent> {
        use gst::MessageView;
        match msg.view() {
            MessageView::StreamStart(_) => {
                let mut q = self.lock();
                let index = q.started;
                q.started += 1;
                Some(PlayerEvent::Started { index })
            }
            MessageView::Eos(_) => {
                self.playing = false;
                Some(PlayerEvent::EndOfStream)
            }
            MessageView::Error(err) => {
                let problem = classify(&err.error());
                let mut message = err.error().to_string();
                if let Some(d) = err.debug() {
                    message = format!("{message} ({})", d.lines().next().unwrap_or(""));
                }
                let index = self.lock().started.checked_sub(1).or(Some(0));
                let _ = self.playbin.set_state(gst::State::Null);
                self.playing = false;
                tracing::warn!(?problem, %message, "playback error");
                Some(PlayerEvent::Error { index, problem, message })
            }
            _ => None,
        }
    }

    fn clock_time(d: Duration) -> gst::ClockTime {
        gst::ClockTime::from_nseconds(d.as_nanos() as u64)
    }
}

/// Bus messages the player turns into events.
const WATCHED: [gst::MessageType; 3] = [gst::MessageType::StreamStart, gst::MessageType::Eos, gst::MessageType::Error];

fn classify(e: &gst::glib::Error) -> MediaProblem {
    if let Some(s) = e.kind::<gst::StreamError>() {
        return match s {
            gst::StreamError::CodecNotFound | gst::StreamError::WrongType => MediaProblem::MissingCodec,
            gst::StreamError::TypeNotFound | gst::StreamError::Demux | gst::StreamError::Decode | gst::StreamError::Format | gst::StreamError::Failed => MediaProblem::Corrupt,
            _ => MediaProblem::Other,
        };
    }
    if let Some(r) = e.kind::<gst::ResourceError>() {
        return match r {
            gst::ResourceError::NotFound | gst::ResourceError::OpenRead | gst::ResourceError::Read => MediaProblem::NotFound,
            _ => MediaProblem::Other,
        };
    }
    if e.kind::<gst::CoreError>() == Some(gst::CoreError::MissingPlugin) {
        return MediaProblem::MissingCodec;
    }
    MediaProblem::Other
}

impl Player for GstPlayer {
    fn play(&mut self, queue: &[PathBuf]) -> Result<(), PlayerError> {
        let first = queue.first().ok_or(PlayerError::EmptyQueue)?;
        let _ = self.playbin.set_state(gst::State::Null);
        if let Some(bus) = self.playbin.bus() {
            while bus.pop().is_some() {}
        }
        self.events.clear();
        if !first.is_file() {
            return Err(PlayerError::Media { problem: MediaProblem::NotFound, message: first.display().to_string() });
        }
        *self.lock() = Queue { items: queue.to_vec(), queued: 0, started: 0 };
        self.playbin.set_property("uri", uri(first)?);
        self.change(gst::State::Playing, "start")?;
        self.playing = true;
        Ok(())
    }

    fn pause(&mut self) -> Result<(), PlayerError> {
        if !self.playing {
            return Err(PlayerError::Idle);
        }
        self.change(gst::State::Paused, "pause")?;
        self.playing = false;
        self.pump();
        self.events.push_back(PlayerEvent::Paused);
        Ok(())
    }

    fn resume(&mut self) -> Result<(), PlayerError> {
        if self.playbin.current_state() != gst::State::Paused {
            return Err(PlayerError::Idle);
        }
        self.change(gst::State::Playing, "resume")?;
        self.playing = true;
        self.pump();
        self.events.push_back(PlayerEvent::Resumed);
        Ok(())
    }

    fn stop(&mut self) -> Result<(), PlayerError> {
        let _ = self.playbin.set_state(gst::State::Null);
        self.playing = false;
        Ok(())
    }

    fn seek(&mut self, to: Duration) -> Result<(), PlayerError> {
        if self.playbin.current_state() < gst::State::Paused {
            return Err(PlayerError::Idle);
        }
        // ACCURATE: land on the asked-for frame, not the previous keyframe.
        let flags = gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE;
        self.playbin
            .seek_simple(flags, Self::clock_time(to))
            .map_err(|_| PlayerError::Media { problem: MediaProblem::Other, message: format!("cannot seek to {to:?}") })?;
        let (res, _, _) = self.playbin.state(Some(Self::clock_time(self.opts.wait)));
        match res {
            Ok(gst::StateChangeSuccess::Async) => Err(PlayerError::Timeout("seek")),
            Ok(_) => Ok(()),
            Err(_) => Err(self.wait_error(Duration::from_millis(500)).unwrap_or(PlayerError::Timeout("seek"))),
        }
    }

    fn set_volume(&mut self, volume: f64) -> Result<(), PlayerError> {
        self.playbin.set_property("volume", volume.clamp(0.0, 1.0));
        Ok(())
    }

    fn position(&self) -> Option<Duration> {
        self.playbin.query_position::<gst::ClockTime>().map(|t| Duration::from_nanos(t.nseconds()))
    }

    fn duration(&self) -> Option<Duration> {
        self.playbin.query_duration::<gst::ClockTime>().map(|t| Duration::from_nanos(t.nseconds()))
    }

    fn current(&self) -> Option<usize> {
        self.lock().started.checked_sub(1)
    }

    fn is_playing(&self) -> bool {
        self.playing
    }

    fn next_event(&mut self, timeout: Duration) -> Option<PlayerEvent> {
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        let bus = self.playbin.bus()?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let msg = if left.is_zero() {
                bus.pop_filtered(&WATCHED)?
            } else {
                bus.timed_pop_filtered(Some(Self::clock_time(left)), &WATCHED)?
            };
            if let Some(ev) = self.translate(&msg) {
                return Some(ev);
            }
            if left.is_zero() {
                return None;
            }
        }
    }

    fn frame(&mut self, timeout: Duration) -> Option<Frame> {
        let sink = self.appsink.as_ref()?;
        let sample = sink.try_pull_sample(Some(Self::clock_time(timeout)))?;
        let caps = sample.caps()?;
        let info = gstreamer_video::VideoInfo::from_caps(caps).ok()?;
        let buffer = sample.buffer()?;
        let running_time = sample
            .segment()
            .and_then(|s| s.downcast_ref::<gst::ClockTime>())
            .and_then(|seg| buffer.pts().and_then(|pts| seg.to_running_time(pts)))
            .map(|t| Duration::from_nanos(t.nseconds()));
        let map = buffer.map_readable().ok()?;
        let (w, h) = (info.width(), info.height());
        let stride = info.stride()[0] as usize;
        let row = w as usize * 4;
        let mut rgba = Vec::with_capacity(row * h as usize);
        for y in 0..h as usize {
            rgba.extend_from_slice(map.get(y * stride..y * stride + row)?);
        }
        Some(Frame { width: w, height: h, rgba, running_time })
    }
}

impl Drop for GstPlayer {
    fn drop(&mut self) {
        let _ = self.playbin.set_state(gst::State::Null);
    }
}
