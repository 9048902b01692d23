//! Members, their roles and cards, and the course list as the kiosk reads
//! them. The roster is replaced as a whole when the hub sends a new version;
//! cards enrolled locally survive until the hub's roster knows them.

use super::{Result, Store, StoreError};
use crate::model::{CardUid, Course, Member, Role};
use rusqlite::{params, OptionalExtension, TransactionBehavior};

impl Store {
    /// Members on this device's roster.
    pub fn member_count(&self) -> Result<i64> {
        Ok(self.conn.query_row("SELECT count(*) FROM members", [], |r| r.get(0))?)
    }
}

impl Store {
    /// Replaces the roster atomically with `members` (version recorded in meta).
    pub fn replace_roster(&mut self, members: &[Member], version: u64) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Keep locally enrolled cards whose member is still on the roster.
        let local: Vec<(String, String, i64, Option<String>)> = {
            let mut st = tx.prepare("SELECT uid, member_id, enrolled_ms, reader_kind FROM cards WHERE source = 'local'")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        tx.execute_batch("DELETE FROM cards; DELETE FROM member_roles; DELETE FROM members;")?;
        {
            let mut ins_m = tx.prepare("INSERT INTO members (id, name, branch, home_centre, makeup) VALUES (?1, ?2, ?3, ?4, ?5)")?;
            let mut ins_r = tx.prepare("INSERT OR IGNORE INTO member_roles (member_id, role) VALUES (?1, ?2)")?;
            let mut ins_c = tx.prepare("INSERT INTO cards (uid, member_id, source) VALUES (?1, ?2, 'roster')")?;
            for m in members {
                if m.id.trim().is_empty() || m.name.trim().is_empty() {
                    return Err(StoreError::Invalid(format!("member {:?} has an empty id or name", m.id)));
                }
                // Member ids go into every record about the member.
                crate::core::limits::check_id("member id", &m.id).map_err(|err| StoreError::Invalid(format!("member {:?}: {err}", crate::core::limits::shorten(&m.id))))?;
                ins_m.execute(params![m.id, m.name, m.branch, m.home_centre, serde_json::to_string(&m.makeup)?])?;
                for role in &m.roles {
                    ins_r.execute(params![m.id, role.as_str()])?;
                }
                for c in &m.cards {
                    ins_c.execute(params![c.as_str(), m.id]).map_err(|e| match e.sqlite_error_code() {
                        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Invalid(format!("card {c} is listed for more than one member")),
                        _ => e.into(),
                    })?;
                }
            }
            let mut keep = tx.prepare(
                "INSERT OR IGNORE INTO cards (uid, member_id, source, enrolled_ms, reader_kind)
                 SELECT ?1, ?2, 'local', ?3, ?4 WHERE EXISTS (SELECT 1 FROM members WHERE id = ?2)",
            )?;
            for (uid, member, at, kind) in &local {
                keep.execute(params![uid, member, at, kind])?;
            }
        }
        tx.execute("INSERT INTO meta (key, value) VALUES ('roster_version', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [version.to_string()])?;
        tx.commit()?;
        Ok(())
    }

    /// Replaces the course list atomically.
    pub fn replace_courses(&mut self, courses: &[Course], version: u64) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM courses", [])?;
        {
            let mut ins = tx.prepare(
                "INSERT INTO courses (id, title, title_en, category, required, duration_s, credit_minutes, poster, files)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for c in courses {
                // Course ids go into play and completion records.
                crate::core::limits::check_id("course id", &c.id).map_err(|err| StoreError::Invalid(format!("course {:?}: {err}", crate::core::limits::shorten(&c.id))))?;
                ins.execute(params![c.id, c.title, c.title_en, c.category, c.required, c.duration_s, c.credit_minutes, c.poster, serde_json::to_string(&c.files)?])?;
            }
        }
        tx.execute("INSERT INTO meta (key, value) VALUES ('catalog_version', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [version.to_string()])?;
        tx.commit()?;
        Ok(())
    }

    /// The member holding `uid`, if any. One indexed query on an exact
    /// match (this runs on every tap); otherwise a 4-byte truncation of a
    /// 7-byte UID matches, when it is unambiguous (`truncation_match`).
    pub fn member_by_card(&self, uid: &CardUid) -> Result<Option<Member>> {
        if let Some(m) = self.member_where("m.id = (SELECT member_id FROM cards WHERE uid = ?1)", uid.as_str())? {
            return Ok(Some(m));
        }
        match self.truncation_match(uid)? {
            Some(member_id) => self.member(&member_id),
            None => Ok(None),
        }
    }

    /// Readers that only do the first cascade level report a 7-byte card as
    /// 4 bytes: its first four UID bytes, or the cascade tag 88 and the first
    /// three. A 4-byte read matches an enrolled 7-byte card either way, and a
    /// 7-byte read matches a card enrolled from such a reader; only when
    /// exactly one member holds a candidate card. Never matches random UIDs (08..).
    pub fn truncation_match(&self, uid: &CardUid) -> Result<Option<String>> {
        let u = uid.as_str();
        let sql = match u.len() {
            8 if !u.starts_with("08") => {
                "SELECT DISTINCT member_id FROM cards WHERE length(uid) = 14
                   AND (substr(uid, 1, 8) = ?1 OR ('88' || substr(uid, 1, 6)) = ?1) LIMIT 2"
            }
            14 => "SELECT DISTINCT member_id FROM cards WHERE uid IN (substr(?1, 1, 8), '88' || substr(?1, 1, 6)) LIMIT 2",
            _ => return Ok(None),
        };
        let mut st = self.conn.prepare_cached(sql)?;
        let ids = st.query_map([u], |r| r.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
        Ok(match &ids[..] {
            [one] => Some(one.clone()),
            [] => None,
            _ => {
                tracing::warn!(%uid, "card matches a truncated UID of several members: treated as unknown");
                None
            }
        })
    }

    /// The kind of reader a card was enrolled with, if it is enrolled and known.
    pub fn card_reader_kind(&self, uid: &CardUid) -> Result<Option<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT reader_kind FROM cards WHERE uid = ?1")?
            .query_row([uid.as_str()], |r| r.get::<_, Option<String>>(0))
            .optional()?
            .flatten())
    }

