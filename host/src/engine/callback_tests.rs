//! Callback and activity tasks in the engine, over the store-backed tokens
//! of a memory store: the events, the token in `$$.Task.Token`, answers,
//! timeouts on the virtual clock, Retry/Catch of a missed heartbeat, a
//! mocked callback answering at once.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{Clock, Engine, ExecutionRequest, Status, TaskCall, TaskFuture, TaskRunner};
use crate::executions::callbacks::TaskTokens;
use crate::store::{ExecutionRecord, MemoryStore, Store, TokenAnswer};

/// Answers each call with Lambda-like `{"StatusCode": 200}` and hands its
/// input (with the token in it) to the test.
struct Integration(Mutex<mpsc::UnboundedSender<Value>>);

impl TaskRunner for Integration {
    fn check_resource(&self, _: &str) -> Result<(), String> {
        Ok(())
    }

    fn invoke<'a>(&'a self, call: TaskCall<'a>) -> TaskFuture<'a> {
        assert_eq!(
            call.resource, "arn:aws:states:::lambda:invoke",
            "suffix stripped"
        );
        let _ = self
            .0
            .lock()
            .expect("not poisoned")
            .send(call.input.clone());
        Box::pin(async move { Ok(json!({"StatusCode": 200})).into() })
    }
}

struct Setup {
    engine: Engine,
    tokens: TaskTokens,
    calls: mpsc::UnboundedReceiver<Value>,
}

fn setup(clock: Clock) -> Setup {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    // Answers are accepted only for a RUNNING execution.
    let record = ExecutionRecord::new_running(
        super::execution_arn(super::ExecutionType::Standard, "test", "run"),
        "run",
        "test",
        super::ExecutionType::Standard,
        "{}",
        json!({}),
        time::OffsetDateTime::now_utc(),
    );
    store.create(&record, &[]).expect("created");
    let tokens = TaskTokens::new(store);
    let (sender, calls) = mpsc::unbounded_channel();
    let engine = Engine::new(Arc::new(Integration(Mutex::new(sender))))
        .with_clock(clock)
        .with_callbacks(Arc::new(tokens.clone()));
    Setup {
        engine,
        tokens,
        calls,
    }
}

fn callback(extra: Value) -> Value {
    let mut task = json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "notify", "Payload": {"token.$": "$$.Task.Token", "n.$": "$.n"}},
        "End": true
    });
    if let (Some(task), Value::Object(extra)) = (task.as_object_mut(), extra) {
        task.extend(extra);
    }
    json!({"StartAt": "Wait", "States": {"Wait": task}})
}

fn request(input: Value) -> ExecutionRequest {
    let mut request = ExecutionRequest::new("test", input);
    request.name = Some("run".into());
    request
}

fn kinds(execution: &super::Execution) -> Vec<String> {
    execution
        .history
        .iter()
        .map(|e| e.kind.to_string())
        .collect()
}

fn details(execution: &super::Execution, kind: &str) -> Value {
    execution
        .history
        .iter()
        .find(|e| e.kind == kind)
        .and_then(|e| e.details.as_ref())
        .map(|(_, d)| d.clone())
        .unwrap_or_else(|| panic!("no {kind} event"))
}

