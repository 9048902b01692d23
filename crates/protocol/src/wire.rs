//! Payloads of protocol v1 as Rust types (status, telemetry, events batch,
//! command, command ack) and the streaming encoder of `events` batches.
//! Pure data and encoding: no I/O, no clock.

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Version of every payload in this file (`"v"` field).
pub const PROTOCOL_VERSION: u32 = 1;
/// Upper bound of the batch header (`v`, `stream`, `device`, `sent_ms`).
pub const BATCH_HEADER_MAX: usize = 256;

/// The largest payload of one record (bytes of JSON). Devices refuse to
/// store a larger one, and every uplink packet limit is above it, so any stored
/// record can always be sent.
pub const MAX_RECORD_BYTES: usize = 256 * 1024;
/// The kind a stored record too large to send travels as (`{"kind", "bytes"}`),
/// so its seq still reaches the hub and the queue behind it moves on.
pub const OVERSIZE_KIND: &str = "oversize";

/// Worst-case JSON overhead of one record around its payload (field names,
/// quotes, two 20-digit numbers); keeps the byte bound of a batch honest.
pub const RECORD_OVERHEAD: usize = 96;

/// One queued record as the device stores it and a batch carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutRow {
    pub seq: i64,
    pub id: String,
    pub kind: String,
    pub payload: String,
    pub priority: i64,
    pub created_ms: i64,
}

impl OutRow {
    /// An upper bound of this row's encoded size inside a batch.
    pub fn encoded_bound(&self) -> usize {
        self.payload.len() + self.id.len() + self.kind.len() + RECORD_OVERHEAD
    }
}

/// Free-space level of the device's data disk, as telemetry reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DiskLevel {
    #[default]
    Ok,
    /// Below `disk_low_bytes`: stop low-value rows, warn the technician.
    Low,
    /// Below `disk_critical_bytes`: also drop every acknowledged row.
    Critical,
}

/// Retained on `status`: `online` on connect, `offline` as the Last Will and on a clean stop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub v: u32,
    pub state: DeviceState,
    pub district: String,
    pub centre: String,
    pub device: String,
    pub boot_id: String,
    /// Present in `online` births only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth: Option<Birth>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceState {
    Online,
    Offline,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Birth {
    pub version: String,
    pub stream: String,
    pub backlog: u64,
    pub last_seq: i64,
    pub at_ms: i64,
    pub clock_synced: bool,
}

/// Published on `telemetry` at QoS 0 every `telemetry_interval_s`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Telemetry {
    pub v: u32,
    pub device: String,
    pub at_ms: i64,
    pub clock_synced: bool,
    pub cpu_temp_c: Option<f64>,
    pub disk_free_bytes: Option<u64>,
    pub disk_total_bytes: Option<u64>,
    pub disk_level: DiskLevel,
    pub mem_total_bytes: Option<u64>,
    pub mem_available_bytes: Option<u64>,
    pub rss_bytes: Option<u64>,
    pub backlog: u64,
    /// The highest seq this device has queued (as in the birth), so the hub
    /// sees a lost tail within one telemetry interval, not at the next birth.
    pub last_seq: i64,
    pub oldest_unsent_ms: Option<i64>,
    pub last_sync_ms: Option<i64>,
    pub cache: CacheState,
    pub counters: Counters,
}

/// Course-cache files by state (from the `cache_files` table).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheState {
    pub verified: u64,
    pub partial: u64,
    pub missing: u64,
    pub failed: u64,
    pub verified_bytes: u64,
}

/// Monotonic counters since the uplink started; the technician panel shows them too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub connects: u64,
    pub connect_failures: u64,
    pub batches_acked: u64,
    pub records_acked: u64,
    pub batches_resent: u64,
    pub downlink_applied: u64,
    pub downlink_rejected: u64,
    pub commands_ok: u64,
    pub commands_failed: u64,
    pub low_value_dropped: u64,
    /// Card reader (`hw::counters`): reads, bad reads, refused input, faults.
    #[serde(default)]
    pub reader_reads: u64,
    #[serde(default)]
    pub reader_glitches: u64,
    #[serde(default)]
    pub reader_rejects: u64,
    #[serde(default)]
    pub reader_faults: u64,
}

