//! Rebooting the device on the hub's `reboot` command. The uplink calls the
//! `Rebooter` only after the command's ack went out, the `offline` status was
//! published and every acknowledged outbox row is marked on disk.

use std::sync::{Arc, Mutex};

pub trait Rebooter: Send + Sync {
    /// Asks the system to reboot now.
    fn reboot(&self) -> Result<(), String>;
}

/// Asks systemd for a clean reboot (`systemctl reboot`); the service user
/// needs polkit's permission to reboot (docs/operations.md).
pub struct SystemdRebooter {
    /// The command and its arguments (`["systemctl", "reboot"]`).
    pub command: Vec<String>,
}

impl Default for SystemdRebooter {
    fn default() -> Self {
        SystemdRebooter { command: vec!["systemctl".into(), "reboot".into()] }
    }
}

impl Rebooter for SystemdRebooter {
    fn reboot(&self) -> Result<(), String> {
        let (prog, args) = self.command.split_first().ok_or("no reboot command configured")?;
        let out = std::process::Command::new(prog).args(args).output().map_err(|e| format!("{prog}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("{} failed ({}): {}", self.command.join(" "), out.status, String::from_utf8_lossy(&out.stderr).trim()))
        }
    }
}

/// The simulated board's rebooter: records each request (tests, `--board sim`).
#[derive(Clone, Default)]
pub struct SimRebooter {
    requests: Arc<Mutex<u32>>,
}

impl SimRebooter {
    /// How many reboots were asked for.
    pub fn requests(&self) -> u32 {
        self.requests.lock().map(|n| *n).unwrap_or(0)
    }
}

impl Rebooter for SimRebooter {
    fn reboot(&self) -> Result<(), String> {
        tracing::warn!("simulated board: reboot requested (nothing happens)");
        if let Ok(mut n) = self.requests.lock() {
            *n += 1;
        }
        Ok(())
    }
}

/// The rebooter of a board kind: systemd on the Pi, the recorder on `sim`.
pub fn for_board(kind: crate::config::BoardKind) -> Arc<dyn Rebooter> {
    match kind {
        crate::config::BoardKind::Sim => Arc::new(SimRebooter::default()),
        crate::config::BoardKind::Pi => Arc::new(SystemdRebooter::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_simulated_rebooter_counts_requests() {
        let r = SimRebooter::default();
        let seen = r.clone();
        r.reboot().unwrap();
        r.reboot().unwrap();
        assert_eq!(seen.requests(), 2);
    }

    #[test]
    fn the_systemd_rebooter_runs_its_command_and_reports_a_failure() {
        let ok = SystemdRebooter { command: vec!["true".into()] };
        assert!(ok.reboot().is_ok());
        let failing = SystemdRebooter { command: vec!["sh".into(), "-c".into(), "echo no polkit >&2; exit 3".into()] };
        let e = failing.reboot().unwrap_err();
        assert!(e.contains("no polkit"), "{e}");
        assert!(SystemdRebooter { command: vec![] }.reboot().is_err());
    }
}
