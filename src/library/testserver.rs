//! A loopback-only HTTP/1.1 file server for tests and `microclass bench library`:
//! serves registered files with `Range` support and injects faults on request
//! (drop mid-file, stall, throttle, ignore Range, error statuses). It binds
//! 127.0.0.1 only and must never be used to serve anything on a network.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
}

#[derive(Clone)]
enum Source {
    Bytes(Arc<Vec<u8>>),
    File(PathBuf),
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub path: String,
    pub range_from: Option<u64>,
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
    stop: Arc<AtomicBool>,
}

impl TestServer {
    /// Starts on a free loopback port.
    pub fn start() -> io::Result<TestServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (sh, st) = (shared.clone(), stop.clone());
        std::thread::Builder::new().name("testserver".into()).spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let sh = sh.clone();
                let _ = std::thread::Builder::new().name("testserver-conn".into()).spawn(move || {
                    let _ = serve(conn, &sh);
                });
            }
        })?;
        Ok(TestServer { addr, shared, stop })
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
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// What this request gets, decided under the lock so counters stay consistent.
struct Plan {
    source: Option<Source>,
    status: Option<u16>,
    ignore_range: bool,
    drop_after: Option<u64>,
    stall: Option<(u64, Duration)>,
    throttle_bps: Option<u64>,
}

fn serve(conn: TcpStream, shared: &Mutex<Shared>) -> io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range_from = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.trim().eq_ignore_ascii_case("range") {
                range_from = v.trim().strip_prefix("bytes=").and_then(|r| r.trim_end_matches('-').parse::<u64>().ok());
            }
        }
    }
    let plan = {
        let mut g = shared.lock().unwrap_or_else(|e| e.into_inner());
        g.seen.push(Seen { path: path.clone(), range_from });
        let f = &mut g.faults;
        let status = take(&mut f.status_requests).then_some(f.status).flatten();
        let drop_after = take(&mut f.drop_requests).then_some(f.drop_after).flatten();
        let stall = take(&mut f.stall_requests).then_some(f.stall).flatten();
        let (ignore_range, throttle_bps) = (f.ignore_range, f.throttle_bps);
        Plan { source: g.files.get(&path).cloned(), status, ignore_range, drop_after, stall, throttle_bps }
    };
    let mut out = conn;
    if let Some(s) = plan.status {
        return write!(out, "HTTP/1.1 {s} Injected\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
    let Some(source) = plan.source else {
        return write!(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    };
    let (mut body, total): (Box<dyn Read>, u64) = match source {
        Source::Bytes(b) => {
            let n = b.len() as u64;
            (Box::new(io::Cursor::new(b.as_ref().clone())), n)
        }
        Source::File(p) => {
            let f = std::fs::File::open(p)?;
            let n = f.metadata()?.len();
            (Box::new(f), n)
        }
    };
    let from = match range_from {
        Some(f) if !plan.ignore_range => f,
        _ => 0,
    };
    if range_from.is_some() && !plan.ignore_range {
        if from >= total {
            return write!(out, "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{total}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
        io::copy(&mut body.by_ref().take(from), &mut io::sink())?;
        write!(out, "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {from}-{}/{total}\r\n", total - 1)?;
    } else {
        write!(out, "HTTP/1.1 200 OK\r\n")?;
    }
    write!(out, "Content-Length: {}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n", total - from)?;
    let chunk = match plan.throttle_bps {
        Some(bps) => (bps / 20).max(1) as usize,
        None => 256 * 1024,
    };
    let mut buf = vec![0u8; chunk];
    let mut sent = 0u64;
    let mut stalled = false;
    loop {
        let mut want = buf.len() as u64;
        if let Some(d) = plan.drop_after {
            if sent >= d {
                // Abrupt close mid-body, as a dropped mobile link does.
                return Ok(());
            }
            want = want.min(d - sent);
        }
        if let Some((at, _)) = plan.stall.filter(|_| !stalled) {
            if sent >= at {
                stalled = true;
                std::thread::sleep(plan.stall.map(|s| s.1).unwrap_or_default());
            } else {
                want = want.min(at - sent);
            }
        }
        let n = body.read(&mut buf[..want as usize])?;
        if n == 0 {
            return out.flush();
        }
        if out.write_all(&buf[..n]).is_err() {
            return Ok(());
        }
        sent += n as u64;
        if plan.throttle_bps.is_some() {
            std::thread::sleep(Duration::from_millis(50));
        }
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