#[tokio::test]
async fn a_callback_waits_for_its_token_and_takes_the_answer_as_result() {
    let Setup {
        engine,
        tokens,
        mut calls,
    } = setup(Clock::Real);
    let machine = crate::asl::parse(&callback(json!({}))).expect("valid");
    let run = engine.execute(&machine, request(json!({"n": 7})));
    let answer = async {
        let call = calls.recv().await.expect("invoked");
        assert_eq!(call["Payload"]["n"], 7);
        let token = call["Payload"]["token"].as_str().expect("token").to_owned();
        tokens
            .answer(&token, TokenAnswer::Success("{\"done\":1}".into()))
            .await
            .expect("stored")
            .expect("accepted");
        // Answered once: a second answer is too late.
        let again = tokens
            .answer(&token, TokenAnswer::Heartbeat)
            .await
            .expect("stored");
        assert!(again.is_err());
        token
    };
    let (execution, token) = tokio::join!(run, answer);
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
    assert_eq!(execution.output, Some(json!({"done": 1})));
    assert_eq!(
        kinds(&execution),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSubmitted",
            "TaskSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    let scheduled = details(&execution, "TaskScheduled");
    assert_eq!(scheduled["resourceType"], "lambda");
    assert_eq!(scheduled["resource"], "invoke.waitForTaskToken");
    // The token is in the parameters, as AWS records them.
    assert!(
        scheduled["parameters"]
            .as_str()
            .expect("text")
            .contains(&token)
    );
    let submitted = details(&execution, "TaskSubmitted");
    assert_eq!(submitted["output"], "{\"StatusCode\":200}");
    assert_eq!(submitted["resource"], "invoke.waitForTaskToken");
    assert_eq!(
        details(&execution, "TaskSucceeded")["output"],
        "{\"done\":1}"
    );
}

#[tokio::test]
async fn a_failure_answer_is_retried_with_a_fresh_token() {
    let Setup {
        engine,
        tokens,
        mut calls,
    } = setup(Clock::Real);
    let definition = callback(json!({
        "Retry": [{"ErrorEquals": ["Remote.Busy"], "IntervalSeconds": 1, "MaxAttempts": 1, "BackoffRate": 1}]
    }));
    let machine = crate::asl::parse(&definition).expect("valid");
    let run = engine.execute(&machine, request(json!({"n": 1})));
    let answer = async {
        let mut seen = Vec::new();
        for _ in 0..2 {
            let call = calls.recv().await.expect("invoked");
            let token = call["Payload"]["token"].as_str().expect("token").to_owned();
            assert!(!seen.contains(&token), "a retry gets a new token");
            let failure = TokenAnswer::Failure {
                error: Some("Remote.Busy".into()),
                cause: Some("try later".into()),
            };
            tokens
                .answer(&token, failure)
                .await
                .expect("stored")
                .expect("accepted");
            seen.push(token);
        }
    };
    let (execution, ()) = tokio::join!(run, answer);
    assert_eq!(execution.status, Status::Failed);
    assert_eq!(execution.error.as_deref(), Some("Remote.Busy"));
    assert_eq!(execution.cause.as_deref(), Some("try later"));
    let failed = details(&execution, "TaskFailed");
    assert_eq!(failed["error"], "Remote.Busy");
    assert_eq!(failed["resourceType"], "lambda");
}

#[tokio::test]
async fn a_missed_heartbeat_times_out_and_states_timeout_catches_it() {
    let Setup { engine, calls, .. } = setup(Clock::virtual_time());
    let mut definition = callback(json!({
        "HeartbeatSeconds": 5,
        "TimeoutSeconds": 60,
        "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Late"}]
    }));
    definition["States"]["Late"] = json!({"Type": "Pass", "End": true});
    let machine = crate::asl::parse(&definition).unwrap_or_else(|p| panic!("{p:?}"));
    let execution = engine.execute(&machine, request(json!({"n": 1}))).await;
    drop(calls);
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
    let output = execution.output.clone().expect("caught");
    assert_eq!(output["Error"], "States.HeartbeatTimeout");
    let timed_out = details(&execution, "TaskTimedOut");
    assert_eq!(timed_out["error"], "States.HeartbeatTimeout");
    assert!(timed_out.get("cause").is_none(), "AWS names no cause");
    let scheduled = details(&execution, "TaskScheduled");
    assert_eq!(scheduled["heartbeatInSeconds"], 5);
    assert_eq!(scheduled["timeoutInSeconds"], 60);
    // Virtual time moved by the heartbeat, not the timeout.
    let started = execution.history.first().expect("events").timestamp;
    let ended = execution.history.last().expect("events").timestamp;
    assert_eq!((ended - started).whole_seconds(), 5);
}

#[tokio::test]
async fn the_timeout_ends_a_callback_and_closes_its_token() {
    let Setup {
        engine,
        tokens,
        mut calls,
    } = setup(Clock::virtual_time());
    let definition = callback(json!({"TimeoutSeconds": 30}));
    let machine = crate::asl::parse(&definition).expect("valid");
    let execution = engine.execute(&machine, request(json!({"n": 1}))).await;
    assert_eq!(execution.status, Status::Failed);
    assert_eq!(execution.error.as_deref(), Some("States.Timeout"));
    assert_eq!(
        details(&execution, "TaskTimedOut")["error"],
        "States.Timeout"
    );
    // The token it waited on is too late now.
    let call = calls.recv().await.expect("invoked");
    let token = call["Payload"]["token"].as_str().expect("token");
    let late = tokens
        .answer(token, TokenAnswer::Success("1".into()))
        .await
        .expect("stored");
    assert_eq!(late.map(|_| ()), Err(crate::store::TokenRefusal::TimedOut));
}

