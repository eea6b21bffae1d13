//! The SQLite store: one file (by default `.sandstep/executions.db` beside
//! the pipeline) that several `host` processes on one machine may share.
//!
//! WAL journal, `synchronous=FULL` by default (a commit survives power loss,
//! not only a killed process), a busy timeout so processes take turns, write
//! transactions begun IMMEDIATE so two writers never deadlock on a lock
//! upgrade. Events are rows with their key columns; a partial unique index
//! keeps one live (not superseded) event per key.
//!
//! The file is marked with an `application_id` and a `user_version`. Opening
//! refuses, before writing a byte: a file that is not SQLite, an SQLite file
//! of another application, one from a newer schema, and a corrupt one.

mod callbacks;
mod machines;
mod schedules;

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{
    Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior, params,
};
use serde_json::Value;
use time::OffsetDateTime;

use super::{
    ExecutionRecord, ExecutionStatus, Finish, StopRequest, Store, StoreError, StoredEvent, Write,
    kind_str, parse_kind,
};
use crate::engine::history::HistoryEvent;
use crate::engine::journal::{EventKey, KeyedEvent};

/// The schema this build reads and writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

/// Marks the file as Sandstep's (`PRAGMA application_id`, "Step").
const APPLICATION_ID: i64 = 0x5374_6570;

