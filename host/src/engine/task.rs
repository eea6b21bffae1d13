//! The one door from the engine to whatever runs a Task state.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::Value;

use crate::errors::AslError;

/// One Task state attempt, as the engine hands it to a [`TaskRunner`].
#[derive(Debug, Clone)]
pub struct TaskCall<'a> {
    /// The state's `Resource` string, as written in the definition.
    pub resource: &'a str,
    /// The effective input (after `InputPath` and `Parameters`).
    pub input: &'a Value,
    pub execution_id: &'a str,
    pub state_name: &'a str,
    /// Where this attempt sits in the execution (its result event's key and
    /// the run it belongs to): the same when a resumed execution replays it,
    /// different for every other attempt. A runner that starts something
    /// durable (a child execution) names it from this, so a replay finds it
    /// instead of starting a second one.
    pub attempt: &'a str,
    /// 0 on the first attempt, then 1, 2, ... on each retry.
    pub retry_count: u32,
    /// The state's `TimeoutSeconds`, when it has one; else the task's default applies.
    pub timeout: Option<Duration>,
    /// Other states of the execution may run beside this call (it is in a
    /// Parallel branch or a Map iteration), so a runner may give it a
    /// thread of its own; alone, it is cheaper run in place.
    pub concurrent: bool,
    /// The engine's payload limit: a runner refuses an output text longer
    /// than this (`States.DataLimitExceeded`) before it parses it.
    pub payload_limit: usize,
}

pub type TaskFuture<'a> = Pin<Box<dyn Future<Output = TaskOutcome> + Send + 'a>>;

/// How one attempt ended, and what it used.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskOutcome {
    pub result: Result<Value, AslError>,
    /// What the runner measured, when it measures anything; recorded in the
    /// Task's history event so users can set budgets from real figures.
    pub usage: Option<Usage>,
    /// The tenant the attempt ran for, when the runner has tenants.
    pub tenant: Option<std::sync::Arc<str>>,
    /// What the task logged, bounded by the runner.
    pub logs: Vec<TaskLog>,
}

/// One line a task logged (`sandstep:task/log`), as the runner kept it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskLog {
    /// `debug`, `info`, `warn` or `error`.
    pub level: &'static str,
    pub message: String,
}

impl From<Result<Value, AslError>> for TaskOutcome {
    fn from(result: Result<Value, AslError>) -> Self {
        TaskOutcome {
            result,
            usage: None,
            tenant: None,
            logs: Vec::new(),
        }
    }
}

/// The resources one attempt consumed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Fuel burnt, when the call ran metered.
    pub fuel_consumed: Option<u64>,
    /// The largest linear memory the call reached, in bytes.
    pub peak_memory_bytes: Option<u64>,
    /// How long the call waited for its tenant's turn and a sandbox slot.
    pub queue_wait_micros: Option<u64>,
}

impl Usage {
    /// The `usage` member of a Task event's details.
    pub fn to_json(&self) -> Value {
        let mut usage = serde_json::Map::new();
        if let Some(fuel) = self.fuel_consumed {
            usage.insert("fuelConsumed".into(), fuel.into());
        }
        if let Some(peak) = self.peak_memory_bytes {
            usage.insert("peakMemoryBytes".into(), peak.into());
        }
        if let Some(wait) = self.queue_wait_micros {
            usage.insert("queueWaitMicros".into(), wait.into());
        }
        Value::Object(usage)
    }
}

/// Runs Task states. `resources::WasmTasks` is the real one; tests may
/// provide their own.
pub trait TaskRunner: Send + Sync {
    /// Checks, before any execution starts, that `resource` names something
    /// this runner can run; the error says what would be valid.
    fn check_resource(&self, resource: &str) -> Result<(), String>;

    /// Checks the Task state named `state` whose `Resource` is `resource`:
    /// a runner that answers by state (mocks) overrides this.
    fn check_task(&self, state: &str, resource: &str) -> Result<(), String> {
        let _ = state;
        self.check_resource(resource)
    }

    /// The runner answers the Task state named `state` itself, whatever
    /// its resource (a mock): a `.waitForTaskToken` suffix then does not
    /// wait, as in Step Functions Local (checklist LOCAL-03).
    fn answers_itself(&self, state: &str) -> bool {
        let _ = state;
        false
    }

    /// The buckets a Distributed Map's `ItemReader` and `ResultWriter`
    /// read and write, when this runner (or one it wraps) has them. A layer
    /// that wraps another runner forwards this.
    fn buckets(&self) -> Option<&crate::objects::Buckets> {
        None
    }

    /// Runs one attempt. A failure the workflow can Retry/Catch is an
    /// [`AslError`]; the runner never panics because a task misbehaved.
    fn invoke<'a>(&'a self, call: TaskCall<'a>) -> TaskFuture<'a>;
}

/// The runner for pipelines without Task states: every resource is unknown.
#[derive(Debug, Default)]
pub struct NoTasks;

impl TaskRunner for NoTasks {
    fn check_resource(&self, resource: &str) -> Result<(), String> {
        Err(format!(
            "no task manifest declares '{resource}': add a sandstep.toml beside the pipeline (or pass --manifest) that declares it"
        ))
    }

    fn invoke<'a>(&'a self, call: TaskCall<'a>) -> TaskFuture<'a> {
        let error = AslError::new(
            crate::errors::names::TASK_FAILED,
            format!("no task runner for resource '{}'", call.resource),
        );
        Box::pin(async move { Err(error).into() })
    }
}
