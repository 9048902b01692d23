//! What the store checks about a database file before it changes anything
//! in it: that it can be read and written, that it is a SQLite file, that it
//! is this program's (not another program's SQLite file) and that its schema
//! version is one this program wrote. A new database is built under a
//! temporary name and renamed into place, so a file at the real path is
//! never empty by our doing. Never switches a file to WAL or migrates it.

use super::migrations::{MigrationError, MIGRATIONS};
use super::StoreError;
use rusqlite::{Connection, OpenFlags};
use std::io::Read;
use std::path::{Path, PathBuf};

const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// What is at the database path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// No file yet: build a new database.
    Absent,
    /// This program's database (any version up to the current one).
    Ours,
}

/// Looks at the file without writing to it.
pub fn inspect(path: &Path) -> Result<Found, StoreError> {
    let mut file = match std::fs::OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Found::Absent),
        Err(e) => return Err(StoreError::Access(e)),
    };
    let mut header = Vec::with_capacity(100);
    file.by_ref().take(100).read_to_end(&mut header).map_err(StoreError::Access)?;
    if header.is_empty() {
        return Err(StoreError::Empty);
    }
    if header.len() < 100 || !header.starts_with(SQLITE_MAGIC) {
        return Err(StoreError::NotSqlite);
    }
    // Read-only: reads through a WAL left by a crash, writes nothing.
    let ro = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|source| StoreError::Open { path: path.to_path_buf(), source })?;
    let version: i64 = ro.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version < 0 {
        return Err(MigrationError::Invalid { found: version }.into());
    }
    if version > known {
        return Err(MigrationError::TooNew { found: version, known }.into());
    }
    let mut st = ro.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")?;
    let tables: Vec<String> = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let ours = (version == 0 && tables.is_empty()) || (version > 0 && ["meta", "outbox", "taps"].iter().all(|t| tables.iter().any(|n| n == t)));
    if !ours {
        let example = tables.iter().find(|t| !["meta", "outbox", "taps"].contains(&t.as_str())).or(tables.first()).cloned().unwrap_or_default();
        return Err(StoreError::Foreign { version, tables: tables.len(), example });
    }
    Ok(Found::Ours)
}

/// The temporary name a new database is built under.
fn new_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".new");
    path.with_file_name(name)
}

/// Builds a new database with the current schema next to `path` (in
/// rollback-journal mode, so closing it leaves no `-wal`), and renames it
/// into place; the caller's open then switches it to WAL.
pub fn create(path: &Path) -> Result<(), StoreError> {
    let tmp = new_path(path);
    for leftover in [tmp.clone(), tmp.with_extension("new-journal")] {
        let _ = std::fs::remove_file(leftover);
    }
    {
        let mut conn = Connection::open(&tmp).map_err(|source| StoreError::Open { path: tmp.clone(), source })?;
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
        super::migrations::migrate(&mut conn)?;
        conn.close().map_err(|(_, e)| StoreError::from(e))?;
    }
    super::durable::durable_rename(&tmp, path).map_err(StoreError::Access)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_absent_and_a_created_one_is_ours_with_no_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.db");
        assert_eq!(inspect(&p).unwrap(), Found::Absent);
        create(&p).unwrap();
        assert_eq!(inspect(&p).unwrap(), Found::Ours);
        let names: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names, vec!["m.db".to_string()], "no temporary file is left");
    }

    #[test]
    fn an_empty_file_and_a_non_sqlite_file_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.db");
        std::fs::write(&p, b"").unwrap();
        assert!(matches!(inspect(&p), Err(StoreError::Empty)));
        std::fs::write(&p, vec![b'x'; 4096]).unwrap();
        assert!(matches!(inspect(&p), Err(StoreError::NotSqlite)));
    }

    #[test]
    fn a_negative_or_future_version_is_refused_and_the_file_is_not_changed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.db");
        create(&p).unwrap();
        for v in [-5i64, MIGRATIONS.len() as i64 + 1] {
            Connection::open(&p).unwrap().pragma_update(None, "user_version", v).unwrap();
            let before = std::fs::read(&p).unwrap();
            let e = inspect(&p).unwrap_err();
            assert!(matches!(e, StoreError::Migration(MigrationError::Invalid { .. } | MigrationError::TooNew { .. })), "{e:?}");
            assert_eq!(std::fs::read(&p).unwrap(), before);
        }
    }

    #[test]
    fn another_programs_sqlite_file_is_refused_with_a_short_message_and_left_in_its_journal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.db");
        let c = Connection::open(&p).unwrap();
        c.execute_batch(&(0..50).map(|i| format!("CREATE TABLE t{i} (a, b, c);")).collect::<String>()).unwrap();
        drop(c);
        let e = inspect(&p).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, StoreError::Foreign { tables: 50, .. }), "{e:?}");
        assert!(msg.len() < 200 && !msg.contains("CREATE"), "{msg}");
        let mode: String = Connection::open(&p).unwrap().query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "delete");
    }
}
