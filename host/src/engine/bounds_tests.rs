//! Numbers and texts from data never panic the host: every duration-like
//! field with extreme values, in both query languages, ends in AWS's error
//! or a correct wait on the virtual clock; errors are cut to AWS's limits.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::{Clock, Engine, Execution, ExecutionRequest, Status, TaskCall, TaskFuture, TaskRunner};
use crate::errors::{AslError, CAUSE_MAX_CHARS, ERROR_MAX_CHARS};

/// Echoes its input; keeps the longest timeout it was handed.
#[derive(Default)]
struct Echo(Mutex<Option<Duration>>);

impl TaskRunner for Echo {
    fn check_resource(&self, _: &str) -> Result<(), String> {
        Ok(())
    }

    fn invoke<'a>(&'a self, call: TaskCall<'a>) -> TaskFuture<'a> {
        let mut longest = self.0.lock().expect("not poisoned");
        *longest = (*longest).max(call.timeout);
        let echoed = call.input.clone();
        Box::pin(async move { Ok(echoed).into() })
    }
}

const YEAR: i64 = 365 * 24 * 3600;

/// Values a hostile input puts where a number of seconds belongs.
fn extreme_values() -> Vec<Value> {
    let mut values = vec![
        json!(0),
        json!(1),
        json!(99_999_999),
        json!(100_000_000),
        json!(YEAR - 1),
        json!(YEAR + 1),
        json!(i64::MAX),
        json!(u64::MAX),
        // i64::MAX + 1: a long overflows here.
        serde_json::from_str("9223372036854775808").expect("a JSON number"),
        json!(-1),
        json!(i64::MIN),
        json!(0.5),
        json!(1.5),
        json!(-0.0),
        json!(1e308),
        json!(-1e308),
        json!(f64::MIN_POSITIVE),
        json!("5"),
        json!("NaN"),
        json!("Infinity"),
        json!("-Infinity"),
        json!("1e400"),
        json!(""),
        json!(null),
        json!(true),
        json!([1]),
        json!({"seconds": 1}),
        json!("9999-12-31T23:59:59Z"),
        json!("0000-01-01T00:00:00Z"),
        json!("1970-01-01T00:00:00Z"),
        json!("+275760-09-13T00:00:00Z"),
        json!("2016-02-30T00:00:00Z"),
        json!("2016-03-14T01:59:00.999999999+23:59"),
    ];
    // And seeded random bit patterns, as integers and as floats.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..24 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        values.push(json!(state as i64));
        if let Some(n) = serde_json::Number::from_f64(f64::from_bits(state)) {
            values.push(Value::Number(n));
        }
    }
    values
}

