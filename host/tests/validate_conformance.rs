//! Runs every definition of `shared/conformance/validate` through the
//! validator and compares the verdict with the recorded one.
//!
//! - `validate.*` cases were recorded on AWS (ValidateStateMachineDefinition):
//!   the verdict and every diagnostic (code, message, location) must agree.
//! - `statelint.*` and `asl-validator.*` cases carry those tools' own
//!   expectations; AWS wins where they differ, so only the agreement rate is
//!   asserted (at the level reached), and disagreements are listed.
//!
//! - every definition of `conformance/engine` was created on AWS before it
//!   ran, so each must validate without a single diagnostic.
//!
//! shared/ is found at `$SANDSTEP_SHARED` or `$CARGO_MANIFEST_DIR/../../shared`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use sandstep_host::asl::Diagnostic;
use sandstep_host::asl::validate::{MachineType, validate_as, validate_text_as};
use serde_json::Value;

/// Agreement reached with each tool's own expectations; a drop fails.
const MIN_AGREED_STATELINT: usize = 64;
const MIN_AGREED_ASL_VALIDATOR: usize = 98;
/// Message fragments (field names the tools expect in the message) found.
const MIN_FRAGMENTS_FOUND: usize = 20;

fn conformance_dir(kind: &str) -> PathBuf {
    let mut tried = Vec::new();
    if let Ok(dir) = std::env::var("SANDSTEP_SHARED") {
        tried.push(PathBuf::from(dir));
    }
    tried.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    for dir in &tried {
        let cases = dir.join("conformance").join(kind);
        if cases.is_dir() {
            return cases;
        }
    }
    panic!(
        "conformance cases not found: looked for conformance/{kind} under {}; set \
         SANDSTEP_SHARED to the shared/ directory",
        tried
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" and ")
    );
}

struct Case {
    file: String,
    source: &'static str,
    case: Value,
}

fn load(kind: &str) -> Vec<Case> {
    let dir = conformance_dir(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let file = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let case: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
            let source = if file.starts_with("validate.") {
                "validate"
            } else if file.starts_with("statelint.") {
                "statelint"
            } else {
                "asl-validator"
            };
            Case { file, source, case }
        })
        .collect()
}

fn run(case: &Value) -> Vec<Diagnostic> {
    let text = case["definition_text"].as_str().unwrap_or_default();
    let ty = match case["validate_params"]["type"].as_str() {
        Some("EXPRESS") => MachineType::Express,
        _ => MachineType::Standard,
    };
    validate_text_as(text, ty)
}

