//! The engine's own choices, seen through a task runner that records its calls.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::{Engine, ExecutionRequest, Status, TaskCall, TaskFuture, TaskRunner};

/// Echoes its input; records each call's state and `concurrent` flag.
#[derive(Default)]
struct Recording(Mutex<Vec<(String, bool)>>);

impl TaskRunner for Recording {
    fn check_resource(&self, _: &str) -> Result<(), String> {
        Ok(())
    }

    fn invoke<'a>(&'a self, call: TaskCall<'a>) -> TaskFuture<'a> {
        self.0
            .lock()
            .expect("not poisoned")
            .push((call.state_name.to_owned(), call.concurrent));
        let echoed = call.input.clone();
        Box::pin(async move { Ok(echoed).into() })
    }
}

async fn run(definition: Value, input: Value) -> (super::Execution, Vec<(String, bool)>) {
    run_with(definition, input, false).await
}

async fn run_with(
    definition: Value,
    input: Value,
    shared_task: bool,
) -> (super::Execution, Vec<(String, bool)>) {
    let runner = Arc::new(Recording::default());
    let machine = crate::asl::parse(&definition).unwrap_or_else(|p| panic!("{p:?}"));
    let engine = Engine::new(runner.clone()).with_shared_task(shared_task);
    let execution = engine
        .execute(&machine, ExecutionRequest::new("test", input))
        .await;
    let mut calls = runner.0.lock().expect("not poisoned").clone();
    calls.sort();
    (execution, calls)
}

#[tokio::test]
async fn only_calls_in_branches_and_iterations_are_concurrent() {
    let task = |next: Option<&str>| match next {
        Some(next) => json!({"Type": "Task", "Resource": "wasm:echo", "Next": next}),
        None => json!({"Type": "Task", "Resource": "wasm:echo", "End": true}),
    };
    let branch = |name: &str| json!({"StartAt": name, "States": {name: task(None)}});
    let definition = json!({"StartAt": "Alone", "States": {
        "Alone": task(Some("Fan")),
        "Fan": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {
            "StartAt": "InIteration", "States": {"InIteration": task(None)}},
            "ResultPath": null, "Next": "Both"},
        "Both": {"Type": "Parallel", "Branches": [branch("Left"), branch("Right")], "End": true}
    }});
    let (execution, calls) = run(definition, json!({"items": [1, 2]})).await;
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
    let calls: Vec<(&str, bool)> = calls.iter().map(|(s, c)| (s.as_str(), *c)).collect();
    assert_eq!(
        calls,
        [
            ("Alone", false),
            ("InIteration", true),
            ("InIteration", true),
            ("Left", true),
            ("Right", true)
        ]
    );
}

#[tokio::test]
async fn executions_sharing_a_task_mark_every_call_concurrent() {
    let definition = json!({"StartAt": "Alone", "States": {
        "Alone": {"Type": "Task", "Resource": "wasm:echo", "End": true}
    }});
    let (_, calls) = run_with(definition, json!({}), true).await;
    assert_eq!(calls, [("Alone".to_owned(), true)]);
}

#[tokio::test]
async fn the_context_keeps_the_execution_input_after_states_change_theirs() {
    let definition = json!({"StartAt": "Change", "States": {
        "Change": {"Type": "Pass", "Result": "changed", "ResultPath": "$.a", "Next": "Read"},
        "Read": {"Type": "Pass", "Parameters": {"now.$": "$.a", "original.$": "$$.Execution.Input"}, "End": true}
    }});
    let (execution, _) = run(definition, json!({"a": "given"})).await;
    assert_eq!(
        execution.output,
        Some(json!({"now": "changed", "original": {"a": "given"}}))
    );
}

/// Counts `$.i` up to `n`: four events per round (Choice and Pass, each
/// entered and exited).
fn count_to(n: u64) -> Value {
    json!({"StartAt": "Check", "States": {
        "Check": {"Type": "Choice",
            "Choices": [{"Variable": "$.i", "NumericGreaterThanEquals": n, "Next": "Done"}],
            "Default": "Add"},
        "Add": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"}, "Next": "Check"},
        "Done": {"Type": "Succeed"}
    }})
}

async fn run_as(definition: Value, kind: super::ExecutionType, record: bool) -> super::Execution {
    let machine = crate::asl::parse(&definition).unwrap_or_else(|p| panic!("{p:?}"));
    let mut request = ExecutionRequest::new("test", json!({"i": 0}));
    request.kind = kind;
    request.record_history = record;
    Engine::new(Arc::new(Recording::default()))
        .execute(&machine, request)
        .await
}

