//! The uplink's upkeep: telemetry samples, the disk guard and retention
//! pruning, offline low-value samples, and carrying out a reboot.

use super::diskguard::{self, DiskLevel};
use super::link::Link;
use super::session::Session;
use crate::store::drain;
use microclass_protocol::wire::{self, PROTOCOL_VERSION};
use rumqttc::QoS;
use tracing::{debug, info, warn};

impl Link {
    pub(super) fn publish_telemetry(&mut self, s: &mut Session) {
        let t = self.telemetry();
        if let Err(e) = self.publish(s, &self.topics.telemetry.clone(), QoS::AtMostOnce, false, serde_json::to_vec(&t).unwrap_or_default()) {
            debug!(error = %e, "telemetry not sent");
        }
    }

    fn telemetry(&self) -> wire::Telemetry {
        let now = self.u.clock.now();
        let dir = self.u.db_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
        let disk = diskguard::disk_space(dir);
        let (mem_total, mem_avail) = super::sysinfo::memory();
        let b = drain::backlog(&self.conn).unwrap_or_default();
        let st = self.status.lock().map(|s| s.clone()).unwrap_or_default();
        wire::Telemetry {
            v: PROTOCOL_VERSION,
            device: self.u.config.device.clone(),
            at_ms: now.wall_ms,
            clock_synced: now.synced,
            cpu_temp_c: super::sysinfo::cpu_temp_c(&self.u.thermal_root),
            disk_free_bytes: disk.map(|d| d.0),
            disk_total_bytes: disk.map(|d| d.1),
            disk_level: self.disk_level,
            mem_total_bytes: mem_total,
            mem_available_bytes: mem_avail,
            rss_bytes: super::sysinfo::rss_bytes(),
            backlog: b.rows,
            last_seq: drain::last_seq(&self.conn).unwrap_or(0),
            oldest_unsent_ms: b.oldest_created_ms,
            last_sync_ms: st.last_sync_ms,
            cache: crate::store::cache::cache_state(&self.conn).unwrap_or_default(),
            counters: {
                let r = crate::hw::counters::latest();
                wire::Counters { reader_reads: r.reads, reader_glitches: r.glitches, reader_rejects: r.rejects, reader_faults: r.faults, ..st.counters }
            },
        }
    }

    /// The disk guard, retention pruning and (offline) low-value samples.
    pub(super) fn maintain(&mut self, online: bool) {
        let dir = self.u.db_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new(".")).to_path_buf();
        let c = &self.u.config;
        let level = diskguard::disk_space(&dir).map_or(DiskLevel::Ok, |(free, _)| diskguard::assess(free, c.disk_low_bytes, c.disk_critical_bytes));
        self.apply_disk_level(level, online);
    }

    fn apply_disk_level(&mut self, level: DiskLevel, online: bool) {
        let policy = diskguard::policy(level, self.u.config.retention_days);
        if level != self.disk_level {
            let text = match level {
                DiskLevel::Ok => "disk space recovered".to_string(),
                DiskLevel::Low => "disk space low: telemetry samples stopped, old sent records pruned".to_string(),
                DiskLevel::Critical => "disk space critical: all sent records pruned; sign-ins are kept but free space now".to_string(),
            };
            if level > self.disk_level { warn!(?level, "{text}") } else { info!(?level, "{text}") }
            self.notice(text);
            self.disk_level = level;
            self.with_status(|s| s.disk_level = level);
        }
        let now = self.now_ms();
        match diskguard::enforce(&self.conn, policy, now) {
            Ok(done) if done.low_value_dropped > 0 => self.with_status(|s| s.counters.low_value_dropped += done.low_value_dropped as u64),
            Ok(_) => {}
            Err(e) => warn!(error = %e, "disk guard could not shrink the outbox"),
        }
        let every = i64::try_from(self.u.config.offline_sample_interval_s).unwrap_or(i64::MAX / 2).saturating_mul(1000);
        if !online && policy.queue_low_value && every > 0 && now - self.last_sample_ms >= every {
            self.last_sample_ms = now;
            let t = self.telemetry();
            let payload = serde_json::to_string(&t).unwrap_or_else(|_| "{}".into());
            if let Err(e) = drain::enqueue(&self.conn, &ulid::Ulid::new().to_string(), "telemetry", &payload, -1, now) {
                warn!(error = %e, "queueing a telemetry sample failed");
            }
        }
    }

    pub(super) fn reboot(&self) {
        let Some(r) = &self.u.rebooter else { return };
        warn!("rebooting on the hub's command");
        match r.reboot() {
            Ok(()) => self.notice("reboot requested by the hub".into()),
            Err(e) => {
                warn!(error = %e, "reboot failed; reconnecting");
                self.notice(format!("reboot failed: {e}"));
            }
        }
    }
}
