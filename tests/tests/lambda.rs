//! Every execution recorded on AWS in `shared/conformance/lambda/`, run against the Python
//! handlers of `example-tasks/python/lambda/` (the README's seven functions, built with
//! `host task build`), behind the runner `host run` builds from a manifest
//! (`resources::load_runner`): function ARN `Resource`s call the function directly,
//! `arn:aws:states:::lambda:invoke` goes through the `LambdaInvoke` layer. A case whose
//! `handlers` were not recorded (the function name comes from its input) runs with no
//! function declared, so only what needs none can pass.
//!
//! Compared: status, output, error and cause (a Lambda error's cause as JSON: message, type,
//! request id present, and the stack trace frame by frame without file paths and line
//! numbers, which differ by deployment), the sequence of history event types, and each Task
//! event's `resourceType`, `resource` and output.
//! Prints `lambda: P/T passed` (the binary has no test harness, so the line always shows) and
//! exits non-zero when fewer than [`FLOOR`] cases pass.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sandstep_host::asl;
use sandstep_host::engine::{Clock, Engine, ExecutionRequest, ExecutionType};
use sandstep_host::taskbuild::Language;
use sandstep_tests::polyglot;
use serde_json::Value;

fn shared_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("SANDSTEP_SHARED") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn is_masked(s: &str, masks: &[String]) -> bool {
    (s.starts_with('<') && s.ends_with('>'))
        || matches!(
            s,
            "date"
                | "timestamp"
                | "snf_role_arn"
                | "start-date"
                | "stop-date"
                | "start-time"
                | "entered-time"
                | "X-Amzn-Trace-Id"
        )
        || masks.iter().any(|m| s.contains(m.as_str()))
}

/// Whether `actual` matches `expected`, masked strings matching anything.
///
/// The Invoke response's `Content-Length` is the length of the body the function's runtime
/// wrote: Python's `json.dumps` (`", "`, `": "`) on AWS, compact JSON here. It says nothing
/// about the workflow, so it is not compared.
fn same(expected: &Value, actual: &Value, masks: &[String]) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) if e.contains_key("Content-Length") => {
            let without = |o: &serde_json::Map<String, Value>| {
                let mut o = o.clone();
                o.remove("Content-Length");
                Value::Object(o)
            };
            same(&without(e), &without(a), masks)
        }
        (Value::String(e), _) if is_masked(e, masks) => true,
        (Value::Number(e), Value::Number(a)) => e.as_f64() == a.as_f64(),
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(e, a)| same(e, a, masks))
        }
        (Value::Object(e), Value::Object(a)) => {
            e.len() == a.len()
                && e.iter()
                    .all(|(k, v)| a.get(k).is_some_and(|av| same(v, av, masks)))
        }
        _ => expected == actual,
    }
}

/// A Python stack frame without what depends on where the code was deployed:
/// `  File "/var/task/handler.py", line 2, in handler\n    raise X\n` → `in handler\n    raise X`.
fn frame_text(frame: &Value) -> Option<String> {
    let text = frame.as_str()?;
    let at = text.find(", in ")?;
    Some(text[at + 2..].trim_end().to_owned())
}

/// A Lambda error's cause: the recorded object against the JSON text the engine produced.
fn same_lambda_cause(expected: &Value, actual: &str, masks: &[String]) -> bool {
    let Ok(actual) = serde_json::from_str::<Value>(actual) else {
        return false;
    };
    let (Some(e), Some(a)) = (expected.as_object(), actual.as_object()) else {
        return false;
    };
    let keys = |o: &serde_json::Map<String, Value>| o.keys().cloned().collect::<Vec<_>>();
    if keys(e) != keys(a) {
        return false;
    }
    e.iter().all(|(key, want)| {
        let got = &a[key];
        match key.as_str() {
            "stackTrace" => {
                let frames = |v: &Value| {
                    v.as_array()
                        .map(|f| f.iter().map(frame_text).collect::<Vec<_>>())
                };
                frames(want).is_some() && frames(want) == frames(got)
            }
            "requestId" => got.as_str().is_some_and(|id| !id.is_empty()),
            _ => same(want, got, masks),
        }
    })
}

