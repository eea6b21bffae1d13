//! Durable executions: the [`Store`] trait that keeps executions and their
//! history events, its implementations ([`SqliteStore`], the default for
//! Standard executions, and [`MemoryStore`] for Express and tests), the
//! [`Recorder`] that group-commits the engine's events, and the
//! [`OwnerLock`] that tells which host process runs an execution.
//!
//! The store knows records and events, not the engine: it never interprets
//! a definition or decides what to replay (the engine's `Journal` does), and
//! it never prints.
//!
//! **Invariants.** Write-ahead: the engine acts on a Task's result only after
//! the [`Recorder`] reports the event durable. A final status is committed in
//! the same transaction as the events before it, so no reader sees SUCCEEDED
//! without its output and final event, and the first final status wins. A
//! file that is not ours, or is ours from a newer version, is reported and
//! never written to.
//!
//! **Towards a shared store (PostgreSQL, several hosts).** Every method is
//! one transaction, blocking, over plain records; [`Store::write`] takes a
//! whole batch so a networked store pays one round trip per group commit;
//! coordination between processes goes only through the store's own
//! conditional updates ([`Store::claim`] is a compare-and-set, `Finish` and
//! `redrive` are guarded by the status), never through process-local state.
//! A PostgreSQL store would keep the same tables (`executions`, `events` with
//! the same partial unique index on live event keys), make `owner` a lease
//! (owner id plus expiry, renewed by the running host, claimable once
//! expired, instead of [`owner_alive`]'s file lock) and fence writes with the
//! lease so a host that lost its lease cannot append.

pub mod callbacks;
pub mod machines;
mod memory;
mod owner;
mod recorder;
pub mod schedules;
mod sqlite;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde_json::Value;
use time::OffsetDateTime;

use crate::engine::ExecutionType;
use crate::engine::journal::{Journal, KeyedEvent};

pub use callbacks::{
    ActivityRecord, CallbackStore, TaskToken, TokenAnswer, TokenRefusal, TokenStatus,
};
pub use machines::{AliasRecord, MachineRecord, MachineStore, Put, VersionRecord};
pub use memory::MemoryStore;
pub use owner::{OwnerLock, owner_alive};
pub use recorder::{CommitHook, Recorder, RecorderError};
pub use schedules::{ScheduleRecord, ScheduleStore};
pub use sqlite::{SCHEMA_VERSION, SqliteStore, Synchronous, default_path};

/// Keeps executions and their history. Methods block (call them from a
/// blocking context or through the [`Recorder`]); each is atomic.
pub trait Store: CallbackStore + Send + Sync {
    /// Records a new execution and its first events (e.g. `ExecutionStarted`),
    /// durably. A used ARN is [`StoreError::ExecutionAlreadyExists`].
    fn create(
        &self,
        record: &ExecutionRecord,
        first_events: &[KeyedEvent],
    ) -> Result<(), StoreError> {
        self.write(&[Write::Create {
            record: Box::new(record.clone()),
            events: first_events.to_vec(),
        }])
    }

    /// Applies `writes` in order in one atomic, durable transaction: if one
    /// fails, none is applied. A `Finish` of an execution that is no longer
    /// RUNNING changes nothing (the first final status wins); its events are
    /// still recorded.
    fn write(&self, writes: &[Write]) -> Result<(), StoreError>;

    /// An execution by ARN, or by name when that name is unique.
    fn get(&self, id: &str) -> Result<ExecutionRecord, StoreError>;

    /// Executions, newest first, optionally only those with `status`.
    fn list(&self, status: Option<ExecutionStatus>) -> Result<Vec<ExecutionRecord>, StoreError>;

    /// Every event of an execution, superseded ones included, by id.
    fn events(&self, arn: &str) -> Result<Vec<StoredEvent>, StoreError>;

    /// Makes `new_owner` the owner of a RUNNING execution if its owner is
    /// still `expected_owner`. False when the owner changed or the execution
    /// is not RUNNING.
    fn claim(
        &self,
        arn: &str,
        expected_owner: Option<&str>,
        new_owner: &str,
    ) -> Result<bool, StoreError>;

    /// Asks the owner of a RUNNING execution to stop it. False when the
    /// execution had already ended.
    fn request_stop(&self, arn: &str, request: &StopRequest) -> Result<bool, StoreError>;

    /// The stop requests of the RUNNING executions `owner` runs, by ARN.
    fn stop_requests(&self, owner: &str) -> Result<Vec<(String, StopRequest)>, StoreError> {
        Ok(self
            .list(Some(ExecutionStatus::Running))?
            .into_iter()
            .filter(|r| r.owner.as_deref() == Some(owner))
            .filter_map(|r| r.stop_request.map(|request| (r.arn, request)))
            .collect())
    }

