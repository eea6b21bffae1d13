//! Execution operations: StartExecution, StartSyncExecution,
//! DescribeExecution, ListExecutions, GetExecutionHistory, StopExecution,
//! RedriveExecution.
//!
//! Standard executions are the store's records, run by [`Executions`] as
//! `host run` runs them; Express ones run in memory and are kept readable
//! for a while by [`super::express::Recent`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::arn::{self, ExecutionRef};
use super::express::ExpressRun;
use super::protocol::{ApiError, Request, echo, epoch, valid_name};
use super::{Service, Target};
use crate::engine::{Engine, ExecutionRequest, ExecutionType, HistoryEvent, TaskRunner};
use crate::executions::{RunOptions, Start};
use crate::store::{ExecutionRecord, ExecutionStatus, RecorderError, StopRequest, StoreError};

/// AWS's largest execution input (checklist EXE-11, QUOTA-01).
const INPUT_LIMIT: usize = 256 * 1024;

/// The store error inside `e`, however it was wrapped.
fn store_error(e: &anyhow::Error) -> Option<&StoreError> {
    if let Some(e) = e.downcast_ref::<StoreError>() {
        return Some(e);
    }
    match e.downcast_ref::<RecorderError>() {
        Some(RecorderError::Store(e)) => Some(e),
        _ => None,
    }
}

/// `input` parsed, or AWS's `InvalidExecutionInput`.
fn parse_input(input: &str) -> Result<Value, ApiError> {
    if input.len() > INPUT_LIMIT {
        return Err(ApiError::validation(&[format!(
            "Value at 'input' failed to satisfy constraint: Member must have length less than or equal to {INPUT_LIMIT}"
        )]));
    }
    serde_json::from_str(input).map_err(|e| {
        ApiError::service(
            "InvalidExecutionInput",
            format!("Invalid State Machine Execution Input: '{e}'"),
        )
    })
}

/// The members every start takes.
struct StartRequest {
    arn: String,
    /// `stateMachineArn#TestCase`: run against that test case of the
    /// service's mock config (Step Functions Local's convention).
    test_case: Option<String>,
    name: Option<String>,
    input_text: String,
    input: Value,
}

fn start_request(mut request: Request) -> Result<StartRequest, ApiError> {
    let arn = request.required("stateMachineArn", 1, 256)?;
    let name = request.string("name", 1, 80)?;
    let input_text = request
        .string("input", 0, INPUT_LIMIT)?
        .unwrap_or_else(|| "{}".into());
    request.string("traceHeader", 0, 256)?;
    request.one_of("includedData", &["ALL_DATA", "METADATA_ONLY"])?;
    request.finish()?;
    if let Some(name) = &name
        && !valid_name(name)
    {
        return Err(ApiError::invalid_name(name));
    }
    let input = parse_input(&input_text)?;
    let (arn, test_case) = match arn.split_once('#') {
        Some((arn, case)) => (arn.to_owned(), Some(case.to_owned())),
        None => (arn, None),
    };
    Ok(StartRequest {
        arn,
        test_case,
        name,
        input_text,
        input,
    })
}

impl Service {
    /// What runs the Tasks of a start: the service's tasks, or the mocks of
    /// the test case the ARN names.
    fn runner(
        &self,
        target: &Target,
        start: &StartRequest,
    ) -> Result<Arc<dyn TaskRunner>, ApiError> {
        let Some(case) = &start.test_case else {
            return Ok(self.tasks.clone());
        };
        let Some(config) = &self.options.mock_config else {
            return Err(ApiError::validation_text(format!(
                "'{}#{}' names a mock test case, but this host has no mock config: start it with \
                 `host serve --mock-config FILE`",
                echo(&start.arn),
                echo(case)
            )));
        };
        let case = config
            .test_case(&target.name, case)
            .map_err(|why| ApiError::validation_text(echo(&why)))?;
        Ok(Arc::new(crate::mocks::MockedTasks::new(
            self.tasks.clone(),
            case,
        )))
    }