/// The handler kind AWS ran for cases whose `handlers` were not recorded (the function name
/// comes from the execution input, not the definition), read from the `handler_file` of the
/// upstream test each case names in `source_test`; keyed by that test, parameters dropped.
const UNRECORDED_HANDLERS: &[(&str, &str)] = &[
    (
        "test_assign_reference_variables.py::TestAssignReferenceVariables::test_assign_in_catch_state",
        "raise_exception",
    ),
    (
        "test_base_scenarios.py::TestBaseScenarios::test_retry_interval_features_max_attempts_zero",
        "raise_exception",
    ),
    (
        "test_context_object.py::TestSnfBase::test_result_selector",
        "id_function",
    ),
    (
        "test_express_sync.py::TestExpressSync::test_catch",
        "raise_exception",
    ),
    (
        "test_mixed_query_language.py::TestMixedQueryLanguageFlow::test_task_dataflow_to_state",
        "id_function",
    ),
    (
        "test_output.py::TestArgumentsBase::test_base_task_lambda",
        "id_function",
    ),
    (
        "test_states_errors.py::TestStatesErrors::test_service_task_lambada_catch_state_all_data_limit_exceeded_on_large_utf8_response",
        "large_output_string",
    ),
    (
        "test_task_service_lambda.py::TestTaskServiceLambda::test_invoke_timeout",
        "wait_60_seconds",
    ),
    (
        "test_task_service_lambda.py::TestTaskServiceLambda::test_raise_exception_catch",
        "raise_exception",
    ),
    (
        "test_task_service_lambda.py::TestTaskServiceLambda::test_raise_exception_catch_output_path",
        "raise_exception",
    ),
    (
        "test_timeouts.py::TestTimeouts::test_fixed_timeout_service_lambda_with_path",
        "wait_60_seconds",
    ),
];

