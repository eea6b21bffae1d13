//! Nested executions: a Task state that starts an execution of another
//! state machine, as Step Functions' own integration does (checklist
//! NEST-01..04, AWS's "Start a new AWS Step Functions state machine from a
//! running execution" page):
//!
//! - `arn:aws:states:::states:startExecution`: starts the child and goes on;
//!   the result is StartExecution's response (`ExecutionArn`, `StartDate`,
//!   `SdkHttpMetadata`, `SdkResponseMetadata`).
//! - `…startExecution.sync`: waits for the child; the result is
//!   DescribeExecution's response with `Input` and `Output` as JSON text.
//! - `…startExecution.sync:2`: the same with `Input` and `Output` as JSON.
//! - `arn:aws:states:::aws-sdk:sfn:startExecution`: the SDK integration's
//!   response (`ExecutionArn`, `StartDate`).
//!
//! A child that fails, times out or is aborted fails a waiting parent's
//! task with `States.TaskFailed`, whose cause is the child's
//! DescribeExecution response (NEST-02). Stopping a parent stops the
//! children it waits for (NEST-04, `Executions::abort`).
//!
//! Children are durable executions of the host's own store, linked to their
//! parent in their record (`startedBy`): the parent execution and the
//! attempt that started it. A child without a `Name` is named from that
//! link, so a parent replayed after a crash finds the child it started
//! instead of starting a second; one with a `Name` is found by it.
//!
//! [`NestedExecutions`] is a [`TaskRunner`] layer over the others, so
//! another layer (`.waitForTaskToken`) can call it as an ordinary resource.

mod machines;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock, Weak};

use futures::future::BoxFuture;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};
use time::OffsetDateTime;

use crate::asl::model::StateMachine;
use crate::engine::{TaskCall, TaskFuture, TaskOutcome, TaskRunner};
use crate::errors::{AslError, names};
use crate::executions::{Executions, RunOptions, Start};
use crate::store::{ExecutionRecord, ExecutionStatus};

pub use machines::ManifestMachines;

/// The optimized integration's resource (request-response).
pub const START_EXECUTION: &str = "arn:aws:states:::states:startExecution";
/// The SDK integration's resource.
pub const SDK_START_EXECUTION: &str = "arn:aws:states:::aws-sdk:sfn:startExecution";

/// The record label that links a child to the attempt that started it.
pub const STARTED_BY: &str = "startedBy";

/// How a resource starts a child and what it hands back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pattern {
    /// Request-response: StartExecution's answer.
    Start,
    /// `.sync`: waits; DescribeExecution with JSON text.
    Sync,
    /// `.sync:2`: waits; DescribeExecution with JSON.
    Sync2,
    /// `aws-sdk:sfn:startExecution`.
    Sdk,
}

impl Pattern {
    fn of(resource: &str) -> Option<Pattern> {
        match resource {
            START_EXECUTION => Some(Pattern::Start),
            SDK_START_EXECUTION => Some(Pattern::Sdk),
            _ => match resource.strip_prefix(START_EXECUTION)? {
                ".sync" => Some(Pattern::Sync),
                ".sync:2" => Some(Pattern::Sync2),
                _ => None,
            },
        }
    }

    fn waits(self) -> bool {
        matches!(self, Pattern::Sync | Pattern::Sync2)
    }

    /// A service error as this integration names it: `StepFunctions.XException`
    /// with the Java SDK's cause for the optimized one, `Sfn.XException` with
    /// SDK v2's for `aws-sdk:sfn` (the shape AWS gives S3's errors there).
    fn service_error(self, error: &StartError) -> AslError {
        let request_id = uuid::Uuid::new_v4();
        let StartError { code, message } = error;
        match self {
            Pattern::Sdk => AslError::new(
                format!("Sfn.{code}Exception"),
                format!("{message} (Service: Sfn, Status Code: 400, Request ID: {request_id})"),
            ),
            _ => AslError::new(
                format!("StepFunctions.{code}Exception"),
                format!(
                    "{message} (Service: AWSStepFunctions; Status Code: 400; Error Code: {code}; Request ID: {request_id}; Proxy: null)"
                ),
            ),
        }
    }
}