/// How long a process waits for another one's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const SCHEMA: &str = "
CREATE TABLE executions (
    id INTEGER PRIMARY KEY,
    arn TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    state_machine_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    definition TEXT NOT NULL,
    manifest TEXT,
    options TEXT NOT NULL,
    input TEXT NOT NULL,
    status TEXT NOT NULL,
    output TEXT,
    error TEXT,
    cause TEXT,
    start_date INTEGER NOT NULL,
    stop_date INTEGER,
    redrive_count INTEGER NOT NULL,
    redrive_date INTEGER,
    owner TEXT,
    stop_requested INTEGER NOT NULL,
    stop_error TEXT,
    stop_cause TEXT
);
CREATE INDEX executions_name ON executions (name);
CREATE INDEX executions_start ON executions (start_date);
CREATE INDEX executions_status ON executions (status, start_date);
CREATE TABLE events (
    execution INTEGER NOT NULL REFERENCES executions (id),
    id INTEGER NOT NULL,
    previous_event_id INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    type TEXT NOT NULL,
    details_member TEXT,
    details TEXT,
    frame TEXT NOT NULL,
    visit INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    superseded INTEGER NOT NULL,
    PRIMARY KEY (execution, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX events_live_key ON events (execution, frame, visit, seq) WHERE superseded = 0;
";

const RECORD_COLUMNS: &str = "arn, name, state_machine_name, kind, definition, manifest, options, \
     input, status, output, error, cause, start_date, stop_date, redrive_count, redrive_date, \
     owner, stop_requested, stop_error, stop_cause";

/// Where a pipeline in directory `beside` keeps its executions:
/// `<beside>/.sandstep/executions.db`.
pub fn default_path(beside: &Path) -> PathBuf {
    beside.join(".sandstep").join("executions.db")
}

/// How hard a commit goes to disk (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// Every commit is on disk before it returns: survives power loss.
    #[default]
    Full,
    /// Commits survive a killed process, and the last ones may be lost on
    /// power loss (WAL is synced at checkpoints only).
    Normal,
}

/// A [`Store`] in one SQLite file.
pub struct SqliteStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens the store at `path`, creating it (and its directory) when
    /// absent, with `synchronous=FULL`.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, Synchronous::Full)
    }

    pub fn open_with(
        path: impl AsRef<Path>,
        synchronous: Synchronous,
    ) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        match fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                return Err(io(std::io::Error::other("it is a directory, not a file")));
            }
            Ok(_) => check_header(&path)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                        path: dir.to_path_buf(),
                        source,
                    })?;
                }
            }
            Err(e) => return Err(io(e)),
        }
        let store = SqliteStore {
            conn: Mutex::new(Connection::open(&path).map_err(|e| sql_error(&path, e))?),
            path,
        };
        store.init(synchronous)?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks the file is ours (creating the schema in an empty one) before
    /// anything writes to it, then sets the journal and sync modes.
    fn init(&self, synchronous: Synchronous) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let e = |e| sql_error(&self.path, e);
        conn.busy_timeout(BUSY_TIMEOUT).map_err(e)?;
        conn.set_prepared_statement_cache_capacity(32);
        {
            // IMMEDIATE: two processes creating the file at once take turns,
            // and the second sees the first's schema.
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(e)?;
            let app_id: i64 = tx
                .query_row("PRAGMA application_id", [], |r| r.get(0))
                .map_err(e)?;
            let version: i64 = tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(e)?;
            let tables = table_names(&tx).map_err(e)?;
            if app_id == APPLICATION_ID {
                if version > SCHEMA_VERSION {
                    return Err(StoreError::NewerVersion {
                        path: self.path.clone(),
                        found: version,
                        supported: SCHEMA_VERSION,
                    });
                }
                let ours = ["events", "executions"];
                if version < SCHEMA_VERSION || !ours.iter().all(|t| tables.iter().any(|n| n == t)) {
                    return Err(StoreError::Corrupt {
                        path: self.path.clone(),
                        detail: format!(
                            "schema version {version} with tables [{}]",
                            tables.join(", ")
                        ),
                    });
                }
            } else if app_id == 0 && version == 0 && tables.is_empty() {
                tx.execute_batch(SCHEMA).map_err(e)?;
                tx.pragma_update(None, "application_id", APPLICATION_ID)
                    .map_err(e)?;
                tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                    .map_err(e)?;
                tx.commit().map_err(e)?;
            } else {
                return Err(StoreError::ForeignDatabase {
                    path: self.path.clone(),
                    tables,
                });
            }
        }
        // The file is ours: the state machine tables are added if absent.
        conn.execute_batch(machines::SCHEMA).map_err(e)?;
        conn.execute_batch(callbacks::SCHEMA).map_err(e)?;
        conn.execute_batch(schedules::SCHEMA).map_err(e)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(e)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %self.path.display(), mode, "the store could not use a WAL journal");
        }
        let sync = match synchronous {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", sync).map_err(e)?;
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic mid-transaction drops the transaction (rolled back): the
        // connection itself stays usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        sql_error(&self.path, e)
    }

    fn immediate<'c>(&self, conn: &'c mut Connection) -> Result<Transaction<'c>, StoreError> {
        conn.transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))
    }

    /// The row id and status of `arn`.
    fn find(&self, tx: &Connection, arn: &str) -> Result<(i64, ExecutionStatus), StoreError> {
        let found: Option<(i64, String)> = tx
            .prepare_cached("SELECT id, status FROM executions WHERE arn = ?1")
            .and_then(|mut st| {
                st.query_row([arn], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| self.err(e))?;
        let (id, status) =
            found.ok_or_else(|| StoreError::ExecutionDoesNotExist { id: arn.to_owned() })?;
        Ok((id, parse_status(arn, &status)?))
    }

    /// Inserts a new execution's row and returns its row id.
    fn insert_execution(
        &self,
        tx: &Connection,
        record: &ExecutionRecord,
    ) -> Result<i64, StoreError> {
        let arn = &record.arn;
        let manifest = match &record.manifest {
            Some(path) => Some(path.to_str().ok_or_else(|| StoreError::Invalid {
                arn: arn.clone(),
                detail: format!("manifest path '{}' is not UTF-8", path.display()),
            })?),
            None => None,
        };
        let stop = record.stop_request.as_ref();
        let inserted = tx
            .prepare_cached(&format!(
                "INSERT INTO executions ({RECORD_COLUMNS}) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
            ))
            .and_then(|mut st| {
                st.execute(params![
                    arn,
                    record.name,
                    record.state_machine_name,
                    kind_str(record.kind),
                    record.definition,
                    manifest,
                    json_text(&record.options),
                    json_text(&record.input),
                    record.status.as_str(),
                    record.output.as_ref().map(json_text),
                    record.error,
                    record.cause,
                    nanos(arn, record.start_date).map_err(to_sql_error)?,
                    record
                        .stop_date
                        .map(|d| nanos(arn, d))
                        .transpose()
                        .map_err(to_sql_error)?,
                    record.redrive_count,
                    record
                        .redrive_date
                        .map(|d| nanos(arn, d))
                        .transpose()
                        .map_err(to_sql_error)?,
                    record.owner,
                    stop.is_some(),
                    stop.and_then(|s| s.error.as_deref()),
                    stop.and_then(|s| s.cause.as_deref()),
                ])
            });
        match inserted {
            Ok(_) => {}
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
                return Err(StoreError::ExecutionAlreadyExists { arn: arn.clone() });
            }
            Err(e) => return Err(self.err(e)),
        }
        Ok(tx.last_insert_rowid())
    }

    fn insert_events(
        &self,
        tx: &Connection,
        arn: &str,
        execution: i64,
        events: &[KeyedEvent],
    ) -> Result<(), StoreError> {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO events (execution, id, previous_event_id, timestamp, type, \
                 details_member, details, frame, visit, seq, superseded) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0)",
            )
            .map_err(|e| self.err(e))?;
        for KeyedEvent { key, event } in events {
            let (member, details) = match &event.details {
                Some((member, value)) => (Some(member.as_ref()), Some(json_text(value))),
                None => (None, None),
            };
            let result = insert.execute(params![
                execution,
                to_i64(arn, "event id", event.id)?,
                to_i64(arn, "previous event id", event.previous_event_id)?,
                nanos(arn, event.timestamp)?,
                event.kind.as_ref(),
                member,
                details,
                key.frame.as_ref(),
                key.visit,
                key.seq,
            ]);
            match result {
                Ok(_) => {}
                Err(e) if e.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
                    return Err(StoreError::DuplicateEvent {
                        arn: arn.to_owned(),
                        id: event.id,
                        frame: key.frame.to_string(),
                        visit: key.visit,
                        seq: key.seq,
                    });
                }
                Err(e) => return Err(self.err(e)),
            }
        }
        Ok(())
    }

    fn finish(&self, tx: &Connection, execution: i64, finish: &Finish) -> Result<(), StoreError> {
        let arn = &finish.arn;
        tx.prepare_cached(
            "UPDATE executions SET status = ?2, output = ?3, error = ?4, cause = ?5, \
             stop_date = ?6, owner = NULL WHERE id = ?1 AND status = 'RUNNING'",
        )
        .and_then(|mut st| {
            st.execute(params![
                execution,
                finish.status.as_str(),
                finish.output.as_ref().map(json_text),
                finish.error,
                finish.cause,
                nanos(arn, finish.stop_date).map_err(to_sql_error)?,
            ])
        })
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn select_records(
        &self,
        conn: &Connection,
        filter: &str,
        param: Option<&str>,
    ) -> Result<Vec<ExecutionRecord>, StoreError> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS}, \
             (SELECT COALESCE(MAX(e.id), 0) FROM events e WHERE e.execution = executions.id) \
             FROM executions {filter} ORDER BY start_date DESC, id DESC"
        );
        let mut st = conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let rows = match param {
            Some(p) => st.query_map([p], RawRecord::read),
            None => st.query_map([], RawRecord::read),
        }
        .map_err(|e| self.err(e))?;
        let mut records = Vec::new();
        for raw in rows {
            records.push(raw.map_err(|e| self.err(e))?.into_record()?);
        }
        Ok(records)
    }
}

