//! Operations of `host serve`: `/metrics` scraped over HTTP and parsed by a
//! Prometheus parser while executions run, and the execution log that each
//! state machine's `loggingConfiguration` asks for.

use aws_sdk_sfn::types::{LogLevel, LoggingConfiguration, StateMachineType};
use serde_json::Value;

use crate::server::Server;
use crate::{pass, settle};

const FAILS: &str = r#"{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "on purpose"}}}"#;

fn scrape(server: &Server) -> prometheus_parse::Scrape {
    let answer = server.get("/metrics");
    assert_eq!(answer.status, 200, "{}", answer.body);
    let content_type = answer
        .headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.as_str());
    assert_eq!(
        content_type,
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    // The body may come chunked: keep only the exposition's lines.
    let lines = answer
        .body
        .lines()
        .filter(|l| l.starts_with('#') || l.contains(' '))
        .map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines).expect("the exposition parses")
}

fn counter(scrape: &prometheus_parse::Scrape, metric: &str, machine: &str) -> f64 {
    let arn = format!("arn:aws:states:local:000000000000:stateMachine:{machine}");
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric && s.labels.get("state_machine_arn") == Some(arn.as_str()))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_executions_as_they_run() {
    let server = Server::start(&[]);
    let client = server.client();
    let ok = client
        .create_state_machine()
        .name("ok")
        .definition(pass("fine"))
        .role_arn("r")
        .send()
        .await
        .expect("created")
        .state_machine_arn()
        .to_owned();
    let fails = client
        .create_state_machine()
        .name("fails")
        .definition(FAILS)
        .role_arn("r")
        .send()
        .await
        .expect("created")
        .state_machine_arn()
        .to_owned();
    let express = client
        .create_state_machine()
        .name("quick")
        .definition(pass("fast"))
        .role_arn("r")
        .r#type(StateMachineType::Express)
        .send()
        .await
        .expect("created")
        .state_machine_arn()
        .to_owned();
    let before = scrape(&server);
    assert_eq!(
        counter(&before, "states_executions_started_total", "ok"),
        0.0
    );
    for round in 1..=2 {
        for arn in [&ok, &fails] {
            let started = client
                .start_execution()
                .state_machine_arn(arn)
                .send()
                .await
                .expect("started");
            settle(&client, started.execution_arn()).await;
        }
        client
            .start_sync_execution()
            .state_machine_arn(&express)
            .send()
            .await
            .expect("ran");
        let now = scrape(&server);
        let n = f64::from(round);
        assert_eq!(counter(&now, "states_executions_started_total", "ok"), n);
        assert_eq!(counter(&now, "states_executions_succeeded_total", "ok"), n);
        assert_eq!(counter(&now, "states_executions_failed_total", "ok"), 0.0);
        assert_eq!(counter(&now, "states_executions_started_total", "fails"), n);
        assert_eq!(counter(&now, "states_executions_failed_total", "fails"), n);
        assert_eq!(
            counter(&now, "states_executions_succeeded_total", "quick"),
            n
        );
        assert_eq!(counter(&now, "sandstep_executions_running", "ok"), 0.0);
        assert!(
            now.samples
                .iter()
                .any(|s| s.metric == "sandstep_store_commit_seconds"),
            "store commits are timed"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_execution_log_follows_each_machines_logging_configuration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("executions.log");
    let db = dir.path().join("executions.db");
    let log_arg = log.to_string_lossy().into_owned();
    let server = Server::start_on(&db, &["--execution-log", &log_arg]);
    let client = server.client();
    let mut arns = Vec::new();
    for (name, level, data) in [
        ("everything", LogLevel::All, true),
        ("errors", LogLevel::Error, false),
        ("quiet", LogLevel::Off, false),
    ] {
        let config = LoggingConfiguration::builder()
            .level(level)
            .include_execution_data(data)
            .build();
        let arn = client
            .create_state_machine()
            .name(name)
            .definition(if name == "everything" {
                pass("x")
            } else {
                FAILS.to_owned()
            })
            .role_arn("r")
            .logging_configuration(config)
            .send()
            .await
            .expect("created")
            .state_machine_arn()
            .to_owned();
        let started = client
            .start_execution()
            .state_machine_arn(&arn)
            .input(r#"{"card": "4111"}"#)
            .send()
            .await
            .expect("started");
        settle(&client, started.execution_arn()).await;
        arns.push(started.execution_arn().to_owned());
    }
    assert!(server.terminate().success());
    let text = std::fs::read_to_string(&log).expect("the log was written");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let of =
        |arn: &str| -> Vec<&Value> { lines.iter().filter(|l| l["execution_arn"] == arn).collect() };
    let everything = of(&arns[0]);
    let kinds: Vec<&str> = everything
        .iter()
        .filter_map(|l| l["type"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    assert_eq!(everything[0]["id"], "1");
    assert_eq!(everything[0]["previous_event_id"], "0");
    assert!(
        everything[0]["event_timestamp"]
            .as_str()
            .is_some_and(|t| t.parse::<u64>().is_ok())
    );
    assert_eq!(everything[0]["details"]["input"], r#"{"card":"4111"}"#);
    let errors = of(&arns[1]);
    let kinds: Vec<&str> = errors.iter().filter_map(|l| l["type"].as_str()).collect();
    assert_eq!(kinds, ["FailStateEntered", "ExecutionFailed"]);
    assert!(
        errors.iter().all(|l| l["details"].get("input").is_none()),
        "no data without includeExecutionData: {errors:?}"
    );
    assert_eq!(errors[1]["details"]["error"], "Boom");
    assert!(of(&arns[2]).is_empty(), "OFF logs nothing");
}

/// Runs `host schedule ...` on `db`; its standard output.
fn schedule_cli(db: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_host"))
        .arg("schedule")
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .expect("host schedule runs");
    assert!(
        out.status.success(),
        "host schedule {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_schedule_made_with_the_cli_fires_once_with_two_hosts_on_the_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("executions.db");
    let first = Server::start_on(&db, &[]);
    let second = Server::start_on(&db, &[]);
    let client = first.client();
    client
        .create_state_machine()
        .name("job")
        .definition(pass("ran"))
        .role_arn("r")
        .send()
        .await
        .expect("created");
    // A rate fires first when it is created, then every hour: one fire now.
    let said = schedule_cli(
        &db,
        &[
            "create",
            "hourly",
            "--expression",
            "rate(1 hour)",
            "--state-machine",
            "job",
            "--input",
            r#"{"day": 1}"#,
        ],
    );
    assert!(said.contains("schedule hourly: created"), "{said}");
    let machine = "arn:aws:states:local:000000000000:stateMachine:job";
    let mut listed = Vec::new();
    // Both hosts tick every few seconds; wait (bounded) for the fire.
    for _ in 0..600 {
        listed = client
            .list_executions()
            .state_machine_arn(machine)
            .send()
            .await
            .expect("lists")
            .executions()
            .to_vec();
        if !listed.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(listed.len(), 1, "{listed:?}");
    let execution = &listed[0];
    assert!(
        execution.name().starts_with("hourly-"),
        "{}",
        execution.name()
    );
    let described = crate::settle(&client, execution.execution_arn()).await;
    let input: Value = serde_json::from_str(described.input().unwrap_or("{}")).expect("JSON");
    assert_eq!(input["day"], 1);
    assert!(input["scheduledTime"].is_string(), "{input}");
    // Whichever host claimed it, the other did not start it too (the
    // claim itself is checked on a virtual clock in the unit tests).
    drop(second);
    let list = schedule_cli(&db, &["list"]);
    assert!(list.contains("hourly  ENABLED  rate(1 hour)"), "{list}");
    assert!(!list.contains("last fire never"), "{list}");
    assert!(schedule_cli(&db, &["pause", "hourly"]).contains("paused"));
    assert!(schedule_cli(&db, &["list"]).contains("PAUSED"));
    assert!(schedule_cli(&db, &["delete", "hourly"]).contains("deleted"));
    assert!(schedule_cli(&db, &["list"]).contains("no schedules"));
}
