//! Task tokens and activities: what a `.waitForTaskToken` task or an
//! activity task waits on, kept in the store so a completion survives a
//! host restart and reaches the execution from any process (the API, the
//! CLI's `host task success`).
//!
//! A token row is created by the execution that waits (one per attempt: its
//! event key makes a replay find the same token), answered at most once
//! (`SendTaskSuccess`/`SendTaskFailure`), and closed by the execution when
//! it gives up (a timeout), after which answers are `TaskTimedOut` as on
//! AWS. Every change bumps the row's `version`, a counter over all rows, so
//! one poller per process learns what changed since it last looked.

use time::OffsetDateTime;

use super::StoreError;

/// Where a task token stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    /// Waiting for an answer (an activity task: for a worker to take it).
    Waiting,
    /// An activity task a worker took with `GetActivityTask`.
    Started,
    Succeeded,
    Failed,
    /// The execution stopped waiting (a timeout): answers are too late.
    Closed,
}

impl TokenStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Waiting => "WAITING",
            TokenStatus::Started => "STARTED",
            TokenStatus::Succeeded => "SUCCEEDED",
            TokenStatus::Failed => "FAILED",
            TokenStatus::Closed => "CLOSED",
        }
    }

    pub fn parse(s: &str) -> Option<TokenStatus> {
        [
            TokenStatus::Waiting,
            TokenStatus::Started,
            TokenStatus::Succeeded,
            TokenStatus::Failed,
            TokenStatus::Closed,
        ]
        .into_iter()
        .find(|status| status.as_str() == s)
    }

    /// Still waiting for an answer.
    pub fn is_open(self) -> bool {
        matches!(self, TokenStatus::Waiting | TokenStatus::Started)
    }
}

/// One task waiting for an answer from outside the host.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskToken {
    pub token: String,
    pub execution_arn: String,
    /// Where in the execution the task waits (the engine's event key of its
    /// scheduled event): unique per execution, so a replay finds its token.
    pub key: String,
    /// The activity's ARN, for an activity task.
    pub activity_arn: Option<String>,
    /// What a worker's `GetActivityTask` receives (JSON text), for an activity task.
    pub input: Option<String>,
    pub status: TokenStatus,
    pub worker_name: Option<String>,
    /// `SendTaskSuccess`'s output (JSON text).
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// The latest `SendTaskHeartbeat`.
    pub heartbeat: Option<OffsetDateTime>,
    pub created: OffsetDateTime,
    /// Bumped by every change (store-wide counter); 0 before it is stored.
    pub version: u64,
}

impl TaskToken {
    /// A new open token; `version` is set by the store.
    pub fn new(
        token: impl Into<String>,
        execution_arn: impl Into<String>,
        key: impl Into<String>,
        created: OffsetDateTime,
    ) -> TaskToken {
        TaskToken {
            token: token.into(),
            execution_arn: execution_arn.into(),
            key: key.into(),
            activity_arn: None,
            input: None,
            status: TokenStatus::Waiting,
            worker_name: None,
            output: None,
            error: None,
            cause: None,
            heartbeat: None,
            created,
            version: 0,
        }
    }
}

/// An answer to a task token from outside.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenAnswer {
    /// `SendTaskSuccess`: the task's result (JSON text, already checked).
    Success(String),
    /// `SendTaskFailure`.
    Failure {
        error: Option<String>,
        cause: Option<String>,
    },
    /// `SendTaskHeartbeat`.
    Heartbeat,
}

/// Why an answer was refused, as AWS names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// No such token: `TaskDoesNotExist`.
    DoesNotExist,
    /// Answered, given up on, or its execution ended: `TaskTimedOut`.
    TimedOut,
}

/// An activity: a name workers poll for tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRecord {
    pub name: String,
    pub creation_date: OffsetDateTime,
}

/// Task tokens and activities. Methods block; each is one transaction.
pub trait CallbackStore: Send + Sync {
    /// Stores `token` unless its execution already has one at its key, and
    /// returns the stored one (a replay gets the token it had before).
    fn open_token(&self, token: &TaskToken) -> Result<TaskToken, StoreError>;

    fn token(&self, token: &str) -> Result<Option<TaskToken>, StoreError>;

    /// Applies an answer to an open token of a RUNNING execution. A
    /// heartbeat only records its time.
    fn answer_token(
        &self,
        token: &str,
        answer: &TokenAnswer,
        at: OffsetDateTime,
    ) -> Result<Result<TaskToken, TokenRefusal>, StoreError>;

    /// The execution stopped waiting on `token` (it timed out): later
    /// answers are refused as too late. Does nothing to an answered token.
    fn close_token(&self, token: &str) -> Result<(), StoreError>;

    /// Tokens changed after `version`, in version order, at most `limit`.
    fn token_changes(&self, after: u64, limit: usize) -> Result<Vec<TaskToken>, StoreError>;

    /// The highest version of any token (0 when none).
    fn token_version(&self) -> Result<u64, StoreError>;

    /// Gives the oldest waiting task of `activity_arn` to a worker: it is
    /// STARTED with `worker_name`. `None` when none waits.
    fn take_activity_task(
        &self,
        activity_arn: &str,
        worker_name: Option<&str>,
    ) -> Result<Option<TaskToken>, StoreError>;

    /// Creates an activity unless one has the name; returns the stored one
    /// (AWS's CreateActivity is idempotent).
    fn put_activity(&self, record: &ActivityRecord) -> Result<ActivityRecord, StoreError>;

    fn activity(&self, name: &str) -> Result<Option<ActivityRecord>, StoreError>;

    /// Every activity, by name.
    fn activities(&self) -> Result<Vec<ActivityRecord>, StoreError>;

    /// False when there was none.
    fn delete_activity(&self, name: &str) -> Result<bool, StoreError>;
}
