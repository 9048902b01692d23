//! The downloader's HTTP(S) client: a thin layer over `ureq` (URL parsing,
//! redirects, chunked bodies, keep-alive rules and TLS are ureq's) that adds
//! what the downloader relies on: one `GET` per connection with an optional
//! `Range`, every status returned to the caller, an idle timeout per read,
//! rustls with the aws-lc provider the rest of the firmware uses, the system
//! roots plus an optional CA file, and errors sorted into transient or not.
//! It only fetches; it never writes files or decides about retries.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use ureq::http::Uri;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("bad URL {url:?}: {why}")]
    BadUrl { url: String, why: &'static str },
    #[error("cannot resolve {host}: {source}")]
    Resolve { host: String, source: io::Error },
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: String, source: io::Error },
    #[error("no answer from {0} in time")]
    Timeout(String),
    #[error("connection to {host} failed: {source}")]
    Io { host: String, source: io::Error },
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("malformed HTTP response from {host}: {why}")]
    Protocol { host: String, why: String },
    #[error("too many redirects (last: {0})")]
    TooManyRedirects(String),
}

impl HttpError {
    /// Whether trying again later could help (network trouble, not a bad URL).
    pub fn is_transient(&self) -> bool {
        !matches!(self, HttpError::BadUrl { .. } | HttpError::Tls(_) | HttpError::TooManyRedirects(_))
    }
}

/// An `http://` or `https://` URL the client can fetch, as the catalogue checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    /// Without the brackets of an IPv6 literal.
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub target: String,
}

impl Url {
    /// Parses with the same parser ureq uses, so what passes here is what gets fetched.
    pub fn parse(url: &str) -> Result<Url, HttpError> {
        let bad = |why| HttpError::BadUrl { url: url.to_string(), why };
        // `http::Uri` drops a fragment; it never reaches the server either.
        let uri: Uri = url.parse().map_err(|_| bad("not a valid URL (spaces or control characters?)"))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad("only http:// and https:// are supported")),
        };
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("credentials in URLs are not supported"));
        }
        let host = authority.host().trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("no host"));
        }
        // `Authority::port()` is None both for "no port" and for one that is not a u16.
        let has_port = authority.as_str().rsplit_once(':').is_some_and(|(_, p)| !p.contains(']'));
        let port = match authority.port_u16() {
            Some(p) => p,
            None if has_port => return Err(bad("bad port")),
            None if https => 443,
            None => 80,
        };
        let target = match uri.query() {
            Some(q) => format!("{}?{q}", uri.path()),
            None => uri.path().to_string(),
        };
        Ok(Url { https, host: host.to_string(), port, target })
    }
}

/// The status and headers of a response, and its body as a reader.
pub struct Response {
    pub status: u16,
    headers: ureq::http::HeaderMap,
    pub body: Box<dyn Read + Send>,
    /// Bytes the body will have, when the server said so (Content-Length).
    pub content_length: Option<u64>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `(first, last, total)` of a `Content-Range: bytes a-b/c` header.
    pub fn content_range(&self) -> Option<(u64, u64, Option<u64>)> {
        parse_content_range(self.header("content-range")?)
    }
}

fn parse_content_range(v: &str) -> Option<(u64, u64, Option<u64>)> {
    let v = v.trim().strip_prefix("bytes")?.trim();
    let (range, total) = v.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    let total = if total.trim() == "*" { None } else { Some(total.trim().parse().ok()?) };
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?, total))
}

/// The client. Cheap to share; loads the trusted roots on first use.
pub struct HttpClient {
    connect_timeout: Duration,
    read_timeout: Duration,
    ca_file: Option<PathBuf>,
    agent: OnceLock<Agent>,
}

struct Agent {
    agent: ureq::Agent,
    /// Why HTTPS cannot work (no usable roots), reported on each HTTPS request.
    tls_problem: Option<String>,
}

const MAX_REDIRECTS: u32 = 5;
const MAX_HEADER_BYTES: usize = 64 * 1024;

impl HttpClient {
    pub fn new(connect_timeout: Duration, read_timeout: Duration, ca_file: Option<&Path>) -> Self {
        HttpClient { connect_timeout, read_timeout, ca_file: ca_file.map(Path::to_path_buf), agent: OnceLock::new() }
    }

