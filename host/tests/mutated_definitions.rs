//! Bad input never panics and never hangs: the definitions and inputs of
//! `shared/conformance/engine`, mutated at random (a field dropped, added or
//! replaced by a value of another type, a path, an intrinsic, a JSONata
//! expression or a piece of another definition), are validated and, where
//! valid, run on the virtual clock. Every run must end, without a panic.
//!
//! The mutations come from a fixed seed, so a failure reproduces; the
//! message names the iteration, the definition and the input.
//! `SANDSTEP_MUTATIONS=N` runs N mutations instead of the default.
//!
//! shared/ is found at `$SANDSTEP_SHARED` or `$CARGO_MANIFEST_DIR/../../shared`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sandstep_host::asl;
use sandstep_host::engine::{Clock, Engine, ExecutionRequest, NoTasks};
use serde_json::{Value, json};

const DEFAULT_MUTATIONS: usize = 10_000;
/// Wall time one mutated execution may take (Waits take none: the clock is virtual).
const RUN_LIMIT: Duration = Duration::from_secs(10);

/// Strings that mean something in some ASL field.
const SNIPPETS: &[&str] = &[
    "$",
    "$.a",
    "$.a.b",
    "$$",
    "$$.Map.Item.Value",
    "$$.Execution.Input",
    "$[0]",
    "$[-1]",
    "$[0:2]",
    "$..a",
    "$.*",
    "$[?(@.a > 1)]",
    "$['a']",
    "$.a[*].b",
    "$var",
    "States.Format('{}', $.a)",
    "States.Format('{}{}', 1)",
    "States.StringToJson($.a)",
    "States.JsonToString($)",
    "States.Array(1, $.a)",
    "States.ArrayPartition($.a, 0)",
    "States.ArrayRange(1, 1000000000, 1)",
    "States.ArrayRange(0, 10, 0)",
    "States.ArrayGetItem($.a, -1)",
    "States.ArrayUnique($)",
    "States.Base64Decode('%%%')",
    "States.Hash($.a, 'SHA-999')",
    "States.MathRandom(10, 1)",
    "States.MathAdd(9223372036854775807, 1)",
    "States.StringSplit($.a, '')",
    "States.JsonMerge($, $, true)",
    "States.Format(",
    "{% $ %}",
    "{% ) %}",
    "{% $states.input %}",
    "{% $states.result.a %}",
    "{% [1..100000000] %}",
    "{% $string(1/0) %}",
    "{% $reduce([1,2], function($a,$b){$a/0}) %}",
    "{% $states.context.Map.Item.Index %}",
    "{% $sum($states.input.a) %}",
    "",
    "a",
    "Pass",
    "Task",
    "Choice",
    "Wait",
    "Map",
    "Parallel",
    "JSONata",
    "JSONPath",
    "States.ALL",
    "States.Timeout",
    "2016-03-14T01:59:00Z",
    "not-a-date",
    "DISTRIBUTED",
    "INLINE",
];

/// Fields a mutation may add, as themselves or with `.$`.
const FIELDS: &[&str] = &[
    "Type",
    "Next",
    "End",
    "Parameters",
    "Arguments",
    "Output",
    "Assign",
    "ResultPath",
    "InputPath",
    "OutputPath",
    "ResultSelector",
    "Items",
    "ItemsPath",
    "ItemSelector",
    "ItemProcessor",
    "MaxConcurrency",
    "Branches",
    "Choices",
    "Default",
    "Condition",
    "Variable",
    "Seconds",
    "SecondsPath",
    "Timestamp",
    "Retry",
    "Catch",
    "ErrorEquals",
    "MaxAttempts",
    "BackoffRate",
    "MaxDelaySeconds",
    "TimeoutSeconds",
    "QueryLanguage",
    "Result",
    "Error",
    "Cause",
    "ErrorPath",
    "CausePath",
    "ToleratedFailureCount",
    "ItemBatcher",
    "StringEquals",
    "NumericGreaterThan",
    "IsPresent",
    "And",
    "Not",
    "StringMatches",
    "Resource",
    "StartAt",
    "States",
    "ProcessorConfig",
];

/// xorshift64: a fixed sequence for a fixed seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn shared_dir() -> PathBuf {
    std::env::var_os("SANDSTEP_SHARED").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        PathBuf::from,
    )
}

fn load_cases() -> Vec<(String, Value)> {
    let dir = shared_dir().join("conformance/engine");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; set SANDSTEP_SHARED to the shared/ directory",
            dir.display()
        )
    });
    let mut cases: Vec<(String, Value)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable case file");
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            (
                name.unwrap_or_default(),
                serde_json::from_str(&text).expect("JSON case"),
            )
        })
        .collect();
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    cases
}

