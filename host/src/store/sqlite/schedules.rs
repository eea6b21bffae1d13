//! [`ScheduleStore`] in the SQLite file: a table of its own, created if
//! absent whenever the file opens (as the state machine tables are).

use rusqlite::params;
use time::OffsetDateTime;

use super::{SqliteStore, from_nanos, nanos, parse_json};
use crate::ops::trigger::{FileId, TriggerStore};
use crate::store::StoreError;
use crate::store::schedules::{ScheduleRecord, ScheduleStore};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS schedules (
    name TEXT PRIMARY KEY,
    expression TEXT NOT NULL,
    timezone TEXT NOT NULL,
    state_machine TEXT NOT NULL,
    input TEXT NOT NULL,
    flexible_window_minutes INTEGER,
    enabled INTEGER NOT NULL,
    created INTEGER NOT NULL,
    last_fire INTEGER
);
CREATE TABLE IF NOT EXISTS trigger_files (
    trigger_name TEXT NOT NULL,
    key TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime INTEGER NOT NULL,
    PRIMARY KEY (trigger_name, key, size, mtime)
);
";

type Row = (
    String,
    String,
    String,
    String,
    String,
    Option<u32>,
    bool,
    i64,
    Option<i64>,
);

impl ScheduleStore for SqliteStore {
    fn schedules(&self) -> Result<Vec<ScheduleRecord>, StoreError> {
        let conn = self.lock();
        let mut st = conn
            .prepare_cached(
                "SELECT name, expression, timezone, state_machine, input, \
                 flexible_window_minutes, enabled, created, last_fire FROM schedules ORDER BY name",
            )
            .map_err(|e| self.err(e))?;
        let rows: Vec<Row> = st
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            })
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| self.err(e))?;
        rows.into_iter()
            .map(
                |(name, expression, timezone, machine, input, window, enabled, created, last)| {
                    Ok(ScheduleRecord {
                        input: parse_json(&name, "input", &input)?,
                        created: from_nanos(&name, created)?,
                        last_fire: last.map(|n| from_nanos(&name, n)).transpose()?,
                        expression,
                        timezone,
                        state_machine: machine,
                        flexible_window_minutes: window,
                        enabled,
                        name,
                    })
                },
            )
            .collect()
    }

    fn put_schedule(&self, record: &ScheduleRecord) -> Result<bool, StoreError> {
        let at = record.name.as_str();
        let created = nanos(at, record.created)?;
        let conn = self.lock();
        let updated = conn
            .prepare_cached(
                "UPDATE schedules SET expression = ?2, timezone = ?3, state_machine = ?4, \
                 input = ?5, flexible_window_minutes = ?6, enabled = ?7 WHERE name = ?1",
            )
            .and_then(|mut st| {
                st.execute(params![
                    record.name,
                    record.expression,
                    record.timezone,
                    record.state_machine,
                    record.input.to_string(),
                    record.flexible_window_minutes,
                    record.enabled,
                ])
            })
            .map_err(|e| self.err(e))?;
        if updated > 0 {
            return Ok(true);
        }
        conn.prepare_cached(
            "INSERT INTO schedules (name, expression, timezone, state_machine, input, \
             flexible_window_minutes, enabled, created, last_fire) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL)",
        )
        .and_then(|mut st| {
            st.execute(params![
                record.name,
                record.expression,
                record.timezone,
                record.state_machine,
                record.input.to_string(),
                record.flexible_window_minutes,
                record.enabled,
                created,
            ])
        })
        .map_err(|e| self.err(e))?;
        Ok(false)
    }

    fn delete_schedule(&self, name: &str) -> Result<bool, StoreError> {
        let conn = self.lock();
        let n = conn
            .execute("DELETE FROM schedules WHERE name = ?1", [name])
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    fn set_schedule_enabled(&self, name: &str, enabled: bool) -> Result<bool, StoreError> {
        let conn = self.lock();
        let n = conn
            .execute(
                "UPDATE schedules SET enabled = ?2 WHERE name = ?1",
                params![name, enabled],
            )
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    fn claim_fire(&self, name: &str, at: OffsetDateTime) -> Result<bool, StoreError> {
        let when = nanos(name, at)?;
        let conn = self.lock();
        // One statement: SQLite runs it in a transaction of its own, so of
        // two hosts on this file exactly one moves the last fire to `at`.
        let n = conn
            .execute(
                "UPDATE schedules SET last_fire = ?2 \
                 WHERE name = ?1 AND (last_fire IS NULL OR last_fire < ?2)",
                params![name, when],
            )
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }
}

impl TriggerStore for SqliteStore {
    fn file_seen(&self, trigger: &str, file: &FileId) -> Result<bool, StoreError> {
        let conn = self.lock();
        let n: i64 = conn
            .prepare_cached(
                "SELECT COUNT(*) FROM trigger_files \
                 WHERE trigger_name = ?1 AND key = ?2 AND size = ?3 AND mtime = ?4",
            )
            .and_then(|mut st| {
                st.query_row(
                    params![trigger, file.key, size_of(file), file.mtime_nanos],
                    |r| r.get(0),
                )
            })
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    fn record_file(&self, trigger: &str, file: &FileId) -> Result<bool, StoreError> {
        let conn = self.lock();
        let n = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO trigger_files (trigger_name, key, size, mtime) \
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut st| {
                st.execute(params![trigger, file.key, size_of(file), file.mtime_nanos])
            })
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }
}

/// SQLite's integers are signed; no file is 2^63 bytes.
fn size_of(file: &FileId) -> i64 {
    i64::try_from(file.size).unwrap_or(i64::MAX)
}
