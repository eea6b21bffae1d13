//! Executions: the state interpreter, input/output processing, Retry/Catch,
//! Parallel and Map, Wait on a clock, the context object, history events.
//!
//! **Invariant:** the engine reaches tasks only through [`TaskRunner`]; it
//! never prints and never touches the file system.

#[cfg(test)]
mod bounds_tests;
#[cfg(test)]
mod callback_tests;
pub mod callbacks;
mod clock;
mod context;
pub mod history;
mod io;
pub mod journal;
#[cfg(test)]
mod replay_tests;
mod run;
mod task;
pub mod test_state;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod timing_tests;

use std::sync::Arc;

use serde_json::{Value, json};
use time::OffsetDateTime;

pub use clock::Clock;
pub use history::HistoryEvent;
pub use io::json_len;
pub use task::{NoTasks, TaskCall, TaskFuture, TaskLog, TaskOutcome, TaskRunner, Usage};

use crate::asl::Diagnostic;
use crate::asl::model::StateMachine;
use crate::errors::names;
use crate::query::jsonata::JsonataError;
use callbacks::Callbacks;
use context::ExecutionInfo;
use history::{HISTORY_EVENT_LIMIT, HISTORY_FULL_CAUSE, History, format_timestamp};
use journal::{EventSink, Journal};
use run::{Failure, Run};

/// AWS's default payload quota: 256 KiB of compact JSON.
pub const DEFAULT_PAYLOAD_LIMIT: usize = 256 * 1024;

/// Runs executions of state machines. Cheap to share: executions on the same
/// engine run independently and may run concurrently.
pub struct Engine {
    tasks: Arc<dyn TaskRunner>,
    clock: Clock,
    payload_limit: usize,
    observer: Option<Arc<dyn Observer>>,
    /// Several executions share the caller's tokio task (see
    /// [`Engine::with_shared_task`]).
    shared_task: bool,
    /// Where `.waitForTaskToken` and activity tasks wait for their answer;
    /// without it they fail (an execution that is not durable).
    callbacks: Option<Arc<dyn Callbacks>>,
}

/// Watches long-running work, e.g. to draw a progress bar. Calls come from
/// the execution's tasks and must return quickly.
///
/// Operations (metrics, execution logs) watch through the same door: the
/// engine hands every *new* history event (a replay re-emits none) and every
/// Task attempt's figures here, so nothing else needs instrumenting.
pub trait Observer: Send + Sync {
    /// A Map state started `total` iterations.
    fn map_started(&self, state: &str, total: usize) {
        let _ = (state, total);
    }
    /// One iteration of the Map state `state` ended.
    fn map_iteration_done(&self, state: &str) {
        let _ = state;
    }
    /// The Map state `state` ended, successfully or not.
    fn map_finished(&self, state: &str) {
        let _ = state;
    }
    /// Whether [`Observer::event`] is wanted: when true, events are rendered
    /// even for executions that keep no history (Express).
    fn wants_events(&self) -> bool {
        false
    }
    /// An execution starts running in this process (new, resumed or
    /// redriven); [`Observer::execution_left`] follows when the run ends or
    /// is dropped (stopped, host shutting down).
    fn execution_began(&self, execution: &ExecutionMeta) {
        let _ = execution;
    }
    fn execution_left(&self, execution: &ExecutionMeta) {
        let _ = execution;
    }
    /// A new history event of `execution` (only if [`Observer::wants_events`]).
    fn event(&self, execution: &ExecutionMeta, event: &HistoryEvent) {
        let _ = (execution, event);
    }
    /// A Task attempt ended, with what the runner measured and what the task logged.
    fn task_ended(&self, execution: &ExecutionMeta, task: &TaskReport<'_>) {
        let _ = (execution, task);
    }
}

