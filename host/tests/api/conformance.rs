//! A sample of the executions recorded on AWS (`../shared/conformance/engine`)
//! run through the API: CreateStateMachine, StartExecution (Standard) or
//! StartSyncExecution (Express), DescribeExecution and GetExecutionHistory,
//! compared with what AWS returned.

use aws_sdk_sfn::types::StateMachineType;
use serde_json::Value;

use crate::server::{Server, shared_dir};

/// Every `SAMPLE_EVERY`-th case, so the sample covers every feature area
/// the sorted file names spread over.
const SAMPLE_EVERY: usize = 4;

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

fn masked(s: &str, masks: &[String]) -> bool {
    matches!(s, "date" | "timestamp" | "snf_role_arn")
        || (s.starts_with('<') && s.ends_with('>'))
        || masks.iter().any(|m| s.contains(m.as_str()))
}

fn same(expected: &Value, actual: &Value, masks: &[String]) -> bool {
    match (expected, actual) {
        (Value::String(e), _) if masked(e, masks) => true,
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

/// JSON text as the snapshots keep it: parsed when it is an object.
fn as_snapshot(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

#[tokio::test(flavor = "multi_thread")]
async fn recorded_executions_pass_through_the_api() {
    let dir = shared_dir().join("conformance/engine");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}; set SANDSTEP_SHARED", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let server = Server::start(&["--virtual-time"]);
    let client = server.client();
    let mut failures = Vec::new();
    let mut run = 0;
    for (i, path) in files.iter().enumerate().step_by(SAMPLE_EVERY) {
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("JSON");
        let masks = strings(&doc["expected_masked"]);
        let express = doc["state_machine_type"] == "EXPRESS";
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let created = client
            .create_state_machine()
            .name(format!("case-{i}"))
            .definition(doc["definition"].to_string())
            .role_arn("r")
            .r#type(if express {
                StateMachineType::Express
            } else {
                StateMachineType::Standard
            })
            .send()
            .await;
        let machine = match created {
            Ok(created) => created.state_machine_arn().to_owned(),
            Err(e) => {
                failures.push(format!(
                    "{file}: not created: {:?}",
                    crate::server::message(&e)
                ));
                continue;
            }
        };
        run += 1;
        let input = doc["input"].to_string();
        let (status, output, error, cause, arn) = if express {
            let answer = client
                .start_sync_execution()
                .state_machine_arn(&machine)
                .input(&input)
                .send()
                .await
                .expect("answered");
            (
                answer.status().as_str().to_owned(),
                answer.output().map(str::to_owned),
                answer.error().map(str::to_owned),
                answer.cause().map(str::to_owned),
                answer.execution_arn().to_owned(),
            )
        } else {
            let started = client
                .start_execution()
                .state_machine_arn(&machine)
                .input(&input)
                .send()
                .await
                .expect("started");
            let described = crate::settle(&client, started.execution_arn()).await;
            (
                described.status().as_str().to_owned(),
                described.output().map(str::to_owned),
                described.error().map(str::to_owned),
                described.cause().map(str::to_owned),
                started.execution_arn().to_owned(),
            )
        };
        let expected = &doc["expected"];
        if expected["status"] != status.as_str() {
            failures.push(format!(
                "{file}: status {status} ({error:?}: {cause:?}), expected {}",
                expected["status"]
            ));
            continue;
        }
        if let Some(want) = expected.get("output") {
            let got = output.as_deref().map(as_snapshot).unwrap_or(Value::Null);
            let got_raw = output
                .as_deref()
                .and_then(|o| serde_json::from_str(o).ok())
                .unwrap_or(Value::Null);
            if !same(want, &got_raw, &masks) && !same(want, &got, &masks) {
                failures.push(format!("{file}: output {got_raw}, expected {want}"));
                continue;
            }
        }
        for (field, got) in [("error", &error), ("cause", &cause)] {
            if let Some(want) = expected.get(field).filter(|v| !v.is_null()) {
                let got = Value::String(got.clone().unwrap_or_default());
                if !same(want, &got, &masks) {
                    failures.push(format!("{file}: {field} {got}, expected {want}"));
                }
            }
        }
        let Some(events) = doc["expected_history"].as_array() else {
            continue;
        };
        if events.iter().any(|e| !e["id"].is_u64()) {
            continue; // concurrent branches interleave in any order
        }
        let mut got = Vec::new();
        let mut token = None;
        loop {
            let page = client
                .get_execution_history()
                .execution_arn(&arn)
                .max_results(1000)
                .set_next_token(token)
                .send()
                .await
                .expect("history");
            got.extend(page.events().iter().map(|e| e.r#type().as_str().to_owned()));
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        let want: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
        if want != got {
            failures.push(format!("{file}: event types {got:?}, expected {want:?}"));
        }
    }
    assert!(run >= 100, "only {run} cases ran");
    assert!(
        failures.is_empty(),
        "{} of {run} sampled cases differ through the API:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
