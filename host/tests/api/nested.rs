//! Nested executions through `host serve`: a Task state starts an execution
//! of a state machine in the registry, with each integration's result shape
//! (fire-and-forget, `.sync`, `.sync:2`, `aws-sdk:sfn`), a child's failure
//! reaching its parent, a stopped parent stopping its child, and a parent
//! resumed after its host died finding the child it had started.

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};

use crate::server::Server;
use crate::settle;

async fn create(client: &aws_sdk_sfn::Client, name: &str, definition: &Value) -> String {
    client
        .create_state_machine()
        .name(name)
        .definition(definition.to_string())
        .role_arn("r")
        .send()
        .await
        .expect("created")
        .state_machine_arn()
        .to_owned()
}

async fn start(client: &aws_sdk_sfn::Client, machine: &str, name: &str) -> String {
    client
        .start_execution()
        .state_machine_arn(machine)
        .name(name)
        .send()
        .await
        .expect("started")
        .execution_arn()
        .to_owned()
}

async fn executions_of(
    client: &aws_sdk_sfn::Client,
    machine: &str,
) -> Vec<aws_sdk_sfn::types::ExecutionListItem> {
    client
        .list_executions()
        .state_machine_arn(machine)
        .send()
        .await
        .expect("listed")
        .executions()
        .to_vec()
}

