//! Runs every execution recorded on AWS in `shared/conformance/engine/`
//! through the engine (Wait states on the virtual clock) and compares status,
//! output, error, cause and — where AWS's history was recorded — the
//! sequence of event types. Prints passed/total by feature tag.
//!
//! The suite holds the engine to a floor per query language: the pass rate
//! may only go up. `SANDSTEP_CONFORMANCE_VERBOSE=1` lists every failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sandstep_host::asl;
use sandstep_host::engine::{Clock, Engine, ExecutionRequest, ExecutionType, NoTasks};
use serde_json::Value;

/// The lowest pass rates the suite accepts, in percent; raise them as the engine grows.
const FLOOR_JSONPATH: f64 = 100.0;
const FLOOR_JSONATA: f64 = 100.0;

fn shared_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("SANDSTEP_SHARED") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

struct Case {
    name: String,
    features: Vec<String>,
    doc: Value,
}

fn load_cases() -> Vec<Case> {
    let dir = shared_dir().join("conformance/engine");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "cannot read the conformance cases in {}: {e}; set SANDSTEP_SHARED to the shared/ directory",
            dir.display()
        )
    });
    let mut cases: Vec<Case> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable case file");
            let doc: Value = serde_json::from_str(&text).expect("case file is JSON");
            let features = strings(&doc["features"]);
            Case {
                name: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                features,
                doc,
            }
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

/// The strings of a JSON array (none when it is not one).
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

