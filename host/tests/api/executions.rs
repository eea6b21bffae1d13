//! Executions: start (idempotent), describe, list, history, stop, redrive,
//! Express sync and async, and a restart that resumes what was running.

use aws_sdk_sfn::types::{ExecutionStatus, StateMachineType, SyncExecutionStatus};

use crate::server::{SYNC_PREFIXED, Server, code, message};
use crate::{pass, settle, wait_then};

async fn create(client: &aws_sdk_sfn::Client, name: &str, definition: &str) -> String {
    client
        .create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn("r")
        .send()
        .await
        .expect("created")
        .state_machine_arn()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn standard_executions_run_and_are_described_listed_and_paged() {
    let server = Server::start(&[]);
    let client = server.client();
    let machine = create(&client, "greet", &pass("hello")).await;
    let mut arns = Vec::new();
    for i in 0..5 {
        let started = client
            .start_execution()
            .state_machine_arn(&machine)
            .name(format!("run-{i}"))
            .input(format!(r#"{{"i": {i}}}"#))
            .send()
            .await
            .expect("started");
        arns.push(started.execution_arn().to_owned());
    }
    for arn in &arns {
        let described = settle(&client, arn).await;
        assert_eq!(described.status(), &ExecutionStatus::Succeeded);
        assert_eq!(described.output(), Some("\"hello\""));
        assert_eq!(described.state_machine_arn(), machine);
    }
    let described = settle(&client, &arns[2]).await;
    assert_eq!(described.input(), Some(r#"{"i":2}"#));
    assert_eq!(described.name(), Some("run-2"));

    // Newest first, two per page, every execution once.
    let mut listed = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_executions()
            .state_machine_arn(&machine)
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .expect("listed");
        listed.extend(
            page.executions()
                .iter()
                .map(|e| e.execution_arn().to_owned()),
        );
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    let mut newest_first = arns.clone();
    newest_first.reverse();
    assert_eq!(listed, newest_first);
    let running = client
        .list_executions()
        .state_machine_arn(&machine)
        .status_filter(ExecutionStatus::Running)
        .send()
        .await
        .expect("listed");
    assert!(running.executions().is_empty());

    // History: ascending, reversed, paged, and without data.
    let all = client
        .get_execution_history()
        .execution_arn(&arns[0])
        .send()
        .await
        .expect("history");
    let kinds: Vec<&str> = all.events().iter().map(|e| e.r#type().as_str()).collect();
    assert_eq!(
        kinds,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    let started = all.events()[0]
        .execution_started_event_details()
        .expect("details");
    assert_eq!(started.input(), Some(r#"{"i":0}"#));
    let reversed = client
        .get_execution_history()
        .execution_arn(&arns[0])
        .reverse_order(true)
        .send()
        .await
        .expect("history");
    let ids: Vec<i64> = reversed.events().iter().map(|e| e.id()).collect();
    assert_eq!(ids, [4, 3, 2, 1]);
    let mut paged = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .get_execution_history()
            .execution_arn(&arns[0])
            .max_results(3)
            .set_next_token(token)
            .send()
            .await
            .expect("history");
        paged.extend(page.events().iter().map(|e| e.id()));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(paged, [1, 2, 3, 4]);
    let bare = client
        .get_execution_history()
        .execution_arn(&arns[0])
        .include_execution_data(false)
        .send()
        .await
        .expect("history");
    let details = bare.events()[0]
        .execution_started_event_details()
        .expect("details");
    assert_eq!(details.input(), None);

    let for_execution = client
        .describe_state_machine_for_execution()
        .execution_arn(&arns[0])
        .send()
        .await
        .expect("described");
    assert_eq!(for_execution.definition(), pass("hello"));

    let missing = arns[0].replace("run-0", "nope");
    let e = client
        .describe_execution()
        .execution_arn(&missing)
        .send()
        .await
        .expect_err("no such execution");
    assert_eq!(code(&e), "ExecutionDoesNotExist");
    assert_eq!(
        message(&e),
        format!("Execution Does Not Exist: '{missing}'")
    );
    let e = client
        .start_execution()
        .state_machine_arn(&machine)
        .input("{not json")
        .send()
        .await
        .expect_err("bad input");
    assert_eq!(code(&e), "InvalidExecutionInput");
    let e = client
        .start_execution()
        .state_machine_arn(machine.replace("greet", "nobody"))
        .send()
        .await
        .expect_err("no such machine");
    assert_eq!(code(&e), "StateMachineDoesNotExist");
}

#[tokio::test(flavor = "multi_thread")]
async fn start_is_idempotent_while_running_and_stop_aborts() {
    let server = Server::start(&[]);
    let client = server.client();
    let machine = create(&client, "slow", &wait_then(300, "done")).await;
    let first = client
        .start_execution()
        .state_machine_arn(&machine)
        .name("once")
        .input(r#"{"a": 1}"#)
        .send()
        .await
        .expect("started");
    let again = client
        .start_execution()
        .state_machine_arn(&machine)
        .name("once")
        .input(r#"{"a": 1}"#)
        .send()
        .await
        .expect("same answer while RUNNING");
    assert_eq!(again.execution_arn(), first.execution_arn());
    assert_eq!(again.start_date(), first.start_date());
    let e = client
        .start_execution()
        .state_machine_arn(&machine)
        .name("once")
        .input(r#"{"a": 2}"#)
        .send()
        .await
        .expect_err("other input");
    assert_eq!(code(&e), "ExecutionAlreadyExists");
    let arn = first.execution_arn();
    let running = client
        .list_executions()
        .state_machine_arn(&machine)
        .status_filter(ExecutionStatus::Running)
        .send()
        .await
        .expect("listed");
    assert_eq!(running.executions().len(), 1);

    client
        .stop_execution()
        .execution_arn(arn)
        .error("Operator")
        .cause("stopped by the test")
        .send()
        .await
        .expect("stopped");
    let described = settle(&client, arn).await;
    assert_eq!(described.status(), &ExecutionStatus::Aborted);
    assert_eq!(described.error(), Some("Operator"));
    let history = client
        .get_execution_history()
        .execution_arn(arn)
        .send()
        .await
        .expect("history");
    let last = history.events().last().expect("events");
    assert_eq!(last.r#type().as_str(), "ExecutionAborted");
    let e = client
        .start_execution()
        .state_machine_arn(&machine)
        .name("once")
        .input(r#"{"a": 1}"#)
        .send()
        .await
        .expect_err("ended: the name is used");
    assert_eq!(code(&e), "ExecutionAlreadyExists");

    // An aborted execution may be redriven; a succeeded one may not.
    let redriven = client
        .redrive_execution()
        .execution_arn(arn)
        .client_token("retry-safe-1")
        .send()
        .await
        .expect("redriven");
    // The same client token again is the same request: no second redrive.
    let again = client
        .redrive_execution()
        .execution_arn(arn)
        .client_token("retry-safe-1")
        .send()
        .await
        .expect("the same token answers again");
    assert_eq!(again.redrive_date(), redriven.redrive_date());
    let described = client
        .describe_execution()
        .execution_arn(arn)
        .send()
        .await
        .expect("described");
    assert_eq!(described.redrive_count(), Some(1));
    client
        .stop_execution()
        .execution_arn(arn)
        .send()
        .await
        .expect("stopped again");
    settle(&client, arn).await;
    let quick = create(&client, "quick", &pass("x")).await;
    let done = client
        .start_execution()
        .state_machine_arn(&quick)
        .send()
        .await
        .expect("started");
    settle(&client, done.execution_arn()).await;
    let e = client
        .redrive_execution()
        .execution_arn(done.execution_arn())
        .send()
        .await
        .expect_err("succeeded");
    assert_eq!(code(&e), "ExecutionNotRedrivable");
    assert!(message(&e).contains("Execution is SUCCEEDED and cannot be redriven"));
}

#[tokio::test(flavor = "multi_thread")]
async fn express_executions_answer_synchronously_and_stay_readable() {
    let server = Server::start(&["--express-keep", "3"]);
    let client = server.client();
    let express = client
        .create_state_machine()
        .name("fast")
        .definition(pass("quick"))
        .role_arn("r")
        .r#type(StateMachineType::Express)
        .send()
        .await
        .expect("created")
        .state_machine_arn()
        .to_owned();
    let before = SYNC_PREFIXED.load(std::sync::atomic::Ordering::SeqCst);
    let answer = client
        .start_sync_execution()
        .state_machine_arn(&express)
        .input(r#"{"n": 1}"#)
        .send()
        .await
        .expect("answered");
    assert!(SYNC_PREFIXED.load(std::sync::atomic::Ordering::SeqCst) > before);
    assert_eq!(answer.status(), &SyncExecutionStatus::Succeeded);
    assert_eq!(answer.output(), Some("\"quick\""));
    assert!(answer.execution_arn().contains(":express:fast:"));
    let billing = answer.billing_details().expect("billing");
    assert!(billing.billed_duration_in_milliseconds() >= 100);

    let failing = client
        .create_state_machine()
        .name("fails")
        .definition(r#"{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "on purpose"}}}"#)
        .role_arn("r")
        .r#type(StateMachineType::Express)
        .send()
        .await
        .expect("created")
        .state_machine_arn()
        .to_owned();
    let failed = client
        .start_sync_execution()
        .state_machine_arn(&failing)
        .send()
        .await
        .expect("a failed execution is still an answer");
    assert_eq!(failed.status(), &SyncExecutionStatus::Failed);
    assert_eq!(failed.error(), Some("Boom"));
    assert_eq!(failed.cause(), Some("on purpose"));

    // Beyond AWS (PAIN-05): Describe and History of an ended Express execution.
    let described = client
        .describe_execution()
        .execution_arn(answer.execution_arn())
        .send()
        .await
        .expect("kept");
    assert_eq!(described.status(), &ExecutionStatus::Succeeded);
    let history = client
        .get_execution_history()
        .execution_arn(answer.execution_arn())
        .send()
        .await
        .expect("kept");
    assert_eq!(history.events().len(), 4);
    let started = client
        .start_execution()
        .state_machine_arn(&express)
        .send()
        .await
        .expect("async express");
    let described = settle(&client, started.execution_arn()).await;
    assert_eq!(described.output(), Some("\"quick\""));
    let listed = client
        .list_executions()
        .state_machine_arn(&express)
        .send()
        .await
        .expect("listed");
    assert_eq!(listed.executions().len(), 2);
    // Kept: the latest three only.
    for _ in 0..3 {
        client
            .start_sync_execution()
            .state_machine_arn(&express)
            .send()
            .await
            .expect("answered");
    }
    let e = client
        .describe_execution()
        .execution_arn(answer.execution_arn())
        .send()
        .await
        .expect_err("forgotten");
    assert_eq!(code(&e), "ExecutionDoesNotExist");

    let standard = create(&client, "std", &pass("x")).await;
    let e = client
        .start_sync_execution()
        .state_machine_arn(&standard)
        .send()
        .await
        .expect_err("standard");
    assert_eq!(code(&e), "StateMachineTypeNotSupported");
    let e = client
        .stop_execution()
        .execution_arn(started.execution_arn())
        .send()
        .await
        .expect_err("express");
    assert_eq!(code(&e), "InvalidArn");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_leaves_running_executions_for_the_next_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("executions.db");
    let server = Server::start_on(&db, &[]);
    let client = server.client();
    let machine = create(&client, "waits", &wait_then(2, "after")).await;
    let started = client
        .start_execution()
        .state_machine_arn(&machine)
        .name("survivor")
        .send()
        .await
        .expect("started");
    let arn = started.execution_arn().to_owned();
    let described = client
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .expect("described");
    assert_eq!(described.status(), &ExecutionStatus::Running);
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    let server = Server::start_on(&db, &[]);
    let client = server.client();
    let described = client
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .expect("still recorded");
    assert_ne!(described.status(), &ExecutionStatus::Aborted);
    assert!(described.stop_date().is_none() || described.status() == &ExecutionStatus::Succeeded);
    let described = settle(&client, &arn).await;
    assert_eq!(described.status(), &ExecutionStatus::Succeeded);
    assert_eq!(described.output(), Some("\"after\""));
}
