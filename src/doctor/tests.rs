//! Doctor tests: a staged environment where every check passes, then one
//! failure at a time. Device nodes are stood in for by /dev/null (a real
//! character device) and plain files; the database is a real SQLite file.

use super::hub::HubTarget;
use super::*;
use crate::clock::TestClock;
use crate::provision::{HubUrl, TlsFiles};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const JAN_2026: i64 = 1_767_225_600_000;

struct FakeDisk(io::Result<(u64, u64)>);
impl DiskSpace for FakeDisk {
    fn space(&self, _: &Path) -> io::Result<(u64, u64)> {
        match &self.0 {
            Ok(v) => Ok(*v),
            Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
        }
    }
}

/// Resolves every name to one address, or fails like a dead DNS server.
struct FakeResolver(Option<SocketAddr>);
impl Resolver for FakeResolver {
    fn resolve(&self, host: &str, _port: u16) -> io::Result<Vec<SocketAddr>> {
        self.0
            .map(|a| vec![a])
            .ok_or_else(|| io::Error::other(format!("failed to lookup address information: {host}: Name or service not known")))
    }
}

struct Stage {
    dir: tempfile::TempDir,
    env: DoctorEnv,
    clock: TestClock,
}

fn stage() -> Stage {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let drm = d.join("dri");
    std::fs::create_dir(&drm).unwrap();
    std::os::unix::fs::symlink("/dev/null", drm.join("card0")).unwrap();
    let data = d.join("data");
    std::fs::create_dir_all(data.join("cache")).unwrap();
    let db = data.join("microclass.db");
    let mut conn = rusqlite::Connection::open(&db).unwrap();
    crate::store::migrations::migrate(&mut conn).unwrap();
    let clock = TestClock::at(JAN_2026);
    let env = DoctorEnv {
        reader: ReaderTarget::Spi("/dev/null".into()),
        spi_device: Some("/dev/null".into()),
        gpio_devices: vec![d.join("gpiomem-absent"), "/dev/null".into()],
        input_dir: d.join("input"),
        drm_dir: drm,
        display_var: None,
        headless: false,
        cache_dir: data.join("cache"),
        data_dir: data,
        db_path: db,
        disk: Arc::new(FakeDisk(Ok((8 << 30, 32 << 30)))),
        clock: Arc::new(clock.clone()),
        resolver: Arc::new(FakeResolver(None)),
        hub: Err("hub.url is not set".into()),
        timeout: Duration::from_secs(2),
    };
    Stage { dir, env, clock }
}

fn verdict(c: &Check) -> Verdict {
    c.verdict
}

#[test]
fn a_healthy_machine_passes_every_local_check() {
    let s = stage();
    let r = run_all(&s.env);
    for id in ["spi", "gpio", "reader", "display", "disk", "clock", "database", "cache"] {
        assert_eq!(r.get(id).map(verdict), Some(Verdict::Ok), "{id}: {:?}", r.get(id));
    }
}

#[test]
fn a_missing_spi_node_fails_and_says_how_to_enable_spi() {
    let mut s = stage();
    s.env.spi_device = Some(s.dir.path().join("spidev0.0"));
    let c = devices::check_spi(&s.env);
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(c.hint.unwrap().contains("dtparam=spi=on"));
}

#[test]
fn a_plain_file_where_a_device_should_be_fails() {
    let s = stage();
    let f = s.dir.path().join("spidev0.0");
    std::fs::write(&f, "").unwrap();
    let c = devices::check_node("spi", &f, "");
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(c.detail.contains("not a character device"));
}

#[test]
fn permission_denied_on_a_device_names_the_group_to_join() {
    // Tests may run as root, which opens anything: classify the error directly.
    let e = io::Error::from(io::ErrorKind::PermissionDenied);
    let c = devices::classify_open_error("gpio", Path::new("/dev/gpiomem"), &e, Some(0));
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(c.hint.unwrap().contains("usermod -aG root microclass"));
}

#[test]
fn no_gpio_node_at_all_fails() {
    let mut s = stage();
    s.env.gpio_devices = vec![s.dir.path().join("gpiomem")];
    assert_eq!(devices::check_gpio(&s.env).verdict, Verdict::Fail);
}

