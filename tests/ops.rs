//! Operations integration tests: the service binary under a fake systemd
//! (sd_notify on a test socket, watchdog, wedge hook, SIGTERM), and the hub
//! probe, `provision` and `doctor` against a real mosquitto with TLS and
//! passwords, started by each test on a free loopback port.

use microclass::doctor::hub::{probe, HubTarget};
use microclass::doctor::{SystemResolver, Verdict};
use microclass::provision::{HubUrl, TlsFiles};
use std::net::TcpListener;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_microclass");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn tool(name: &str) -> Command {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).chain([PathBuf::from("/usr/sbin")]).any(|d| d.join(name).exists()))
        .unwrap_or(false);
    assert!(found, "{name} is required for this test: run .ci/install-deps");
    let path = if Path::new("/usr/sbin").join(name).exists() { Path::new("/usr/sbin").join(name) } else { PathBuf::from(name) };
    Command::new(path)
}

fn run_ok(mut c: Command) {
    let out = c.output().unwrap();
    assert!(out.status.success(), "{c:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Kills the child when the test ends, however it ends.
struct Reaper(Child);
impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

mod service {
    use super::*;

    fn minimal_config(dir: &Path) -> PathBuf {
        let cfg = dir.join("config.toml");
        let data = dir.join("data");
        std::fs::write(&cfg, format!("[device]\ncentre = \"c1\"\nid = \"d1\"\ndata_dir = {:?}\n", data.display().to_string())).unwrap();
        cfg
    }

    struct Notified {
        sock: UnixDatagram,
        started: Instant,
        log: Vec<(Duration, String)>,
    }

    impl Notified {
        fn bind(dir: &Path) -> (Notified, PathBuf) {
            let path = dir.join("notify.sock");
            let sock = UnixDatagram::bind(&path).unwrap();
            sock.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
            (Notified { sock, started: Instant::now(), log: Vec::new() }, path)
        }

        /// Collects messages until `until` returns true or `limit` passes.
        fn collect(&mut self, limit: Duration, until: impl Fn(&[(Duration, String)]) -> bool) {
            let end = Instant::now() + limit;
            let mut buf = [0u8; 1024];
            while Instant::now() < end && !until(&self.log) {
                if let Ok(n) = self.sock.recv(&mut buf) {
                    self.log.push((self.started.elapsed(), String::from_utf8_lossy(&buf[..n]).into_owned()));
                }
            }
        }

        fn times_of(&self, msg: &str) -> Vec<Duration> {
            self.log.iter().filter(|(_, m)| m.starts_with(msg)).map(|(t, _)| *t).collect()
        }
    }

    fn spawn_kiosk(dir: &Path, notify: &Path, wedge_ms: Option<u64>) -> Reaper {
        let mut c = Command::new(BIN);
        c.args(["--config"])
            .arg(minimal_config(dir))
            .args(["run", "--board", "sim", "--no-stdin"])
            .env("NOTIFY_SOCKET", notify)
            .env("WATCHDOG_USEC", "200000")
            .env_remove("WATCHDOG_PID")
            .env("MICROCLASS_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        match wedge_ms {
            Some(ms) => c.env("MICROCLASS_TEST_WEDGE_AFTER_MS", ms.to_string()),
            None => c.env_remove("MICROCLASS_TEST_WEDGE_AFTER_MS"),
        };
        Reaper(c.spawn().unwrap())
    }

    fn sigterm(child: &Child) {
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    }

    fn wait_exit(r: &mut Reaper, limit: Duration) -> Option<std::process::ExitStatus> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Some(s) = r.0.try_wait().unwrap() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    #[test]
    fn a_wedged_main_loop_stops_the_watchdog_pings_and_sigterm_still_stops_it_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let (mut n, path) = Notified::bind(dir.path());
        let mut kiosk = spawn_kiosk(dir.path(), &path, Some(1_500));
        // Ready, then pings while the loop turns.
        n.collect(Duration::from_secs(20), |log| log.iter().filter(|(_, m)| m == "WATCHDOG=1").count() >= 3);
        let ready = n.times_of("READY=1");
        assert_eq!(ready.len(), 1, "{:?}", n.log);
        assert!(n.log.iter().any(|(_, m)| m.starts_with("STATUS=serving centre c1")), "{:?}", n.log);
        // Then silence: the loop is wedged after 1.5 s.
        n.collect(Duration::from_millis(3_500), |_| false);
        let pings = n.times_of("WATCHDOG=1");
        let last = *pings.last().unwrap();
        assert!(pings.len() >= 3, "{:?}", n.log);
        assert!(n.started.elapsed() - last >= Duration::from_millis(1_200), "pings kept coming: {:?}", n.log);
        assert!(last - ready[0] < Duration::from_millis(2_500), "pings lasted past the wedge: {:?}", n.log);
        // systemd would now kill it (WatchdogSec); SIGTERM must still stop it.
        sigterm(&kiosk.0);
        let status = wait_exit(&mut kiosk, Duration::from_secs(10)).expect("kiosk did not exit after SIGTERM");
        assert!(status.success(), "{status:?}");
        n.collect(Duration::from_millis(300), |log| log.iter().any(|(_, m)| m == "STOPPING=1"));
        assert!(n.log.iter().any(|(_, m)| m == "STOPPING=1"), "{:?}", n.log);
    }

    #[test]
    fn a_healthy_loop_keeps_pinging_until_sigterm_then_says_stopping() {
        let dir = tempfile::tempdir().unwrap();
        let (mut n, path) = Notified::bind(dir.path());
        let mut kiosk = spawn_kiosk(dir.path(), &path, None);
        n.collect(Duration::from_secs(20), |log| log.iter().any(|(_, m)| m.starts_with("READY=1")));
        let t0 = n.started.elapsed();
        n.collect(Duration::from_millis(2_000), |_| false);
        let late = n.times_of("WATCHDOG=1").into_iter().filter(|t| *t > t0 + Duration::from_millis(1_500)).count();
        assert!(late >= 1, "no pings in the last half second: {:?}", n.log);
        sigterm(&kiosk.0);
        assert!(wait_exit(&mut kiosk, Duration::from_secs(10)).expect("no exit").success());
        n.collect(Duration::from_millis(300), |log| log.iter().any(|(_, m)| m == "STOPPING=1"));
        assert_eq!(n.log.last().map(|(_, m)| m.as_str()), Some("STOPPING=1"), "{:?}", n.log);
    }
}

mod hub {
    use super::*;

    /// A CA, a server certificate for localhost/127.0.0.1, a client certificate,
    /// and a second CA that signed nothing here.
    pub struct Pki {
        pub dir: tempfile::TempDir,
    }

    fn openssl(dir: &Path, args: &[&str]) {
        let mut c = tool("openssl");
        c.args(args).current_dir(dir);
        run_ok(c);
    }

    impl Pki {
        pub fn new() -> Pki {
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path();
            let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
            for ca in ["ca", "other-ca"] {
                let (key, pem, subj) = (format!("{ca}.key"), format!("{ca}.pem"), format!("/CN={ca}"));
                openssl(d, &[&["req", "-x509"][..], &ec, &["-keyout", &key, "-out", &pem, "-days", "30", "-subj", &subj]].concat());
            }
            std::fs::write(d.join("server.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n").unwrap();
            std::fs::write(d.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
            for who in ["server", "client"] {
                let (key, csr, pem, ext) = (format!("{who}.key"), format!("{who}.csr"), format!("{who}.pem"), format!("{who}.ext"));
                openssl(d, &[&["req"][..], &ec, &["-keyout", &key, "-out", &csr, "-subj", "/CN=localhost"]].concat());
                openssl(d, &["x509", "-req", "-in", &csr, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "30", "-extfile", &ext, "-out", &pem]);
            }
            Pki { dir }
        }
        pub fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }
    }

    pub struct Broker {
        _proc: Reaper,
        pub port: u16,
    }

    /// mosquitto with a TLS listener and a password file (user `pi-1`, password `s3cret`).
    pub fn broker(pki: &Pki, require_client_cert: bool) -> Broker {
        let port = free_port();
        let passwd = pki.path("passwd");
        let mut c = tool("mosquitto_passwd");
        c.args(["-b", "-c"]).arg(&passwd).args(["pi-1", "s3cret"]);
        run_ok(c);
        let conf = pki.path("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "user root\nper_listener_settings false\nallow_anonymous false\npassword_file {}\npersistence false\n\
                 listener {port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate {require_client_cert}\n",
                passwd.display(),
                pki.path("ca.pem").display(),
                pki.path("server.pem").display(),
                pki.path("server.key").display()
            ),
        )
        .unwrap();
        let mut c = tool("mosquitto");
        c.arg("-c").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null());
        let proc = Reaper(c.spawn().unwrap());
        let end = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < end, "mosquitto did not start on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Broker { _proc: proc, port }
    }

    fn target(pki: &Pki, port: u16, password: &str) -> HubTarget {
        HubTarget {
            url: HubUrl { tls: true, host: "localhost".into(), port },
            tls: TlsFiles { ca: Some(pki.path("ca.pem")), client_cert: None, client_key: None },
            username: Some("pi-1".into()),
            password: Some(password.into()),
            client_id: "mc-xh-c001-pi-1".into(),
        }
    }

    fn verdicts(t: &HubTarget) -> Vec<(String, Verdict)> {
        probe(t, &SystemResolver, Duration::from_secs(5)).into_iter().map(|c| (c.id, c.verdict)).collect()
    }

    fn v(list: &[(&str, Verdict)]) -> Vec<(String, Verdict)> {
        list.iter().map(|(i, v)| (i.to_string(), *v)).collect()
    }

    #[test]
    fn the_probe_passes_every_layer_against_a_tls_broker_with_the_right_password() {
        let pki = Pki::new();
        let b = broker(&pki, false);
        let ok = [("hub.dns", Verdict::Ok), ("hub.tcp", Verdict::Ok), ("hub.tls", Verdict::Ok), ("hub.mqtt", Verdict::Ok)];
        assert_eq!(verdicts(&target(&pki, b.port, "s3cret")), v(&ok));
    }

    #[test]
    fn a_wrong_password_fails_only_the_mqtt_login() {
        let pki = Pki::new();
        let b = broker(&pki, false);
        let got = probe(&target(&pki, b.port, "wrong"), &SystemResolver, Duration::from_secs(5));
        assert_eq!(got[2].verdict, Verdict::Ok, "{got:?}");
        assert_eq!(got[3].verdict, Verdict::Fail, "{got:?}");
        assert!(got[3].detail.contains("not authorised"), "{}", got[3].detail);
    }

    #[test]
    fn a_ca_that_did_not_sign_the_hub_fails_tls_and_skips_mqtt() {
        let pki = Pki::new();
        let b = broker(&pki, false);
        let mut t = target(&pki, b.port, "s3cret");
        t.tls.ca = Some(pki.path("other-ca.pem"));
        let got = probe(&t, &SystemResolver, Duration::from_secs(5));
        assert_eq!((got[2].id.as_str(), got[2].verdict), ("hub.tls", Verdict::Fail), "{got:?}");
        assert!(got[2].hint.as_deref().unwrap().contains("ca_file"));
        assert_eq!(got[3].verdict, Verdict::Skip);
    }

    #[test]
    fn mutual_tls_logs_in_with_the_client_certificate() {
        let pki = Pki::new();
        let b = broker(&pki, true);
        let mut t = target(&pki, b.port, "s3cret");
        t.tls.client_cert = Some(pki.path("client.pem"));
        t.tls.client_key = Some(pki.path("client.key"));
        let ok = [("hub.dns", Verdict::Ok), ("hub.tcp", Verdict::Ok), ("hub.tls", Verdict::Ok), ("hub.mqtt", Verdict::Ok)];
        assert_eq!(verdicts(&t), v(&ok));
        // Without it the broker ends the session (after the handshake, in TLS 1.3).
        let got = verdicts(&target(&pki, b.port, "s3cret"));
        assert!(got.iter().any(|(_, v)| *v == Verdict::Fail), "{got:?}");
    }
}

mod cli {
    use super::hub::{broker, Pki};
    use super::*;

    fn signing_key() -> String {
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c".into()
    }

    #[test]
    fn provision_tests_the_hub_writes_the_file_and_doctor_reports_the_hub_ok_in_json() {
        let pki = Pki::new();
        let b = broker(&pki, false);
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let cfg = dir.path().join("config.toml");
        // A packaged default with a comment and a data dir: provisioning keeps both.
        std::fs::write(&cfg, format!("# Local settings\n[device]\ndata_dir = {:?}\n", data.display().to_string())).unwrap();
        let out = Command::new(BIN)
            .arg("--config")
            .arg(&cfg)
            .args(["provision", "--non-interactive", "--district", "xh", "--centre", "c001", "--device-id", "pi-1"])
            .args(["--hub-url", &format!("mqtts://localhost:{}", b.port), "--ca-file"])
            .arg(pki.path("ca.pem"))
            .args(["--username", "pi-1", "--signing-key", &signing_key(), "--board", "sim"])
            .env("MICROCLASS_HUB_PASSWORD", "s3cret")
            .env("MICROCLASS_TECH_PIN", "258071")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        assert!(err.contains("OK    hub.mqtt"), "{err}");
        let text = std::fs::read_to_string(&cfg).unwrap();
        assert!(text.starts_with("# Local settings\n[device]\ndata_dir"), "{text}");
        assert!(!text.contains("s3cret") && !text.contains("258071"), "{text}");

        let out = Command::new(BIN).arg("--config").arg(&cfg).args(["doctor", "--json", "--headless"]).output().unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let verdict = |id: &str| {
            json["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).map(|c| c["verdict"].as_str().unwrap().to_string())
        };
        for id in ["config", "hub.dns", "hub.tcp", "hub.tls", "hub.mqtt"] {
            assert_eq!(verdict(id).as_deref(), Some("ok"), "{id}: {json}");
        }
        assert_eq!(verdict("database").as_deref(), Some("warn"));
    }

    #[test]
    fn provision_refuses_a_bad_url_and_a_missing_certificate_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config.toml");
        let out = Command::new(BIN)
            .arg("--config")
            .arg(&cfg)
            .args(["provision", "--non-interactive", "--hub-url", "https://hub", "--ca-file", "/nonexistent/ca.pem", "--pin", "111111"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("hub URL") && err.contains("PIN"), "{err}");
        assert!(!cfg.exists());
    }

    #[test]
    fn provision_refuses_to_write_when_the_hub_test_fails() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config.toml");
        let port = free_port();
        let base = |c: &mut Command| {
            c.arg("--config").arg(&cfg).args(["provision", "--non-interactive", "--district", "xh", "--centre", "c1"]);
            c.args(["--device-id", "d1", "--hub-url", &format!("mqtt://127.0.0.1:{port}"), "--signing-key", &signing_key()]);
            c.args(["--board", "sim", "--pin", "258071", "--timeout", "1"]).stdin(Stdio::null());
        };
        let mut c = Command::new(BIN);
        base(&mut c);
        assert_eq!(c.output().unwrap().status.code(), Some(3));
        assert!(!cfg.exists());
        let mut c = Command::new(BIN);
        base(&mut c);
        c.arg("--no-hub-test");
        assert_eq!(c.output().unwrap().status.code(), Some(0));
        assert!(cfg.exists());
    }

    #[test]
    fn doctor_exits_non_zero_and_names_the_failures_in_human_output() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config.toml");
        std::fs::write(&cfg, "[device]\ncentre = \"c1\"\nid = \"d1\"\ndata_dir = \"/nonexistent/microclass\"\n").unwrap();
        let out = Command::new(BIN).arg("--config").arg(&cfg).args(["doctor", "--headless", "--no-hub"]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(text.contains("FAIL  disk"), "{text}");
        assert!(text.lines().last().unwrap().starts_with("verdict: FAIL"), "{text}");
    }
}