/// One state using `$.v` (JSONPath) or `$states.input.v` (JSONata) in the
/// field under test, then `Done`.
fn machines() -> Vec<(&'static str, Value)> {
    let task = |extra: Value| {
        let mut state = json!({"Type": "Task", "Resource": "wasm:echo", "Next": "Done"});
        state.as_object_mut().expect("an object").extend(
            extra
                .as_object()
                .expect("an object")
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        state
    };
    let map = |extra: Value| {
        let mut state = json!({"Type": "Map", "Next": "Done", "ItemsPath": "$.items",
            "ItemProcessor": {"StartAt": "Each", "States": {
                "Each": {"Type": "Task", "Resource": "wasm:echo", "End": true}}}});
        state.as_object_mut().expect("an object").extend(
            extra
                .as_object()
                .expect("an object")
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        state
    };
    let jsonata_map = |extra: Value| {
        let mut state = map(extra);
        let object = state.as_object_mut().expect("an object");
        object.remove("ItemsPath");
        object.insert("Items".into(), json!("{% $states.input.items %}"));
        state
    };
    let expr = json!("{% $states.input.v %}");
    vec![
        (
            "SecondsPath",
            json!({"Type": "Wait", "SecondsPath": "$.v", "Next": "Done"}),
        ),
        (
            "TimestampPath",
            json!({"Type": "Wait", "TimestampPath": "$.v", "Next": "Done"}),
        ),
        (
            "Seconds (JSONata)",
            json!({"Type": "Wait", "Seconds": expr, "Next": "Done"}),
        ),
        (
            "Timestamp (JSONata)",
            json!({"Type": "Wait", "Timestamp": expr, "Next": "Done"}),
        ),
        (
            "TimeoutSecondsPath",
            task(json!({"TimeoutSecondsPath": "$.v"})),
        ),
        (
            "HeartbeatSecondsPath",
            task(json!({"HeartbeatSecondsPath": "$.v"})),
        ),
        (
            "TimeoutSeconds (JSONata)",
            task(json!({"TimeoutSeconds": expr})),
        ),
        (
            "HeartbeatSeconds (JSONata)",
            task(json!({"HeartbeatSeconds": expr})),
        ),
        (
            "MaxConcurrencyPath",
            map(json!({"MaxConcurrencyPath": "$.v"})),
        ),
        (
            "ToleratedFailureCountPath",
            map(json!({"ToleratedFailureCountPath": "$.v"})),
        ),
        (
            "ToleratedFailurePercentagePath",
            map(json!({"ToleratedFailurePercentagePath": "$.v"})),
        ),
        (
            "MaxConcurrency (JSONata)",
            jsonata_map(json!({"MaxConcurrency": expr})),
        ),
        (
            "ToleratedFailureCount (JSONata)",
            jsonata_map(json!({"ToleratedFailureCount": expr})),
        ),
        (
            "ToleratedFailurePercentage (JSONata)",
            jsonata_map(json!({"ToleratedFailurePercentage": expr})),
        ),
    ]
}

async fn run(definition: &Value, input: Value, tasks: Arc<dyn TaskRunner>) -> Execution {
    let machine = crate::asl::parse(definition).unwrap_or_else(|p| panic!("{p:?}"));
    let engine = Engine::new(tasks).with_clock(Clock::virtual_time());
    // A guard against a hang, not a timing assertion.
    tokio::time::timeout(
        Duration::from_secs(60),
        engine.execute(&machine, ExecutionRequest::new("bounds", input)),
    )
    .await
    .expect("the execution ends")
}

/// Every field × every extreme value: no panic (the engine would report one
/// as "The host failed"), only AWS's errors, and Waits that wait what they
/// should on the virtual clock.
#[tokio::test]
async fn extreme_durations_end_in_an_error_or_a_correct_wait() {
    let values = extreme_values();
    let mut outcomes = 0;
    for (field, state) in machines() {
        let jsonata = field.contains("JSONata");
        let mut definition = json!({"StartAt": "Under", "States": {
            "Under": state, "Done": {"Type": "Succeed"}}});
        if jsonata {
            definition["QueryLanguage"] = json!("JSONata");
        }
        for value in &values {
            let tasks = Arc::new(Echo::default());
            let input = json!({"v": value, "items": [1, 2, 3]});
            let execution = run(&definition, input, tasks.clone()).await;
            let seconds = (execution.stop_date - execution.start_date).whole_seconds();
            let why = format!(
                "{field} = {value}: {} {:?} {:?} after {seconds} s",
                execution.status.as_str(),
                execution.error,
                execution.cause
            );
            let cause = execution.cause.as_deref().unwrap_or_default();
            assert!(!cause.contains("The host failed"), "{why}");
            match execution.status {
                Status::Succeeded | Status::TimedOut => {}
                Status::Failed => assert!(
                    matches!(
                        execution.error.as_deref(),
                        Some("States.Runtime" | "States.QueryEvaluationError")
                    ),
                    "{why}"
                ),
                Status::Aborted => panic!("{why}"),
            }
            if let Some(timeout) = *tasks.0.lock().expect("not poisoned") {
                assert!(timeout <= Duration::from_secs(99_999_999), "{why}");
            }
            // A Wait of whole seconds waits exactly that, or times out at a year.
            if field.starts_with("Seconds")
                && let Some(n) = value.as_i64().filter(|n| *n >= 0)
            {
                let jsonata_range = !jsonata || n <= 99_999_999;
                if jsonata_range && n < YEAR {
                    assert_eq!(execution.status, Status::Succeeded, "{why}");
                    assert!((n..=n + 1).contains(&seconds), "{why}");
                } else if jsonata_range {
                    assert_eq!(execution.status, Status::TimedOut, "{why}");
                    assert!((YEAR..=YEAR + 1).contains(&seconds), "{why}");
                }
            }
            outcomes += 1;
        }
    }
    assert!(outcomes > 500, "only {outcomes} cases ran");
}

/// Retriers at the edges of what validation accepts: the delay never
/// overflows, and a retry past the execution's year is a timeout.
#[tokio::test]
async fn extreme_retriers_never_overflow() {
    struct Failing;
    impl TaskRunner for Failing {
        fn check_resource(&self, _: &str) -> Result<(), String> {
            Ok(())
        }
        fn invoke<'a>(&'a self, _: TaskCall<'a>) -> TaskFuture<'a> {
            Box::pin(async { Err(AslError::new("Boom", "")).into() })
        }
    }
    for jitter in ["FULL", "NONE"] {
        for (interval, backoff, max_delay) in [
            (99_999_999, 1.7976931348623157e308, None),
            (1, 1.7976931348623157e308, Some(31_622_400)),
            (99_999_999, 1.0, Some(1)),
            (1, 2.0, None),
        ] {
            let mut retrier = json!({"ErrorEquals": ["Boom"], "IntervalSeconds": interval,
                "BackoffRate": backoff, "MaxAttempts": 99_999_999, "JitterStrategy": jitter});
            if let Some(max) = max_delay {
                retrier["MaxDelaySeconds"] = json!(max);
            }
            let definition = json!({"StartAt": "Work", "States": {"Work": {
                "Type": "Task", "Resource": "wasm:boom", "End": true, "Retry": [retrier]}}});
            let execution = run(&definition, json!({}), Arc::new(Failing)).await;
            let why = format!("{retrier}: {:?} {:?}", execution.status, execution.cause);
            // Either the history cap or the year ends it; nothing panics.
            assert!(
                matches!(execution.status, Status::TimedOut | Status::Failed),
                "{why}"
            );
            if execution.status == Status::Failed {
                assert_eq!(execution.error.as_deref(), Some("States.Runtime"), "{why}");
                assert!(
                    !execution
                        .cause
                        .as_deref()
                        .unwrap_or_default()
                        .contains("The host failed"),
                    "{why}"
                );
            }
        }
    }
}

/// Returns an error with a 32 MiB cause and a 1 MiB name.
struct Huge;

impl TaskRunner for Huge {
    fn check_resource(&self, _: &str) -> Result<(), String> {
        Ok(())
    }

    fn invoke<'a>(&'a self, _: TaskCall<'a>) -> TaskFuture<'a> {
        let error = AslError::new("E".repeat(1 << 20), "c".repeat(32 << 20));
        Box::pin(async move { Err(error).into() })
    }
}

#[tokio::test]
async fn a_huge_error_is_cut_to_aws_limits_everywhere() {
    let definition = json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": "wasm:huge", "Next": "Again",
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Again", "ResultPath": "$.caught"}]},
        "Again": {"Type": "Task", "Resource": "wasm:huge", "End": true}}});
    let execution = run(&definition, json!({}), Arc::new(Huge)).await;
    assert_eq!(execution.status, Status::Failed);
    let error = execution.error.as_deref().expect("an error");
    let cause = execution.cause.as_deref().expect("a cause");
    assert_eq!(error.chars().count(), ERROR_MAX_CHARS);
    assert_eq!(cause.chars().count(), CAUSE_MAX_CHARS);
    // Every event and the caught error output carry the bounded text too.
    let mut failures = 0;
    for event in &execution.history {
        let Some((_, details)) = &event.details else {
            continue;
        };
        if let Some(cause) = details.get("cause").and_then(Value::as_str) {
            assert!(cause.chars().count() <= CAUSE_MAX_CHARS, "{}", event.kind);
            failures += 1;
        }
        if let Some(error) = details.get("error").and_then(Value::as_str) {
            assert!(error.chars().count() <= ERROR_MAX_CHARS, "{}", event.kind);
        }
        if let Some(input) = details.get("input").and_then(Value::as_str) {
            assert!(
                input.len() < 64 * 1024,
                "{} input of {}",
                event.kind,
                input.len()
            );
        }
    }
    assert_eq!(failures, 3, "two TaskFailed events and ExecutionFailed");
    let described = execution.describe(&json!({}));
    assert_eq!(
        described["cause"].as_str().map(str::len),
        Some(CAUSE_MAX_CHARS)
    );
}