/// A command from the hub on `cmd`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandMsg {
    pub v: u32,
    /// Chosen by the hub, unique per command; repeated deliveries reuse it.
    pub id: String,
    pub cmd: String,
    #[serde(default)]
    pub args: serde_json::Value,
    /// The device refuses the command after this wall time (hub clock).
    #[serde(default)]
    pub expires_ms: Option<i64>,
}

/// The answer on `cmd/ack`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ack {
    pub v: u32,
    /// The command's id; null when the command was too broken to read one.
    pub id: Option<String>,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<AckError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckError {
    pub code: ErrorCode,
    pub message: String,
}

/// Machine-readable reasons a command failed (docs/protocol.md, "Error codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    TooLarge,
    UnknownCommand,
    BadArgs,
    Expired,
    Unsupported,
    Busy,
    NotFound,
    Pruned,
    Failed,
}

impl Ack {
    pub fn ok(id: &str, result: serde_json::Value) -> Self {
        Ack { v: PROTOCOL_VERSION, id: Some(id.to_string()), ok: true, result: Some(result), error: None }
    }
    pub fn err(id: Option<&str>, code: ErrorCode, message: impl Into<String>) -> Self {
        Ack { v: PROTOCOL_VERSION, id: id.map(str::to_string), ok: false, result: None, error: Some(AckError { code, message: message.into() }) }
    }
}

/// Writes one `events` message for `rows` into `out` (cleared first). A
/// payload that is not valid JSON (it should never be: the kiosk writes it)
/// is sent as a JSON string so one bad row cannot block the queue. Returns
/// how many payloads were not valid JSON.
pub fn encode_batch(out: &mut String, stream: &str, device: &str, sent_ms: i64, rows: &[OutRow]) -> usize {
    let mut w = BatchWriter::begin(out, stream, device, sent_ms);
    for r in rows {
        w.record(r.seq, &r.id, &r.kind, r.created_ms, &r.payload);
    }
    w.finish()
}

/// Streams one `events` message into a buffer record by record, so rows can
/// be encoded straight from SQLite without being copied first.
pub struct BatchWriter<'a> {
    out: &'a mut String,
    records: usize,
    invalid: usize,
}

impl<'a> BatchWriter<'a> {
    /// Clears `out` and writes the header.
    pub fn begin(out: &'a mut String, stream: &str, device: &str, sent_ms: i64) -> Self {
        out.clear();
        let _ = write!(out, "{{\"v\":{PROTOCOL_VERSION},\"stream\":");
        push_json_str(out, stream);
        out.push_str(",\"device\":");
        push_json_str(out, device);
        let _ = write!(out, ",\"sent_ms\":{sent_ms},\"records\":[");
        BatchWriter { out, records: 0, invalid: 0 }
    }

    /// Appends a record, checking that `payload` is JSON (else it goes as a JSON string).
    pub fn record(&mut self, seq: i64, id: &str, kind: &str, created_ms: i64, payload: &str) {
        if serde_json::from_str::<serde::de::IgnoredAny>(payload).is_ok() {
            self.record_json(seq, id, kind, created_ms, payload);
        } else {
            self.invalid += 1;
            let mut quoted = String::with_capacity(payload.len() + 2);
            push_json_str(&mut quoted, payload);
            self.record_json(seq, id, kind, created_ms, &quoted);
        }
    }

    /// Appends a record whose `payload` is known to be JSON: an outbox row,
    /// where the schema guarantees it (migration 4).
    pub fn record_json(&mut self, seq: i64, id: &str, kind: &str, created_ms: i64, payload: &str) {
        let out = &mut *self.out;
        if self.records > 0 {
            out.push(',');
        }
        self.records += 1;
        let mut n = itoa::Buffer::new();
        out.push_str("{\"seq\":");
        out.push_str(n.format(seq));
        out.push_str(",\"id\":");
        push_json_str(out, id);
        out.push_str(",\"kind\":");
        push_json_str(out, kind);
        out.push_str(",\"created_ms\":");
        out.push_str(n.format(created_ms));
        out.push_str(",\"payload\":");
        out.push_str(payload.trim());
        out.push('}');
    }