/// Whether `actual` matches `expected`, where expected strings that contain a
/// masked placeholder (or are `date`, `timestamp`, `snf_role_arn`) match anything.
fn same(expected: &Value, actual: &Value, masks: &[String]) -> bool {
    match (expected, actual) {
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
    matches!(s, "date" | "timestamp" | "snf_role_arn")
        || masks.iter().any(|m| s.contains(m.as_str()))
}

/// Events of concurrent branches and iterations interleave in any order,
/// and the snapshot masks their ids and left some events out: compare as
/// multisets, letting ours fill only the gaps the recorded ids leave.
fn same_concurrent_history(events: &[Value], want: &[&str], got: &[&str]) -> bool {
    let mut missing: Vec<&str> = want.to_vec();
    let mut extra = 0usize;
    for kind in got {
        match missing.iter().position(|k| k == kind) {
            Some(i) => {
                missing.swap_remove(i);
            }
            None => extra += 1,
        }
    }
    let highest_id = events
        .iter()
        .filter_map(|e| e["id"].as_u64())
        .max()
        .unwrap_or(0);
    let gaps = usize::try_from(highest_id)
        .unwrap_or(0)
        .saturating_sub(events.len());
    missing.is_empty() && extra <= gaps
}

/// `Ok(None)` when the case agrees entirely, `Ok(Some(why))` when all but the
/// event numbering agrees (AWS's `previousEventId` around Map Runs depends on
/// timing), `Err(why)` otherwise.
fn run_case(
    engine: &Engine,
    runtime: &tokio::runtime::Runtime,
    case: &Case,
) -> Result<Option<String>, String> {
    let doc = &case.doc;
    let masks = strings(&doc["expected_masked"]);
    let machine = asl::parse(&doc["definition"]).map_err(|problems| {
        let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
        format!("rejected the definition: {}", listed.join("; "))
    })?;
    let mut request = ExecutionRequest::new("conformance", doc["input"].clone());
    if doc["state_machine_type"] == "EXPRESS" {
        request.kind = ExecutionType::Express;
    }
    let execution = runtime.block_on(engine.execute(&machine, request));
    let expected = &doc["expected"];
    let status = execution.status.as_str();
    if expected["status"] != status {
        return Err(format!(
            "status {status} (error {:?}, cause {:?}), expected {}",
            execution.error, execution.cause, expected["status"]
        ));
    }
    // DescribeExecution as AWS returns it: a member AWS left out (an error
    // or cause a failure did not carry, all of them on TIMED_OUT) must be
    // absent, not empty.
    let described = execution.describe(&doc["input"]);
    for field in ["output", "error", "cause"] {
        let actual = described.get(field).map(|v| match (field, v.as_str()) {
            ("output", Some(text)) => serde_json::from_str(text).unwrap_or(Value::Null),
            _ => v.clone(),
        });
        match (expected.get(field), actual) {
            (None, None) => {}
            (Some(want), Some(actual)) => {
                if !same(want, &actual, &masks) {
                    return Err(format!("{field} {actual}, expected {want}"));
                }
            }
            (Some(want), None) => return Err(format!("no {field}, expected {want}")),
            (None, Some(actual)) => {
                return Err(format!("{field} {actual}, which AWS leaves out"));
            }
        }
    }
    if let Some(events) = doc["expected_history"].as_array() {
        // The execution's own last event carries what DescribeExecution
        // does, with the same members left out.
        fn terminal(e: &Value) -> Option<(&String, &Value)> {
            e.as_object()?
                .iter()
                .find(|(k, _)| k.starts_with("execution") && k.ends_with("EventDetails"))
        }
        if let (Some((member, want)), Some(last)) =
            (events.last().and_then(terminal), execution.history.last())
        {
            let got = last.details.as_ref().filter(|(m, _)| m == member);
            let got = got
                .map(|(_, details)| details.clone())
                .unwrap_or(Value::Null);
            let comparable = |v: &Value| {
                let mut v = v.clone();
                if let Some(o) = v.as_object_mut() {
                    o.retain(|k, _| k == "error" || k == "cause");
                }
                v
            };
            if !same(&comparable(want), &comparable(&got), &masks) {
                return Err(format!("{member} {got}, expected {want}"));
            }
        }
        let want: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
        let got: Vec<&str> = execution.history.iter().map(|e| e.kind.as_ref()).collect();
        let concurrent = events.iter().any(|e| !e["id"].is_u64());
        let agrees = if concurrent {
            same_concurrent_history(events, &want, &got)
        } else {
            want == got
        };
        if !agrees {
            return Err(format!("event types {got:?}, expected {want:?}"));
        }
        if !concurrent {
            let numbered = |e: &Value| (e["id"].as_u64(), e["previousEventId"].as_u64());
            let want_ids: Vec<_> = events.iter().map(numbered).collect();
            let got_ids: Vec<_> = execution
                .history
                .iter()
                .map(|e| (Some(e.id), Some(e.previous_event_id)))
                .collect();
            if want_ids != got_ids {
                return Ok(Some(format!(
                    "event ids/previousEventIds {got_ids:?}, expected {want_ids:?}"
                )));
            }
        }
    }
    Ok(None)
}

#[test]
fn engine_conformance() {
    let cases = load_cases();
    assert!(!cases.is_empty(), "no conformance cases found");
    let engine = Engine::new(Arc::new(NoTasks)).with_clock(Clock::virtual_time());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let verbose = std::env::var_os("SANDSTEP_CONFORMANCE_VERBOSE").is_some();
    let mut by_feature: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut by_language: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut numbering_differs = Vec::new();
    let mut numbered = (0usize, 0usize);
    for case in &cases {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_case(&engine, &runtime, case)
        }))
        .unwrap_or_else(|_| Err("the engine panicked".into()));
        let passed = outcome.is_ok();
        numbered.1 += usize::from(case.doc["expected_history"].is_array());
        match &outcome {
            Ok(Some(why)) => numbering_differs.push((case.name.clone(), why.clone())),
            Ok(None) => numbered.0 += usize::from(case.doc["expected_history"].is_array()),
            Err(_) => {}
        }
        let jsonata = case
            .features
            .iter()
            .any(|f| f == "jsonata" || f == "assign");
        let language = by_language
            .entry(if jsonata {
                "jsonata+assign"
            } else {
                "jsonpath"
            })
            .or_default();
        language.1 += 1;
        language.0 += usize::from(passed);
        for feature in &case.features {
            let entry = by_feature.entry(feature.clone()).or_default();
            entry.1 += 1;
            entry.0 += usize::from(passed);
        }
        if let Err(why) = outcome {
            failures.push((case.name.clone(), jsonata, why));
        }
    }
    println!("engine conformance by feature (passed/total):");
    for (feature, (passed, total)) in &by_feature {
        println!("  {feature:40} {passed:4}/{total:<4}");
    }
    for (language, (passed, total)) in &by_language {
        println!(
            "{language}: {passed}/{total} passed ({:.1}%)",
            pct(*passed, *total)
        );
    }
    println!(
        "history ids and previousEventIds agree: {}/{} recorded histories",
        numbered.0, numbered.1
    );
    for (name, why) in &numbering_differs {
        println!("NUMBERING {name}: {}", truncate(why, 600));
    }
    for (name, jsonata, why) in &failures {
        if verbose || !jsonata {
            println!("FAIL {name}: {}", truncate(why, 600));
        }
    }
    let rate = |key: &str| by_language.get(key).map_or(100.0, |(p, t)| pct(*p, *t));
    assert!(
        rate("jsonpath") >= FLOOR_JSONPATH,
        "JSONPath conformance fell below {FLOOR_JSONPATH}%"
    );
    assert!(
        rate("jsonata+assign") >= FLOOR_JSONATA,
        "JSONata conformance fell below {FLOOR_JSONATA}%"
    );
}

fn pct(passed: usize, total: usize) -> f64 {
    if total == 0 {
        100.0
    } else {
        passed as f64 * 100.0 / total as f64
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        s.to_owned()
    } else {
        format!("{}…", &s[..s.floor_char_boundary(n)])
    }
}
