//! The glue between the kiosk process and systemd: sd_notify messages
//! (READY=1, WATCHDOG=1, STOPPING=1, STATUS=), the watchdog fed from the main
//! loop, and the test hook that wedges the main loop. SIGTERM itself is the run
//! loop's `stop` flag (signal-hook); a wedged loop still honours it.
//!
//! It must never feed the watchdog from a thread of its own: the pings prove
//! that the main loop still turns, so only the loop's `Watchdog::feed` sends
//! them. Outside systemd (no NOTIFY_SOCKET) every message is a silent no-op.

use crate::clock::Clock;
use std::io;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Environment variable of the wedge test hook: after this many milliseconds of
/// running, the main loop stops iterating (and so stops feeding the watchdog).
pub const WEDGE_ENV: &str = "MICROCLASS_TEST_WEDGE_AFTER_MS";

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("NOTIFY_SOCKET {0:?} is not a usable socket address")]
    BadSocket(String),
    #[error("cannot send {state:?} to the service manager: {source}")]
    Send { state: String, source: io::Error },
}

/// Sends sd_notify datagrams to the socket systemd gave us.
#[derive(Debug)]
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
}

impl Notifier {
    /// The notifier for this process, from `NOTIFY_SOCKET`.
    pub fn from_env() -> Result<Self, ServiceError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// As `from_env`, reading variables through `get` (tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ServiceError> {
        match get("NOTIFY_SOCKET") {
            None => Ok(Self::disabled()),
            Some(s) if s.is_empty() => Ok(Self::disabled()),
            Some(s) => Self::to_socket(&s),
        }
    }

    /// A notifier that sends to `addr`: a path, or `@name` for the abstract namespace.
    pub fn to_socket(addr: &str) -> Result<Self, ServiceError> {
        let bad = || ServiceError::BadSocket(addr.to_string());
        let sock_addr = if let Some(name) = addr.strip_prefix('@') {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name.as_bytes()).map_err(|_| bad())?
        } else if addr.starts_with('/') {
            SocketAddr::from_pathname(addr).map_err(|_| bad())?
        } else {
            return Err(bad());
        };
        let sock = UnixDatagram::unbound().map_err(|_| bad())?;
        Ok(Notifier { target: Some((sock, sock_addr)) })
    }

    /// A notifier that drops every message (not started by systemd).
    pub fn disabled() -> Self {
        Notifier { target: None }
    }

    pub fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Sends one message (newline-separated `KEY=value` lines).
    pub fn send(&self, state: &str) -> Result<(), ServiceError> {
        let Some((sock, addr)) = &self.target else { return Ok(()) };
        sock.send_to_addr(state.as_bytes(), addr)
            .map(|_| ())
            .map_err(|source| ServiceError::Send { state: state.to_string(), source })
    }

    /// The kiosk is up: systemd finishes starting the unit.
    pub fn ready(&self) -> Result<(), ServiceError> {
        self.send(&format!("READY=1\nMAINPID={}", std::process::id()))
    }

    pub fn stopping(&self) -> Result<(), ServiceError> {
        self.send("STOPPING=1")
    }

    /// Free text shown by `systemctl status`.
    pub fn status(&self, text: &str) -> Result<(), ServiceError> {
        self.send(&format!("STATUS={}", text.replace('\n', " ")))
    }
}

/// Feeds the systemd watchdog from the main loop, at most once per half interval.
pub struct Watchdog {
    notifier: Arc<Notifier>,
    clock: Arc<dyn Clock>,
    /// Half of WATCHDOG_USEC; `None` when systemd wants no pings.
    every_ms: Option<i64>,
    last_ping_mono: Option<i64>,
    pings: u64,
}

impl Watchdog {
    /// Reads `WATCHDOG_USEC` and `WATCHDOG_PID` (pings only when the PID is ours or unset).
    pub fn from_env(notifier: Arc<Notifier>, clock: Arc<dyn Clock>) -> Self {
        Self::from_lookup(notifier, clock, |k| std::env::var(k).ok(), std::process::id())
    }

    pub fn from_lookup(
        notifier: Arc<Notifier>,
        clock: Arc<dyn Clock>,
        get: impl Fn(&str) -> Option<String>,
        pid: u32,
    ) -> Self {
        let usec = get("WATCHDOG_USEC").and_then(|v| v.trim().parse::<u64>().ok()).filter(|&u| u > 0);
        let for_us = get("WATCHDOG_PID")
            .map(|p| p.trim().parse::<u32>().map(|p| p == pid).unwrap_or(false))
            .unwrap_or(true);
        let every_ms = match (usec, for_us) {
            (Some(u), true) => Some(((u / 2_000) as i64).max(1)),
            _ => None,
        };
        Watchdog { notifier, clock, every_ms, last_ping_mono: None, pings: 0 }
    }

    /// The watchdog interval systemd asked for, if any.
    pub fn interval(&self) -> Option<Duration> {
        self.every_ms.map(|ms| Duration::from_millis(ms as u64 * 2))
    }

