//! The `host` binary as a user runs it: exit codes, what goes to stdout and
//! stderr, `--describe`, `--history`, `--virtual-time`, `validate`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::tempdir().expect("a temp dir"))
    }

    fn write(&self, name: &str, value: &Value) -> PathBuf {
        let path = self.0.path().join(name);
        std::fs::write(&path, value.to_string()).expect("writable temp dir");
        path
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
}

fn host(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_host"))
        .args(args)
        .output()
        .expect("the host binary runs")
}

/// `host ARGS --db DB`.
fn host_with_db(db: &Path, args: &[&str]) -> Output {
    let mut all: Vec<&Path> = args.iter().map(Path::new).collect();
    all.extend([Path::new("--db"), db]);
    host(&all)
}

/// Checks that `describe` shows execution `name` as not redrivable for
/// `reason` and that `redrive` refuses it with exit code 2, naming the
/// reason; returns what `redrive` printed on stderr.
fn assert_not_redrivable(db: &Path, name: &str, reason: &str) -> String {
    let described = stdout_json(&host_with_db(db, &["describe", name]));
    assert_eq!(described["redriveStatus"], "NOT_REDRIVABLE");
    assert_eq!(described["redriveStatusReason"], reason);
    let redrive = host_with_db(db, &["redrive", name]);
    assert_eq!(redrive.status.code(), Some(2));
    let err = stderr(&redrive);
    assert!(err.contains(reason), "{err}");
    err
}

fn stdout_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn pass_pipeline() -> Value {
    json!({
        "StartAt": "Greet",
        "States": {
            "Greet": {"Type": "Pass", "Parameters": {"greeting.$": "States.Format('hello {}', $.who)"}, "End": true}
        }
    })
}

fn failing_pipeline() -> Value {
    json!({
        "StartAt": "Boom",
        "States": {"Boom": {"Type": "Fail", "Error": "Orders.Invalid", "Cause": "order 7 has no lines"}}
    })
}

#[test]
fn run_prints_the_output_and_exits_0() {
    let dir = Dir::new();
    let pipeline = dir.write("pipeline.json", &pass_pipeline());
    let input = dir.write("input.json", &json!({"who": "world"}));
    let out = host(&["run".as_ref(), &pipeline, "--input".as_ref(), &input]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout_json(&out), json!({"greeting": "hello world"}));
}

