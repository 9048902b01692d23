//! The SQLite store: the device's source of truth. Owns the connection, the
//! pragmas and the migrations; queries live in submodules by table family.
//! Nothing here decides anything: the kiosk core decides, the store records.

pub mod apply;
pub mod cache;
pub mod checkpoint;
pub mod inspect;
pub mod ledger;
pub mod migrations;
pub mod outbox;
pub mod drain;
pub mod durable;
pub mod documents;
pub mod roster;
pub mod schedule;
pub mod sessions;

use rusqlite::{Connection, ErrorCode};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the disk is full: {0}")]
    DiskFull(rusqlite::Error),
    #[error("the database is read-only: {0}")]
    ReadOnly(rusqlite::Error),
    #[error("the database file is damaged: {0}")]
    Corrupt(rusqlite::Error),
    #[error("cannot open database {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    /// Not a `source`: the message already carries the OS error, once.
    #[error("cannot read and write it: {0}")]
    Access(std::io::Error),
    #[error("the file is empty (0 bytes): the device's records were lost or the file was truncated; restore it from a backup, or remove it to start this device with a new database")]
    Empty,
    #[error("the file is not a SQLite database; refusing to change it")]
    NotSqlite,
    #[error("the file is another program's SQLite database (schema version {version}, {tables} tables, e.g. {example:?}), not a microclass one; refusing to change it")]
    Foreign { version: i64, tables: usize, example: String },
    #[error(transparent)]
    Migration(#[from] migrations::MigrationError),
    #[error("invalid data: {0}")]
    Invalid(String),
    #[error(transparent)]
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(ErrorCode::DiskFull) => StoreError::DiskFull(e),
            Some(ErrorCode::ReadOnly) => StoreError::ReadOnly(e),
            Some(ErrorCode::DatabaseCorrupt) | Some(ErrorCode::NotADatabase) => StoreError::Corrupt(e),
            _ => StoreError::Sqlite(e),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Invalid(e.to_string())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The pragmas every connection uses. `synchronous = FULL` so that a
/// committed tap survives a power cut, not only a crash.
pub const PRAGMAS: &str = "PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
PRAGMA foreign_keys = ON;
PRAGMA temp_store = MEMORY;";

pub struct Store {
    pub(crate) conn: Connection,
    path: PathBuf,
    /// Recorded with each local enrolment (`set_reader_kind`).
    reader_kind: Option<String>,
}

impl Store {
    /// The kind of reader this device's cards are read with (`mfrc522`,
    /// `usb`, `sim`, or `hub` for enrolments by hub command), recorded with
    /// every card enrolled from now on.
    pub fn set_reader_kind(&mut self, kind: &str) {
        self.reader_kind = Some(kind.to_string());
    }

    /// Runs `f` with `kind` recorded for its enrolments, then the kind before.
    pub fn with_reader_kind<T>(&mut self, kind: &str, f: impl FnOnce(&mut Store) -> T) -> T {
        let before = self.reader_kind.replace(kind.to_string());
        let out = f(self);
        self.reader_kind = before;
        out
    }

    /// Opens (creating if needed) the database and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Invalid(format!("cannot create {}: {e}", dir.display())))?;
            }
        }
        // Every check that can refuse the file runs before anything is written to it.
        if inspect::inspect(path)? == inspect::Found::Absent {
            inspect::create(path)?;
        }
        let mut conn = Connection::open(path).map_err(|source| StoreError::Open { path: path.to_path_buf(), source })?;
        configure(&conn)?;
        migrations::migrate(&mut conn)?;
        Ok(Store { conn, path: path.to_path_buf(), reader_kind: None })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Direct access for modules that own their own queries (uplink, library).
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// The problems `PRAGMA quick_check` finds, none when the file is sound
    /// (the kiosk runs it at start and holds a fault screen on any).
    pub fn damage(&self) -> Result<Vec<String>> {
        Ok(self.quick_check()?.into_iter().filter(|l| l != "ok").take(10).collect())
    }

    /// `PRAGMA quick_check`: "ok" or the first problems found.
    pub fn quick_check(&self) -> Result<Vec<String>> {
        let mut st = self.conn.prepare("PRAGMA quick_check")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        use rusqlite::OptionalExtension;
        Ok(self.conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?)
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }
}

/// Applies the standard pragmas to a connection (also used by other modules'
/// own connections to the same file).
pub fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    keep_wal_files(conn);
    conn.execute_batch(PRAGMAS)?;
    Ok(())
}

/// Asks SQLite to keep the `-wal` and `-shm` files when the last connection
/// closes: a kiosk restarted on a full disk could not create them again
/// and would not start at all (it must start and show the disk-full screen).
fn keep_wal_files(conn: &Connection) {
    let mut on: std::ffi::c_int = 1;
    // SAFETY: a valid open handle; SQLITE_FCNTL_PERSIST_WAL reads and writes one int.
    let rc = unsafe { rusqlite::ffi::sqlite3_file_control(conn.handle(), c"main".as_ptr(), rusqlite::ffi::SQLITE_FCNTL_PERSIST_WAL, (&mut on as *mut std::ffi::c_int).cast()) };
    if rc != rusqlite::ffi::SQLITE_OK {
        tracing::warn!(rc, "cannot keep the WAL files between runs");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_creates_the_file_in_wal_mode_with_the_current_schema() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("sub/m.db")).unwrap();
        let mode: String = s.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(s.quick_check().unwrap(), vec!["ok".to_string()]);
        s.set_meta("roster_version", "3").unwrap();
        assert_eq!(s.meta("roster_version").unwrap().as_deref(), Some("3"));
    }

    #[test]
    fn a_file_that_is_not_a_database_is_reported_as_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.db");
        std::fs::write(&p, vec![0x42u8; 8192]).unwrap();
        let e = Store::open(&p).err().expect("garbage must not open");
        assert!(matches!(e, StoreError::NotSqlite), "{e:?}");
        assert_eq!(std::fs::read(&p).unwrap(), vec![0x42u8; 8192], "the file is left as it was");
    }
}
