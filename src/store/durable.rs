//! Durable file replacement on the device's disk: flush the file, rename it
//! into place, flush the directory, so after a power cut the destination is
//! either the old file or the complete new one. Used for the database's first
//! creation and by the course cache.

use std::fs::File;
use std::io;
use std::path::Path;

/// Makes a directory entry change (create, rename, unlink) durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Flushes `tmp`, renames it to `dest` and flushes the directory, so after a power
/// cut `dest` is either absent or complete.
pub fn durable_rename(tmp: &Path, dest: &Path) -> io::Result<()> {
    File::open(tmp)?.sync_all()?;
    std::fs::rename(tmp, dest)?;
    fsync_dir(dest.parent().unwrap_or(Path::new(".")))
}