    /// Called once per main-loop iteration; sends WATCHDOG=1 when one is due.
    /// Returns true when a ping was sent.
    pub fn feed(&mut self) -> bool {
        let Some(every) = self.every_ms else { return false };
        let now = self.clock.now().mono_ms;
        if self.last_ping_mono.is_some_and(|last| now.saturating_sub(last) < every) {
            return false;
        }
        match self.notifier.send("WATCHDOG=1") {
            Ok(()) => {
                self.last_ping_mono = Some(now);
                self.pings += 1;
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "watchdog ping failed");
                false
            }
        }
    }

    /// Pings sent so far.
    pub fn pings(&self) -> u64 {
        self.pings
    }
}

/// Test hook: wedges the main loop after a delay so the watchdog stops being fed.
#[derive(Debug, Clone, Copy)]
pub struct WedgeHook {
    after_ms: Option<i64>,
    start_mono: i64,
}

impl WedgeHook {
    /// Reads `MICROCLASS_TEST_WEDGE_AFTER_MS`; only the run loop should call this.
    pub fn from_env(clock: &dyn Clock) -> Self {
        Self::from_value(std::env::var(WEDGE_ENV).ok().as_deref(), clock)
    }

    pub fn from_value(value: Option<&str>, clock: &dyn Clock) -> Self {
        let after_ms = value.and_then(|v| v.trim().parse::<i64>().ok()).filter(|&v| v >= 0);
        WedgeHook { after_ms, start_mono: clock.now().mono_ms }
    }

    pub fn disabled() -> Self {
        WedgeHook { after_ms: None, start_mono: 0 }
    }

    /// True once the wedge is due.
    pub fn due(&self, clock: &dyn Clock) -> bool {
        self.after_ms.is_some_and(|after| clock.now().mono_ms.saturating_sub(self.start_mono) >= after)
    }

