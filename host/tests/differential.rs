//! Differential test: the engine against LocalStack's Step Functions
//! interpreter (`localstack-core` 4.9.2, run in-process by
//! `differential/localstack_driver.py`), on definitions and inputs generated
//! from a fixed seed: intrinsics with edge arguments, JSONPath filters and
//! slices, every Choice operator with mixed types, Wait edge values,
//! Retry/Catch orders, Map and Parallel failures.
//!
//! Status, error and output are compared (causes are worded by each side and
//! only counted). Every divergence is printed; the test fails on any that is
//! not in [`ACCEPTED`], where each accepted one says why the engine is right
//! (AWS's recorded cases win; otherwise AWS's documentation decides).
//!
//! The first run creates a Python venv from PyPI (`differential/requirements.txt`)
//! under `~/.cache/sandstep/` (or `$SANDSTEP_DIFFERENTIAL_VENV`) with the
//! machine's `python3.11` or `python3`; later runs reuse it.
//! `SANDSTEP_DIFFERENTIAL_CASES` (default 600) and `SANDSTEP_DIFFERENTIAL_SEED`
//! run longer or other sequences; `SANDSTEP_DIFFERENTIAL=off` skips the test
//! (it says so); `SANDSTEP_DIFFERENTIAL_VERBOSE=1` prints causes too.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use sandstep_host::asl;
use sandstep_host::engine::{Clock, Engine, ExecutionRequest, NoTasks};
use serde_json::{Value, json};

#[path = "differential/accepted.rs"]
mod accepted;
#[path = "differential/generate.rs"]
mod generate;
#[path = "differential/localstack.rs"]
mod localstack;

use accepted::*;
use generate::*;
use localstack::*;

const DEFAULT_SEED: u64 = 0x5A4D_5354_4550;
const DEFAULT_CASES: usize = 600;

// ---------------------------------------------------------------- running

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outcome {
    pub(crate) status: String,
    pub(crate) output: Option<Value>,
    pub(crate) error: Option<String>,
    pub(crate) cause: Option<String>,
}

fn run_engine(cases: &[Case]) -> Vec<Outcome> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let engine = Engine::new(Arc::new(NoTasks)).with_clock(Clock::virtual_time());
    cases
        .iter()
        .map(|case| match asl::parse(&case.definition) {
            Err(problems) => Outcome {
                status: "INVALID_DEFINITION".into(),
                output: None,
                error: None,
                cause: Some(
                    problems
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; "),
                ),
            },
            Ok(machine) => {
                let request = ExecutionRequest::new("differential", case.input.clone());
                let execution = runtime.block_on(engine.execute(&machine, request));
                Outcome {
                    status: execution.status.as_str().to_owned(),
                    output: execution.output,
                    error: execution.error,
                    cause: execution.cause,
                }
            }
        })
        .collect()
}

/// JSON equality with numbers compared by value (1 == 1.0).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// What differs between the two outcomes, if anything.
fn difference(case: &Case, ours: &Outcome, theirs: &Outcome) -> Option<String> {
    if ours.status != theirs.status {
        return Some(format!(
            "status: engine {} ({}), LocalStack {} ({})",
            ours.status,
            ours.error.as_deref().unwrap_or("-"),
            theirs.status,
            theirs.error.as_deref().unwrap_or("-"),
        ));
    }
    if ours.error != theirs.error {
        return Some(format!(
            "error: engine {:?}, LocalStack {:?}",
            ours.error, theirs.error
        ));
    }
    let status_only = STATUS_ONLY.iter().any(|p| case.label.starts_with(p));
    if !status_only && ours.status == "SUCCEEDED" {
        let (a, b) = (
            ours.output.clone().unwrap_or(Value::Null),
            theirs.output.clone().unwrap_or(Value::Null),
        );
        if !same_json(&a, &b) {
            return Some(format!("output: engine {a}, LocalStack {b}"));
        }
    }
    None
}

