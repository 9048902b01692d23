//! The UI controller: which page is up, the UI-only pages over the core's
//! screen (library, survey, PIN pad, wizard) and what each touch means as a
//! core `Event` or a request for the run loop. Pure and synchronous: no Slint,
//! no I/O, no clock (times are passed in), so it is tested without a UI.

use super::ambient::Ambient;
use super::lang::Lang;
use super::wizard::{DeviceChecks, ProvisionChecks, ProvisionForm, Wizard};
use crate::core::{Event, Screen};
use crate::model::CardUid;

/// What the UI asks of the run loop.
#[derive(Debug, Clone, PartialEq)]
pub enum UiAction {
    /// Hand this to the kiosk core.
    Core(Event),
    /// Start the player on a cached course (the player then reports `PlayStarted`).
    PlayCourse { course_id: String },
    TogglePause,
    Seek { delta_s: i32 },
    StopVideo,
    /// Check a technician PIN; answer with `show(Screen::Technician)` or `pin_rejected()`.
    TechnicianPin(String),
    /// Report the next card read on the reader with `reader_test_result`.
    ReaderTest,
    SyncNow,
    LanguageChanged(Lang),
    /// The first-boot wizard was confirmed.
    Provision(ProvisionForm),
}

/// Pages the UI can show: the core's screens plus UI-only ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Idle,
    Member,
    UnknownCard,
    Trainer,
    Technician,
    Enrol,
    RatingPrompt,
    RatingThanks,
    Survey,
    SurveyThanks,
    Player,
    Library,
    Pin,
    Provision,
    Error,
}

/// UI-only pages laid over the core's screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overlay {
    Library,
    Survey,
    Pin,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ReaderTestState {
    #[default]
    Idle,
    Waiting,
    Ok(String),
    Failed(String),
}

/// A touch on the screen, as the .slint Actions global reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum Touch {
    Dismiss,
    SetLanguage(String),
    OpenLibrary,
    OpenTechnician,
    OpenSurvey,
    StartSession { schedule_id: String },
    EndSession,
    PickCourse(String),
    Play(String),
    TogglePause,
    Seek(i32),
    StopVideo,
    Rate(i32),
    ToggleTopic(i32),
    SubmitSurvey,
    LibraryCategory(i32),
    LibraryKey(String),
    PinKey(String),
    ReaderTest,
    SyncNow,
    BeginEnrol,
    EnrolKey(String),
    EnrolMember(String),
    WizardKey(String),
    WizardField(i32),
    /// A board of `Ambient::boards`, by index.
    WizardBoard(i32),
    WizardNext,
    WizardBack,
}

/// UI-only pages close after this long without a touch.
pub const OVERLAY_TIMEOUT_MS: i64 = 60_000;
const MAX_PIN: usize = crate::provision::pin::MAX_PIN_LEN;
const MAX_QUERY: usize = 32;

pub struct UiController {
    core: Screen,
    overlay: Option<Overlay>,
    last_touch_ms: i64,
    pub(crate) lang: Lang,
    pub(crate) library_category: Option<usize>,
    pub(crate) library_query: String,
    pub(crate) picked_course: Option<String>,
    pub(crate) survey_chosen: Vec<bool>,
    pub(crate) pin: String,
    pub(crate) pin_wrong: bool,
    pub(crate) enrol_query: String,
    pub(crate) reader_test: ReaderTestState,
    pub(crate) wizard: Option<Wizard>,
    checks: Box<dyn ProvisionChecks>,
}

impl Default for UiController {
    fn default() -> Self {
        Self::new()
    }
}

impl UiController {
    pub fn new() -> Self {
        UiController {
            core: Screen::Idle,
            overlay: None,
            last_touch_ms: 0,
            lang: Lang::Zh,
            library_category: None,
            library_query: String::new(),
            picked_course: None,
            survey_chosen: Vec::new(),
            pin: String::new(),
            pin_wrong: false,
            enrol_query: String::new(),
            reader_test: ReaderTestState::Idle,
            wizard: None,
            checks: Box::new(DeviceChecks),
        }
    }

    /// Uses the provisioning module's validation in the wizard.
    pub fn set_provision_checks(&mut self, checks: Box<dyn ProvisionChecks>) {
        self.checks = checks;
    }

    /// Starts (or leaves) the first-boot wizard.
    pub fn set_first_boot(&mut self, on: bool) {
        match (on, self.wizard.is_some()) {
            (true, false) => self.wizard = Some(Wizard::default()),
            (false, true) => self.wizard = None,
            _ => {}
        }
    }

