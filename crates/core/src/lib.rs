//! The kiosk core: a pure, synchronous state machine. `Kiosk::handle(event, ctx)`
//! returns effects; it never touches the disk, the network, a clock or a device.
//! It depends on `microclass-model` alone (its Cargo.toml says so), so the
//! compiler keeps that promise.

use microclass_model as model;

pub mod config;
pub mod credit;
pub mod effect;
pub mod event;
pub mod kiosk;
pub mod limits;
pub mod payload;
mod session;
pub mod state;
mod taps;
#[cfg(test)]
mod tests;

pub use config::{CoreConfig, SignOutRule};
pub use effect::*;
pub use event::*;
pub use kiosk::{Ctx, Kiosk, PIN_PANEL_MS, PIN_TECHNICIAN};