impl Store for SqliteStore {
    fn write(&self, writes: &[Write]) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let mut conn = self.lock();
        let tx = self.immediate(&mut conn)?;
        let mut ids: HashMap<&str, i64> = HashMap::new();
        for write in writes {
            let arn = write.arn();
            let execution = match (write, ids.get(arn)) {
                (Write::Create { record, .. }, _) => {
                    let id = self.insert_execution(&tx, record)?;
                    ids.insert(arn, id);
                    id
                }
                (_, Some(&id)) => id,
                (_, None) => {
                    let (id, _) = self.find(&tx, arn)?;
                    ids.insert(arn, id);
                    id
                }
            };
            match write {
                Write::Create { events, .. } | Write::Events { events, .. } => {
                    self.insert_events(&tx, arn, execution, events)?
                }
                Write::Finish(finish) => self.finish(&tx, execution, finish)?,
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    fn get(&self, id: &str) -> Result<ExecutionRecord, StoreError> {
        let conn = self.lock();
        let mut found = self.select_records(&conn, "WHERE arn = ?1", Some(id))?;
        if found.is_empty() {
            found = self.select_records(&conn, "WHERE name = ?1", Some(id))?;
        }
        single(id, found)
    }

    fn list(&self, status: Option<ExecutionStatus>) -> Result<Vec<ExecutionRecord>, StoreError> {
        let conn = self.lock();
        match status {
            Some(status) => self.select_records(&conn, "WHERE status = ?1", Some(status.as_str())),
            None => self.select_records(&conn, "", None),
        }
    }

    fn events(&self, arn: &str) -> Result<Vec<StoredEvent>, StoreError> {
        let conn = self.lock();
        let (execution, _) = self.find(&conn, arn)?;
        let mut st = conn
            .prepare_cached(
                "SELECT id, previous_event_id, timestamp, type, details_member, details, \
                 frame, visit, seq, superseded FROM events WHERE execution = ?1 ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([execution], |r| {
                Ok(RawEvent {
                    id: r.get(0)?,
                    previous_event_id: r.get(1)?,
                    timestamp: r.get(2)?,
                    kind: r.get(3)?,
                    member: r.get(4)?,
                    details: r.get(5)?,
                    frame: r.get(6)?,
                    visit: r.get(7)?,
                    seq: r.get(8)?,
                    superseded: r.get(9)?,
                })
            })
            .map_err(|e| self.err(e))?;
        // Events of one frame share its name.
        let mut frames: HashMap<String, Arc<str>> = HashMap::new();
        let mut events = Vec::new();
        for raw in rows {
            let mut raw = raw.map_err(|e| self.err(e))?;
            let frame = frames
                .entry(std::mem::take(&mut raw.frame))
                .or_insert_with_key(|f| Arc::from(f.as_str()))
                .clone();
            events.push(raw.into_event(arn, frame)?);
        }
        Ok(events)
    }

    fn claim(
        &self,
        arn: &str,
        expected_owner: Option<&str>,
        new_owner: &str,
    ) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = self.immediate(&mut conn)?;
        let (execution, _) = self.find(&tx, arn)?;
        let changed = tx
            .prepare_cached(
                "UPDATE executions SET owner = ?3 \
                 WHERE id = ?1 AND status = 'RUNNING' AND owner IS ?2",
            )
            .and_then(|mut st| st.execute(params![execution, expected_owner, new_owner]))
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(changed == 1)
    }