/// A state machine a child execution runs.
pub struct ChildMachine {
    pub machine: Arc<StateMachine>,
    pub definition: String,
    /// The state machine's name.
    pub name: String,
    /// Kept in the child's record (the version or alias it was started through).
    pub labels: Vec<(&'static str, Value)>,
}

/// A StartExecution refusal, as the service names it (`StateMachineDoesNotExist`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartError {
    pub code: String,
    pub message: String,
}

/// Where a child's state machine is found: `host serve`'s registry, or the
/// `[state_machines.*]` a manifest declares for `host run`.
pub trait MachineSource: Send + Sync {
    fn resolve<'a>(&'a self, arn: &'a str) -> BoxFuture<'a, Result<ChildMachine, StartError>>;
}

/// What children need once the store is open.
struct Host {
    executions: Weak<Executions>,
    /// What children's Task states run on: this layer and all below it.
    runner: Weak<dyn TaskRunner>,
    manifest: Option<PathBuf>,
    options: RunOptions,
}

/// The nested-execution resources over `inner`'s.
pub struct NestedExecutions {
    inner: Arc<dyn TaskRunner>,
    /// The state machines children may run, or why there are none here.
    machines: Result<Arc<dyn MachineSource>, String>,
    host: OnceLock<Host>,
}

impl NestedExecutions {
    pub fn new(
        inner: Arc<dyn TaskRunner>,
        machines: Result<Arc<dyn MachineSource>, String>,
    ) -> Arc<Self> {
        Arc::new(NestedExecutions {
            inner,
            machines,
            host: OnceLock::new(),
        })
    }

    /// Children start in `executions`, run with this runner, under `options`.
    pub fn attach(
        self: &Arc<Self>,
        executions: &Arc<Executions>,
        manifest: Option<PathBuf>,
        options: RunOptions,
    ) {
        let runner: Arc<dyn TaskRunner> = self.clone();
        let _ = self.host.set(Host {
            executions: Arc::downgrade(executions),
            runner: Arc::downgrade(&runner),
            manifest,
            options,
        });
    }

    async fn run(&self, pattern: Pattern, call: &TaskCall<'_>) -> Result<Value, AslError> {
        let request = ChildRequest::read(call.input)?;
        let machines = self.machines.as_ref().map_err(|why| failed(why.clone()))?;
        let (Some(host), Some(executions), Some(runner)) = (
            self.host.get(),
            self.host.get().and_then(|h| h.executions.upgrade()),
            self.host.get().and_then(|h| h.runner.upgrade()),
        ) else {
            return Err(failed(
                "nested executions run only in a recorded Standard execution (not --no-store, \
                 --mock-config or --type express)"
                    .into(),
            ));
        };
        let child = machines
            .resolve(&request.state_machine_arn)
            .await
            .map_err(|e| pattern.service_error(&e))?;
        let unknown = crate::engine::Engine::new(runner.clone()).check_resources(&child.machine);
        if let Some(problem) = unknown.first() {
            return Err(pattern.service_error(&StartError {
                code: "InvalidDefinition".into(),
                message: format!("state machine '{}' cannot run here: {problem}", child.name),
            }));
        }
        let name = match request.name {
            Some(name) => name,
            None => child_name(call.execution_id, call.attempt),
        };
        let link = json!({
            "executionArn": call.execution_id,
            "attempt": call.attempt,
            "sync": pattern.waits(),
        });
        let mut labels = child.labels.clone();
        labels.push((STARTED_BY, link.clone()));
        let start = Start {
            machine: &child.machine,
            definition: &child.definition,
            state_machine_name: &child.name,
            manifest: host.manifest.as_deref(),
            name: Some(name),
            input: request.input,
            options: host.options.clone(),
        };
        let record = match executions.begin(start, runner, &labels).await {
            Ok(begun) => {
                let record = begun.record().clone();
                executions.spawn_run(begun, child.machine.clone());
                record
            }
            Err(e) => match crate::executions::already_exists(&e) {
                // Started by this very attempt before a crash: it is ours.
                Some(arn) => {
                    let record = executions
                        .record(arn)
                        .map_err(|e| failed(format!("{e:#}")))?;
                    if record.options.get(STARTED_BY) != Some(&link) {
                        return Err(pattern.service_error(&StartError {
                            code: "ExecutionAlreadyExists".into(),
                            message: format!("Execution Already Exists: '{arn}'"),
                        }));
                    }
                    record
                }
                None => {
                    return Err(failed(format!(
                        "could not start the child execution: {e:#}"
                    )));
                }
            },
        };
        match pattern {
            Pattern::Start => Ok(start_response(&record)),
            Pattern::Sdk => Ok(json!({
                "ExecutionArn": record.arn,
                "StartDate": iso_date(record.start_date),
            })),
            Pattern::Sync | Pattern::Sync2 => {
                let ended = executions
                    .wait_for(&record.arn)
                    .await
                    .map_err(|e| failed(format!("{e:#}")))?;
                let described = describe(&ended, pattern == Pattern::Sync2);
                match ended.status {
                    ExecutionStatus::Succeeded => Ok(described),
                    // NEST-02: the cause is the child's DescribeExecution.
                    _ => Err(AslError::new(names::TASK_FAILED, described.to_string())),
                }
            }
        }
    }
}