    /// Called by the run loop each iteration: when due, blocks the loop (no more
    /// iterations, so no more watchdog pings) until `stop` is set (SIGTERM).
    pub fn check(&self, clock: &dyn Clock, stop: &AtomicBool) {
        if !self.due(clock) {
            return;
        }
        tracing::warn!("test hook {WEDGE_ENV}: main loop wedged on purpose");
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// What the run loop needs from systemd, in one place: READY=1 once, then per
/// iteration the wedge hook and the watchdog, and STOPPING=1 at the end.
/// Errors talking to systemd are logged, never fatal: the kiosk keeps serving.
pub struct ServiceHooks {
    notifier: Arc<Notifier>,
    watchdog: Watchdog,
    wedge: WedgeHook,
    clock: Arc<dyn Clock>,
    stop: Arc<AtomicBool>,
}

impl ServiceHooks {
    /// From the process environment (NOTIFY_SOCKET, WATCHDOG_USEC, the wedge hook).
    /// `stop` is the flag SIGTERM sets; a wedged loop still honours it.
    pub fn from_env(clock: Arc<dyn Clock>, stop: Arc<AtomicBool>) -> Self {
        let notifier = Arc::new(Notifier::from_env().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "not notifying systemd");
            Notifier::disabled()
        }));
        let watchdog = Watchdog::from_env(notifier.clone(), clock.clone());
        let wedge = WedgeHook::from_env(clock.as_ref());
        if let Some(i) = watchdog.interval() {
            tracing::info!(interval_ms = i.as_millis() as u64, "systemd watchdog enabled");
        }
        Self::with_parts(notifier, watchdog, wedge, clock, stop)
    }

    pub fn with_parts(
        notifier: Arc<Notifier>,
        watchdog: Watchdog,
        wedge: WedgeHook,
        clock: Arc<dyn Clock>,
        stop: Arc<AtomicBool>,
    ) -> Self {
        ServiceHooks { notifier, watchdog, wedge, clock, stop }
    }

    /// The kiosk is serving: tells systemd (READY=1) with a status line.
    pub fn ready(&mut self, status: &str) {
        if let Err(e) = self.notifier.ready().and_then(|_| self.notifier.status(status)) {
            tracing::warn!(error = %e, "READY=1 not delivered");
        }
        self.watchdog.feed();
    }

    /// Once per main-loop turn.
    pub fn iteration(&mut self) {
        self.wedge.check(self.clock.as_ref(), &self.stop);
        self.watchdog.feed();
    }

    /// The loop has ended and state is being closed.
    pub fn stopping(&self) {
        if let Err(e) = self.notifier.stopping() {
            tracing::warn!(error = %e, "STOPPING=1 not delivered");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TestClock;
    use std::collections::HashMap;

    fn bound_socket() -> (tempfile::TempDir, UnixDatagram, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        (dir, sock, path.to_string_lossy().into_owned())
    }

    fn recv(sock: &UnixDatagram) -> String {
        let mut buf = [0u8; 512];
        let n = sock.recv(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn without_notify_socket_every_message_is_a_silent_no_op() {
        let n = Notifier::from_lookup(vars(&[])).unwrap();
        assert!(!n.is_enabled());
        n.ready().unwrap();
        n.stopping().unwrap();
    }

    #[test]
    fn a_relative_notify_socket_is_refused() {
        assert!(matches!(Notifier::to_socket("notify.sock"), Err(ServiceError::BadSocket(_))));
    }

    #[test]
    fn ready_and_stopping_reach_the_socket() {
        let (_d, sock, path) = bound_socket();
        let n = Notifier::from_lookup(vars(&[("NOTIFY_SOCKET", &path)])).unwrap();
        n.ready().unwrap();
        assert!(recv(&sock).starts_with("READY=1\nMAINPID="));
        n.status("syncing\ncourses").unwrap();
        assert_eq!(recv(&sock), "STATUS=syncing courses");
        n.stopping().unwrap();
        assert_eq!(recv(&sock), "STOPPING=1");
    }

    #[test]
    fn abstract_socket_names_are_supported() {
        let name = format!("microclass-test-{}", std::process::id());
        use std::os::linux::net::SocketAddrExt;
        let sock = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        Notifier::to_socket(&format!("@{name}")).unwrap().stopping().unwrap();
        assert_eq!(recv(&sock), "STOPPING=1");
    }

    #[test]
    fn the_watchdog_pings_at_most_once_per_half_interval() {
        let (_d, sock, path) = bound_socket();
        let clock = TestClock::at(0);
        let n = Arc::new(Notifier::to_socket(&path).unwrap());
        let env = vars(&[("WATCHDOG_USEC", "2000000")]);
        let mut w = Watchdog::from_lookup(n, Arc::new(clock.clone()), env, 42);
        assert_eq!(w.interval(), Some(Duration::from_secs(2)));
        assert!(w.feed());
        assert_eq!(recv(&sock), "WATCHDOG=1");
        clock.advance_ms(999);
        assert!(!w.feed());
        clock.advance_ms(1);
        assert!(w.feed());
        assert_eq!(w.pings(), 2);
    }

    #[test]
    fn a_watchdog_meant_for_another_pid_never_pings() {
        let (_d, _sock, path) = bound_socket();
        let n = Arc::new(Notifier::to_socket(&path).unwrap());
        let env = vars(&[("WATCHDOG_USEC", "2000000"), ("WATCHDOG_PID", "7")]);
        let mut w = Watchdog::from_lookup(n, Arc::new(TestClock::at(0)), env, 42);
        assert_eq!(w.interval(), None);
        assert!(!w.feed());
    }

    #[test]
    fn a_watchdog_without_watchdog_usec_is_off() {
        let n = Arc::new(Notifier::disabled());
        let mut w = Watchdog::from_lookup(n, Arc::new(TestClock::at(0)), vars(&[("WATCHDOG_USEC", "x")]), 1);
        assert!(!w.feed());
    }

    #[test]
    fn the_wedge_hook_is_due_only_after_its_delay_and_is_off_without_a_value() {
        let clock = TestClock::at(0);
        let h = WedgeHook::from_value(Some("1500"), &clock);
        assert!(!h.due(&clock));
        clock.advance_ms(1_499);
        assert!(!h.due(&clock));
        clock.advance_ms(1);
        assert!(h.due(&clock));
        assert!(!WedgeHook::from_value(None, &clock).due(&clock));
        assert!(!WedgeHook::from_value(Some("soon"), &clock).due(&clock));
    }

    #[test]
    fn a_wedged_loop_is_released_by_a_shutdown_request() {
        let clock = TestClock::at(0);
        let h = WedgeHook::from_value(Some("0"), &clock);
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            s2.store(true, Ordering::SeqCst);
        });
        h.check(&clock, &stop);
        assert!(stop.load(Ordering::SeqCst));
        t.join().unwrap();
    }

    #[test]
    fn the_hooks_announce_ready_then_ping_each_due_iteration_then_stopping() {
        let (_d, sock, path) = bound_socket();
        let clock = TestClock::at(0);
        let c: Arc<dyn Clock> = Arc::new(clock.clone());
        let n = Arc::new(Notifier::to_socket(&path).unwrap());
        let w = Watchdog::from_lookup(n.clone(), c.clone(), vars(&[("WATCHDOG_USEC", "1000000")]), 1);
        let stop = Arc::new(AtomicBool::new(false));
        let mut h = ServiceHooks::with_parts(n, w, WedgeHook::disabled(), c, stop);
        h.ready("serving");
        assert!(recv(&sock).starts_with("READY=1"));
        assert_eq!(recv(&sock), "STATUS=serving");
        assert_eq!(recv(&sock), "WATCHDOG=1");
        h.iteration();
        clock.advance_ms(500);
        h.iteration();
        assert_eq!(recv(&sock), "WATCHDOG=1");
        h.stopping();
        assert_eq!(recv(&sock), "STOPPING=1");
    }
}
