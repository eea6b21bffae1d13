//! JSONata through Sandstep's own wrapper (`query::jsonata`):
//!
//! - `jsonata_reference_suite`: the official JSONata test suite
//!   (`shared/jsonata-suite`, the jsonata-js `test/test-suite` layout), every
//!   case in this process with a per-case time limit, AWS's functions bound.
//!   Prints passed/total and the failing groups; fails below the rate
//!   reached ([`MIN_PASSED`]).
//! - `aws_conformance_expressions`: every `{% %}` expression of the AWS
//!   conformance cases tagged `jsonata` compiles, and the first state of a
//!   case, where it is a JSONata Pass `Output`, Map `Items` or Wait
//!   `Timestamp`, gives AWS's recorded output or cause.
//!
//! shared/ is found at `$SANDSTEP_SHARED` or `$CARGO_MANIFEST_DIR/../../shared`.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sandstep_host::query::LazyContext;
use sandstep_host::query::jsonata::{
    EvalLimits, EvaluationError, JsonataEnv, JsonataExpr, JsonataValue, expression_text,
};
use serde_json::{Map, Value, json};

/// Cases passed of the reference suite; a drop fails the test.
const MIN_PASSED: usize = 1683;
/// Time allowed to a case that sets no `timelimit` of its own.
const CASE_TIMEOUT: Duration = Duration::from_secs(2);

fn shared_dir() -> PathBuf {
    let mut tried = Vec::new();
    if let Ok(dir) = std::env::var("SANDSTEP_SHARED") {
        tried.push(PathBuf::from(dir));
    }
    tried.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    for dir in &tried {
        if dir.join("jsonata-suite").join("groups").is_dir() {
            return dir.clone();
        }
    }
    panic!(
        "shared/ not found (looked under {}); set SANDSTEP_SHARED to the shared/ directory",
        tried
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" and ")
    );
}

// ------------------------------------------------------------ reference suite

struct Case {
    group: String,
    name: String,
    expr: String,
    data: Option<Value>,
    bindings: Map<String, Value>,
    expect: Expect,
    /// The jsonata-js runner's own guards, which throw `U1001` past them.
    timelimit_ms: Option<u64>,
    depth: Option<u64>,
}

enum Expect {
    Value { value: Value, unordered: bool },
    Undefined,
    Error(String),
}

fn load_suite(root: &Path) -> Vec<Case> {
    let mut datasets = BTreeMap::new();
    for path in sorted_entries(&root.join("datasets")) {
        if path.extension().is_some_and(|e| e == "json") {
            datasets.insert(stem(&path), read_json(&path));
        }
    }
    let mut cases = Vec::new();
    for group_dir in sorted_entries(&root.join("groups")) {
        if !group_dir.is_dir() {
            continue;
        }
        let group = group_dir
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        for file in sorted_entries(&group_dir) {
            if file.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let entries = match read_json(&file) {
                Value::Array(items) => items
                    .into_iter()
                    .enumerate()
                    .map(|(i, c)| (format!("{}#{i}", stem(&file)), c))
                    .collect(),
                one => vec![(stem(&file), one)],
            };
            for (name, raw) in entries {
                cases.push(parse_case(&group, name, &raw, &group_dir, &datasets));
            }
        }
    }
    cases
}

