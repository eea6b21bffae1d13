//! How long a small task of one tenant takes while another tenant keeps
//! 100 CPU-bound guests (infinite loops) queued and running: the latency of
//! an `echo` call, idle and beside the loops, with the busy tenant capped
//! at 8 running calls (the declared default), at 2, and with no tenants at
//! all (everything in the unlimited default tenant, bounded only by the
//! sandbox's 64 instance slots). Prints figures; asserts nothing about time.
//!
//! Run with `cargo bench -p sandstep-host --bench scheduling`. It builds the
//! `echo` and `infinite-loop` guests of tests/guests first.

#[path = "common/mod.rs"]
mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use sandstep_host::engine::{TaskCall, TaskRunner};
use sandstep_host::resources::{Manifest, WasmTasks};
use sandstep_host::sandbox::{CacheSetting, Sandbox, SandboxConfig};

use common::{build_components, load_average, ms, summarize};

const LOOPS: usize = 100;
/// Each loop's deadline: long enough that every sample below runs beside them.
const LOOP_SECONDS: f64 = 2.0;
const SAMPLES: usize = 40;

fn main() {
    let built = build_components("tests/guests", &["echo", "infinite-loop"]);
    let (echo, spin) = (&built[0], &built[1]);
    let config = SandboxConfig {
        cache: CacheSetting::Disabled,
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::new(&config).expect("the sandbox starts");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "scheduling: small `echo` call of tenant \"quiet\" beside {LOOPS} infinite loops of tenant \"busy\" \
         ({LOOP_SECONDS} s deadline each); time slice {} fuel; {cores} cores; load average {}",
        config.slice_fuel,
        load_average()
    );
    println!(
        "{:<44} {:>4} {:>12} {:>12} {:>12}",
        "scenario", "n", "p50", "p95", "max"
    );
    let scenarios: [(&str, Option<u32>); 4] = [
        ("idle (no loops)", Some(8)),
        ("busy tenant capped at 8 (default)", Some(8)),
        ("busy tenant capped at 2", Some(2)),
        ("no tenants (one unlimited default tenant)", None),
    ];
    for (i, (name, cap)) in scenarios.into_iter().enumerate() {
        let runner = Arc::new(tasks(&sandbox, echo, spin, cap));
        // Spawned, so the echo calls compete for the same worker threads
        // as the loops instead of running on the blocked-on thread.
        let samples = runtime
            .block_on(runtime.spawn(measure(runner, i > 0)))
            .expect("the measuring task joins");
        let s = summarize(&samples);
        println!(
            "{name:<44} {:>4} {:>12} {:>12} {:>12}",
            s.n,
            ms(s.p50),
            ms(s.p95),
            ms(s.max)
        );
    }
}

fn tasks(sandbox: &Sandbox, echo: &Path, spin: &Path, cap: Option<u32>) -> WasmTasks {
    let (tenants, busy, quiet) = match cap {
        Some(n) => (
            format!("[tenants.busy]\nmax_concurrent_tasks = {n}\n[tenants.quiet]\n"),
            "tenant = \"busy\"\n",
            "tenant = \"quiet\"\n",
        ),
        None => (String::new(), "", ""),
    };
    let text = format!(
        "{tenants}[tasks.spin]\ncomponent = {spin:?}\ntimeout_seconds = {LOOP_SECONDS}\n{busy}\
         [tasks.echo]\ncomponent = {echo:?}\n{quiet}",
        spin = spin.display().to_string(),
        echo = echo.display().to_string(),
    );
    let manifest = Manifest::parse(&text, Path::new("bench/sandstep.toml")).expect("valid");
    WasmTasks::load(&manifest, sandbox).expect("the guests load")
}

/// Echo latencies, beside the loops when `busy`; sampling stops when the
/// loops end (the no-tenant case can only take a few samples while they run).
async fn measure(runner: Arc<WasmTasks>, busy: bool) -> Vec<Duration> {
    let input = json!({"order": 7, "lines": ["a", "b", "c"]});
    let mut spins = Vec::new();
    if busy {
        for i in 0..LOOPS {
            let runner = runner.clone();
            spins.push(tokio::spawn(async move {
                let input = json!({});
                let execution = format!("busy-{i}");
                runner
                    .invoke(TaskCall {
                        resource: "wasm:spin",
                        input: &input,
                        execution_id: &execution,
                        state_name: "Spin",
                        attempt: "",
                        retry_count: 0,
                        timeout: None,
                        concurrent: true,
                        payload_limit: sandstep_host::engine::DEFAULT_PAYLOAD_LIMIT,
                    })
                    .await
            }));
        }
        // Let the loops get going before the first sample.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut samples = Vec::new();
    for i in 0..SAMPLES {
        if busy && spins.iter().all(|s| s.is_finished()) {
            break;
        }
        let execution = format!("quiet-{i}");
        let started = Instant::now();
        let outcome = runner
            .invoke(TaskCall {
                resource: "wasm:echo",
                input: &input,
                execution_id: &execution,
                state_name: "Echo",
                attempt: "",
                retry_count: 0,
                timeout: None,
                concurrent: true,
                payload_limit: sandstep_host::engine::DEFAULT_PAYLOAD_LIMIT,
            })
            .await;
        samples.push(started.elapsed());
        assert_eq!(outcome.result.as_ref(), Ok(&input), "echo echoes");
        // Space the samples across the loops' lifetime.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for spin in spins {
        let _ = spin.await;
    }
    samples
}
