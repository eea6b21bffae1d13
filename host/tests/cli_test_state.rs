//! `host test-state` as a user runs it: the response JSON on stdout, the
//! exit code from the status, AWS's refusal on stderr.

use std::process::{Command, Output};

use serde_json::{Value, json};

fn test_state(definition: &Value, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("state.json");
    std::fs::write(&path, definition.to_string()).expect("writable temp dir");
    Command::new(env!("CARGO_BIN_EXE_host"))
        .arg("test-state")
        .arg("--definition")
        .arg(&path)
        .args(args)
        .output()
        .expect("the host binary runs")
}

fn response(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn a_mocked_task_shows_each_step_at_debug() {
    let state = json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::glue:startJobRun.sync",
        "Parameters": {"JobName.$": "$.job"},
        "ResultSelector": {"state.$": "$.JobRunState"},
        "ResultPath": "$.run",
        "Next": "Notify"
    });
    let out = test_state(
        &state,
        &[
            "--input",
            r#"{"job": "nightly"}"#,
            "--mock",
            r#"{"result": "{\"JobRunState\": \"SUCCEEDED\"}"}"#,
            "--inspection-level",
            "debug",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let response = response(&out);
    assert_eq!(response["status"], "SUCCEEDED");
    assert_eq!(response["nextState"], "Notify");
    let output: Value =
        serde_json::from_str(response["output"].as_str().expect("as the test set it up"))
            .expect("as the test set it up");
    assert_eq!(
        output,
        json!({"job": "nightly", "run": {"state": "SUCCEEDED"}})
    );
    let data = &response["inspectionData"];
    let parsed = |field: &str| -> Value {
        serde_json::from_str(data[field].as_str().expect("as the test set it up"))
            .expect("as the test set it up")
    };
    assert_eq!(parsed("afterParameters"), json!({"JobName": "nightly"}));
    assert_eq!(parsed("result"), json!({"JobRunState": "SUCCEEDED"}));
    assert_eq!(parsed("afterResultSelector"), json!({"state": "SUCCEEDED"}));
}

#[test]
fn a_mocked_error_is_retriable_then_caught_once_retries_are_spent() {
    let state = json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::sns:publish",
        "Retry": [{"ErrorEquals": ["SNS.Throttled"], "MaxAttempts": 2, "IntervalSeconds": 3, "BackoffRate": 2}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Alert"}],
        "End": true
    });
    let mock = r#"{"errorOutput": {"error": "SNS.Throttled", "cause": "slow down"}}"#;
    let first = test_state(&state, &["--mock", mock, "--inspection-level", "debug"]);
    assert_eq!(first.status.code(), Some(1));
    let first = response(&first);
    assert_eq!(first["status"], "RETRIABLE");
    assert_eq!(first["error"], "SNS.Throttled");
    assert_eq!(
        first["inspectionData"]["errorDetails"],
        json!({"retryIndex": 0, "retryBackoffIntervalSeconds": 3})
    );
    let spent = test_state(
        &state,
        &[
            "--mock",
            mock,
            "--state-configuration",
            r#"{"retrierRetryCount": 2}"#,
        ],
    );
    let spent = response(&spent);
    assert_eq!(spent["status"], "CAUGHT_ERROR");
    assert_eq!(spent["nextState"], "Alert");
    let output: Value =
        serde_json::from_str(spent["output"].as_str().expect("as the test set it up"))
            .expect("as the test set it up");
    assert_eq!(
        output,
        json!({"error": {"Error": "SNS.Throttled", "Cause": "slow down"}})
    );
}

#[test]
fn a_mock_on_a_pass_state_is_refused_as_aws_refuses_it() {
    let out = test_state(
        &json!({"Type": "Pass", "End": true}),
        &["--mock", r#"{"result": "{}"}"#],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "ValidationException: State type 'Pass' is not supported when a mock is specified"
        ),
        "{stderr}"
    );
}