    fn engine(&self, tasks: Arc<dyn TaskRunner>) -> Engine {
        let mut engine = Engine::new(tasks);
        if self.options.virtual_time {
            engine = engine.with_clock(crate::engine::Clock::virtual_time());
        }
        if let Some(ops) = &self.options.ops {
            engine = engine.with_observer(ops.clone());
        }
        engine
    }

    fn run_options(&self) -> RunOptions {
        RunOptions {
            payload_limit: None,
            virtual_time: self.options.virtual_time,
        }
    }
}

pub async fn start(service: &Arc<Service>, request: Request) -> Result<Value, ApiError> {
    let start = start_request(request)?;
    let target = service.target(&start.arn).await?;
    let tasks = service.runner(&target, &start)?;
    if target.kind == ExecutionType::Express {
        let run = begin_express(service, &target, &start, true);
        let answer = json!({"executionArn": run.arn, "startDate": epoch(run.start_date)});
        let service = service.clone();
        tokio::spawn(async move {
            finish_express(&service, &target, run, start.input, tasks).await;
        });
        return Ok(answer);
    }
    let mut labels = Vec::new();
    if let Some(case) = &start.test_case {
        labels.push((crate::executions::MOCK_TEST_CASE, json!(case)));
    }
    if let Some(version) = &target.version_arn {
        labels.push(("stateMachineVersionArn", json!(version)));
    }
    if let Some(alias) = &target.alias_arn {
        labels.push(("stateMachineAliasArn", json!(alias)));
    }
    let begun = service
        .executions
        .begin(
            Start {
                machine: &target.machine,
                definition: &target.definition,
                state_machine_name: &target.name,
                manifest: service.options.manifest.as_deref(),
                name: start.name.clone(),
                input: start.input.clone(),
                options: service.run_options(),
            },
            tasks,
            &labels,
        )
        .await;
    let begun = match begun {
        Ok(begun) => begun,
        Err(e) => {
            return match store_error(&e) {
                Some(StoreError::ExecutionAlreadyExists { arn }) => {
                    already_started(service, arn, &target, &start.input).await
                }
                _ => Err(ApiError::internal(&e)),
            };
        }
    };
    let record = begun.record();
    let answer = json!({"executionArn": record.arn, "startDate": epoch(record.start_date)});
    let executions = service.executions.clone();
    let machine = target.machine.clone();
    tokio::spawn(async move {
        if let Err(e) = executions.run_begun(begun, &machine).await {
            tracing::error!(error = %format!("{e:#}").escape_debug(), "an execution could not be run to its end");
        }
    });
    Ok(answer)
}

/// StartExecution of a used name: the same answer while the first is
/// RUNNING with the same input (AWS's idempotency, checklist EXE-09),
/// else `ExecutionAlreadyExists`.
async fn already_started(
    service: &Arc<Service>,
    arn: &str,
    target: &Target,
    input: &Value,
) -> Result<Value, ApiError> {
    let record = get_record(service, arn, arn).await?;
    if record.status == ExecutionStatus::Running
        && record.state_machine_name == target.name
        && &record.input == input
    {
        return Ok(json!({"executionArn": record.arn, "startDate": epoch(record.start_date)}));
    }
    Err(ApiError::service(
        "ExecutionAlreadyExists",
        format!("Execution Already Exists: '{arn}'"),
    ))
}

/// A new Express run; `announce` keeps it readable while it runs.
fn begin_express(
    service: &Service,
    target: &Target,
    start: &StartRequest,
    announce: bool,
) -> ExpressRun {
    let name = start
        .name
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let id = uuid::Uuid::new_v4().to_string();
    let run = ExpressRun {
        arn: arn::express_arn(&target.name, &name, &id),
        name,
        machine_name: target.name.clone(),
        version_arn: target.version_arn.clone(),
        alias_arn: target.alias_arn.clone(),
        input: start.input_text.clone(),
        start_date: OffsetDateTime::now_utc(),
        outcome: None,
    };
    if !announce {
        return run;
    }
    service.express.put(Arc::new(ExpressRun {
        arn: run.arn.clone(),
        name: run.name.clone(),
        machine_name: run.machine_name.clone(),
        version_arn: run.version_arn.clone(),
        alias_arn: run.alias_arn.clone(),
        input: run.input.clone(),
        start_date: run.start_date,
        outcome: None,
    }));
    run
}

