//! Schema migrations: an append-only list keyed on `PRAGMA user_version`.
//! Never edit a released entry; add a new one at the end.

use rusqlite::{Connection, TransactionBehavior};

/// Each entry moves the schema from version `index` to `index + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;

CREATE TABLE members (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    branch      TEXT NOT NULL DEFAULT '',
    home_centre TEXT NOT NULL DEFAULT '',
    makeup      TEXT NOT NULL DEFAULT '[]'
) STRICT;

CREATE TABLE member_roles (
    member_id TEXT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    role      TEXT NOT NULL CHECK (role IN ('member', 'trainer', 'technician')),
    PRIMARY KEY (member_id, role)
) STRICT, WITHOUT ROWID;

CREATE TABLE cards (
    uid         TEXT PRIMARY KEY,
    member_id   TEXT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    source      TEXT NOT NULL DEFAULT 'roster' CHECK (source IN ('roster', 'local')),
    enrolled_ms INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX cards_member ON cards(member_id);

CREATE TABLE courses (
    id             TEXT PRIMARY KEY,
    title          TEXT NOT NULL,
    title_en       TEXT NOT NULL DEFAULT '',
    category       TEXT NOT NULL DEFAULT '',
    required       INTEGER NOT NULL DEFAULT 0 CHECK (required IN (0, 1)),
    duration_s     INTEGER NOT NULL CHECK (duration_s >= 0),
    credit_minutes INTEGER NOT NULL CHECK (credit_minutes >= 0),
    poster         TEXT,
    files          TEXT NOT NULL DEFAULT '[]'
) STRICT;

CREATE TABLE schedule (
    id         TEXT PRIMARY KEY,
    title      TEXT NOT NULL DEFAULT '',
    starts_ms  INTEGER NOT NULL,
    ends_ms    INTEGER NOT NULL,
    trainer_id TEXT,
    courses    TEXT NOT NULL DEFAULT '[]'
) STRICT;

CREATE TABLE cache_files (
    sha256         TEXT PRIMARY KEY,
    course_id      TEXT NOT NULL,
    url            TEXT NOT NULL,
    size           INTEGER NOT NULL,
    path           TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('missing', 'partial', 'verified', 'failed')),
    verified_ms    INTEGER,
    last_played_ms INTEGER,
    error          TEXT
) STRICT;
CREATE INDEX cache_files_course ON cache_files(course_id);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    trainer_id  TEXT NOT NULL,
    schedule_id TEXT,
    title       TEXT NOT NULL DEFAULT '',
    started_ms  INTEGER NOT NULL,
    ended_ms    INTEGER,
    end_reason  TEXT
) STRICT;

