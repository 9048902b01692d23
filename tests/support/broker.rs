//! A real mosquitto for tests: writes a config into a temp dir, starts it on
//! a free loopback port, waits for the port, and stops/restarts it on demand.
//! Fails loudly when mosquitto is not installed.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Broker {
    pub port: u16,
    pub dir: PathBuf,
    conf: PathBuf,
    child: Option<Child>,
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("no free port")
}

fn mosquitto_bin() -> PathBuf {
    for p in ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("mosquitto is not installed: run .ci/install-deps (apt-get install mosquitto mosquitto-clients)");
}

impl Broker {
    /// Plain TCP, anonymous, persistent sessions (so a hub's queued messages survive a restart).
    pub fn plain(dir: &Path) -> Broker {
        Broker::with_listener(dir, |port, _| format!("listener {port} 127.0.0.1\nallow_anonymous true\n"))
    }

    /// `listener` gets the port and the broker dir and returns the listener part of the config.
    pub fn with_listener(dir: &Path, listener: impl Fn(u16, &Path) -> String) -> Broker {
        let port = free_port();
        std::fs::create_dir_all(dir).unwrap();
        let mut conf = listener(port, dir);
        conf.push_str(&format!(
            "persistence true\npersistence_location {}/\nautosave_interval 1\nmax_queued_messages 0\nmax_inflight_messages 0\nlog_dest file {}/mosquitto.log\nlog_type error\nlog_type warning\nlog_type notice\n",
            dir.display(),
            dir.display()
        ));
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            conf.push_str("user root\n");
        }
        let path = dir.join("mosquitto.conf");
        std::fs::write(&path, conf).unwrap();
        let mut b = Broker { port, dir: dir.to_path_buf(), conf: path, child: None };
        b.start();
        b
    }

    pub fn start(&mut self) {
        assert!(self.child.is_none(), "broker already running");
        let child = Command::new(mosquitto_bin())
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning mosquitto");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                let log = std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default();
                panic!("mosquitto exited with {status}: {log}");
            }
            assert!(Instant::now() < deadline, "mosquitto did not open port {}", self.port);
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM (mosquitto saves its persistence file) and wait for the exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: signalling our own child by pid.
            unsafe {
                libc::kill(c.id() as i32, libc::SIGTERM);
            }
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.start();
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
