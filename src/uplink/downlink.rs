//! Downlink documents: parse and check the inner roster, catalogue and
//! schedule documents, gate on version, and hand a verified document to a
//! `DocumentSink` that applies it atomically. It never writes the store
//! itself except through a sink, and never panics on a payload.

use super::envelope::{self, DocKind, EnvelopeError, Expect, Verified};
use crate::model::{Course, Member};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Applies verified documents. Implementations must apply all or nothing.
pub trait DocumentSink: Send {
    /// The version currently applied, if any.
    fn current_version(&mut self, kind: DocKind) -> Result<Option<u64>, String>;
    /// Applies a document already verified and parsed.
    fn apply(&mut self, version: u64, doc: &Document, raw: &[u8]) -> Result<(), String>;
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RosterDoc {
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogDoc {
    pub courses: Vec<Course>,
}

/// One class of a centre's schedule (defined with the store that keeps it).
pub use crate::model::ScheduleEntry;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleDoc {
    pub entries: Vec<ScheduleEntry>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    Roster(RosterDoc),
    Catalog(CatalogDoc),
    Schedule(ScheduleDoc),
}

impl Document {
    pub fn len(&self) -> usize {
        match self {
            Document::Roster(r) => r.members.len(),
            Document::Catalog(c) => c.courses.len(),
            Document::Schedule(s) => s.entries.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn kind(&self) -> DocKind {
        match self {
            Document::Roster(_) => DocKind::Roster,
            Document::Catalog(_) => DocKind::Catalog,
            Document::Schedule(_) => DocKind::Schedule,
        }
    }
}

/// Parses the inner document and checks what JSON cannot: unique ids, a card
/// held by one member only, schedule entries that end after they start.
pub fn parse_document(kind: DocKind, body: &[u8]) -> Result<Document, String> {
    fn dup<'a>(ids: impl Iterator<Item = &'a str>, what: &str) -> Result<(), String> {
        let mut seen = HashSet::new();
        for id in ids {
            if id.is_empty() {
                return Err(format!("empty {what}"));
            }
            if !seen.insert(id) {
                return Err(format!("duplicate {what} {id:?}"));
            }
        }
        Ok(())
    }
    match kind {
        DocKind::Roster => {
            let r: RosterDoc = serde_json::from_slice(body).map_err(|e| format!("roster: {e}"))?;
            dup(r.members.iter().map(|m| m.id.as_str()), "member id")?;
            dup(r.members.iter().flat_map(|m| m.cards.iter().map(|c| c.as_str())), "card")?;
            Ok(Document::Roster(r))
        }
        DocKind::Catalog => {
            let c: CatalogDoc = serde_json::from_slice(body).map_err(|e| format!("catalog: {e}"))?;
            dup(c.courses.iter().map(|c| c.id.as_str()), "course id")?;
            Ok(Document::Catalog(c))
        }
        DocKind::Schedule => {
            let s: ScheduleDoc = serde_json::from_slice(body).map_err(|e| format!("schedule: {e}"))?;
            dup(s.entries.iter().map(|e| e.id.as_str()), "schedule id")?;
            if let Some(e) = s.entries.iter().find(|e| e.ends_ms < e.starts_ms) {
                return Err(format!("schedule entry {:?} ends before it starts", e.id));
            }
            Ok(Document::Schedule(s))
        }
    }
}

/// Why a downlink document was not applied (logged and counted).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Rejected {
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    #[error("version {offered} is not newer than the applied {current}")]
    NotNewer { current: u64, offered: u64 },
    #[error("document: {0}")]
    Document(String),
    #[error("store: {0}")]
    Store(String),
}

/// A document that was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub kind: DocKind,
    pub version: u64,
    pub items: usize,
}

/// Verifies, version-gates, parses and applies one downlink payload.
pub fn handle(payload: &[u8], expect: &Expect<'_>, sink: &mut dyn DocumentSink) -> Result<Applied, Rejected> {
    let Verified { kind, version, body, .. } = envelope::open(payload, expect)?;
    let current = sink.current_version(kind).map_err(Rejected::Store)?;
    if let Some(current) = current {
        if version <= current {
            return Err(Rejected::NotNewer { current, offered: version });
        }
    }
    let doc = parse_document(kind, &body).map_err(Rejected::Document)?;
    sink.apply(version, &doc, &body).map_err(Rejected::Store)?;
    Ok(Applied { kind, version, items: doc.len() })
}

/// A sink that keeps the latest verified document of each kind in the
/// `meta` table (`downlink.<kind>.version` / `.doc`), in one transaction.
/// Used by the standalone `microclass uplink` and the tests; the kiosk plugs
/// in a sink that also replaces its roster, course and schedule tables.
pub struct MetaSink {
    conn: Connection,
}

impl MetaSink {
    pub fn new(conn: Connection) -> Self {
        MetaSink { conn }
    }

