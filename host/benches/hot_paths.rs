//! The interpreter's hot paths without wasm: JSONPath selection and
//! ResultPath assignment, intrinsic calls, a Parameters template, and whole
//! executions of a one-state Pass machine and W1's ten Pass states.
//!
//! Run with `cargo bench -p sandstep-host --bench hot_paths`.

// As in the `host` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::{Map, Value, json};

use sandstep_host::asl;
use sandstep_host::engine::{Engine, ExecutionRequest, ExecutionType, NoTasks, Status};
use sandstep_host::query::{Intrinsic, JsonPath, LazyContext, Scope, Template};

/// A small order document, the kind a state's input usually is.
fn document() -> Value {
    let items: Vec<Value> = (0..20)
        .map(|i| json!({"sku": format!("SKU-{i:05}"), "qty": i, "price": 9.99 + f64::from(i)}))
        .collect();
    json!({
        "orderId": "8f14e45f-ceea-467f-a2c4-0c1d2b3e4f5a",
        "customer": {"name": {"first": "Ada", "last": "Lovelace"}, "email": "ada@example.com"},
        "items": items,
        "tags": ["a", "b", "c"],
    })
}

fn paths(c: &mut Criterion) {
    let doc = document();
    let mut group = c.benchmark_group("jsonpath");
    for src in [
        "$.customer.name.first",
        "$.items[7].sku",
        "$.items[*].qty",
        "$.items[?(@.qty > 15)].sku",
        "$..first",
    ] {
        let path = JsonPath::parse(src).expect("the path parses");
        assert!(path.select(&doc).is_some(), "{src} selects something");
        group.bench_function(BenchmarkId::new("select", src), |b| {
            b.iter(|| path.select(std::hint::black_box(&doc)).map(|v| v.is_null()))
        });
    }
    let result_path = JsonPath::parse("$.result.total").expect("the path parses");
    group.bench_function(BenchmarkId::new("assign", "$.result.total"), |b| {
        b.iter_batched(
            || doc.clone(),
            |target| result_path.assign(target, json!(42)),
            criterion::BatchSize::SmallInput,
        )
    });
    group.bench_function(
        BenchmarkId::new("parse", "$.items[?(@.qty > 15)].sku"),
        |b| b.iter(|| JsonPath::parse(std::hint::black_box("$.items[?(@.qty > 15)].sku"))),
    );
    group.finish();
}

fn intrinsics(c: &mut Criterion) {
    let doc = document();
    let variables = Map::new();
    let context = LazyContext::ready(json!({"Execution": {"Id": "bench"}}));
    let scope = Scope {
        input: &doc,
        context: &context,
        variables: &variables,
    };
    let mut group = c.benchmark_group("intrinsic");
    for src in [
        "States.Format('{} {} <{}>', $.customer.name.first, $.customer.name.last, $.customer.email)",
        "States.JsonToString($.customer)",
        "States.StringToJson('{\"a\":[1,2,3],\"b\":{\"c\":true}}')",
        "States.ArrayContains($.tags, 'c')",
        "States.ArrayLength($.items)",
        "States.MathAdd($.items[3].qty, 5)",
        "States.Hash($.orderId, 'SHA-256')",
        "States.Array($.orderId, $.tags, 3)",
    ] {
        let call = Intrinsic::parse(src).expect("the call parses");
        call.eval(&scope).expect("the call evaluates");
        let name = src.split('(').next().unwrap_or(src);
        group.bench_function(name, |b| b.iter(|| call.eval(std::hint::black_box(&scope))));
    }
    group.finish();

    let template = Template::parse(&json!({
        "id.$": "$.orderId",
        "first.$": "$.customer.name.first",
        "count.$": "States.ArrayLength($.items)",
        "const": {"a": 1, "b": [1, 2, 3]},
        "skus.$": "$.items[*].sku",
    }))
    .expect("the template parses");
    c.bench_function("template/Parameters with 5 fields", |b| {
        b.iter(|| template.eval(std::hint::black_box(&scope)))
    });
}

fn executions(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let engine = Engine::new(Arc::new(NoTasks));
    let pass = asl::parse(&json!({
        "StartAt": "P",
        "States": {"P": {
            "Type": "Pass",
            "Parameters": {"who.$": "$.customer.name.first", "n": 1},
            "ResultPath": "$.greeting",
            "End": true
        }}
    }))
    .expect("the machine is valid");
    let mut machines = vec![("pass-1-state", pass, document())];
    // W1 (10 Pass states) and W4pass (one Pass over W4's 9 KB input) of
    // ../shared/bench, when it is there.
    for (name, workload) in [("w1-10-pass", "w1"), ("w4pass-9KB-input", "w4pass")] {
        let read = |part: &str| {
            std::fs::read_to_string(format!(
                "{}/../../shared/bench/workloads/{workload}.{part}.json",
                env!("CARGO_MANIFEST_DIR")
            ))
            .ok()
        };
        let input = read("input").and_then(|t| serde_json::from_str::<Value>(&t).ok());
        if let (Some(text), Some(input)) = (read("asl"), input) {
            let machine = asl::parse_text(&text).expect("the workload is valid");
            machines.push((name, machine, input));
        }
    }
    let mut group = c.benchmark_group("execution");
    for (name, machine, input) in &machines {
        for history in [false, true] {
            let request = ExecutionRequest {
                name: Some("bench".into()),
                state_machine_name: (*name).into(),
                input: input.clone(),
                kind: ExecutionType::Express,
                record_history: history,
                durable: None,
            };
            let done = rt.block_on(engine.execute(machine, request.clone()));
            assert_eq!(done.status, Status::Succeeded, "{name}: {:?}", done.cause);
            let id = if history {
                "with-history"
            } else {
                "no-history"
            };
            // The copy of the request is the caller's, not the execution's.
            group.bench_function(BenchmarkId::new(*name, id), |b| {
                b.iter_batched(
                    || request.clone(),
                    |request| rt.block_on(engine.execute(machine, request)),
                    BatchSize::SmallInput,
                )
            });
        }
    }
    group.finish();
}

criterion_group!(benches, paths, intrinsics, executions);
criterion_main!(benches);
