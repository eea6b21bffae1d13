//! Throughput of durable executions: W1 (10 Pass states) with 64 executions
//! in flight, through `Executions` over each store, beside the engine alone.
//!
//! `cargo bench -p sandstep-host --bench durable [-- N]` prints, per store,
//! executions/s and state transitions/s. Each execution records 22 history
//! events; a Standard execution on SQLite commits its creation, and its
//! events with its final status, through the group-commit writer.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use sandstep_host::engine::{Engine, ExecutionRequest, NoTasks, Status};
use sandstep_host::executions::{Executions, RunOptions, Start};
use sandstep_host::store::{MemoryStore, SqliteStore, Store, Synchronous};
use serde_json::Value;

/// Override with `SANDSTEP_IN_FLIGHT`.
const IN_FLIGHT: usize = 64;

fn workloads() -> PathBuf {
    let shared = std::env::var_os("SANDSTEP_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    shared.join("bench/workloads")
}

fn in_flight() -> usize {
    std::env::var("SANDSTEP_IN_FLIGHT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(IN_FLIGHT)
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(5_000);
    let dir = workloads();
    let definition = std::fs::read_to_string(dir.join("w1.asl.json")).expect("W1's definition");
    let input: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("w1.input.json")).expect("W1's input"),
    )
    .expect("W1's input is JSON");
    let machine = sandstep_host::asl::parse_text(&definition).expect("W1 is valid");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let transitions_per_execution = 10.0;
    let report = |what: &str, seconds: f64| {
        let per_second = n as f64 / seconds;
        println!(
            "{what:<34} {per_second:>10.0} executions/s {:>10.0} transitions/s",
            per_second * transitions_per_execution
        );
        per_second
    };
    println!("W1, {n} executions, {} in flight", in_flight());

    // The engine alone, nothing recorded: the ceiling.
    let engine = Engine::new(Arc::new(NoTasks));
    let started = Instant::now();
    runtime.block_on(async {
        futures::stream::iter(0..n)
            .map(|_| {
                let mut request = ExecutionRequest::new("w1", input.clone());
                request.record_history = false;
                engine.execute(&machine, request)
            })
            .buffer_unordered(in_flight())
            .for_each(|e| {
                assert_eq!(e.status, Status::Succeeded);
                async {}
            })
            .await;
    });
    report("engine alone (no history)", started.elapsed().as_secs_f64());

    // The same, keeping the history in memory: what rendering events costs.
    let started = Instant::now();
    runtime.block_on(async {
        futures::stream::iter(0..n)
            .map(|_| engine.execute(&machine, ExecutionRequest::new("w1", input.clone())))
            .buffer_unordered(in_flight())
            .for_each(|e| {
                assert_eq!(e.history.len(), 22);
                async {}
            })
            .await;
    });
    report(
        "engine alone, history in memory",
        started.elapsed().as_secs_f64(),
    );

    let temp = tempfile::tempdir().expect("a temporary directory");
    let stores: Vec<(&str, Arc<dyn Store>)> = vec![
        ("Express: in memory", Arc::new(MemoryStore::new())),
        (
            "Standard: SQLite, synchronous=NORMAL",
            Arc::new(
                SqliteStore::open_with(temp.path().join("normal.db"), Synchronous::Normal)
                    .expect("a database"),
            ),
        ),
        (
            "Standard: SQLite, synchronous=FULL",
            Arc::new(
                SqliteStore::open_with(temp.path().join("full.db"), Synchronous::Full)
                    .expect("a database"),
            ),
        ),
    ];
    let mut express = None;
    for (what, store) in stores {
        let executions = Executions::with_store(store, temp.path()).expect("executions");
        let started = Instant::now();
        runtime.block_on(async {
            futures::stream::iter(0..n)
                .map(|_| {
                    let start = Start {
                        machine: &machine,
                        definition: &definition,
                        state_machine_name: "w1",
                        manifest: None,
                        name: None,
                        input: input.clone(),
                        options: RunOptions::default(),
                    };
                    executions.start(start, Arc::new(NoTasks))
                })
                .buffer_unordered(in_flight())
                .for_each(|e| {
                    assert_eq!(e.expect("the execution runs").status, Status::Succeeded);
                    async {}
                })
                .await;
        });
        let rate = report(what, started.elapsed().as_secs_f64());
        match express {
            None => express = Some(rate),
            Some(express) => println!("{:<34} {:>10.2} of Express", "", rate / express),
        }
    }
}
