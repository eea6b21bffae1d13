//! Virtual time makes the decisions real time makes: sleepers of every
//! branch, iteration and retry wake in due-time order.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{Clock, Engine, Execution, ExecutionRequest, Status, TaskCall, TaskFuture, TaskRunner};
use crate::errors::AslError;

/// Fails every call with `Boom`.
struct Failing;

impl TaskRunner for Failing {
    fn check_resource(&self, _: &str) -> Result<(), String> {
        Ok(())
    }

    fn invoke<'a>(&'a self, _: TaskCall<'a>) -> TaskFuture<'a> {
        Box::pin(async { Err(AslError::new("Boom", "always")).into() })
    }
}

async fn run_virtual(definition: Value, input: Value) -> Execution {
    let machine = crate::asl::parse(&definition).unwrap_or_else(|p| panic!("{p:?}"));
    let engine = Engine::new(Arc::new(Failing)).with_clock(Clock::virtual_time());
    // A guard against a clock that never advances, not a timing assertion.
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        engine.execute(&machine, ExecutionRequest::new("timing", input)),
    )
    .await
    .expect("the execution ends")
}

/// Virtual seconds from the start of `execution` to `event` (or its end).
fn seconds_at(execution: &Execution, at: time::OffsetDateTime) -> i64 {
    (at - execution.start_date).whole_seconds()
}

/// Issue #23: a branch looping Pass → Wait 5 s must not starve its
/// sibling's Wait 15 s; as in real time, the sibling fails at 15 s.
#[tokio::test]
async fn a_looping_branch_does_not_starve_a_sibling_wait() {
    let definition = json!({"StartAt": "Both", "States": {"Both": {
    "Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "Loop", "States": {
            "Loop": {"Type": "Pass", "Next": "Nap"},
            "Nap": {"Type": "Wait", "Seconds": 5, "Next": "Loop"}}},
        {"StartAt": "Late", "States": {
            "Late": {"Type": "Wait", "Seconds": 15, "Next": "Stop"},
            "Stop": {"Type": "Fail", "Error": "Second", "Cause": "the second branch"}}}
    ]}}});
    let execution = run_virtual(definition, json!({})).await;
    assert_eq!(execution.status, Status::Failed);
    assert_eq!(execution.error.as_deref(), Some("Second"));
    assert_eq!(seconds_at(&execution, execution.stop_date), 15);
    let naps = execution
        .history
        .iter()
        .filter(|e| e.kind == "WaitStateExited")
        .count();
    assert!(naps <= 3, "{naps} naps of 5 s ended within 15 s");
}

/// A Map whose first iteration retries a failing task at 10 and 20 s while
/// the second waits 25 s: the retries come first, in order, and decide.
#[tokio::test]
async fn map_iterations_and_retry_intervals_share_one_timeline() {
    let definition = |tolerated: Option<u64>| {
        let mut definition = json!({"StartAt": "Each", "States": {"Each": {
            "Type": "Map", "ItemsPath": "$.items", "End": true,
            "ItemProcessor": {"StartAt": "Which", "States": {
                "Which": {"Type": "Choice", "Default": "Nap", "Choices": [
                    {"Variable": "$.kind", "StringEquals": "fail", "Next": "Work"}]},
                "Work": {"Type": "Task", "Resource": "wasm:flaky", "End": true,
                    "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 10,
                        "MaxAttempts": 2, "BackoffRate": 1}]},
                "Nap": {"Type": "Wait", "Seconds": 25, "End": true}}}}}});
        if let Some(count) = tolerated {
            definition["States"]["Each"]["ToleratedFailureCount"] = json!(count);
        }
        definition
    };
    let input = json!({"items": [{"kind": "fail"}, {"kind": "wait"}]});

    let failed = run_virtual(definition(None), input.clone()).await;
    assert_eq!(failed.status, Status::Failed, "{:?}", failed.cause);
    assert_eq!(failed.error.as_deref(), Some("Boom"));
    let attempts: Vec<i64> = failed
        .history
        .iter()
        .filter(|e| e.kind == "TaskFailed")
        .map(|e| seconds_at(&failed, e.timestamp))
        .collect();
    assert_eq!(attempts, [0, 10, 20]);
    assert_eq!(seconds_at(&failed, failed.stop_date), 20);
    assert!(
        !failed.history.iter().any(|e| e.kind == "WaitStateExited"),
        "the 25 s Wait ended before the Map failed at 20 s"
    );

    let tolerated = run_virtual(definition(Some(1)), input).await;
    assert_eq!(tolerated.status, Status::Succeeded, "{:?}", tolerated.cause);
    assert_eq!(seconds_at(&tolerated, tolerated.stop_date), 25);
}

/// Two iterations waiting different times end in due order, whatever order
/// they started in; with MaxConcurrency 1 they run one after the other.
#[tokio::test]
async fn map_iterations_wake_in_due_order() {
    let definition = |concurrency: u64| {
        json!({"StartAt": "Each", "States": {"Each": {
            "Type": "Map", "ItemsPath": "$.waits", "End": true, "MaxConcurrency": concurrency,
            "ItemProcessor": {"StartAt": "Nap", "States": {
                "Nap": {"Type": "Wait", "SecondsPath": "$", "End": true}}}}}})
    };
    let input = json!({"waits": [30, 10, 20]});
    let together = run_virtual(definition(0), input.clone()).await;
    assert_eq!(together.status, Status::Succeeded, "{:?}", together.cause);
    let ends: Vec<i64> = together
        .history
        .iter()
        .filter(|e| e.kind == "WaitStateExited")
        .map(|e| seconds_at(&together, e.timestamp))
        .collect();
    assert_eq!(ends, [10, 20, 30]);
    let one_by_one = run_virtual(definition(1), input).await;
    assert_eq!(seconds_at(&one_by_one, one_by_one.stop_date), 60);
}