    /// The stored document of `kind`, if any, as (version, JSON text).
    pub fn stored(&self, kind: DocKind) -> Result<Option<(u64, String)>, rusqlite::Error> {
        let v: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", params![format!("downlink.{}.version", kind.as_str())], |r| r.get(0))
            .optional()?;
        let d: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", params![format!("downlink.{}.doc", kind.as_str())], |r| r.get(0))
            .optional()?;
        Ok(match (v.and_then(|v| v.parse().ok()), d) {
            (Some(v), Some(d)) => Some((v, d)),
            _ => None,
        })
    }
}

impl DocumentSink for MetaSink {
    fn current_version(&mut self, kind: DocKind) -> Result<Option<u64>, String> {
        self.stored(kind).map(|o| o.map(|(v, _)| v)).map_err(|e| e.to_string())
    }

    fn apply(&mut self, version: u64, doc: &Document, raw: &[u8]) -> Result<(), String> {
        store_meta(&mut self.conn, doc.kind(), version, raw)
    }
}

/// Keeps a document's text and version in `meta`, in one transaction.
fn store_meta(conn: &mut Connection, kind: DocKind, version: u64, raw: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(raw).map_err(|e| e.to_string())?;
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    let put = |k: String, v: &str| tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)", params![k, v]);
    put(format!("downlink.{}.doc", kind.as_str()), text).map_err(|e| e.to_string())?;
    put(format!("downlink.{}.version", kind.as_str()), &version.to_string()).map_err(|e| e.to_string())?;
    tx.commit().map_err(|e| e.to_string())
}

/// The kiosk's sink: roster, courses and schedule replace the store's tables
/// through `Store::replace_roster` / `replace_courses` / `replace_schedule`
/// (one transaction each); every kind is also kept verbatim in `meta` with its
/// version, as `MetaSink` does, which is what version gating reads.
pub struct StoreSink {
    store: crate::store::Store,
}

impl StoreSink {
    pub fn new(store: crate::store::Store) -> Self {
        StoreSink { store }
    }
}

impl DocumentSink for StoreSink {
    fn current_version(&mut self, kind: DocKind) -> Result<Option<u64>, String> {
        let v = self.store.meta(&format!("downlink.{}.version", kind.as_str())).map_err(|e| e.to_string())?;
        Ok(v.and_then(|v| v.parse().ok()))
    }

