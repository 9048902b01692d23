//! The `microclass-hub` subcommands (keygen, publish, ingest, report,
//! devices, bench): argument handling and output only; the work is in the
//! library modules of this crate.

use anyhow::{Context, Result};
use microclass_hub::ingest::Ingest;
use microclass_hub::mqtt::{self, BrokerOptions, IngestOptions};
use microclass_hub::{bench, html, keys, publish, report, sheets, HubStore, PgHub, SqliteHub};
use microclass_model::clock::{Clock, SystemClock};
use microclass_protocol::documents::{CatalogDoc, RosterDoc};
use microclass_protocol::envelope::DocKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args, Clone)]
pub struct StoreArgs {
    /// SQLite database of the hub (the default store).
    #[arg(long, default_value = "hub.db")]
    pub db: PathBuf,
    /// PostgreSQL connection string instead of SQLite, e.g. "host=/run/postgresql user=hub dbname=hub".
    #[arg(long, env = "MICROCLASS_HUB_POSTGRES")]
    pub postgres: Option<String>,
}

impl StoreArgs {
    fn open(&self) -> Result<Box<dyn HubStore>> {
        Ok(match &self.postgres {
            Some(p) => Box::new(PgHub::connect(p).context("connecting to PostgreSQL")?),
            None => Box::new(SqliteHub::open(&self.db).with_context(|| format!("opening {}", self.db.display()))?),
        })
    }
}

#[derive(clap::Args, Clone)]
pub struct BrokerArgs {
    /// Broker, mqtt://host[:port] or mqtts://host[:port] (with --ca-file).
    #[arg(long, env = "MICROCLASS_HUB_BROKER", default_value = "mqtt://127.0.0.1:1883")]
    pub broker: String,
    #[arg(long, env = "MICROCLASS_HUB_DISTRICT")]
    pub district: String,
    /// MQTT client id (must be unique per process; fixed so the broker keeps the session).
    #[arg(long)]
    pub client_id: Option<String>,
    #[arg(long, env = "MICROCLASS_HUB_USERNAME")]
    pub username: Option<String>,
    /// File holding the broker password.
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// CA certificate of the broker (PEM), required for mqtts://.
    #[arg(long, env = "MICROCLASS_HUB_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for brokers that authenticate by certificate.
    #[arg(long, requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    #[arg(long, requires = "client_cert")]
    pub client_key: Option<PathBuf>,
}

impl BrokerArgs {
    fn options(&self, default_id: &str) -> Result<BrokerOptions> {
        let password = match &self.password_file {
            Some(p) => Some(std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?.trim().to_string()),
            None => None,
        };
        Ok(BrokerOptions {
            url: self.broker.clone(),
            client_id: self.client_id.clone().unwrap_or_else(|| default_id.to_string()),
            username: self.username.clone(),
            password,
            ca_file: self.ca_file.clone(),
            client_cert: self.client_cert.clone().zip(self.client_key.clone()),
        })
    }
}

#[derive(clap::ValueEnum, Clone, Copy)]
pub enum KindArg {
    Roster,
    Catalog,
    Schedule,
}

