//! Downlink documents: parse and check the inner roster, catalogue and
//! schedule documents, gate on version, and hand a verified document to a
//! `DocumentSink` that applies it atomically. It knows no store: applying is
//! the sink's job. It never panics on a payload.

use crate::envelope::{self, DocKind, EnvelopeError, Expect, Verified};
use microclass_model::{Course, Member};
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
pub use microclass_model::ScheduleEntry;

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
    if !crate::is_json_object(body) {
        return Err(format!("{}: a document is a JSON object", kind.as_str()));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::seal;
    use ed25519_dalek::SigningKey;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Memory(HashMap<&'static str, u64>);

    impl DocumentSink for Memory {
        fn current_version(&mut self, kind: DocKind) -> Result<Option<u64>, String> {
            Ok(self.0.get(kind.as_str()).copied())
        }
        fn apply(&mut self, version: u64, doc: &Document, _raw: &[u8]) -> Result<(), String> {
            self.0.insert(doc.kind().as_str(), version);
            Ok(())
        }
    }

    #[test]
    fn unknown_fields_of_a_member_course_or_file_are_refused_as_the_schemas_say() {
        let member = br#"{"members":[{"id":"m1","name":"A","nickname":"x"}]}"#;
        assert!(parse_document(DocKind::Roster, member).unwrap_err().contains("nickname"));
        let course = br#"{"courses":[{"id":"c1","title":"T","duration_s":60,"credit_minutes":1,"level":3}]}"#;
        assert!(parse_document(DocKind::Catalog, course).unwrap_err().contains("level"));
        let file = br#"{"courses":[{"id":"c1","title":"T","duration_s":60,"credit_minutes":1,"files":[{"url":"u","size":1,"sha256":"a","mirror":"m"}]}]}"#;
        assert!(parse_document(DocKind::Catalog, file).unwrap_err().contains("mirror"));
        // The top level may grow, as doc-roster.json allows.
        assert!(parse_document(DocKind::Roster, br#"{"members":[],"generated_by":"hub 2"}"#).is_ok());
    }

    #[test]
    fn a_document_is_an_object_never_an_array() {
        assert!(parse_document(DocKind::Roster, br#"[[{"id":"m1","name":"A"}]]"#).is_err());
    }

    #[test]
    fn a_sink_sees_only_verified_documents_newer_than_its_own() {
        let k = SigningKey::from_bytes(&[3; 32]);
        let vk = k.verifying_key();
        let body = br#"{"members":[{"id":"m1","name":"A"}]}"#;
        let exp = Expect { kind: DocKind::Roster, district: "d1", centre: None, key: &vk, max_bytes: 1 << 20 };
        let mut sink = Memory::default();
        let p = serde_json::to_vec(&seal(&k, DocKind::Roster, "d1", None, 5, 0, body)).unwrap();
        assert_eq!(handle(&p, &exp, &mut sink), Ok(Applied { kind: DocKind::Roster, version: 5, items: 1 }));
        assert_eq!(handle(&p, &exp, &mut sink), Err(Rejected::NotNewer { current: 5, offered: 5 }));
        let other = SigningKey::from_bytes(&[4; 32]);
        let forged = serde_json::to_vec(&seal(&other, DocKind::Roster, "d1", None, 6, 0, body)).unwrap();
        assert!(matches!(handle(&forged, &exp, &mut sink), Err(Rejected::Envelope(_))));
        assert_eq!(sink.0.get("roster"), Some(&5));
    }
}
