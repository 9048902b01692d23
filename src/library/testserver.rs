//! A loopback-only HTTP file server for tests and `microclass bench library`,
//! on `tiny_http` (which owns the HTTP side: request parsing, response heads,
//! chunked encoding). This file adds what tests need: registered files served
//! with `Range`, redirects, and faults injected on request (drop mid-file,
//! stall, throttle, ignore Range, error statuses, chunked bodies). It binds
//! 127.0.0.1 only and must never be used to serve anything on a network.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tiny_http::{Header, Request, Response, StatusCode};

/// Misbehaviour to inject. Counters apply to requests in arrival order.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Close the connection after this many body bytes...
    pub drop_after: Option<u64>,
    /// ...for this many requests (then behave).
    pub drop_requests: usize,
    /// Answer `200` with the whole file even when asked for a range.
    pub ignore_range: bool,
    /// After this many body bytes, go silent for the duration (longer than the client's read timeout).
    pub stall: Option<(u64, Duration)>,
    pub stall_requests: usize,
    /// Send at most this many bytes per second.
    pub throttle_bps: Option<u64>,
    /// Answer this status (no body) for the next `status_requests` requests.
    pub status: Option<u16>,
    pub status_requests: usize,
    /// Send bodies chunked, without a Content-Length.
    pub chunked: bool,
}

#[derive(Clone)]
enum Source {
    Bytes(Arc<Vec<u8>>),
    File(PathBuf),
    /// Answer `302` with this `Location`.
    Redirect(String),
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub path: String,
    pub range_from: Option<u64>,
    /// The `Host` header the client sent.
    pub host: Option<String>,
}

#[derive(Default)]
struct Shared {
    files: HashMap<String, Source>,
    faults: Faults,
    seen: Vec<Seen>,
}

pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    server: Arc<tiny_http::Server>,
}

