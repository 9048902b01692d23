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
    /// SPI transactions and bus time per 4- and 7-byte card read against the ISO 14443A minimum.
    Reader,
    /// Tap-to-frame time and idle RSS/CPU of the kiosk UI against a minimal Slint window.
    Ui {
        #[arg(long, default_value = "bench-data")]
        dir: PathBuf,
        #[arg(long, default_value_t = 200)]
        taps: usize,
        /// Seconds of idle to measure RSS and CPU over.
        #[arg(long, default_value_t = 5)]
        idle_seconds: u64,
        #[arg(long, default_value = "800x480", value_parser = super::ui::parse_size)]
        size: (u32, u32),
        /// Internal: run as the minimal window the kiosk is compared with.
        #[arg(long, hide = true)]
        baseline_child: bool,
    },
    /// Outbox drain over MQTT against `mosquitto_pub -l` on the same local broker; peak RSS at 10k and 100k.
    Uplink {
        #[arg(long, default_value = "bench-data")]
        dir: PathBuf,
        #[arg(long, default_value_t = 100_000)]
        records: usize,
        #[arg(long, default_value_t = 500)]
        batch_records: usize,
        /// As `hub.batch_bytes` (default 256 KiB).
        #[arg(long, default_value_t = 256 * 1024)]
        batch_bytes: usize,
        #[arg(long, default_value_t = 16)]
        inflight: usize,
        /// Each side runs this many times; the fastest run and the highest peak RSS count.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// Download+verify MB/s against curl+sha256sum, playback CPU against gst-launch playbin.
    Library {
        /// Directory for the test file and clip (use the device's data disk).
        #[arg(long, default_value = "bench-library")]
        dir: PathBuf,
        #[arg(long, default_value_t = 200)]
        size_mb: u64,
        /// Length of the 720p test clip.
        #[arg(long, default_value_t = 20)]
        clip_s: u32,
        /// Each side runs this many times; the best run counts.
        #[arg(long, default_value_t = 2)]
        rounds: u32,
        /// Internal: play this clip as the measured side of the playback comparison.
        #[arg(long, hide = true)]
        play_child: Option<PathBuf>,
    },
}

pub fn run(args: BenchArgs) -> Result<()> {
    match args.area {
        BenchArea::Core { dir, taps, rows } => {
            let r = microclass::bench::core::run(&dir, taps, rows).context("core benchmark")?;
            println!("{}", r.report());
            let _ = std::fs::remove_dir_all(&dir);
        }
        BenchArea::Reader => {
            let r = microclass::hw::mfrc522::bench::report().map_err(anyhow::Error::msg).context("reader benchmark")?;
            println!("{r}");
        }
        BenchArea::Ui { baseline_child: true, size, .. } => microclass::bench::ui::baseline_child(size.0, size.1).context("baseline window")?,
        BenchArea::Ui { dir, taps, idle_seconds, size, .. } => {
            let exe = std::env::current_exe().context("locating this program")?;
            let r = microclass::bench::ui::run(&exe, &dir, taps, idle_seconds, size.0, size.1).context("UI benchmark")?;
            println!("{}", r.report());
            let _ = std::fs::remove_dir_all(&dir);
        }
        BenchArea::Uplink { dir, records, batch_records, batch_bytes, inflight, rounds } => {
            let shape = microclass::bench::uplink::Shape { batch_records, batch_bytes, inflight };
            let r = microclass::bench::uplink::run(&dir, records, shape, rounds).context("uplink benchmark")?;
            println!("{}", r.report());
            let _ = std::fs::remove_dir_all(&dir);
        }
        BenchArea::Library { play_child: Some(clip), .. } => {
            microclass::bench::library::play_child(&clip).context("playing the bench clip")?;
        }
        BenchArea::Library { dir, size_mb, clip_s, rounds, play_child: None } => {
            let r = microclass::bench::library::run(&dir, size_mb, clip_s, rounds).context("library benchmark");
            let _ = std::fs::remove_dir_all(&dir);
            println!("{}", r?.report());
        }
    }
    Ok(())
}