#[test]
fn a_simulated_board_skips_the_hardware_checks() {
    let mut s = stage();
    s.env.reader = ReaderTarget::Sim;
    for c in [devices::check_spi(&s.env), devices::check_gpio(&s.env), devices::check_reader(&s.env)] {
        assert_eq!(c.verdict, Verdict::Skip, "{c:?}");
    }
}

#[test]
fn a_usb_reader_is_found_under_input_by_id_or_reported_missing() {
    let mut s = stage();
    s.env.reader = ReaderTarget::Evdev(None);
    assert_eq!(devices::check_reader(&s.env).verdict, Verdict::Fail);
    let by_id = s.env.input_dir.join("by-id");
    std::fs::create_dir_all(&by_id).unwrap();
    std::os::unix::fs::symlink("/dev/null", by_id.join("usb-IC_Reader_08FF-event-kbd")).unwrap();
    assert_eq!(devices::check_reader(&s.env).verdict, Verdict::Ok);
    s.env.reader = ReaderTarget::Evdev(Some("Other_Brand".into()));
    assert_eq!(devices::check_reader(&s.env).verdict, Verdict::Fail);
}

#[test]
fn no_drm_device_and_no_display_fails_with_the_kms_overlay_hint() {
    let mut s = stage();
    std::fs::remove_file(s.env.drm_dir.join("card0")).unwrap();
    let c = devices::check_display(&s.env);
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(c.hint.unwrap().contains("vc4-kms-v3d"));
    s.env.display_var = Some(":0".into());
    assert_eq!(devices::check_display(&s.env).verdict, Verdict::Ok);
    s.env.display_var = None;
    s.env.headless = true;
    assert_eq!(devices::check_display(&s.env).verdict, Verdict::Skip);
}

#[test]
fn disk_space_is_ok_then_warn_then_fail_as_it_shrinks() {
    let mut s = stage();
    let gib = 1u64 << 30;
    for (free, want) in [(8 * gib, Verdict::Ok), (2 * gib, Verdict::Warn), (gib / 2, Verdict::Warn), (100 << 20, Verdict::Fail)] {
        s.env.disk = Arc::new(FakeDisk(Ok((free, 32 * gib))));
        assert_eq!(system::check_disk(&s.env).verdict, want, "{free}");
    }
}

#[test]
fn a_missing_data_dir_or_a_failing_statvfs_fails() {
    let mut s = stage();
    s.env.disk = Arc::new(FakeDisk(Err(io::Error::other("I/O error"))));
    assert_eq!(system::check_disk(&s.env).verdict, Verdict::Fail);
    s.env.data_dir = s.dir.path().join("nope");
    assert!(system::check_disk(&s.env).detail.contains("does not exist"));
}

#[test]
fn the_real_statvfs_reports_a_nonzero_disk() {
    let (free, total) = StatvfsDisk.space(Path::new("/")).unwrap();
    assert!(total > 0 && free <= total);
}

#[test]
fn an_unsynchronised_clock_warns_and_a_clock_in_the_past_fails() {
    let s = stage();
    assert_eq!(system::check_clock(&s.env).verdict, Verdict::Ok);
    s.clock.set_synced(false);
    let c = system::check_clock(&s.env);
    assert_eq!(c.verdict, Verdict::Warn);
    assert!(c.detail.contains("NOT synchronised"));
    s.clock.jump_wall_ms(-(JAN_2026 - 86_400_000)); // 1970-01-02, as a Pi without RTC boots
    let c = system::check_clock(&s.env);
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(c.detail.contains("1970-01-02"), "{}", c.detail);
}

#[test]
fn a_missing_database_is_a_warning_and_skips_the_cache() {
    let s = stage();
    std::fs::remove_file(&s.env.db_path).unwrap();
    assert_eq!(system::check_database(&s.env).verdict, Verdict::Warn);
    assert_eq!(system::check_cache(&s.env).verdict, Verdict::Skip);
}

#[test]
fn a_file_that_is_not_a_database_fails_the_integrity_check() {
    let s = stage();
    std::fs::write(&s.env.db_path, vec![0x5a; 8192]).unwrap();
    let c = system::check_database(&s.env);
    assert_eq!(c.verdict, Verdict::Fail, "{c:?}");
}