    fn request_stop(&self, arn: &str, request: &StopRequest) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = self.immediate(&mut conn)?;
        let (execution, _) = self.find(&tx, arn)?;
        let changed = tx
            .prepare_cached(
                "UPDATE executions SET stop_requested = 1, stop_error = ?2, stop_cause = ?3 \
                 WHERE id = ?1 AND status = 'RUNNING'",
            )
            .and_then(|mut st| st.execute(params![execution, request.error, request.cause]))
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(changed == 1)
    }

    fn stop_requests(&self, owner: &str) -> Result<Vec<(String, StopRequest)>, StoreError> {
        let conn = self.lock();
        let mut st = conn
            .prepare_cached(
                "SELECT arn, stop_error, stop_cause FROM executions \
                 WHERE status = 'RUNNING' AND stop_requested = 1 AND owner = ?1",
            )
            .map_err(|e| self.err(e))?;
        st.query_map([owner], |r| {
            Ok((
                r.get(0)?,
                StopRequest {
                    error: r.get(1)?,
                    cause: r.get(2)?,
                },
            ))
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| self.err(e))
    }

    fn redrive(
        &self,
        arn: &str,
        new_owner: &str,
        superseded_ids: &[u64],
        redriven_event: &KeyedEvent,
        date: OffsetDateTime,
    ) -> Result<u32, StoreError> {
        let mut conn = self.lock();
        let tx = self.immediate(&mut conn)?;
        let (execution, status) = self.find(&tx, arn)?;
        if let Some(reason) = status.redrive_refusal() {
            return Err(StoreError::ExecutionNotRedrivable {
                arn: arn.to_owned(),
                reason,
            });
        }
        {
            let mut supersede = tx
                .prepare_cached("UPDATE events SET superseded = 1 WHERE execution = ?1 AND id = ?2")
                .map_err(|e| self.err(e))?;
            for &id in superseded_ids {
                let changed = supersede
                    .execute(params![execution, to_i64(arn, "event id", id)?])
                    .map_err(|e| self.err(e))?;
                if changed == 0 {
                    return Err(StoreError::Invalid {
                        arn: arn.to_owned(),
                        detail: format!("cannot supersede event {id}: there is no such event"),
                    });
                }
            }
        }
        let count: u32 = tx
            .prepare_cached(
                "UPDATE executions SET status = 'RUNNING', output = NULL, error = NULL, \
                 cause = NULL, stop_date = NULL, stop_requested = 0, stop_error = NULL, \
                 stop_cause = NULL, redrive_count = redrive_count + 1, redrive_date = ?2, \
                 owner = ?3 WHERE id = ?1 RETURNING redrive_count",
            )
            .and_then(|mut st| {
                st.query_row(
                    params![
                        execution,
                        nanos(arn, date).map_err(to_sql_error)?,
                        new_owner
                    ],
                    |r| r.get(0),
                )
            })
            .map_err(|e| self.err(e))?;
        self.insert_events(&tx, arn, execution, std::slice::from_ref(redriven_event))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(count)
    }
}

