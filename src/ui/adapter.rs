//! The thin layer between Slint and the controller: owns the `KioskWindow`,
//! hands each view's part of the `ViewState` to that view's adapter
//! (`ui::views::*::apply`, which sets only what changed) and turns the
//! `Actions` callbacks into controller inputs whose results go to the run
//! loop's sink. Lives on the UI thread; never blocks it and never does
//! I/O (every `UiAction` is handed off to the sink).

use super::ambient::{Ambient, Playback};
use super::controller::{Touch, Page, UiAction, UiController};
use super::generated as g;
use super::lang::{self, Lang};
use super::view::{self, ViewState};
use super::views;
use super::UiError;
use crate::clock::Clock;
use crate::core::Screen;
use crate::model::CardUid;
use slint::{ComponentHandle, Global};
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::sync::Arc;

pub(crate) struct Shared {
    pub(crate) window: g::KioskWindow,
    state: RefCell<State>,
    sink: Box<dyn Fn(UiAction)>,
    clock: Arc<dyn Clock>,
}

struct State {
    ctl: UiController,
    ambient: Ambient,
    playback: Playback,
    shown: Option<ViewState>,
}

/// The kiosk UI on the current thread. Cheap to clone (shared handle).
#[derive(Clone)]
pub struct KioskUi(pub(crate) Rc<Shared>);

thread_local! {
    static CURRENT: RefCell<Weak<Shared>> = const { RefCell::new(Weak::new()) };
}

/// Runs `f` on this thread's kiosk UI, if there is one.
pub(crate) fn with_current(f: impl FnOnce(&KioskUi)) {
    if let Some(s) = CURRENT.with(|c| c.borrow().upgrade()) {
        f(&KioskUi(s));
    } else {
        tracing::warn!("UI request dropped: no kiosk UI on this thread");
    }
}

impl KioskUi {
    /// Creates the window on the current thread's Slint platform. `sink` gets
    /// every action; it must hand work off and return quickly.
    pub fn new(clock: Arc<dyn Clock>, sink: impl Fn(UiAction) + 'static) -> Result<KioskUi, UiError> {
        let window = g::KioskWindow::new().map_err(|e| UiError::Platform(e.to_string()))?;
        // Slint selects a bundled translation from the system locale when the
        // first component is created; the kiosk starts in Chinese whatever the locale.
        lang::apply(Lang::Zh)?;
        let shared = Rc::new(Shared {
            window,
            state: RefCell::new(State { ctl: UiController::new(), ambient: Ambient::default(), playback: Playback::default(), shown: None }),
            sink: Box::new(sink),
            clock,
        });
        wire(&shared);
        CURRENT.with(|c| *c.borrow_mut() = Rc::downgrade(&shared));
        let ui = KioskUi(shared);
        ui.refresh();
        Ok(ui)
    }

    pub fn window(&self) -> &g::KioskWindow {
        &self.0.window
    }

    /// Shows a screen the core asked for.
    pub fn show(&self, screen: Screen) {
        self.0.state.borrow_mut().ctl.show(screen);
        self.refresh();
    }

    pub fn set_ambient(&self, ambient: Ambient) {
        self.update_ambient(|a| *a = ambient);
    }

    pub fn update_ambient(&self, f: impl FnOnce(&mut Ambient)) {
        {
            let mut st = self.0.state.borrow_mut();
            f(&mut st.ambient);
            let first = st.ambient.first_boot;
            st.ctl.set_first_boot(first);
        }
        self.refresh();
    }

    pub fn set_playback(&self, playback: Playback) {
        self.0.state.borrow_mut().playback = playback;
        self.refresh();
    }

    /// Shows a decoded video frame on the player screen.
    pub fn set_video_frame(&self, frame: slint::SharedPixelBuffer<slint::Rgb8Pixel>) {
        g::PlayerView::get(&self.0.window).set_frame(slint::Image::from_rgb8(frame));
    }

    /// Takes the last video frame off the player screen.
    pub fn clear_video_frame(&self) {
        g::PlayerView::get(&self.0.window).set_frame(slint::Image::default());
    }

    /// The video frame the player screen shows now (size 0x0 when none).
    pub fn video_frame_size(&self) -> (u32, u32) {
        let s = g::PlayerView::get(&self.0.window).get_frame().size();
        (s.width, s.height)
    }

    pub fn pin_rejected(&self) {
        self.0.state.borrow_mut().ctl.pin_rejected();
        self.refresh();
    }

    pub fn reader_test_result(&self, result: Result<CardUid, String>) {
        self.0.state.borrow_mut().ctl.reader_test_result(result);
        self.refresh();
    }

    pub fn provision_failed(&self, message: String) {
        self.0.state.borrow_mut().ctl.provision_failed(message);
        self.refresh();
    }

    /// Plugs the provisioning module's validation into the first-boot wizard.
    pub fn set_provision_checks(&self, checks: Box<dyn super::wizard::ProvisionChecks>) {
        self.0.state.borrow_mut().ctl.set_provision_checks(checks);
    }

    /// Closes UI-only pages after their timeout; call about once a second.
    pub fn tick(&self) {
        let now = self.0.clock.now().mono_ms;
        if self.0.state.borrow_mut().ctl.tick(now) {
            self.refresh();
        }
    }

    pub fn page(&self) -> Page {
        self.0.state.borrow().ctl.page()
    }

    pub fn lang(&self) -> Lang {
        self.0.state.borrow().ctl.lang()
    }

    /// What the screen shows now, as data (for tests and diagnostics).
    pub fn view_state(&self) -> ViewState {
        let st = self.0.state.borrow();
        view::build(&st.ctl, &st.ambient, &st.playback)
    }

