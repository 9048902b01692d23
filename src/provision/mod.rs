//! Provisioning: turns a technician's answers (CLI flags, prompts or the
//! touchscreen first-boot wizard) into the device config file. Owns the
//! answer set, the validation of every value, the merge into an existing file
//! ("change one thing") and the final completeness check. It never prompts,
//! prints or connects: the CLI and the wizard do that around these functions,
//! and the hub connection test is `doctor::hub::probe`.

pub mod config_file;
pub mod pin;
pub mod tls;
pub mod validate;

use config_file::{keys, ConfigFile, ConfigFileError};
use std::path::{Path, PathBuf};
pub use tls::TlsFiles;
pub use validate::HubUrl;

/// The message of a required value that is neither in the file nor given.
pub const NOT_SET: &str = "not set yet";

/// Default location of the config file installed by the package.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/microclass/config.toml";

/// What the technician gave. `None` means "leave as it is"; `Some("")` for
/// an optional file or credential means "remove it".
#[derive(Debug, Clone, Default)]
pub struct ProvisionAnswers {
    pub district: Option<String>,
    pub centre: Option<String>,
    pub device_id: Option<String>,
    pub hub_url: Option<String>,
    pub ca_file: Option<String>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub signing_key: Option<String>,
    pub board: Option<String>,
    /// The plain PIN; only its Argon2 hash is written.
    pub technician_pin: Option<String>,
}

/// The answer a problem is about, for the wizard to highlight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    District,
    Centre,
    DeviceId,
    HubUrl,
    CaFile,
    ClientCert,
    ClientKey,
    Username,
    Password,
    SigningKey,
    Board,
    TechnicianPin,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field:?}: {message}")]
pub struct FieldError {
    pub field: Field,
    pub message: String,
}

fn fe(field: Field, message: impl Into<String>) -> FieldError {
    FieldError { field, message: message.into() }
}

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    File(#[from] ConfigFileError),
    #[error("{} problem(s): {}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Hash(#[from] pin::PinHashError),
    #[error("the resulting config file would not load: {0}")]
    Config(String),
}

/// The provisioned settings as they stand in a config file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceSettings {
    pub district: Option<String>,
    pub centre: Option<String>,
    pub device_id: Option<String>,
    /// "sim" or the absolute path of the board file.
    pub board: Option<String>,
    pub hub_url: Option<String>,
    pub tls: TlsFiles,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
    /// The hub password: as just given, or read from `password_file`.
    pub password: Option<String>,
    pub signing_key: Option<String>,
    pub pin_hash: Option<String>,
    pub data_dir: Option<String>,
}

impl DeviceSettings {
    /// Reads the settings from a loaded file; the password comes from its file
    /// unless `new_password` gives it (not written yet).
    pub fn from_file(f: &ConfigFile, new_password: Option<&str>) -> Self {
        let board = match f.get(keys::BOARD_KIND).as_deref() {
            Some("pi") => f.get(keys::BOARD_FILE).or_else(|| f.get(keys::USB_READER).map(|_| "usb".into())),
            Some(other) => Some(other.to_string()),
            None => None,
        };
        let password_file = f.get(keys::PASSWORD_FILE).map(PathBuf::from);
        let password = match new_password {
            Some(p) => Some(p.to_string()).filter(|p| !p.is_empty()),
            None => password_file
                .as_deref()
                .and_then(|p| std::fs::read_to_string(p).ok())
                .map(|t| t.trim_end_matches(['\r', '\n']).to_string()),
        };
        DeviceSettings {
            district: f.get(keys::DISTRICT),
            centre: f.get(keys::CENTRE),
            device_id: f.get(keys::DEVICE_ID),
            board,
            hub_url: f.get(keys::HUB_URL),
            tls: TlsFiles {
                ca: f.get(keys::CA_FILE).map(PathBuf::from),
                client_cert: f.get(keys::CLIENT_CERT).map(PathBuf::from),
                client_key: f.get(keys::CLIENT_KEY).map(PathBuf::from),
            },
            username: f.get(keys::USERNAME),
            password_file,
            password,
            signing_key: f.get(keys::SIGNING_KEY),
            pin_hash: f.get(keys::PIN_HASH),
            data_dir: f.get(keys::DATA_DIR),
        }
    }

    /// Loads the settings of the config file at `path` (empty when missing).
    pub fn load(path: &Path) -> Result<Self, ConfigFileError> {
        Ok(Self::from_file(&ConfigFile::load(path)?, None))
    }