/// Runs an Express execution to its end and keeps it readable.
async fn finish_express(
    service: &Service,
    target: &Target,
    mut run: ExpressRun,
    input: Value,
    tasks: Arc<dyn TaskRunner>,
) -> Arc<ExpressRun> {
    let request = ExecutionRequest {
        name: Some(run.name.clone()),
        state_machine_name: target.name.clone(),
        input,
        kind: ExecutionType::Express,
        record_history: service.express.enabled(),
        durable: None,
    };
    let mut execution = service
        .engine(tasks)
        .execute(&target.machine, request)
        .await;
    execution.execution_arn = run.arn.clone();
    run.outcome = Some(execution);
    let run = Arc::new(run);
    service.express.put(run.clone());
    run
}

pub async fn start_sync(service: &Arc<Service>, request: Request) -> Result<Value, ApiError> {
    let start = start_request(request)?;
    let target = service.target(&start.arn).await?;
    if target.kind != ExecutionType::Express {
        return Err(ApiError::service(
            "StateMachineTypeNotSupported",
            "This operation is not supported by this type of state machine",
        ));
    }
    let tasks = service.runner(&target, &start)?;
    let run = begin_express(service, &target, &start, false);
    let run = finish_express(service, &target, run, start.input, tasks).await;
    let Some(execution) = &run.outcome else {
        return Err(ApiError::internal(&anyhow::anyhow!(
            "an Express execution ended without an outcome"
        )));
    };
    let billed = (execution.stop_date - execution.start_date)
        .whole_milliseconds()
        .max(1);
    let mut answer = json!({
        "executionArn": run.arn,
        "stateMachineArn": target.version_arn.as_deref().map_or_else(|| arn::machine_arn(&target.name), str::to_owned),
        "name": run.name,
        "startDate": epoch(execution.start_date),
        "stopDate": epoch(execution.stop_date),
        "status": execution.status.as_str(),
        "input": run.input,
        "inputDetails": {"included": true},
        "billingDetails": {
            "billedMemoryUsedInMB": 64,
            "billedDurationInMilliseconds": (billed + 99) / 100 * 100,
        },
    });
    add_outcome(
        &mut answer,
        &execution.output,
        &execution.error,
        &execution.cause,
    );
    Ok(answer)
}

fn add_outcome(
    answer: &mut Value,
    output: &Option<Value>,
    error: &Option<String>,
    cause: &Option<String>,
) {
    if let Some(output) = output {
        answer["output"] = json!(crate::engine::history::text(output));
        answer["outputDetails"] = json!({"included": true});
    }
    if let Some(error) = error {
        answer["error"] = json!(error);
    }
    if let Some(cause) = cause {
        answer["cause"] = json!(cause);
    }
}

/// A Standard execution's record by ARN; `shown` names it in the error.
async fn get_record(
    service: &Service,
    arn: &str,
    shown: &str,
) -> Result<ExecutionRecord, ApiError> {
    let store = service.executions.store().clone();
    let owned = arn.to_owned();
    let found = tokio::task::spawn_blocking(move || store.get(&owned))
        .await
        .map_err(|e| ApiError::internal(&anyhow::anyhow!("a store call failed: {e}")))?;
    match found {
        Ok(record) => Ok(record),
        Err(StoreError::ExecutionDoesNotExist { .. } | StoreError::AmbiguousName { .. }) => {
            Err(ApiError::execution_does_not_exist(shown))
        }
        Err(e) => Err(e.into()),
    }
}

/// Either kind of execution, by ARN.
enum Found {
    Standard(Box<ExecutionRecord>),
    Express(Arc<ExpressRun>),
}

async fn find_any(service: &Service, arn: &str) -> Result<(ExecutionRef, Found), ApiError> {
    let reference = arn::parse_execution(arn)?;
    if reference.express {
        let run = service
            .express
            .get(&reference.arn)
            .ok_or_else(|| ApiError::execution_does_not_exist(arn))?;
        return Ok((reference, Found::Express(run)));
    }
    let record = get_record(service, &reference.arn, arn).await?;
    Ok((reference, Found::Standard(Box::new(record))))
}

