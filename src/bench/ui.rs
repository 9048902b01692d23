//! UI benchmark: time from a card tap to the rendered frame that shows its
//! result (real shell, store and UI, software renderer) against rendering a
//! frame of a minimal Slint window of the same size; and idle RSS and CPU of
//! the running kiosk process against a minimal Slint process, both headless
//! with the same renderer, measured from /proc in the same run.

use super::{percentile, sorted};
use crate::app::{Presenter, Shell, Shown};
use crate::clock::{Clock, TestClock};
use crate::core::{CoreConfig, Screen};
use crate::hw::sim::SimIndicator;
use crate::store::Store;
use crate::ui::generated::BaselineWindow;
use crate::ui::{samples, HeadlessPlatform, KioskUi};
use slint::ComponentHandle;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum UiBenchError {
    #[error("UI: {0}")]
    Ui(#[from] crate::ui::UiError),
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}

struct Collect(Arc<Mutex<Vec<Screen>>>);
impl Presenter for Collect {
    fn present(&mut self, s: &Shown) {
        if let (Some(screen), Ok(mut v)) = (&s.screen, self.0.lock()) {
            v.push(screen.clone());
        }
    }
}

#[derive(Debug, Default)]
pub struct UiBench {
    pub width: u32,
    pub height: u32,
    pub tap_p50_ms: f64,
    pub tap_p99_ms: f64,
    pub base_p50_ms: f64,
    pub base_p99_ms: f64,
    pub kiosk_rss_kb: u64,
    pub base_rss_kb: u64,
    pub kiosk_cpu_pct: f64,
    pub base_cpu_pct: f64,
    pub idle_s: u64,
}

impl UiBench {
    pub fn report(&self) -> String {
        let r = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        format!(
            "ui bench ({}x{}, software renderer)\n\
             tap -> frame showing the result: p50 {:.2} ms, p99 {:.2} ms\n\
             baseline frame of a minimal window:  p50 {:.2} ms, p99 {:.2} ms\n\
             ratio p50 {:.2}x (store commit + UI update + full redraw vs a full redraw)\n\
             idle over {} s: kiosk RSS {} KiB, CPU {:.2}%; minimal window RSS {} KiB, CPU {:.2}%\n\
             RSS ratio {:.2}x (target <= 2.00x: {})",
            self.width,
            self.height,
            self.tap_p50_ms,
            self.tap_p99_ms,
            self.base_p50_ms,
            self.base_p99_ms,
            r(self.tap_p50_ms, self.base_p50_ms),
            self.idle_s,
            self.kiosk_rss_kb,
            self.kiosk_cpu_pct,
            self.base_rss_kb,
            self.base_cpu_pct,
            r(self.kiosk_rss_kb as f64, self.base_rss_kb as f64),
            if self.kiosk_rss_kb <= 2 * self.base_rss_kb { "met" } else { "MISSED" },
        )
    }
}

/// Tap-to-frame and baseline-frame latencies, on a fresh thread (the Slint
/// platform is per thread).
pub fn latency(dir: &Path, taps: usize, width: u32, height: u32) -> Result<(Vec<f64>, Vec<f64>), UiBenchError> {
    let dir = dir.to_path_buf();
    std::thread::spawn(move || -> Result<(Vec<f64>, Vec<f64>), UiBenchError> {
        let headless = HeadlessPlatform::install(width, height)?;
        std::fs::create_dir_all(&dir)?;
        let db = dir.join("bench-ui.db");
        let _ = std::fs::remove_file(&db);
        let mut store = Store::open(&db)?;
        crate::demo::load_if_empty(&mut store)?;
        let clock = TestClock::at(samples::NOW_MS);
        let screens = Arc::new(Mutex::new(Vec::new()));
        let mut shell = Shell::new(CoreConfig::defaults("demo-centre", "bench"), store, Arc::new(clock.clone()), Box::new(SimIndicator::default()), Box::new(Collect(screens.clone())))?;
        let cards: Vec<_> = crate::demo::members().into_iter().filter(|m| m.roles == [crate::model::Role::Member]).map(|m| m.cards[0].clone()).collect();
        let c: Arc<dyn Clock> = Arc::new(clock.clone());
        let ui = KioskUi::new(c, |_| {})?;
        ui.set_ambient(samples::ambient());
        ui.window().show().map_err(|e| UiBenchError::Other(e.to_string()))?;
        headless.render();

        let mut tap_ms = Vec::with_capacity(taps);
        for i in 0..taps {
            // Back to idle first, so every tap changes the whole screen.
            ui.show(Screen::Idle);
            headless.render();
            clock.advance_ms(60_000);
            let t = Instant::now();
            shell.tap(cards[i % cards.len()].clone());
            let shown: Vec<Screen> = screens.lock().map(|mut v| std::mem::take(&mut *v)).unwrap_or_default();
            for s in shown {
                ui.show(s);
            }
            let frame = headless.render_if_needed().ok_or_else(|| UiBenchError::Other("the tap drew no frame".into()))?;
            tap_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(frame);
        }
        ui.window().hide().map_err(|e| UiBenchError::Other(e.to_string()))?;

        let base = BaselineWindow::new().map_err(|e| UiBenchError::Other(e.to_string()))?;
        base.show().map_err(|e| UiBenchError::Other(e.to_string()))?;
        let mut base_ms = Vec::with_capacity(taps);
        for i in 0..taps {
            let t = Instant::now();
            base.set_text(format!("{i}").into());
            let frame = headless.render_if_needed().ok_or_else(|| UiBenchError::Other("the baseline drew no frame".into()))?;
            base_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(frame);
        }
        Ok((tap_ms, base_ms))
    })
    .join()
    .map_err(|_| UiBenchError::Other("benchmark thread panicked".into()))?
}

/// The minimal process the kiosk is compared with: a headless BaselineWindow
/// of the same size whose text changes every second (like the kiosk's clock).
pub fn baseline_child(width: u32, height: u32) -> Result<(), UiBenchError> {
    let _headless = HeadlessPlatform::install_event_loop(width, height)?;
    let w = BaselineWindow::new().map_err(|e| UiBenchError::Other(e.to_string()))?;
    w.show().map_err(|e| UiBenchError::Other(e.to_string()))?;
    let timer = slint::Timer::default();
    let weak = w.as_weak();
    let mut n = 0u64;
    timer.start(slint::TimerMode::Repeated, Duration::from_secs(1), move || {
        n += 1;
        if let Some(w) = weak.upgrade() {
            w.set_text(format!("{n}").into());
        }
    });
    slint::run_event_loop().map_err(|e| UiBenchError::Other(e.to_string()))
}

struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// (RSS KiB, CPU ticks) of a process from /proc.
fn sample(pid: u32) -> Result<(u64, u64), UiBenchError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| UiBenchError::Other(format!("no VmRSS for {pid}")))?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // fields after the command name: state is 3rd; utime and stime are the 14th and 15th
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0) + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    Ok((rss, ticks))
}

