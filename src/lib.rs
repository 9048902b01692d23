//! microclass: sign-in terminal controller for community micro-classrooms.
//! The kiosk program: the edges (hardware, store, uplink, UI) around the pure
//! core of `microclass-core`; see docs/architecture.md for the layers.

pub use microclass_core as core;
pub use microclass_model as model;
pub use microclass_model::clock;

pub mod app;
pub mod bench;
pub mod board;
pub mod clock_watch;
pub mod config;
pub mod demo;
pub mod doctor;
pub mod hw;
pub mod library;
pub mod logging;
pub mod player;
pub mod provision;
pub mod service;
pub mod store;
pub mod ui;
pub mod uplink;
