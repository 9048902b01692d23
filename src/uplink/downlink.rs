//! The kiosk's downlink sinks: where verified roster, catalogue and schedule
//! documents (parsed by `microclass_protocol::documents`) are applied. All
//! SQL is the store's; this file only maps documents onto store calls.

pub use microclass_protocol::documents::*;
use crate::core::Event;
use crate::store::documents;
use microclass_protocol::envelope::DocKind;
use rusqlite::Connection;

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
        documents::stored(&self.conn, kind.as_str())
    }
}

impl DocumentSink for MetaSink {
    fn current_version(&mut self, kind: DocKind) -> Result<Option<u64>, String> {
        documents::version(&self.conn, kind.as_str()).map_err(|e| e.to_string())
    }

    fn apply(&mut self, version: u64, doc: &Document, raw: &[u8]) -> Result<(), String> {
        keep(&mut self.conn, doc.kind(), version, raw)
    }
}

fn keep(conn: &mut Connection, kind: DocKind, version: u64, raw: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(raw).map_err(|e| e.to_string())?;
    documents::put(conn, kind.as_str(), version, text).map_err(|e| e.to_string())
}

/// The kiosk's sink: roster, courses and schedule replace the store's tables
/// through `Store::replace_roster` / `replace_courses` / `replace_schedule`
/// (one transaction each); every kind is also kept verbatim in `meta` with its
/// version, as `MetaSink` does, which is what version gating reads. After a
/// document is applied, `applied` hears of it as a core event
/// (`RosterReplaced` and its siblings), so every screen shows it at once.
pub struct StoreSink {
    store: crate::store::Store,
    applied: Option<Box<dyn FnMut(Event) + Send>>,
}

impl StoreSink {
    pub fn new(store: crate::store::Store) -> Self {
        StoreSink { store, applied: None }
    }

    /// Tells `f` of every applied document (the kiosk loop's input channel).
    pub fn on_applied(mut self, f: impl FnMut(Event) + Send + 'static) -> Self {
        self.applied = Some(Box::new(f));
        self
    }
}

impl DocumentSink for StoreSink {
    fn current_version(&mut self, kind: DocKind) -> Result<Option<u64>, String> {
        documents::version(self.store.conn(), kind.as_str()).map_err(|e| e.to_string())
    }

    fn apply(&mut self, version: u64, doc: &Document, raw: &[u8]) -> Result<(), String> {
        let event = match doc {
            Document::Roster(r) => {
                self.store.replace_roster(&r.members, version).map_err(|e| e.to_string())?;
                Event::RosterReplaced { version, members: r.members.len() }
            }
            Document::Catalog(c) => {
                self.store.replace_courses(&c.courses, version).map_err(|e| e.to_string())?;
                Event::CatalogReplaced { version, courses: c.courses.len() }
            }
            Document::Schedule(s) => {
                self.store.replace_schedule(&s.entries, version).map_err(|e| e.to_string())?;
                Event::ScheduleReplaced { version, entries: s.entries.len() }
            }
        };
        // The tables above are the truth for the kiosk; the meta copy records
        // the version and the signed text. A crash between the two re-applies
        // the same document on the next retained delivery, which is idempotent.
        keep(self.store.conn_mut(), doc.kind(), version, raw)?;
        if let Some(f) = &mut self.applied {
            f(event);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uplink::envelope::{seal, Expect};
    use ed25519_dalek::SigningKey;

    fn sink() -> (tempfile::TempDir, MetaSink) {
        let d = tempfile::tempdir().unwrap();
        let c = crate::store::drain::open(&d.path().join("m.db")).unwrap();
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
