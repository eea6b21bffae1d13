//! `host run --mock-config`: a pipeline that calls Glue and SNS runs end to
//! end offline from a Step Functions Local mock config.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

fn etl_pipeline() -> Value {
    json!({
        "StartAt": "Load",
        "States": {
            "Load": {
                "Type": "Task",
                "Resource": "arn:aws:states:::glue:startJobRun.sync",
                "Parameters": {"JobName": "nightly"},
                "Retry": [{"ErrorEquals": ["Glue.ConcurrentRunsExceededException"], "IntervalSeconds": 5, "MaxAttempts": 2}],
                "ResultSelector": {"state.$": "$.JobRunState"},
                "ResultPath": "$.load",
                "Next": "Notify"
            },
            "Notify": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sns:publish",
                "Parameters": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:etl", "Message.$": "$.load.state"},
                "ResultSelector": {"id.$": "$.MessageId"},
                "ResultPath": "$.notified",
                "End": true
            }
        }
    })
}

fn mock_config() -> Value {
    json!({
        "StateMachines": {"etl": {"TestCases": {
            "RetryThenSucceed": {"Load": "GlueBusyThenDone", "Notify": "Published"},
            "LoadOnly": {"Load": "GlueBusyThenDone"}
        }}},
        "MockedResponses": {
            "GlueBusyThenDone": {
                "0": {"Throw": {"Error": "Glue.ConcurrentRunsExceededException", "Cause": "too many runs"}},
                "1": {"Return": {"JobRunState": "SUCCEEDED", "Id": "jr_1"}}
            },
            "Published": {"0": {"Return": {"MessageId": "m-42"}}}
        }
    })
}

fn run(dir: &Path, case: &str) -> Output {
    std::fs::write(dir.join("etl.json"), etl_pipeline().to_string())
        .expect("as the test set it up");
    std::fs::write(dir.join("mocks.json"), mock_config().to_string())
        .expect("as the test set it up");
    Command::new(env!("CARGO_BIN_EXE_host"))
        .arg("run")
        .arg(dir.join("etl.json"))
        .arg("--mock-config")
        .arg(dir.join("mocks.json"))
        .args(["--test-case", case, "--virtual-time", "--history"])
        .arg(dir.join("history.json"))
        .output()
        .expect("the host binary runs")
}

#[test]
fn glue_and_sns_run_from_mocks_with_a_retry_over_a_throw() {
    let dir = tempfile::tempdir().expect("as the test set it up");
    let out = run(dir.path(), "RetryThenSucceed");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let output: Value = serde_json::from_slice(&out.stdout).expect("as the test set it up");
    assert_eq!(
        output,
        json!({"load": {"state": "SUCCEEDED"}, "notified": {"id": "m-42"}})
    );
    let history: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("history.json")).expect("as the test set it up"),
    )
    .expect("as the test set it up");
    let events = history["events"].as_array().expect("as the test set it up");
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    let task_events: Vec<&str> = types
        .iter()
        .copied()
        .filter(|t| t.starts_with("Task"))
        .collect();
    assert_eq!(
        task_events,
        [
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskFailed",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSucceeded",
            "TaskStateExited",
        ]
    );
    let failed = events
        .iter()
        .find(|e| e["type"] == "TaskFailed")
        .expect("as the test set it up");
    assert_eq!(
        failed["taskFailedEventDetails"]["error"],
        "Glue.ConcurrentRunsExceededException"
    );
    let scheduled: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["type"] == "TaskScheduled")
        .map(|e| {
            let details = &e["taskScheduledEventDetails"];
            (
                details["resourceType"]
                    .as_str()
                    .expect("as the test set it up"),
                details["resource"].as_str().expect("as the test set it up"),
            )
        })
        .collect();
    assert_eq!(
        scheduled,
        [
            ("glue", "startJobRun.sync"),
            ("glue", "startJobRun.sync"),
            ("sns", "publish")
        ]
    );
}

#[test]
fn a_task_neither_mocked_nor_declared_is_refused_before_the_run_naming_it() {
    let dir = tempfile::tempdir().expect("as the test set it up");
    let out = run(dir.path(), "LoadOnly");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/States/Notify/Resource"), "{stderr}");
    assert!(stderr.contains("arn:aws:states:::sns:publish"), "{stderr}");
}

#[test]
fn an_unknown_test_case_names_the_ones_there_are() {
    let dir = tempfile::tempdir().expect("as the test set it up");
    let out = run(dir.path(), "Nope");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no test case 'Nope'"), "{stderr}");
    assert!(stderr.contains("RetryThenSucceed"), "{stderr}");
}
