//! The thin layer between Slint and the controller: owns the `KioskWindow`,
//! copies each `ViewState` into the .slint globals (only what changed) and
//! turns the `Actions` callbacks into controller inputs whose results go to
//! the run loop's sink. Lives on the UI thread; never blocks it and never does
//! I/O (every `UiAction` is handed off to the sink).

use super::ambient::{Ambient, LinkState, Playback};
use super::controller::{Input, Page, ReaderTestState, UiAction, UiController};
use super::generated as g;
use super::lang::{self, Lang};
use super::view::{self, OutcomeKind, ViewState};
use super::UiError;
use crate::clock::Clock;
use crate::core::{ErrorKind, Screen};
use crate::model::CardUid;
use slint::{ComponentHandle, Global, ModelRc, SharedString, VecModel};
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

fn ss(s: &str) -> SharedString {
    SharedString::from(s)
}

fn model<T: Clone + 'static>(v: Vec<T>) -> ModelRc<T> {
    ModelRc::new(VecModel::from(v))
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
        g::View::get(&self.0.window).set_video_frame(slint::Image::from_rgb8(frame));
    }

    /// Takes the last video frame off the player screen.
    pub fn clear_video_frame(&self) {
        g::View::get(&self.0.window).set_video_frame(slint::Image::default());
    }

    /// The video frame the player screen shows now (size 0x0 when none).
    pub fn video_frame_size(&self) -> (u32, u32) {
        let s = g::View::get(&self.0.window).get_video_frame().size();
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
    pub fn input(&self, input: Input) {
        dispatch(&self.0, input);
    }

    /// Switches the language (as the header's button does) and tells the sink.
    pub fn set_language(&self, lang: Lang) {
        dispatch(&self.0, Input::SetLanguage(lang.code().into()));
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

fn dispatch(shared: &Rc<Shared>, input: Input) {
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
    on!(on_dismiss, || Input::Dismiss);
    on!(on_set_language, |l| Input::SetLanguage(l.to_string()));
    on!(on_open_library, || Input::OpenLibrary);
    on!(on_open_technician, || Input::OpenTechnician);
    on!(on_open_survey, || Input::OpenSurvey);
    on!(on_start_session, |id| Input::StartSession { schedule_id: id.to_string() });
    on!(on_end_session, || Input::EndSession);
    on!(on_pick_course, |id| Input::PickCourse(id.to_string()));
    on!(on_play, |id| Input::Play(id.to_string()));
    on!(on_toggle_pause, || Input::TogglePause);
    on!(on_seek, |d| Input::Seek(d));
    on!(on_stop_video, || Input::StopVideo);
    on!(on_rate, |n| Input::Rate(n));
    on!(on_toggle_topic, |i| Input::ToggleTopic(i));
    on!(on_submit_survey, || Input::SubmitSurvey);
    on!(on_library_category, |i| Input::LibraryCategory(i));
    on!(on_library_key, |k| Input::LibraryKey(k.to_string()));
    on!(on_pin_key, |k| Input::PinKey(k.to_string()));
    on!(on_reader_test, || Input::ReaderTest);
    on!(on_sync_now, || Input::SyncNow);
    on!(on_begin_enrol, || Input::BeginEnrol);
    on!(on_enrol_key, |k| Input::EnrolKey(k.to_string()));
    on!(on_enrol_member, |id| Input::EnrolMember(id.to_string()));
    on!(on_wizard_key, |k| Input::WizardKey(k.to_string()));
    on!(on_wizard_field, |i| Input::WizardField(i));
    on!(on_wizard_board, |i| Input::WizardBoard(i));
    on!(on_wizard_next, || Input::WizardNext);
    on!(on_wizard_back, || Input::WizardBack);
}

fn page(p: Page) -> g::Page {
    match p {
        Page::Idle => g::Page::Idle,
        Page::Member => g::Page::Member,
        Page::UnknownCard => g::Page::UnknownCard,
        Page::Trainer => g::Page::Trainer,
        Page::Technician => g::Page::Technician,
        Page::Enrol => g::Page::Enrol,
        Page::RatingPrompt => g::Page::RatingPrompt,
        Page::RatingThanks => g::Page::RatingThanks,
        Page::Survey => g::Page::Survey,
        Page::SurveyThanks => g::Page::SurveyThanks,
        Page::Player => g::Page::Player,
        Page::Library => g::Page::Library,
        Page::Pin => g::Page::Pin,
        Page::Provision => g::Page::Provision,
        Page::Error => g::Page::Error,
    }
}

fn rows(v: &[super::view::Row]) -> ModelRc<g::PersonRow> {
    model(v.iter().map(|r| g::PersonRow { id: ss(&r.id), name: ss(&r.text), detail: ss(&r.detail) }).collect())
}

fn infos(v: &[(String, String, bool)]) -> ModelRc<g::InfoRow> {
    model(v.iter().map(|(l, val, ok)| g::InfoRow { label: ss(l), value: ss(val), ok: *ok }).collect())
}

fn strings(v: &[String]) -> ModelRc<SharedString> {
    model(v.iter().map(|s| ss(s)).collect())
}

/// Copies `v` into the globals, skipping what equals `prev` so an unchanged
/// list does not rebuild its items (and the idle screen does not redraw).
fn apply(w: &g::KioskWindow, prev: Option<&ViewState>, v: &ViewState) {
    let amb = g::Ambient::get(w);
    let vw = g::View::get(w);
    macro_rules! set {
        ($field:ident, $set:expr) => {
            if prev.is_none_or(|p| p.$field != v.$field) {
                $set;
            }
        };
    }
    set!(centre, amb.set_centre(ss(&v.centre)));
    set!(date, amb.set_date(ss(&v.date)));
    set!(time, amb.set_time(ss(&v.time)));
    set!(schedule, amb.set_schedule(model(v.schedule.iter().map(|s| g::ScheduleRow { id: ss(&s.id), time: ss(&s.time), title: ss(&s.title), trainer: ss(&s.trainer), current: s.current }).collect())));
    set!(link, amb.set_link(match v.link {
        LinkState::Online => g::Link::Online,
        LinkState::Connecting => g::Link::Connecting,
        LinkState::Offline => g::Link::Offline,
    }));
    set!(backlog, amb.set_backlog(i32::try_from(v.backlog).unwrap_or(i32::MAX)));
    set!(language, amb.set_language(ss(v.language)));
    set!(page, vw.set_page(page(v.page.unwrap_or(Page::Idle))));
    set!(member_name, vw.set_member_name(ss(&v.member_name)));
    set!(member_branch, vw.set_member_branch(ss(&v.member_branch)));
    set!(outcome, vw.set_outcome(match v.outcome {
        OutcomeKind::SignedIn => g::Outcome::SignedIn,
        OutcomeKind::SignedOut => g::Outcome::SignedOut,
        OutcomeKind::AlreadySignedIn => g::Outcome::AlreadySignedIn,
        OutcomeKind::Status => g::Outcome::Status,
        OutcomeKind::AlreadyRated => g::Outcome::AlreadyRated,
    }));
    set!(hours, vw.set_hours(ss(&v.hours)));
    set!(quota, vw.set_quota(v.quota as i32));
    set!(progress, vw.set_progress(v.progress));
    set!(credited_minutes, vw.set_credited_minutes(v.credited_minutes as i32));
    set!(since, vw.set_since(ss(&v.since)));
    set!(owed, vw.set_owed(strings(&v.owed)));
    set!(makeup, vw.set_makeup(strings(&v.makeup)));
    set!(mobile, vw.set_mobile(v.mobile));
    set!(card_uid, vw.set_card_uid(ss(&v.card_uid)));
    set!(query, vw.set_query(ss(&v.query)));
    set!(candidates, vw.set_candidates(rows(&v.candidates)));
    set!(trainer_name, vw.set_trainer_name(ss(&v.trainer_name)));
    set!(session_running, vw.set_session_running(v.session_running));
    set!(session_title, vw.set_session_title(ss(&v.session_title)));
    set!(session_started, vw.set_session_started(ss(&v.session_started)));
    set!(attendees, vw.set_attendees(rows(&v.attendees)));
    set!(picked_course_id, vw.set_picked_course_id(ss(&v.picked_course_id)));
    set!(picked_course, vw.set_picked_course(ss(&v.picked_course)));
    set!(video_title, vw.set_video_title(ss(&v.video_title)));
    set!(video_position, vw.set_video_position(ss(&v.video_position)));
    set!(video_duration, vw.set_video_duration(ss(&v.video_duration)));
    set!(video_progress, vw.set_video_progress(v.video_progress));
    set!(video_paused, vw.set_video_paused(v.video_paused));
    set!(rating_member, vw.set_rating_member(ss(&v.rating_member)));
    set!(rating_session, vw.set_rating_session(ss(&v.rating_session)));
    set!(stars, vw.set_stars(i32::from(v.stars)));
    set!(topics, vw.set_topics(model(v.topics.iter().map(|(l, c)| g::TopicRow { label: ss(l), chosen: *c }).collect())));
    set!(categories, vw.set_categories(strings(&v.categories)));
    set!(category, vw.set_category(v.category));
    set!(courses, vw.set_courses(model(v.courses.iter().map(|c| g::CourseRow {
        id: ss(&c.id),
        title: ss(&c.title),
        category: ss(&c.category),
        required: c.required,
        minutes: c.minutes as i32,
        credit: ss(&c.credit),
        cached: c.cached,
        selected: c.selected,
    }).collect())));
    set!(picking, vw.set_picking(v.picking));
    set!(technician, vw.set_technician(ss(&v.technician)));
    set!(info, vw.set_info(infos(&v.info)));
    set!(reader_test, {
        let (state, detail) = match &v.reader_test {
            ReaderTestState::Idle => (g::ReaderTest::Idle, ""),
            ReaderTestState::Waiting => (g::ReaderTest::Waiting, ""),
            ReaderTestState::Ok(d) => (g::ReaderTest::Ok, d.as_str()),
            ReaderTestState::Failed(d) => (g::ReaderTest::Failed, d.as_str()),
        };
        vw.set_reader_test(state);
        vw.set_reader_test_detail(ss(detail));
    });
    set!(pin_length, vw.set_pin_length(v.pin_length as i32));
    set!(pin_wrong, vw.set_pin_wrong(v.pin_wrong));
    set!(wizard_step, vw.set_wizard_step(v.wizard_step as i32));
    set!(wizard_fields, vw.set_wizard_fields(infos(&v.wizard_fields)));
    set!(wizard_field, vw.set_wizard_field(v.wizard_field as i32));
    set!(wizard_error, vw.set_wizard_error(ss(&v.wizard_error)));
    set!(wizard_boards, vw.set_wizard_boards(model(v.wizard_boards.iter().map(|(reader, name, chosen)| g::BoardRow { reader: ss(reader), name: ss(name), chosen: *chosen }).collect())));
    set!(fault, vw.set_fault(match v.fault {
        Some(ErrorKind::DiskFull) => g::Fault::DiskFull,
        Some(ErrorKind::ReadOnly) => g::Fault::ReadOnly,
        Some(ErrorKind::ReaderFault) => g::Fault::ReaderFault,
        Some(ErrorKind::RandomUid) => g::Fault::RandomUid,
        Some(ErrorKind::TwoCards) => g::Fault::TwoCards,
        Some(ErrorKind::Database) | None => g::Fault::Database,
    }));
}