    /// GET `url`, asking for the bytes from `range_from` on when given. Follows
    /// redirects. Any status is returned; the caller judges it.
    pub fn get(&self, url: &str, range_from: Option<u64>) -> Result<Response, HttpError> {
        let u = Url::parse(url)?;
        let agent = self.agent.get_or_init(|| self.build_agent());
        if u.https {
            if let Some(why) = &agent.tls_problem {
                return Err(HttpError::Tls(why.clone()));
            }
        }
        // One request per connection: a retry after trouble always gets a fresh one.
        let mut req = agent.agent.get(url).header("connection", "close");
        if let Some(from) = range_from {
            req = req.header("range", format!("bytes={from}-"));
        }
        let resp = req.call().map_err(|e| classify(&u, e))?;
        let status = resp.status().as_u16();
        let (parts, body) = resp.into_parts();
        let content_length = body.content_length();
        let host = u.host.clone();
        Ok(Response { status, headers: parts.headers, body: Box::new(Body { inner: body.into_reader(), host }), content_length })
    }

    fn build_agent(&self) -> Agent {
        let (roots, tls_problem) = match load_roots(self.ca_file.as_deref()) {
            Ok(roots) => (roots, None),
            Err(why) => (Vec::new(), Some(why)),
        };
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .root_certs(ureq::tls::RootCerts::new_with_certs(&roots))
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .build();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(MAX_REDIRECTS)
            .max_response_header_size(MAX_HEADER_BYTES)
            // Devices talk to the hub directly; a stray proxy variable must not reroute them.
            .proxy(None)
            .timeout_connect(Some(self.connect_timeout))
            .timeout_per_read(Some(self.read_timeout))
            .timeout_per_write(Some(self.read_timeout))
            .user_agent(format!("microclass/{}", env!("CARGO_PKG_VERSION")))
            .accept_encoding("identity")
            .tls_config(tls)
            .build()
            .new_agent();
        Agent { agent, tls_problem }
    }
}

/// The system roots plus the CA file. A single unusable system certificate must
/// not disable HTTPS; an unreadable CA file or no roots at all does.
fn load_roots(ca_file: Option<&Path>) -> Result<Vec<ureq::tls::Certificate<'static>>, String> {
    let mut roots: Vec<_> =
        rustls_native_certs::load_native_certs().certs.iter().map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned()).collect();
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("CA file {}: {e}", path.display()))?;
        let before = roots.len();
        for item in ureq::tls::parse_pem(&pem) {
            match item.map_err(|e| format!("CA file {}: {e}", path.display()))? {
                ureq::tls::PemItem::Certificate(c) => roots.push(c),
                _ => return Err(format!("CA file {}: holds something other than certificates", path.display())),
            }
        }
        if roots.len() == before {
            return Err(format!("CA file {}: no certificates in it", path.display()));
        }
    }
    if roots.is_empty() {
        return Err("no trusted CA certificates (system store empty and no ca_file)".into());
    }
    Ok(roots)
}

fn classify(u: &Url, e: ureq::Error) -> HttpError {
    let host = u.host.clone();
    match e {
        ureq::Error::BadUri(_) => HttpError::BadUrl { url: format!("{}:{}{}", u.host, u.port, u.target), why: "refused by the HTTP client" },
        ureq::Error::HostNotFound => HttpError::Resolve { host, source: io::Error::new(io::ErrorKind::NotFound, "no addresses") },
        ureq::Error::Timeout(_) => HttpError::Timeout(host),
        ureq::Error::TooManyRedirects => HttpError::TooManyRedirects(format!("{}:{}{}", u.host, u.port, u.target)),
        ureq::Error::Io(source) => io_error(u, source),
        ureq::Error::ConnectionFailed => {
            HttpError::Connect { addr: format!("{}:{}", u.host, u.port), source: io::Error::other("connection failed") }
        }
        e @ (ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) | ureq::Error::TlsRequired) => HttpError::Tls(e.to_string()),
        ureq::Error::LargeResponseHeader(..) => HttpError::Protocol { host, why: "response head too large".into() },
        other => HttpError::Protocol { host, why: other.to_string() },
    }
}

fn io_error(u: &Url, source: io::Error) -> HttpError {
    use io::ErrorKind::*;
    match source.kind() {
        WouldBlock | TimedOut => HttpError::Timeout(u.host.clone()),
        ConnectionRefused | AddrNotAvailable | NetworkUnreachable | HostUnreachable => {
            HttpError::Connect { addr: format!("{}:{}", u.host, u.port), source }
        }
        _ => HttpError::Io { host: u.host.clone(), source },
    }
}

/// The body, with ureq's errors turned into plain I/O errors whose kind says
/// what happened (a timeout reads as `TimedOut`, a bad chunk as `InvalidData`).
struct Body {
    inner: ureq::BodyReader<'static>,
    host: String,
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            let kind = e.kind();
            match ureq::Error::from(e) {
                ureq::Error::Io(e) => e,
                ureq::Error::Timeout(_) => io::Error::new(io::ErrorKind::TimedOut, format!("no data from {} in time", self.host)),
                other @ ureq::Error::Protocol(_) => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
                other => io::Error::new(kind, other.to_string()),
            }
        })
    }
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
