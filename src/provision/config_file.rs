//! The device config file as provisioning edits it: loads the TOML keeping the
//! comments and keys it does not know, changes only the keys it is given, and
//! writes it back atomically (temporary file, fsync, rename, fsync of the
//! directory) with mode 0600 and the previous file's owner. It never decides
//! what a value means: validation lives in `validate` and `mod.rs`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use toml_edit::{DocumentMut, Item, Table};

/// Where each provisioned value lives in the config file: (table, key).
/// Where each provisioned value lives in the config file: (table, key).
/// The layout is `crate::config::Config`'s; `[hub]` keys are the uplink's.
pub mod keys {
    pub const DISTRICT: (&str, &str) = ("device", "district");
    pub const CENTRE: (&str, &str) = ("device", "centre");
    pub const DEVICE_ID: (&str, &str) = ("device", "id");
    pub const DATA_DIR: (&str, &str) = ("device", "data_dir");
    pub const BOARD_KIND: (&str, &str) = ("board", "kind");
    pub const BOARD_FILE: (&str, &str) = ("board", "file");
    pub const USB_READER: (&str, &str) = ("board", "usb_reader");
    pub const HUB_URL: (&str, &str) = ("hub", "url");
    pub const CA_FILE: (&str, &str) = ("hub", "ca_file");
    pub const CLIENT_CERT: (&str, &str) = ("hub", "client_cert_file");
    pub const CLIENT_KEY: (&str, &str) = ("hub", "client_key_file");
    pub const USERNAME: (&str, &str) = ("hub", "username");
    pub const PASSWORD_FILE: (&str, &str) = ("hub", "password_file");
    pub const SIGNING_KEY: (&str, &str) = ("hub", "hub_public_key");
    pub const PIN_HASH: (&str, &str) = ("ui", "technician_pin_hash");
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("{path}: cannot read: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: not valid TOML: {source}")]
    Parse { path: PathBuf, source: toml_edit::TomlError },
    #[error("{path}: [{table}] is not a table")]
    NotATable { path: PathBuf, table: String },
    #[error("{path}: cannot write: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// A config file loaded for editing.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    path: PathBuf,
    doc: DocumentMut,
    existed: bool,
}

impl ConfigFile {
    /// Loads `path`; a missing file is an empty config to fill in.
    pub fn load(path: &Path) -> Result<Self, ConfigFileError> {
        let (text, existed) = match fs::read_to_string(path) {
            Ok(t) => (t, true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (String::new(), false),
            Err(source) => return Err(ConfigFileError::Read { path: path.to_path_buf(), source }),
        };
        let doc = text
            .parse::<DocumentMut>()
            .map_err(|source| ConfigFileError::Parse { path: path.to_path_buf(), source })?;
        Ok(ConfigFile { path: path.to_path_buf(), doc, existed })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file was there when loaded.
    pub fn existed(&self) -> bool {
        self.existed
    }

    /// A string value, `None` when absent, not a string, or empty.
    pub fn get(&self, (table, key): (&str, &str)) -> Option<String> {
        self.doc
            .get(table)
            .and_then(|t| t.get(key))
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    /// Sets a string value, creating the table when needed; keeps other keys and comments.
    pub fn set(&mut self, (table, key): (&str, &str), value: &str) -> Result<(), ConfigFileError> {
        let t = self.table_mut(table)?;
        match t.get_mut(key).and_then(|i| i.as_value_mut()) {
            // Keep the decoration (comments, spacing) of an existing value.
            Some(v) => {
                let decor = v.decor().clone();
                *v = toml_edit::Value::from(value);
                *v.decor_mut() = decor;
            }
            None => {
                t.insert(key, toml_edit::value(value));
            }
        }
        Ok(())
    }

    /// Removes a value (e.g. credentials when switching to a client certificate).
    pub fn remove(&mut self, (table, key): (&str, &str)) {
        if let Some(t) = self.doc.get_mut(table).and_then(Item::as_table_like_mut) {
            t.remove(key);
        }
    }

    fn table_mut(&mut self, table: &str) -> Result<&mut Table, ConfigFileError> {
        let path = self.path.clone();
        let item = self.doc.entry(table).or_insert_with(|| Item::Table(Table::new()));
        item.as_table_mut()
            .ok_or(ConfigFileError::NotATable { path, table: table.to_string() })
    }

    /// The file's text as it would be written.
    pub fn render(&self) -> String {
        self.doc.to_string()
    }

    /// Writes the file atomically with mode 0600, keeping the previous owner.
    pub fn write(&self) -> Result<(), ConfigFileError> {
        write_atomic(&self.path, self.render().as_bytes())
            .map_err(|source| ConfigFileError::Write { path: self.path.clone(), source })
    }
}

/// Replaces `path` with `bytes` so that readers see the old or the new file,
/// never a torn one, even across a power cut.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_owned(path, bytes, None)
}

/// As `write_atomic`; a new file gets `owner` (uid, gid), an existing one keeps its own.
pub fn write_atomic_owned(path: &Path, bytes: &[u8], owner: Option<(u32, u32)>) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let previous_owner = fs::metadata(path).ok().map(|m| (m.uid(), m.gid())).or(owner);
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        // The mode above is filtered by the umask and ignored for an old file.
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
        if let Some((uid, gid)) = previous_owner {
            // Keeps a file the service user reads readable after `sudo microclass provision`.
            // Only root may give a file away; others keep their own ownership.
            std::os::unix::fs::fchown(&f, Some(uid), Some(gid)).or_else(|e| {
                if e.kind() == std::io::ErrorKind::PermissionDenied { Ok(()) } else { Err(e) }
            })?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMENTED: &str = "# Device settings, written by microclass provision.\n\
[device]\n\
# The centre code from the district roster.\n\
centre = \"c001\"  # keep\n\
id = \"pi-1\"\n\
\n\
[ui]\n\
language = \"zh-CN\"\n";

    #[test]
    fn a_missing_file_loads_as_an_empty_config() {
        let dir = tempfile::tempdir().unwrap();
        let f = ConfigFile::load(&dir.path().join("config.toml")).unwrap();
        assert!(!f.existed());
        assert_eq!(f.get(keys::CENTRE), None);
    }

    #[test]
    fn changing_one_value_keeps_comments_and_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        fs::write(&p, COMMENTED).unwrap();
        let mut f = ConfigFile::load(&p).unwrap();
        f.set(keys::CENTRE, "c002").unwrap();
        f.set(keys::HUB_URL, "mqtts://hub:8883").unwrap();
        let out = f.render();
        assert!(out.contains("# The centre code from the district roster.\ncentre = \"c002\"  # keep"), "{out}");
        assert!(out.contains("id = \"pi-1\""));
        assert!(out.contains("[ui]\nlanguage = \"zh-CN\""));
        assert!(out.contains("[hub]\nurl = \"mqtts://hub:8883\""), "{out}");
    }

    #[test]
    fn a_written_file_is_mode_0600_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        fs::write(&p, COMMENTED).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        let mut f = ConfigFile::load(&p).unwrap();
        f.set(keys::PIN_HASH, "$argon2id$v=19$x").unwrap();
        f.write().unwrap();
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(ConfigFile::load(&p).unwrap().get(keys::PIN_HASH).as_deref(), Some("$argon2id$v=19$x"));
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().filter_map(|e| e.ok()).collect();
        assert_eq!(leftovers.len(), 1, "temporary file left behind");
    }

