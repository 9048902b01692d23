//! microclass: sign-in terminal controller for community micro-classrooms.

pub mod clock;
pub mod core;
pub mod hw;
pub mod model;
pub mod store;
pub mod ui;
