//! The kiosk core: a pure, synchronous state machine. `handle(event, now)`
//! returns effects; it never touches the disk, the network, a clock or a device.

pub mod effect;
pub mod event;

pub use effect::*;
pub use event::*;