/// The first accepted rule that covers this divergence: its index and reason.
fn accepted(case: &Case, ours: &Outcome, theirs: &Outcome) -> Option<(usize, &'static str)> {
    ACCEPTED
        .iter()
        .enumerate()
        .find(|(_, rule)| (rule.applies)(case, ours, theirs))
        .map(|(i, rule)| (i, rule.why))
}

#[test]
fn engine_agrees_with_localstack() {
    if std::env::var("SANDSTEP_DIFFERENTIAL").is_ok_and(|v| v == "off") {
        eprintln!("differential: skipped (SANDSTEP_DIFFERENTIAL=off)");
        return;
    }
    let seed = std::env::var("SANDSTEP_DIFFERENTIAL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let count = std::env::var("SANDSTEP_DIFFERENTIAL_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let verbose = std::env::var("SANDSTEP_DIFFERENTIAL_VERBOSE").is_ok();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/differential");
    let interpreter = venv(&dir).unwrap_or_else(|e| panic!("differential: {e}"));
    let cases = generate(seed, count);
    let ours = run_engine(&cases);
    let theirs = run_localstack(&interpreter, &dir.join("localstack_driver.py"), &cases)
        .unwrap_or_else(|e| panic!("differential: {e}"));

    let mut by_family: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    let mut unexplained = Vec::new();
    let mut cause_differences = 0;
    let mut by_rule: BTreeMap<usize, usize> = BTreeMap::new();
    let mut localstack_errors = Vec::new();
    for ((case, a), b) in cases.iter().zip(&ours).zip(&theirs) {
        let entry = by_family.entry(case.family).or_default();
        entry.0 += 1;
        if b.status == "DRIVER_ERROR" {
            // LocalStack could not run the case at all: nothing to compare.
            localstack_errors.push(format!(
                "#{} [{}] {}: {}",
                case.id,
                case.family,
                case.label,
                b.cause
                    .as_deref()
                    .unwrap_or("")
                    .lines()
                    .last()
                    .unwrap_or("")
            ));
            continue;
        }
        if a.status == "FAILED" && b.status == "FAILED" && a.cause != b.cause {
            cause_differences += 1;
        }
        let Some(diff) = difference(case, a, b) else {
            continue;
        };
        entry.1 += 1;
        let line = format!(
            "#{} [{}] {}\n    definition {}\n    input {}\n    {diff}",
            case.id, case.family, case.label, case.definition, case.input
        );
        match accepted(case, a, b) {
            Some((rule, why)) => {
                entry.2 += 1;
                *by_rule.entry(rule).or_default() += 1;
                if verbose {
                    eprintln!("accepted divergence {line}\n    why: {why}");
                }
            }
            None => {
                let causes = format!(
                    "\n    causes: engine {:?}\n            LocalStack {:?}",
                    a.cause, b.cause
                );
                unexplained.push(line + &causes);
            }
        }
    }
    eprintln!(
        "differential (seed {seed:#x}, {count} cases): family  cases / divergences / accepted"
    );
    for (family, (n, d, k)) in &by_family {
        eprintln!("  {family:<12} {n:>5} / {d:>4} / {k:>4}");
    }
    eprintln!("  failed on both sides with differently worded causes: {cause_differences}");
    eprintln!("accepted divergences by reason:");
    for (rule, n) in &by_rule {
        let why: String = ACCEPTED[*rule]
            .why
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        eprintln!("  {n:>5}  {}", why.chars().take(110).collect::<String>());
    }
    eprintln!(
        "  LocalStack could not run {} cases (not compared):",
        localstack_errors.len()
    );
    for line in localstack_errors.iter().take(20) {
        eprintln!("    {line}");
    }
    for line in &unexplained {
        eprintln!("DIVERGENCE {line}");
    }
    // A driver that fails everything would make the comparison vacuous.
    assert!(
        localstack_errors.len() * 20 <= cases.len(),
        "LocalStack could not run {} of {} cases: is the driver broken?",
        localstack_errors.len(),
        cases.len()
    );
    assert!(
        unexplained.is_empty(),
        "{} divergences from LocalStack that are neither fixed nor accepted (listed above)",
        unexplained.len()
    );
}