/// Polls until `machine` has a RUNNING execution; returns its ARN.
async fn running_child(client: &aws_sdk_sfn::Client, machine: &str) -> String {
    for _ in 0..600 {
        let running = executions_of(client, machine).await;
        if let Some(child) = running
            .iter()
            .find(|e| e.status() == &ExecutionStatus::Running)
        {
            return child.execution_arn().to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no execution of {machine} started");
}

fn json_of(text: Option<&str>) -> Value {
    serde_json::from_str(text.expect("present")).expect("JSON")
}

/// A child that answers `{"got": <its input>}`.
fn echo_child() -> Value {
    json!({"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "Parameters": {"got.$": "$"}, "End": true}}})
}

#[tokio::test(flavor = "multi_thread")]
async fn each_integration_pattern_gives_its_result_shape() {
    let server = Server::start(&[]);
    let client = server.client();
    let child = create(&client, "child", &echo_child()).await;
    let task = |resource: &str, parameters: Value, path: &str, next: &str| {
        let mut state = json!({
            "Type": "Task",
            "Resource": resource,
            "Parameters": parameters,
            "ResultPath": path,
        });
        match next {
            "" => state["End"] = json!(true),
            next => state["Next"] = json!(next),
        }
        state
    };
    let parent = json!({
        "StartAt": "Fire",
        "States": {
            "Fire": task("arn:aws:states:::states:startExecution",
                json!({"StateMachineArn": child, "Name": "fired", "Input": {"n": 1}}), "$.fire", "Sync"),
            "Sync": task("arn:aws:states:::states:startExecution.sync",
                json!({"StateMachineArn": child, "Input": {"n": 2, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"}}),
                "$.sync", "Sync2"),
            "Sync2": task("arn:aws:states:::states:startExecution.sync:2",
                json!({"StateMachineArn": child, "Input": "{\"n\": 3}"}), "$.sync2", "Sdk"),
            "Sdk": task("arn:aws:states:::aws-sdk:sfn:startExecution",
                json!({"StateMachineArn": child}), "$.sdk", ""),
        }
    });
    let parent = create(&client, "parent", &parent).await;
    let arn = start(&client, &parent, "p1").await;
    let described = settle(&client, &arn).await;
    assert_eq!(
        described.status(),
        &ExecutionStatus::Succeeded,
        "{described:?}"
    );
    let output = json_of(described.output());

    // Fire-and-forget: StartExecution's response.
    let fire = &output["fire"];
    assert_eq!(
        fire["ExecutionArn"],
        json!("arn:aws:states:local:000000000000:execution:child:fired")
    );
    assert!(fire["StartDate"].is_i64(), "{fire}");
    assert_eq!(fire["SdkHttpMetadata"]["HttpStatusCode"], json!(200));
    assert!(fire["SdkResponseMetadata"]["RequestId"].is_string());

    // .sync: DescribeExecution with JSON text.
    let sync = &output["sync"];
    assert_eq!(sync["Status"], json!("SUCCEEDED"));
    assert_eq!(sync["StateMachineArn"], json!(child));
    let sync_input: Value = serde_json::from_str(sync["Input"].as_str().expect("text")).unwrap();
    assert_eq!(
        sync_input["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"],
        json!(arn)
    );
    let sync_output: Value =
        serde_json::from_str(sync["Output"].as_str().expect("Output is text")).unwrap();
    assert_eq!(sync_output["got"]["n"], json!(2));
    assert_eq!(sync["OutputDetails"], json!({"Included": true}));
    assert!(
        sync["StartDate"].is_i64() && sync["StopDate"].is_i64(),
        "{sync}"
    );

    // .sync:2: the same with JSON, the text Input parsed.
    let sync2 = &output["sync2"];
    assert_eq!(sync2["Output"], json!({"got": {"n": 3}}));
    assert_eq!(sync2["Input"], json!({"n": 3}));
    assert_eq!(sync2["Status"], json!("SUCCEEDED"));

    // aws-sdk:sfn:startExecution: the SDK's response, without HTTP metadata.
    let sdk = output["sdk"].as_object().expect("object");
    let mut members: Vec<&str> = sdk.keys().map(String::as_str).collect();
    members.sort_unstable();
    assert_eq!(members, ["ExecutionArn", "StartDate"]);

    // Every child is a real execution of `child`, the linked one saying who started it.
    let children = executions_of(&client, &child).await;
    assert_eq!(children.len(), 4, "{children:?}");
    let linked = client
        .describe_execution()
        .execution_arn(sync["ExecutionArn"].as_str().expect("arn"))
        .send()
        .await
        .expect("described");
    assert_eq!(
        json_of(linked.input())["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"],
        json!(arn)
    );
    for child_arn in children.iter().map(|c| c.execution_arn().to_owned()) {
        assert_eq!(
            settle(&client, &child_arn).await.status(),
            &ExecutionStatus::Succeeded
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_child_fails_the_parent_that_waits_for_it() {
    let server = Server::start(&[]);
    let client = server.client();
    let broken = json!({"StartAt": "Break", "States": {"Break": {"Type": "Fail", "Error": "Child.Broke", "Cause": "on purpose"}}});
    let child = create(&client, "broken", &broken).await;
    let waits = |resource: &str, catch: bool| {
        let state = json!({"Type": "Task", "Resource": resource,
            "Parameters": {"StateMachineArn": child}, "End": true});
        let mut states = json!({"Run": state});
        if catch {
            states["Run"]["Catch"] = json!([{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.caught", "Next": "Handled"}]);
            states["Handled"] = json!({"Type": "Pass", "End": true});
        }
        json!({"StartAt": "Run", "States": states})
    };
    let uncaught = create(
        &client,
        "uncaught",
        &waits("arn:aws:states:::states:startExecution.sync", false),
    )
    .await;
    let described = settle(&client, &start(&client, &uncaught, "u1").await).await;
    assert_eq!(described.status(), &ExecutionStatus::Failed);
    assert_eq!(described.error(), Some("States.TaskFailed"));
    // NEST-02: the cause is the child's DescribeExecution.
    let cause = json_of(described.cause());
    assert_eq!(cause["Status"], json!("FAILED"));
    assert_eq!(cause["Error"], json!("Child.Broke"));
    assert_eq!(cause["Cause"], json!("on purpose"));
    assert_eq!(cause["StateMachineArn"], json!(child));

    let caught = create(
        &client,
        "caught",
        &waits("arn:aws:states:::states:startExecution.sync:2", true),
    )
    .await;
    let described = settle(&client, &start(&client, &caught, "c1").await).await;
    assert_eq!(described.status(), &ExecutionStatus::Succeeded);
    let output = json_of(described.output());
    assert_eq!(output["caught"]["Error"], json!("States.TaskFailed"));

    // A state machine that does not exist: the service's error, as AWS names it.
    let missing = json!({"StartAt": "Run", "States": {"Run": {"Type": "Task",
        "Resource": "arn:aws:states:::states:startExecution.sync",
        "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:nowhere"},
        "End": true}}});
    let missing = create(&client, "missing", &missing).await;
    let described = settle(&client, &start(&client, &missing, "m1").await).await;
    assert_eq!(
        described.error(),
        Some("StepFunctions.StateMachineDoesNotExistException")
    );
    assert!(
        described
            .cause()
            .unwrap_or_default()
            .starts_with("State Machine Does Not Exist: 'arn:aws:states:us-east-1:123456789012:stateMachine:nowhere' (Service: AWSStepFunctions;"),
        "{:?}",
        described.cause()
    );
}

fn slow_child(seconds: u64) -> Value {
    json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": seconds, "Next": "Done"},
        "Done": {"Type": "Pass", "Result": "slept", "End": true}}})
}

fn waiting_parent(child: &str) -> Value {
    json!({"StartAt": "Run", "States": {"Run": {"Type": "Task",
        "Resource": "arn:aws:states:::states:startExecution.sync:2",
        "Parameters": {"StateMachineArn": child, "Input": {"from": "parent"}},
        "OutputPath": "$.Output",
        "End": true}}})
}

#[tokio::test(flavor = "multi_thread")]
async fn stopping_a_parent_stops_the_child_it_waits_for() {
    let server = Server::start(&[]);
    let client = server.client();
    let child = create(&client, "sleeper", &slow_child(600)).await;
    let parent = create(&client, "waiter", &waiting_parent(&child)).await;
    let arn = start(&client, &parent, "w1").await;
    let child_arn = running_child(&client, &child).await;
    client
        .stop_execution()
        .execution_arn(&arn)
        .send()
        .await
        .expect("stopped");
    assert_eq!(
        settle(&client, &arn).await.status(),
        &ExecutionStatus::Aborted
    );
    assert_eq!(
        settle(&client, &child_arn).await.status(),
        &ExecutionStatus::Aborted
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parent_resumed_after_a_crash_finds_the_child_it_started() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("executions.db");
    let server = Server::start_on(&db, &[]);
    let client = server.client();
    let child = create(&client, "slow", &slow_child(2)).await;
    let parent = create(&client, "resumed", &waiting_parent(&child)).await;
    let arn = start(&client, &parent, "r1").await;
    let child_arn = running_child(&client, &child).await;
    // The host dies (SIGKILL) while the parent waits for its child.
    drop(server);

    let server = Server::start_on(&db, &[]);
    let client = server.client();
    let described = settle(&client, &arn).await;
    assert_eq!(
        described.status(),
        &ExecutionStatus::Succeeded,
        "{described:?}"
    );
    assert_eq!(json_of(described.output()), json!("slept"));
    let children = executions_of(&client, &child).await;
    assert_eq!(
        children.len(),
        1,
        "a second child was started: {children:?}"
    );
    assert_eq!(children[0].execution_arn(), child_arn);
    assert_eq!(children[0].status(), &ExecutionStatus::Succeeded);
}
