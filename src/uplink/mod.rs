//! Store-and-forward uplink to the district hub over MQTT (protocol v1,
//! docs/protocol.md). Owns the outbox drain, status and telemetry, signed
//! downlink documents and hub commands. It never writes kiosk records: it
//! only marks outbox rows sent, and hands documents and commands to sinks.
//!
//! Layout: `state` (pure drain protocol state), `downlink` (document sinks),
//! `reboot`,
//! `diskguard`, `sysinfo`, `connect` (rumqttc options, TLS), `handle` (start,
//! stop, nudge, status), `link` (the I/O loop), `session` (one connection and
//! the reconnect timer), `batches`, `inbound` (documents, commands as
//! actions), `maintenance` (telemetry, disk guard), `marker` (the writer thread
//! that marks acknowledged rows sent). Wire types are `microclass-protocol`'s;
//! all SQL is the store's (`store::drain`).

mod batches;
pub mod handle;
mod inbound;
mod link;
mod maintenance;
mod session;
pub use microclass_protocol::{command, envelope, topics, wire};
/// The `[hub]` settings, kept with the rest of the config file's types.
pub use crate::config::hub as config;
pub mod connect;
pub mod diskguard;
pub mod downlink;
pub mod marker;
#[cfg(test)]
mod fuzz_tests;

pub mod reboot;
pub mod state;
pub mod sysinfo;

pub use handle::{spawn, Nudger, StandaloneCommands, Uplink, UplinkHandle, UplinkMonitor};
pub use inbound::Action;
pub use session::{LinkError, CONNECT_TIMEOUT_S};
pub use command::{CmdError, Command};
pub use config::HubConfig;
pub use downlink::{Document, DocumentSink, MetaSink, StoreSink};
pub use envelope::{generate_key, seal, DocKind, Envelope};

use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum UplinkError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Outbox(#[from] crate::store::drain::OutboxError),
    #[error(transparent)]
    Connect(#[from] connect::ConnectError),
    #[error("uplink thread: {0}")]
    Thread(String),
}

/// Runs the kiosk-side hub commands (enrol card, reload config, screenshot,
/// reboot, set log level). `sync_now` and `resend` never reach it.
pub trait CommandSink: Send {
    fn execute(&mut self, cmd: &Command) -> Result<serde_json::Value, CmdError>;
}

/// Something the technician panel should show (disk warnings, applied documents).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub at_ms: i64,
    pub text: String,
}

/// A snapshot of the uplink for the technician panel and `doctor`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UplinkStatus {
    pub connected: bool,
    /// Unsent rows, as of the last count (refreshed on connect, decremented on acks).
    pub backlog: u64,
    /// True when the last read found nothing unsent and nothing is in flight.
    pub drained: bool,
    pub last_sync_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_rejected: Option<String>,
    pub disk_level: diskguard::DiskLevel,
    pub counters: wire::Counters,
    /// Internal invariant breaks (publish events that matched no request); always 0.
    pub protocol_errors: u64,
    /// The last 20 notices, oldest first.
    pub notices: Vec<Notice>,
}
