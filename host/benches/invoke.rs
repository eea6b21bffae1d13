//! What one Task call costs: a fresh store and instance of a small
//! component, JSON in and out, through the engine's `TaskRunner` door.
//! Compares the pooling and on-demand allocators, fuel metering on and off,
//! 1 KB and 100 KB payloads (the `echo` guest returns its input), W4's
//! filter task on W4's input, the fixed cost of a call (`echo-empty`), the
//! cost of the host's JSON round trip alone, and a native scan of W4's input,
//! all measured in the same run.
//!
//! Run with `cargo bench -p sandstep-host --bench invoke`. It builds the
//! `echo` guest of tests/guests and the `filter` example task first (needs
//! the wasm32-wasip2 target).

// As in the `host` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[allow(dead_code, reason = "this bench uses only the component builder")]
mod common;

use std::path::Path;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

use sandstep_host::engine::{TaskCall, TaskRunner};
use sandstep_host::resources::{Manifest, WasmTasks};
use sandstep_host::sandbox::{CacheSetting, Sandbox, SandboxConfig};

/// About `n` × 50 bytes of compact JSON.
fn input(n: u32) -> Value {
    let items: Vec<Value> = (0..n)
        .map(|i| json!({"sku": format!("SKU-{i:05}"), "qty": i, "price": 9.99 + f64::from(i)}))
        .collect();
    json!({"orderId": "8f14e45f-ceea-467f-a2c4-0c1d2b3e4f5a", "customer": "ada@example.com", "items": items})
}

fn bench(c: &mut Criterion) {
    let echo = common::build_components("tests/guests", &["echo"]).remove(0);
    let filter = common::build_components("example-tasks", &["filter"]).remove(0);
    let inputs = [("1KB", input(20)), ("100KB", input(2000))];
    for (label, input) in &inputs {
        let size = serde_json::to_string(input).expect("serializes").len();
        let want = if *label == "1KB" { 1000 } else { 100_000 };
        assert!(
            (want * 9 / 10..=want * 12 / 10).contains(&size),
            "{label} input is {size} bytes"
        );
    }
    let w4_input: Option<Value> = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/bench/workloads/w4.input.json"
    ))
    .ok()
    .and_then(|t| serde_json::from_str(&t).ok());
    let w4_result: Option<Value> = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/bench/workloads/w4.expected.json"
    ))
    .ok()
    .and_then(|t| serde_json::from_str(&t).ok());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let manifest = Manifest::parse(
        &format!(
            "[tasks.echo]\ncomponent = {:?}\n[tasks.filter]\ncomponent = {:?}\n",
            echo.display().to_string(),
            filter.display().to_string()
        ),
        Path::new("bench/sandstep.toml"),
    )
    .expect("manifest");

    let mut group = c.benchmark_group("invoke");
    for (pooling, fuel) in [(true, true), (true, false), (false, true)] {
        let sandbox = Sandbox::new(&SandboxConfig {
            pooling,
            consume_fuel: fuel,
            cache: CacheSetting::Disabled,
            ..SandboxConfig::default()
        })
        .expect("sandbox");
        let tasks = WasmTasks::load(&manifest, &sandbox).expect("tasks");
        let id = format!(
            "{}-{}",
            format!("{:?}", sandbox.allocator()).to_lowercase(),
            if fuel { "fuel" } else { "nofuel" }
        );
        let call = |resource, input| TaskCall {
            resource,
            input,
            execution_id: "bench",
            state_name: "Echo",
            attempt: "",
            retry_count: 0,
            timeout: None,
            concurrent: false,
            payload_limit: sandstep_host::engine::DEFAULT_PAYLOAD_LIMIT,
        };
        for (label, input) in &inputs {
            if *label != "1KB" && !pooling {
                continue;
            }
            let out = rt
                .block_on(tasks.invoke(call("wasm:echo", input)))
                .result
                .expect("echo works");
            assert_eq!(&out, input);
            group.bench_function(BenchmarkId::new(format!("echo-{label}"), &id), |b| {
                b.iter(|| rt.block_on(tasks.invoke(call("wasm:echo", input))))
            });
        }
        // The fixed cost of a call: a fresh store and instance, a log line, `{}` in and out.
        let empty = json!({});
        group.bench_function(BenchmarkId::new("echo-empty", &id), |b| {
            b.iter(|| rt.block_on(tasks.invoke(call("wasm:echo", &empty))))
        });
        if let Some(w4) = &w4_input {
            let out = rt
                .block_on(tasks.invoke(call("wasm:filter", w4)))
                .result
                .expect("filter works");
            assert!(out["count"].is_u64(), "filter returns a count: {out}");
            group.bench_function(BenchmarkId::new("filter-w4", &id), |b| {
                b.iter(|| rt.block_on(tasks.invoke(call("wasm:filter", w4))))
            });
        }
    }
    // The baseline: the host's JSON work alone (serialize the input, parse the output).
    for (label, input) in &inputs {
        group.bench_function(BenchmarkId::new("json-round-trip-only", label), |b| {
            b.iter(|| {
                let text = serde_json::to_string(input).expect("serializes");
                serde_json::from_str::<Value>(&text).expect("parses")
            })
        });
    }
    // W4's share of that: its input out, the filter's result back in.
    if let (Some(w4), Some(result)) = (&w4_input, &w4_result) {
        // The least any parser of W4's input can do, natively: read it through, keeping nothing.
        let w4_text = serde_json::to_string(w4).expect("serializes");
        group.bench_function(BenchmarkId::new("json-scan-only", "w4"), |b| {
            b.iter(|| serde_json::from_str::<serde::de::IgnoredAny>(&w4_text).expect("scans"))
        });
        let result_text = serde_json::to_string(result).expect("serializes");
        group.bench_function(BenchmarkId::new("json-round-trip-only", "w4"), |b| {
            b.iter(|| {
                let text = serde_json::to_string(w4).expect("serializes");
                (
                    text,
                    serde_json::from_str::<Value>(&result_text).expect("parses"),
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