    /// Restarts a FAILED, TIMED_OUT or ABORTED execution, in one transaction:
    /// marks `superseded_ids` superseded, sets RUNNING with `new_owner`,
    /// clears output, error, cause, stop date and stop request, counts the
    /// redrive, and appends `redriven_event`. Returns the new redrive count.
    fn redrive(
        &self,
        arn: &str,
        new_owner: &str,
        superseded_ids: &[u64],
        redriven_event: &KeyedEvent,
        date: OffsetDateTime,
    ) -> Result<u32, StoreError>;
}

/// What a resumed run needs from the recorded events: the journal of the
/// replayable ones (superseded left out) and the highest id of all (new
/// events continue after the superseded ones too: ids are never reused).
pub fn journal_of(events: &[StoredEvent]) -> (Journal, u64) {
    let last_id = events.iter().map(|e| e.event.event.id).max().unwrap_or(0);
    let live = events
        .iter()
        .filter(|e| !e.superseded)
        .map(|e| e.event.clone());
    (Journal::new(live), last_id)
}

/// An execution's status, as AWS names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl ExecutionStatus {
    pub const ALL: [ExecutionStatus; 5] = [
        ExecutionStatus::Running,
        ExecutionStatus::Succeeded,
        ExecutionStatus::Failed,
        ExecutionStatus::TimedOut,
        ExecutionStatus::Aborted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
        }
    }

    /// AWS's `redriveStatusReason` for an execution in this status that
    /// cannot be redriven: FAILED, TIMED_OUT and ABORTED ones can be.
    pub fn redrive_refusal(self) -> Option<&'static str> {
        match self {
            ExecutionStatus::Running => Some("Execution is RUNNING and cannot be redriven"),
            ExecutionStatus::Succeeded => Some("Execution is SUCCEEDED and cannot be redriven"),
            ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted => None,
        }
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExecutionStatus {
    type Err = UnknownStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ExecutionStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// A status name that is not one of AWS's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown execution status '{0}': expected one of RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED"
)]
pub struct UnknownStatus(pub String);

/// `STANDARD` or `EXPRESS`, as stored.
pub(crate) fn kind_str(kind: ExecutionType) -> &'static str {
    match kind {
        ExecutionType::Standard => "STANDARD",
        ExecutionType::Express => "EXPRESS",
    }
}

pub(crate) fn parse_kind(s: &str) -> Option<ExecutionType> {
    match s {
        "STANDARD" => Some(ExecutionType::Standard),
        "EXPRESS" => Some(ExecutionType::Express),
        _ => None,
    }
}

/// What an execution is: enough to describe it, list it and resume it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRecord {
    /// The execution's id; unique in a store.
    pub arn: String,
    pub name: String,
    pub state_machine_name: String,
    pub kind: ExecutionType,
    /// The ASL text the execution runs (redrive and resume use it, not the
    /// file, which may have changed).
    pub definition: String,
    /// The manifest (`sandstep.toml`) its tasks come from, if any.
    pub manifest: Option<PathBuf>,
    /// Run settings the CLI needs to resume the execution the same way (e.g.
    /// the payload limit); opaque to the store. `Value::Null` when none.
    pub options: Value,
    pub input: Value,
    pub status: ExecutionStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start_date: OffsetDateTime,
    pub stop_date: Option<OffsetDateTime>,
    pub redrive_count: u32,
    pub redrive_date: Option<OffsetDateTime>,
    /// The [`OwnerLock`] id of the host process running it, while RUNNING.
    pub owner: Option<String>,
    /// Set by `host stop` for the owner to act on.
    pub stop_request: Option<StopRequest>,
    /// The id of its latest history event (0 before the first). Stores fill
    /// it in from the events when they read a record and ignore it on writes.
    pub last_event_id: u64,
}

impl ExecutionRecord {
    /// A RUNNING execution started at `start_date`, with nothing else set.
    pub fn new_running(
        arn: impl Into<String>,
        name: impl Into<String>,
        state_machine_name: impl Into<String>,
        kind: ExecutionType,
        definition: impl Into<String>,
        input: Value,
        start_date: OffsetDateTime,
    ) -> Self {
        ExecutionRecord {
            arn: arn.into(),
            name: name.into(),
            state_machine_name: state_machine_name.into(),
            kind,
            definition: definition.into(),
            manifest: None,
            options: Value::Null,
            input,
            status: ExecutionStatus::Running,
            output: None,
            error: None,
            cause: None,
            start_date,
            stop_date: None,
            redrive_count: 0,
            redrive_date: None,
            owner: None,
            stop_request: None,
            last_event_id: 0,
        }
    }