CREATE TABLE attendance (
    id               TEXT PRIMARY KEY,
    member_id        TEXT NOT NULL,
    session_id       TEXT,
    kind             TEXT NOT NULL CHECK (kind IN ('session', 'self_study')),
    in_ms            INTEGER NOT NULL,
    out_ms           INTEGER,
    credited_minutes INTEGER NOT NULL DEFAULT 0 CHECK (credited_minutes >= 0),
    year             INTEGER NOT NULL,
    mobile           INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;
-- Covering index: the yearly total is an index range scan.
CREATE INDEX attendance_ledger ON attendance(member_id, year, credited_minutes);
CREATE INDEX attendance_session ON attendance(session_id, member_id);

CREATE TABLE taps (
    id         TEXT PRIMARY KEY,
    uid        TEXT NOT NULL,
    member_id  TEXT,
    at_ms      INTEGER NOT NULL,
    synced     INTEGER NOT NULL DEFAULT 1,
    outcome    TEXT NOT NULL,
    session_id TEXT
) STRICT, WITHOUT ROWID;

CREATE TABLE plays (
    id          TEXT PRIMARY KEY,
    course_id   TEXT NOT NULL,
    session_id  TEXT,
    member_id   TEXT,
    started_ms  INTEGER NOT NULL,
    ended_ms    INTEGER NOT NULL,
    start_pos_s INTEGER NOT NULL,
    end_pos_s   INTEGER NOT NULL,
    watched_s   INTEGER NOT NULL CHECK (watched_s >= 0),
    completed   INTEGER NOT NULL CHECK (completed IN (0, 1))
) STRICT;

CREATE TABLE completions (
    member_id TEXT NOT NULL,
    course_id TEXT NOT NULL,
    year      INTEGER NOT NULL,
    at_ms     INTEGER NOT NULL,
    source    TEXT NOT NULL,
    PRIMARY KEY (member_id, year, course_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE ratings (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    member_id  TEXT NOT NULL,
    stars      INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5),
    at_ms      INTEGER NOT NULL,
    UNIQUE (session_id, member_id)
) STRICT;

CREATE TABLE survey_answers (
    id        TEXT PRIMARY KEY,
    member_id TEXT NOT NULL,
    topics    TEXT NOT NULL,
    at_ms     INTEGER NOT NULL
) STRICT;

CREATE TABLE clock_events (
    id       TEXT PRIMARY KEY,
    at_ms    INTEGER NOT NULL,
    jump_ms  INTEGER NOT NULL,
    synced   INTEGER NOT NULL
) STRICT;

-- The uplink queue. `seq` is the per-device sequence number the hub checks.
CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    priority   INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    sent_ms    INTEGER
) STRICT;
CREATE INDEX outbox_unsent ON outbox(seq) WHERE sent_ms IS NULL;
"#,
    // 2: acknowledgements no longer rewrite outbox rows (payload and all):
    // an acknowledged run of seqs is one row of `outbox_acked`, and
    // `outbox_state.acked_through` says every row up to it is acknowledged.
    // `outbox.sent_ms` is no longer written or read. "Unsent" is the view
    // `outbox_unsent`; existing acknowledgements move over as runs.
    r#"
CREATE TABLE outbox_acked (
    from_seq INTEGER PRIMARY KEY,
    to_seq   INTEGER NOT NULL CHECK (to_seq >= from_seq),
    sent_ms  INTEGER NOT NULL
) STRICT;

INSERT INTO outbox_acked (from_seq, to_seq, sent_ms)
SELECT min(seq), max(seq), max(sent_ms) FROM (
    SELECT seq, sent_ms, sent_ms / 60000 AS minute,
           seq - row_number() OVER (PARTITION BY sent_ms / 60000 ORDER BY seq) AS run
    FROM outbox WHERE sent_ms IS NOT NULL
) GROUP BY minute, run;

CREATE TABLE outbox_state (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    acked_through INTEGER NOT NULL
) STRICT;
INSERT INTO outbox_state (id, acked_through)
VALUES (1, coalesce((SELECT min(seq) - 1 FROM outbox WHERE sent_ms IS NULL), (SELECT max(seq) FROM outbox), 0));

DROP INDEX outbox_unsent;
CREATE VIEW outbox_unsent AS
SELECT o.* FROM outbox o
WHERE o.seq > (SELECT acked_through FROM outbox_state WHERE id = 1)
  AND coalesce((SELECT a.to_seq FROM outbox_acked a WHERE a.from_seq <= o.seq ORDER BY a.from_seq DESC LIMIT 1), 0) < o.seq;
"#,
    // 3: fewer B-tree pages written per tap. `outbox.id` is no longer UNIQUE
    // (ids are ULIDs made on the device, and the hub deduplicates on them) and
    // `seq` no longer AUTOINCREMENT (no `sqlite_sequence` write per message):
    // a new row takes max(highest row, `outbox_state.seq_floor`) + 1, and
    // pruning raises `seq_floor` to the highest seq it deletes, so a seq is
    // never given twice. `outbox.sent_ms` (unused since version 2) goes.
    r#"
ALTER TABLE outbox_state ADD COLUMN seq_floor INTEGER NOT NULL DEFAULT 0;
UPDATE outbox_state SET seq_floor = coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0);

