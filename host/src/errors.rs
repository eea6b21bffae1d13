//! The ASL error vocabulary shared by every layer: the `{ error, cause }`
//! pair a `Retry` or `Catch` can match, and the predefined error names.
//!
//! Host failures (I/O, a broken store, bugs) are *not* [`AslError`]s; they
//! travel as `anyhow::Error` and no Catch ever sees them.

use std::fmt;

/// An error an ASL `Retry`/`Catch` can match: the `Error` name and its `Cause`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AslError {
    /// The error name matched against `ErrorEquals`, e.g. `States.Timeout`.
    pub error: String,
    /// Human-readable detail; AWS's exact text where AWS defines one.
    pub cause: String,
}

impl AslError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        AslError {
            error: error.into(),
            cause: cause.into(),
        }
    }

    /// `States.Runtime`: a failure in the workflow itself; never retried or caught.
    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new(names::RUNTIME, cause)
    }

    /// Cut to AWS's limits: an error name of at most [`ERROR_MAX_CHARS`]
    /// characters, a cause of at most [`CAUSE_MAX_CHARS`], each keeping its
    /// beginning. The engine bounds every error that enters it (a task's
    /// result, a Fail state, a failure it raises itself) before anything
    /// records, matches or reports it, so events, the store, describe and
    /// the host's messages all carry the bounded text.
    pub fn bounded(mut self) -> Self {
        truncate_chars(&mut self.error, ERROR_MAX_CHARS);
        truncate_chars(&mut self.cause, CAUSE_MAX_CHARS);
        self
    }
}

/// The longest error name AWS keeps (`SendTaskFailure`, history events).
pub const ERROR_MAX_CHARS: usize = 256;
/// The longest cause AWS keeps.
pub const CAUSE_MAX_CHARS: usize = 32_768;

/// Keeps the first `max` characters of `text`.
fn truncate_chars(text: &mut String, max: usize) {
    // Only a text longer in bytes can be longer in characters.
    if text.len() > max
        && let Some((at, _)) = text.char_indices().nth(max)
    {
        text.truncate(at);
    }
}

impl fmt::Display for AslError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.cause.is_empty() {
            f.write_str(&self.error)
        } else {
            write!(f, "{}: {}", self.error, self.cause)
        }
    }
}

impl std::error::Error for AslError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_keeps_the_first_characters() {
        let long = AslError::new("E".repeat(300), "é".repeat(40_000)).bounded();
        assert_eq!(long.error.chars().count(), ERROR_MAX_CHARS);
        assert_eq!(long.cause.chars().count(), CAUSE_MAX_CHARS);
        assert!(long.cause.chars().all(|c| c == 'é'));
        let short = AslError::new("Short", "ç").bounded();
        assert_eq!(short, AslError::new("Short", "ç"));
    }
}

/// Predefined error names. `States.*` follow the ASL spec; `Sandbox.*` are
/// Sandstep's own (see the error table in DESIGN.md).
pub mod names {
    pub const ALL: &str = "States.ALL";
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    pub const TIMEOUT: &str = "States.Timeout";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const PERMISSIONS: &str = "States.Permissions";
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
    pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
    pub const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";
    pub const RUNTIME: &str = "States.Runtime";
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";

    pub const SANDBOX_TRAP: &str = "Sandbox.Trap";
    pub const SANDBOX_MEMORY_LIMIT_EXCEEDED: &str = "Sandbox.MemoryLimitExceeded";
    pub const SANDBOX_INVALID_OUTPUT: &str = "Sandbox.InvalidOutput";
    /// A write under a read-write grant would have passed its `quota`.
    pub const SANDBOX_WRITE_QUOTA_EXCEEDED: &str = "Sandbox.WriteQuotaExceeded";
    /// The guest called `exit` (WASI `wasi:cli/exit`) instead of returning.
    pub const SANDBOX_EXIT: &str = "Sandbox.Exit";
    /// A call tried to hold more host handles (open descriptors, directory
    /// listings, sockets, table entries) than its call's, its tenant's or
    /// the sandbox's budget allows.
    pub const SANDBOX_RESOURCE_LIMIT_EXCEEDED: &str = "Sandbox.ResourceLimitExceeded";
}