#[test]
fn a_failed_execution_exits_1_with_error_and_cause_on_stderr() {
    let dir = Dir::new();
    let pipeline = dir.write("pipeline.json", &failing_pipeline());
    let out = host(&["run".as_ref(), &pipeline]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(err.contains("FAILED"), "{err}");
    assert!(
        err.contains("Orders.Invalid: order 7 has no lines"),
        "{err}"
    );
}

#[test]
fn describe_prints_the_record_whatever_the_status() {
    let dir = Dir::new();
    let pipeline = dir.write("pipeline.json", &failing_pipeline());
    let out = host(&["run".as_ref(), &pipeline, "--describe".as_ref()]);
    assert_eq!(out.status.code(), Some(1));
    let described = stdout_json(&out);
    assert_eq!(described["status"], "FAILED");
    assert_eq!(described["error"], "Orders.Invalid");
    assert_eq!(described["cause"], "order 7 has no lines");
    assert_eq!(
        described["input"], "{}",
        "input is JSON text, as in DescribeExecution"
    );
    assert!(
        described["executionArn"]
            .as_str()
            .is_some_and(|a| a.contains(":execution:pipeline:"))
    );
    for field in ["startDate", "stopDate", "name", "stateMachineArn"] {
        assert!(described[field].is_string(), "{field} missing: {described}");
    }
}

#[test]
fn history_is_written_like_get_execution_history() {
    let dir = Dir::new();
    let pipeline = dir.write("pipeline.json", &pass_pipeline());
    let input = dir.write("input.json", &json!({"who": "you"}));
    let history = dir.path("history.json");
    let out = host(&[
        "run".as_ref(),
        &pipeline,
        "--input".as_ref(),
        &input,
        "--history".as_ref(),
        &history,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&history).expect("history written"))
            .expect("history is JSON");
    let events = doc["events"].as_array().expect("an events array");
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
    let ids: Vec<(u64, u64)> = events
        .iter()
        .map(|e| {
            (
                e["id"].as_u64().unwrap_or(0),
                e["previousEventId"].as_u64().unwrap_or(99),
            )
        })
        .collect();
    assert_eq!(ids, [(1, 0), (2, 0), (3, 2), (4, 3)]);
    assert_eq!(
        events[2]["stateExitedEventDetails"]["output"],
        r#"{"greeting":"hello you"}"#
    );
}

#[test]
fn virtual_time_advances_the_clock_the_execution_sees() {
    let dir = Dir::new();
    let pipeline = dir.write(
        "pipeline.json",
        &json!({
            "StartAt": "Before",
            "States": {
                "Before": {"Type": "Pass", "Parameters": {"t.$": "$$.State.EnteredTime"}, "ResultPath": "$.before", "Next": "Nap"},
                "Nap": {"Type": "Wait", "Seconds": 7200, "Next": "After"},
                "After": {"Type": "Pass", "Parameters": {"t.$": "$$.State.EnteredTime"}, "ResultPath": "$.after", "End": true}
            }
        }),
    );
    let out = host(&["run".as_ref(), &pipeline, "--virtual-time".as_ref()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let output = stdout_json(&out);
    let time = |v: &Value| {
        time::OffsetDateTime::parse(
            v.as_str().expect("a timestamp"),
            &time::format_description::well_known::Rfc3339,
        )
        .expect("RFC 3339")
    };
    let waited = time(&output["after"]["t"]) - time(&output["before"]["t"]);
    assert!(
        waited >= time::Duration::seconds(7200),
        "the clock moved {waited}"
    );
}

#[test]
fn validate_lists_every_problem_with_state_and_field() {
    let dir = Dir::new();
    let pipeline = dir.write(
        "pipeline.json",
        &json!({
            "StartAt": "A",
            "States": {
                "A": {"Type": "Pass", "ResultPath": "$.x[", "Next": "Nowhere"},
                "B": {"Type": "Succeed", "Bogus": 1}
            }
        }),
    );
    let out = host(&["validate".as_ref(), &pipeline]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    for needle in ["/States/A/ResultPath", "/States/A/Next", "/States/B"] {
        assert!(err.contains(needle), "{needle} not named in:\n{err}");
    }
    let out = host(&["validate".as_ref(), &pipeline, "--json".as_ref()]);
    let report = stdout_json(&out);
    assert_eq!(report["result"], "FAIL");
    assert!(
        report["diagnostics"]
            .as_array()
            .is_some_and(|d| d.len() >= 3),
        "{report}"
    );
}

#[test]
fn a_valid_pipeline_validates_and_usage_errors_exit_2() {
    let dir = Dir::new();
    let pipeline = dir.write("pipeline.json", &pass_pipeline());
    assert_eq!(
        host(&["validate".as_ref(), &pipeline]).status.code(),
        Some(0)
    );
    assert_eq!(host(&["run".as_ref()]).status.code(), Some(2));
    assert_eq!(
        host(&["run".as_ref(), &dir.path("missing.json")])
            .status
            .code(),
        Some(2),
        "an unreadable pipeline is a host failure"
    );
}

#[test]
fn an_oversized_variable_fails_with_data_limit_exceeded() {
    let dir = Dir::new();
    let pipeline = dir.write(
        "pipeline.json",
        &json!({
            "QueryLanguage": "JSONata",
            "StartAt": "Hoard",
            "States": {"Hoard": {"Type": "Pass", "Assign": {"blob": "{% $pad('', 300000, 'x') %}"}, "End": true}}
        }),
    );
    let out = host(&["run".as_ref(), &pipeline, "--describe".as_ref()]);
    assert_eq!(out.status.code(), Some(1));
    let described = stdout_json(&out);
    assert_eq!(
        described["error"], "States.DataLimitExceeded",
        "{described}"
    );
    assert!(
        described["cause"]
            .as_str()
            .is_some_and(|c| c.contains("'blob'")),
        "{described}"
    );
}

#[test]
fn validate_for_express_refuses_what_express_machines_cannot_do() {
    let dir = Dir::new();
    let pipeline = dir.write(
        "pipeline.json",
        &json!({
            "StartAt": "Wait",
            "States": {"Wait": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "End": true
            }}
        }),
    );
    let out = host(&[
        "validate".as_ref(),
        &pipeline,
        "--type".as_ref(),
        "express".as_ref(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("Express state machine does not support '.waitForTaskToken'"),
        "{err}"
    );
}

/// Its Choice has no match (`States.NoChoiceMatched`) until the execution
/// is redriven.
fn fails_until_redriven() -> Value {
    json!({
        "StartAt": "Load",
        "States": {
            "Load": {"Type": "Pass", "Result": {"rows": 3}, "Next": "Check"},
            "Check": {"Type": "Choice",
                "Choices": [{"Variable": "$$.Execution.RedriveCount", "NumericEquals": 1, "Next": "Done"}]},
            "Done": {"Type": "Succeed"}
        }
    })
}

#[test]
fn executions_are_recorded_listed_described_and_redriven() {
    let dir = Dir::new();
    let pipeline = dir.write("pipeline.json", &fails_until_redriven());
    let db = dir.path("runs.db");
    let with_db = |args: &[&str]| host_with_db(&db, args);
    let run = with_db(&[
        "run",
        pipeline.to_str().expect("utf-8"),
        "--name",
        "night-1",
    ]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let again = with_db(&[
        "run",
        pipeline.to_str().expect("utf-8"),
        "--name",
        "night-1",
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("Execution Already Exists"),
        "{}",
        stderr(&again)
    );

    let list = with_db(&["executions", "list", "--status", "FAILED"]);
    let listed = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(
        listed.contains("night-1") && listed.contains("FAILED"),
        "{listed}"
    );

    let redrive = with_db(&["redrive", "night-1"]);
    assert_eq!(redrive.status.code(), Some(0), "{}", stderr(&redrive));
    let described = stdout_json(&with_db(&["describe", "night-1"]));
    assert_eq!(described["status"], "SUCCEEDED");
    assert_eq!(described["redriveCount"], 1);
    assert_eq!(described["output"], json!({"rows": 3}).to_string());

    let history = stdout_json(&with_db(&["history", "night-1", "--json"]));
    let types: Vec<&str> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ChoiceStateEntered",
            "ExecutionFailed",
            "ExecutionRedriven",
            "ChoiceStateEntered",
            "ChoiceStateExited",
            "SucceedStateEntered",
            "SucceedStateExited",
            "ExecutionSucceeded"
        ]
    );
    let table = with_db(&["history", "night-1"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("superseded by a redrive"));
}

#[test]
fn a_standard_execution_that_never_ends_stops_at_25000_events_and_is_not_redrivable() {
    let dir = Dir::new();
    let pipeline = dir.write(
        "pipeline.json",
        &json!({"StartAt": "Spin", "States": {
            "Spin": {"Type": "Choice",
                "Choices": [{"Variable": "$.stop", "IsPresent": true, "Next": "Done"}],
                "Default": "Spin"},
            "Done": {"Type": "Succeed"}
        }}),
    );
    let db = dir.path("runs.db");
    let with_db = |args: &[&str]| host_with_db(&db, args);
    let run = with_db(&["run", pipeline.to_str().expect("utf-8"), "--name", "spin"]);
    assert_eq!(run.status.code(), Some(1));
    let err = stderr(&run);
    assert!(
        err.contains(
            "States.Runtime: The execution reached the maximum number of history events (25000)."
        ) && err.contains("--type express"),
        "{err}"
    );

    assert_not_redrivable(&db, "spin", "Execution history event limit exceeded");
    let history = stdout_json(&with_db(&["history", "spin", "--json"]));
    let events = history["events"].as_array().expect("events");
    assert_eq!(events.len(), 25_000);
    assert_eq!(events[24_999]["type"], "ExecutionFailed");
    assert_eq!(events[24_999]["id"], 25_000);
}

#[test]
fn an_execution_that_ended_more_than_14_days_ago_is_not_redrivable() {
    use sandstep_host::engine::{ExecutionType, execution_arn};
    use sandstep_host::store::{ExecutionRecord, ExecutionStatus, SqliteStore, Store};
    use time::{Duration, OffsetDateTime};

    let dir = Dir::new();
    let db = dir.path("runs.db");
    let ended = OffsetDateTime::now_utc() - Duration::days(15);
    let old = |name: &str, stop_date| ExecutionRecord {
        status: ExecutionStatus::Failed,
        error: Some("States.TaskFailed".into()),
        stop_date: Some(stop_date),
        ..ExecutionRecord::new_running(
            execution_arn(ExecutionType::Standard, "Demo", name),
            name,
            "Demo",
            ExecutionType::Standard,
            pass_pipeline().to_string(),
            json!({}),
            ended - Duration::minutes(1),
        )
    };
    let store = SqliteStore::open(&db).expect("open the store");
    store
        .create(&old("stale", ended), &[])
        .expect("seed an old execution");
    // Started as long ago, but ended (after a redrive, say) within the window.
    let recent = OffsetDateTime::now_utc() - Duration::days(13);
    store
        .create(&old("recent", recent), &[])
        .expect("seed a recent execution");
    drop(store);

    let err = assert_not_redrivable(&db, "stale", "Execution redrivable period exceeded");
    assert!(
        err.contains("start a new execution") && err.contains("host describe stale"),
        "{err}"
    );

    let described = stdout_json(&host_with_db(&db, &["describe", "recent"]));
    assert_eq!(described["redriveStatus"], "REDRIVABLE", "{described}");
    assert!(described.get("redriveStatusReason").is_none());
}

#[test]
fn a_stopped_execution_ends_aborted() {
    let dir = Dir::new();
    let pipeline = dir.write(
        "pipeline.json",
        &json!({"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 600, "End": true}}}),
    );
    let db = dir.path("runs.db");
    let mut running = Command::new(env!("CARGO_BIN_EXE_host"))
        .args([
            "run".as_ref(),
            pipeline.as_os_str(),
            "--name".as_ref(),
            "nap".as_ref(),
            "--db".as_ref(),
            db.as_os_str(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the host binary runs");
    // Stop needs the execution to exist: wait for its record.
    let mut tries = 0;
    let described = loop {
        let out = host(&[
            "describe".as_ref(),
            "nap".as_ref(),
            "--db".as_ref(),
            db.as_path(),
        ]);
        if out.status.success() {
            break stdout_json(&out);
        }
        tries += 1;
        assert!(
            tries < 600,
            "the execution was never recorded: {}",
            stderr(&out)
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(described["status"], "RUNNING");
    let stop = host(&[
        "stop".as_ref(),
        "nap".as_ref(),
        "--error".as_ref(),
        "Ops.Cancelled".as_ref(),
        "--db".as_ref(),
        db.as_path(),
    ]);
    assert!(stop.status.success(), "{}", stderr(&stop));
    let stopped = stdout_json(&stop);
    assert_eq!(stopped["status"], "ABORTED");
    assert_eq!(stopped["error"], "Ops.Cancelled");
    let status = running.wait().expect("the run ends");
    assert_eq!(status.code(), Some(1));
}

/// The `echo` guest of tests/guests, built with a nested cargo as the
/// benchmarks build it (this crate's tests have no build script).
fn echo_guest() -> PathBuf {
    let guests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/guests");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2"])
        .args(["-p", "echo"])
        .current_dir(&guests)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the echo guest builds");
    guests.join("target/wasm32-wasip2/release/echo.wasm")
}

#[test]
fn profile_prints_per_state_usage_beside_the_limits_and_tenant_runs_every_task_for_it() {
    let dir = Dir::new();
    let pipeline = dir.write(
        "pipeline.json",
        &json!({
            "StartAt": "Echo",
            "States": {
                "Echo": {"Type": "Task", "Resource": "wasm:echo", "Next": "Done"},
                "Done": {"Type": "Pass", "End": true}
            }
        }),
    );
    std::fs::write(
        dir.path("sandstep.toml"),
        format!(
            "[tenants.acme]\nfuel_per_execution = 5_000_000_000\n\
             [tasks.echo]\ncomponent = {:?}\nfuel = 3_000_000_000\nmemory_mib = 48\ntimeout_seconds = 7\n",
            echo_guest().display().to_string()
        ),
    )
    .expect("manifest written");
    let input = dir.write("input.json", &json!({"order": 7}));
    let history = dir.path("history.json");
    let out = Command::new(env!("CARGO_BIN_EXE_host"))
        .args(["run".as_ref(), pipeline.as_os_str(), "--input".as_ref()])
        .args([input.as_os_str(), "--history".as_ref(), history.as_os_str()])
        .args(["--profile", "--tenant", "acme"])
        .env("SANDSTEP_CACHE_DIR", dir.path("cache"))
        .output()
        .expect("the host binary runs");
    let report = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert_eq!(stdout_json(&out), json!({"order": 7}));
    // The figures are the ones the history recorded.
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&history).expect("history written"))
            .expect("history is JSON");
    let usage = doc["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["type"] == "TaskSucceeded")
        .map(|e| e["taskSucceededEventDetails"]["usage"].clone())
        .expect("a TaskSucceeded event");
    let fuel = usage["fuelConsumed"].as_u64().expect("fuel recorded");
    let peak = usage["peakMemoryBytes"]
        .as_u64()
        .expect("peak memory recorded");
    assert!(fuel > 0 && peak > 0, "{usage}");
    let grouped = |n: u64| {
        let digits = n.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push('_');
            }
            out.push(c);
        }
        out
    };
    let row = |state: &str| -> Vec<String> {
        report
            .lines()
            .find(|l| l.starts_with(state))
            .unwrap_or_else(|| panic!("no row for {state}:\n{report}"))
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let echo = row("Echo ");
    assert_eq!(echo[0], "Echo");
    assert_eq!(echo[1], "1", "entries: {echo:?}");
    assert!(echo[2].ends_with(" ms"), "wall time: {echo:?}");
    assert_eq!(echo[3], grouped(fuel), "{report}");
    assert_eq!(
        echo[5..],
        ["echo", "3_000_000_000", "48.0 MiB", "7 s", "acme"],
        "{report}"
    );
    let done = row("Done ");
    assert_eq!(done[..2], ["Done", "1"], "{report}");
    assert_eq!(
        done[3..5],
        ["-", "-"],
        "a Pass state burns no fuel: {report}"
    );
    assert!(
        report.contains(&format!(
            "tenant \"acme\": this execution burnt {} of its 5_000_000_000 fuel units",
            grouped(fuel)
        )),
        "{report}"
    );
}

/// Text an execution's data controls never reaches the terminal raw: a
/// newline cannot forge a host line, an escape sequence cannot reach the
/// terminal, and a huge cause is cut to AWS's 32,768 characters everywhere.
#[test]
fn guest_controlled_text_is_escaped_and_bounded_on_every_print_path() {
    let dir = Dir::new();
    let pipeline = dir.write(
        "pipeline.json",
        &json!({"StartAt": "Boom", "States": {"Boom": {
            "Type": "Fail", "ErrorPath": "$.error", "CausePath": "$.cause"}}}),
    );
    let cause = format!(
        "bad\r\nhost: execution other SUCCEEDED\u{1b}[2J\u{7}\u{202e}{}",
        "x".repeat(40_000)
    );
    let input = dir.write(
        "input.json",
        &json!({"error": "Evil\nhost: forged", "cause": cause}),
    );
    let db = dir.path("executions.db");
    let run = host(&[
        "run".as_ref(),
        &pipeline,
        "--input".as_ref(),
        &input,
        "--name".as_ref(),
        "evil".as_ref(),
        "--db".as_ref(),
        &db,
    ]);
    assert_eq!(run.status.code(), Some(1));
    let history = host_with_db(&db, &["history", "evil"]);
    let list = host_with_db(&db, &["executions", "list"]);
    for (what, bytes) in [
        ("run stderr", &run.stderr),
        ("history", &history.stdout),
        ("list", &list.stdout),
    ] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() && c != '\n' || c == '\u{202e}'),
            "{what} printed a control character: {text:?}"
        );
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with("host: forged") || l.starts_with("host: execution other")),
            "{what} printed a forged line: {text}"
        );
    }
    let err = stderr(&run);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("Evil\\nhost: forged"), "{err}");
    let described = stdout_json(&host_with_db(&db, &["describe", "evil"]));
    let cause = described["cause"].as_str().expect("a cause");
    assert_eq!(cause.chars().count(), 32_768);
    assert!(cause.starts_with("bad\r\nhost: execution other"));
}

#[test]
fn graph_draws_a_pipeline_and_colours_a_recorded_execution() {
    let dir = Dir::new();
    let pipeline = dir.write(
        "pipeline.json",
        &json!({
            "StartAt": "Check",
            "States": {
                "Check": {"Type": "Choice",
                          "Choices": [{"Variable": "$.ok", "BooleanEquals": true, "Next": "<img src=x onerror=alert(1)>"}],
                          "Default": "Boom"},
                "<img src=x onerror=alert(1)>": {"Type": "Pass", "End": true},
                "Boom": {"Type": "Fail", "Error": "E"}
            }
        }),
    );
    let input = dir.write("input.json", &json!({"ok": true}));
    let db = dir.path("executions.db");
    let run = host_with_db(
        &db,
        &[
            "run",
            pipeline.to_str().expect("utf-8"),
            "--name",
            "first",
            "--input",
            input.to_str().expect("utf-8"),
        ],
    );
    assert!(run.status.success(), "{}", stderr(&run));

    let dot = host_with_db(
        &db,
        &[
            "graph",
            pipeline.to_str().expect("utf-8"),
            "--format",
            "dot",
            "--execution",
            "first",
        ],
    );
    assert!(dot.status.success(), "{}", stderr(&dot));
    let dot = String::from_utf8_lossy(&dot.stdout).into_owned();
    assert!(dot.starts_with("digraph"), "{dot}");
    assert!(
        dot.contains("$.ok == true"),
        "the Choice rule labels its edge: {dot}"
    );
    assert!(dot.contains("Boom") && dot.contains("Check"), "{dot}");

    let svg = host(&[Path::new("graph"), &pipeline]);
    assert!(svg.status.success(), "{}", stderr(&svg));
    let svg = String::from_utf8_lossy(&svg.stdout).into_owned();
    assert!(svg.contains("<svg"), "{svg}");
    assert!(
        !svg.contains("<img"),
        "a state's name is text, never markup"
    );
    assert!(svg.contains("&lt;img src=x onerror=alert(1)&gt;"), "{svg}");

    let mermaid = host(&[
        Path::new("graph"),
        &pipeline,
        Path::new("--format"),
        Path::new("mermaid"),
    ]);
    assert!(mermaid.status.success(), "{}", stderr(&mermaid));
    assert!(String::from_utf8_lossy(&mermaid.stdout).starts_with("flowchart"));
}
