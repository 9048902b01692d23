//! The kiosk with its touchscreen: runs Slint on the calling (main) thread,
//! the kiosk loop (`app::assemble::drive`, with the same per-turn hooks as
//! the line-output kiosk) on a worker thread, and a bridge thread that turns UI
//! actions into loop inputs and drives the player (GStreamer for cached
//! courses, simulated otherwise). The UI thread
//! only ever posts messages; it never waits on the store, the player or the network.

use super::adapter::KioskUi;
use super::ambient::{Ambient, DeviceFact, LibraryCourse, LinkState, RosterEntry};
use super::backend::{self, Backend};
use super::controller::UiAction;
use super::feed::{link_state, Feed};
use super::handle::UiHandle;
use super::playing::VideoDesk;
use super::video::{GstVideo, UiScreen, VideoSource};
use super::ops::Ops;
use super::UiError;
use slint::ComponentHandle;
use crate::app::assemble::{drive, TurnHooks};
use crate::app::{CaptureError, Input, Presenter, ScreenCapture, Shell, Shown};
use crate::clock::{Clock, SystemClock};
use crate::core::{Event, Unlock};
use crate::player::gst::AudioOut;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

/// How to bring the screen up.
#[derive(Debug, Clone)]
pub struct UiOptions {
    pub backend: Backend,
    pub width: u32,
    pub height: u32,
    pub centre_name: String,
    pub utc_offset_s: i32,
    pub quota_hours: u32,
    pub minutes_per_hour: u32,
    /// Argon2 hash of the technician PIN (config `ui.technician_pin_hash`).
    pub pin_hash: Option<String>,
    /// Lines for the technician's device panel.
    pub device_facts: Vec<DeviceFact>,
    pub hub_configured: bool,
    /// The running uplink (link state, last sync, "sync now").
    pub hub: Option<crate::uplink::UplinkMonitor>,
    /// The config file the first-boot wizard writes (`None`: demo config).
    pub config_path: Option<PathBuf>,
    pub first_boot: bool,
    /// The boards the wizard offers (`crate::board::choices`).
    pub boards: Vec<crate::board::BoardChoice>,
    /// The verified video cache (`[library] cache_dir`); `None` plays every course simulated.
    pub cache_dir: Option<PathBuf>,
}

enum Bridge {
    Action(UiAction),
    Shown { play: Option<String>, stop: bool },
}

/// The presenter for a kiosk with a screen: screens go to the UI thread,
/// player commands to the bridge. Never blocks the kiosk loop.
pub struct UiPresenter {
    handle: UiHandle,
    bridge: Sender<Bridge>,
}

/// The receiving end the presenter feeds; hand it to [`run`].
pub struct BridgeInbox {
    tx: Sender<Bridge>,
    rx: Receiver<Bridge>,
}

/// Makes the presenter for `Shell::new` and the inbox for [`run`].
pub fn presenter() -> (Box<dyn Presenter>, BridgeInbox) {
    let (tx, rx) = mpsc::channel();
    (Box::new(UiPresenter { handle: UiHandle::new(), bridge: tx.clone() }), BridgeInbox { tx, rx })
}

impl Presenter for UiPresenter {
    fn present(&mut self, shown: &Shown) {
        if shown.play.is_some() || shown.stop_video {
            let _ = self.bridge.send(Bridge::Shown { play: shown.play.clone(), stop: shown.stop_video });
        }
        if let Some(screen) = &shown.screen {
            if let Err(e) = self.handle.show(screen.clone()) {
                tracing::warn!(error = %e, "screen not shown");
            }
        }
    }
}

/// The live screen of this process's kiosk UI, handed to the app layer for
/// the control socket's `screenshot` command and the hub command. Call it
/// from any thread but the UI thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveScreen;

impl ScreenCapture for LiveScreen {
    fn save_png(&self, path: &Path) -> Result<usize, CaptureError> {
        screenshot_to(path).map_err(|e| CaptureError(e.to_string()))
    }
}

/// Saves the live screen as a PNG at `path`; the bytes written.
fn screenshot_to(path: &Path) -> Result<usize, UiError> {
    let png = UiHandle::new().screenshot(Duration::from_secs(10))?;
    std::fs::write(path, &png)?;
    Ok(png.len())
}

