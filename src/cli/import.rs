//! `microclass import <dir>`: courses from a USB stick folder into the cache,
//! each file verified by hash. Only wiring: the work is in `library::usb`.

use super::fetch::{LibraryOpts, StderrBar};
use microclass::clock::SystemClock;
use microclass::library::usb;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The stick folder (holds catalog.json or catalog.toml, and files/).
    pub dir: PathBuf,
    #[command(flatten)]
    pub lib: LibraryOpts,
}

/// Exit code 0 when everything the catalogue wants is now cached, 1 otherwise.
pub fn run(args: ImportArgs, config: Option<&Path>) -> anyhow::Result<i32> {
    let opened = args.lib.open(config)?;
    let mut bar = StderrBar::new(args.lib.quiet);
    let rep = usb::import(opened.store.conn(), &opened.cfg, &SystemClock::new(), &args.dir, opened.centre.as_deref(), &mut bar)?;
    bar.finish();
    match rep.catalog_applied {
        Some(v) => println!("catalogue version {v} applied"),
        None => println!("device catalogue is newer than the stick's; kept"),
    }
    println!(
        "imported {}, already cached {}, not on stick {}, bad on stick {}, no room {}",
        rep.imported.len(),
        rep.already_cached,
        rep.not_on_stick.len(),
        rep.bad_on_stick.len(),
        rep.no_room.len()
    );
    for (sha, why) in rep.bad_on_stick.iter().chain(&rep.no_room) {
        println!("  {sha}: {why}");
    }
    let complete = rep.not_on_stick.is_empty() && rep.bad_on_stick.is_empty() && rep.no_room.is_empty();
    Ok(if complete { 0 } else { 1 })
}