#[tokio::test]
async fn an_activity_is_scheduled_taken_and_answered() {
    let Setup { engine, tokens, .. } = setup(Clock::Real);
    let definition = json!({"StartAt": "Work", "States": {"Work": {
        "Type": "Task",
        "Resource": "arn:aws:states:us-east-1:123456789012:activity:work",
        "HeartbeatSeconds": 30,
        "End": true
    }}});
    let machine = crate::asl::parse(&definition).expect("valid");
    let run = engine.execute(&machine, request(json!({"job": 3})));
    let worker = async {
        let arn = crate::engine::callbacks::activity_arn("work");
        let task = tokens
            .take_activity_task(&arn, Some("worker-1"), std::time::Duration::from_secs(30))
            .await
            .expect("store")
            .expect("a task within the poll");
        assert_eq!(task.input.as_deref(), Some("{\"job\":3}"));
        tokens
            .answer(&task.token, TokenAnswer::Success("[1,2]".into()))
            .await
            .expect("stored")
            .expect("accepted");
    };
    let (execution, ()) = tokio::join!(run, worker);
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
    assert_eq!(execution.output, Some(json!([1, 2])));
    assert_eq!(
        kinds(&execution),
        [
            "ExecutionStarted",
            "TaskStateEntered",
            "ActivityScheduled",
            "ActivityStarted",
            "ActivitySucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    let scheduled = details(&execution, "ActivityScheduled");
    assert_eq!(
        scheduled["resource"],
        "arn:aws:states:us-east-1:123456789012:activity:work"
    );
    assert_eq!(scheduled["input"], "{\"job\":3}");
    assert_eq!(scheduled["heartbeatInSeconds"], 30);
    assert_eq!(
        details(&execution, "ActivityStarted"),
        json!({"workerName": "worker-1"})
    );
}

#[tokio::test]
async fn an_activity_no_worker_takes_times_out() {
    let Setup { engine, .. } = setup(Clock::virtual_time());
    let definition = json!({"StartAt": "Work", "States": {"Work": {
        "Type": "Task",
        "Resource": "arn:aws:states:local:000000000000:activity:idle",
        "TimeoutSeconds": 10,
        "HeartbeatSeconds": 5,
        "End": true
    }}});
    let machine = crate::asl::parse(&definition).expect("valid");
    let execution = engine.execute(&machine, request(json!({}))).await;
    assert_eq!(execution.status, Status::Failed);
    // The heartbeat runs only once a worker has the task.
    assert_eq!(execution.error.as_deref(), Some("States.Timeout"));
    assert!(!kinds(&execution).contains(&"ActivityStarted".to_owned()));
    assert_eq!(
        details(&execution, "ActivityTimedOut")["error"],
        "States.Timeout"
    );
}

#[tokio::test]
async fn without_a_store_a_callback_fails_saying_why() {
    let (sender, _calls) = mpsc::unbounded_channel();
    let engine = Engine::new(Arc::new(Integration(Mutex::new(sender))));
    let machine = crate::asl::parse(&callback(json!({}))).expect("valid");
    let execution = engine.execute(&machine, request(json!({"n": 1}))).await;
    assert_eq!(execution.error.as_deref(), Some("States.Runtime"));
    assert!(
        execution
            .cause
            .as_deref()
            .is_some_and(|c| c.contains("durable execution")),
        "{:?}",
        execution.cause
    );
}

#[tokio::test]
async fn a_mocked_callback_answers_at_once() {
    let config = crate::mocks::MockConfig::parse(
        r#"{"StateMachines": {"m": {"TestCases": {"c": {"Wait": "R"}}}},
            "MockedResponses": {"R": {"0": {"Return": {"mocked": true}}}}}"#,
    )
    .expect("valid");
    let (sender, _calls) = mpsc::unbounded_channel();
    let inner: Arc<dyn TaskRunner> = Arc::new(Integration(Mutex::new(sender)));
    let mocked = crate::mocks::MockedTasks::new(inner, config.test_case("m", "c").expect("case"));
    // No callbacks at all: a mocked state never waits.
    let engine = Engine::new(Arc::new(mocked));
    let machine = crate::asl::parse(&callback(json!({}))).expect("valid");
    assert!(engine.check_resources(&machine).is_empty());
    let execution = engine.execute(&machine, request(json!({"n": 1}))).await;
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
    assert_eq!(execution.output, Some(json!({"mocked": true})));
}

#[tokio::test]
async fn heartbeat_seconds_path_and_jsonata_forms_set_the_heartbeat() {
    for (extra, input) in [
        (
            json!({"HeartbeatSecondsPath": "$.beat"}),
            json!({"n": 1, "beat": 7}),
        ),
        (
            json!({"QueryLanguage": "JSONata", "HeartbeatSeconds": "{% $states.input.beat %}",
                   "Parameters": null,
                   "Arguments": {"FunctionName": "notify",
                                 "Payload": {"token": "{% $states.context.Task.Token %}"}}}),
            json!({"n": 1, "beat": 7}),
        ),
    ] {
        let Setup { engine, calls, .. } = setup(Clock::virtual_time());
        let mut definition = callback(extra);
        let task = definition["States"]["Wait"]
            .as_object_mut()
            .expect("object");
        task.retain(|_, v| !v.is_null());
        let machine = crate::asl::parse(&definition).unwrap_or_else(|p| panic!("{p:?}"));
        let execution = engine.execute(&machine, request(input)).await;
        drop(calls);
        assert_eq!(execution.error.as_deref(), Some("States.HeartbeatTimeout"));
        assert_eq!(
            details(&execution, "TaskScheduled")["heartbeatInSeconds"],
            7
        );
        let started = execution.history.first().expect("events").timestamp;
        let ended = execution.history.last().expect("events").timestamp;
        assert_eq!((ended - started).whole_seconds(), 7);
    }
}
