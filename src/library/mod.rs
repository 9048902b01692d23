//! The course library: the hub's catalogue, the verified video cache (download,
//! USB import/export, integrity, quota), and its settings. Owns the `courses`,
//! `schedule` and `cache_files` tables; never plays video (see `player`) and
//! never decides who gets credit (the kiosk core does).

pub mod catalog;
pub mod disk;
pub mod download;
pub mod http;
pub mod integrity;
pub mod progress;
pub mod quota;
pub mod sync;
pub mod testserver;
pub mod usb;

use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// Settings of the course library. Embedded in the device config as `[library]`;
/// every field has a default so an empty section is valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LibraryConfig {
    /// Where verified videos live (one file per SHA-256); relative to the data dir.
    pub cache_dir: PathBuf,
    /// Most bytes the cache may hold; eviction keeps it under this.
    pub quota_bytes: u64,
    /// Downloads stop before the filesystem's free space drops below this.
    pub min_free_bytes: u64,
    /// Courses scheduled within this many days are never evicted.
    pub protect_days: u32,
    pub connect_timeout_ms: u64,
    /// A connection that sends nothing for this long is dropped and resumed.
    pub read_timeout_ms: u64,
    /// Attempts per file before it is reported as failed for this round.
    pub max_attempts: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// Extra PEM CA bundle for a hub with a private CA (added to the system roots).
    pub ca_file: Option<PathBuf>,
}

impl Default for LibraryConfig {
    fn default() -> Self {
        LibraryConfig {
            cache_dir: PathBuf::from("cache"),
            quota_bytes: 24 * 1024 * 1024 * 1024,
            min_free_bytes: 1024 * 1024 * 1024,
            protect_days: 7,
            connect_timeout_ms: 10_000,
            read_timeout_ms: 30_000,
            max_attempts: 6,
            backoff_base_ms: 2_000,
            backoff_max_ms: 300_000,
            ca_file: None,
        }
    }
}

impl LibraryConfig {
    /// This config with `cache_dir` made absolute against the device's data dir.
    pub fn resolved(&self, data_dir: &std::path::Path) -> LibraryConfig {
        LibraryConfig { cache_dir: data_dir.join(&self.cache_dir), ..self.clone() }
    }
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms.max(1))
    }
    pub fn read_timeout(&self) -> Duration {
        Duration::from_millis(self.read_timeout_ms.max(1))
    }
}

/// Something the hub should hear about the cache (queued by the uplink as telemetry
/// or events). Serialised with a `kind` tag, e.g. `{"kind":"verified",...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LibraryEvent {
    /// A file was checked and put in the cache (`source`: download or import).
    Verified { course_id: String, sha256: String, size: u64, source: &'static str },
    /// A download or import of a file failed; it stays unplayable and is retried later.
    Failed { course_id: String, sha256: String, error: String },
    /// A cached file no longer matched its hash or size; removed and re-fetched.
    Corrupt { course_id: String, sha256: String, error: String },
    /// A cached file disappeared from disk.
    Missing { course_id: String, sha256: String },
    /// Removed to make room.
    Evicted { course_id: String, sha256: String, size: u64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_library_section_takes_every_default() {
        let c: LibraryConfig = toml::from_str("").unwrap();
        assert_eq!(c, LibraryConfig::default());
    }

    #[test]
    fn a_misspelt_library_setting_is_refused() {
        assert!(toml::from_str::<LibraryConfig>("quota_byte = 5").is_err());
    }
}
