//! Messages from the hub: signed documents (verified, version-gated and
//! handed to the document sink) and commands. A command is answered by
//! `command::respond`; what the uplink itself must then do comes back as
//! [`Action`]s that the link carries out, so the decision is testable
//! without a connection.

use super::link::Link;
use super::session::{LinkError, Session};
use crate::store::drain;
use microclass_protocol::command::{self, Command, RecentAcks};
use microclass_protocol::documents::{self, DocumentSink, Rejected};
use microclass_protocol::envelope::{DocKind, Expect};
use microclass_protocol::topics::Incoming;
use microclass_protocol::wire::{Ack, ErrorCode};
use rumqttc::QoS;
use std::time::Duration;
use tracing::{debug, info, warn};

/// What a hub command asks of the uplink after its ack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Drain now (the ack carries the backlog).
    Drain,
    /// Send again from this seq on (rows already requeued).
    Rewind { after_seq: i64 },
    /// Reboot the device after this delay.
    Reboot { delay_s: u32 },
}

/// The uplink's own part of the commands: everything but the kiosk's.
pub trait LinkCommands {
    fn backlog(&mut self) -> Result<serde_json::Value, command::CmdError>;
    fn requeue(&mut self, from_seq: i64, to_seq: i64) -> Result<serde_json::Value, command::CmdError>;
    fn can_reboot(&self) -> bool;
    fn kiosk(&mut self, cmd: &Command) -> Result<serde_json::Value, command::CmdError>;
}

/// Answers one command payload; returns the ack to publish and the actions to take.
pub fn answer(payload: &[u8], max_bytes: usize, now_ms: i64, recent: &mut RecentAcks, cmds: &mut dyn LinkCommands) -> (Ack, Vec<Action>) {
    let mut actions = Vec::new();
    let ack = command::respond(payload, max_bytes, now_ms, recent, |cmd| match cmd {
        Command::SyncNow => {
            actions.push(Action::Drain);
            cmds.backlog()
        }
        Command::Resend { from_seq, to_seq } => {
            let r = cmds.requeue(*from_seq, *to_seq)?;
            actions.push(Action::Rewind { after_seq: from_seq - 1 });
            actions.push(Action::Drain);
            Ok(r)
        }
        Command::Reboot { delay_s } => {
            if !cmds.can_reboot() {
                return Err((ErrorCode::Unsupported, "this device cannot reboot itself".into()));
            }
            actions.push(Action::Reboot { delay_s: *delay_s });
            Ok(serde_json::json!({ "reboot_in_s": delay_s }))
        }
        other => cmds.kiosk(other),
    });
    if !ack.ok {
        actions.clear();
    }
    (ack, actions)
}

/// The link's implementation: the outbox, the marker and the kiosk's sink.
struct Commands<'a> {
    link: &'a mut Link,
}

impl LinkCommands for Commands<'_> {
    fn backlog(&mut self) -> Result<serde_json::Value, command::CmdError> {
        let b = drain::backlog(&self.link.conn).map_err(|e| (ErrorCode::Failed, e.to_string()))?;
        Ok(serde_json::json!({ "backlog": b.rows, "oldest_unsent_ms": b.oldest_created_ms }))
    }

    fn requeue(&mut self, from_seq: i64, to_seq: i64) -> Result<serde_json::Value, command::CmdError> {
        let r = self.link.marker.requeue(from_seq, to_seq).map_err(|e| (ErrorCode::BadArgs, e))?;
        if r.queued == 0 {
            return Err((ErrorCode::Pruned, format!("no rows of {from_seq}..={to_seq} are still on the device")));
        }
        Ok(serde_json::json!({ "queued": r.queued, "missing": r.missing }))
    }

    fn can_reboot(&self) -> bool {
        self.link.u.rebooter.is_some()
    }

    fn kiosk(&mut self, cmd: &Command) -> Result<serde_json::Value, command::CmdError> {
        self.link.u.commands.execute(cmd)
    }
}

impl Link {
    pub(super) fn on_publish(&mut self, s: &mut Session, topic: &str, payload: &[u8]) -> Result<(), LinkError> {
        let kind = match self.topics.classify(topic) {
            Incoming::Roster => DocKind::Roster,
            Incoming::Catalog => DocKind::Catalog,
            Incoming::Schedule => DocKind::Schedule,
            Incoming::Command => return self.on_command(s, payload),
            Incoming::Other => {
                warn!(topic, "message on an unexpected topic ignored");
                return Ok(());
            }
        };
        if payload.is_empty() {
            info!(kind = kind.as_str(), "retained document cleared by the hub; keeping the applied one");
            return Ok(());
        }
        let Some(key) = self.key else {
            self.reject(kind, "no hub public key configured".into());
            return Ok(());
        };
        let expect = Expect {
            kind,
            district: &self.u.config.district,
            centre: (kind == DocKind::Schedule).then_some(self.u.config.centre.as_str()),
            key: &key,
            max_bytes: self.u.config.max_downlink_bytes,
        };
        let sink: &mut dyn DocumentSink = self.u.documents.as_mut();
        match documents::handle(payload, &expect, sink) {
            Ok(a) => {
                info!(kind = kind.as_str(), version = a.version, items = a.items, "downlink document applied");
                self.with_status(|st| st.counters.downlink_applied += 1);
                self.notice(format!("{} v{} applied ({} items)", kind.as_str(), a.version, a.items));
            }
            Err(Rejected::NotNewer { current, offered }) if current == offered => {
                debug!(kind = kind.as_str(), version = offered, "document already applied");
            }
            Err(e) => self.reject(kind, e.to_string()),
        }
        Ok(())
    }

