//! A small blocking HTTP/1.1 client for the downloader: one GET per connection,
//! optional `Range`, redirects, Content-Length or chunked bodies, connect and
//! read timeouts, and HTTPS through rustls (system roots plus an optional CA
//! file). It only fetches; it never writes files or decides about retries.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

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

/// An `http://` or `https://` URL, split for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub target: String,
}

impl Url {
    pub fn parse(url: &str) -> Result<Url, HttpError> {
        let bad = |why| HttpError::BadUrl { url: url.to_string(), why };
        let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("http://") {
            (false, r)
        } else {
            return Err(bad("only http:// and https:// are supported"));
        };
        let (authority, target) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        let target = if target.starts_with('?') { format!("/{target}") } else { target };
        let target = target.split('#').next().unwrap_or("/").to_string();
        if authority.contains('@') {
            return Err(bad("credentials in URLs are not supported"));
        }
        if target.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(bad("spaces or control characters in the path"));
        }
        let default_port = if https { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6.find(']').ok_or_else(|| bad("unclosed [ in host"))?;
            let port = match &v6[end + 1..] {
                "" => default_port,
                p => p.strip_prefix(':').and_then(|p| p.parse().ok()).ok_or_else(|| bad("bad port"))?,
            };
            (v6[..end].to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad("bad port"))?),
                None => (authority.to_string(), default_port),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        Ok(Url { https, host, port, target })
    }

    fn host_header(&self) -> String {
        let h = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        if self.port == if self.https { 443 } else { 80 } {
            h
        } else {
            format!("{h}:{}", self.port)
        }
    }

    /// Resolves a `Location` header against this URL.
    fn join(&self, location: &str) -> Result<Url, HttpError> {
        if location.starts_with("http://") || location.starts_with("https://") {
            Url::parse(location)
        } else if location.starts_with('/') {
            Ok(Url { target: location.to_string(), ..self.clone() })
        } else {
            let base = self.target.rsplit_once('/').map(|(b, _)| b).unwrap_or("");
            Ok(Url { target: format!("{base}/{location}"), ..self.clone() })
        }
    }
}

/// The status and headers of a response, and its body as a reader.
pub struct Response {
    pub status: u16,
    headers: Vec<(String, String)>,
    pub body: Box<dyn Read + Send>,
    /// Bytes the body will have, when the server said so (Content-Length).
    pub content_length: Option<u64>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// `(first, last, total)` of a `Content-Range: bytes a-b/c` header.
    pub fn content_range(&self) -> Option<(u64, u64, Option<u64>)> {
        let v = self.header("content-range")?.trim().strip_prefix("bytes")?.trim();
        let (range, total) = v.split_once('/')?;
        let (a, b) = range.split_once('-')?;
        let total = if total.trim() == "*" { None } else { Some(total.trim().parse().ok()?) };
        Some((a.trim().parse().ok()?, b.trim().parse().ok()?, total))
    }
}

/// The client. Cheap to share; builds its TLS setup on first HTTPS use.
pub struct HttpClient {
    connect_timeout: Duration,
    read_timeout: Duration,
    ca_file: Option<std::path::PathBuf>,
    tls: OnceLock<Result<Arc<rustls::ClientConfig>, String>>,
}

const MAX_REDIRECTS: usize = 5;
const MAX_HEADER_BYTES: usize = 64 * 1024;

impl HttpClient {
    pub fn new(connect_timeout: Duration, read_timeout: Duration, ca_file: Option<&Path>) -> Self {
        HttpClient { connect_timeout, read_timeout, ca_file: ca_file.map(Path::to_path_buf), tls: OnceLock::new() }
    }

    /// GET `url`, asking for the bytes from `range_from` on when given. Follows
    /// redirects. Any status is returned; the caller judges it.
    pub fn get(&self, url: &str, range_from: Option<u64>) -> Result<Response, HttpError> {
        let mut u = Url::parse(url)?;
        for _ in 0..=MAX_REDIRECTS {
            let resp = self.get_once(&u, range_from)?;
            if matches!(resp.status, 301 | 302 | 303 | 307 | 308) {
                if let Some(loc) = resp.header("location") {
                    u = u.join(loc.trim())?;
                    continue;
                }
            }
            return Ok(resp);
        }
        Err(HttpError::TooManyRedirects(format!("{}:{}{}", u.host, u.port, u.target)))
    }

