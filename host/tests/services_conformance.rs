//! Runs every execution recorded on AWS in `shared/conformance/services/`
//! (Distributed Map over S3 objects, the S3 SDK integrations): each case's
//! buckets become local directories holding the objects the recording put
//! there, the engine runs with the S3 layer over them, and the execution
//! is compared as `conformance.rs` compares (status, output, error, cause,
//! event types and numbering); where the recording read objects back from
//! S3 afterwards, those objects are compared too. Prints
//! `services: P/T passed` and holds a floor.
//!
//! Buckets are `object_store`'s local backend: no S3-compatible server is
//! started (see README, "Data in buckets").

use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use sandstep_host::engine::{Clock, Engine, NoTasks};
use sandstep_host::objects::Buckets;
use sandstep_host::objects::s3_tasks::S3Tasks;
use serde_json::Value;

#[path = "common/cases.rs"]
mod cases;
use cases::{Case, load_cases, run_case, same};

/// How many cases must pass; raise it as Sandstep grows.
const FLOOR: usize = 19;

/// Writes the case's objects under `root/BUCKET/KEY` and opens the buckets.
fn buckets(case: &Case, root: &Path) -> Result<Buckets, String> {
    let mut dirs = Vec::new();
    let objects = case.doc["s3_objects"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    for (bucket, keys) in &objects {
        let dir = root.join(bucket);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        for (key, object) in keys.as_object().into_iter().flatten() {
            let body = match (object["text"].as_str(), object["base64"].as_str()) {
                (Some(text), _) => text.as_bytes().to_vec(),
                (None, Some(b64)) => base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|e| e.to_string())?,
                _ => return Err(format!("object {bucket}/{key} has no body")),
            };
            let path = dir.join(key);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
            }
            std::fs::write(path, body).map_err(|e| e.to_string())?;
        }
        dirs.push((bucket.clone(), dir));
    }
    Buckets::local(dirs).map_err(|e| format!("{e:#}"))
}

/// The objects the recording read back after the execution.
fn check_objects(case: &Case, root: &Path) -> Result<(), String> {
    let Some(expected) = case.doc["expected_s3"].as_object() else {
        return Ok(());
    };
    for (bucket, keys) in expected {
        for (key, want) in keys.as_object().into_iter().flatten() {
            let body = std::fs::read(root.join(bucket).join(key))
                .map_err(|e| format!("object {bucket}/{key} was not written: {e}"))?;
            let text = String::from_utf8_lossy(&body);
            if let Some(want_text) = want["text"].as_str()
                && want_text != text
            {
                return Err(format!(
                    "object {bucket}/{key} holds {text:?}, expected {want_text:?}"
                ));
            }
            if let Some(want_json) = want.get("json") {
                let got: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                if !same(want_json, &got, &[]) {
                    return Err(format!(
                        "object {bucket}/{key} holds {got}, expected {want_json}"
                    ));
                }
            }
            if let Some(length) = want["response"]["ContentLength"].as_u64()
                && length != body.len() as u64
            {
                return Err(format!(
                    "object {bucket}/{key} is {} bytes, expected {length}",
                    body.len()
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn services_conformance() {
    let cases = load_cases("services");
    assert!(!cases.is_empty(), "no services cases found");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut passed = 0;
    let mut numbered = 0;
    for case in &cases {
        let root = tempfile::tempdir().expect("a temporary directory");
        let outcome = buckets(case, root.path()).and_then(|buckets| {
            let tasks = Arc::new(S3Tasks::new(Arc::new(NoTasks), buckets));
            let engine = Engine::new(tasks).with_clock(Clock::virtual_time());
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run_case(&engine, &runtime, case)
            }))
            .unwrap_or_else(|_| Err("the engine panicked".into()));
            // As in conformance.rs: a history whose ids agree but whose
            // previousEventId around the Map Run differs passes with a note
            // (AWS's pointer there depends on its timing).
            match outcome {
                Ok(None) => check_objects(case, root.path()).map(|()| true),
                Ok(Some(numbering)) => {
                    println!(
                        "NUMBERING {}: {}",
                        case.name,
                        numbering.chars().take(600).collect::<String>()
                    );
                    check_objects(case, root.path()).map(|()| false)
                }
                Err(why) => Err(why),
            }
        });
        match outcome {
            Ok(agrees) => {
                passed += 1;
                numbered += usize::from(agrees);
            }
            Err(why) => println!(
                "FAIL {}: {}",
                case.name,
                why.chars().take(600).collect::<String>()
            ),
        }
    }
    println!("services: {passed}/{} passed", cases.len());
    println!(
        "services: history ids and previousEventIds agree: {numbered}/{}",
        cases.len()
    );
    assert!(
        passed >= FLOOR,
        "services conformance fell below its floor of {FLOOR} cases"
    );
}
