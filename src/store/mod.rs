//! The SQLite store: the device's source of truth. Owns the connection,
//! the pragmas and the migrations; query code lives in submodules.

pub mod migrations;