    fn get_once(&self, u: &Url, range_from: Option<u64>) -> Result<Response, HttpError> {
        let host = u.host.clone();
        let io_err = |source: io::Error| classify(&host, source);
        let tcp = self.connect(u)?;
        let mut stream: Box<dyn ReadWrite> = if u.https {
            let config = self.tls_config()?;
            let name = rustls::pki_types::ServerName::try_from(u.host.clone())
                .map_err(|_| HttpError::BadUrl { url: u.host.clone(), why: "host is not a valid TLS name" })?;
            let conn = rustls::ClientConnection::new(config, name).map_err(|e| HttpError::Tls(e.to_string()))?;
            Box::new(rustls::StreamOwned::new(conn, tcp))
        } else {
            Box::new(tcp)
        };
        let mut req = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: microclass/{}\r\nAccept-Encoding: identity\r\nConnection: close\r\n",
            u.target,
            u.host_header(),
            env!("CARGO_PKG_VERSION")
        );
        if let Some(from) = range_from {
            req.push_str(&format!("Range: bytes={from}-\r\n"));
        }
        req.push_str("\r\n");
        stream.write_all(req.as_bytes()).map_err(io_err)?;
        stream.flush().map_err(io_err)?;
        let mut reader = BufReader::with_capacity(256 * 1024, stream);
        let (status, headers) = read_head(&mut reader, &u.host)?;
        let find = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim());
        let chunked = find("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let content_length = match find("content-length") {
            Some(v) if !chunked => Some(v.parse::<u64>().map_err(|_| HttpError::Protocol {
                host: u.host.clone(),
                why: format!("bad Content-Length {v:?}"),
            })?),
            _ => None,
        };
        let body: Box<dyn Read + Send> = if chunked {
            Box::new(Chunked { inner: reader, left: 0, done: false })
        } else if let Some(n) = content_length {
            Box::new(reader.take(n))
        } else {
            Box::new(reader)
        };
        Ok(Response { status, headers, body, content_length })
    }

    fn connect(&self, u: &Url) -> Result<TcpStream, HttpError> {
        let addrs = (u.host.as_str(), u.port)
            .to_socket_addrs()
            .map_err(|source| HttpError::Resolve { host: u.host.clone(), source })?;
        let mut last = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, self.connect_timeout) {
                Ok(s) => {
                    let set = s
                        .set_read_timeout(Some(self.read_timeout))
                        .and_then(|_| s.set_write_timeout(Some(self.read_timeout)))
                        .and_then(|_| s.set_nodelay(true));
                    set.map_err(|source| HttpError::Connect { addr: addr.to_string(), source })?;
                    return Ok(s);
                }
                Err(source) => last = Some(HttpError::Connect { addr: addr.to_string(), source }),
            }
        }
        Err(last.unwrap_or_else(|| HttpError::Resolve {
            host: u.host.clone(),
            source: io::Error::new(io::ErrorKind::NotFound, "no addresses"),
        }))
    }

    fn tls_config(&self) -> Result<Arc<rustls::ClientConfig>, HttpError> {
        self.tls.get_or_init(|| build_tls(self.ca_file.as_deref())).clone().map_err(HttpError::Tls)
    }
}

fn build_tls(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A single unusable system certificate must not disable HTTPS.
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| format!("CA file {}: {e}", path.display()))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("CA file {}: {e}", path.display()))?;
            roots.add(cert).map_err(|e| format!("CA file {}: {e}", path.display()))?;
        }
    }
    if roots.is_empty() {
        return Err("no trusted CA certificates (system store empty and no ca_file)".into());
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

trait ReadWrite: Read + Write + Send {}
impl<T: Read + Write + Send> ReadWrite for T {}

fn classify(host: &str, source: io::Error) -> HttpError {
    match source.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => HttpError::Timeout(host.to_string()),
        _ => HttpError::Io { host: host.to_string(), source },
    }
}