fn initial_ambient(opts: &UiOptions, shell: &Shell, feed: &mut Feed) -> Ambient {
    let store = shell.store();
    let now_ms = SystemClock::new().now().wall_ms;
    let schedule = feed.schedule(store, now_ms).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "schedule unavailable");
        None
    });
    let cached = feed.cached(store).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "course cache index unavailable");
        None
    });
    let status = opts.hub.as_ref().map(|h| h.status());
    let courses = store.courses().unwrap_or_else(|e| {
        tracing::warn!(error = %e, "course list unavailable");
        Vec::new()
    });
    let roster = store.search_members("", 100_000).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "roster unavailable");
        Vec::new()
    });
    Ambient {
        centre: opts.centre_name.clone(),
        now_ms,
        utc_offset_s: opts.utc_offset_s,
        schedule: schedule.unwrap_or_default(),
        link: match &status {
            Some(st) => link_state(Some(st)),
            None if opts.hub_configured => LinkState::Connecting,
            None => LinkState::Offline,
        },
        last_sync_ms: status.and_then(|s| s.last_sync_ms),
        backlog: store.backlog().map(|n| n.max(0) as u64).unwrap_or(0),
        courses: courses
            .into_iter()
            .map(|course| LibraryCourse { cached: cached.as_ref().is_some_and(|c| c.contains(&course.id)), course })
            .collect(),
        roster: roster.into_iter().map(|m| RosterEntry { id: m.id, name: m.name, branch: m.branch }).collect(),
        device: opts.device_facts.clone(),
        quota_hours: opts.quota_hours,
        minutes_per_hour: opts.minutes_per_hour,
        first_boot: opts.first_boot,
        boards: opts.boards.clone(),
        ..Ambient::default()
    }
}

/// The kiosk loop's periodic refresh of what every screen shows: backlog,
/// hub link and last sync, today's schedule, cached courses. Cheap queries;
/// only changes are posted to the UI.
fn refresh_ambient(handle: &UiHandle, shell: &Shell, feed: &mut Feed, hub: Option<&crate::uplink::UplinkMonitor>) {
    let store = shell.store();
    let backlog = store.backlog().map(|n| n.max(0) as u64).unwrap_or(0);
    let status = hub.map(|h| h.status());
    let schedule = feed.schedule(store, shell.now().wall_ms).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "schedule unavailable");
        None
    });
    let cached = feed.cached(store).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "course cache index unavailable");
        None
    });
    let _ = handle.update_ambient(move |a| {
        a.backlog = backlog;
        if let Some(st) = &status {
            a.link = link_state(Some(st));
            a.last_sync_ms = st.last_sync_ms.or(a.last_sync_ms);
        }
        if let Some(items) = schedule {
            a.schedule = items;
        }
        if let Some(cached) = cached {
            for c in &mut a.courses {
                c.cached = cached.contains(&c.course.id);
            }
        }
    });
}

fn pin_ok(hash: Option<&str>, pin: &str) -> bool {
    let Some(hash) = hash else {
        tracing::warn!("technician PIN entered but none is configured (ui.technician_pin_hash)");
        return false;
    };
    crate::provision::pin::verify_pin(pin, hash).unwrap_or_else(|e| {
        tracing::error!(error = %e, "cannot check the technician PIN");
        false
    })
}

/// What a PIN typed on the technician pad asks of the core: the panel (through
/// the core, so enrolment works as after a technician tap), or `None` for a
/// wrong PIN (answer with `pin_rejected`).
pub fn pin_event(hash: Option<&str>, pin: &str) -> Option<Event> {
    pin_ok(hash, pin).then_some(Event::TechnicianUnlocked { by: Unlock::Pin })
}

/// How long the reader test waits for a card.
pub const READER_TEST_WINDOW: Duration = Duration::from_secs(10);