    /// AWS's `redriveStatusReason` when this execution cannot be redriven
    /// at `now` (checklist REDRIVE-02, STAT-03): its status; a history with
    /// no room for `ExecutionRedriven` and one event more; a start a year or
    /// more ago (the longest a Standard execution may run); or an end more
    /// than [`REDRIVE_WINDOW`] ago.
    pub fn redrive_refusal(&self, now: OffsetDateTime) -> Option<&'static str> {
        if let Some(reason) = self.status.redrive_refusal() {
            return Some(reason);
        }
        if self.last_event_id + 2 > crate::engine::history::HISTORY_EVENT_LIMIT {
            return Some("Execution history event limit exceeded");
        }
        if now - self.start_date >= self.kind.max_duration() {
            return Some("Execution has exceeded the max execution time");
        }
        if self
            .stop_date
            .is_some_and(|stop| now - stop > REDRIVE_WINDOW)
        {
            return Some("Execution redrivable period exceeded");
        }
        None
    }
}

/// How long after its end an execution may still be redriven: AWS's 14 days.
pub const REDRIVE_WINDOW: time::Duration = time::Duration::days(14);

/// What `host stop` asks for: the error and cause of the `ExecutionAborted` event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StopRequest {
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// A recorded event. `superseded` events were dropped from replay by a
/// redrive; the history still shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub event: KeyedEvent,
    pub superseded: bool,
}

/// One change in a [`Store::write`] batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// A new execution and its first events; a used ARN is
    /// [`StoreError::ExecutionAlreadyExists`].
    Create {
        record: Box<ExecutionRecord>,
        events: Vec<KeyedEvent>,
    },
    /// New events of one execution. Their ids, and their keys among the
    /// events not superseded, must be new.
    Events {
        arn: String,
        events: Vec<KeyedEvent>,
    },
    /// The end of an execution.
    Finish(Finish),
}

impl Write {
    pub fn arn(&self) -> &str {
        match self {
            Write::Create { record, .. } => &record.arn,
            Write::Events { arn, .. } => arn,
            Write::Finish(finish) => &finish.arn,
        }
    }
}

/// The final status of an execution and what goes with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    pub arn: String,
    pub status: ExecutionStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub stop_date: OffsetDateTime,
}

/// What can go wrong in a store. The messages speak to the user of the CLI.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// AWS's `ExecutionAlreadyExists`.
    #[error("Execution Already Exists: '{arn}'")]
    ExecutionAlreadyExists { arn: String },
    /// AWS's `ExecutionDoesNotExist`.
    #[error("Execution Does Not Exist: '{id}'")]
    ExecutionDoesNotExist { id: String },
    #[error(
        "execution name '{name}' is used in several state machines ({}): give the execution ARN instead",
        arns.join(", ")
    )]
    AmbiguousName { name: String, arns: Vec<String> },
    /// AWS's `ExecutionNotRedrivable`, with its reason text.
    #[error("{reason}: '{arn}'")]
    ExecutionNotRedrivable { arn: String, reason: &'static str },
    #[error(
        "event {id} of '{arn}' is already recorded (same id, or same key frame '{frame}' visit {visit} seq {seq}): the engine sent it twice"
    )]
    DuplicateEvent {
        arn: String,
        id: u64,
        frame: String,
        visit: u32,
        seq: u32,
    },
    #[error(
        "'{path}' is not an execution database (not an SQLite file); it was left untouched: move it aside or give another path with --db"
    )]
    NotADatabase { path: PathBuf },
    #[error(
        "'{path}' is an SQLite database of another application (tables: {}); it was left untouched: give another path with --db",
        tables.join(", ")
    )]
    ForeignDatabase { path: PathBuf, tables: Vec<String> },
    #[error(
        "'{path}' has execution database version {found}, newer than the {supported} this host understands; it was left untouched: use a newer sandstep, or give another path with --db"
    )]
    NewerVersion {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error(
        "'{path}' is corrupt ({detail}); sandstep does not repair it: restore it from a backup or move it aside"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "'{path}' stayed locked by another process for {seconds} s: is another host writing a lot, or hung?"
    )]
    Busy { path: PathBuf, seconds: u64 },
    #[error("cannot use '{path}': {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("'{path}': {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// A stored value that does not read back (a bug, or a hand-edited file).
    #[error("stored execution '{arn}' is unreadable: {detail}")]
    Unreadable { arn: String, detail: String },
    /// A value that cannot be stored as given.
    #[error("cannot store execution '{arn}': {detail}")]
    Invalid { arn: String, detail: String },
}

impl StoreError {
    /// The AWS error name for the errors AWS has, e.g. `ExecutionAlreadyExists`.
    pub fn aws_code(&self) -> Option<&'static str> {
        match self {
            StoreError::ExecutionAlreadyExists { .. } => Some("ExecutionAlreadyExists"),
            StoreError::ExecutionDoesNotExist { .. } => Some("ExecutionDoesNotExist"),
            StoreError::ExecutionNotRedrivable { .. } => Some("ExecutionNotRedrivable"),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
