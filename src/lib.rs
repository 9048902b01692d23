//! microclass: sign-in terminal controller for community micro-classrooms.

pub mod app;
pub mod bench;
pub mod clock;
pub mod config;
pub mod core;
pub mod demo;
pub mod hw;
pub mod model;
pub mod store;
pub mod ui;
