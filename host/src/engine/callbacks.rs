//! Tasks that wait for an answer from outside the host: `.waitForTaskToken`
//! integrations (checklist TASK-04) and activities (TASK-08). The engine
//! decides when to wait and for how long; a [`Callbacks`] (the store-backed
//! one is `executions::callbacks::TaskTokens`) keeps the tokens and brings
//! the answers.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;
use time::OffsetDateTime;

use crate::errors::AslError;

/// The suffix that makes any integration a callback (checklist TASK-04).
pub const WAIT_FOR_TASK_TOKEN: &str = ".waitForTaskToken";

/// The integration a `.waitForTaskToken` resource invokes (the resource
/// without its suffix), or `None` for any other resource.
pub fn callback_integration(resource: &str) -> Option<&str> {
    resource.strip_suffix(WAIT_FOR_TASK_TOKEN)
}

/// An activity ARN: `arn:<partition>:states:<region>:<account>:activity:<name>`
/// (checklist ARN-04).
pub fn is_activity(resource: &str) -> bool {
    matches!(
        resource.split(':').collect::<Vec<_>>().as_slice(),
        ["arn", _, "states", region, _, "activity", name] if !region.is_empty() && !name.is_empty()
    )
}

/// The activity's name, from an activity ARN.
pub fn activity_name(resource: &str) -> Option<&str> {
    is_activity(resource)
        .then(|| resource.rsplit(':').next())
        .flatten()
}

/// The host's own ARN of activity `name` (any region and account name the
/// same activity, as state machine ARNs do).
pub fn activity_arn(name: &str) -> String {
    format!("arn:aws:states:local:000000000000:activity:{name}")
}

/// A task about to wait: where it waits, and for an activity its input.
#[derive(Debug, Clone)]
pub struct OpenTask<'a> {
    pub execution_arn: &'a str,
    /// Unique within the execution and the same on replay.
    pub key: String,
    pub activity_arn: Option<&'a str>,
    pub input: Option<&'a Value>,
}

/// What is known of a waiting task.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiting {
    pub token: String,
    /// Grows with every change; [`Callbacks::changed`] waits past it.
    pub version: u64,
    /// The worker that took an activity task.
    pub started_by: Option<Option<String>>,
    pub heartbeat: Option<OffsetDateTime>,
    /// The answer, once given.
    pub outcome: Option<Result<Value, AslError>>,
}

pub type CallbackFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Keeps task tokens and brings their answers.
pub trait Callbacks: Send + Sync {
    /// Creates the token of a task, or finds the one a replay had. An
    /// error is the host's (the store failed).
    fn open<'a>(&'a self, task: OpenTask<'a>) -> CallbackFuture<'a, Result<Waiting, String>>;

    /// Resolves when `token` changed after `version`: answered, taken by a
    /// worker, or a heartbeat.
    fn changed<'a>(
        &'a self,
        token: &'a str,
        version: u64,
    ) -> CallbackFuture<'a, Result<Waiting, String>>;

    /// The execution gave up on `token` (it timed out): later answers are
    /// refused as too late.
    fn close<'a>(&'a self, token: &'a str) -> CallbackFuture<'a, ()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_told_apart() {
        assert_eq!(
            callback_integration("arn:aws:states:::lambda:invoke.waitForTaskToken"),
            Some("arn:aws:states:::lambda:invoke")
        );
        assert_eq!(callback_integration("arn:aws:states:::lambda:invoke"), None);
        assert!(is_activity(
            "arn:aws:states:us-east-1:123456789012:activity:work"
        ));
        assert!(!is_activity("arn:aws:states:::activity:work"));
        assert!(!is_activity(
            "arn:aws:states:local:000000000000:stateMachine:work"
        ));
    }
}