fn read_line(r: &mut impl BufRead, host: &str, budget: &mut usize) -> Result<String, HttpError> {
    let mut line = Vec::new();
    let n = r.take(*budget as u64 + 1).read_until(b'\n', &mut line).map_err(|e| classify(host, e))?;
    if n == 0 {
        return Err(HttpError::Protocol { host: host.into(), why: "connection closed before the response".into() });
    }
    if n > *budget {
        return Err(HttpError::Protocol { host: host.into(), why: "response head too large".into() });
    }
    *budget -= n;
    Ok(String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_string())
}

fn read_head(r: &mut impl BufRead, host: &str) -> Result<(u16, Vec<(String, String)>), HttpError> {
    let mut budget = MAX_HEADER_BYTES;
    let status_line = read_line(r, host, &mut budget)?;
    let mut parts = status_line.split_whitespace();
    let status = match (parts.next(), parts.next().and_then(|s| s.parse::<u16>().ok())) {
        (Some(v), Some(s)) if v.starts_with("HTTP/1.") => s,
        _ => return Err(HttpError::Protocol { host: host.into(), why: format!("bad status line {status_line:?}") }),
    };
    let mut headers = Vec::new();
    loop {
        let line = read_line(r, host, &mut budget)?;
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok((status, headers))
}

/// Decodes `Transfer-Encoding: chunked`.
struct Chunked<R> {
    inner: R,
    left: u64,
    done: bool,
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            let mut line = String::new();
            self.inner.by_ref().take(1024).read_line(&mut line)?;
            let size = line.trim().split(';').next().unwrap_or("");
            self.left = u64::from_str_radix(size, 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("bad chunk size {line:?}")))?;
            if self.left == 0 {
                self.done = true;
                return Ok(0);
            }
        }
        let want = buf.len().min(self.left as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed inside a chunk"));
        }
        self.left -= n as u64;
        if self.left == 0 {
            let mut crlf = [0u8; 2];
            self.inner.read_exact(&mut crlf)?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_port_and_target() {
        let u = Url::parse("https://hub.example.cn/v/a.mp4?t=1#x").unwrap();
        assert_eq!((u.https, u.host.as_str(), u.port, u.target.as_str()), (true, "hub.example.cn", 443, "/v/a.mp4?t=1"));
        let u = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((u.port, u.target.as_str(), u.host_header()), (8080, "/", "127.0.0.1:8080".to_string()));
        let u = Url::parse("http://[::1]:81/x").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.host_header()), ("::1", 81, "[::1]:81".to_string()));
    }

    #[test]
    fn urls_the_client_cannot_fetch_are_refused_with_a_reason() {
        for bad in ["ftp://x/y", "http://", "http://u:p@h/x", "http://h:99999/x", "http://h/a b"] {
            assert!(matches!(Url::parse(bad), Err(HttpError::BadUrl { .. })), "{bad}");
        }
    }

    #[test]
    fn redirect_locations_resolve_against_the_request() {
        let u = Url::parse("http://h:81/a/b.mp4").unwrap();
        assert_eq!(u.join("/c.mp4").unwrap().target, "/c.mp4");
        assert_eq!(u.join("c.mp4").unwrap().target, "/a/c.mp4");
        assert!(u.join("https://o/z").unwrap().https);
    }

    #[test]
    fn a_chunked_body_is_decoded_and_stops_at_the_last_chunk() {
        let raw = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\nTRAILING";
        let mut c = Chunked { inner: &raw[..], left: 0, done: false };
        let mut out = String::new();
        c.read_to_string(&mut out).unwrap();
        assert_eq!(out, "hello world");
    }

    #[test]
    fn a_response_head_is_parsed_and_a_bad_one_is_refused() {
        let mut r = &b"HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 10-19/20\r\nX: y\r\n\r\nbody"[..];
        let (status, headers) = read_head(&mut r, "h").unwrap();
        assert_eq!(status, 206);
        let resp = Response { status, headers, body: Box::new(io::empty()), content_length: None };
        assert_eq!(resp.content_range(), Some((10, 19, Some(20))));
        let mut r = &b"SSH-2.0-OpenSSH\r\n\r\n"[..];
        assert!(matches!(read_head(&mut r, "h"), Err(HttpError::Protocol { .. })));
    }
}