/// Asks the kiosk loop for the next card read and shows it (or the timeout)
/// on the technician panel, from a short-lived thread so the bridge goes on.
fn reader_test(tx: &Sender<Input>, ui: &UiHandle) {
    let (rtx, rrx) = mpsc::channel();
    if tx.send(Input::ReaderTest { within: READER_TEST_WINDOW, reply: rtx }).is_err() {
        return;
    }
    let answer = ui.clone();
    let spawned = std::thread::Builder::new().name("reader-test".into()).spawn(move || {
        let result = match rrx.recv_timeout(READER_TEST_WINDOW + Duration::from_millis(200)) {
            Ok(uid) => Ok(uid),
            // A newer test replaced this one: it answers instead.
            Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => Err(format!("{} 秒内没有读到卡片，请检查读卡器 / No card read within {} s: check the reader", READER_TEST_WINDOW.as_secs(), READER_TEST_WINDOW.as_secs())),
        };
        if let Err(e) = answer.reader_test_result(result) {
            tracing::warn!(error = %e, "reader test result not shown");
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the reader test");
        let _ = ui.reader_test_result(Err("读卡测试无法启动 / Reader test could not start".into()));
    }
}

/// What the bridge needs besides its channels.
struct BridgeSetup {
    pin_hash: Option<String>,
    /// The verified video cache; `None`: every course plays simulated.
    cache_dir: Option<PathBuf>,
    video: Box<dyn VideoSource>,
    ops: Ops,
}

/// The bridge thread: UI actions to loop inputs, and the player.
fn bridge(inbox: Receiver<Bridge>, tx: Sender<Input>, setup: BridgeSetup, stop: Arc<AtomicBool>) {
    let ui = UiHandle::new();
    let clock = SystemClock::new();
    let BridgeSetup { pin_hash, cache_dir, video, ops } = setup;
    let mut desk = VideoDesk::new(video, Arc::new(UiScreen::new()));
    let send = |e: Event| {
        let _ = tx.send(Input::Event(e));
    };
    while !stop.load(Ordering::SeqCst) {
        let wait = if desk.is_playing() { Duration::from_millis(200) } else { Duration::from_millis(500) };
        let received = inbox.recv_timeout(wait);
        let now = clock.now().mono_ms;
        match received {
            Ok(Bridge::Action(a)) => match a {
                UiAction::Core(e) => send(e),
                UiAction::PlayCourse { course_id } => {
                    let (rtx, rrx) = mpsc::channel();
                    let asked = match &cache_dir {
                        Some(dir) => tx.send(Input::Playable { course_id: course_id.clone(), cache_dir: dir.clone(), reply: rtx }),
                        None => {
                            let (ltx, lrx) = mpsc::channel();
                            let r = tx.send(Input::Lookup { course_id: course_id.clone(), reply: ltx });
                            let _ = rtx.send(lrx.recv_timeout(Duration::from_secs(10)).ok().flatten().map(|c| (c, None)));
                            r
                        }
                    };
                    if asked.is_err() {
                        return;
                    }
                    match rrx.recv_timeout(Duration::from_secs(10)) {
                        Ok(Some((course, files))) => send(desk.request(course, files)),
                        _ => tracing::warn!(%course_id, "cannot play: course not in the catalogue"),
                    }
                }
                UiAction::TogglePause => desk.toggle_pause(now),
                UiAction::Seek { delta_s } => desk.seek(delta_s, now),
                UiAction::StopVideo => {
                    if let Some(e) = desk.stop(now) {
                        send(e);
                    }
                }
                UiAction::TechnicianPin(pin) => {
                    if let Some(e) = pin_event(pin_hash.as_deref(), &pin) {
                        send(e);
                    } else if let Err(e) = ui.pin_rejected() {
                        tracing::warn!(error = %e, "PIN answer not shown");
                    }
                }
                UiAction::ReaderTest => reader_test(&tx, &ui),
                UiAction::SyncNow => ops.sync_now(&ui),
                UiAction::LanguageChanged(l) => tracing::info!(lang = l.code(), "language changed"),
                UiAction::Provision(form) => {
                    if let Err(e) = ops.provision(&form) {
                        tracing::warn!(error = %e, "first-boot provisioning failed");
                        let _ = ui.provision_failed(e);
                    }
                }
            },
            Ok(Bridge::Shown { play, stop: stop_video }) => {
                if stop_video {
                    desk.core_stopped(now);
                }
                if let Some(id) = play {
                    if let Some(e) = desk.core_started(&id, now) {
                        send(e);
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        if let Some(e) = desk.poll(clock.now().mono_ms) {
            send(e);
        }
    }
}

/// Runs the kiosk with its screen until the window closes or `stop` is set.
/// Must be called on the main thread (Slint owns it). Cached courses play
/// with GStreamer, scaled to the screen.
pub fn run(opts: UiOptions, shell: Shell, rx: Receiver<Input>, tx: Sender<Input>, stop: Arc<AtomicBool>, inbox: BridgeInbox) -> Result<(), UiError> {
    let video = Box::new(GstVideo { max_w: opts.width, max_h: opts.height, audio: AudioOut::Auto });
    run_with_video(opts, shell, rx, tx, stop, inbox, video)
}

/// As [`run`], with the player for cached courses given.
pub fn run_with_video(opts: UiOptions, mut shell: Shell, rx: Receiver<Input>, tx: Sender<Input>, stop: Arc<AtomicBool>, inbox: BridgeInbox, video: Box<dyn VideoSource>) -> Result<(), UiError> {
    let (chosen, headless) = backend::select(opts.backend, opts.width, opts.height)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let actions = inbox.tx.clone();
    let ui = KioskUi::new(clock.clone(), move |a| {
        let _ = actions.send(Bridge::Action(a));
    })?;
    let mut feed = Feed::new(opts.utc_offset_s);
    ui.set_ambient(initial_ambient(&opts, &shell, &mut feed));
    if chosen == Backend::Winit {
        // A desktop window of the panel's size; KMS takes the display's size.
        ui.window().window().set_size(slint::PhysicalSize::new(opts.width, opts.height));
    }
    ui.window().show().map_err(|e| UiError::Platform(e.to_string()))?;
    if headless.is_some() {
        println!(
            "microclass: no display found, the kiosk runs headless ({}x{}). Take a screenshot with\n  microclass screenshot kiosk.png\nand tap cards with `microclass tap <UID>`.",
            opts.width, opts.height
        );
    }
    tracing::info!(backend = ?chosen, "touchscreen UI started");

    let loop_stop = stop.clone();
    let handle = UiHandle::new();
    let service_clock = clock.clone();
    let hub = opts.hub.clone();
    let worker = std::thread::Builder::new().name("kiosk-loop".into()).spawn(move || {
        let mut last = std::time::Instant::now();
        // The watchdog is fed from this loop, so a wedged kiosk loop restarts the service.
        let hooks = TurnHooks::from_env(service_clock, loop_stop.clone());
        drive(&mut shell, rx, loop_stop, hooks, "kiosk running with its screen", |shell| {
            if last.elapsed() >= Duration::from_secs(2) {
                last = std::time::Instant::now();
                refresh_ambient(&handle, shell, &mut feed, hub.as_ref());
            }
        });
        let _ = UiHandle::new().quit();
    })?;
    let bridge_stop = stop.clone();
    let bridge_tx = tx.clone();
    let ops = Ops::new(opts.hub.clone(), opts.config_path.clone(), stop.clone());
    let setup = BridgeSetup { pin_hash: opts.pin_hash.clone(), cache_dir: opts.cache_dir.clone(), video, ops };
    std::thread::Builder::new().name("ui-bridge".into()).spawn(move || bridge(inbox.rx, bridge_tx, setup, bridge_stop))?;

    // Once a second: the header clock, UI-page timeouts, and SIGTERM.
    let timer = slint::Timer::default();
    let weak = ui.clone();
    let timer_stop = stop.clone();
    timer.start(slint::TimerMode::Repeated, Duration::from_secs(1), move || {
        let now = SystemClock::new().now().wall_ms;
        weak.update_ambient(|a| a.now_ms = now);
        weak.tick();
        if timer_stop.load(Ordering::SeqCst) {
            let _ = slint::quit_event_loop();
        }
    });
    let result = slint::run_event_loop().map_err(|e| UiError::Platform(e.to_string()));
    stop.store(true, Ordering::SeqCst);
    let _ = tx.send(Input::Shutdown);
    drop(tx);
    let _ = worker.join();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_configured_pin_opens_the_technician_panel() {
        let hash = crate::provision::pin::hash_pin("258036").expect("hash");
        assert!(pin_ok(Some(&hash), "258036"));
        assert!(!pin_ok(Some(&hash), "258037"));
        assert!(!pin_ok(None, "258036"), "no PIN configured: nobody gets in by PIN");
        assert!(!pin_ok(Some("not a hash"), "258036"));
    }
}
