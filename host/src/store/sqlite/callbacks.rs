//! [`CallbackStore`] in the SQLite file: tables of their own, created if
//! absent when the file opens (like the machine tables), so older files
//! gain them and older hosts still open newer files.

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use super::{SqliteStore, from_nanos, nanos};
use crate::store::StoreError;
use crate::store::callbacks::{
    ActivityRecord, CallbackStore, TaskToken, TokenAnswer, TokenRefusal, TokenStatus,
};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS task_tokens (
    token TEXT PRIMARY KEY,
    execution_arn TEXT NOT NULL,
    key TEXT NOT NULL,
    activity_arn TEXT,
    input TEXT,
    status TEXT NOT NULL,
    worker_name TEXT,
    output TEXT,
    error TEXT,
    cause TEXT,
    heartbeat INTEGER,
    created INTEGER NOT NULL,
    version INTEGER NOT NULL,
    UNIQUE (execution_arn, key)
);
CREATE INDEX IF NOT EXISTS task_tokens_version ON task_tokens (version);
CREATE INDEX IF NOT EXISTS task_tokens_activity ON task_tokens (activity_arn, status, version);
CREATE TABLE IF NOT EXISTS activities (
    name TEXT PRIMARY KEY,
    creation_date INTEGER NOT NULL
);
";

const TOKEN_COLUMNS: &str = "token, execution_arn, key, activity_arn, input, status, worker_name, \
     output, error, cause, heartbeat, created, version";

/// The next value of the store-wide token counter.
const NEXT_VERSION: &str = "(SELECT COALESCE(MAX(version), 0) + 1 FROM task_tokens)";

struct RawToken {
    token: String,
    execution_arn: String,
    key: String,
    activity_arn: Option<String>,
    input: Option<String>,
    status: String,
    worker_name: Option<String>,
    output: Option<String>,
    error: Option<String>,
    cause: Option<String>,
    heartbeat: Option<i64>,
    created: i64,
    version: i64,
}

fn read_token(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawToken> {
    Ok(RawToken {
        token: r.get(0)?,
        execution_arn: r.get(1)?,
        key: r.get(2)?,
        activity_arn: r.get(3)?,
        input: r.get(4)?,
        status: r.get(5)?,
        worker_name: r.get(6)?,
        output: r.get(7)?,
        error: r.get(8)?,
        cause: r.get(9)?,
        heartbeat: r.get(10)?,
        created: r.get(11)?,
        version: r.get(12)?,
    })
}

impl RawToken {
    fn into_token(self) -> Result<TaskToken, StoreError> {
        let arn = self.execution_arn.as_str();
        let status = TokenStatus::parse(&self.status).ok_or_else(|| StoreError::Unreadable {
            arn: arn.to_owned(),
            detail: format!("task token status '{}'", self.status),
        })?;
        Ok(TaskToken {
            heartbeat: self.heartbeat.map(|n| from_nanos(arn, n)).transpose()?,
            created: from_nanos(arn, self.created)?,
            version: u64::try_from(self.version).unwrap_or(0),
            status,
            token: self.token,
            key: self.key,
            activity_arn: self.activity_arn,
            input: self.input,
            worker_name: self.worker_name,
            output: self.output,
            error: self.error,
            cause: self.cause,
            execution_arn: self.execution_arn,
        })
    }
}

impl SqliteStore {
    fn select_token(
        &self,
        conn: &Connection,
        token: &str,
    ) -> Result<Option<TaskToken>, StoreError> {
        let raw = conn
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM task_tokens WHERE token = ?1"
            ))
            .and_then(|mut st| st.query_row([token], read_token).optional())
            .map_err(|e| self.err(e))?;
        raw.map(RawToken::into_token).transpose()
    }
}

impl CallbackStore for SqliteStore {
    fn open_token(&self, token: &TaskToken) -> Result<TaskToken, StoreError> {
        let arn = token.execution_arn.as_str();
        let created = nanos(arn, token.created)?;
        let mut conn = self.lock();
        let tx = self.immediate(&mut conn)?;
        tx.execute(
            &format!(
                "INSERT OR IGNORE INTO task_tokens (token, execution_arn, key, activity_arn, \
                 input, status, created, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, {NEXT_VERSION})"
            ),
            params![
                token.token,
                token.execution_arn,
                token.key,
                token.activity_arn,
                token.input,
                TokenStatus::Waiting.as_str(),
                created
            ],
        )
        .map_err(|e| self.err(e))?;
        let raw = tx
            .query_row(
                &format!(
                    "SELECT {TOKEN_COLUMNS} FROM task_tokens WHERE execution_arn = ?1 AND key = ?2"
                ),
                params![token.execution_arn, token.key],
                read_token,
            )
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        raw.into_token()
    }

    fn token(&self, token: &str) -> Result<Option<TaskToken>, StoreError> {
        let conn = self.lock();
        self.select_token(&conn, token)
    }

