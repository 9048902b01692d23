//! Hub commands: parse a `cmd` payload into a typed `Command`, refuse bad
//! ones with a coded error, answer repeats of a command id with the first
//! answer, and hand the rest to an executor. It never panics on a payload
//! and never runs a command twice for one id.

use crate::wire::{Ack, CommandMsg, ErrorCode, PROTOCOL_VERSION};
use microclass_model::CardUid;
use serde::Deserialize;
use std::collections::VecDeque;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Drain the outbox now (skip the reconnect backoff) and report the backlog.
    SyncNow,
    EnrolCard { uid: CardUid, member_id: String },
    ReloadConfig,
    Screenshot,
    Reboot { delay_s: u32 },
    SetLogLevel { filter: String },
    /// Send the outbox rows `from_seq..=to_seq` again (same ids and seqs).
    Resend { from_seq: i64, to_seq: i64 },
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::SyncNow => "sync_now",
            Command::EnrolCard { .. } => "enrol_card",
            Command::ReloadConfig => "reload_config",
            Command::Screenshot => "screenshot",
            Command::Reboot { .. } => "reboot",
            Command::SetLogLevel { .. } => "set_log_level",
            Command::Resend { .. } => "resend",
        }
    }
}

/// A command's failure: code and a message for the hub operator.
pub type CmdError = (ErrorCode, String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrolArgs {
    uid: String,
    member_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RebootArgs {
    #[serde(default = "default_reboot_delay")]
    delay_s: u32,
}

fn default_reboot_delay() -> u32 {
    5
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogArgs {
    level: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResendArgs {
    from_seq: i64,
    to_seq: i64,
}

/// Log filters accepted by `set_log_level`: a level, or `target=level` pairs.
fn valid_filter(f: &str) -> bool {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    !f.is_empty()
        && f.len() <= 200
        && f.split(',').all(|part| {
            let level = part.rsplit('=').next().unwrap_or("");
            let target = part.strip_suffix(level).unwrap_or("").trim_end_matches('=');
            LEVELS.contains(&level) && target.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        })
}

fn args<T: for<'de> Deserialize<'de>>(v: &serde_json::Value) -> Result<T, CmdError> {
    let v = if v.is_null() { serde_json::json!({}) } else { v.clone() };
    serde_json::from_value(v).map_err(|e| (ErrorCode::BadArgs, e.to_string()))
}

/// Turns a message into a command, or the error to answer with.
pub fn parse(msg: &CommandMsg) -> Result<Command, CmdError> {
    if msg.v != PROTOCOL_VERSION {
        return Err((ErrorCode::BadRequest, format!("command version {} is not supported", msg.v)));
    }
    Ok(match msg.cmd.as_str() {
        "sync_now" => args::<NoArgs>(&msg.args).map(|_| Command::SyncNow)?,
        "reload_config" => args::<NoArgs>(&msg.args).map(|_| Command::ReloadConfig)?,
        "screenshot" => args::<NoArgs>(&msg.args).map(|_| Command::Screenshot)?,
        "enrol_card" => {
            let a: EnrolArgs = args(&msg.args)?;
            let uid = CardUid::parse(&a.uid).map_err(|e| (ErrorCode::BadArgs, e.to_string()))?;
            if a.member_id.trim().is_empty() || a.member_id.len() > 128 {
                return Err((ErrorCode::BadArgs, "member_id must be 1-128 characters".into()));
            }
            Command::EnrolCard { uid, member_id: a.member_id }
        }
        "reboot" => {
            let a: RebootArgs = args(&msg.args)?;
            if a.delay_s > 3600 {
                return Err((ErrorCode::BadArgs, "delay_s must be at most 3600".into()));
            }
            Command::Reboot { delay_s: a.delay_s }
        }
        "set_log_level" => {
            let a: LogArgs = args(&msg.args)?;
            if !valid_filter(&a.level) {
                return Err((ErrorCode::BadArgs, format!("{:?} is not a log filter (e.g. \"info\" or \"microclass::uplink=debug\")", a.level)));
            }
            Command::SetLogLevel { filter: a.level }
        }
        "resend" => {
            let a: ResendArgs = args(&msg.args)?;
            if a.from_seq < 1 || a.to_seq < a.from_seq {
                return Err((ErrorCode::BadArgs, "need 1 <= from_seq <= to_seq".into()));
            }
            Command::Resend { from_seq: a.from_seq, to_seq: a.to_seq }
        }
        other => {
            let shown: String = other.chars().take(64).collect();
            return Err((ErrorCode::UnknownCommand, format!("unknown command {shown:?}")));
        }
    })
}

/// The answers to the last few command ids, so a redelivered command is
/// answered again without running twice.
#[derive(Debug, Default)]
pub struct RecentAcks {
    acks: VecDeque<Ack>,
}

impl RecentAcks {
    const KEEP: usize = 64;

    fn find(&self, id: &str) -> Option<&Ack> {
        self.acks.iter().find(|a| a.id.as_deref() == Some(id))
    }

    fn remember(&mut self, ack: &Ack) {
        if ack.id.is_some() {
            if self.acks.len() == Self::KEEP {
                self.acks.pop_front();
            }
            self.acks.push_back(ack.clone());
        }
    }
}

/// The whole command path for one payload: size, JSON, fields, expiry,
/// repeats, then `exec`. Always returns the ack to publish.
pub fn respond(
    payload: &[u8],
    max_bytes: usize,
    now_ms: i64,
    recent: &mut RecentAcks,
    exec: impl FnOnce(&Command) -> Result<serde_json::Value, CmdError>,
) -> Ack {
    if payload.len() > max_bytes {
        return Ack::err(None, ErrorCode::TooLarge, format!("command of {} bytes exceeds {max_bytes}", payload.len()));
    }
    let value: serde_json::Value = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(e) => return Ack::err(None, ErrorCode::BadRequest, format!("not JSON: {e}")),
    };
    if !value.is_object() {
        return Ack::err(None, ErrorCode::BadRequest, "a command is a JSON object");
    }
    let id = value.get("id").and_then(|i| i.as_str()).filter(|i| !i.is_empty() && i.len() <= 128).map(str::to_string);
    let msg: CommandMsg = match serde_json::from_value(value) {
        Ok(m) => m,
        Err(e) => return Ack::err(id.as_deref(), ErrorCode::BadRequest, e.to_string()),
    };
    let Some(id) = id else {
        return Ack::err(None, ErrorCode::BadRequest, "id must be a string of 1-128 characters");
    };
    if let Some(prev) = recent.find(&id) {
        return prev.clone();
    }
    let ack = match msg.expires_ms {
        Some(exp) if exp < now_ms => Ack::err(Some(&id), ErrorCode::Expired, format!("expired at {exp}, now {now_ms}")),
        _ => match parse(&msg).and_then(|c| exec(&c)) {
            Ok(result) => Ack::ok(&id, result),
            Err((code, message)) => Ack::err(Some(&id), code, message),
        },
    };
    recent.remember(&ack);
    ack
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(payload: &str, recent: &mut RecentAcks) -> (Ack, Option<Command>) {
        let mut seen = None;
        let ack = respond(payload.as_bytes(), 4096, 1000, recent, |c| {
            seen = Some(c.clone());
            Ok(json!({"done": c.name()}))
        });
        (ack, seen)
    }

    #[test]
    fn a_good_enrol_command_runs_with_a_normalised_uid() {
        let (ack, cmd) = run(r#"{"v":1,"id":"c1","cmd":"enrol_card","args":{"uid":"04:a1:b2:c3","member_id":"m9"}}"#, &mut RecentAcks::default());
        assert!(ack.ok);
        assert_eq!(cmd, Some(Command::EnrolCard { uid: CardUid::parse("04A1B2C3").unwrap(), member_id: "m9".into() }));
    }

    #[test]
    fn a_redelivered_command_is_answered_again_without_running_twice() {
        let mut r = RecentAcks::default();
        let p = r#"{"v":1,"id":"c2","cmd":"sync_now"}"#;
        let (a1, ran1) = run(p, &mut r);
        let (a2, ran2) = run(p, &mut r);
        assert_eq!(a1, a2);
        assert!(ran1.is_some() && ran2.is_none());
    }

    #[test]
    fn broken_commands_get_coded_errors_and_never_run() {
        let cases = [
            ("{", ErrorCode::BadRequest, None),
            (r#"{"v":1,"cmd":"sync_now"}"#, ErrorCode::BadRequest, None),
            (r#"{"v":1,"id":"x","cmd":"fly"}"#, ErrorCode::UnknownCommand, Some("x")),
            (r#"{"v":2,"id":"x","cmd":"sync_now"}"#, ErrorCode::BadRequest, Some("x")),
            (r#"{"v":1,"id":"x","cmd":"sync_now","args":{"now":true}}"#, ErrorCode::BadArgs, Some("x")),
            (r#"{"v":1,"id":"x","cmd":"enrol_card","args":{"uid":"zz","member_id":"m"}}"#, ErrorCode::BadArgs, Some("x")),
            (r#"{"v":1,"id":"x","cmd":"set_log_level","args":{"level":"loud"}}"#, ErrorCode::BadArgs, Some("x")),
            (r#"{"v":1,"id":"x","cmd":"resend","args":{"from_seq":5,"to_seq":2}}"#, ErrorCode::BadArgs, Some("x")),
            (r#"{"v":1,"id":"x","cmd":"reboot","expires_ms":10}"#, ErrorCode::Expired, Some("x")),
            (r#"{"v":1,"id":"x","cmd":"reboot","extra":1}"#, ErrorCode::BadRequest, Some("x")),
        ];
        for (p, code, id) in cases {
            let (ack, ran) = run(p, &mut RecentAcks::default());
            assert!(!ack.ok, "{p}");
            assert_eq!(ack.error.as_ref().map(|e| e.code), Some(code), "{p}");
            assert_eq!(ack.id.as_deref(), id, "{p}");
            assert!(ran.is_none(), "{p}");
        }
    }

    #[test]
    fn an_oversized_command_is_refused_before_parsing() {
        let big = format!(r#"{{"v":1,"id":"x","cmd":"sync_now","pad":"{}"}}"#, "a".repeat(5000));
        let (ack, _) = run(&big, &mut RecentAcks::default());
        assert_eq!(ack.error.map(|e| e.code), Some(ErrorCode::TooLarge));
    }

    #[test]
    fn log_filters_accept_levels_and_targets_only() {
        assert!(valid_filter("debug"));
        assert!(valid_filter("info,microclass::uplink=trace"));
        assert!(!valid_filter("debug;rm -rf"));
        assert!(!valid_filter(""));
    }
}
