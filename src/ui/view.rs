//! What the screens show, computed from the controller and the ambient state:
//! one plain Rust state per view global (`ui::views`), so mapping `Screen` ->
//! text is tested without a UI. Never sets Slint properties itself (each
//! view's `apply` does, from `adapter`).

use super::ambient::{Ambient, Playback};
use super::controller::UiController;
use super::views::{self, Inputs};

pub use super::views::common::CommonState;
pub use super::views::enrol::EnrolState;
pub use super::views::error::ErrorState;
pub use super::views::idle::{IdleState, ScheduleRow};
pub use super::views::library::{CourseRow, LibraryState};
pub use super::views::member::{MemberState, OutcomeKind};
pub use super::views::pin::PinState;
pub use super::views::player::PlayerState;
pub use super::views::rating::RatingState;
pub use super::views::survey::SurveyState;
pub use super::views::technician::TechnicianState;
pub use super::views::trainer::TrainerState;
pub use super::views::wizard::WizardState;
pub use super::views::Row;

/// Everything the globals hold, as Rust values: one field per view global.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ViewState {
    pub common: CommonState,
    pub idle: IdleState,
    pub member: MemberState,
    pub trainer: TrainerState,
    pub player: PlayerState,
    pub rating: RatingState,
    pub survey: SurveyState,
    pub library: LibraryState,
    pub pin: PinState,
    pub technician: TechnicianState,
    pub enrol: EnrolState,
    pub wizard: WizardState,
    pub error: ErrorState,
}

pub fn build(ctl: &UiController, a: &Ambient, playback: &Playback) -> ViewState {
    let i = Inputs::new(ctl, a, playback);
    ViewState {
        common: views::common::build(&i),
        idle: views::idle::build(&i),
        member: views::member::build(&i),
        trainer: views::trainer::build(&i),
        player: views::player::build(&i),
        rating: views::rating::build(&i),
        survey: views::survey::build(&i),
        library: views::library::build(&i),
        pin: views::pin::build(&i),
        technician: views::technician::build(&i),
        enrol: views::enrol::build(&i),
        wizard: views::wizard::build(&i),
        error: views::error::build(&i),
    }
}
