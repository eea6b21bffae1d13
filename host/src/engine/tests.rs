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
