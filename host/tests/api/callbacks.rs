//! Activities and task tokens through `host serve`: a worker (its own
//! thread and SDK client) polling GetActivityTask and answering with
//! SendTask*, heartbeat timeouts, AWS's errors for bad tokens, a token
//! answered by `host task success` from another process, and a token that
//! outlives the host process holding the execution.

use std::path::Path;
use std::process::Command;

use aws_sdk_sfn::Client;
use serde_json::{Value, json};

use crate::server::{Server, code, message};
use crate::settle;

fn activity_machine(activity_arn: &str, extra: Value) -> String {
    let mut task = json!({"Type": "Task", "Resource": activity_arn, "End": true});
    if let (Some(task), Value::Object(extra)) = (task.as_object_mut(), extra) {
        task.extend(extra);
    }
    json!({"StartAt": "Work", "States": {"Work": task}}).to_string()
}

/// Creates activity `name` and a state machine whose one Task is it; returns both ARNs.
async fn setup(client: &Client, name: &str, extra: Value) -> (String, String) {
    let activity = client
        .create_activity()
        .name(name)
        .send()
        .await
        .expect("activity created")
        .activity_arn()
        .to_owned();
    let machine = client
        .create_state_machine()
        .name(format!("{name}-machine"))
        .definition(activity_machine(&activity, extra))
        .role_arn("r")
        .send()
        .await
        .expect("machine created")
        .state_machine_arn()
        .to_owned();
    (activity, machine)
}

async fn start(client: &Client, machine: &str, input: &str) -> String {
    client
        .start_execution()
        .state_machine_arn(machine)
        .input(input)
        .send()
        .await
        .expect("started")
        .execution_arn()
        .to_owned()
}

/// Polls GetActivityTask (60 s each, as a worker does) until it gets a task.
async fn take(client: &Client, activity: &str, worker: &str) -> (String, String) {
    for _ in 0..3 {
        let task = client
            .get_activity_task()
            .activity_arn(activity)
            .worker_name(worker)
            .send()
            .await
            .expect("polled");
        if let Some(token) = task.task_token() {
            return (
                token.to_owned(),
                task.input().unwrap_or_default().to_owned(),
            );
        }
    }
    panic!("no task for {activity} in 3 polls");
}

async fn history(client: &Client, arn: &str) -> Vec<aws_sdk_sfn::types::HistoryEvent> {
    client
        .get_execution_history()
        .execution_arn(arn)
        .send()
        .await
        .expect("history")
        .events()
        .to_vec()
}