/// Which execution an observed event belongs to.
#[derive(Debug, Clone)]
pub struct ExecutionMeta {
    pub arn: String,
    pub state_machine_name: String,
    pub kind: ExecutionType,
    pub redrive_count: u32,
    pub start_date: OffsetDateTime,
}

/// One Task attempt, as an [`Observer`] sees it.
#[derive(Debug)]
pub struct TaskReport<'a> {
    pub state: &'a str,
    pub resource: &'a str,
    pub usage: Option<Usage>,
    pub tenant: Option<&'a str>,
    pub logs: &'a [TaskLog],
    /// The error name the attempt failed with; `None` when it succeeded.
    pub error: Option<&'a str>,
}

/// Calls [`Observer::execution_left`] when an execution's run ends or is dropped.
struct LeaveOnDrop(Option<(Arc<dyn Observer>, Arc<ExecutionMeta>)>);

impl Drop for LeaveOnDrop {
    fn drop(&mut self) {
        if let Some((observer, meta)) = &self.0 {
            observer.execution_left(meta);
        }
    }
}

impl Engine {
    pub fn new(tasks: Arc<dyn TaskRunner>) -> Self {
        Engine {
            tasks,
            clock: Clock::Real,
            payload_limit: DEFAULT_PAYLOAD_LIMIT,
            observer: None,
            shared_task: false,
            callbacks: None,
        }
    }

    /// Lets `.waitForTaskToken` and activity tasks wait on `callbacks`.
    pub fn with_callbacks(mut self, callbacks: Arc<dyn Callbacks>) -> Self {
        self.callbacks = Some(callbacks);
        self
    }

    /// The clock Wait states and retry intervals sleep on.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The largest state input/output, in bytes of compact JSON, before
    /// `States.DataLimitExceeded`. Default [`DEFAULT_PAYLOAD_LIMIT`].
    pub fn with_payload_limit(mut self, bytes: usize) -> Self {
        self.payload_limit = bytes;
        self
    }

    /// The caller polls several executions in one tokio task (a batch
    /// resume): every task call is then marked
    /// [`concurrent`](TaskCall::concurrent), so the calls of different
    /// executions still spread over the runtime's threads.
    pub fn with_shared_task(mut self, shared: bool) -> Self {
        self.shared_task = shared;
        self
    }

