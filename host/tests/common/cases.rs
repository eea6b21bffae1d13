//! What the conformance suites share: loading the cases recorded on AWS
//! (`$SANDSTEP_SHARED/conformance/<kind>/`), comparing an execution with
//! the recording (masked values as wildcards), and running one case.

#![allow(dead_code, reason = "each suite uses a part")]

use std::path::{Path, PathBuf};

use sandstep_host::asl;
use sandstep_host::engine::{Engine, ExecutionRequest, ExecutionType};
use serde_json::Value;

pub fn shared_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("SANDSTEP_SHARED") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}

pub struct Case {
    pub name: String,
    pub features: Vec<String>,
    pub doc: Value,
}

/// Every case in `conformance/<kind>/`, sorted by file name.
pub fn load_cases(kind: &str) -> Vec<Case> {
    let dir = shared_dir().join("conformance").join(kind);
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
pub fn strings(value: &Value) -> Vec<String> {
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
pub fn same(expected: &Value, actual: &Value, masks: &[String]) -> bool {
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
        || (s.len() > 2 && s.starts_with('<') && s.ends_with('>'))
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
pub fn run_case(
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
    let mut described = execution.describe(&doc["input"]);
    // The recorded outputs name buckets as the snapshot masked them.
    if let (Some(masks), Some(output)) = (doc["s3_masks"].as_object(), described.get_mut("output"))
        && let Some(text) = output.as_str()
    {
        let mut text = text.to_owned();
        for (bucket, mask) in masks {
            if let Some(mask) = mask.as_str() {
                text = text.replace(&format!("\"{bucket}\""), &format!("\"{mask}\""));
            }
        }
        *output = Value::String(text);
    }
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
