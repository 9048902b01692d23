//! microclass: sign-in terminal controller for community micro-classrooms.

pub mod app;
pub mod bench;
pub mod board;
pub mod broker_acl;
pub mod clock;
pub mod clock_watch;
pub mod config;
pub mod config_hub;
pub mod core;
pub mod demo;
pub mod doctor;
pub mod hw;
pub mod library;
pub mod logging;
pub mod model;
pub mod player;
pub mod provision;
pub mod service;
pub mod store;
pub mod ui;
pub mod uplink;
pub mod hub;