/// What DescribeStateMachineForExecution needs of an execution.
pub struct ExecutionMachine {
    pub machine_name: String,
    pub definition: String,
    pub start_date: OffsetDateTime,
}

pub async fn find(service: &Service, arn: &str) -> Result<ExecutionMachine, ApiError> {
    let (reference, found) = find_any(service, arn).await?;
    Ok(match found {
        Found::Standard(record) => {
            let record = *record;
            ExecutionMachine {
                machine_name: record.state_machine_name,
                definition: record.definition,
                start_date: record.start_date,
            }
        }
        Found::Express(run) => {
            let machine = service.machine(&reference.machine, arn).await?;
            ExecutionMachine {
                machine_name: run.machine_name.clone(),
                definition: machine.definition,
                start_date: run.start_date,
            }
        }
    })
}

fn label<'a>(record: &'a ExecutionRecord, key: &str) -> Option<&'a str> {
    record.options.get(key).and_then(Value::as_str)
}

/// A stored execution shaped like AWS's `DescribeExecution`.
fn describe_record(record: &ExecutionRecord, metadata_only: bool) -> Value {
    let refusal = record.redrive_refusal(OffsetDateTime::now_utc());
    let mut described = json!({
        "executionArn": record.arn,
        "stateMachineArn": arn::machine_arn(&record.state_machine_name),
        "name": record.name,
        "status": record.status.as_str(),
        "startDate": epoch(record.start_date),
        "redriveCount": record.redrive_count,
        "redriveStatus": if refusal.is_none() { "REDRIVABLE" } else { "NOT_REDRIVABLE" },
    });
    if metadata_only {
        described["inputDetails"] = json!({"included": false});
    } else {
        described["input"] = json!(crate::engine::history::text(&record.input));
        described["inputDetails"] = json!({"included": true});
        add_outcome(&mut described, &record.output, &None, &None);
    }
    add_outcome(&mut described, &None, &record.error, &record.cause);
    if let Some(stop) = record.stop_date {
        described["stopDate"] = epoch(stop);
    }
    if let Some(date) = record.redrive_date {
        described["redriveDate"] = epoch(date);
    }
    if let Some(reason) = refusal {
        described["redriveStatusReason"] = json!(reason);
    }
    for key in ["stateMachineVersionArn", "stateMachineAliasArn"] {
        if let Some(value) = label(record, key) {
            described[key] = json!(value);
        }
    }
    described
}

fn describe_express(run: &ExpressRun, metadata_only: bool) -> Value {
    let mut described = json!({
        "executionArn": run.arn,
        "stateMachineArn": arn::machine_arn(&run.machine_name),
        "name": run.name,
        "status": run.outcome.as_ref().map_or("RUNNING", |e| e.status.as_str()),
        "startDate": epoch(run.start_date),
        "redriveCount": 0,
        "redriveStatus": "NOT_REDRIVABLE",
        "redriveStatusReason": "Express executions cannot be redriven",
    });
    if metadata_only {
        described["inputDetails"] = json!({"included": false});
    } else {
        described["input"] = json!(run.input);
        described["inputDetails"] = json!({"included": true});
    }
    if let Some(execution) = &run.outcome {
        described["stopDate"] = epoch(execution.stop_date);
        let output = if metadata_only {
            &None
        } else {
            &execution.output
        };
        add_outcome(&mut described, output, &execution.error, &execution.cause);
    }
    if let Some(version) = &run.version_arn {
        described["stateMachineVersionArn"] = json!(version);
    }
    if let Some(alias) = &run.alias_arn {
        described["stateMachineAliasArn"] = json!(alias);
    }
    described
}

pub async fn describe(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let arn = request.required("executionArn", 1, 256)?;
    let metadata_only = request.one_of("includedData", &["ALL_DATA", "METADATA_ONLY"])?
        == Some("METADATA_ONLY".into());
    request.finish()?;
    Ok(match find_any(service, &arn).await?.1 {
        Found::Standard(record) => describe_record(&record, metadata_only),
        Found::Express(run) => describe_express(&run, metadata_only),
    })
}

const STATUSES: [&str; 6] = [
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
    "TIMED_OUT",
    "ABORTED",
    "PENDING_REDRIVE",
];