fn parse_case(
    group: &str,
    name: String,
    raw: &Value,
    group_dir: &Path,
    datasets: &BTreeMap<String, Value>,
) -> Case {
    let expr = match (raw.get("expr"), raw.get("expr-file")) {
        (Some(Value::String(e)), _) => e.clone(),
        (_, Some(Value::String(f))) => std::fs::read_to_string(group_dir.join(f))
            .unwrap_or_else(|e| panic!("{group}/{name}: cannot read expr-file '{f}': {e}")),
        _ => panic!("{group}/{name}: neither 'expr' nor 'expr-file'"),
    };
    // As the jsonata-js runner: `data` wins (null is a null input), then a
    // named dataset; no dataset is the undefined input.
    let data = match (raw.get("data"), raw.get("dataset")) {
        (Some(d), _) => Some(d.clone()),
        (None, Some(Value::String(ds))) => Some(
            datasets
                .get(ds)
                .cloned()
                .unwrap_or_else(|| panic!("{group}/{name}: unknown dataset '{ds}'")),
        ),
        _ => None,
    };
    let expect = if raw.get("undefinedResult") == Some(&Value::Bool(true)) {
        Expect::Undefined
    } else if let Some(v) = raw.get("result") {
        Expect::Value {
            value: v.clone(),
            unordered: raw.get("unordered") == Some(&Value::Bool(true)),
        }
    } else if let Some(code) = raw
        .get("code")
        .or_else(|| raw.get("error").and_then(|e| e.get("code")))
        .and_then(Value::as_str)
    {
        Expect::Error(code.to_owned())
    } else {
        panic!("{group}/{name}: expects nothing");
    };
    Case {
        group: group.to_owned(),
        name,
        expr,
        data,
        bindings: raw
            .get("bindings")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        expect,
        timelimit_ms: raw.get("timelimit").and_then(Value::as_u64),
        depth: raw.get("depth").and_then(Value::as_u64),
    }
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_owned()
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let rd =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    paths
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(&replace_lone_surrogates(&text)))
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A few cases hold a lone `\ud800`, which JavaScript strings allow and Rust
/// strings cannot: such escapes become U+FFFD so the case still loads.
fn replace_lone_surrogates(text: &str) -> String {
    let hex_at = |i: usize| -> Option<u32> {
        if text.get(i..i + 2)? != "\\u" {
            return None;
        }
        u32::from_str_radix(text.get(i + 2..i + 6)?, 16).ok()
    };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i..].starts_with("\\\\") {
            out.push_str("\\\\");
            i += 2;
            continue;
        }
        match hex_at(i) {
            Some(0xD800..=0xDBFF) if matches!(hex_at(i + 6), Some(0xDC00..=0xDFFF)) => {
                out.push_str(&text[i..i + 12]);
                i += 12;
            }
            Some(0xD800..=0xDFFF) => {
                out.push_str("\\ufffd");
                i += 6;
            }
            _ => {
                let ch = text[i..].chars().next().expect("i is on a char boundary");
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    out
}

/// JSON equality with numbers compared as `f64` and object keys unordered.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Arrays compared as multisets.
fn json_eq_unordered(got: &Value, want: &Value) -> bool {
    let (Value::Array(g), Value::Array(w)) = (got, want) else {
        return json_eq(got, want);
    };
    let mut used = vec![false; g.len()];
    g.len() == w.len()
        && w.iter().all(|item| {
            let hit = (0..g.len()).find(|&i| !used[i] && json_eq(&g[i], item));
            hit.map(|i| used[i] = true).is_some()
        })
}

/// Runs one case; `Err` is the error code, or a description of a panic.
fn run(case: &Case) -> Result<Option<Value>, String> {
    let limits = EvalLimits {
        timeout: CASE_TIMEOUT.max(Duration::from_millis(case.timelimit_ms.unwrap_or(0))),
        max_depth: case.depth.and_then(|d| usize::try_from(d).ok()),
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let expr = JsonataExpr::compile(&case.expr)?;
        expr.evaluate(case.data.as_ref(), &case.bindings, &limits)
    }));
    match outcome {
        Ok(Ok(v)) => Ok(v),
        // The jsonata-js runner reports its own depth and time guards as
        // U1001; ours raise D1011 (depth) and D1012 (time).
        Ok(Err(EvaluationError { code, .. }))
            if (case.depth.is_some() || case.timelimit_ms.is_some())
                && (code == "D1011" || code == "D1012") =>
        {
            Err("U1001".to_owned())
        }
        Ok(Err(e)) => Err(e.code),
        Err(_) => Err("panic".to_owned()),
    }
}

fn passes(expect: &Expect, got: &Result<Option<Value>, String>) -> bool {
    match (expect, got) {
        (Expect::Value { value, unordered }, Ok(Some(v))) => {
            if *unordered {
                json_eq_unordered(v, value)
            } else {
                json_eq(v, value)
            }
        }
        (Expect::Undefined, Ok(None)) => true,
        (Expect::Error(code), Err(got)) => code == got,
        _ => false,
    }
}

#[test]
fn jsonata_reference_suite() {
    let cases = load_suite(&shared_dir().join("jsonata-suite"));
    assert!(cases.len() > 1000, "only {} cases loaded", cases.len());
    let started = Instant::now();
    // Panics are counted as failures; the default hook would only add noise.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let results: Vec<_> = cases.iter().map(run).collect();
    std::panic::set_hook(hook);
    let elapsed = started.elapsed();

    let mut groups: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for (case, got) in cases.iter().zip(&results) {
        let entry = groups.entry(&case.group).or_default();
        entry.1 += 1;
        if passes(&case.expect, got) {
            entry.0 += 1;
        } else {
            let want = match &case.expect {
                Expect::Value { value, .. } => value.to_string(),
                Expect::Undefined => "undefined".to_owned(),
                Expect::Error(code) => format!("error {code}"),
            };
            let got = match got {
                Ok(Some(v)) => v.to_string(),
                Ok(None) => "undefined".to_owned(),
                Err(code) => format!("error {code}"),
            };
            failures.push(format!(
                "  {}/{}: want {want}, got {got}; expr {:?}",
                case.group,
                case.name,
                case.expr.chars().take(80).collect::<String>()
            ));
        }
    }
    let passed: usize = groups.values().map(|(p, _)| p).sum();
    println!(
        "jsonata reference suite: {passed}/{} passed ({:.1}%) in {:.1}s",
        cases.len(),
        100.0 * passed as f64 / cases.len() as f64,
        elapsed.as_secs_f64()
    );
    println!("failing groups:");
    for (group, (p, t)) in groups.iter().filter(|(_, (p, t))| p < t) {
        println!("  {group}: {p}/{t}");
    }
    println!("failing cases:\n{}", failures.join("\n"));
    assert!(
        passed >= MIN_PASSED,
        "{passed} cases passed, fewer than the {MIN_PASSED} reached before"
    );
}

