//! `microclass bench <area>`: performance checks that measure their own
//! baseline in the same run and print the ratio against the target.

use anyhow::{Context, Result};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub area: BenchArea,
}

#[derive(clap::Subcommand, Debug)]
pub enum BenchArea {
    /// Tap path latency against bare SQLite, and the yearly-hours query at 1M rows.
    Core {
        /// Directory for the benchmark databases (use the device's data disk).
        #[arg(long, default_value = "bench-data")]
        dir: PathBuf,
        #[arg(long, default_value_t = 2000)]
        taps: usize,
        #[arg(long, default_value_t = 1_000_000)]
        rows: i64,
    },
}

pub fn run(args: BenchArgs) -> Result<()> {
    match args.area {
        BenchArea::Core { dir, taps, rows } => {
            let r = microclass::bench::core::run(&dir, taps, rows).context("core benchmark")?;
            println!("{}", r.report());
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    Ok(())
}