    pub fn member(&self, id: &str) -> Result<Option<Member>> {
        self.member_where("m.id = ?1", id)
    }

    fn member_where(&self, filter: &str, key: &str) -> Result<Option<Member>> {
        let sql = format!(
            "SELECT m.id, m.name, m.branch, m.home_centre, m.makeup,
                    (SELECT group_concat(role) FROM member_roles WHERE member_id = m.id),
                    (SELECT group_concat(uid) FROM cards WHERE member_id = m.id)
             FROM members m WHERE {filter}"
        );
        let row = self
            .conn
            .prepare_cached(&sql)?
            .query_row([key], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            })
            .optional()?;
        let Some((id, name, branch, home_centre, makeup, roles, cards)) = row else { return Ok(None) };
        let mut roles: Vec<Role> = roles.unwrap_or_default().split(',').filter_map(Role::parse).collect();
        roles.sort();
        let mut cards: Vec<CardUid> = cards.unwrap_or_default().split(',').filter_map(|s| CardUid::parse(s).ok()).collect();
        cards.sort();
        Ok(Some(Member { id, name, branch, home_centre, roles, cards, makeup: serde_json::from_str(&makeup).unwrap_or_default() }))
    }

    /// Members whose name or id contains `query` (for the enrolment picker).
    pub fn search_members(&self, query: &str, limit: usize) -> Result<Vec<Member>> {
        let ids: Vec<String> = {
            let mut st = self.conn.prepare_cached("SELECT id FROM members WHERE name LIKE ?1 OR id LIKE ?1 ORDER BY name LIMIT ?2")?;
            let pattern = format!("%{}%", query.replace('%', "").replace('_', ""));
            let rows = st.query_map(params![pattern, limit as i64], |r| r.get::<_, String>(0))?;
            rows.collect::<Result<Vec<_>, _>>()?
        };
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(m) = self.member(&id)? {
                out.push(m);
            }
        }
        Ok(out)
    }

    pub fn course(&self, id: &str) -> Result<Option<Course>> {
        self.courses_where("WHERE id = ?1", [id]).map(|mut v| v.pop())
    }

    /// All courses, required first, then by category and title.
    pub fn courses(&self) -> Result<Vec<Course>> {
        self.courses_where("", [])
    }

    fn courses_where<P: rusqlite::Params>(&self, filter: &str, p: P) -> Result<Vec<Course>> {
        let sql = format!("SELECT {COURSE_COLUMNS} FROM courses {filter} ORDER BY required DESC, category, title");
        let mut st = self.conn.prepare_cached(&sql)?;
        let rows = st.query_map(p, course_from_row)?;
        rows.map(|row| {
            let (mut c, files) = row?;
            c.files = serde_json::from_str(&files).unwrap_or_default();
            Ok(c)
        })
        .collect()
    }
}

/// Columns of `courses`, in the order `course_from_row` reads them.
pub const COURSE_COLUMNS: &str = "id, title, title_en, category, required, duration_s, credit_minutes, poster, files";

/// A `courses` row with its `files` JSON left as text, so each caller decides
/// how strictly to parse it.
pub fn course_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Course, String)> {
    Ok((
        Course {
            id: r.get(0)?,
            title: r.get(1)?,
            title_en: r.get(2)?,
            category: r.get(3)?,
            required: r.get(4)?,
            duration_s: r.get(5)?,
            credit_minutes: r.get(6)?,
            poster: r.get(7)?,
            files: Vec::new(),
        },
        r.get(8)?,
    ))
}