/// The sort key of an execution in ListExecutions: newest first, then by
/// ARN, as fixed-width text so keys compare as strings.
fn list_key(start: OffsetDateTime, arn: &str) -> String {
    format!("{:024}\n{arn}", start.unix_timestamp_nanos())
}

pub async fn list(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let machine_arn = request.string("stateMachineArn", 1, 256)?;
    let map_run = request.string("mapRunArn", 1, 2000)?;
    let status = request.one_of("statusFilter", &STATUSES)?;
    let redrive = request.one_of("redriveFilter", &["REDRIVEN", "NOT_REDRIVEN"])?;
    let page = request.page(1000)?;
    request.finish()?;
    let machine_arn = match (machine_arn, map_run) {
        (Some(_), Some(_)) => {
            return Err(ApiError::validation_text(
                "Only one of stateMachineArn or mapRunArn can be specified",
            ));
        }
        (None, Some(map_run)) => return Err(ApiError::resource_not_found(&map_run)),
        (None, None) => {
            return Err(ApiError::validation_text(
                "Must provide a StateMachine ARN or MapRun ARN",
            ));
        }
        (Some(arn), None) => arn,
    };
    let reference = arn::parse_machine(&machine_arn)?;
    let name = reference.name().to_owned();
    let owned = name.clone();
    let machine = service.blocking(move |m| m.machine(&owned)).await?;
    let qualifier = match &reference {
        arn::MachineRef::Latest(_) => None,
        arn::MachineRef::Version(..) => Some(("stateMachineVersionArn", reference.arn())),
        arn::MachineRef::Alias(..) => Some(("stateMachineAliasArn", reference.arn())),
    };
    let status_filter = status.as_deref();
    let mut items: Vec<(String, Value)> = Vec::new();
    if machine
        .as_ref()
        .is_some_and(|m| m.kind == ExecutionType::Express)
    {
        for run in service.express.of_machine(&name) {
            let item = list_item_express(&run);
            let matches = status_filter.is_none_or(|s| item["status"] == s)
                && redrive != Some("REDRIVEN".into())
                && qualifier
                    .as_ref()
                    .is_none_or(|(k, v)| item[*k] == v.as_str());
            if matches {
                items.push((list_key(run.start_date, &run.arn), item));
            }
        }
    } else {
        let filter: Option<ExecutionStatus> = match status_filter {
            None => None,
            Some("PENDING_REDRIVE") => return Ok(json!({"executions": []})),
            Some(s) => Some(s.parse().map_err(|e: crate::store::UnknownStatus| {
                ApiError::validation_text(e.to_string())
            })?),
        };
        let store = service.executions.store().clone();
        let records = tokio::task::spawn_blocking(move || store.list(filter))
            .await
            .map_err(|e| ApiError::internal(&anyhow::anyhow!("a store call failed: {e}")))??;
        let mut found = false;
        for record in records.iter().filter(|r| r.state_machine_name == name) {
            found = true;
            let redriven = record.redrive_count > 0;
            let matches = match redrive.as_deref() {
                Some("REDRIVEN") => redriven,
                Some("NOT_REDRIVEN") => !redriven,
                _ => true,
            } && qualifier
                .as_ref()
                .is_none_or(|(k, v)| label(record, k) == Some(v.as_str()));
            if matches {
                items.push((list_key(record.start_date, &record.arn), list_item(record)));
            }
        }
        if machine.is_none() && !found {
            return Err(ApiError::machine_does_not_exist(&machine_arn));
        }
    }
    items.sort_by(|a, b| b.0.cmp(&a.0));
    let (items, next) = page.take(
        "executions",
        items,
        |(key, _)| key.clone(),
        |key, after| key < after,
    )?;
    let executions: Vec<Value> = items.into_iter().map(|(_, item)| item).collect();
    let mut answer = json!({"executions": executions});
    if let Some(next) = next {
        answer["nextToken"] = json!(next);
    }
    Ok(answer)
}