/// For a case without recorded `handlers`: every function name or ARN in its input, behind the
/// handler its upstream test deployed ([`UNRECORDED_HANDLERS`]); none when that is not known.
fn unrecorded_handlers(doc: &Value) -> serde_json::Map<String, Value> {
    let test = doc["source_test"].as_str().unwrap_or_default();
    let test = test.split('[').next().unwrap_or_default();
    let Some((_, kind)) = UNRECORDED_HANDLERS
        .iter()
        .find(|(key, _)| test.ends_with(key))
    else {
        return serde_json::Map::new();
    };
    fn names(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::String(s) => {
                if let Ok(arn) = sandstep_host::resources::function_arn(s) {
                    out.push(arn);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| names(v, out)),
            Value::Object(map) => map.values().for_each(|v| names(v, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    names(&doc["input"], &mut found);
    found
        .into_iter()
        .map(|arn| (arn, Value::String((*kind).to_owned())))
        .collect()
}

/// A manifest in `dir` mapping each function ARN's name to the handlers component.
fn manifest(dir: &Path, handlers: &serde_json::Map<String, Value>, component: &Path) -> PathBuf {
    let mut text = String::new();
    for (arn, kind) in handlers {
        let function = arn.rsplit(':').next().expect("an ARN has parts");
        let kind = kind.as_str().expect("a handler kind");
        text.push_str(&format!(
            "[tasks.{function}]\ncomponent = {:?}\nmemory_mib = 64\ntimeout_seconds = 90\nenv = {{ _HANDLER = \"{kind}.handler\" }}\n\n",
            component.display().to_string()
        ));
    }
    let path = dir.join("sandstep.toml");
    std::fs::write(&path, text).expect("manifest written");
    path
}

fn run_case(
    doc: &Value,
    component: &Path,
    runtime: &tokio::runtime::Runtime,
) -> Result<(), String> {
    let masks = strings(&doc["expected_masked"]);
    let machine = asl::parse(&doc["definition"]).map_err(|p| format!("rejected: {p:?}"))?;
    let dir = tempfile::tempdir().expect("temp dir");
    let handlers = match doc["handlers"].as_object() {
        Some(recorded) => recorded.clone(),
        None => unrecorded_handlers(doc),
    };
    let handlers = &handlers;
    let tasks = sandstep_host::resources::load_runner(&manifest(dir.path(), handlers, component))
        .map_err(|e| format!("manifest: {e:#}"))?;
    let engine = Engine::new(tasks).with_clock(Clock::virtual_time());
    let unknown = engine.check_resources(&machine);
    if !unknown.is_empty() {
        return Err(format!("unknown resources: {unknown:?}"));
    }
    let mut request = ExecutionRequest::new("lambda", doc["input"].clone());
    if doc["state_machine_type"] == "EXPRESS" {
        request.kind = ExecutionType::Express;
    }
    let execution = runtime.block_on(engine.execute(&machine, request));
    let expected = &doc["expected"];
    if expected["status"] != execution.status.as_str() {
        return Err(format!(
            "status {} (error {:?}, cause {:?}), expected {}",
            execution.status.as_str(),
            execution.error,
            execution.cause,
            expected["status"]
        ));
    }
    if let Some(output) = expected.get("output") {
        let actual = execution.output.clone().unwrap_or(Value::Null);
        if !same(output, &actual, &masks) {
            return Err(format!("output {actual}, expected {output}"));
        }
    }
    if let Some(want) = expected.get("error").filter(|v| !v.is_null()) {
        let actual = Value::String(execution.error.clone().unwrap_or_default());
        if !same(want, &actual, &masks) {
            return Err(format!(
                "error {actual} (cause {:?}), expected {want}",
                execution.cause
            ));
        }
    }
    if let Some(want) = expected.get("cause").filter(|v| !v.is_null()) {
        let actual = execution.cause.clone().unwrap_or_default();
        let agrees = if want.is_object() {
            same_lambda_cause(want, &actual, &masks)
        } else {
            same(want, &Value::String(actual.clone()), &masks)
        };
        if !agrees {
            return Err(format!("cause {actual}, expected {want}"));
        }
    }
    if let Some(events) = doc["expected_history"].as_array() {
        let want: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
        let got: Vec<&str> = execution.history.iter().map(|e| e.kind.as_ref()).collect();
        let concurrent = events.iter().any(|e| !e["id"].is_u64());
        let agrees = if concurrent {
            let mut want = want.clone();
            let mut got = got.clone();
            want.sort_unstable();
            got.sort_unstable();
            want == got
        } else {
            want == got
        };
        if !agrees {
            return Err(format!("event types {got:?}, expected {want:?}"));
        }
        if !concurrent {
            same_task_events(events, &execution.history, &masks)?;
        }
    }
    Ok(())
}

/// Each Task event names the resource as AWS does (`lambda` + `invoke` for the optimized
/// integration, the function ARN otherwise) and carries the output AWS recorded.
fn same_task_events(
    events: &[Value],
    history: &[sandstep_host::engine::HistoryEvent],
    masks: &[String],
) -> Result<(), String> {
    for (want, got) in events.iter().zip(history) {
        let Some((member, details)) = &got.details else {
            continue;
        };
        if !member.starts_with("task") {
            continue;
        }
        let wanted = &want[&**member];
        for field in ["resourceType", "resource"] {
            if !same(&wanted[field], &details[field], masks) {
                return Err(format!(
                    "{member}.{field} {}, expected {}",
                    details[field], wanted[field]
                ));
            }
        }
        if let (Some(want_output), Some(Value::String(text))) =
            (wanted.get("output"), details.get("output"))
        {
            // The snapshot keeps text that began with `{` parsed, other text raw.
            let got_output = match text.starts_with('{') {
                true => serde_json::from_str(text).map_err(|e| e.to_string())?,
                false => Value::String(text.clone()),
            };
            if !same(want_output, &got_output, masks) {
                return Err(format!(
                    "{member}.output {got_output}, expected {want_output}"
                ));
            }
        }
    }
    Ok(())
}

/// Its own harness, so the summary line is printed whatever the test runner captures.
fn main() {
    let dir = shared_dir().join("conformance/lambda");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "cannot read {}: {e}; set SANDSTEP_SHARED to the shared/ directory",
                dir.display()
            )
        })
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let component = polyglot::component(
        &polyglot::example_tasks().join("python/lambda"),
        "id_function.handler",
        Language::Python,
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut passed = 0;
    let mut failures = BTreeMap::new();
    for path in &paths {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("readable"))
            .expect("a case is JSON");
        let name = path
            .file_name()
            .expect("a file")
            .to_string_lossy()
            .into_owned();
        match run_case(&doc, &component, &runtime) {
            Ok(()) => passed += 1,
            Err(why) => {
                failures.insert(name, why);
            }
        }
    }
    let total = passed + failures.len();
    for (name, why) in &failures {
        eprintln!("FAIL {name}: {why}");
    }
    println!("lambda: {passed}/{total} passed");
    assert!(total > 0, "no lambda case found in {}", dir.display());
    assert!(
        passed >= FLOOR,
        "lambda: {passed}/{total} passed, below the floor of {FLOOR}"
    );
}

/// The fewest cases that must pass; raise it as lambda support grows.
const FLOOR: usize = 43;