    fn answer_token(
        &self,
        token: &str,
        answer: &TokenAnswer,
        at: OffsetDateTime,
    ) -> Result<Result<TaskToken, TokenRefusal>, StoreError> {
        let mut conn = self.lock();
        let tx = self.immediate(&mut conn)?;
        let Some(current) = self.select_token(&tx, token)? else {
            return Ok(Err(TokenRefusal::DoesNotExist));
        };
        let running: Option<String> = tx
            .query_row(
                "SELECT status FROM executions WHERE arn = ?1",
                [&current.execution_arn],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        if !current.status.is_open() || running.as_deref() != Some("RUNNING") {
            return Ok(Err(TokenRefusal::TimedOut));
        }
        let when = nanos(&current.execution_arn, at)?;
        let changed = match answer {
            TokenAnswer::Success(output) => tx.execute(
                &format!(
                    "UPDATE task_tokens SET status = ?2, output = ?3, version = {NEXT_VERSION} \
                     WHERE token = ?1"
                ),
                params![token, TokenStatus::Succeeded.as_str(), output],
            ),
            TokenAnswer::Failure { error, cause } => tx.execute(
                &format!(
                    "UPDATE task_tokens SET status = ?2, error = ?3, cause = ?4, \
                     version = {NEXT_VERSION} WHERE token = ?1"
                ),
                params![token, TokenStatus::Failed.as_str(), error, cause],
            ),
            TokenAnswer::Heartbeat => tx.execute(
                &format!(
                    "UPDATE task_tokens SET heartbeat = ?2, version = {NEXT_VERSION} WHERE token = ?1"
                ),
                params![token, when],
            ),
        };
        changed.map_err(|e| self.err(e))?;
        let updated = self.select_token(&tx, token)?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(updated.ok_or(TokenRefusal::DoesNotExist))
    }

    fn close_token(&self, token: &str) -> Result<(), StoreError> {
        let conn = self.lock();
        conn.execute(
            &format!(
                "UPDATE task_tokens SET status = ?2, version = {NEXT_VERSION} \
                 WHERE token = ?1 AND status IN ('WAITING', 'STARTED')"
            ),
            params![token, TokenStatus::Closed.as_str()],
        )
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn token_changes(&self, after: u64, limit: usize) -> Result<Vec<TaskToken>, StoreError> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let conn = self.lock();
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM task_tokens WHERE version > ?1 ORDER BY version LIMIT ?2"
            ))
            .map_err(|e| self.err(e))?;
        let raws = st
            .query_map(params![after, limit], read_token)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        raws.into_iter().map(RawToken::into_token).collect()
    }

    fn token_version(&self) -> Result<u64, StoreError> {
        let conn = self.lock();
        let version: i64 = conn
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM task_tokens",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        Ok(u64::try_from(version).unwrap_or(0))
    }

    fn take_activity_task(
        &self,
        activity_arn: &str,
        worker_name: Option<&str>,
    ) -> Result<Option<TaskToken>, StoreError> {
        let mut conn = self.lock();
        let tx = self.immediate(&mut conn)?;
        // The oldest waiting task of a RUNNING execution.
        let token: Option<String> = tx
            .query_row(
                "SELECT t.token FROM task_tokens t JOIN executions e ON e.arn = t.execution_arn \
                 WHERE t.activity_arn = ?1 AND t.status = 'WAITING' AND e.status = 'RUNNING' \
                 ORDER BY t.version LIMIT 1",
                [activity_arn],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some(token) = token else {
            return Ok(None);
        };
        tx.execute(
            &format!(
                "UPDATE task_tokens SET status = ?2, worker_name = ?3, version = {NEXT_VERSION} \
                 WHERE token = ?1"
            ),
            params![token, TokenStatus::Started.as_str(), worker_name],
        )
        .map_err(|e| self.err(e))?;
        let taken = self.select_token(&tx, &token)?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(taken)
    }

    fn put_activity(&self, record: &ActivityRecord) -> Result<ActivityRecord, StoreError> {
        let created = nanos(&record.name, record.creation_date)?;
        let mut conn = self.lock();
        let tx = self.immediate(&mut conn)?;
        tx.execute(
            "INSERT OR IGNORE INTO activities (name, creation_date) VALUES (?1, ?2)",
            params![record.name, created],
        )
        .map_err(|e| self.err(e))?;
        let stored: i64 = tx
            .query_row(
                "SELECT creation_date FROM activities WHERE name = ?1",
                [&record.name],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(ActivityRecord {
            name: record.name.clone(),
            creation_date: from_nanos(&record.name, stored)?,
        })
    }

    fn activity(&self, name: &str) -> Result<Option<ActivityRecord>, StoreError> {
        let conn = self.lock();
        let created: Option<i64> = conn
            .query_row(
                "SELECT creation_date FROM activities WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        created
            .map(|n| {
                Ok(ActivityRecord {
                    name: name.to_owned(),
                    creation_date: from_nanos(name, n)?,
                })
            })
            .transpose()
    }

    fn activities(&self) -> Result<Vec<ActivityRecord>, StoreError> {
        let conn = self.lock();
        let mut st = conn
            .prepare_cached("SELECT name, creation_date FROM activities ORDER BY name")
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        rows.into_iter()
            .map(|(name, n)| {
                Ok(ActivityRecord {
                    creation_date: from_nanos(&name, n)?,
                    name,
                })
            })
            .collect()
    }

    fn delete_activity(&self, name: &str) -> Result<bool, StoreError> {
        let conn = self.lock();
        let deleted = conn
            .execute("DELETE FROM activities WHERE name = ?1", [name])
            .map_err(|e| self.err(e))?;
        Ok(deleted == 1)
    }
}
