//! The PostgreSQL hub store for a district: the same tables and rules as the
//! SQLite store, safe for several ingest workers at once (record ids are the
//! primary key with ON CONFLICT DO NOTHING; watermarks and resend claims are
//! row-locked updates). It never talks MQTT.

use super::store::{scan, DeviceRow, Gap, HubStore, Origin, RecordRow, StoreError, Stored, GAPS_PER_STREAM};
use microclass_protocol::wire::{BatchRecord, DeviceState, Status};
use postgres::{Client, NoTls, Transaction};

/// The SQLite schema (`store.rs`) with PostgreSQL's types: one table layout for both.
fn schema() -> String {
    super::store::SCHEMA.replace("INTEGER", "BIGINT").replace("ok BIGINT", "ok BOOLEAN")
}

pub struct PgHub {
    client: Client,
}

impl PgHub {
    /// Connects with a libpq-style string (`host=/run/pg port=5432 user=hub dbname=hub`)
    /// and creates the tables. Concurrent first starts are serialised by an advisory lock.
    pub fn connect(params: &str) -> Result<PgHub, StoreError> {
        let mut client = Client::connect(params, NoTls)?;
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock(7201)", &[])?;
        tx.batch_execute(&schema())?;
        tx.commit()?;
        Ok(PgHub { client })
    }

    fn advance(tx: &mut Transaction<'_>, device: &str, stream: &str, now_ms: i64) -> Result<Vec<(i64, i64)>, postgres::Error> {
        let row = tx.query_one("SELECT watermark, max_seq FROM streams WHERE device = $1 AND stream = $2 FOR UPDATE", &[&device, &stream])?;
        let (wm, max): (i64, i64) = (row.get(0), row.get(1));
        let seqs: Vec<i64> = tx
            .query("SELECT seq FROM records WHERE device = $1 AND stream = $2 AND seq > $3 ORDER BY seq", &[&device, &stream, &wm])?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let (new_wm, gaps) = scan(wm, &seqs, max, GAPS_PER_STREAM);
        tx.execute(
            "UPDATE streams SET watermark = $3, gap_since_ms = CASE WHEN $4 THEN coalesce(gap_since_ms, $5) ELSE NULL END WHERE device = $1 AND stream = $2",
            &[&device, &stream, &new_wm, &!gaps.is_empty(), &now_ms],
        )?;
        Ok(gaps)
    }
}

impl HubStore for PgHub {
    fn insert_batch(&mut self, o: &Origin, stream: &str, records: &[BatchRecord], now_ms: i64) -> Result<Stored, StoreError> {
        let mut tx = self.client.transaction()?;
        // One statement per batch: the records travel as arrays (one round trip).
        let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        let seqs: Vec<i64> = records.iter().map(|r| r.seq).collect();
        let kinds: Vec<&str> = records.iter().map(|r| r.kind.as_str()).collect();
        let created: Vec<i64> = records.iter().map(|r| r.created_ms).collect();
        let payloads: Vec<String> = records.iter().map(|r| r.payload.to_string()).collect();
        let n = tx.execute(
            "INSERT INTO records (id, district, centre, device, stream, seq, kind, created_ms, received_ms, payload)
             SELECT id, $2, $3, $4, $5, seq, kind, created_ms, $6, payload
             FROM UNNEST($1::TEXT[], $7::BIGINT[], $8::TEXT[], $9::BIGINT[], $10::TEXT[]) AS t(id, seq, kind, created_ms, payload)
             ON CONFLICT (id) DO NOTHING",
            &[&ids, &o.district, &o.centre, &o.device, &stream, &now_ms, &seqs, &kinds, &created, &payloads],
        )? as usize;
        let out = Stored { inserted: n, duplicates: records.len() - n.min(records.len()) };
        let max = records.iter().map(|r| r.seq).max().unwrap_or(0);
        tx.execute(
            "INSERT INTO streams (device, stream, centre, max_seq) VALUES ($1, $2, $3, $4)
             ON CONFLICT (device, stream) DO UPDATE SET max_seq = GREATEST(streams.max_seq, excluded.max_seq)",
            &[&o.device, &stream, &o.centre, &max],
        )?;
        Self::advance(&mut tx, &o.device, stream, now_ms)?;
        // Last contact in the same transaction: one commit (one fsync) per batch.
        tx.execute(
            "INSERT INTO devices (device, district, centre, last_seen_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (device) DO UPDATE SET last_seen_ms = GREATEST(devices.last_seen_ms, excluded.last_seen_ms)",
            &[&o.device, &o.district, &o.centre, &now_ms],
        )?;
        tx.commit()?;
        Ok(out)
    }

    fn claim_gaps(&mut self, now_ms: i64, grace_ms: i64, retry_ms: i64) -> Result<Vec<Gap>, StoreError> {
        let open: Vec<(String, String, String)> =
            self.client.query("SELECT device, stream, centre FROM streams WHERE watermark < max_seq", &[])?.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect();
        let mut out = Vec::new();
        for (device, stream, centre) in open {
            let mut tx = self.client.transaction()?;
            let gaps = Self::advance(&mut tx, &device, &stream, now_ms)?;
            let claimed = tx.execute(
                "UPDATE streams SET last_resend_ms = $3 WHERE device = $1 AND stream = $2 AND gap_since_ms <= $4 AND (last_resend_ms = 0 OR last_resend_ms <= $5)",
                &[&device, &stream, &now_ms, &(now_ms - grace_ms), &(now_ms - retry_ms)],
            )?;
            tx.commit()?;
            if claimed == 1 {
                out.extend(gaps.into_iter().map(|(f, t)| Gap { centre: centre.clone(), device: device.clone(), stream: stream.clone(), from_seq: f, to_seq: t }));
            }
        }
        Ok(out)
    }