    /// Appends `payload` as the record, or, when it exceeds
    /// [`MAX_RECORD_BYTES`], an [`OVERSIZE_KIND`] placeholder naming its kind and size.
    pub fn record_bounded(&mut self, seq: i64, id: &str, kind: &str, created_ms: i64, payload: &str) {
        if payload.len() <= MAX_RECORD_BYTES {
            self.record_json(seq, id, kind, created_ms, payload);
        } else {
            let note = serde_json::json!({ "kind": kind, "bytes": payload.len() }).to_string();
            self.record_json(seq, id, OVERSIZE_KIND, created_ms, &note);
        }
    }

    pub fn records(&self) -> usize {
        self.records
    }

    /// Closes the message; returns how many payloads were sent as strings.
    pub fn finish(self) -> usize {
        self.out.push_str("]}");
        self.invalid
    }
}

/// Appends `s` as a JSON string; ids and kinds take the no-escape fast path.
fn push_json_str(out: &mut String, s: &str) {
    if s.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
    }
}

/// One record of an `events` batch as the hub reads it (the device stores it as an [`OutRow`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchRecord {
    pub seq: i64,
    pub id: String,
    pub kind: String,
    pub created_ms: i64,
    pub payload: serde_json::Value,
}

/// An `events` message as the hub reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub v: u32,
    pub stream: String,
    pub device: String,
    pub sent_ms: i64,
    pub records: Vec<BatchRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64, payload: &str) -> OutRow {
        OutRow { seq, id: format!("ID{seq}"), kind: "tap".into(), payload: payload.into(), priority: 0, created_ms: 7 }
    }

    #[test]
    fn an_encoded_batch_parses_back_with_every_record_in_order() {
        let mut s = String::new();
        let rows = [row(1, r#"{"uid":"04A1"}"#), row(2, r#"{"uid":"\"q\""}"#)];
        assert_eq!(encode_batch(&mut s, "S1", "pi\"1", 99, &rows), 0);
        let b: Batch = serde_json::from_str(&s).unwrap();
        assert_eq!(b.device, "pi\"1");
        assert_eq!(b.records.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(b.records[1].payload["uid"], "\"q\"");
    }

    #[test]
    fn a_corrupt_payload_travels_as_a_string_instead_of_breaking_the_batch() {
        let mut s = String::new();
        assert_eq!(encode_batch(&mut s, "S", "d", 1, &[row(1, "{not json")]), 1);
        let b: Batch = serde_json::from_str(&s).unwrap();
        assert_eq!(b.records[0].payload, serde_json::Value::String("{not json".into()));
    }

    #[test]
    fn the_encoded_size_stays_within_the_row_bounds() {
        let rows: Vec<_> = (1..=50).map(|i| row(i64::MAX - 100 + i, r#"{"a":"b"}"#)).collect();
        let mut s = String::new();
        encode_batch(&mut s, &"S".repeat(26), &"d".repeat(64), i64::MAX, &rows);
        let bound: usize = rows.iter().map(OutRow::encoded_bound).sum::<usize>() + BATCH_HEADER_MAX;
        assert!(s.len() <= bound, "{} > {}", s.len(), bound);
    }

    #[test]
    fn an_error_ack_names_its_code_in_snake_case() {
        let a = Ack::err(Some("c1"), ErrorCode::UnknownCommand, "no such command: fly");
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["error"]["code"], "unknown_command");
        assert!(v.get("result").is_none());
    }

    #[test]
    fn counters_without_reader_fields_from_an_older_device_still_parse() {
        let old = r#"{"connects":1,"connect_failures":0,"batches_acked":2,"records_acked":3,"batches_resent":0,"downlink_applied":0,"downlink_rejected":0,"commands_ok":0,"commands_failed":0,"low_value_dropped":0}"#;
        let c: Counters = serde_json::from_str(old).unwrap();
        assert_eq!((c.records_acked, c.reader_reads, c.reader_rejects), (3, 0, 0));
        let now = serde_json::to_value(Counters { reader_rejects: 4, ..Counters::default() }).unwrap();
        assert_eq!(now["reader_rejects"], 4);
    }
}