#[test]
fn a_corrupted_page_fails_quick_check() {
    let s = stage();
    {
        let c = rusqlite::Connection::open(&s.env.db_path).unwrap();
        c.execute_batch("PRAGMA journal_mode=DELETE; CREATE TABLE filler(x TEXT); CREATE INDEX filler_x ON filler(x);").unwrap();
        for i in 0..400 {
            c.execute("INSERT INTO filler VALUES (?1)", [format!("{i:0>200}")]).unwrap();
        }
    }
    // Overwrite the middle of the file: b-tree pages, not the header.
    let mut bytes = std::fs::read(&s.env.db_path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid..mid + 4096].iter_mut().for_each(|b| *b = 0xA5);
    std::fs::write(&s.env.db_path, bytes).unwrap();
    let c = system::check_database(&s.env);
    assert_eq!(c.verdict, Verdict::Fail, "{c:?}");
}

#[test]
fn a_database_from_a_newer_program_fails() {
    let s = stage();
    rusqlite::Connection::open(&s.env.db_path).unwrap().pragma_update(None, "user_version", 999).unwrap();
    assert!(system::check_database(&s.env).detail.contains("newer"));
}

fn add_cached(s: &Stage, sha: &str, name: &str, size: i64) {
    let c = rusqlite::Connection::open(&s.env.db_path).unwrap();
    c.execute(
        "INSERT INTO cache_files (sha256, course_id, url, size, path, state) VALUES (?1, 'c1', 'http://x', ?2, ?3, 'verified')",
        rusqlite::params![sha, size, name],
    )
    .unwrap();
}

#[test]
fn cached_files_missing_or_of_the_wrong_size_fail_the_cache_check() {
    let s = stage();
    add_cached(&s, "aa", "aa.mp4", 5);
    std::fs::write(s.env.cache_dir.join("aa.mp4"), b"12345").unwrap();
    assert_eq!(system::check_cache(&s.env).verdict, Verdict::Ok);
    add_cached(&s, "bb", "bb.mp4", 5);
    std::fs::write(s.env.cache_dir.join("bb.mp4"), b"123").unwrap();
    add_cached(&s, "cc", "cc.mp4", 5);
    let c = system::check_cache(&s.env);
    assert_eq!(c.verdict, Verdict::Fail);
    assert!(c.detail.starts_with("2 of 3"), "{}", c.detail);
    assert!(c.detail.contains("is 3 bytes, index says 5") && c.detail.contains("cc.mp4 missing"));
}

fn target(port: u16) -> HubTarget {
    HubTarget {
        url: HubUrl { tls: false, host: "hub.test".into(), port },
        tls: TlsFiles::default(),
        username: None,
        password: None,
        client_id: "mc-x-c-d".into(),
    }
}

#[test]
fn an_unresolvable_hub_fails_dns_and_skips_the_rest() {
    let mut s = stage();
    s.env.hub = Ok(target(1883));
    let r = Report::new(hub::check_hub(&s.env));
    let got: Vec<_> = r.checks.iter().map(|c| (c.id.as_str(), c.verdict)).collect();
    assert_eq!(
        got,
        vec![("hub.dns", Verdict::Fail), ("hub.tcp", Verdict::Skip), ("hub.tls", Verdict::Skip), ("hub.mqtt", Verdict::Skip)]
    );
}

#[test]
fn a_refused_port_fails_tcp_with_the_port_hint() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut s = stage();
    s.env.resolver = Arc::new(FakeResolver(Some(([127, 0, 0, 1], port).into())));
    s.env.hub = Ok(target(port));
    let r = Report::new(hub::check_hub(&s.env));
    assert_eq!(r.get("hub.dns").map(verdict), Some(Verdict::Ok));
    let tcp = r.get("hub.tcp").unwrap();
    assert_eq!(tcp.verdict, Verdict::Fail);
    assert!(tcp.hint.as_deref().unwrap().contains("port"));
}

#[test]
fn a_server_that_is_not_mqtt_fails_the_mqtt_line_after_a_plain_tls_warning() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        use std::io::Write;
        for mut c in l.incoming().take(2).flatten() {
            let _ = c.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        }
    });
    let mut s = stage();
    s.env.resolver = Arc::new(FakeResolver(Some(([127, 0, 0, 1], port).into())));
    s.env.hub = Ok(HubTarget { url: HubUrl { tls: false, host: "127.0.0.1".into(), port }, ..target(port) });
    let r = Report::new(hub::check_hub(&s.env));
    assert_eq!(r.get("hub.tcp").map(verdict), Some(Verdict::Ok));
    assert_eq!(r.get("hub.tls").map(verdict), Some(Verdict::Warn));
    assert_eq!(r.get("hub.mqtt").map(verdict), Some(Verdict::Fail), "{:?}", r.get("hub.mqtt"));
    server.join().unwrap();
}

