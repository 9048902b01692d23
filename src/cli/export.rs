//! `microclass export <dir>`: writes a USB stick folder (catalogue plus verified
//! files) from the cache. Only wiring: the work is in `library::usb`.

use super::fetch::{LibraryOpts, StderrBar};
use microclass::library::usb;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// The folder to write (created if needed).
    pub dir: PathBuf,
    /// Only these courses (repeatable).
    #[arg(long = "course")]
    pub courses: Vec<String>,
    #[command(flatten)]
    pub lib: LibraryOpts,
}

/// Exit code 0 when every catalogue file was exported, 1 when some were not cached or bad.
pub fn run(args: ExportArgs, config: Option<&Path>) -> anyhow::Result<i32> {
    let opened = args.lib.open(config)?;
    let mut bar = StderrBar::new(args.lib.quiet);
    let only = (!args.courses.is_empty()).then_some(args.courses.as_slice());
    let rep = usb::export(opened.store.conn(), &opened.cfg, &args.dir, only, &mut bar)?;
    bar.finish();
    println!(
        "exported {}, already on stick {}, not cached {}, corrupt in cache {}",
        rep.exported.len(),
        rep.already_there,
        rep.not_cached.len(),
        rep.corrupt.len()
    );
    for (sha, why) in &rep.corrupt {
        println!("  {sha}: {why}");
    }
    Ok(if rep.not_cached.is_empty() && rep.corrupt.is_empty() { 0 } else { 1 })
}