    /// Feeds a touch as if it came from the .slint Actions global.
    pub fn input(&self, input: Touch) {
        dispatch(&self.0, input);
    }

    /// Switches the language (as the header's button does) and tells the sink.
    pub fn set_language(&self, lang: Lang) {
        dispatch(&self.0, Touch::SetLanguage(lang.code().into()));
    }

    /// A PNG of what the window shows now (any backend that can snapshot).
    pub fn screenshot_png(&self) -> Result<Vec<u8>, UiError> {
        render_to_png(self.0.window.window())
    }

    fn refresh(&self) {
        let v = {
            let st = self.0.state.borrow();
            view::build(&st.ctl, &st.ambient, &st.playback)
        };
        let prev = self.0.state.borrow_mut().shown.replace(v.clone());
        apply(&self.0.window, prev.as_ref(), &v);
    }
}

/// Saves what `window` shows as PNG bytes, using the backend's renderer.
pub fn render_to_png(window: &slint::Window) -> Result<Vec<u8>, UiError> {
    let buf = window.take_snapshot().map_err(|e| UiError::Snapshot(e.to_string()))?;
    super::headless::Frame::from_rgba(&buf).png()
}

fn dispatch(shared: &Rc<Shared>, input: Touch) {
    let now = shared.clock.now().mono_ms;
    let actions = {
        let mut st = shared.state.borrow_mut();
        let st = &mut *st;
        st.ctl.input(input, &st.ambient, now)
    };
    for a in &actions {
        if let UiAction::LanguageChanged(l) = a {
            if let Err(e) = lang::apply(*l) {
                tracing::warn!(error = %e, "language switch failed");
            }
        }
    }
    KioskUi(shared.clone()).refresh();
    // The borrow is released: the sink may call back into the UI.
    for a in actions {
        (shared.sink)(a);
    }
}

fn wire(shared: &Rc<Shared>) {
    let a = g::Actions::get(&shared.window);
    macro_rules! on {
        ($setter:ident, || $input:expr) => {{
            let w = Rc::downgrade(shared);
            a.$setter(move || {
                if let Some(s) = w.upgrade() {
                    dispatch(&s, $input);
                }
            });
        }};
        ($setter:ident, |$arg:ident| $input:expr) => {{
            let w = Rc::downgrade(shared);
            a.$setter(move |$arg| {
                if let Some(s) = w.upgrade() {
                    dispatch(&s, $input);
                }
            });
        }};
    }
    on!(on_dismiss, || Touch::Dismiss);
    on!(on_set_language, |l| Touch::SetLanguage(l.to_string()));
    on!(on_open_library, || Touch::OpenLibrary);
    on!(on_open_technician, || Touch::OpenTechnician);
    on!(on_open_survey, || Touch::OpenSurvey);
    on!(on_start_session, |id| Touch::StartSession { schedule_id: id.to_string() });
    on!(on_end_session, || Touch::EndSession);
    on!(on_pick_course, |id| Touch::PickCourse(id.to_string()));
    on!(on_play, |id| Touch::Play(id.to_string()));
    on!(on_toggle_pause, || Touch::TogglePause);
    on!(on_seek, |d| Touch::Seek(d));
    on!(on_stop_video, || Touch::StopVideo);
    on!(on_rate, |n| Touch::Rate(n));
    on!(on_toggle_topic, |i| Touch::ToggleTopic(i));
    on!(on_submit_survey, || Touch::SubmitSurvey);
    on!(on_library_category, |i| Touch::LibraryCategory(i));
    on!(on_library_key, |k| Touch::LibraryKey(k.to_string()));
    on!(on_pin_key, |k| Touch::PinKey(k.to_string()));
    on!(on_reader_test, || Touch::ReaderTest);
    on!(on_sync_now, || Touch::SyncNow);
    on!(on_begin_enrol, || Touch::BeginEnrol);
    on!(on_enrol_key, |k| Touch::EnrolKey(k.to_string()));
    on!(on_enrol_member, |id| Touch::EnrolMember(id.to_string()));
    on!(on_wizard_key, |k| Touch::WizardKey(k.to_string()));
    on!(on_wizard_field, |i| Touch::WizardField(i));
    on!(on_wizard_board, |i| Touch::WizardBoard(i));
    on!(on_wizard_next, || Touch::WizardNext);
    on!(on_wizard_back, || Touch::WizardBack);
}

/// Copies `v` into the globals, view by view; each view skips what equals
/// `prev` so an unchanged list does not rebuild its items (and the idle
/// screen does not redraw).
fn apply(w: &g::KioskWindow, prev: Option<&ViewState>, v: &ViewState) {
    views::common::apply(w, prev.map(|p| &p.common), &v.common);
    views::idle::apply(w, prev.map(|p| &p.idle), &v.idle);
    views::member::apply(w, prev.map(|p| &p.member), &v.member);
    views::trainer::apply(w, prev.map(|p| &p.trainer), &v.trainer);
    views::player::apply(w, prev.map(|p| &p.player), &v.player);
    views::rating::apply(w, prev.map(|p| &p.rating), &v.rating);
    views::survey::apply(w, prev.map(|p| &p.survey), &v.survey);
    views::library::apply(w, prev.map(|p| &p.library), &v.library);
    views::pin::apply(w, prev.map(|p| &p.pin), &v.pin);
    views::technician::apply(w, prev.map(|p| &p.technician), &v.technician);
    views::enrol::apply(w, prev.map(|p| &p.enrol), &v.enrol);
    views::wizard::apply(w, prev.map(|p| &p.wizard), &v.wizard);
    views::error::apply(w, prev.map(|p| &p.error), &v.error);
}