    pub fn core_screen(&self) -> &Screen {
        &self.core
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// The core asked for `screen`. A new core screen closes UI-only pages:
    /// a tap always wins over browsing.
    pub fn show(&mut self, screen: Screen) {
        let leaving_trainer = matches!(self.core, Screen::Trainer(_)) && !matches!(screen, Screen::Trainer(_) | Screen::Player { .. });
        if leaving_trainer {
            self.picked_course = None;
        }
        if !matches!(screen, Screen::Technician { .. }) {
            self.reader_test = ReaderTestState::Idle;
        }
        if let Screen::Enrol { uid: None } = screen {
            self.enrol_query.clear();
        }
        if matches!(screen, Screen::Technician { .. }) {
            self.pin.clear();
            self.pin_wrong = false;
        }
        self.core = screen;
        self.overlay = None;
    }

    pub fn page(&self) -> Page {
        if self.wizard.is_some() {
            return Page::Provision;
        }
        match self.overlay {
            Some(Overlay::Library) => return Page::Library,
            Some(Overlay::Survey) => return Page::Survey,
            Some(Overlay::Pin) => return Page::Pin,
            None => {}
        }
        match &self.core {
            Screen::Idle => Page::Idle,
            Screen::Member(_) => Page::Member,
            Screen::UnknownCard { .. } => Page::UnknownCard,
            Screen::Trainer(_) => Page::Trainer,
            Screen::Technician { .. } => Page::Technician,
            Screen::Enrol { .. } => Page::Enrol,
            Screen::RatingPrompt { .. } => Page::RatingPrompt,
            Screen::RatingThanks { .. } => Page::RatingThanks,
            Screen::SurveyThanks => Page::SurveyThanks,
            Screen::Player { .. } => Page::Player,
            Screen::Error(_) => Page::Error,
        }
    }

    /// True when the library is open to choose a course for the trainer.
    pub fn picking(&self) -> bool {
        matches!(self.core, Screen::Trainer(_))
    }

    /// Closes UI-only pages nobody touched for a while. Returns true when the page changed.
    pub fn tick(&mut self, now_mono_ms: i64) -> bool {
        if self.overlay.is_some() && now_mono_ms - self.last_touch_ms >= OVERLAY_TIMEOUT_MS {
            self.overlay = None;
            self.pin.clear();
            return true;
        }
        false
    }

    /// The run loop's answer to `TechnicianPin`: wrong PIN.
    pub fn pin_rejected(&mut self) {
        self.pin.clear();
        self.pin_wrong = true;
    }

    pub fn reader_test_result(&mut self, result: Result<CardUid, String>) {
        self.reader_test = match result {
            Ok(uid) => ReaderTestState::Ok(uid.to_string()),
            Err(e) => ReaderTestState::Failed(e),
        };
    }

    /// The wizard's answers could not be saved: show why on its last step.
    pub fn provision_failed(&mut self, message: String) {
        if let Some(w) = self.wizard.as_mut() {
            w.error = message;
        }
    }

    /// A touch on the screen at monotonic time `now_mono_ms`.
    pub fn input(&mut self, input: Touch, ambient: &Ambient, now_mono_ms: i64) -> Vec<UiAction> {
        self.last_touch_ms = now_mono_ms;
        let core = |e: Event| vec![UiAction::Core(e)];
        match input {
            Touch::Dismiss => {
                if self.overlay.take().is_some() {
                    self.pin.clear();
                    self.pin_wrong = false;
                    return vec![];
                }
                core(Event::Dismiss)
            }
            Touch::SetLanguage(code) => match Lang::parse(&code) {
                Some(l) if l != self.lang => {
                    self.lang = l;
                    vec![UiAction::LanguageChanged(l)]
                }
                _ => vec![],
            },
            Touch::OpenLibrary => {
                self.overlay = Some(Overlay::Library);
                vec![]
            }
            Touch::OpenTechnician => {
                self.overlay = Some(Overlay::Pin);
                self.pin.clear();
                self.pin_wrong = false;
                vec![]
            }
            Touch::OpenSurvey => {
                self.survey_chosen = vec![false; ambient.survey_topics.len()];
                self.overlay = Some(Overlay::Survey);
                vec![]
            }
            Touch::StartSession { schedule_id } => {
                let scheduled = ambient.schedule.iter().find(|s| !schedule_id.is_empty() && s.id == schedule_id);
                let title = match scheduled {
                    Some(s) => s.title.clone(),
                    None => self.picked_title(ambient).unwrap_or_else(|| match self.lang {
                        Lang::Zh => "临时课次".to_string(),
                        Lang::En => "Ad hoc session".to_string(),
                    }),
                };
                core(Event::StartSession { schedule_id: scheduled.map(|s| s.id.clone()), title })
            }
            Touch::EndSession => core(Event::EndSession),
            Touch::PickCourse(id) => {
                if ambient.courses.iter().any(|c| c.course.id == id) {
                    self.picked_course = Some(id);
                }
                self.overlay = None;
                vec![]
            }
            Touch::Play(id) if !id.is_empty() => vec![UiAction::PlayCourse { course_id: id }],
            Touch::Play(_) => vec![],
            Touch::TogglePause => vec![UiAction::TogglePause],
            Touch::Seek(d) => vec![UiAction::Seek { delta_s: d }],
            Touch::StopVideo => vec![UiAction::StopVideo],
            Touch::Rate(n) if (1..=5).contains(&n) => core(Event::RatingGiven { stars: n as u8 }),
            Touch::Rate(_) => vec![],
            Touch::ToggleTopic(i) => {
                if let Some(c) = usize::try_from(i).ok().and_then(|i| self.survey_chosen.get_mut(i)) {
                    *c = !*c;
                }
                vec![]
            }
            Touch::SubmitSurvey => {
                let topics: Vec<String> = ambient
                    .survey_topics
                    .iter()
                    .zip(&self.survey_chosen)
                    .filter(|(_, on)| **on)
                    .map(|(t, _)| t.clone())
                    .collect();
                self.overlay = None;
                if topics.is_empty() {
                    return vec![];
                }
                core(Event::SurveyAnswered { topics })
            }
            Touch::LibraryCategory(i) => {
                self.library_category = usize::try_from(i).ok();
                vec![]
            }
            Touch::LibraryKey(k) => {
                edit(&mut self.library_query, &k, MAX_QUERY);
                vec![]
            }
            Touch::PinKey(k) => match k.as_str() {
                "ok" if !self.pin.is_empty() => vec![UiAction::TechnicianPin(std::mem::take(&mut self.pin))],
                "ok" => vec![],
                d if d.len() == 1 && d.chars().all(|c| c.is_ascii_digit()) => {
                    self.pin_wrong = false;
                    if self.pin.len() < MAX_PIN {
                        self.pin.push_str(d);
                    }
                    vec![]
                }
                "back" | "clear" => {
                    edit(&mut self.pin, &k, MAX_PIN);
                    vec![]
                }
                _ => vec![],
            },
            Touch::ReaderTest => {
                self.reader_test = ReaderTestState::Waiting;
                vec![UiAction::ReaderTest]
            }
            Touch::SyncNow => vec![UiAction::SyncNow],
            Touch::BeginEnrol => core(Event::BeginEnrol),
            Touch::EnrolKey(k) => {
                edit(&mut self.enrol_query, &k, MAX_QUERY);
                vec![]
            }
            Touch::EnrolMember(member_id) => match &self.core {
                Screen::Enrol { uid: Some(uid) } if ambient.roster.iter().any(|m| m.id == member_id) => {
                    core(Event::EnrolCard { uid: uid.clone(), member_id })
                }
                _ => vec![],
            },
            Touch::WizardKey(k) => {
                let next = self.wizard.as_mut().is_some_and(|w| w.key(&k));
                if next {
                    return self.wizard_next();
                }
                vec![]
            }
            Touch::WizardField(i) => {
                if let (Some(w), Ok(i)) = (self.wizard.as_mut(), usize::try_from(i)) {
                    w.select_field(i);
                }
                vec![]
            }
            Touch::WizardBoard(i) => {
                let chosen = usize::try_from(i).ok().and_then(|i| ambient.boards.get(i));
                if let (Some(w), Some(b)) = (self.wizard.as_mut(), chosen) {
                    w.choose_board(&b.value);
                }
                vec![]
            }
            Touch::WizardNext => self.wizard_next(),
            Touch::WizardBack => {
                if let Some(w) = self.wizard.as_mut() {
                    w.back();
                }
                vec![]
            }
        }
    }

    fn wizard_next(&mut self) -> Vec<UiAction> {
        let Some(w) = self.wizard.as_mut() else { return vec![] };
        match w.next(self.checks.as_ref()) {
            Some(form) => vec![UiAction::Provision(form)],
            None => vec![],
        }
    }

    fn picked_title(&self, ambient: &Ambient) -> Option<String> {
        let id = self.picked_course.as_ref()?;
        let c = ambient.courses.iter().find(|c| &c.course.id == id)?;
        Some(super::library::title(c, self.lang).to_string())
    }
}

/// Applies an on-screen key to a text being typed.
fn edit(text: &mut String, key: &str, max: usize) {
    match key {
        "back" => {
            text.pop();
        }
        "clear" => text.clear(),
        k if k.chars().count() == 1 && !k.chars().all(char::is_control) => {
            if text.chars().count() < max {
                text.push_str(k);
            }
        }
        _ => {}
    }
}