    fn apply(&mut self, version: u64, doc: &Document, raw: &[u8]) -> Result<(), String> {
        match doc {
            Document::Roster(r) => self.store.replace_roster(&r.members, version).map_err(|e| e.to_string())?,
            Document::Catalog(c) => self.store.replace_courses(&c.courses, version).map_err(|e| e.to_string())?,
            Document::Schedule(s) => self.store.replace_schedule(&s.entries, version).map_err(|e| e.to_string())?,
        }
        // The tables above are the truth for the kiosk; the meta copy records
        // the version and the signed text. A crash between the two re-applies
        // the same document on the next retained delivery, which is idempotent.
        store_meta(self.store.conn_mut(), doc.kind(), version, raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uplink::envelope::seal;
    use ed25519_dalek::SigningKey;

    fn sink() -> (tempfile::TempDir, MetaSink) {
        let d = tempfile::tempdir().unwrap();
        let c = crate::uplink::outbox::open(&d.path().join("m.db")).unwrap();
        (d, MetaSink::new(c))
    }

    const ROSTER: &str = r#"{"members":[{"id":"m1","name":"张三","cards":["04a1b2c3"]},{"id":"m2","name":"李四","roles":["member","trainer"]}]}"#;

    #[test]
    fn a_newer_signed_roster_is_applied_and_an_equal_version_is_refused() {
        let k = SigningKey::from_bytes(&[1; 32]);
        let vk = k.verifying_key();
        let exp = Expect { kind: DocKind::Roster, district: "d1", centre: None, key: &vk, max_bytes: 1 << 20 };
        let (_d, mut s) = sink();
        let p = serde_json::to_vec(&seal(&k, DocKind::Roster, "d1", None, 3, 0, ROSTER.as_bytes())).unwrap();
        assert_eq!(handle(&p, &exp, &mut s), Ok(Applied { kind: DocKind::Roster, version: 3, items: 2 }));
        assert_eq!(handle(&p, &exp, &mut s), Err(Rejected::NotNewer { current: 3, offered: 3 }));
        assert_eq!(s.stored(DocKind::Roster).unwrap(), Some((3, ROSTER.to_string())));
    }

    #[test]
    fn a_signed_but_inconsistent_document_is_refused_and_nothing_changes() {
        let k = SigningKey::from_bytes(&[1; 32]);
        let vk = k.verifying_key();
        let exp = Expect { kind: DocKind::Roster, district: "d1", centre: None, key: &vk, max_bytes: 1 << 20 };
        let (_d, mut s) = sink();
        let body = br#"{"members":[{"id":"m1","name":"a","cards":["AA"]},{"id":"m2","name":"b","cards":["aa"]}]}"#;
        let p = serde_json::to_vec(&seal(&k, DocKind::Roster, "d1", None, 1, 0, body)).unwrap();
        assert!(matches!(handle(&p, &exp, &mut s), Err(Rejected::Document(m)) if m.contains("duplicate card")));
        assert_eq!(s.stored(DocKind::Roster).unwrap(), None);
    }

    #[test]
    fn the_store_sink_replaces_the_roster_tables() {
        let k = SigningKey::from_bytes(&[1; 32]);
        let vk = k.verifying_key();
        let exp = Expect { kind: DocKind::Roster, district: "d1", centre: None, key: &vk, max_bytes: 1 << 20 };
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("k.db");
        let mut s = StoreSink::new(crate::store::Store::open(&path).unwrap());
        let p = serde_json::to_vec(&seal(&k, DocKind::Roster, "d1", None, 2, 0, ROSTER.as_bytes())).unwrap();
        handle(&p, &exp, &mut s).unwrap();
        let store = crate::store::Store::open(&path).unwrap();
        let m = store.member_by_card(&crate::model::CardUid::parse("04A1B2C3").unwrap()).unwrap().unwrap();
        assert_eq!(m.name, "张三");
        assert_eq!(s.current_version(DocKind::Roster).unwrap(), Some(2));
        assert_eq!(handle(&p, &exp, &mut s), Err(Rejected::NotNewer { current: 2, offered: 2 }));
    }

    #[test]
    fn the_store_sink_replaces_the_schedule_table() {
        let k = SigningKey::from_bytes(&[1; 32]);
        let vk = k.verifying_key();
        let exp = Expect { kind: DocKind::Schedule, district: "d1", centre: Some("c1"), key: &vk, max_bytes: 1 << 20 };
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("k.db");
        let mut s = StoreSink::new(crate::store::Store::open(&path).unwrap());
        let body = br#"{"entries":[{"id":"s1","title":"t","starts_ms":100,"ends_ms":200,"courses":["c1"]}]}"#;
        let p = serde_json::to_vec(&seal(&k, DocKind::Schedule, "d1", Some("c1"), 4, 0, body)).unwrap();
        assert_eq!(handle(&p, &exp, &mut s), Ok(Applied { kind: DocKind::Schedule, version: 4, items: 1 }));
        let store = crate::store::Store::open(&path).unwrap();
        let got = store.schedule_between(0, 1_000).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].entry.id.as_str(), got[0].entry.starts_ms, got[0].entry.courses.clone()), ("s1", 100, vec!["c1".to_string()]));
        assert_eq!(store.meta(crate::store::schedule::SCHEDULE_VERSION).unwrap().as_deref(), Some("4"));
    }

    #[test]
    fn schedule_entries_must_end_after_they_start() {
        let bad = br#"{"entries":[{"id":"s1","starts_ms":10,"ends_ms":5}]}"#;
        assert!(parse_document(DocKind::Schedule, bad).is_err());
        let ok = br#"{"entries":[{"id":"s1","starts_ms":5,"ends_ms":10,"courses":["c1"]}]}"#;
        assert_eq!(parse_document(DocKind::Schedule, ok).unwrap().len(), 1);
    }
}
