//! Runs the executions of `shared/conformance/lambda/` that call functions
//! through `arn:aws:states:::lambda:invoke` and compares status, output,
//! the event types and the Task events' `resourceType`/`resource` with what
//! AWS recorded. Prints `lambda: P/T passed` over the cases run.
//!
//! The functions are stand-ins for the recorded handlers, behind the same
//! `LambdaInvoke` layer a manifest's tasks run behind: `id_function`
//! (returns its event) and `echo_function` (returns `{"Return":
//! "HelloWorld"}`). Cases whose handlers are others (raising exceptions,
//! sleeping, oversized output) or not recorded are skipped and counted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sandstep_host::asl;
use sandstep_host::engine::{
    Engine, ExecutionRequest, ExecutionType, TaskCall, TaskFuture, TaskRunner,
};
use sandstep_host::errors::AslError;
use sandstep_host::resources::{LambdaInvoke, function_arn};
use serde_json::{Value, json};

/// The fewest cases run that must pass; raise it as lambda support grows.
const FLOOR: usize = 5;

fn shared_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("SANDSTEP_SHARED") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

/// The recorded functions, by the ARN `LambdaInvoke` resolves them to.
struct Handlers(HashMap<String, String>);

impl TaskRunner for Handlers {
    fn check_resource(&self, resource: &str) -> Result<(), String> {
        match self.0.contains_key(resource) {
            true => Ok(()),
            false => Err(format!("no function {resource}")),
        }
    }

    fn invoke<'a>(&'a self, call: TaskCall<'a>) -> TaskFuture<'a> {
        let result = match self.0.get(call.resource).map(String::as_str) {
            Some("id_function") => Ok(call.input.clone()),
            Some("echo_function") => Ok(json!({"Return": "HelloWorld"})),
            _ => Err(AslError::new("Lambda.Unknown", "no such handler here")),
        };
        Box::pin(async move { result.into() })
    }
}

/// The Invoke response's `Content-Length` is the length of the body the
/// function's runtime wrote: Python's `json.dumps` (`", "`, `": "`) on
/// AWS, compact JSON here. It says nothing about the workflow, so it is
/// not compared.
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

fn is_masked(s: &str, masks: &[String]) -> bool {
    matches!(s, "date" | "timestamp" | "snf_role_arn" | "X-Amzn-Trace-Id")
        || (s.starts_with('<') && s.ends_with('>'))
        || masks.iter().any(|m| s.contains(m.as_str()))
}

/// A case's handlers, when every one is a stand-in here.
fn handlers(doc: &Value) -> Option<Handlers> {
    let recorded = doc["handlers"].as_object()?;
    let mut by_arn = HashMap::new();
    for (arn, kind) in recorded {
        let kind = kind.as_str()?;
        if !matches!(kind, "id_function" | "echo_function") {
            return None;
        }
        by_arn.insert(function_arn(arn).ok()?, kind.to_owned());
    }
    Some(Handlers(by_arn))
}

fn run_case(doc: &Value, handlers: Handlers) -> Result<(), String> {
    let masks: Vec<String> = doc["expected_masked"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let machine = asl::parse(&doc["definition"]).map_err(|p| format!("rejected: {p:?}"))?;
    let engine = Engine::new(Arc::new(LambdaInvoke::new(Arc::new(handlers))));
    let mut request = ExecutionRequest::new("conformance", doc["input"].clone());
    if doc["state_machine_type"] == "EXPRESS" {
        request.kind = ExecutionType::Express;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let execution = runtime.block_on(engine.execute(&machine, request));
    let expected = &doc["expected"];
    if expected["status"] != execution.status.as_str() {
        return Err(format!(
            "status {} ({:?}: {:?}), expected {}",
            execution.status.as_str(),
            execution.error,
            execution.cause,
            expected["status"]
        ));
    }
    if let (Some(want), Some(got)) = (expected.get("output"), &execution.output)
        && !same(want, got, &masks)
    {
        return Err(format!("output {got}, expected {want}"));
    }
    let Some(events) = doc["expected_history"].as_array() else {
        return Ok(());
    };
    let want: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    let got: Vec<&str> = execution.history.iter().map(|e| e.kind.as_ref()).collect();
    if want != got {
        return Err(format!("event types {got:?}, expected {want:?}"));
    }
    for (want, got) in events.iter().zip(&execution.history) {
        let Some((member, details)) = &got.details else {
            continue;
        };
        if !member.starts_with("task") {
            continue;
        }
        let wanted = &want[&**member];
        for field in ["resourceType", "resource"] {
            if wanted[field] != details[field] {
                return Err(format!(
                    "{member}.{field} {}, expected {}",
                    details[field], wanted[field]
                ));
            }
        }
        if let (Some(want_output), Some(Value::String(text))) =
            (wanted.get("output"), details.get("output"))
        {
            let got_output: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
            if !same(want_output, &got_output, &masks) {
                return Err(format!(
                    "{member}.output {got_output}, expected {want_output}"
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn lambda_invoke_conformance() {
    let dir = shared_dir().join("conformance/lambda");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}; set SANDSTEP_SHARED", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let (mut run, mut passed, mut skipped) = (0, 0, 0);
    let mut failures = Vec::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).expect("readable case");
        let doc: Value = serde_json::from_str(&text).expect("case file is JSON");
        if !doc["definition"]
            .to_string()
            .contains("arn:aws:states:::lambda:invoke")
        {
            continue;
        }
        let Some(handlers) = handlers(&doc) else {
            skipped += 1;
            continue;
        };
        run += 1;
        match run_case(&doc, handlers) {
            Ok(()) => passed += 1,
            Err(why) => failures.push(format!(
                "{}: {why}",
                path.file_name().unwrap_or_default().to_string_lossy()
            )),
        }
    }
    println!(
        "lambda: {passed}/{run} passed ({skipped} lambda:invoke cases skipped: their handlers are not stand-ins here)"
    );
    for failure in &failures {
        println!("FAIL {failure}");
    }
    assert!(
        passed >= FLOOR,
        "lambda: {passed}/{run} passed, below the floor of {FLOOR}"
    );
}