fn list_item(record: &ExecutionRecord) -> Value {
    let mut item = json!({
        "executionArn": record.arn,
        "stateMachineArn": arn::machine_arn(&record.state_machine_name),
        "name": record.name,
        "status": record.status.as_str(),
        "startDate": epoch(record.start_date),
        "redriveCount": record.redrive_count,
    });
    if let Some(stop) = record.stop_date {
        item["stopDate"] = epoch(stop);
    }
    if let Some(date) = record.redrive_date {
        item["redriveDate"] = epoch(date);
    }
    for key in ["stateMachineVersionArn", "stateMachineAliasArn"] {
        if let Some(value) = label(record, key) {
            item[key] = json!(value);
        }
    }
    item
}

fn list_item_express(run: &ExpressRun) -> Value {
    let mut item = json!({
        "executionArn": run.arn,
        "stateMachineArn": arn::machine_arn(&run.machine_name),
        "name": run.name,
        "status": run.outcome.as_ref().map_or("RUNNING", |e| e.status.as_str()),
        "startDate": epoch(run.start_date),
    });
    if let Some(execution) = &run.outcome {
        item["stopDate"] = epoch(execution.stop_date);
    }
    if let Some(version) = &run.version_arn {
        item["stateMachineVersionArn"] = json!(version);
    }
    if let Some(alias) = &run.alias_arn {
        item["stateMachineAliasArn"] = json!(alias);
    }
    item
}

/// One history event as the API sends it: epoch timestamp, and without
/// payloads unless `with_data`.
fn wire_event(event: &HistoryEvent, with_data: bool) -> Value {
    let mut value = serde_json::to_value(event).unwrap_or(Value::Null);
    value["timestamp"] = epoch(event.timestamp);
    if !with_data
        && let Some((member, _)) = &event.details
        && let Some(details) = value
            .get_mut(member.as_ref())
            .and_then(Value::as_object_mut)
    {
        for field in ["input", "output", "parameters", "result"] {
            details.remove(field);
        }
    }
    value
}

pub async fn history(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let arn = request.required("executionArn", 1, 256)?;
    let reverse = request.boolean("reverseOrder")?.unwrap_or(false);
    let with_data = request.boolean("includeExecutionData")?.unwrap_or(true);
    let page = request.page(1000)?;
    request.finish()?;
    let (reference, found) = find_any(service, &arn).await?;
    let mut events: Vec<HistoryEvent> = match found {
        Found::Express(run) => run
            .outcome
            .as_ref()
            .map(|e| e.history.clone())
            .unwrap_or_default(),
        Found::Standard(_) => {
            let store = service.executions.store().clone();
            let owned = reference.arn.clone();
            tokio::task::spawn_blocking(move || store.events(&owned))
                .await
                .map_err(|e| ApiError::internal(&anyhow::anyhow!("a store call failed: {e}")))??
                .into_iter()
                .map(|stored| stored.event.event)
                .collect()
        }
    };
    events.sort_by_key(|e| e.id);
    if reverse {
        events.reverse();
    }
    let list = if reverse {
        "history-reverse"
    } else {
        "history"
    };
    let (events, next) = page.take(
        list,
        events,
        |e| format!("{:020}", e.id),
        |key, after| if reverse { key < after } else { key > after },
    )?;
    let events: Vec<Value> = events.iter().map(|e| wire_event(e, with_data)).collect();
    let mut answer = json!({"events": events});
    if let Some(next) = next {
        answer["nextToken"] = json!(next);
    }
    Ok(answer)
}

fn not_for_express(arn: &str) -> ApiError {
    ApiError::invalid_arn(arn, "Resource type not valid in this context: express")
}

pub async fn stop(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let arn = request.required("executionArn", 1, 256)?;
    let error = request.string("error", 0, 256)?;
    let cause = request.string("cause", 0, 32768)?;
    request.finish()?;
    let reference = arn::parse_execution(&arn)?;
    if reference.express {
        return Err(not_for_express(&arn));
    }
    let record = get_record(service, &reference.arn, &arn).await?;
    if record.status != ExecutionStatus::Running {
        // Already ended: nothing to stop, as on AWS.
        let stop = record.stop_date.unwrap_or(record.start_date);
        return Ok(json!({"stopDate": epoch(stop)}));
    }
    let stopped = service
        .executions
        .stop(&reference.arn, StopRequest { error, cause })
        .await;
    match stopped {
        Ok(record) => Ok(json!({
            "stopDate": epoch(record.stop_date.unwrap_or_else(OffsetDateTime::now_utc))
        })),
        Err(e) => {
            // It may have ended on its own meanwhile.
            let now = get_record(service, &reference.arn, &arn).await?;
            match now.stop_date {
                Some(stop) if now.status != ExecutionStatus::Running => {
                    Ok(json!({"stopDate": epoch(stop)}))
                }
                _ => Err(ApiError::internal(&e)),
            }
        }
    }
}

