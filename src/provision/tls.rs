//! TLS material for the hub connection: loads and checks the CA certificate,
//! the client certificate chain and its private key (PEM files), and builds
//! the rustls client configuration that the connection probe and the uplink
//! share. It never connects anywhere and never logs key material.

use rumqttc::tokio_rustls::rustls::{
    self,
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
    server::ParsedCertificate,
    ClientConfig, RootCertStore,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TlsMaterialError {
    #[error("{0}: file not found")]
    Missing(PathBuf),
    #[error("{path}: cannot read: {source}")]
    Unreadable { path: PathBuf, source: std::io::Error },
    #[error("{0}: no PEM certificate in the file (expected -----BEGIN CERTIFICATE-----)")]
    NoCertificate(PathBuf),
    #[error("{path}: not a valid X.509 certificate: {reason}")]
    InvalidCertificate { path: PathBuf, reason: String },
    #[error("{0}: no PEM private key in the file")]
    NoKey(PathBuf),
    #[error("{path}: private key not usable: {reason}")]
    InvalidKey { path: PathBuf, reason: String },
    #[error("client certificate {cert} and key {key} do not belong together: {reason}")]
    KeyMismatch { cert: PathBuf, key: PathBuf, reason: String },
    #[error("the system's trusted root certificates could not be loaded")]
    NoSystemRoots,
}

fn read(path: &Path) -> Result<Vec<u8>, TlsMaterialError> {
    std::fs::read(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => TlsMaterialError::Missing(path.to_path_buf()),
        _ => TlsMaterialError::Unreadable { path: path.to_path_buf(), source },
    })
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsMaterialError> {
    let bytes = read(path)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsMaterialError::InvalidCertificate { path: path.to_path_buf(), reason: e.to_string() })?;
    if certs.is_empty() {
        return Err(TlsMaterialError::NoCertificate(path.to_path_buf()));
    }
    Ok(certs)
}

/// Loads a CA bundle (one or more certificates) and checks each can be a trust anchor.
pub fn load_ca(path: &Path) -> Result<RootCertStore, TlsMaterialError> {
    let mut roots = RootCertStore::empty();
    for der in certificates(path)? {
        roots
            .add(der)
            .map_err(|e| TlsMaterialError::InvalidCertificate { path: path.to_path_buf(), reason: e.to_string() })?;
    }
    Ok(roots)
}

/// Loads a client certificate chain (end-entity first) and checks the first one parses.
pub fn load_cert_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsMaterialError> {
    let chain = certificates(path)?;
    ParsedCertificate::try_from(&chain[0])
        .map_err(|e| TlsMaterialError::InvalidCertificate { path: path.to_path_buf(), reason: e.to_string() })?;
    Ok(chain)
}

/// Loads a PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn load_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsMaterialError> {
    let bytes = read(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsMaterialError::NoKey(path.to_path_buf()),
        other => TlsMaterialError::InvalidKey { path: path.to_path_buf(), reason: other.to_string() },
    })
}

/// Where the client's TLS material lives; `ca` `None` means the system roots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

/// Builds the rustls client configuration, checking every file on the way.
pub fn client_config(files: &TlsFiles) -> Result<Arc<ClientConfig>, TlsMaterialError> {
    let roots = match &files.ca {
        Some(ca) => load_ca(ca)?,
        None => system_roots()?,
    };
    let builder = ClientConfig::builder().with_root_certificates(roots);
    let config = match (&files.client_cert, &files.client_key) {
        (Some(cert), Some(key)) => {
            let chain = load_cert_chain(cert)?;
            let key_der = load_private_key(key)?;
            builder.with_client_auth_cert(chain, key_der).map_err(|e| TlsMaterialError::KeyMismatch {
                cert: cert.clone(),
                key: key.clone(),
                reason: e.to_string(),
            })?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

fn system_roots() -> Result<RootCertStore, TlsMaterialError> {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err(TlsMaterialError::NoSystemRoots);
    }
    Ok(roots)
}