fn show(diagnostics: &[Diagnostic]) -> String {
    if diagnostics.is_empty() {
        return "    (no diagnostics)".to_owned();
    }
    diagnostics
        .iter()
        .map(|d| format!("    {d}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// AWS's diagnostics as (code, message, location).
fn aws_diagnostics(case: &Value) -> Vec<(String, String, Option<String>)> {
    case["expected"]["diagnostics"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|d| {
                    (
                        d["code"].as_str().unwrap_or_default().to_owned(),
                        d["message"].as_str().unwrap_or_default().to_owned(),
                        d["location"].as_str().map(str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A fragment worth checking: a field or key name the tool expects the
/// message to mention (`"ResultPath"`, `bad1`); the tools' own wording
/// (`allowed minimum is 1`) is not AWS's and is not checked.
fn name_fragment(fragment: &str) -> Option<&str> {
    let name = fragment.trim_matches('"');
    let is_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$');
    is_name.then_some(name)
}

#[test]
fn validate_conformance() {
    let cases = load("validate");
    assert!(!cases.is_empty(), "no conformance cases found");

    let mut agreed: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut unjudged = Vec::new();
    let mut disagreements = Vec::new();
    let mut aws_failures = Vec::new();
    let (mut fragments_found, mut fragments_total) = (0, 0);

    for Case { file, source, case } in &cases {
        let diagnostics = run(case);
        let ours_valid = diagnostics.is_empty();
        let expected_valid = if *source == "validate" {
            case["expected"]["result"].as_str().map(|r| r == "OK")
        } else {
            case["expected"]["valid"].as_bool()
        };
        let Some(expected_valid) = expected_valid else {
            unjudged.push(format!(
                "  {file}: no recorded verdict; ours: {}\n{}",
                if ours_valid { "valid" } else { "invalid" },
                show(&diagnostics)
            ));
            continue;
        };
        let mut agrees = ours_valid == expected_valid;
        if *source == "validate" {
            let expected = aws_diagnostics(case);
            let ours: Vec<_> = diagnostics
                .iter()
                .map(|d| (d.code.to_owned(), d.message.clone(), d.location.clone()))
                .collect();
            if ours != expected {
                agrees = false;
                aws_failures.push(format!(
                    "  {file}\n    AWS:  {expected:?}\n    ours: {ours:?}"
                ));
            }
        } else if !expected_valid && !ours_valid {
            let fragments = case["expected"]["message_fragments"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for fragment in fragments.iter().filter_map(Value::as_str) {
                let Some(name) = name_fragment(fragment) else {
                    continue;
                };
                fragments_total += 1;
                let mentioned = diagnostics.iter().any(|d| {
                    d.message.contains(name)
                        || d.location.as_deref().is_some_and(|l| l.contains(name))
                });
                if mentioned {
                    fragments_found += 1;
                } else {
                    disagreements.push(format!("  {file}: no message mentions {fragment}"));
                }
            }
        }
        let entry = agreed.entry(source).or_default();
        entry.1 += 1;
        if agrees {
            entry.0 += 1;
        } else if *source != "validate" {
            disagreements.push(format!(
                "  {file}: expected {}, ours {}\n{}",
                if expected_valid { "valid" } else { "invalid" },
                if ours_valid { "valid" } else { "invalid" },
                show(&diagnostics)
            ));
        }
    }

    println!("validate conformance, agreed/total by source:");
    for (source, (ok, total)) in &agreed {
        println!("  {source}: {ok}/{total}");
    }
    println!("  name fragments mentioned: {fragments_found}/{fragments_total}");
    if !unjudged.is_empty() {
        println!("cases without a recorded verdict ({}):", unjudged.len());
        println!("{}", unjudged.join("\n"));
    }
    if !disagreements.is_empty() {
        println!(
            "disagreements with statelint/asl-validator ({}):",
            disagreements.len()
        );
        println!("{}", disagreements.join("\n"));
    }

    assert!(
        aws_failures.is_empty(),
        "cases recorded on AWS disagree:\n{}",
        aws_failures.join("\n")
    );
    let count = |source: &str| agreed.get(source).map_or(0, |(ok, _)| *ok);
    assert!(
        count("statelint") >= MIN_AGREED_STATELINT,
        "statelint agreement dropped to {} (was {MIN_AGREED_STATELINT})",
        count("statelint")
    );
    assert!(
        count("asl-validator") >= MIN_AGREED_ASL_VALIDATOR,
        "asl-validator agreement dropped to {} (was {MIN_AGREED_ASL_VALIDATOR})",
        count("asl-validator")
    );
    assert!(
        fragments_found >= MIN_FRAGMENTS_FOUND,
        "name fragments found dropped to {fragments_found} (was {MIN_FRAGMENTS_FOUND})"
    );
}

#[test]
fn engine_definitions_created_on_aws_are_valid() {
    let cases = load("engine");
    assert!(!cases.is_empty(), "no engine conformance cases found");
    let mut refused = Vec::new();
    for Case { file, case, .. } in &cases {
        let ty = match case["state_machine_type"].as_str() {
            Some("EXPRESS") => MachineType::Express,
            _ => MachineType::Standard,
        };
        let diagnostics = validate_as(&case["definition"], ty);
        if !diagnostics.is_empty() {
            refused.push(format!("  {file}\n{}", show(&diagnostics)));
        }
    }
    println!(
        "engine definitions accepted: {}/{}",
        cases.len() - refused.len(),
        cases.len()
    );
    assert!(
        refused.is_empty(),
        "definitions AWS accepted are refused:\n{}",
        refused.join("\n")
    );
}