impl TaskRunner for NestedExecutions {
    fn check_resource(&self, resource: &str) -> Result<(), String> {
        match Pattern::of(resource) {
            Some(_) => self
                .machines
                .as_ref()
                .map(|_| ())
                .map_err(|why| format!("'{resource}' starts a nested execution, but {why}")),
            None => self.inner.check_resource(resource),
        }
    }

    fn check_task(&self, state: &str, resource: &str) -> Result<(), String> {
        match Pattern::of(resource) {
            Some(_) => self.check_resource(resource),
            None => self.inner.check_task(state, resource),
        }
    }

    fn answers_itself(&self, state: &str) -> bool {
        self.inner.answers_itself(state)
    }

    fn buckets(&self) -> Option<&crate::objects::Buckets> {
        self.inner.buckets()
    }

    fn invoke<'a>(&'a self, call: TaskCall<'a>) -> TaskFuture<'a> {
        let Some(pattern) = Pattern::of(call.resource) else {
            return self.inner.invoke(call);
        };
        Box::pin(async move { TaskOutcome::from(self.run(pattern, &call).await) })
    }
}

/// The members StartExecution takes from `Parameters`/`Arguments`.
struct ChildRequest {
    state_machine_arn: String,
    input: Value,
    name: Option<String>,
}

impl ChildRequest {
    fn read(parameters: &Value) -> Result<ChildRequest, AslError> {
        let Some(members) = parameters.as_object() else {
            return Err(failed(
                "startExecution takes an object with \"StateMachineArn\" (and \"Input\", \"Name\") as its Parameters or Arguments".into(),
            ));
        };
        let state_machine_arn = match members.get("StateMachineArn") {
            Some(Value::String(arn)) => arn.clone(),
            _ => {
                return Err(failed(
                    "startExecution needs \"StateMachineArn\" (a string) in its Parameters or Arguments".into(),
                ));
            }
        };
        // Input: JSON, or JSON text (AWS takes both); absent is `{}`.
        let input = match members.get("Input") {
            None | Some(Value::Null) => json!({}),
            Some(Value::String(text)) => serde_json::from_str(text).map_err(|e| {
                failed(format!(
                    "\"Input\" is text but not JSON ({e}): give an object or JSON text"
                ))
            })?,
            Some(value) => value.clone(),
        };
        let name = match members.get("Name") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) if crate::api::protocol::valid_name(name) => {
                Some(name.clone())
            }
            Some(other) => {
                let shown: String = other.to_string().chars().take(256).collect();
                return Err(failed(format!(
                    "\"Name\" {shown} is not a valid execution name (1 to 80 letters, digits, '-' or '_')"
                )));
            }
        };
        Ok(ChildRequest {
            state_machine_arn,
            input,
            name,
        })
    }
}

