//! The reference district hub, built only on the device protocol
//! (`microclass-protocol`, docs/protocol.md), never on kiosk code: signing keys and versions (`keys`), the office's
//! spreadsheets (`csv`, `sheets`), publishing signed documents (`publish`),
//! ingesting every device's records (`ingest`, `mqtt`, with storage in
//! `store` (SQLite) or `pg` (PostgreSQL)), and the 32-hour report (`report`,
//! `html`). It never reaches into a device's database.

pub mod bench;
pub mod broker_acl;
pub mod csv;
pub mod html;
pub mod ingest;
pub mod keys;
pub mod mqtt;
pub mod pg;
pub mod publish;
pub mod report;
pub mod sheets;
pub mod store;

pub use store::{HubStore, SqliteHub, StoreError};
pub use pg::PgHub;
