//! Turns a district office file into signed, versioned envelopes on their
//! retained topics (roster, catalogue, one schedule per centre). Checks each
//! body with the device's own document rules before signing. No MQTT here.

use super::keys::{KeyError, Versions};
use super::sheets::{self, SheetError};
use microclass_protocol::documents::parse_document;
use microclass_protocol::envelope::{seal, DocKind};
use microclass_protocol::topics::ROOT;
use ed25519_dalek::SigningKey;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{path}: {err}")]
    Read { path: PathBuf, err: std::io::Error },
    #[error("{path}: {err}")]
    Sheet { path: PathBuf, err: SheetError },
    #[error("{0}: only .csv and .toml files are read")]
    Format(PathBuf),
    #[error("document refused by the device rules: {0}")]
    Document(String),
    #[error("version {given} is not above the last published {last} for {slot}")]
    NotNewer { slot: String, given: u64, last: u64 },
    #[error("encoding: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// One signed document ready to publish.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub kind: DocKind,
    pub centre: Option<String>,
    pub topic: String,
    pub version: u64,
    pub items: usize,
    pub payload: Vec<u8>,
}

/// Reads, validates, signs and versions `file` as `kind` for `district`.
pub fn prepare(kind: DocKind, file: &Path, district: &str, key: &SigningKey, versions: &Versions, version: Option<u64>, now_ms: i64, utc_offset_minutes: i32) -> Result<Vec<Prepared>, PublishError> {
    let bytes = std::fs::read(file).map_err(|err| PublishError::Read { path: file.into(), err })?;
    // Office sheets come as UTF-8 or GB18030 (Excel/WPS on Chinese Windows).
    let text = super::csv::decode(&bytes).map_err(|e| PublishError::Sheet { path: file.into(), err: SheetError::from(e) })?;
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let sheet = |err| PublishError::Sheet { path: file.into(), err };
    let bodies: Vec<(Option<String>, Vec<u8>)> = match (kind, ext.as_str()) {
        (DocKind::Roster, "csv") => vec![(None, serde_json::to_vec(&sheets::roster_csv(&text).map_err(sheet)?)?)],
        (DocKind::Roster, "toml") => vec![(None, serde_json::to_vec(&sheets::roster_toml(&text).map_err(sheet)?)?)],
        (DocKind::Catalog, "csv") => vec![(None, serde_json::to_vec(&sheets::catalog_csv(&text).map_err(sheet)?)?)],
        (DocKind::Catalog, "toml") => vec![(None, serde_json::to_vec(&sheets::catalog_toml(&text).map_err(sheet)?)?)],
        (DocKind::Schedule, "csv" | "toml") => {
            let docs = if ext == "csv" { sheets::schedule_csv(&text, utc_offset_minutes) } else { sheets::schedule_toml(&text, utc_offset_minutes) }.map_err(sheet)?;
            docs.into_iter().map(|(c, d)| Ok((Some(c), serde_json::to_vec(&d)?))).collect::<Result<_, PublishError>>()?
        }
        _ => return Err(PublishError::Format(file.into())),
    };
    let mut out = Vec::new();
    for (centre, body) in bodies {
        let items = parse_document(kind, &body).map_err(PublishError::Document)?.len();
        let c = centre.as_deref();
        let v = match version {
            Some(v) => {
                if let Some(last) = versions.last(kind, district, c).filter(|l| *l >= v) {
                    return Err(PublishError::NotNewer { slot: format!("{}/{}", kind.as_str(), c.unwrap_or("*")), given: v, last });
                }
                v
            }
            None => versions.next(kind, district, c, now_ms),
        };
        let env = seal(key, kind, district, c, v, now_ms, &body);
        let topic = match c {
            Some(c) => format!("{ROOT}/{district}/{c}/schedule"),
            None => format!("{ROOT}/{district}/{}", kind.as_str()),
        };
        out.push(Prepared { kind, centre, topic, version: v, items, payload: serde_json::to_vec(&env)? });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use microclass_protocol::documents::{handle, Applied, Document, DocumentSink};
    use microclass_protocol::envelope::Expect;

    /// The device's side of applying a document, as the protocol defines it.
    struct Device(Option<u64>);

    impl DocumentSink for Device {
        fn current_version(&mut self, _kind: DocKind) -> Result<Option<u64>, String> {
            Ok(self.0)
        }
        fn apply(&mut self, version: u64, _doc: &Document, _raw: &[u8]) -> Result<(), String> {
            self.0 = Some(version);
            Ok(())
        }
    }

    #[test]
    fn a_published_roster_is_applied_by_the_device_side_code() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("roster.csv");
        std::fs::write(&file, "\u{feff}id,name,cards\nm1,张伟,04A1B2C3;04A1B2C4\n").unwrap();
        let key = SigningKey::from_bytes(&[3; 32]);
        let versions = Versions::open(d.path()).unwrap();
        let p = prepare(DocKind::Roster, &file, "d1", &key, &versions, None, 1_700_000_000_000, 480).unwrap();
        assert_eq!((p.len(), p[0].topic.as_str(), p[0].version, p[0].items), (1, "mc/v1/d1/roster", 1_700_000_000, 1));
        let vk = key.verifying_key();
        let exp = Expect { kind: DocKind::Roster, district: "d1", centre: None, key: &vk, max_bytes: 1 << 20 };
        assert_eq!(handle(&p[0].payload, &exp, &mut Device(None)), Ok(Applied { kind: DocKind::Roster, version: 1_700_000_000, items: 1 }));
    }

    #[test]
    fn a_given_version_must_be_above_the_last_published_one() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("sched.csv");
        std::fs::write(&file, "centre,id,start,end\nc1,s1,2026-03-01 19:00,2026-03-01 20:00\nc2,s2,2026-03-01 19:00,2026-03-01 20:00\n").unwrap();
        let key = SigningKey::from_bytes(&[3; 32]);
        let mut versions = Versions::open(d.path()).unwrap();
        versions.record(DocKind::Schedule, "d1", Some("c2"), 9).unwrap();
        let e = prepare(DocKind::Schedule, &file, "d1", &key, &versions, Some(9), 0, 480).unwrap_err();
        assert!(matches!(e, PublishError::NotNewer { given: 9, last: 9, .. }), "{e}");
        let p = prepare(DocKind::Schedule, &file, "d1", &key, &versions, Some(10), 0, 480).unwrap();
        assert_eq!(p.iter().map(|p| p.topic.as_str()).collect::<Vec<_>>(), vec!["mc/v1/d1/c1/schedule", "mc/v1/d1/c2/schedule"]);
    }
}