/// Refuses a file that does not start with SQLite's magic, without letting
/// SQLite near it.
fn check_header(path: &Path) -> Result<(), StoreError> {
    const MAGIC: &[u8; 16] = b"SQLite format 3\0";
    let mut head = Vec::with_capacity(16);
    fs::File::open(path)
        .and_then(|f| f.take(16).read_to_end(&mut head))
        .map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    // An empty file is an empty database to SQLite: it becomes ours.
    if head.is_empty() || head == MAGIC {
        Ok(())
    } else {
        Err(StoreError::NotADatabase {
            path: path.to_path_buf(),
        })
    }
}

fn table_names(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut st = conn.prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )?;
    st.query_map([], |r| r.get(0))?.collect()
}

fn sql_error(path: &Path, e: rusqlite::Error) -> StoreError {
    let path = path.to_path_buf();
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt) => StoreError::Corrupt {
            path,
            detail: e.to_string(),
        },
        Some(ErrorCode::NotADatabase) => StoreError::NotADatabase { path },
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Busy {
            path,
            seconds: BUSY_TIMEOUT.as_secs(),
        },
        _ => StoreError::Sqlite { path, source: e },
    }
}

/// Carries a [`StoreError`] through a rusqlite closure.
fn to_sql_error(e: StoreError) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

fn json_text(value: &Value) -> String {
    serde_json::to_string(value).expect("a serde_json::Value always serializes")
}

fn to_i64(arn: &str, what: &str, n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Invalid {
        arn: arn.to_owned(),
        detail: format!("{what} {n} is too large"),
    })
}

fn nanos(arn: &str, t: OffsetDateTime) -> Result<i64, StoreError> {
    i64::try_from(t.unix_timestamp_nanos()).map_err(|_| StoreError::Invalid {
        arn: arn.to_owned(),
        detail: format!("date {t} is out of range (years 1678 to 2262)"),
    })
}

fn from_nanos(arn: &str, n: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(n)).map_err(|e| unreadable(arn, e))
}

fn unreadable(arn: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Unreadable {
        arn: arn.to_owned(),
        detail: detail.to_string(),
    }
}

fn parse_json(arn: &str, what: &str, text: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text).map_err(|e| unreadable(arn, format!("{what}: {e}")))
}

fn parse_status(arn: &str, s: &str) -> Result<ExecutionStatus, StoreError> {
    s.parse().map_err(|e| unreadable(arn, e))
}

fn single(id: &str, mut found: Vec<ExecutionRecord>) -> Result<ExecutionRecord, StoreError> {
    match found.len() {
        0 => Err(StoreError::ExecutionDoesNotExist { id: id.to_owned() }),
        1 => Ok(found.remove(0)),
        _ => Err(StoreError::AmbiguousName {
            name: id.to_owned(),
            arns: found.into_iter().map(|r| r.arn).collect(),
        }),
    }
}