#[test]
fn the_report_verdict_is_the_worst_line_and_sets_the_exit_code() {
    let r = Report::new(vec![Check::ok("a", "x"), Check::skip("b", "y")]);
    assert_eq!((r.verdict, r.exit_code()), (Verdict::Ok, 0));
    let r = Report::new(vec![Check::ok("a", "x"), Check::warn("b", "y", "z")]);
    assert_eq!((r.verdict, r.exit_code()), (Verdict::Warn, 0));
    let r = Report::new(vec![Check::fail("a", "x", "do this"), Check::warn("b", "y", "z")]);
    assert_eq!((r.verdict, r.exit_code()), (Verdict::Fail, 1));
}

#[test]
fn human_output_has_one_verdict_per_line_with_hints_and_json_has_the_same_checks() {
    let r = Report::new(vec![Check::ok("disk", "8 GiB free"), Check::fail("hub.tcp", "refused", "check the port")]);
    let text = r.to_human();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines[0], "OK    disk     8 GiB free");
    assert_eq!(lines[1], "FAIL  hub.tcp  refused");
    assert_eq!(lines[2], "               -> check the port");
    assert_eq!(lines[3], "verdict: FAIL (1 ok, 0 warn, 1 fail, 0 skipped)");
    let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
    assert_eq!(v["verdict"], "fail");
    assert_eq!(v["checks"][1]["id"], "hub.tcp");
    assert_eq!(v["checks"][1]["hint"], "check the port");
    assert!(v["checks"][0].get("hint").is_none());
}

fn board_file(text: &str) -> crate::board::Board {
    crate::board::Board::parse(text, Path::new("/usr/share/microclass/board/test.toml")).expect("a valid board file")
}

#[test]
fn the_reader_to_check_comes_from_the_board_file_so_a_simulated_board_file_needs_no_spi_or_gpio() {
    use crate::config::{BoardConfig, BoardKind};
    let pi = |usb: Option<&str>| BoardConfig { kind: BoardKind::Pi, file: Some("/usr/share/microclass/board/test.toml".into()), usb_reader: usb.map(str::to_string) };
    let sim = board_file("name = \"sim\"\n[reader]\nkind = \"sim\"\n");
    let usb = board_file("name = \"usb\"\n[reader]\nkind = \"usb\"\ndevice = \"IC Reader\"\nformat = \"decimal10\"\n");
    let spi = board_file("name = \"spi\"\n[reader]\nkind = \"mfrc522\"\nspi_bus = 1\nchip_select = 2\nreset_pin = 25\n");
    assert_eq!(ReaderTarget::for_board(&pi(None), Some(&sim)), ReaderTarget::Sim);
    assert_eq!(ReaderTarget::for_board(&pi(None), Some(&usb)), ReaderTarget::Evdev(Some("IC Reader".into())));
    assert_eq!(ReaderTarget::for_board(&pi(Some("/dev/input/event3")), Some(&usb)), ReaderTarget::Evdev(Some("/dev/input/event3".into())), "the config's usb_reader wins");
    assert_eq!(ReaderTarget::for_board(&pi(None), Some(&spi)), ReaderTarget::Spi("/dev/spidev1.2".into()));
    assert_eq!(ReaderTarget::for_board(&pi(None), None), ReaderTarget::Spi("/dev/spidev0.0".into()), "no board file loaded: the Pi default");
    assert_eq!(ReaderTarget::for_board(&BoardConfig::default(), Some(&spi)), ReaderTarget::Sim, "board kind sim wins");
    let mut env = DoctorEnv::system("/nonexistent".into(), "/nonexistent/microclass.db".into(), Err("no hub".into()));
    env.reader = ReaderTarget::for_board(&pi(None), Some(&sim));
    assert_eq!(devices::check_spi(&env).verdict, Verdict::Skip);
    assert_eq!(devices::check_gpio(&env).verdict, Verdict::Skip);
    assert_eq!(devices::check_reader(&env).verdict, Verdict::Skip);
}