DROP VIEW outbox_unsent;
CREATE TABLE outbox_v3 (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    priority   INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL
) STRICT;
INSERT INTO outbox_v3 (seq, id, kind, payload, priority, created_ms)
SELECT seq, id, kind, payload, priority, created_ms FROM outbox ORDER BY seq;
DROP TABLE outbox;
ALTER TABLE outbox_v3 RENAME TO outbox;

CREATE VIEW outbox_unsent AS
SELECT o.* FROM outbox o
WHERE o.seq > (SELECT acked_through FROM outbox_state WHERE id = 1)
  AND coalesce((SELECT a.to_seq FROM outbox_acked a WHERE a.from_seq <= o.seq ORDER BY a.from_seq DESC LIMIT 1), 0) < o.seq;
"#,
    // 4: every outbox payload is valid JSON, whoever writes it: a payload
    // that is not becomes a JSON string (as the drain used to send it), so
    // the drain copies payloads into batches without parsing each one.
    r#"
UPDATE outbox SET payload = json_quote(payload) WHERE NOT json_valid(payload);
CREATE TRIGGER outbox_payload_json_insert AFTER INSERT ON outbox WHEN NOT json_valid(NEW.payload)
BEGIN
    UPDATE outbox SET payload = json_quote(NEW.payload) WHERE seq = NEW.seq;
END;
CREATE TRIGGER outbox_payload_json_update AFTER UPDATE OF payload ON outbox WHEN NOT json_valid(NEW.payload)
BEGIN
    UPDATE outbox SET payload = json_quote(NEW.payload) WHERE seq = NEW.seq;
END;
"#,
    // 5: which kind of reader a locally enrolled card was read with
    // (mfrc522, usb, sim; hub for enrolments by hub command), so a district
    // with mixed readers can tell why a card does not match. NULL: unknown
    // (roster cards, enrolments before this version).
    r#"
ALTER TABLE cards ADD COLUMN reader_kind TEXT CHECK (reader_kind IS NULL OR reader_kind IN ('mfrc522', 'usb', 'sim', 'hub'));
"#,
];

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("database schema version {found} is newer than this program knows ({known}); upgrade microclass")]
    TooNew { found: i64, known: i64 },
    #[error("database schema version {found} was never written by microclass; refusing to change the file")]
    Invalid { found: i64 },
    #[error("migration to version {version} failed: {source}")]
    Failed { version: usize, source: rusqlite::Error },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// Applies every pending migration in one transaction.
pub fn migrate(conn: &mut Connection) -> Result<(), MigrationError> {
    let known = MIGRATIONS.len() as i64;
    // Read first, outside a write transaction: an up-to-date database is not
    // written to at all (a kiosk must start on a full disk).
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current == known {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current < 0 {
        return Err(MigrationError::Invalid { found: current });
    }
    if current > known {
        return Err(MigrationError::TooNew { found: current, known });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql).map_err(|source| MigrationError::Failed { version: i + 1, source })?;
    }
    tx.pragma_update(None, "user_version", known)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_a_no_op_and_sets_the_version() {
        let mut c = Connection::open_in_memory().unwrap();
        migrate(&mut c).unwrap();
        migrate(&mut c).unwrap();
        let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
    }

    #[test]
    fn a_negative_version_is_refused_not_overwritten() {
        let mut c = Connection::open_in_memory().unwrap();
        c.pragma_update(None, "user_version", -5).unwrap();
        assert!(matches!(migrate(&mut c), Err(MigrationError::Invalid { found: -5 })));
        let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, -5);
    }

    #[test]
    fn a_database_from_a_newer_program_is_refused() {
        let mut c = Connection::open_in_memory().unwrap();
        c.pragma_update(None, "user_version", 999).unwrap();
        assert!(matches!(migrate(&mut c), Err(MigrationError::TooNew { found: 999, .. })));
    }
}