/// A row of `executions` before its JSON and dates are checked.
struct RawRecord {
    arn: String,
    name: String,
    state_machine_name: String,
    kind: String,
    definition: String,
    manifest: Option<String>,
    options: String,
    input: String,
    status: String,
    output: Option<String>,
    error: Option<String>,
    cause: Option<String>,
    start_date: i64,
    stop_date: Option<i64>,
    redrive_count: u32,
    redrive_date: Option<i64>,
    owner: Option<String>,
    stop_requested: bool,
    stop_error: Option<String>,
    stop_cause: Option<String>,
    last_event_id: i64,
}

impl RawRecord {
    /// Reads the columns in [`RECORD_COLUMNS`] order, then the latest event id.
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRecord> {
        Ok(RawRecord {
            arn: r.get(0)?,
            name: r.get(1)?,
            state_machine_name: r.get(2)?,
            kind: r.get(3)?,
            definition: r.get(4)?,
            manifest: r.get(5)?,
            options: r.get(6)?,
            input: r.get(7)?,
            status: r.get(8)?,
            output: r.get(9)?,
            error: r.get(10)?,
            cause: r.get(11)?,
            start_date: r.get(12)?,
            stop_date: r.get(13)?,
            redrive_count: r.get(14)?,
            redrive_date: r.get(15)?,
            owner: r.get(16)?,
            stop_requested: r.get(17)?,
            stop_error: r.get(18)?,
            stop_cause: r.get(19)?,
            last_event_id: r.get(20)?,
        })
    }

    fn into_record(self) -> Result<ExecutionRecord, StoreError> {
        let arn = self.arn;
        let a = arn.as_str();
        let record = ExecutionRecord {
            name: self.name,
            state_machine_name: self.state_machine_name,
            kind: parse_kind(&self.kind)
                .ok_or_else(|| unreadable(a, format!("unknown type '{}'", self.kind)))?,
            definition: self.definition,
            manifest: self.manifest.map(PathBuf::from),
            options: parse_json(a, "options", &self.options)?,
            input: parse_json(a, "input", &self.input)?,
            status: parse_status(a, &self.status)?,
            output: self
                .output
                .map(|o| parse_json(a, "output", &o))
                .transpose()?,
            error: self.error,
            cause: self.cause,
            start_date: from_nanos(a, self.start_date)?,
            stop_date: self.stop_date.map(|d| from_nanos(a, d)).transpose()?,
            redrive_count: self.redrive_count,
            redrive_date: self.redrive_date.map(|d| from_nanos(a, d)).transpose()?,
            owner: self.owner,
            stop_request: self.stop_requested.then_some(StopRequest {
                error: self.stop_error,
                cause: self.stop_cause,
            }),
            last_event_id: u64::try_from(self.last_event_id).map_err(|e| unreadable(a, e))?,
            arn: String::new(),
        };
        Ok(ExecutionRecord { arn, ..record })
    }
}

/// A row of `events` before its JSON and dates are checked.
struct RawEvent {
    id: i64,
    previous_event_id: i64,
    timestamp: i64,
    kind: String,
    member: Option<String>,
    details: Option<String>,
    frame: String,
    visit: u32,
    seq: u32,
    superseded: bool,
}

impl RawEvent {
    fn into_event(self, arn: &str, frame: Arc<str>) -> Result<StoredEvent, StoreError> {
        let details = match (self.member, self.details) {
            (Some(member), Some(text)) => {
                Some((member.into(), parse_json(arn, "event details", &text)?))
            }
            _ => None,
        };
        Ok(StoredEvent {
            event: KeyedEvent {
                key: EventKey {
                    frame,
                    visit: self.visit,
                    seq: self.seq,
                },
                event: HistoryEvent {
                    id: u64::try_from(self.id).map_err(|e| unreadable(arn, e))?,
                    previous_event_id: u64::try_from(self.previous_event_id)
                        .map_err(|e| unreadable(arn, e))?,
                    timestamp: from_nanos(arn, self.timestamp)?,
                    kind: self.kind.into(),
                    details,
                },
            },
            superseded: self.superseded,
        })
    }
}