#[derive(clap::Subcommand)]
pub enum HubCmd {
    /// Create the Ed25519 signing key pair (hub.key 0600, hub.pub) in a directory.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Validate, sign and publish (retained) a roster, catalogue or schedule from CSV or TOML.
    Publish {
        kind: KindArg,
        file: PathBuf,
        /// The private key written by `hub keygen`; versions.json is kept next to it.
        #[arg(long, default_value = "hub-key/hub.key")]
        key: PathBuf,
        #[command(flatten)]
        broker: BrokerArgs,
        /// Version to publish (must be above the last one); default: next counter value.
        #[arg(long)]
        version: Option<u64>,
        /// Local time of schedule sheets, minutes east of UTC (480 = China Standard Time).
        #[arg(long, default_value_t = 480, allow_hyphen_values = true)]
        utc_offset_minutes: i32,
        /// Only validate and sign; print what would be published.
        #[arg(long)]
        dry_run: bool,
    },
    /// Take in every device's records, status and answers (runs until SIGTERM).
    Ingest {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        broker: BrokerArgs,
        /// MQTT 5 shared subscription group: workers with the same group split the load.
        #[arg(long)]
        share_group: Option<String>,
        /// Seconds a sequence gap must stay open before a resend is asked.
        #[arg(long, default_value_t = 600)]
        gap_grace_s: u64,
        /// Seconds between two resends for the same device stream.
        #[arg(long, default_value_t = 600)]
        resend_retry_s: u64,
        /// Milliseconds between gap sweeps.
        #[arg(long, default_value_t = 10_000)]
        sweep_ms: u64,
        /// How long the broker keeps this worker's session (and queues for it) while it is away.
        #[arg(long, default_value_t = 7 * 24 * 3600)]
        session_expiry_s: u32,
    },
    /// Study hours against the quota, centres, courses and ratings (CSV and HTML).
    Report {
        #[command(flatten)]
        store: StoreArgs,
        /// Roster file (CSV/TOML): names, and members with no hours at all.
        #[arg(long)]
        roster: Option<PathBuf>,
        /// Catalogue file (CSV/TOML): course titles and required flags.
        #[arg(long)]
        catalog: Option<PathBuf>,
        #[arg(long)]
        year: Option<i32>,
        #[arg(long, default_value_t = 45)]
        minutes_per_hour: u32,
        #[arg(long, default_value_t = 32)]
        quota_hours: u32,
        /// Write members.csv, centres.csv, courses.csv and ratings.csv here.
        #[arg(long)]
        csv_dir: Option<PathBuf>,
        /// Write the self-contained HTML page here.
        #[arg(long)]
        html: Option<PathBuf>,
        #[arg(long, default_value = "社区微课堂学时报告 Study-hours report")]
        title: String,
    },
    /// Print the broker's ACL for a device list (`district centre device` per line):
    /// each device only under its own topics (see docs/mosquitto.md).
    BrokerAcl {
        /// The device list file.
        #[arg(long)]
        devices: PathBuf,
        /// The hub's broker login (certificate CN or username).
        #[arg(long, default_value = "hub")]
        hub_user: String,
        #[arg(long, value_enum, default_value = "mosquitto")]
        format: microclass_hub::broker_acl::Format,
    },
    /// The fleet: each device's state, version, backlog, last contact and missing records.
    Devices {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        json: bool,
    },
    /// Ingest rate into SQLite and PostgreSQL against the broker's own rate.
    Bench {
        /// Broker to use (default: start a private mosquitto).
        #[arg(long)]
        broker: Option<String>,
        /// PostgreSQL connection string of a scratch database (omit to skip PostgreSQL).
        #[arg(long)]
        postgres: Option<String>,
        /// Scratch directory of the benchmark (removed afterwards).
        #[arg(long, default_value = "bench-data")]
        dir: PathBuf,
        /// Records to ingest.
        #[arg(long, default_value_t = 100_000)]
        records: u64,
        /// Simulated devices the records come from.
        #[arg(long, default_value_t = 20)]
        devices: u64,
        /// Records per batch message.
        #[arg(long, default_value_t = 100)]
        batch: u64,
    },
}