fn node_count(v: &Value) -> usize {
    1 + match v {
        Value::Object(m) => m.values().map(node_count).sum(),
        Value::Array(a) => a.iter().map(node_count).sum(),
        _ => 0,
    }
}

/// The `index`th node of `v` in pre-order.
fn node_mut<'v>(v: &'v mut Value, index: &mut usize) -> Option<&'v mut Value> {
    if *index == 0 {
        return Some(v);
    }
    *index -= 1;
    match v {
        Value::Object(m) => m.values_mut().find_map(|c| node_mut(c, index)),
        Value::Array(a) => a.iter_mut().find_map(|c| node_mut(c, index)),
        _ => None,
    }
}

fn random_value(rng: &mut Rng, donors: &[Value]) -> Value {
    match rng.below(10) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 0),
        2 => json!(*rng.pick(&[-1i64, 0, 1, 3, 1_000_000, i64::MAX, i64::MIN])),
        3 => json!(*rng.pick(&[0.5f64, -0.0, 1e300, -2.5])),
        4..=6 => json!(*rng.pick(SNIPPETS)),
        7 => json!({}),
        8 => json!([]),
        _ => {
            // A piece of another definition.
            let mut donor = rng.pick(donors).clone();
            let mut index = rng.below(node_count(&donor));
            node_mut(&mut donor, &mut index).map_or(Value::Null, |v| v.take())
        }
    }
}

fn mutate(rng: &mut Rng, v: &mut Value, donors: &[Value]) {
    let mut index = rng.below(node_count(v));
    let replacement = random_value(rng, donors);
    let choice = rng.below(4);
    let field = *rng.pick(FIELDS);
    let path_field = rng.below(3) == 0;
    let Some(node) = node_mut(v, &mut index) else {
        return;
    };
    match (choice, node) {
        (0, Value::Object(m)) if !m.is_empty() => {
            let drop = m.keys().nth(index % m.len()).cloned();
            if let Some(key) = drop {
                m.shift_remove(&key);
            }
        }
        (1, Value::Object(m)) => {
            let key = if path_field {
                format!("{field}.$")
            } else {
                field.to_owned()
            };
            m.insert(key, replacement);
        }
        (_, node) => *node = replacement,
    }
}

#[test]
fn mutated_definitions_never_panic_or_hang() {
    let cases = load_cases();
    assert!(!cases.is_empty(), "no conformance cases found");
    let mutations = std::env::var("SANDSTEP_MUTATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(DEFAULT_MUTATIONS);
    let donors: Vec<Value> = cases.iter().map(|c| c.1["definition"].clone()).collect();
    // A panic on any thread (a branch, an iteration) is caught here.
    let panicked: Arc<Mutex<Option<String>>> = Arc::default();
    let hook = panicked.clone();
    std::panic::set_hook(Box::new(move |info| {
        *hook.lock().unwrap_or_else(|e| e.into_inner()) = Some(info.to_string());
    }));
    let engine = Engine::new(Arc::new(NoTasks)).with_clock(Clock::virtual_time());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut ran = 0;
    for i in 0..mutations {
        let (name, case) = rng.pick(&cases);
        let mut definition = case["definition"].clone();
        let mut input = case["input"].clone();
        for _ in 0..1 + rng.below(2) {
            mutate(&mut rng, &mut definition, &donors);
        }
        if rng.below(4) == 0 {
            mutate(&mut rng, &mut input, &donors);
        }
        let text = definition.to_string();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let Ok(machine) = asl::parse_text(&text) else {
                return Ok(false);
            };
            let request = ExecutionRequest::new("mutated", input.clone());
            runtime
                .block_on(async {
                    tokio::time::timeout(RUN_LIMIT, engine.execute(&machine, request)).await
                })
                .map(|_| true)
        }));
        let context = || format!("mutation {i} of {name}:\n  definition {text}\n  input {input}");
        if let Some(message) = panicked.lock().unwrap_or_else(|e| e.into_inner()).take() {
            panic!("{message}\n{}", context());
        }
        match outcome {
            Ok(Ok(true)) => ran += 1,
            Ok(Ok(false)) => {}
            Ok(Err(_)) => panic!("still running after {RUN_LIMIT:?}: {}", context()),
            Err(_) => panic!("panicked: {}", context()),
        }
    }
    let _ = std::panic::take_hook();
    println!("{mutations} mutations, {ran} valid and run to their end");
    // Most mutations break the definition; the rest must still exercise the engine.
    assert!(
        ran * 50 >= mutations,
        "only {ran} of {mutations} mutations ran"
    );
}
