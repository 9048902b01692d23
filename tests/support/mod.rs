//! Shared helpers for integration tests against real servers: a mosquitto
//! broker, a hub-side client, a test PKI, and a schema checker.
#![allow(dead_code)]

pub mod broker;
pub mod certs;
pub mod hub;
pub mod layout;
pub mod schema;