    /// Reports Map progress to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The time on the engine's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    pub fn tasks(&self) -> &Arc<dyn TaskRunner> {
        &self.tasks
    }

    /// Checks every Task `Resource` of `machine` against the task runner:
    /// one problem per resource it cannot run, located at the field.
    pub fn check_resources(&self, machine: &StateMachine) -> Vec<Diagnostic> {
        let mut problems = Vec::new();
        visit_tasks(machine, "", &mut |at, state, resource| {
            // A callback invokes its integration without the suffix; an
            // activity is no runner's: its workers answer through the API.
            // A runner that answers the state itself (a mock) checks it whole.
            let checked = if self.tasks.answers_itself(state) {
                self.tasks.check_task(state, resource)
            } else if callbacks::is_activity(resource) {
                Ok(())
            } else {
                let integration = callbacks::callback_integration(resource).unwrap_or(resource);
                self.tasks.check_task(state, integration)
            };
            if let Err(why) = checked {
                problems.push(Diagnostic::schema(format!("{at}/Resource"), why));
            }
        });
        problems
    }

    /// Runs one execution to its end and returns its record.
    pub async fn execute(&self, machine: &StateMachine, request: ExecutionRequest) -> Execution {
        let durable = request.durable;
        let start = durable
            .as_ref()
            .map_or_else(|| self.clock.now(), |d| d.start_date);
        let name = request
            .name
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let state_machine_arn = state_machine_arn(&request.state_machine_name);
        let input = request.input;
        let info = ExecutionInfo {
            arn: execution_arn(request.kind, &request.state_machine_name, &name),
            name,
            // A copy only where `$$.Execution.Input` can be read: the run
            // consumes its own.
            input: machine.reads_context.then(|| input.clone()),
            start_time: format_timestamp(start),
            redrive_count: durable.as_ref().map_or(0, |d| d.redrive_count),
            redrive_time: durable
                .as_ref()
                .and_then(|d| d.redrive_date)
                .map(format_timestamp),
            role_arn: "arn:aws:iam::000000000000:role/sandstep".into(),
            state_machine_arn,
            state_machine_name: request.state_machine_name,
            context: None,
        };
        let longest = request.kind.max_duration();
        let timeout = machine.timeout_seconds.map_or(longest, |s| {
            time::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX)).min(longest)
        });
        // Checked: a resumed execution's start comes from the store.
        let deadline = start
            .checked_add(timeout)
            .unwrap_or_else(|| time::PrimitiveDateTime::MAX.assume_utc());
        // Express executions keep no history on AWS, so have no cap.
        let limit = (request.kind == ExecutionType::Standard).then_some(HISTORY_EVENT_LIMIT);
        let mut history = History::new(request.record_history).with_event_limit(limit);
        let mut journal = Arc::new(Journal::default());
        if let Some(durable) = durable {
            history = history.with_sink(durable.sink, durable.last_id);
            journal = durable.journal;
        }
        let meta = Arc::new(ExecutionMeta {
            arn: info.arn.clone(),
            state_machine_name: info.state_machine_name.clone(),
            kind: request.kind,
            redrive_count: info.redrive_count,
            start_date: start,
        });
        let _leave = match &self.observer {
            Some(observer) => {
                observer.execution_began(&meta);
                if observer.wants_events() {
                    history = history.with_observer(observer.clone(), meta.clone());
                }
                LeaveOnDrop(Some((observer.clone(), meta.clone())))
            }
            None => LeaveOnDrop(None),
        };
        let root: Arc<str> = Arc::from("");
        // The execution's own events: Started, then a terminal event and, on
        // each redrive, `ExecutionRedriven` (written by the caller) — so the
        // terminal event of run `n` is the frame's event `1 + 2n`.
        // Saturating: the count comes from the store.
        let terminal_seq = info.redrive_count.saturating_mul(2).saturating_add(1);
        let timeline = self.clock.timeline();
        // The execution's own frame is runnable until it ends.
        let root_frame = timeline.frame();
        let run = Run {
            engine: self,
            meta: Some(meta),
            info,
            history,
            journal,
            deadline,
            transitions: Default::default(),
            timeline,
        };
        run.emit_frame(&root, 0, 0, "ExecutionStarted", || {
            Some((
                "executionStartedEventDetails",
                json!({
                    "input": history::text(&input),
                    "inputDetails": {"truncated": false},
                    "roleArn": run.info.role_arn,
                }),
            ))
        });
        let mut cursor = 0;
        let mut vars = serde_json::Map::new();
        let run_all = run.run_machine(machine, root.clone(), input, &mut cursor, &mut vars);
        // A bug that panics fails this execution (States.Runtime), not the
        // host and the other executions it runs.
        let run_all = async {
            use futures::FutureExt;
            std::panic::AssertUnwindSafe(run_all)
                .catch_unwind()
                .await
                .unwrap_or_else(|panic| Err(Failure::Error(panicked(panic.as_ref()))))
        };
        let outcome = if self.clock.is_virtual() {
            run_all.await
        } else {
            // A real-time deadline also bounds tasks and sleeps in flight; a
            // resumed execution has only what is left since its start.
            let left =
                std::time::Duration::try_from(deadline - self.clock.now()).unwrap_or_default();
            tokio::time::timeout(left, run_all)
                .await
                .unwrap_or(Err(Failure::TimedOut))
        };
        let (status, output, error, cause) = match outcome {
            Ok(output) => {
                run.emit_frame(&root, terminal_seq, cursor, "ExecutionSucceeded", || {
                    Some((
                        "executionSucceededEventDetails",
                        json!({"output": history::text(&output), "outputDetails": {"truncated": false}}),
                    ))
                });
                (Status::Succeeded, Some(output), None, None)
            }
            // The interpreter settles evaluation failures into errors; both end the execution.
            Err(Failure::Error(e)) | Err(Failure::Evaluation(JsonataError { error: e, .. })) => {
                run.emit_frame(&root, terminal_seq, cursor, "ExecutionFailed", || {
                    history::error_details("executionFailedEventDetails", &e.error, &e.cause)
                });
                let e = e.bounded();
                (Status::Failed, None, present(e.error), present(e.cause))
            }
            Err(Failure::HistoryFull) => {
                run.emit_frame(&root, terminal_seq, cursor, "ExecutionFailed", || {
                    history::error_details(
                        "executionFailedEventDetails",
                        names::RUNTIME,
                        HISTORY_FULL_CAUSE,
                    )
                });
                let (error, cause) = (names::RUNTIME.to_owned(), HISTORY_FULL_CAUSE.to_owned());
                (Status::Failed, None, Some(error), Some(cause))
            }
            // AWS names neither an error nor a cause for a timed-out execution.
            Err(Failure::TimedOut) => {
                run.emit_frame(&root, terminal_seq, cursor, "ExecutionTimedOut", || {
                    Some(("executionTimedOutEventDetails", json!({})))
                });
                (Status::TimedOut, None, None, None)
            }
        };
        drop(root_frame);
        // No wait for durability here: the caller commits the final event
        // together with the execution's final status.
        Execution {
            execution_arn: run.info.arn,
            name: run.info.name,
            state_machine_arn: run.info.state_machine_arn,
            status,
            output,
            error,
            cause,
            start_date: start,
            stop_date: self.clock.now(),
            state_transitions: run.transitions.into_inner(),
            history: run.history.into_events(),
        }
    }
}