/// AWS leaves out what a failure does not carry, and a timed-out execution
/// names neither error nor cause.
#[tokio::test]
async fn absent_error_and_cause_stay_absent() {
    let fail = json!({"StartAt": "Stop", "States": {"Stop": {"Type": "Fail", "Cause": "why"}}});
    let execution = run(&fail, json!({}), Arc::new(Echo::default())).await;
    let described = execution.describe(&json!({}));
    assert!(described.get("error").is_none(), "{described}");
    assert_eq!(described["cause"], "why");
    let last = execution.history.last().and_then(|e| e.details.clone());
    assert_eq!(
        last.map(|(_, d)| d),
        Some(json!({"cause": "why"})),
        "ExecutionFailed details"
    );

    let slow = json!({"TimeoutSeconds": 5, "StartAt": "Nap", "States": {
        "Nap": {"Type": "Wait", "Seconds": 60, "End": true}}});
    let execution = run(&slow, json!({}), Arc::new(Echo::default())).await;
    assert_eq!(execution.status, Status::TimedOut);
    let described = execution.describe(&json!({}));
    assert!(described.get("error").is_none() && described.get("cause").is_none());
    let last = execution.history.last().expect("a terminal event");
    assert_eq!(last.kind, "ExecutionTimedOut");
    assert_eq!(
        last.details.as_ref().map(|(m, d)| (m.as_ref(), d.clone())),
        Some(("executionTimedOutEventDetails", json!({})))
    );
}