    fn reject(&self, kind: DocKind, reason: String) {
        warn!(kind = kind.as_str(), %reason, "downlink document rejected");
        self.with_status(|st| {
            st.counters.downlink_rejected += 1;
            st.last_rejected = Some(format!("{}: {reason}", kind.as_str()));
        });
    }

    fn on_command(&mut self, s: &mut Session, payload: &[u8]) -> Result<(), LinkError> {
        let now = self.now_ms();
        let max = self.u.config.max_downlink_bytes.min(64 * 1024);
        let mut recent = std::mem::take(&mut self.recent);
        let (ack, actions) = answer(payload, max, now, &mut recent, &mut Commands { link: self });
        self.recent = recent;
        self.with_status(|st| if ack.ok { st.counters.commands_ok += 1 } else { st.counters.commands_failed += 1 });
        if !ack.ok {
            warn!(id = ?ack.id, error = ?ack.error, "command refused");
        }
        self.publish(s, &self.topics.cmd_ack.clone(), QoS::AtLeastOnce, false, serde_json::to_vec(&ack).unwrap_or_default())?;
        for a in actions {
            match a {
                Action::Rewind { after_seq } => self.state.rewind(after_seq),
                Action::Drain => self.fill_session(s)?,
                Action::Reboot { delay_s } => {
                    // The loop stops at this time; the ack is already queued ahead of the goodbye.
                    let at = tokio::time::Instant::now() + Duration::from_secs(u64::from(delay_s));
                    self.reboot_at = Some(self.reboot_at.map_or(at, |t| t.min(at)));
                    info!(delay_s, "reboot scheduled by the hub");
                    self.notice(format!("reboot in {delay_s} s (hub command)"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Fake {
        requeued: Vec<(i64, i64)>,
        reboot: bool,
    }

    impl LinkCommands for Fake {
        fn backlog(&mut self) -> Result<serde_json::Value, command::CmdError> {
            Ok(serde_json::json!({ "backlog": 3 }))
        }
        fn requeue(&mut self, from_seq: i64, to_seq: i64) -> Result<serde_json::Value, command::CmdError> {
            self.requeued.push((from_seq, to_seq));
            Ok(serde_json::json!({ "queued": to_seq - from_seq + 1 }))
        }
        fn can_reboot(&self) -> bool {
            self.reboot
        }
        fn kiosk(&mut self, cmd: &Command) -> Result<serde_json::Value, command::CmdError> {
            Err((ErrorCode::Unsupported, cmd.name().to_string()))
        }
    }

    fn cmd(id: &str, name: &str, args: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "v": 1, "id": id, "cmd": name, "args": args })).unwrap()
    }

    #[test]
    fn a_resend_requeues_rewinds_the_cursor_and_drains() {
        let mut f = Fake::default();
        let (ack, actions) = answer(&cmd("c1", "resend", serde_json::json!({ "from_seq": 4, "to_seq": 9 })), 65536, 0, &mut RecentAcks::default(), &mut f);
        assert!(ack.ok, "{ack:?}");
        assert_eq!(f.requeued, vec![(4, 9)]);
        assert_eq!(actions, vec![Action::Rewind { after_seq: 3 }, Action::Drain]);
    }

    #[test]
    fn a_reboot_is_refused_by_a_device_that_cannot_reboot_and_asks_nothing_of_the_link() {
        let (ack, actions) = answer(&cmd("c2", "reboot", serde_json::json!({ "delay_s": 5 })), 65536, 0, &mut RecentAcks::default(), &mut Fake::default());
        assert!(!ack.ok);
        assert!(actions.is_empty());
        let mut f = Fake { reboot: true, ..Fake::default() };
        let (ack, actions) = answer(&cmd("c3", "reboot", serde_json::json!({ "delay_s": 5 })), 65536, 0, &mut RecentAcks::default(), &mut f);
        assert!(ack.ok);
        assert_eq!(actions, vec![Action::Reboot { delay_s: 5 }]);
    }

    #[test]
    fn sync_now_answers_the_backlog_and_drains() {
        let (ack, actions) = answer(&cmd("c4", "sync_now", serde_json::json!({})), 65536, 0, &mut RecentAcks::default(), &mut Fake::default());
        assert!(ack.ok);
        assert_eq!(ack.result.unwrap()["backlog"], 3);
        assert_eq!(actions, vec![Action::Drain]);
    }
}