fn kinds(events: &[aws_sdk_sfn::types::HistoryEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| e.r#type().as_str().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_thread_takes_work_from_a_running_execution() {
    let server = Server::start(&[]);
    let client = server.client();
    let (activity, machine) = setup(&client, "resize", json!({"HeartbeatSeconds": 60})).await;
    let execution = start(&client, &machine, r#"{"image": "cat.png"}"#).await;

    // The worker: a thread of its own with its own client, as a separate
    // program would be.
    let endpoint = server.endpoint();
    let port = server.port;
    let worker_activity = activity.clone();
    let worker = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let client = crate::server::client(&endpoint, port);
            let (token, input) = take(&client, &worker_activity, "resizer-1").await;
            let input: Value = serde_json::from_str(&input).expect("JSON input");
            client
                .send_task_heartbeat()
                .task_token(&token)
                .send()
                .await
                .expect("heartbeat accepted");
            let output = json!({"resized": input["image"]}).to_string();
            client
                .send_task_success()
                .task_token(&token)
                .output(output)
                .send()
                .await
                .expect("success accepted");
            token
        })
    });
    let token = tokio::task::spawn_blocking(move || worker.join().expect("worker ran"))
        .await
        .expect("joined");

    let described = settle(&client, &execution).await;
    assert_eq!(described.status().as_str(), "SUCCEEDED");
    assert_eq!(described.output(), Some(r#"{"resized":"cat.png"}"#));
    let events = history(&client, &execution).await;
    assert_eq!(
        kinds(&events),
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
    let scheduled = events[2]
        .activity_scheduled_event_details()
        .expect("details");
    assert_eq!(scheduled.resource(), activity);
    assert_eq!(scheduled.heartbeat_in_seconds(), Some(60));
    let started = events[3].activity_started_event_details().expect("details");
    assert_eq!(started.worker_name(), Some("resizer-1"));

    // Finished: every answer is too late now.
    let late = client
        .send_task_success()
        .task_token(&token)
        .output("{}")
        .send()
        .await
        .expect_err("too late");
    assert_eq!(code(&late), "TaskTimedOut");
    assert!(message(&late).contains("does not exist anymore"));
    let late = client
        .send_task_heartbeat()
        .task_token(&token)
        .send()
        .await
        .expect_err("too late");
    assert_eq!(code(&late), "TaskTimedOut");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failure_answer_fails_the_task_with_its_error_and_cause() {
    let server = Server::start(&[]);
    let client = server.client();
    let (activity, machine) = setup(&client, "charge", json!({})).await;
    let execution = start(&client, &machine, "{}").await;
    let (token, _) = take(&client, &activity, "w").await;
    client
        .send_task_failure()
        .task_token(&token)
        .error("Card.Declined")
        .cause("insufficient funds")
        .send()
        .await
        .expect("failure accepted");
    let described = settle(&client, &execution).await;
    assert_eq!(described.status().as_str(), "FAILED");
    assert_eq!(described.error(), Some("Card.Declined"));
    assert_eq!(described.cause(), Some("insufficient funds"));
    let events = history(&client, &execution).await;
    let failed = events
        .iter()
        .find_map(|e| e.activity_failed_event_details())
        .expect("ActivityFailed");
    assert_eq!(failed.error(), Some("Card.Declined"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_that_stops_heartbeating_times_the_task_out() {
    let server = Server::start(&[]);
    let client = server.client();
    let (activity, machine) = setup(&client, "slow", json!({"HeartbeatSeconds": 1})).await;
    let execution = start(&client, &machine, "{}").await;
    let (token, _) = take(&client, &activity, "w").await;
    // The worker goes silent.
    let described = settle(&client, &execution).await;
    assert_eq!(described.status().as_str(), "FAILED");
    assert_eq!(described.error(), Some("States.HeartbeatTimeout"));
    let events = history(&client, &execution).await;
    assert!(kinds(&events).contains(&"ActivityTimedOut".to_owned()));
    let late = client
        .send_task_success()
        .task_token(&token)
        .output("{}")
        .send()
        .await
        .expect_err("too late");
    assert_eq!(code(&late), "TaskTimedOut");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_tokens_and_outputs_get_aws_errors() {
    let server = Server::start(&[]);
    let client = server.client();
    let forged = client
        .send_task_success()
        .task_token("AAAAKgAAAAIAAAAAAAAAAQ==")
        .output("{}")
        .send()
        .await
        .expect_err("not a token");
    assert_eq!(code(&forged), "InvalidToken");
    let unknown = format!("sst1{}", "ab".repeat(32));
    let missing = client
        .send_task_failure()
        .task_token(&unknown)
        .send()
        .await
        .expect_err("no such task");
    assert_eq!(code(&missing), "TaskDoesNotExist");
    let missing = client
        .send_task_heartbeat()
        .task_token(&unknown)
        .send()
        .await
        .expect_err("no such task");
    assert_eq!(code(&missing), "TaskDoesNotExist");

    let (activity, machine) = setup(&client, "strict", json!({})).await;
    let execution = start(&client, &machine, "{}").await;
    let (token, _) = take(&client, &activity, "w").await;
    let invalid = client
        .send_task_success()
        .task_token(&token)
        .output("{not json")
        .send()
        .await
        .expect_err("not JSON");
    assert_eq!(code(&invalid), "InvalidOutput");
    let too_long = client
        .send_task_failure()
        .task_token(&token)
        .error("E".repeat(257))
        .send()
        .await
        .expect_err("error too long");
    assert_eq!(code(&too_long), "ValidationException");
    assert!(
        message(&too_long).contains("'error'"),
        "{}",
        message(&too_long)
    );
    // Refused requests changed nothing: the task still takes its answer.
    client
        .send_task_success()
        .task_token(&token)
        .output("7")
        .send()
        .await
        .expect("accepted");
    assert_eq!(settle(&client, &execution).await.output(), Some("7"));
}

#[tokio::test(flavor = "multi_thread")]
async fn activities_are_created_described_listed_and_deleted() {
    let server = Server::start(&[]);
    let client = server.client();
    let first = client
        .create_activity()
        .name("a1")
        .send()
        .await
        .expect("created");
    // Idempotent by name.
    let again = client
        .create_activity()
        .name("a1")
        .send()
        .await
        .expect("created");
    assert_eq!(first.activity_arn(), again.activity_arn());
    assert_eq!(first.creation_date(), again.creation_date());
    for name in ["a2", "a3"] {
        client
            .create_activity()
            .name(name)
            .send()
            .await
            .expect("created");
    }
    let bad = client
        .create_activity()
        .name("no spaces")
        .send()
        .await
        .expect_err("bad name");
    assert_eq!(code(&bad), "InvalidName");
    let described = client
        .describe_activity()
        .activity_arn(first.activity_arn())
        .send()
        .await
        .expect("described");
    assert_eq!(described.name(), "a1");
    let page = client
        .list_activities()
        .max_results(2)
        .send()
        .await
        .expect("listed");
    let names: Vec<&str> = page.activities().iter().map(|a| a.name()).collect();
    assert_eq!(names, ["a1", "a2"]);
    let rest = client
        .list_activities()
        .next_token(page.next_token().expect("more"))
        .send()
        .await
        .expect("listed");
    let names: Vec<&str> = rest.activities().iter().map(|a| a.name()).collect();
    assert_eq!(names, ["a3"]);
    assert_eq!(rest.next_token(), None);
    client
        .delete_activity()
        .activity_arn(first.activity_arn())
        .send()
        .await
        .expect("deleted");
    let gone = client
        .describe_activity()
        .activity_arn(first.activity_arn())
        .send()
        .await
        .expect_err("deleted");
    assert_eq!(code(&gone), "ActivityDoesNotExist");
    let gone = client
        .get_activity_task()
        .activity_arn(first.activity_arn())
        .send()
        .await
        .expect_err("deleted");
    assert_eq!(code(&gone), "ActivityDoesNotExist");
    let wrong = client
        .describe_activity()
        .activity_arn("not-an-arn")
        .send()
        .await
        .expect_err("not an ARN");
    assert_eq!(code(&wrong), "InvalidArn");
}

/// `host task success|failure|heartbeat` against the store at `db`.
fn host_task(db: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_host"))
        .arg("task")
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .expect("host runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn host_task_answers_through_the_store_and_tokens_outlive_the_host() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("executions.db");
    let server = Server::start_on(&db, &[]);
    let client = server.client();
    let (activity, machine) = setup(&client, "approve", json!({"HeartbeatSeconds": 3600})).await;

    // Answered by another process while the host runs: its poller sees it.
    let first = start(&client, &machine, r#"{"n": 1}"#).await;
    let (token, _) = take(&client, &activity, "cli").await;
    let out = host_task(&db, &["heartbeat", &token]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = host_task(&db, &["success", &token, "--output", r#"{"ok": 1}"#]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let described = settle(&client, &first).await;
    assert_eq!(described.status().as_str(), "SUCCEEDED");
    assert_eq!(described.output(), Some(r#"{"ok":1}"#));
    // Answered: the CLI reports what AWS would.
    let out = host_task(&db, &["failure", &token, "--error", "E"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("TaskTimedOut"));
    let out = host_task(&db, &["success", "forged", "--output", "{}"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("InvalidToken"));
    let out = host_task(&db, &["success", &token, "--output", "{oops"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid JSON"));

    // The host dies while a task waits; the answer comes while it is down.
    let second = start(&client, &machine, r#"{"n": 2}"#).await;
    let (token, input) = take(&client, &activity, "cli").await;
    assert_eq!(input, r#"{"n":2}"#);
    // The worker's start is recorded before the host goes.
    for _ in 0..200 {
        if kinds(&history(&client, &second).await).contains(&"ActivityStarted".to_owned()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    drop(server);
    let out = host_task(&db, &["success", &token, "--output", "\"while down\""]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The next host resumes it: it waits on the same token and finds the answer.
    let server = Server::start_on(&db, &[]);
    let client = server.client();
    let described = settle(&client, &second).await;
    assert_eq!(described.status().as_str(), "SUCCEEDED");
    assert_eq!(described.output(), Some("\"while down\""));
    let events = kinds(&history(&client, &second).await);
    assert_eq!(
        events.iter().filter(|k| *k == "ActivityScheduled").count(),
        1,
        "{events:?}"
    );

    // The host dies again; this time the answer comes after it is back.
    let third = start(&client, &machine, r#"{"n": 3}"#).await;
    let (token, _) = take(&client, &activity, "cli").await;
    drop(server);
    let server = Server::start_on(&db, &[]);
    let client = server.client();
    client
        .send_task_success()
        .task_token(&token)
        .output("3")
        .send()
        .await
        .expect("the token is still open");
    let described = settle(&client, &third).await;
    assert_eq!(described.status().as_str(), "SUCCEEDED");
    assert_eq!(described.output(), Some("3"));
}