/// A bug that panics inside a run fails that execution with
/// `States.Runtime`, and the engine runs the next one as usual.
#[tokio::test]
async fn a_panic_fails_its_execution_not_the_host() {
    struct Panicking;
    impl TaskRunner for Panicking {
        fn check_resource(&self, _: &str) -> Result<(), String> {
            Ok(())
        }
        fn invoke<'a>(&'a self, call: TaskCall<'a>) -> TaskFuture<'a> {
            let explode = call.input["explode"] == json!(true);
            let echoed = call.input.clone();
            Box::pin(async move {
                assert!(!explode, "a bug reached by this input");
                Ok(echoed).into()
            })
        }
    }
    let definition = json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": "wasm:bug", "End": true,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]},
        "Caught": {"Type": "Succeed"}}});
    let tasks: Arc<dyn TaskRunner> = Arc::new(Panicking);
    let failed = run(&definition, json!({"explode": true}), tasks.clone()).await;
    assert_eq!(failed.status, Status::Failed);
    assert_eq!(failed.error.as_deref(), Some("States.Runtime"));
    let cause = failed.cause.as_deref().unwrap_or_default();
    assert!(
        cause.contains("The host failed") && cause.contains("a bug reached by this input"),
        "{cause}"
    );
    assert_eq!(
        failed.history.last().map(|e| e.kind.as_ref()),
        Some("ExecutionFailed")
    );
    let fine = run(&definition, json!({"explode": false}), tasks).await;
    assert_eq!(fine.status, Status::Succeeded);
}

/// `TimeoutSecondsPath` selects from the state's input, not from the
/// `Parameters` built from it, as AWS records (lambda/ conformance:
/// `test_fixed_timeout_service_lambda_with_path`).
#[tokio::test]
async fn a_timeout_path_reads_the_state_input() {
    let definition = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "echo", "TimeoutSecondsPath": "$.timeout",
        "Parameters": {"Payload.$": "$.payload"}, "End": true
    }}});
    let echo = Arc::new(Echo::default());
    let execution = run(
        &definition,
        json!({"timeout": 7, "payload": 1}),
        echo.clone(),
    )
    .await;
    assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
    let timeout = *echo.0.lock().expect("not poisoned");
    assert_eq!(timeout, Some(Duration::from_secs(7)));
}

/// Returns a string past the payload limit.
struct TooLarge;

impl TaskRunner for TooLarge {
    fn check_resource(&self, _: &str) -> Result<(), String> {
        Ok(())
    }

    fn invoke<'a>(&'a self, _: TaskCall<'a>) -> TaskFuture<'a> {
        let big = Value::String("a".repeat(super::DEFAULT_PAYLOAD_LIMIT + 1));
        Box::pin(async move { Ok(big).into() })
    }
}

/// A task result past the limit is `States.DataLimitExceeded`, caught by
/// `States.ALL`, its cause naming the resource (the service of an
/// integration, the ARN of a function), as AWS records.
#[tokio::test]
async fn a_result_past_the_limit_is_caught_and_names_the_resource() {
    for (resource, named) in [
        ("arn:aws:states:::lambda:invoke", "lambda"),
        (
            "arn:aws:lambda:us-east-1:111111111111:function:f",
            "arn:aws:lambda:us-east-1:111111111111:function:f",
        ),
    ] {
        let definition = json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": resource, "End": true,
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]},
            "Caught": {"Type": "Pass", "End": true}
        }});
        let execution = run(&definition, json!({}), Arc::new(TooLarge)).await;
        assert_eq!(execution.status, Status::Succeeded, "{resource}");
        let output = execution.output.expect("caught");
        assert_eq!(output["Error"], "States.DataLimitExceeded");
        assert_eq!(
            output["Cause"],
            format!(
                "The state/task '{named}' returned a result with a size exceeding the maximum number of bytes service limit."
            )
        );
    }
}
