//! `arn:aws:states:::lambda:invoke` on real components: the manifest's
//! task named by `FunctionName` runs in the sandbox, its result comes back
//! as Lambda's Invoke response, its error as it gave it.

use std::sync::Arc;

use sandstep_host::asl;
use sandstep_host::engine::{Engine, ExecutionRequest, Status};
use sandstep_host::resources::{LambdaInvoke, Manifest, WasmTasks};
use sandstep_tests::guests;
use serde_json::{Value, json};

use crate::sandbox::sandbox;

fn engine() -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sandstep.toml");
    let text = format!(
        "[tasks.echo]\ncomponent = {:?}\n[tasks.reject]\ncomponent = {:?}\n",
        guests::ECHO,
        guests::TASK_ERROR
    );
    std::fs::write(&path, text).expect("write manifest");
    let manifest = Manifest::load(&path).expect("valid manifest");
    let tasks = WasmTasks::load(&manifest, sandbox()).expect("loads");
    (
        dir,
        Engine::new(Arc::new(LambdaInvoke::new(Arc::new(tasks)))),
    )
}

fn pipeline(function_name: &str) -> Value {
    json!({
        "StartAt": "Invoke",
        "States": {"Invoke": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": function_name, "Payload.$": "$"},
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],
            "End": true
        },
        "Caught": {"Type": "Pass", "End": true}}
    })
}

#[tokio::test]
async fn a_component_answers_lambda_invoke_with_the_invoke_response() {
    let (_dir, engine) = engine();
    let machine = asl::parse(&pipeline(
        "arn:aws:lambda:us-east-1:123456789012:function:echo:live",
    ))
    .expect("valid");
    assert!(engine.check_resources(&machine).is_empty());
    let mut request = ExecutionRequest::new("invoke", json!({"order": 7}));
    request.record_history = true;
    let execution = engine.execute(&machine, request).await;
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
    let output = execution.output.expect("an output");
    assert_eq!(output["Payload"], json!({"order": 7}));
    assert_eq!(output["StatusCode"], 200);
    assert_eq!(output["ExecutedVersion"], "$LATEST");
    let scheduled = execution
        .history
        .iter()
        .find(|e| e.kind == "TaskScheduled")
        .and_then(|e| e.details.clone())
        .expect("a TaskScheduled event");
    assert_eq!(scheduled.1["resourceType"], "lambda");
    assert_eq!(scheduled.1["resource"], "invoke");
}

#[tokio::test]
async fn a_failing_component_and_an_unknown_function_fail_as_lambda_does() {
    let (_dir, engine) = engine();
    let machine = asl::parse(&pipeline("reject")).expect("valid");
    let execution = engine
        .execute(
            &machine,
            ExecutionRequest::new("invoke", json!({"id": null})),
        )
        .await;
    let output = execution.output.expect("caught");
    assert_eq!(output["Error"], "Orders.InvalidRow");
    let machine = asl::parse(&pipeline("123456789012:function:missing")).expect("valid");
    let execution = engine
        .execute(&machine, ExecutionRequest::new("invoke", json!({})))
        .await;
    let output = execution.output.expect("caught");
    assert_eq!(output["Error"], "Lambda.ResourceNotFoundException");
}
