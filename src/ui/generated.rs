//! The Rust code slint-build generates from ui/app.slint. Nothing else lives here.
#![allow(clippy::all)]
slint::include_modules!();
