//! The hub's signing key on disk and the per-document version counter kept
//! next to it. Writes the private key with mode 0600 and never prints it.

use microclass_protocol::envelope::{generate_key, key_id, DocKind};
use ed25519_dalek::SigningKey;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const PRIVATE_FILE: &str = "hub.key";
pub const PUBLIC_FILE: &str = "hub.pub";
pub const VERSIONS_FILE: &str = "versions.json";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    #[error("{0} already exists: refusing to overwrite a signing key the devices trust")]
    Exists(PathBuf),
    #[error("{path}: not a hub private key (expected 64 hex digits)")]
    Bad { path: PathBuf },
    #[error("{path}: is readable by group or others (mode {mode:o}); chmod 600 it")]
    Permissions { path: PathBuf, mode: u32 },
    #[error("{path}: {message}")]
    Versions { path: PathBuf, message: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |err| KeyError::Io { path: path.to_path_buf(), err }
}

/// A new key pair in `dir`; returns the public key as hex (for the devices' `hub_public_key`).
pub fn keygen(dir: &Path) -> Result<String, KeyError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let private = dir.join(PRIVATE_FILE);
    if private.exists() {
        return Err(KeyError::Exists(private));
    }
    let key = generate_key();
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&private).map_err(io(&private))?;
    writeln!(f, "{}", hex::encode(key.to_bytes())).map_err(io(&private))?;
    f.sync_all().map_err(io(&private))?;
    let public = hex::encode(key.verifying_key().as_bytes());
    let pub_path = dir.join(PUBLIC_FILE);
    std::fs::write(&pub_path, format!("{public}\n")).map_err(io(&pub_path))?;
    Ok(public)
}

/// Loads the private key from a file written by `keygen` (refused if others can read it).
pub fn load(path: &Path) -> Result<SigningKey, KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(io(path))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Permissions { path: path.to_path_buf(), mode });
    }
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let bytes = hex::decode(text.trim()).map_err(|_| KeyError::Bad { path: path.to_path_buf() })?;
    let arr: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Bad { path: path.to_path_buf() })?;
    Ok(SigningKey::from_bytes(&arr))
}

pub fn describe(key: &SigningKey) -> (String, String) {
    let vk = key.verifying_key();
    (hex::encode(vk.as_bytes()), key_id(&vk))
}

/// The last published version of each document, in `versions.json` next to the key.
pub struct Versions {
    path: PathBuf,
    map: BTreeMap<String, u64>,
}

impl Versions {
    pub fn open(key_dir: &Path) -> Result<Versions, KeyError> {
        let path = key_dir.join(VERSIONS_FILE);
        let map = match std::fs::read_to_string(&path) {
            Ok(t) => serde_json::from_str(&t).map_err(|e| KeyError::Versions { path: path.clone(), message: e.to_string() })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(KeyError::Io { path, err: e }),
        };
        Ok(Versions { path, map })
    }

    fn slot(kind: DocKind, district: &str, centre: Option<&str>) -> String {
        format!("{district}/{}/{}", kind.as_str(), centre.unwrap_or("*"))
    }

    pub fn last(&self, kind: DocKind, district: &str, centre: Option<&str>) -> Option<u64> {
        self.map.get(&Self::slot(kind, district, centre)).copied()
    }

    /// The next version: above the last one, and at least the current Unix
    /// second so a lost counter file still yields a newer version.
    pub fn next(&self, kind: DocKind, district: &str, centre: Option<&str>, now_ms: i64) -> u64 {
        let floor = (now_ms.max(0) / 1000) as u64;
        self.last(kind, district, centre).map_or(floor.max(1), |v| (v + 1).max(floor))
    }

    /// Records a published version and saves the file (write, fsync, rename).
    pub fn record(&mut self, kind: DocKind, district: &str, centre: Option<&str>, version: u64) -> Result<(), KeyError> {
        self.map.insert(Self::slot(kind, district, centre), version);
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(&self.map).map_err(|e| KeyError::Versions { path: self.path.clone(), message: e.to_string() })?;
        let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(text.as_bytes()).and_then(|_| f.sync_all()).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &self.path).map_err(io(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keygen_writes_a_private_key_only_its_owner_can_read_and_refuses_to_overwrite() {
        let d = tempfile::tempdir().unwrap();
        let public = keygen(d.path()).unwrap();
        let mode = std::fs::metadata(d.path().join(PRIVATE_FILE)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let key = load(&d.path().join(PRIVATE_FILE)).unwrap();
        assert_eq!(describe(&key).0, public);
        assert!(matches!(keygen(d.path()), Err(KeyError::Exists(_))));
        std::fs::set_permissions(d.path().join(PRIVATE_FILE), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(load(&d.path().join(PRIVATE_FILE)), Err(KeyError::Permissions { .. })));
    }

    #[test]
    fn versions_grow_per_document_and_survive_a_restart() {
        let d = tempfile::tempdir().unwrap();
        let mut v = Versions::open(d.path()).unwrap();
        let n = v.next(DocKind::Roster, "d1", None, 5_000);
        assert_eq!(n, 5);
        v.record(DocKind::Roster, "d1", None, n).unwrap();
        let v = Versions::open(d.path()).unwrap();
        assert_eq!(v.next(DocKind::Roster, "d1", None, 1_000), 6);
        assert_eq!(v.next(DocKind::Schedule, "d1", Some("c1"), 1_000), 1);
        assert_eq!(v.next(DocKind::Roster, "d1", None, 9_000), 9);
    }
}