    /// The MQTT client id the device uses on the hub.
    pub fn client_id(&self) -> Option<String> {
        Some(format!(
            "mc-{}-{}-{}",
            self.district.as_deref()?,
            self.centre.as_deref()?,
            self.device_id.as_deref()?
        ))
    }
}

/// The file the hub password is kept in, next to the config file.
pub fn password_file_for(config: &Path) -> PathBuf {
    config.with_file_name("hub-password")
}

fn check_file(field: Field, value: &str, out: &mut Vec<FieldError>) {
    if !value.is_empty() && !Path::new(value).is_absolute() {
        out.push(fe(field, format!("{value:?}: give an absolute path")));
    }
}

/// Validates each given answer on its own. Returns every problem found, so
/// a form can mark all of them at once.
pub fn check_answers(a: &ProvisionAnswers) -> Vec<FieldError> {
    let mut out = Vec::new();
    for (field, v) in [(Field::District, &a.district), (Field::Centre, &a.centre), (Field::DeviceId, &a.device_id)] {
        if let Some(Err(m)) = v.as_deref().map(validate::check_id) {
            out.push(fe(field, m));
        }
    }
    if let Some(Err(m)) = a.hub_url.as_deref().map(validate::parse_hub_url) {
        out.push(fe(Field::HubUrl, m));
    }
    if let Some(Err(m)) = a.signing_key.as_deref().map(validate::parse_signing_key) {
        out.push(fe(Field::SigningKey, m));
    }
    if let Some(Err(m)) = a.board.as_deref().map(validate::check_board) {
        out.push(fe(Field::Board, m));
    }
    if let Some(Err(m)) = a.username.as_deref().filter(|u| !u.is_empty()).map(validate::check_username) {
        out.push(fe(Field::Username, m));
    }
    if let Some(Err(w)) = a.technician_pin.as_deref().map(pin::check_pin_strength) {
        out.push(fe(Field::TechnicianPin, w.to_string()));
    }
    check_file(Field::CaFile, a.ca_file.as_deref().unwrap_or(""), &mut out);
    check_file(Field::ClientCert, a.client_cert.as_deref().unwrap_or(""), &mut out);
    check_file(Field::ClientKey, a.client_key.as_deref().unwrap_or(""), &mut out);
    out
}

/// Checks that the merged settings are complete and consistent, including
/// that every TLS file exists and parses.
pub fn check_settings(s: &DeviceSettings) -> Vec<FieldError> {
    let mut out = Vec::new();
    let required = [
        (Field::District, &s.district),
        (Field::Centre, &s.centre),
        (Field::DeviceId, &s.device_id),
        (Field::HubUrl, &s.hub_url),
        (Field::SigningKey, &s.signing_key),
        (Field::Board, &s.board),
        (Field::TechnicianPin, &s.pin_hash),
    ];
    for (field, v) in required {
        if v.is_none() {
            out.push(fe(field, NOT_SET));
        }
    }
    let url = s.hub_url.as_deref().map(validate::parse_hub_url);
    if let Some(Err(m)) = &url {
        out.push(fe(Field::HubUrl, m.clone()));
    }
    match (&s.tls.client_cert, &s.tls.client_key) {
        (Some(_), None) => out.push(fe(Field::ClientKey, "a client certificate needs its private key")),
        (None, Some(_)) => out.push(fe(Field::ClientCert, "a private key needs its client certificate")),
        _ => {}
    }
    if s.password_file.is_some() && s.password.is_none() {
        out.push(fe(Field::Password, "the password file is missing or unreadable; give the password again"));
    }
    match (&s.username, &s.password) {
        (Some(_), None) if s.password_file.is_none() => out.push(fe(Field::Password, "a username needs a password")),
        (None, Some(_)) => out.push(fe(Field::Username, "a password needs a username")),
        _ => {}
    }
    let plain = matches!(url, Some(Ok(HubUrl { tls: false, .. })));
    if plain && (s.tls.ca.is_some() || s.tls.client_cert.is_some()) {
        out.push(fe(Field::HubUrl, "TLS files are set but the URL is mqtt://; use mqtts://"));
    }
    if matches!(url, Some(Ok(HubUrl { tls: true, .. }))) && s.tls.ca.is_none() {
        // The kiosk refuses to start with such a file (config_hub.rs).
        out.push(fe(Field::CaFile, "mqtts:// needs the hub's CA file: it is pinned, the system roots are never used"));
    }
    if !plain {
        if let Some(Err(e)) = s.tls.ca.as_deref().map(tls::load_ca) {
            out.push(fe(Field::CaFile, e.to_string()));
        }
        if let Some(Err(e)) = s.tls.client_cert.as_deref().map(tls::load_cert_chain) {
            out.push(fe(Field::ClientCert, e.to_string()));
        }
        if let Some(Err(e)) = s.tls.client_key.as_deref().map(tls::load_private_key) {
            out.push(fe(Field::ClientKey, e.to_string()));
        }
        if out.is_empty() && s.tls.client_cert.is_some() {
            if let Err(e) = tls::client_config(&s.tls) {
                out.push(fe(Field::ClientKey, e.to_string()));
            }
        }
    }
    if let Some(h) = &s.pin_hash {
        if argon2::password_hash::PasswordHash::new(h).is_err() {
            out.push(fe(Field::TechnicianPin, "the stored PIN hash is not a PHC string; set a new PIN"));
        }
    }
    out
}

