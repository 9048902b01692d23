//! Health readings for telemetry and the benchmark: CPU temperature from
//! /sys/class/thermal, memory from /proc/meminfo, RSS and peak RSS from
//! /proc/self/status. Missing files give None, never an error or a panic.

use std::fs;
use std::path::Path;

/// CPU temperature in °C from the first thermal zone that reads (the Pi's `cpu-thermal`).
pub fn cpu_temp_c(thermal_root: &Path) -> Option<f64> {
    let mut zones: Vec<_> = fs::read_dir(thermal_root).ok()?.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    zones.sort();
    zones.iter().find_map(|z| {
        let millideg: i64 = fs::read_to_string(z.join("temp")).ok()?.trim().parse().ok()?;
        Some(millideg as f64 / 1000.0)
    })
}

/// A `Key:   123 kB` value from a /proc status-style text, in bytes.
pub fn kb_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?.strip_prefix(':')?;
        let n: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(n * 1024)
    })
}

/// (total, available) memory in bytes.
pub fn memory() -> (Option<u64>, Option<u64>) {
    match fs::read_to_string("/proc/meminfo") {
        Ok(t) => (kb_field(&t, "MemTotal"), kb_field(&t, "MemAvailable")),
        Err(_) => (None, None),
    }
}

/// Current resident set size of this process.
pub fn rss_bytes() -> Option<u64> {
    kb_field(&fs::read_to_string("/proc/self/status").ok()?, "VmRSS")
}

/// Peak resident set size of this process (VmHWM).
pub fn peak_rss_bytes() -> Option<u64> {
    kb_field(&fs::read_to_string("/proc/self/status").ok()?, "VmHWM")
}

/// Resets the peak RSS to the current RSS (Linux >= 4.0), so a later
/// `peak_rss_bytes` measures only what followed. False when unsupported.
pub fn reset_peak_rss() -> bool {
    fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// A boot id that changes on every boot (the kernel's), else a fresh random one.
pub fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| ulid::Ulid::new().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_read_in_bytes() {
        let t = "Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(kb_field(t, "VmHWM"), Some(2048 * 1024));
        assert_eq!(kb_field(t, "VmRSS"), Some(1024 * 1024));
        assert_eq!(kb_field(t, "VmSwap"), None);
    }

    #[test]
    fn the_first_readable_thermal_zone_gives_degrees() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("thermal_zone0")).unwrap();
        fs::create_dir_all(d.path().join("thermal_zone1")).unwrap();
        fs::write(d.path().join("thermal_zone1/temp"), "48312\n").unwrap();
        assert_eq!(cpu_temp_c(d.path()), Some(48.312));
        assert_eq!(cpu_temp_c(&d.path().join("none")), None);
    }

    #[test]
    fn this_process_has_a_peak_rss() {
        assert!(peak_rss_bytes().unwrap() >= rss_bytes().unwrap() / 2);
    }
}