impl TestServer {
    /// Starts on a free loopback port.
    pub fn start() -> io::Result<TestServer> {
        let server = tiny_http::Server::http("127.0.0.1:0").map_err(io::Error::other)?;
        let addr = server.server_addr().to_ip().ok_or_else(|| io::Error::other("not an IP listener"))?;
        let server = Arc::new(server);
        let shared = Arc::new(Mutex::new(Shared::default()));
        let (srv, sh) = (server.clone(), shared.clone());
        std::thread::Builder::new().name("testserver".into()).spawn(move || {
            // Ends when `unblock` is called on drop.
            for rq in srv.incoming_requests() {
                let sh = sh.clone();
                // A stalled or throttled answer must not hold up the next request.
                let _ = std::thread::Builder::new().name("testserver-req".into()).spawn(move || {
                    let _ = serve(rq, &sh);
                });
            }
        })?;
        Ok(TestServer { addr, shared, server })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn add_bytes(&self, path: &str, data: Vec<u8>) {
        self.lock().files.insert(path.to_string(), Source::Bytes(Arc::new(data)));
    }

    pub fn add_file(&self, path: &str, file: PathBuf) {
        self.lock().files.insert(path.to_string(), Source::File(file));
    }

    /// `path` answers `302 Found` pointing at `location` (absolute or relative).
    pub fn add_redirect(&self, path: &str, location: &str) {
        self.lock().files.insert(path.to_string(), Source::Redirect(location.to_string()));
    }

    pub fn set_faults(&self, f: Faults) {
        self.lock().faults = f;
    }

    /// Requests received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// What this request gets, decided under the lock so counters stay consistent.
struct Plan {
    source: Option<Source>,
    status: Option<u16>,
    ignore_range: bool,
    chunked: bool,
    pace: Pace,
}

fn serve(rq: Request, shared: &Mutex<Shared>) -> io::Result<()> {
    let path = rq.url().to_string();
    let header = |name: &'static str| rq.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str().to_string());
    let range_from = header("Range").and_then(|v| v.trim().strip_prefix("bytes=")?.trim_end_matches('-').parse::<u64>().ok());
    let host = header("Host");
    let plan = {
        let mut g = shared.lock().unwrap_or_else(|e| e.into_inner());
        g.seen.push(Seen { path: path.clone(), range_from, host });
        let f = &mut g.faults;
        let status = take(&mut f.status_requests).then_some(f.status).flatten();
        let drop_after = take(&mut f.drop_requests).then_some(f.drop_after).flatten();
        let stall = take(&mut f.stall_requests).then_some(f.stall).flatten();
        let pace = Pace { drop_after, stall, throttle_bps: f.throttle_bps };
        let (ignore_range, chunked) = (f.ignore_range, f.chunked);
        Plan { source: g.files.get(&path).cloned(), status, ignore_range, chunked, pace }
    };
    if let Some(s) = plan.status {
        return send(rq, Response::empty(StatusCode(s)).boxed());
    }
    let (data, total): (Box<dyn Read + Send>, u64) = match plan.source {
        None => return send(rq, Response::empty(404).boxed()),
        Some(Source::Redirect(to)) => return send(rq, Response::empty(302).with_header(hdr("Location", &to)).boxed()),
        Some(Source::Bytes(b)) => {
            let n = b.len() as u64;
            (Box::new(io::Cursor::new(b.as_ref().clone())), n)
        }
        Some(Source::File(p)) => {
            let f = std::fs::File::open(p)?;
            let n = f.metadata()?.len();
            (Box::new(f), n)
        }
    };
    let mut data = data;
    let ranged = range_from.filter(|_| !plan.ignore_range);
    let from = ranged.unwrap_or(0);
    let mut resp = match ranged {
        Some(from) if from >= total => {
            return send(rq, Response::empty(416).with_header(hdr("Content-Range", &format!("bytes */{total}"))).boxed());
        }
        Some(from) => {
            io::copy(&mut data.by_ref().take(from), &mut io::sink())?;
            let range = format!("bytes {from}-{}/{total}", total - 1);
            Response::empty(206).with_header(hdr("Content-Range", &range))
        }
        None => Response::empty(200),
    }
    .with_header(hdr("Accept-Ranges", "bytes"));
    // tiny_http would otherwise chunk any body from 32 KiB on.
    resp = resp.with_chunked_threshold(if plan.chunked { 0 } else { usize::MAX });
    let length = (!plan.chunked).then_some((total - from) as usize);
    let body: Box<dyn Read + Send> = Box::new(Paced { inner: data, pace: plan.pace, sent: 0, stalled: false, started: Instant::now() });
    send(rq, resp.with_data(body, length))
}

fn hdr(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("ASCII header")
}

/// Writes the response through a writer that flushes every write, so the bytes
/// before a stall or a drop are on the wire, not in a buffer.
fn send(rq: Request, resp: Response<Box<dyn Read + Send>>) -> io::Result<()> {
    let version = rq.http_version().clone();
    let headers = rq.headers().to_vec();
    let writer = Flushing(rq.into_writer());
    // An error here is the injected drop or the client hanging up; both end the
    // connection, which is the point (the writer is dropped with it).
    resp.raw_print(writer, version, &headers, false, None)
}

struct Flushing(Box<dyn Write + Send>);

impl Write for Flushing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.0.write(buf)?;
        self.0.flush()?;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// How a body is sent: cut off, paused once, or slowed.
#[derive(Clone, Copy)]
struct Pace {
    drop_after: Option<u64>,
    stall: Option<(u64, Duration)>,
    throttle_bps: Option<u64>,
}

/// The body reader that applies the `Pace`. Ending with an error aborts the
/// response mid-body, which tiny_http turns into a closed connection.
struct Paced {
    inner: Box<dyn Read + Send>,
    pace: Pace,
    sent: u64,
    stalled: bool,
    started: Instant,
}

impl Read for Paced {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut want = buf.len() as u64;
        if let Some(bps) = self.pace.throttle_bps {
            // Slices of 1/20 s at most, so the pace stays even.
            want = want.min((bps / 20).max(1));
        }
        if let Some(d) = self.pace.drop_after {
            if self.sent >= d {
                // Abrupt close mid-body, as a dropped mobile link does.
                return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "injected drop"));
            }
            want = want.min(d - self.sent);
        }
        if let Some((at, pause)) = self.pace.stall.filter(|_| !self.stalled) {
            if self.sent >= at {
                self.stalled = true;
                std::thread::sleep(pause);
            } else {
                want = want.min(at - self.sent);
            }
        }
        let n = self.inner.read(&mut buf[..want as usize])?;
        self.sent += n as u64;
        if let Some(bps) = self.pace.throttle_bps.filter(|_| n > 0) {
            // Hold back until the bytes sent so far fit the rate.
            let due = Duration::from_secs_f64(self.sent as f64 / bps.max(1) as f64);
            if let Some(wait) = due.checked_sub(self.started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        Ok(n)
    }
}

/// Consumes one use of a counted fault; true while uses remain.
fn take(counter: &mut usize) -> bool {
    if *counter > 0 {
        *counter -= 1;
        true
    } else {
        false
    }
}
