//! `microclass fetch`: downloads what the catalogue lists into the cache, with a
//! progress bar on stderr. Also the shared setup of the library commands
//! (config, database, cache dir). Only wiring: the work is in `library::sync`.

use microclass::clock::SystemClock;
use microclass::config::Config;
use microclass::library::catalog::Catalog;
use microclass::library::download::RealSleeper;
use microclass::library::http::HttpClient;
use microclass::library::progress::{bar_line, Progress, ProgressSink};
use microclass::library::sync::Syncer;
use microclass::library::{catalog, integrity, LibraryConfig};
use microclass::store::cache;
use microclass::store::Store;
use anyhow::Context;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where the library commands find the device's database and cache (from the
/// config's [device] data_dir and [library] section unless overridden).
#[derive(clap::Args, Debug, Clone)]
pub struct LibraryOpts {
    /// SQLite database (overrides the config; with it no config file is needed).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Cache directory (overrides the config).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The opened library: settings resolved, database open, centre known.
pub struct Opened {
    pub cfg: LibraryConfig,
    pub store: Store,
    pub centre: Option<String>,
}

impl LibraryOpts {
    pub fn open(&self, config: Option<&Path>) -> anyhow::Result<Opened> {
        let (mut cfg, db, centre) = match (&self.db, config) {
            (Some(db), None) => {
                let dir = db.parent().map(PathBuf::from).unwrap_or_default();
                (LibraryConfig::default().resolved(&dir), db.clone(), None)
            }
            _ => {
                let c: Config = super::load_config(config, Some(&super::demo_data_dir()))?;
                (c.library.resolved(&c.device.data_dir), c.db_path(), Some(c.device.centre.clone()))
            }
        };
        if let Some(dir) = &self.cache_dir {
            cfg.cache_dir = dir.clone();
        }
        let db = self.db.clone().unwrap_or(db);
        let store = Store::open(&db).with_context(|| format!("opening {}", db.display()))?;
        std::fs::create_dir_all(&cfg.cache_dir).with_context(|| format!("creating {}", cfg.cache_dir.display()))?;
        Ok(Opened { cfg, store, centre })
    }
}

/// Draws progress on stderr: redrawn in place on a terminal, a line per 10 % otherwise.
pub struct StderrBar {
    quiet: bool,
    tty: bool,
    last: Option<Instant>,
    last_decile: Option<u8>,
}

impl StderrBar {
    pub fn new(quiet: bool) -> Self {
        StderrBar { quiet, tty: std::io::stderr().is_terminal(), last: None, last_decile: None }
    }
    pub fn finish(&mut self) {
        if !self.quiet && self.tty && self.last.is_some() {
            eprintln!();
        }
    }
}

impl ProgressSink for StderrBar {
    fn report(&mut self, p: &Progress) {
        if self.quiet {
            return;
        }
        let done = p.files_done == p.files_total;
        if self.tty {
            if done || self.last.is_none_or(|t| t.elapsed() >= Duration::from_millis(200)) {
                let _ = write!(std::io::stderr(), "\r{}", bar_line(p));
                self.last = Some(Instant::now());
            }
        } else {
            let decile = p.percent() / 10;
            if self.last_decile != Some(decile) {
                eprintln!("{}", bar_line(p));
                self.last_decile = Some(decile);
            }
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct FetchArgs {
    #[command(flatten)]
    pub lib: LibraryOpts,
    /// Apply this catalogue file (JSON or TOML) before fetching.
    #[arg(long)]
    pub catalog: Option<PathBuf>,
    /// Only these courses (repeatable).
    #[arg(long = "course")]
    pub courses: Vec<String>,
    /// Print the cache index and exit.
    #[arg(long)]
    pub list: bool,
}

/// Exit code 0 when every wanted file is cached, 1 when some are not.
pub fn run(args: FetchArgs, config: Option<&Path>) -> anyhow::Result<i32> {
    let opened = args.lib.open(config)?;
    let conn = opened.store.conn();
    let cfg = &opened.cfg;
    if args.list {
        for e in cache::list(conn)? {
            println!("{} {:<8} {:>12} {} {}", e.sha256, e.state.as_str(), e.size, e.course_id, e.error.unwrap_or_default());
        }
        return Ok(0);
    }
    if let Some(path) = &args.catalog {
        let cat = Catalog::load(path)?;
        let applied = catalog::replace(conn, &cat, opened.centre.as_deref())?;
        eprintln!("catalogue version {} applied: {} courses", applied.version, applied.courses);
    }
    for ev in integrity::startup_check(conn, &cfg.cache_dir)? {
        eprintln!("cache check: {}", serde_json::to_string(&ev)?);
    }
    let clock = SystemClock::new();
    let client = HttpClient::new(cfg.connect_timeout(), cfg.read_timeout(), cfg.ca_file.as_deref());
    let syncer = Syncer { conn, cfg, clock: &clock, client: &client, sleeper: &RealSleeper, cancel: None, pinned: Default::default() };
    let only = (!args.courses.is_empty()).then_some(args.courses.as_slice());
    let mut bar = StderrBar::new(args.lib.quiet);
    let report = syncer.run(only, &mut bar)?;
    bar.finish();
    println!(
        "downloaded {}, already cached {}, failed {}, no room {}",
        report.downloaded.len(),
        report.already_cached,
        report.failed.len(),
        report.no_room.len()
    );
    for (sha, why) in report.failed.iter().chain(&report.no_room) {
        println!("  {sha}: {why}");
    }
    Ok(if report.failed.is_empty() && report.no_room.is_empty() && !report.cancelled { 0 } else { 1 })
}