    fn record_command(&mut self, id: &str, g: &Gap, now_ms: i64) -> Result<(), StoreError> {
        self.client.execute(
            "INSERT INTO commands (id, device, stream, from_seq, to_seq, sent_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
            &[&id, &g.device, &g.stream, &g.from_seq, &g.to_seq, &now_ms],
        )?;
        Ok(())
    }

    fn command_answered(&mut self, id: &str, ok: bool, code: Option<&str>, now_ms: i64) -> Result<bool, StoreError> {
        let mut tx = self.client.transaction()?;
        let row = tx.query_opt("UPDATE commands SET answered_ms = $2, ok = $3, code = $4 WHERE id = $1 RETURNING device, stream, to_seq", &[&id, &now_ms, &ok, &code])?;
        let mut closed = false;
        if let (Some(row), false, Some("pruned")) = (row, ok, code) {
            let (device, stream, to): (String, String, i64) = (row.get(0), row.get(1), row.get(2));
            tx.execute("UPDATE streams SET watermark = GREATEST(watermark, $3) WHERE device = $1 AND stream = $2", &[&device, &stream, &to])?;
            Self::advance(&mut tx, &device, &stream, now_ms)?;
            closed = true;
        }
        tx.commit()?;
        Ok(closed)
    }

    fn device_status(&mut self, o: &Origin, s: &Status, now_ms: i64) -> Result<(), StoreError> {
        let state = match s.state { DeviceState::Online => "online", DeviceState::Offline => "offline" };
        let (version, backlog) = s.birth.as_ref().map(|b| (b.version.clone(), b.backlog as i64)).unwrap_or_default();
        self.client.execute(
            "INSERT INTO devices (device, district, centre, state, boot_id, version, backlog, last_seen_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (device) DO UPDATE SET centre = excluded.centre, state = excluded.state, boot_id = excluded.boot_id,
               version = CASE WHEN excluded.version = '' THEN devices.version ELSE excluded.version END,
               backlog = CASE WHEN excluded.state = 'online' THEN excluded.backlog ELSE devices.backlog END,
               last_seen_ms = GREATEST(devices.last_seen_ms, excluded.last_seen_ms)",
            &[&o.device, &o.district, &o.centre, &state, &s.boot_id, &version, &backlog, &now_ms],
        )?;
        // The birth tells how far the device has written: a missing tail is a gap too.
        if let Some(b) = s.birth.as_ref().filter(|b| b.last_seq > 0) {
            let mut tx = self.client.transaction()?;
            tx.execute(
                "INSERT INTO streams (device, stream, centre, max_seq) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (device, stream) DO UPDATE SET max_seq = GREATEST(streams.max_seq, excluded.max_seq)",
                &[&o.device, &b.stream, &o.centre, &b.last_seq],
            )?;
            Self::advance(&mut tx, &o.device, &b.stream, now_ms)?;
            tx.commit()?;
        }
        Ok(())
    }

    fn device_seen(&mut self, o: &Origin, backlog: Option<u64>, now_ms: i64) -> Result<(), StoreError> {
        let backlog = backlog.map(|b| b as i64);
        self.client.execute(
            "INSERT INTO devices (device, district, centre, backlog, last_seen_ms) VALUES ($1, $2, $3, coalesce($4::BIGINT, 0), $5)
             ON CONFLICT (device) DO UPDATE SET last_seen_ms = GREATEST(devices.last_seen_ms, excluded.last_seen_ms), backlog = coalesce($4::BIGINT, devices.backlog)",
            &[&o.device, &o.district, &o.centre, &backlog, &now_ms],
        )?;
        Ok(())
    }

    fn devices(&mut self) -> Result<Vec<DeviceRow>, StoreError> {
        let rows = self.client.query(
            "SELECT d.centre, d.device, d.state, d.version, d.backlog, d.last_seen_ms,
               (SELECT count(*) FROM records r WHERE r.device = d.device),
               (SELECT coalesce(sum(max_seq - watermark), 0)::BIGINT FROM streams s WHERE s.device = d.device)
             FROM devices d ORDER BY d.centre, d.device",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| DeviceRow { centre: r.get(0), device: r.get(1), state: r.get(2), version: r.get(3), backlog: r.get(4), last_seen_ms: r.get(5), records: r.get(6), missing: r.get(7) })
            .collect())
    }

    fn each_record(&mut self, kinds: &[&str], f: &mut dyn FnMut(RecordRow)) -> Result<(), StoreError> {
        use postgres::fallible_iterator::FallibleIterator;
        for k in kinds {
            let mut rows = self.client.query_raw("SELECT centre, device, kind, payload FROM records WHERE kind = $1", [k])?;
            while let Some(r) = rows.next()? {
                let payload: String = r.get(3);
                let payload = serde_json::from_str(&payload).unwrap_or(serde_json::Value::String(payload));
                f(RecordRow { centre: r.get(0), device: r.get(1), kind: r.get(2), payload });
            }
        }
        Ok(())
    }

    fn record_count(&mut self) -> Result<i64, StoreError> {
        Ok(self.client.query_one("SELECT count(*) FROM records", &[])?.get(0))
    }
}