// ------------------------------------------------------- AWS conformance

fn collect_expressions(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.extend(expression_text(s).map(str::to_owned)),
        Value::Array(items) => items.iter().for_each(|i| collect_expressions(i, out)),
        Value::Object(map) => map.values().for_each(|i| collect_expressions(i, out)),
        _ => {}
    }
}

/// The cause without the engine's "An error occurred while executing the
/// state 'X' (entered at the event id #N). " prefix.
fn cause_tail(cause: &str) -> &str {
    cause.split_once("). ").map_or(cause, |(_, tail)| tail)
}

#[test]
fn aws_conformance_expressions() {
    let dir = shared_dir().join("conformance").join("engine");
    let (mut cases, mut compiled, mut evaluated) = (0, 0, 0);
    for path in sorted_entries(&dir) {
        let case = read_json(&path);
        let tagged = case["features"]
            .as_array()
            .is_some_and(|f| f.iter().any(|t| t == "jsonata"));
        if !tagged {
            continue;
        }
        cases += 1;
        let file = path.display();
        let def = &case["definition"];
        let mut exprs = Vec::new();
        collect_expressions(def, &mut exprs);
        for src in &exprs {
            let expr = JsonataExpr::compile(src)
                .unwrap_or_else(|e| panic!("{file}: '{src}' does not compile: {e}"));
            // AWS created these machines, so none reads the (absent) input.
            assert_eq!(
                expr.top_level_reads(),
                Vec::<String>::new(),
                "{file}: '{src}'"
            );
            compiled += 1;
        }

        // The first state, where one field decides the case.
        let Some(start) = def["StartAt"].as_str() else {
            continue;
        };
        let state = &def["States"][start];
        let jsonata = state
            .get("QueryLanguage")
            .or_else(|| def.get("QueryLanguage"))
            == Some(&json!("JSONata"));
        let (field, value) = match state["Type"].as_str() {
            Some("Pass") if def["States"].as_object().is_some_and(|s| s.len() == 1) => {
                ("Output", state.get("Output"))
            }
            Some("Map") => ("Items", state.get("Items")),
            Some("Wait") => ("Timestamp", state.get("Timestamp")),
            _ => continue,
        };
        let (true, Some(value)) = (jsonata, value) else {
            continue;
        };
        let value = JsonataValue::parse(value).unwrap_or_else(|p| panic!("{file}: {p:?}"));
        let (input, vars, ctx) = (&case["input"], Map::new(), LazyContext::ready(json!({})));
        let env = JsonataEnv::new(input, &ctx, &vars);
        let got = match field {
            "Items" => value.eval_array(field, &env).map(Value::Array),
            "Timestamp" => value.eval_timestamp(field, &env).map(|_| Value::Null),
            _ => value.eval(field, &env),
        };
        let expected = &case["expected"];
        match (expected["status"].as_str(), got) {
            (Some("SUCCEEDED"), Ok(v)) if field == "Output" => {
                assert_eq!(&v, &expected["output"], "{file}");
            }
            (Some("SUCCEEDED"), Ok(_)) => {}
            (Some("FAILED"), Err(e)) => {
                assert_eq!(
                    Some(e.error.error.as_str()),
                    expected["error"].as_str(),
                    "{file}"
                );
                let want = expected["cause"].as_str().map(cause_tail);
                assert_eq!(Some(e.error.cause.as_str()), want, "{file}");
            }
            (status, got) => panic!("{file}: AWS {status:?}, ours {got:?}"),
        }
        evaluated += 1;
    }
    println!(
        "aws conformance: {cases} jsonata cases, {compiled} expressions compiled, {evaluated} \
         first-state fields evaluated as AWS recorded"
    );
    assert_eq!(cases, 81, "the jsonata cases of conformance/engine");
    assert!(
        evaluated >= 40,
        "only {evaluated} first-state fields evaluated"
    );
}