/// An error name or cause as DescribeExecution has it: absent when empty.
fn present(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// The `States.Runtime` failure of an execution whose run panicked.
fn panicked(payload: &(dyn std::any::Any + Send)) -> crate::errors::AslError {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned());
    crate::errors::AslError::runtime(format!(
        "The host failed while running this execution (a bug in Sandstep; please report it with the definition and input): {message}"
    ))
    .bounded()
}

/// The ARN of the state machine named `name`.
pub fn state_machine_arn(name: &str) -> String {
    format!("arn:aws:states:local:000000000000:stateMachine:{name}")
}

/// The ARN of execution `name` of state machine `state_machine`.
pub fn execution_arn(kind: ExecutionType, state_machine: &str, name: &str) -> String {
    let kind = match kind {
        ExecutionType::Standard => "execution",
        ExecutionType::Express => "express",
    };
    format!("arn:aws:states:local:000000000000:{kind}:{state_machine}:{name}")
}

/// Calls `f` with the JSON pointer, name and `Resource` of every Task state.
fn visit_tasks(machine: &StateMachine, at: &str, f: &mut dyn FnMut(&str, &str, &str)) {
    use crate::asl::model::StateKind;
    for state in &machine.states {
        let here = format!("{at}/States/{}", crate::query::pointer_token(&state.name));
        match &state.kind {
            StateKind::Task(task) => f(&here, &state.name, &task.resource),
            StateKind::Parallel { branches } => {
                for (i, branch) in branches.iter().enumerate() {
                    visit_tasks(branch, &format!("{here}/Branches/{i}"), f);
                }
            }
            StateKind::Map(map) => visit_tasks(&map.processor, &format!("{here}/ItemProcessor"), f),
            _ => {}
        }
    }
}

/// `STANDARD` or `EXPRESS`, as in AWS: the type shapes the execution ARN,
/// the history cap and the longest an execution may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecutionType {
    #[default]
    Standard,
    Express,
}

