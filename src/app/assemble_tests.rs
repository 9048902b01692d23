//! The loop-turn hooks every front runs through `drive`: systemd hears
//! READY, WATCHDOG and STOPPING, and a wall-clock jump is recorded.

use super::*;
use crate::core::CoreConfig;
use crate::app::{Presenter, Shown};
use crate::clock::TestClock;
use crate::hw::sim::SimIndicator;
use crate::service::{Notifier, Watchdog, WedgeHook};
use std::os::unix::net::UnixDatagram;
use std::time::Instant;

const T0: i64 = 1_780_000_000_000;
/// Generous: the machine running the tests may be loaded.
const LIMIT: Duration = Duration::from_secs(20);

struct Nothing;
impl Presenter for Nothing {
    fn present(&mut self, _: &Shown) {}
}

/// Receives datagrams until one contains `what` (or the deadline passes).
fn wait_for_message(sock: &UnixDatagram, what: &str) -> String {
    let t = Instant::now();
    let mut buf = [0u8; 512];
    loop {
        assert!(t.elapsed() < LIMIT, "systemd never heard {what:?}");
        if let Ok(n) = sock.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).to_string();
            if msg.contains(what) {
                return msg;
            }
        }
    }
}

#[test]
fn the_kiosk_loop_tells_systemd_it_serves_feeds_the_watchdog_records_a_clock_jump_and_says_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap();

    let clock = TestClock::at(T0);
    let shared: Arc<dyn Clock> = Arc::new(clock.clone());
    let stop = Arc::new(AtomicBool::new(false));
    let notifier = Arc::new(Notifier::to_socket(path.to_str().unwrap()).unwrap());
    let watchdog = Watchdog::from_lookup(notifier.clone(), shared.clone(), |k| (k == "WATCHDOG_USEC").then(|| "2000000".to_string()), 1);
    let service = ServiceHooks::with_parts(notifier, watchdog, WedgeHook::disabled(), shared.clone(), stop.clone());

    let store = Store::open(&dir.path().join("k.db")).unwrap();
    let mut shell = Shell::new(CoreConfig::defaults("demo-centre", "d1"), store, shared, Box::new(SimIndicator::default()), Box::new(Nothing)).unwrap();
    let (tx, rx) = mpsc::channel();
    // Each turn reports the clock it ran at and the clock events recorded so far.
    let (turns_tx, turns) = mpsc::channel::<(i64, i64)>();
    let kiosk = std::thread::spawn(move || {
        drive(&mut shell, rx, stop, TurnHooks::with_service(service), "serving centre c1 device d1", |shell| {
            let n: i64 = shell.store().conn.query_row("SELECT count(*) FROM clock_events", [], |r| r.get(0)).unwrap();
            let _ = turns_tx.send((shell.now().wall_ms, n));
        });
    });

    let ready = wait_for_message(&sock, "READY=1");
    assert!(ready.contains("MAINPID="), "{ready}");
    assert!(wait_for_message(&sock, "STATUS=").contains("serving centre c1 device d1"));
    // One ping on READY; the next only from a loop turn once a second has passed.
    wait_for_message(&sock, "WATCHDOG=1");
    clock.advance_ms(1_500);
    wait_for_message(&sock, "WATCHDOG=1");

    // A turn has read the advanced clock: the clock watch's baseline is before the jump.
    let turn_after = |wanted: &dyn Fn((i64, i64)) -> bool, what: &str| {
        let t = Instant::now();
        while !wanted(turns.recv_timeout(LIMIT).expect("the loop turns")) {
            assert!(t.elapsed() < LIMIT, "{what}");
        }
    };
    turn_after(&|(wall, _)| wall == T0 + 1_500, "no turn saw the advanced clock");
    clock.jump_wall_ms(-3_600_000);
    turn_after(&|(_, jumps)| jumps >= 1, "the jump was never recorded");

    tx.send(Input::Shutdown).unwrap();
    wait_for_message(&sock, "STOPPING=1");
    kiosk.join().unwrap();
}