/// Idle RSS (KiB) and CPU (%) of a child after `warmup`, over `idle`.
fn idle_of(mut cmd: Command, warmup: Duration, idle: Duration) -> Result<(u64, f64), UiBenchError> {
    let child = Proc(cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn()?);
    let pid = child.0.id();
    std::thread::sleep(warmup);
    let (_, t0) = sample(pid)?;
    std::thread::sleep(idle);
    let (rss, t1) = sample(pid)?;
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu = (t1.saturating_sub(t0)) as f64 / hz / idle.as_secs_f64() * 100.0;
    Ok((rss, cpu))
}

/// Runs both parts. `exe` is this program (for the child processes).
pub fn run(exe: &Path, dir: &Path, taps: usize, idle_s: u64, width: u32, height: u32) -> Result<UiBench, UiBenchError> {
    let (tap, base) = latency(dir, taps, width, height)?;
    let (tap, base) = (sorted(tap), sorted(base));
    let size = format!("{width}x{height}");

    let kiosk_dir = dir.join("kiosk");
    std::fs::create_dir_all(&kiosk_dir)?;
    let cfg = kiosk_dir.join("config.toml");
    std::fs::write(&cfg, format!("[device]\ncentre = \"demo-centre\"\nid = \"bench\"\ndata_dir = {:?}\n\n[board]\nkind = \"sim\"\n", kiosk_dir.join("data").display().to_string()))?;
    let mut kiosk = Command::new(exe);
    kiosk.arg("--config").arg(&cfg).args(["run", "--demo", "--no-stdin", "--ui", "headless", "--ui-size", &size]);
    let mut minimal = Command::new(exe);
    minimal.args(["bench", "ui", "--baseline-child", "--size", &size]);
    let warmup = Duration::from_secs(2);
    let idle = Duration::from_secs(idle_s.max(1));
    let (kiosk_rss_kb, kiosk_cpu_pct) = idle_of(kiosk, warmup, idle)?;
    let (base_rss_kb, base_cpu_pct) = idle_of(minimal, warmup, idle)?;
    Ok(UiBench {
        width,
        height,
        tap_p50_ms: percentile(&tap, 50.0),
        tap_p99_ms: percentile(&tap, 99.0),
        base_p50_ms: percentile(&base, 50.0),
        base_p99_ms: percentile(&base, 99.0),
        kiosk_rss_kb,
        base_rss_kb,
        kiosk_cpu_pct,
        base_cpu_pct,
        idle_s: idle.as_secs(),
    })
}
