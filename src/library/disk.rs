//! Filesystem helpers for the cache: free space (statvfs), durable renames
//! (fsync file, rename, fsync directory), streaming SHA-256 of a file, and the
//! cache's file naming. Knows nothing about the catalogue or the database.

use sha2::{Digest, Sha256};
use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Bytes an unprivileged process may still write on the filesystem holding `path`.
pub fn free_bytes(path: &Path) -> io::Result<u64> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `c` is a valid NUL-terminated path and `st` is a plain C struct the call fills.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c.as_ptr(), &mut st) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
    }
}

pub use crate::store::durable::{durable_rename, fsync_dir};


/// SHA-256 (lowercase hex) and length of everything `r` yields.
pub fn hash_reader(mut r: impl Read) -> io::Result<(String, u64)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => {
                h.update(&buf[..k]);
                n += k as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok((hex::encode(h.finalize()), n))
}

pub fn hash_file(path: &Path) -> io::Result<(String, u64)> {
    hash_reader(File::open(path)?)
}

/// The cache's name for a file: its SHA-256 plus the URL's extension (so tools
/// and GStreamer's type finder see `.mp4`), e.g. `3f1c…9a.mp4`.
pub fn cache_name(sha256: &str, url: &str) -> String {
    let last = url.split(['?', '#']).next().unwrap_or("").rsplit('/').next().unwrap_or("");
    let ext = last
        .rsplit_once('.')
        .map(|(_, e)| e)
        .filter(|e| !e.is_empty() && e.len() <= 8 && e.bytes().all(|b| b.is_ascii_alphanumeric()));
    match ext {
        Some(e) => format!("{sha256}.{}", e.to_ascii_lowercase()),
        None => sha256.to_string(),
    }
}

/// Where a download in progress is kept: `<name>.part` beside the final file.
pub fn part_path(dest: &Path) -> PathBuf {
    let mut s = dest.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_names_keep_a_sane_extension_only() {
        let h = "ab".repeat(32);
        assert_eq!(cache_name(&h, "http://x/v/Course.MP4?sig=1"), format!("{h}.mp4"));
        assert_eq!(cache_name(&h, "http://x/v/noext"), h);
        assert_eq!(cache_name(&h, "http://x/v/a.m/../x"), h);
        assert_eq!(cache_name(&h, "http://x/v/a.toolongextension"), h);
    }

    #[test]
    fn the_part_file_sits_beside_its_destination() {
        assert_eq!(part_path(Path::new("/c/ab.mp4")), PathBuf::from("/c/ab.mp4.part"));
    }

    #[test]
    fn hashing_matches_the_known_sha256_of_abc() {
        let (h, n) = hash_reader(&b"abc"[..]).unwrap();
        assert_eq!(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(n, 3);
    }

    #[test]
    fn free_space_is_reported_for_a_real_directory_and_refused_for_a_missing_one() {
        let d = tempfile::tempdir().unwrap();
        assert!(free_bytes(d.path()).unwrap() > 0);
        assert!(free_bytes(&d.path().join("nope")).is_err());
    }

    #[test]
    fn a_durable_rename_moves_the_file_into_place() {
        let d = tempfile::tempdir().unwrap();
        let tmp = d.path().join("x.part");
        std::fs::write(&tmp, b"data").unwrap();
        durable_rename(&tmp, &d.path().join("x")).unwrap();
        assert!(!tmp.exists());
        assert_eq!(std::fs::read(d.path().join("x")).unwrap(), b"data");
    }
}