    #[test]
    fn removing_a_value_leaves_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        let mut f = ConfigFile::load(&p).unwrap();
        f.set(keys::USERNAME, "u").unwrap();
        f.set(keys::PASSWORD_FILE, "p").unwrap();
        f.remove(keys::PASSWORD_FILE);
        f.remove(("nope", "nothing"));
        assert_eq!(f.get(keys::USERNAME).as_deref(), Some("u"));
        assert_eq!(f.get(keys::PASSWORD_FILE), None);
    }

    #[test]
    fn a_file_that_is_not_toml_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        fs::write(&p, "[device\n").unwrap();
        let e = ConfigFile::load(&p).unwrap_err();
        assert!(matches!(e, ConfigFileError::Parse { .. }));
        assert!(e.to_string().contains("c.toml"));
    }

    #[test]
    fn a_key_that_is_a_value_where_a_table_is_expected_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        fs::write(&p, "hub = \"x\"\n").unwrap();
        let mut f = ConfigFile::load(&p).unwrap();
        assert!(matches!(f.set(keys::HUB_URL, "mqtts://h"), Err(ConfigFileError::NotATable { .. })));
    }

    #[test]
    fn writing_into_a_missing_directory_fails_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("no/such/dir/c.toml");
        let mut f = ConfigFile::load(&p).unwrap();
        f.set(keys::CENTRE, "c1").unwrap();
        assert!(matches!(f.write(), Err(ConfigFileError::Write { .. })));
    }

    #[test]
    fn a_new_file_takes_the_given_owner_and_an_existing_one_keeps_its_own() {
        // Giving a file away needs root; elsewhere the owner stays ours.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret");
        let root = unsafe { libc::geteuid() } == 0;
        write_atomic_owned(&p, b"x", Some((4242, 4243))).unwrap();
        let m = fs::metadata(&p).unwrap();
        if root {
            assert_eq!((m.uid(), m.gid()), (4242, 4243));
            write_atomic_owned(&p, b"y", Some((1, 1))).unwrap();
            let m = fs::metadata(&p).unwrap();
            assert_eq!((m.uid(), m.gid()), (4242, 4243));
        } else {
            assert_eq!(m.uid(), unsafe { libc::geteuid() });
        }
        assert_eq!(fs::read(&p).unwrap(), if root { b"y".to_vec() } else { b"x".to_vec() });
    }
}
