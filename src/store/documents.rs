//! Verified downlink documents kept verbatim in `meta` with their versions
//! (`downlink.<kind>.version` / `.doc`): what version gating reads. Over a
//! borrowed connection, so the standalone uplink's sink can use it too.

use rusqlite::{params, Connection, OptionalExtension};

fn key(kind: &str, what: &str) -> String {
    format!("downlink.{kind}.{what}")
}

/// The stored document of `kind` (`roster`, `catalog`, `schedule`), if any, as (version, JSON text).
pub fn stored(conn: &Connection, kind: &str) -> rusqlite::Result<Option<(u64, String)>> {
    let get = |k: String| conn.query_row("SELECT value FROM meta WHERE key = ?1", params![k], |r| r.get::<_, String>(0)).optional();
    let v = get(key(kind, "version"))?;
    let d = get(key(kind, "doc"))?;
    Ok(match (v.and_then(|v| v.parse().ok()), d) {
        (Some(v), Some(d)) => Some((v, d)),
        _ => None,
    })
}

/// The stored version of `kind`, if any.
pub fn version(conn: &Connection, kind: &str) -> rusqlite::Result<Option<u64>> {
    let v: Option<String> = conn.query_row("SELECT value FROM meta WHERE key = ?1", params![key(kind, "version")], |r| r.get(0)).optional()?;
    Ok(v.and_then(|v| v.parse().ok()))
}

/// Keeps a document's text and version, in one transaction.
pub fn put(conn: &mut Connection, kind: &str, version: u64, text: &str) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut st = tx.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?;
        st.execute(params![key(kind, "doc"), text])?;
        st.execute(params![key(kind, "version"), version.to_string()])?;
    }
    tx.commit()
}
