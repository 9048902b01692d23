//! `microclass demo-data`: loads the demonstration roster, catalogue and a week of classes.

use anyhow::{Context, Result};
use microclass::clock::{Clock, SystemClock};
use microclass::config::Config;
use microclass::store::Store;

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Replace an existing roster and catalogue.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: DemoArgs, cfg: &Config) -> Result<()> {
    super::ensure_dir(&cfg.device.data_dir)?;
    let mut store = Store::open(&cfg.db_path()).with_context(|| format!("opening {}", cfg.db_path().display()))?;
    let (now, offset) = (SystemClock::new().now().wall_ms, cfg.device.utc_offset_minutes * 60);
    if args.force {
        store.replace_roster(&microclass::demo::members(), 1)?;
        store.replace_courses(&microclass::demo::courses(), 1)?;
        store.replace_schedule(&microclass::demo::schedule(now, offset), 0)?;
    } else if !microclass::demo::load_if_empty(&mut store)? {
        println!("a roster is already loaded; use --force to replace it with the demo data");
        return Ok(());
    } else {
        microclass::demo::load_schedule_if_empty(&mut store, now, offset)?;
    }
    println!("demo data loaded into {}:", cfg.db_path().display());
    for m in microclass::demo::members() {
        let roles: Vec<&str> = m.roles.iter().map(|r| r.as_str()).collect();
        println!("  card {:<12} {} ({}) {}", m.cards[0], m.name, roles.join("+"), m.home_centre);
    }
    println!("and {} days of classes from today (09:00, 14:30, 19:00)", microclass::demo::SCHEDULE_DAYS);
    Ok(())
}