pub fn run(cmd: HubCmd) -> Result<i32> {
    match cmd {
        HubCmd::Bench { broker, postgres, dir, records, devices, batch } => {
            let a = bench::BenchArgs { broker, postgres, dir, records, devices, batch };
            print!("{}", bench::run(&a).context("hub benchmark")?);
        }
        HubCmd::Keygen { out } => {
            let public = keys::keygen(&out).context("creating the hub key")?;
            println!("private key: {} (mode 0600, keep it secret)", out.join(keys::PRIVATE_FILE).display());
            println!("public key for the devices' [hub] hub_public_key:\n{public}");
        }
        HubCmd::Publish { kind, file, key, broker, version, utc_offset_minutes, dry_run } => {
            let kind = match kind {
                KindArg::Roster => DocKind::Roster,
                KindArg::Catalog => DocKind::Catalog,
                KindArg::Schedule => DocKind::Schedule,
            };
            let signing = keys::load(&key).context("loading the hub key")?;
            let key_dir = key.parent().unwrap_or(Path::new("."));
            let mut versions = keys::Versions::open(key_dir)?;
            let now = SystemClock::new().now().wall_ms;
            let docs = publish::prepare(kind, &file, &broker.district, &signing, &versions, version, now, utc_offset_minutes)?;
            if !dry_run {
                let msgs: Vec<_> = docs.iter().map(|d| (d.topic.clone(), d.payload.clone())).collect();
                mqtt::publish_retained(&broker.options("microclass-hub-publish")?, &msgs, Duration::from_secs(30)).context("publishing")?;
                for d in &docs {
                    versions.record(kind, &broker.district, d.centre.as_deref(), d.version)?;
                }
            }
            for d in &docs {
                println!("{} {} version {} ({} items, {} bytes){}", if dry_run { "would publish" } else { "published" }, d.topic, d.version, d.items, d.payload.len(), if dry_run { "" } else { ", retained" });
            }
        }
        HubCmd::Ingest { store, broker, share_group, gap_grace_s, resend_retry_s, sweep_ms, session_expiry_s } => {
            let opts = IngestOptions {
                broker: broker.options(&format!("microclass-hub-{}", std::process::id()))?,
                district: broker.district.clone(),
                share_group,
                gap_grace_ms: (gap_grace_s * 1000) as i64,
                resend_retry_ms: (resend_retry_s * 1000) as i64,
                sweep_every: Duration::from_millis(sweep_ms),
                session_expiry_s,
            };
            let mut ingest = Ingest::new(&broker.district, store.open()?);
            let stop = Arc::new(AtomicBool::new(false));
            for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
                signal_hook::flag::register(sig, stop.clone()).context("installing the signal handler")?;
            }
            tracing::info!(district = %opts.district, broker = %opts.broker.url, "ingest starting");
            let stats = mqtt::run_ingest(&opts, &mut ingest, &SystemClock::new(), &stop, None)?;
            println!("{}", serde_json::to_string(&stats)?);
            let _ = stop.load(Ordering::SeqCst);
        }
        HubCmd::Report { store, roster, catalog, year, minutes_per_hour, quota_hours, csv_dir, html: html_out, title } => {
            let roster = roster.map(|p| read_roster(&p)).transpose()?;
            let catalog = catalog.map(|p| read_catalog(&p)).transpose()?;
            let st = report::Settings { minutes_per_hour, quota_hours, year };
            let mut builder = report::Builder::new(&st);
            store.open()?.each_record(&report::KINDS, &mut |row| builder.add(&row))?;
            let r = builder.finish(roster.as_ref(), catalog.as_ref());
            if let Some(dir) = csv_dir {
                std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
                for (name, text) in report::to_csv(&r) {
                    std::fs::write(dir.join(name), text).with_context(|| format!("writing {name}"))?;
                }
            }
            if let Some(path) = html_out {
                let now = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
                std::fs::write(&path, html::render(&r, &title, &now)).with_context(|| format!("writing {}", path.display()))?;
            }
            let below = r.below_quota().count();
            println!("{} member-years, {} below the quota of {} h; {} centres, {} courses", r.members.len(), below, quota_hours, r.centres.len(), r.courses.len());
            for m in r.below_quota().take(20) {
                println!("  {} {} {}: {} h, short {} h", m.member, m.name, m.year, report::hours(m.minutes, minutes_per_hour), report::hours(m.short_minutes, minutes_per_hour));
            }
        }
        HubCmd::BrokerAcl { devices, hub_user, format } => {
            let text = std::fs::read_to_string(&devices).with_context(|| format!("reading {}", devices.display()))?;
            let list = microclass_hub::broker_acl::parse_devices(&text).with_context(|| devices.display().to_string())?;
            print!("{}", microclass_hub::broker_acl::render(&list, &hub_user, format)?);
        }
        HubCmd::Devices { store, json } => {
            let devs = store.open()?.devices()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&devs)?);
            } else {
                println!("{:<16} {:<16} {:<8} {:<10} {:>8} {:>9} {:>8}  last seen (UTC)", "centre", "device", "state", "version", "backlog", "records", "missing");
                for d in devs {
                    let seen = chrono::DateTime::from_timestamp_millis(d.last_seen_ms).map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default();
                    println!("{:<16} {:<16} {:<8} {:<10} {:>8} {:>9} {:>8}  {seen}", d.centre, d.device, d.state, d.version, d.backlog, d.records, d.missing);
                }
            }
        }
    }
    Ok(0)
}

fn is_toml(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("toml"))
}

/// A sheet's text, UTF-8 or GB18030.
fn read_sheet(p: &Path) -> Result<String> {
    let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
    microclass_hub::csv::decode(&bytes).with_context(|| p.display().to_string())
}

fn read_roster(p: &Path) -> Result<RosterDoc> {
    let t = read_sheet(p)?;
    let doc = if is_toml(p) { sheets::roster_toml(&t) } else { sheets::roster_csv(&t) };
    doc.with_context(|| p.display().to_string())
}

fn read_catalog(p: &Path) -> Result<CatalogDoc> {
    let t = read_sheet(p)?;
    let doc = if is_toml(p) { sheets::catalog_toml(&t) } else { sheets::catalog_csv(&t) };
    doc.with_context(|| p.display().to_string())
}
