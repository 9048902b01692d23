//! Servers the hub's end-to-end tests start for themselves: mosquitto on a
//! free loopback port, a throw-away PostgreSQL cluster (as the `postgres`
//! user when run as root), and a TCP proxy that can cut a device off the
//! broker. A missing tool fails the test loudly.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn wait_port(port: u16) {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(10), "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub struct Mosquitto {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    pub fn start() -> Mosquitto {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n")).unwrap();
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto must be installed for this test (apt-get install mosquitto, see .ci/install-deps)");
        wait_port(port);
        Mosquitto { port, child, _dir: dir }
    }

    /// A broker with only a TLS listener (server certificate signed by `ca`).
    /// `user root`: when run as root, mosquitto would otherwise drop to a user
    /// that cannot read the test keys (ignored when not root).
    #[allow(dead_code)]
    pub fn start_tls(ca: &Path, cert: &Path, key: &Path) -> Mosquitto {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("user root\nlistener {port} 127.0.0.1\nallow_anonymous true\npersistence false\ncafile {}\ncertfile {}\nkeyfile {}\n", ca.display(), cert.display(), key.display()),
        )
        .unwrap();
        let child = Command::new("mosquitto").arg("-c").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("mosquitto must be installed for this test");
        wait_port(port);
        Mosquitto { port, child, _dir: dir }
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A forwarding proxy to the broker that can be switched off: open
/// connections are cut and new ones closed at once, as when a centre's line is down.
pub struct Proxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    pub fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (up2, conns2) = (up.clone(), conns.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if !up2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else { continue };
                let mut list = conns2.lock().unwrap();
                list.push(client.try_clone().unwrap());
                list.push(server.try_clone().unwrap());
                drop(list);
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        Proxy { port, up, conns }
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
        if !up {
            for s in self.conns.lock().unwrap().drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

/// A PostgreSQL cluster in a temporary directory, reached over a unix socket.
pub struct Postgres {
    pub conn: String,
    bin: PathBuf,
    data: PathBuf,
    _dir: tempfile::TempDir,
}

fn pg_bin() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries must be installed for this test (apt-get install postgresql, see .ci/install-deps)")
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort();
    dirs.pop().expect("no initdb under /usr/lib/postgresql/*/bin")
}

/// Runs a PostgreSQL tool, as the `postgres` user when we are root (postgres refuses root).
fn pg_cmd(bin: &Path, tool: &str) -> Command {
    if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        c
    } else {
        Command::new(bin.join(tool))
    }
}

impl Postgres {
    pub fn start() -> Postgres {
        use std::os::unix::fs::PermissionsExt;
        let bin = pg_bin();
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let data = dir.path().join("data");
        let out = pg_cmd(&bin, "initdb").arg("-D").arg(&data).args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"]).output().expect("initdb runs");
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let port = free_port();
        let sock = dir.path().display().to_string();
        let opts = format!("-p {port} -k {sock} -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c max_connections=50");
        let out = pg_cmd(&bin, "pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.path().join("log"))
            .args(["-o", &opts, "-w", "-t", "30", "start"])
            .stdout(Stdio::null())
            .output()
            .expect("pg_ctl runs");
        let log = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
        assert!(out.status.success(), "pg_ctl start: {}\n{log}", String::from_utf8_lossy(&out.stderr));
        Postgres { conn: format!("host={sock} port={port} user=postgres dbname=postgres"), bin, data, _dir: dir }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = pg_cmd(&self.bin, "pg_ctl").arg("-D").arg(&self.data).args(["-m", "immediate", "stop"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
    }
}