#[tokio::test]
async fn a_standard_execution_fails_at_event_25000_as_on_aws() {
    let execution = run_as(count_to(7_000), super::ExecutionType::Standard, true).await;
    assert_eq!(execution.status, Status::Failed);
    assert_eq!(execution.error.as_deref(), Some("States.Runtime"));
    assert_eq!(
        execution.cause.as_deref(),
        Some("The execution reached the maximum number of history events (25000).")
    );
    let ids: Vec<u64> = execution.history.iter().map(|e| e.id).collect();
    assert_eq!(ids, (1..=25_000).collect::<Vec<_>>());
    let last = execution.history.last().expect("events");
    assert_eq!(last.kind, "ExecutionFailed");
    assert_eq!(
        last.details.as_ref().map(|d| &d.1["error"]),
        Some(&json!("States.Runtime"))
    );

    // Unrecorded events count as well.
    let unrecorded = run_as(count_to(7_000), super::ExecutionType::Standard, false).await;
    assert_eq!(unrecorded.error.as_deref(), Some("States.Runtime"));
    assert!(unrecorded.history.is_empty());
}

#[tokio::test]
async fn express_executions_have_no_history_cap() {
    let execution = run_as(count_to(7_000), super::ExecutionType::Express, true).await;
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
    assert_eq!(execution.output, Some(json!({"i": 7_000})));
    assert_eq!(execution.history.len(), 2 + 7_000 * 4 + 4);
}

#[tokio::test]
async fn no_catcher_handles_a_full_history() {
    let definition = json!({"StartAt": "Fan", "States": {
        "Fan": {"Type": "Parallel", "Branches": [count_to(7_000)],
            "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}],
            "Catch": [
                {"ErrorEquals": ["States.Runtime"], "Next": "Caught"},
                {"ErrorEquals": ["States.ALL"], "Next": "Caught"}
            ],
            "End": true},
        "Caught": {"Type": "Succeed"}
    }});
    let execution = run_as(definition, super::ExecutionType::Standard, true).await;
    assert_eq!(execution.status, Status::Failed);
    assert_eq!(execution.error.as_deref(), Some("States.Runtime"));
    assert_eq!(execution.history.len(), 25_000);
    assert!(
        !execution.history.iter().any(|e| e.kind.contains("Caught")),
        "no state ran after the cap"
    );
}

#[test]
fn a_loop_that_never_waits_lets_other_tasks_run() {
    let definition = json!({"TimeoutSeconds": 1, "StartAt": "Spin", "States": {
        "Spin": {"Type": "Choice",
            "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "Done"}],
            "Default": "Spin"},
        "Done": {"Type": "Succeed"}
    }});
    // One thread: the ticker runs only when the loop yields to the runtime.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let ticks = std::sync::atomic::AtomicU32::new(0);
    let ticker = async {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    };
    let execution = runtime.block_on(async {
        tokio::select! {
            execution = run_as(definition, super::ExecutionType::Express, false) => execution,
            () = ticker => unreachable!("the ticker never ends"),
        }
    });
    assert_eq!(execution.status, Status::TimedOut);
    let ticked = ticks.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        ticked >= 5,
        "the ticker ran {ticked} times in the loop's second"
    );
}

#[tokio::test]
async fn express_executions_time_out_after_five_minutes_whatever_their_timeout() {
    let run = |kind, timeout_seconds: Option<u64>| async move {
        let mut definition = json!({"StartAt": "Nap", "States": {
            "Nap": {"Type": "Wait", "Seconds": 3600, "End": true}
        }});
        if let Some(seconds) = timeout_seconds {
            definition["TimeoutSeconds"] = json!(seconds);
        }
        let machine = crate::asl::parse(&definition).unwrap_or_else(|p| panic!("{p:?}"));
        let mut request = ExecutionRequest::new("test", json!({}));
        request.kind = kind;
        Engine::new(Arc::new(Recording::default()))
            .with_clock(super::Clock::virtual_time())
            .execute(&machine, request)
            .await
    };
    for timeout in [None, Some(7200)] {
        let express = run(super::ExecutionType::Express, timeout).await;
        assert_eq!(
            express.status,
            Status::TimedOut,
            "TimeoutSeconds {timeout:?}"
        );
        // The virtual clock runs on real time too: compare whole seconds.
        assert_eq!(
            (express.stop_date - express.start_date).whole_seconds(),
            300
        );
        let standard = run(super::ExecutionType::Standard, timeout).await;
        assert_eq!(
            standard.status,
            Status::Succeeded,
            "TimeoutSeconds {timeout:?}"
        );
    }
    let shorter = run(super::ExecutionType::Express, Some(60)).await;
    assert_eq!((shorter.stop_date - shorter.start_date).whole_seconds(), 60);
}
