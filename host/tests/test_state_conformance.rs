//! Runs every TestState call recorded on AWS in `shared/conformance/test_state/`
//! through `Engine::test_state` and compares the response (status, output,
//! error, cause, nextState, inspectionData) as AWS returned it; masked
//! values are wildcards, and again through `host serve`'s `TestState`
//! operation over HTTP. Prints `test_state: P/T passed` and holds a floor.
//! `SANDSTEP_CONFORMANCE_VERBOSE=1` lists every failure.

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The API tests' `host serve` process and raw HTTP requests.
#[allow(dead_code)]
#[path = "api/server.rs"]
mod server;

use sandstep_host::engine::test_state::TestStateRequest;
use sandstep_host::engine::{Engine, NoTasks};
use serde_json::{Map, Value};

/// The fewest cases that must pass; raise it as TestState grows.
const FLOOR: usize = 79;

fn shared_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("SANDSTEP_SHARED") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

/// The request a case made: JSON members as the text the API carries.
fn request(doc: &Value) -> TestStateRequest {
    let mut members = Map::new();
    members.insert(
        "definition".into(),
        Value::String(doc["definition"].to_string()),
    );
    members.insert("input".into(), Value::String(doc["input"].to_string()));
    if let Some(params) = doc["test_state_params"].as_object() {
        for (key, value) in params {
            members.insert(key.clone(), value.clone());
        }
    }
    serde_json::from_value(Value::Object(members)).expect("a case's request fits TestStateRequest")
}

/// Our response as the snapshot keeps it: JSON text that begins with `{`
/// parsed, other text left as text.
fn as_snapshot(value: Value) -> Value {
    match value {
        Value::String(text) if text.starts_with('{') => {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        }
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, as_snapshot(v))).collect())
        }
        other => other,
    }
}

fn same(expected: &Value, actual: &Value, masks: &[String]) -> bool {
    match (expected, actual) {
        (Value::String(e), _) if is_masked(e, masks) => true,
        // JSON text other than an object: compare what it says, not its spacing.
        (Value::String(e), Value::String(a)) if e != a => {
            match (
                serde_json::from_str::<Value>(e),
                serde_json::from_str::<Value>(a),
            ) {
                (Ok(e), Ok(a)) => same(&e, &a, masks),
                _ => false,
            }
        }
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

fn is_masked(s: &str, masks: &[String]) -> bool {
    matches!(
        s,
        "date"
            | "timestamp"
            | "snf_role_arn"
            | "start-date"
            | "stop-date"
            | "start-time"
            | "entered-time"
    ) || (s.starts_with('<') && s.ends_with('>'))
        || masks.iter().any(|m| s.contains(m.as_str()))
}

/// Every recorded case: its file name and document, sorted.
fn cases() -> Vec<(String, Value)> {
    let dir = shared_dir().join("conformance/test_state");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "cannot read the TestState cases in {}: {e}; set SANDSTEP_SHARED to the shared/ directory",
                dir.display()
            )
        })
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(
        !paths.is_empty(),
        "no TestState cases found in {}",
        dir.display()
    );
    paths
        .iter()
        .map(|path| {
            let doc = serde_json::from_str(&std::fs::read_to_string(path).expect("readable"))
                .expect("case file is JSON");
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            (name, doc)
        })
        .collect()
}

/// Compares each case's response (`answer` gives ours), prints
/// `<label>: P/T passed` and holds the floor.
async fn score<F, Fut>(label: &str, answer: F)
where
    F: Fn(TestStateRequest) -> Fut,
    Fut: std::future::Future<Output = Value>,
{
    let cases = cases();
    let verbose = std::env::var_os("SANDSTEP_CONFORMANCE_VERBOSE").is_some();
    let mut passed = 0;
    let mut failures = Vec::new();
    for (name, doc) in &cases {
        let masks: Vec<String> = doc["expected_masked"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let mut expected = doc["expected"].clone();
        if let Some(object) = expected.as_object_mut() {
            object.remove("ResponseMetadata");
        }
        let actual = answer(request(doc)).await;
        if same(&expected, &actual, &masks) {
            passed += 1;
        } else {
            failures.push(format!(
                "{name}\n  expected {expected}\n  actual   {actual}"
            ));
        }
    }
    let total = cases.len();
    println!("{label}: {passed}/{total} passed");
    if verbose {
        for failure in &failures {
            println!("FAIL {failure}");
        }
    }
    assert!(
        passed >= FLOOR,
        "{label}: {passed}/{total} passed, below the floor of {FLOOR}; failures:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn test_state_conformance() {
    let engine = Engine::new(Arc::new(NoTasks));
    score("test_state", |request| {
        let engine = &engine;
        async move {
            match engine.test_state(&request).await {
                Ok(response) => as_snapshot(serde_json::to_value(response).expect("serializable")),
                Err(refused) => serde_json::json!({"refused": refused.to_string()}),
            }
        }
    })
    .await;
}

/// The same cases through `host serve`'s `TestState` operation, over HTTP.
#[tokio::test]
async fn test_state_conformance_through_the_api() {
    let server = server::Server::start(&[]);
    score("test_state (API)", |request| {
        let server = &server;
        async move {
            let body = serde_json::to_vec(&request).expect("serializable");
            let response = server.raw(
                "sync-localhost",
                &[
                    ("Content-Type", "application/x-amz-json-1.0"),
                    ("X-Amz-Target", "AWSStepFunctions.TestState"),
                ],
                &body,
            );
            let answer = response.json();
            if response.status == 200 {
                as_snapshot(answer)
            } else {
                // AWS's error, as the engine's refusal reads.
                let kind = answer["__type"].as_str().unwrap_or("");
                let code = kind.rsplit('#').next().unwrap_or(kind);
                let message = answer["message"].as_str().unwrap_or("");
                serde_json::json!({"refused": format!("{code}: {message}")})
            }
        }
    })
    .await;
}
