//! `host run` with nested executions: the manifest declares the state
//! machines a pipeline starts (`[state_machines.NAME]`), children are
//! recorded executions beside the parent, and a pipeline that starts a
//! state machine nothing declares is refused before it runs.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("writable temp dir");
}

fn host(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host"))
        .args(args)
        .current_dir(dir)
        .env_remove("SANDSTEP_DB")
        .output()
        .expect("the host binary runs")
}

fn stdout_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {} / {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn parent(resource: &str, child: &str) -> Value {
    json!({
        "StartAt": "Child",
        "States": {"Child": {
            "Type": "Task",
            "Resource": resource,
            "Parameters": {
                "StateMachineArn": format!("arn:aws:states:us-east-1:123456789012:stateMachine:{child}"),
                "Input": {"order.$": "$.order", "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"}
            },
            "End": true
        }}
    })
}

fn child() -> Value {
    json!({"StartAt": "Price", "States": {
        "Price": {"Type": "Pass", "Parameters": {"priced.$": "$.order", "by.$": "$.AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"}, "End": true}
    }})
}

#[test]
fn host_run_starts_the_state_machines_its_manifest_declares() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    write(dir, "price.json", &child().to_string());
    write(
        dir,
        "sandstep.toml",
        "[state_machines.price]\ndefinition = \"price.json\"\n",
    );
    write(
        dir,
        "order.json",
        &parent("arn:aws:states:::states:startExecution.sync:2", "price").to_string(),
    );
    write(dir, "input.json", r#"{"order": 7}"#);
    let ran = host(
        dir,
        &["run", "order.json", "--input", "input.json", "--name", "o1"],
    );
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let output = stdout_json(&ran);
    let parent_arn = "arn:aws:states:local:000000000000:execution:order:o1";
    assert_eq!(output["Status"], json!("SUCCEEDED"));
    assert_eq!(output["Output"], json!({"priced": 7, "by": parent_arn}));
    let child_arn = output["ExecutionArn"].as_str().expect("the child's ARN");
    assert!(
        child_arn.starts_with("arn:aws:states:local:000000000000:execution:price:"),
        "{child_arn}"
    );

    // The child is a recorded execution of its own, beside the parent.
    let listed = host(dir, &["executions", "list"]);
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(
        listed.contains("order") && listed.contains("price"),
        "{listed}"
    );
    let described = stdout_json(&host(dir, &["describe", child_arn]));
    assert_eq!(described["status"], json!("SUCCEEDED"));
    let input: Value = serde_json::from_str(described["input"].as_str().expect("text")).unwrap();
    assert_eq!(
        input["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"],
        json!(parent_arn)
    );
}

#[test]
fn a_state_machine_nothing_declares_is_refused_before_the_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    write(dir, "sandstep.toml", "");
    write(
        dir,
        "order.json",
        &parent("arn:aws:states:::states:startExecution.sync", "price").to_string(),
    );
    let ran = host(dir, &["run", "order.json"]);
    assert_eq!(ran.status.code(), Some(1));
    let err = String::from_utf8_lossy(&ran.stderr);
    assert!(err.contains("/States/Child/Resource"), "{err}");
    assert!(
        err.contains("arn:aws:states:::states:startExecution.sync"),
        "{err}"
    );
    assert!(err.contains("[state_machines.NAME]"), "{err}");
    // Nothing ran, so nothing was recorded.
    let listed = host(dir, &["executions", "list"]);
    assert!(!String::from_utf8_lossy(&listed.stdout).contains("order"));
}

#[test]
fn a_child_the_manifest_does_not_declare_fails_as_aws_says() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    write(dir, "price.json", &child().to_string());
    write(
        dir,
        "sandstep.toml",
        "[state_machines.price]\ndefinition = \"price.json\"\n",
    );
    write(
        dir,
        "order.json",
        &parent("arn:aws:states:::states:startExecution", "shipping").to_string(),
    );
    write(dir, "input.json", r#"{"order": 7}"#);
    let ran = host(
        dir,
        &["run", "order.json", "--input", "input.json", "--describe"],
    );
    assert_eq!(ran.status.code(), Some(1));
    let described = stdout_json(&ran);
    assert_eq!(
        described["error"],
        json!("StepFunctions.StateMachineDoesNotExistException")
    );
}