fn failed(cause: String) -> AslError {
    AslError::new(names::TASK_FAILED, cause)
}

/// The name of the child an attempt starts without a `Name`: a UUID (as
/// AWS gives) derived from the parent and the attempt, so a replay of that
/// attempt names the same child.
fn child_name(parent: &str, attempt: &str) -> String {
    let digest = Sha1::new()
        .chain_update(parent.as_bytes())
        .chain_update(b"\n")
        .chain_update(attempt.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// A date as the optimized integrations give it: epoch milliseconds.
fn epoch_millis(date: OffsetDateTime) -> Value {
    json!(i64::try_from(date.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
}

/// A date as the SDK integrations give it: ISO 8601.
fn iso_date(date: OffsetDateTime) -> Value {
    json!(crate::engine::history::format_timestamp(date))
}

/// StartExecution's response as the optimized integration returns it.
fn start_response(record: &ExecutionRecord) -> Value {
    let wire = json!({
        "executionArn": record.arn,
        "startDate": record.start_date.unix_timestamp(),
    });
    let length = wire.to_string().len().to_string();
    let request_id = uuid::Uuid::new_v4().to_string();
    let date = crate::engine::history::format_timestamp(OffsetDateTime::now_utc());
    json!({
        "ExecutionArn": record.arn,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "x-amzn-RequestId": [request_id],
                "connection": ["keep-alive"],
                "Content-Length": [length],
                "Date": [date],
                "Content-Type": ["application/x-amz-json-1.0"],
            },
            "HttpHeaders": {
                "connection": "keep-alive",
                "Content-Length": length,
                "Content-Type": "application/x-amz-json-1.0",
                "Date": date,
                "x-amzn-RequestId": request_id,
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StartDate": epoch_millis(record.start_date),
    })
}

/// An ended child as DescribeExecution describes it, members capitalised
/// as Step Functions hands service responses to a state; `Input` and
/// `Output` are JSON text, or JSON when `parsed` (`.sync:2`).
fn describe(record: &ExecutionRecord, parsed: bool) -> Value {
    let data = |value: &Value| match parsed {
        true => value.clone(),
        false => json!(crate::engine::history::text(value)),
    };
    let refusal = record.redrive_refusal(OffsetDateTime::now_utc());
    let mut described = json!({
        "ExecutionArn": record.arn,
        "Input": data(&record.input),
        "InputDetails": {"Included": true},
        "Name": record.name,
        "RedriveCount": record.redrive_count,
        "RedriveStatus": if refusal.is_none() { "REDRIVABLE" } else { "NOT_REDRIVABLE" },
        "StartDate": epoch_millis(record.start_date),
        "StateMachineArn": crate::engine::state_machine_arn(&record.state_machine_name),
        "Status": record.status.as_str(),
    });
    let Some(object) = described.as_object_mut() else {
        return described;
    };
    if let Some(output) = &record.output {
        object.insert("Output".into(), data(output));
        object.insert("OutputDetails".into(), json!({"Included": true}));
    }
    if let Some(reason) = refusal {
        object.insert("RedriveStatusReason".into(), json!(reason));
    }
    if let Some(stop) = record.stop_date {
        object.insert("StopDate".into(), epoch_millis(stop));
    }
    if let Some(error) = &record.error {
        object.insert("Error".into(), json!(error));
    }
    if let Some(cause) = &record.cause {
        object.insert("Cause".into(), json!(cause));
    }
    for (label, member) in [
        ("stateMachineVersionArn", "StateMachineVersionArn"),
        ("stateMachineAliasArn", "StateMachineAliasArn"),
    ] {
        if let Some(value) = record.options.get(label).and_then(Value::as_str) {
            object.insert(member.into(), json!(value));
        }
    }
    described
}

#[cfg(test)]
mod tests;
