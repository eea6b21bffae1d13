//! What one Task call costs: a fresh store and instance of a small
//! component, 1 KB of JSON in and out, through the engine's `TaskRunner`
//! door. Compares the pooling and on-demand allocators, against the cost of
//! the JSON round trip alone, measured in the same run.
//!
//! Run with `cargo bench -p sandstep-host --bench invoke`. It builds the
//! `echo` guest of tests/guests first (needs the wasm32-wasip2 target).

use std::path::{Path, PathBuf};
use std::process::Command;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

use sandstep_host::engine::{TaskCall, TaskRunner};
use sandstep_host::resources::{Manifest, WasmTasks};
use sandstep_host::sandbox::{CacheSetting, Sandbox, SandboxConfig};

fn echo_component() -> PathBuf {
    let guests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/guests");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--quiet",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-p",
            "echo",
        ])
        .current_dir(&guests)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo in {}: {e}", guests.display()));
    assert!(
        status.success(),
        "building the echo guest failed (is the target installed? `rustup target add wasm32-wasip2`)"
    );
    guests.join("target/wasm32-wasip2/release/echo.wasm")
}

/// About 1 KB of compact JSON.
fn input() -> Value {
    let items: Vec<Value> = (0..20)
        .map(|i| json!({"sku": format!("SKU-{i:05}"), "qty": i, "price": 9.99 + f64::from(i)}))
        .collect();
    json!({"orderId": "8f14e45f-ceea-467f-a2c4-0c1d2b3e4f5a", "customer": "ada@example.com", "items": items})
}

fn bench(c: &mut Criterion) {
    let component = echo_component();
    let input = input();
    let size = serde_json::to_string(&input).expect("serializes").len();
    assert!((900..=1200).contains(&size), "input is {size} bytes");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let manifest = Manifest::parse(
        &format!(
            "[tasks.echo]\ncomponent = {:?}\n",
            component.display().to_string()
        ),
        Path::new("bench/sandstep.toml"),
    )
    .expect("manifest");

    let mut group = c.benchmark_group("invoke");
    for pooling in [true, false] {
        let sandbox = Sandbox::new(&SandboxConfig {
            pooling,
            cache: CacheSetting::Disabled,
            ..SandboxConfig::default()
        })
        .expect("sandbox");
        let tasks = WasmTasks::load(&manifest, &sandbox).expect("tasks");
        let id = format!("{:?}", sandbox.allocator()).to_lowercase();
        let call = || TaskCall {
            resource: "wasm:echo",
            input: &input,
            execution_id: "bench",
            state_name: "Echo",
            retry_count: 0,
            timeout: None,
        };
        let out = rt
            .block_on(tasks.invoke(call()))
            .result
            .expect("echo works");
        assert_eq!(out, input);
        group.bench_function(BenchmarkId::new("echo-1KB", id), |b| {
            b.iter(|| rt.block_on(tasks.invoke(call())))
        });
    }
    // The baseline: the JSON work alone (serialize the input, parse the output).
    group.bench_function(BenchmarkId::new("json-round-trip-only", "baseline"), |b| {
        b.iter(|| {
            let text = serde_json::to_string(&input).expect("serializes");
            serde_json::from_str::<Value>(&text).expect("parses")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
