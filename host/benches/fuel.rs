//! What fuel metering costs: the example tasks `filter`, `dedupe` and
//! `enrich` on realistic inputs, each call timed in a sandbox compiled with
//! fuel metering (the default) and in one compiled without
//! ([`SandboxConfig::consume_fuel`] off: only the deadline bounds CPU, and
//! epoch interruption, which fuel replaces when it is on, ends the time
//! slices), alternating call by call so load on the machine hits both alike.
//! The difference is what fuel's checks cost over epochs'.
//! Prints the median per call and the overhead; asserts nothing about time.
//!
//! Run with `cargo bench -p sandstep-host --bench fuel`. It builds the
//! example tasks first (example-tasks/, wasm32-wasip2, release).

#[path = "common/mod.rs"]
mod common;

use serde_json::{Value, json};

use sandstep_host::engine::TaskCall;
use sandstep_host::resources::{Manifest, WasmTasks};
use sandstep_host::sandbox::{CacheSetting, Sandbox, SandboxConfig};

use common::{build_components, load_average, ms, summarize};

const ROUNDS: usize = 30;
const ROWS: usize = 20_000;
const RECORDS: usize = 1_000;
const EXECUTION: &str = "arn:aws:states:local:000000000000:execution:bench:run-1";

fn main() {
    let built = build_components("example-tasks", &["filter", "dedupe", "enrich"]);
    let data = tempfile::tempdir().expect("a temp dir");
    etl_datagen::generate(
        data.path(),
        &etl_datagen::Config {
            rows: ROWS,
            customers: 2_000,
            ..etl_datagen::Config::default()
        },
    )
    .expect("sample data");
    let d = |sub: &str| data.path().join(sub).display().to_string();
    let manifest = format!(
        r#"
        [tasks.filter]
        component = {filter:?}
        [tasks.dedupe]
        component = {dedupe:?}
        dirs = [{{ guest = "/input", host = {input:?} }}, {{ guest = "/work", host = {work:?}, mode = "rw" }}]
        [tasks.enrich]
        component = {enrich:?}
        dirs = [{{ guest = "/ref", host = {reference:?} }}, {{ guest = "/work", host = {work:?}, mode = "rw" }}]
        "#,
        filter = built[0].display().to_string(),
        dedupe = built[1].display().to_string(),
        enrich = built[2].display().to_string(),
        input = d("input"),
        work = d("work"),
        reference = d("reference"),
    );
    let manifest =
        Manifest::parse(&manifest, &data.path().join("sandstep.toml")).expect("valid manifest");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let load = |consume_fuel| {
        let sandbox = Sandbox::new(&SandboxConfig {
            cache: CacheSetting::Disabled,
            consume_fuel,
            ..SandboxConfig::default()
        })
        .expect("the sandbox starts");
        WasmTasks::load(&manifest, &sandbox).expect("the tasks load")
    };
    let (metered, unmetered) = (load(true), load(false));

    let records: Vec<Value> = (0..RECORDS)
        .map(|i| {
            json!({"id": i, "name": format!("record-{i}"), "active": i % 3 != 0, "score": (i * 37) % 100})
        })
        .collect();
    let cases = [
        (
            "filter",
            format!("{RECORDS} JSON records"),
            json!({ "records": records }),
        ),
        (
            "dedupe",
            format!("{ROWS}-row CSV"),
            json!({"file": "/input/transactions.csv", "output_dir": "/work"}),
        ),
        (
            "enrich",
            "dedupe's output + 2,000 customers".to_owned(),
            json!({"file": "/work/deduped-run-1.csv", "customers": "/ref/customers.csv", "output_dir": "/work"}),
        ),
    ];
    println!(
        "fuel metering overhead: median of {ROUNDS} calls each, metered and unmetered alternating; load average {}",
        load_average()
    );
    println!(
        "{:<8} {:<34} {:>12} {:>12} {:>9} {:>16}",
        "task", "input", "metered", "unmetered", "overhead", "fuel per call"
    );
    for (task, what, input) in &cases {
        let resource = format!("wasm:{task}");
        let call = TaskCall {
            resource: &resource,
            input,
            execution_id: EXECUTION,
            state_name: task,
            attempt: "",
            retry_count: 0,
            timeout: None,
            concurrent: false,
            payload_limit: sandstep_host::engine::DEFAULT_PAYLOAD_LIMIT,
        };
        let mut with = Vec::new();
        let mut without = Vec::new();
        let mut fuel = None;
        runtime.block_on(async {
            // One warm-up call each (page faults, lazy init).
            for runner in [&metered, &unmetered] {
                let outcome = runner.run(&call).await;
                if let Err(e) = &outcome.result {
                    panic!("{task} failed: {e}");
                }
            }
            for _ in 0..ROUNDS {
                let outcome = metered.run(&call).await;
                with.push(outcome.elapsed);
                fuel = outcome.fuel_consumed;
                without.push(unmetered.run(&call).await.elapsed);
            }
        });
        let (a, b) = (summarize(&with).p50, summarize(&without).p50);
        let overhead = a.as_secs_f64() / b.as_secs_f64().max(f64::EPSILON) - 1.0;
        println!(
            "{task:<8} {what:<34} {:>12} {:>12} {:>8.1}% {:>16}",
            ms(a),
            ms(b),
            overhead * 100.0,
            fuel.map_or_else(|| "-".into(), |f| f.to_string())
        );
    }
}
