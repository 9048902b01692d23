//! Headless Slint: a `Platform` with one `MinimalSoftwareWindow` drawn by the
//! software renderer into memory, with a real event loop (timers, animations,
//! `invoke_from_event_loop`) for a kiosk without a display, plus frame capture
//! and PNG encoding for screenshots and tests. Never opens a display or input device.

use super::UiError;
use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{EventLoopProxy, Platform, WindowAdapter};
use slint::{PhysicalSize, Rgb8Pixel, SharedPixelBuffer};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Queue {
    state: Mutex<(VecDeque<Job>, bool)>,
    wake: Condvar,
}

struct Proxy(Arc<Queue>);

impl EventLoopProxy for Proxy {
    fn quit_event_loop(&self) -> Result<(), slint::EventLoopError> {
        let mut s = self.0.state.lock().map_err(|_| slint::EventLoopError::EventLoopTerminated)?;
        s.1 = true;
        self.0.wake.notify_all();
        Ok(())
    }
    fn invoke_from_event_loop(&self, event: Job) -> Result<(), slint::EventLoopError> {
        let mut s = self.0.state.lock().map_err(|_| slint::EventLoopError::EventLoopTerminated)?;
        s.0.push_back(event);
        self.0.wake.notify_all();
        Ok(())
    }
}

/// An RGB frame as drawn by the software renderer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    /// RGB, 3 bytes per pixel, rows top to bottom.
    pub rgb: Vec<u8>,
}

impl Frame {
    pub fn from_rgba(buf: &SharedPixelBuffer<slint::Rgba8Pixel>) -> Frame {
        let rgb = buf.as_slice().iter().flat_map(|p| [p.r, p.g, p.b]).collect();
        Frame { width: buf.width(), height: buf.height(), rgb }
    }
    pub fn png(&self) -> Result<Vec<u8>, UiError> {
        encode_png(self.width, self.height, png::ColorType::Rgb, &self.rgb)
    }
}

/// Encodes 8-bit pixels as PNG.
pub fn encode_png(width: u32, height: u32, color: png::ColorType, data: &[u8]) -> Result<Vec<u8>, UiError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(color);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::High);
        let mut w = enc.write_header()?;
        w.write_image_data(data)?;
        w.finish()?;
    }
    Ok(out)
}

/// The headless platform. Install it once per thread with [`HeadlessPlatform::install`].
pub struct HeadlessPlatform {
    window: Rc<MinimalSoftwareWindow>,
    queue: Arc<Queue>,
    start: Instant,
    last: Rc<RefCell<Option<Frame>>>,
    /// Serve `invoke_from_event_loop`: Slint allows that for one thread per process.
    cross_thread: bool,
}

/// What a thread gets back from installing the headless platform.
#[derive(Clone)]
pub struct Headless {
    pub window: Rc<MinimalSoftwareWindow>,
    last: Rc<RefCell<Option<Frame>>>,
}

impl HeadlessPlatform {
    /// Makes the headless platform this thread's Slint platform, with a window of
    /// `width` x `height` physical pixels at scale factor 1. Any number of
    /// threads may do this (tests, renders); other threads cannot post to them.
    pub fn install(width: u32, height: u32) -> Result<Headless, UiError> {
        Self::install_with(width, height, false)
    }

    /// As `install`, and the event loop serves `invoke_from_event_loop` (the
    /// running kiosk). Only one thread per process can do this.
    pub fn install_event_loop(width: u32, height: u32) -> Result<Headless, UiError> {
        Self::install_with(width, height, true)
    }

    fn install_with(width: u32, height: u32, cross_thread: bool) -> Result<Headless, UiError> {
        let window = MinimalSoftwareWindow::new(RepaintBufferType::NewBuffer);
        window.set_size(PhysicalSize::new(width, height));
        let last = Rc::new(RefCell::new(None));
        let platform = HeadlessPlatform { window: window.clone(), queue: Arc::default(), start: Instant::now(), last: last.clone(), cross_thread };
        slint::platform::set_platform(Box::new(platform)).map_err(|e| UiError::Platform(e.to_string()))?;
        Ok(Headless { window, last })
    }
}

impl Headless {
    /// Resizes the window (physical pixels).
    pub fn resize(&self, width: u32, height: u32) {
        self.window.set_size(PhysicalSize::new(width, height));
        self.window.request_redraw();
    }

    /// Runs due timers and draws the whole window now, whether or not it changed.
    pub fn render(&self) -> Frame {
        slint::platform::update_timers_and_animations();
        self.window.request_redraw();
        let frame = draw(&self.window).unwrap_or_else(|| Frame { width: 0, height: 0, rgb: vec![] });
        *self.last.borrow_mut() = Some(frame.clone());
        frame
    }

    /// Draws only if something changed; returns the new frame if one was drawn.
    pub fn render_if_needed(&self) -> Option<Frame> {
        slint::platform::update_timers_and_animations();
        let frame = draw(&self.window)?;
        *self.last.borrow_mut() = Some(frame.clone());
        Some(frame)
    }

    /// The last frame drawn (by the event loop or by `render`).
    pub fn last_frame(&self) -> Option<Frame> {
        self.last.borrow().clone()
    }
}

fn draw(window: &MinimalSoftwareWindow) -> Option<Frame> {
    let size = window.size();
    let (w, h) = (size.width as usize, size.height as usize);
    let mut frame = None;
    window.draw_if_needed(|renderer| {
        let mut buf = SharedPixelBuffer::<Rgb8Pixel>::new(w as u32, h as u32);
        renderer.render(buf.make_mut_slice(), w);
        frame = Some(Frame { width: w as u32, height: h as u32, rgb: buf.as_bytes().to_vec() });
    });
    frame
}

impl Platform for HeadlessPlatform {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, slint::PlatformError> {
        Ok(self.window.clone())
    }

    fn duration_since_start(&self) -> Duration {
        self.start.elapsed()
    }

    fn new_event_loop_proxy(&self) -> Option<Box<dyn EventLoopProxy>> {
        self.cross_thread.then(|| Box::new(Proxy(self.queue.clone())) as Box<dyn EventLoopProxy>)
    }

    fn run_event_loop(&self) -> Result<(), slint::PlatformError> {
        loop {
            slint::platform::update_timers_and_animations();
            if let Some(f) = draw(&self.window) {
                *self.last.borrow_mut() = Some(f);
            }
            let wait = if self.window.has_active_animations() {
                Duration::from_millis(16)
            } else {
                slint::platform::duration_until_next_timer_update().unwrap_or(Duration::from_secs(1)).min(Duration::from_secs(1))
            };
            let (jobs, quit) = {
                let guard = self.queue.state.lock().map_err(|_| slint::PlatformError::Other("event queue poisoned".into()))?;
                let (mut guard, _) = self
                    .queue
                    .wake
                    .wait_timeout_while(guard, wait, |s| s.0.is_empty() && !s.1)
                    .map_err(|_| slint::PlatformError::Other("event queue poisoned".into()))?;
                (std::mem::take(&mut guard.0), std::mem::replace(&mut guard.1, false))
            };
            for job in jobs {
                job();
            }
            if quit {
                return Ok(());
            }
        }
    }
}