pub async fn redrive(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let arn = request.required("executionArn", 1, 256)?;
    let token = request.string("clientToken", 1, 64)?;
    request.finish()?;
    let reference = arn::parse_execution(&arn)?;
    if reference.express {
        return Err(not_for_express(&arn));
    }
    if let Some(token) = &token
        && let Some(date) = service.redrive_tokens.seen(&reference.arn, token)
    {
        // The same request again (a client's retry): the same answer, and
        // no second redrive (REDRIVE-04).
        return Ok(json!({"redriveDate": epoch(date)}));
    }
    let record = match service.executions.begin_redrive(&reference.arn).await {
        Ok(record) => record,
        Err(e) => {
            return Err(match store_error(&e) {
                Some(StoreError::ExecutionDoesNotExist { .. }) => {
                    ApiError::execution_does_not_exist(&arn)
                }
                Some(StoreError::ExecutionNotRedrivable { reason, .. }) => ApiError::service(
                    "ExecutionNotRedrivable",
                    format!("Execution not redrivable: {reason}: '{}'", echo(&arn)),
                ),
                _ => ApiError::internal(&e),
            });
        }
    };
    let date = record.redrive_date.unwrap_or_else(OffsetDateTime::now_utc);
    if let Some(token) = token {
        service.redrive_tokens.remember(&reference.arn, token, date);
    }
    let answer = json!({"redriveDate": epoch(date)});
    let executions = service.executions.clone();
    tokio::spawn(async move {
        if let Err(e) = executions.run_redriven(&record).await {
            tracing::error!(error = %format!("{e:#}").escape_debug(), "a redriven execution could not be run to its end");
        }
    });
    Ok(answer)
}

/// RedriveExecution's `clientToken`s: as on AWS, a token repeated within
/// 15 minutes gets the first answer, and the last 10 tokens of an execution
/// are kept (REDRIVE-04).
#[derive(Default)]
pub struct RedriveTokens {
    by_execution: std::sync::Mutex<HashMap<String, Vec<SeenToken>>>,
}

/// A token, the redrive date it answered, and when it was first seen.
type SeenToken = (String, OffsetDateTime, Instant);

impl RedriveTokens {
    const KEPT_PER_EXECUTION: usize = 10;
    const VALID_FOR: Duration = Duration::from_secs(15 * 60);
    /// A bound on the executions remembered, so requests cannot grow it.
    const MAX_EXECUTIONS: usize = 10_000;

    fn seen(&self, arn: &str, token: &str) -> Option<OffsetDateTime> {
        let tokens = self.by_execution.lock().unwrap_or_else(|e| e.into_inner());
        tokens.get(arn)?.iter().find_map(|(t, date, at)| {
            (t == token && at.elapsed() < Self::VALID_FOR).then_some(*date)
        })
    }

    fn remember(&self, arn: &str, token: String, date: OffsetDateTime) {
        let mut tokens = self.by_execution.lock().unwrap_or_else(|e| e.into_inner());
        if tokens.len() >= Self::MAX_EXECUTIONS && !tokens.contains_key(arn) {
            tokens.retain(|_, kept| kept.iter().any(|(_, _, at)| at.elapsed() < Self::VALID_FOR));
            if tokens.len() >= Self::MAX_EXECUTIONS {
                return;
            }
        }
        let kept = tokens.entry(arn.to_owned()).or_default();
        kept.retain(|(_, _, at)| at.elapsed() < Self::VALID_FOR);
        if kept.len() >= Self::KEPT_PER_EXECUTION {
            kept.remove(0);
        }
        kept.push((token, date, Instant::now()));
    }
}