/// Applies the answers to the loaded file: validates them, hashes the PIN,
/// sets only what was given, and checks the result is complete. Nothing is
/// written; call `ConfigFile::write` after an optional hub test.
pub fn apply(file: &mut ConfigFile, a: &ProvisionAnswers) -> Result<DeviceSettings, ProvisionError> {
    let problems = check_answers(a);
    if !problems.is_empty() {
        return Err(ProvisionError::Invalid(problems));
    }
    let set_or_remove = |file: &mut ConfigFile, key, v: &Option<String>| -> Result<(), ConfigFileError> {
        match v.as_deref() {
            None => Ok(()),
            Some("") => {
                file.remove(key);
                Ok(())
            }
            Some(v) => file.set(key, v),
        }
    };
    for (key, v) in [
        (keys::DISTRICT, &a.district),
        (keys::CENTRE, &a.centre),
        (keys::DEVICE_ID, &a.device_id),
        (keys::CA_FILE, &a.ca_file),
        (keys::CLIENT_CERT, &a.client_cert),
        (keys::CLIENT_KEY, &a.client_key),
        (keys::USERNAME, &a.username),
    ] {
        set_or_remove(file, key, v)?;
    }
    match a.board.as_deref() {
        None => {}
        Some(b) if validate::BUILTIN_BOARDS.contains(&b) => {
            file.set(keys::BOARD_KIND, b)?;
            file.remove(keys::BOARD_FILE);
        }
        Some(path) => {
            file.set(keys::BOARD_KIND, "pi")?;
            file.set(keys::BOARD_FILE, path)?;
        }
    }
    match a.password.as_deref() {
        None => {}
        Some("") => file.remove(keys::PASSWORD_FILE),
        Some(_) => {
            let pw_file = password_file_for(file.path());
            file.set(keys::PASSWORD_FILE, &pw_file.to_string_lossy())?;
        }
    }
    if let Some(Ok(url)) = a.hub_url.as_deref().map(validate::parse_hub_url) {
        file.set(keys::HUB_URL, &url.to_string())?;
    }
    if let Some(Ok(key)) = a.signing_key.as_deref().map(validate::parse_signing_key) {
        file.set(keys::SIGNING_KEY, &key)?;
    }
    if let Some(p) = &a.technician_pin {
        file.set(keys::PIN_HASH, &pin::hash_pin(p)?)?;
    }
    let settings = DeviceSettings::from_file(file, a.password.as_deref());
    let problems = check_settings(&settings);
    if !problems.is_empty() {
        return Err(ProvisionError::Invalid(problems));
    }
    crate::config::Config::parse(&file.render()).map_err(ProvisionError::Config)?;
    Ok(settings)
}

/// Writes what `apply` prepared: the password file first (0600, when a new
/// password was given), then the config file. Each write is atomic.
pub fn commit(file: &ConfigFile, a: &ProvisionAnswers) -> Result<(), ProvisionError> {
    if let Some(pw) = a.password.as_deref().filter(|p| !p.is_empty()) {
        let path = password_file_for(file.path());
        // Readable by whoever reads the config (the service user), not by root only.
        let owner = std::fs::metadata(file.path()).ok().map(|m| {
            use std::os::unix::fs::MetadataExt;
            (m.uid(), m.gid())
        });
        config_file::write_atomic_owned(&path, pw.as_bytes(), owner)
            .map_err(|source| ConfigFileError::Write { path, source })?;
    }
    file.write()?;
    Ok(())
}

#[cfg(test)]
mod tests;