impl ExecutionType {
    /// The longest an execution may run, whatever its `TimeoutSeconds`
    /// says: a year for Standard, five minutes for Express (AWS's quotas).
    pub fn max_duration(self) -> time::Duration {
        match self {
            ExecutionType::Standard => time::Duration::days(365),
            ExecutionType::Express => time::Duration::minutes(5),
        }
    }
}

/// What to run: the input, and how to name and record the execution.
#[derive(Clone)]
pub struct ExecutionRequest {
    /// The execution's name; a UUID when absent.
    pub name: Option<String>,
    pub state_machine_name: String,
    pub input: Value,
    pub kind: ExecutionType,
    /// Keep the history events (costs a little per state).
    pub record_history: bool,
    /// Record every event in a store, and replay what an earlier run of
    /// this execution recorded.
    pub durable: Option<Durable>,
}

/// How a durable execution records its events, and what it already did.
#[derive(Clone)]
pub struct Durable {
    pub sink: Arc<dyn EventSink>,
    /// The events an earlier run recorded and a replay may reuse.
    pub journal: Arc<Journal>,
    /// The highest event id recorded so far, replayable or not.
    pub last_id: u64,
    pub start_date: OffsetDateTime,
    pub redrive_count: u32,
    pub redrive_date: Option<OffsetDateTime>,
}

impl std::fmt::Debug for ExecutionRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutionRequest")
            .field("name", &self.name)
            .field("state_machine_name", &self.state_machine_name)
            .field("kind", &self.kind)
            .field("record_history", &self.record_history)
            .field("durable", &self.durable.is_some())
            .finish_non_exhaustive()
    }
}

impl ExecutionRequest {
    pub fn new(state_machine_name: impl Into<String>, input: Value) -> Self {
        ExecutionRequest {
            name: None,
            state_machine_name: state_machine_name.into(),
            input,
            kind: ExecutionType::Standard,
            record_history: true,
            durable: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Succeeded,
    Failed,
    TimedOut,
    /// Stopped from outside (`host stop`); the engine never ends an execution so itself.
    Aborted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "SUCCEEDED",
            Status::Failed => "FAILED",
            Status::TimedOut => "TIMED_OUT",
            Status::Aborted => "ABORTED",
        }
    }
}

/// A finished execution: what `DescribeExecution` and `GetExecutionHistory` tell.
#[derive(Debug, Clone)]
pub struct Execution {
    pub execution_arn: String,
    pub name: String,
    pub state_machine_arn: String,
    pub status: Status,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start_date: OffsetDateTime,
    pub stop_date: OffsetDateTime,
    /// How many states were entered, Map iterations and Parallel branches included.
    pub state_transitions: u64,
    pub history: Vec<HistoryEvent>,
}

impl Execution {
    /// The record shaped like AWS `DescribeExecution`: `input` (the
    /// execution's, which the engine consumed) and `output` as JSON text.
    pub fn describe(&self, input: &Value) -> Value {
        let mut described = json!({
            "executionArn": self.execution_arn,
            "stateMachineArn": self.state_machine_arn,
            "name": self.name,
            "status": self.status.as_str(),
            "startDate": format_timestamp(self.start_date),
            "stopDate": format_timestamp(self.stop_date),
            "input": history::text(input),
            "inputDetails": {"included": true},
        });
        if let Some(object) = described.as_object_mut() {
            if let Some(output) = &self.output {
                object.insert("output".into(), json!(history::text(output)));
                object.insert("outputDetails".into(), json!({"included": true}));
            }
            if let Some(error) = &self.error {
                object.insert("error".into(), json!(error));
            }
            if let Some(cause) = &self.cause {
                object.insert("cause".into(), json!(cause));
            }
        }
        described
    }

    /// `{"events": [...]}`, shaped like AWS `GetExecutionHistory`.
    pub fn history_document(&self) -> Value {
        json!({ "events": self.history })
    }
}
