//! `host bench`: N executions of a pipeline in one process, with latency
//! quantiles, throughput and peak memory, to size pipelines and compare runs.
//! They run as Express executions, in memory: no history cap, and at most
//! 5 minutes each, as on AWS.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use serde_json::{Value, json};

use super::pipeline;
use crate::asl::MachineType;
use crate::engine::{Engine, Execution, ExecutionRequest, ExecutionType, Status};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The pipeline: an ASL state machine definition (JSON).
    pipeline: PathBuf,
    /// The execution input as a JSON file. Default: `{}`.
    #[arg(long, short)]
    input: Option<PathBuf>,
    /// The task manifest. Default: `sandstep.toml` beside the pipeline.
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// How many executions to time.
    #[arg(short = 'n', default_value_t = 1000)]
    count: usize,
    /// Executions run first and not timed, which fault in code and caches.
    /// `0` times a cold process; its peak memory is then the timed runs' alone.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// How many executions are in flight at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Record full histories, as `host run --history` does.
    #[arg(long)]
    history: bool,
    /// The output every execution must produce (a JSON file); an execution
    /// whose output differs counts as failed, and the first difference is shown.
    #[arg(long, value_name = "FILE")]
    expect: Option<PathBuf>,
    /// The largest state input or output, in bytes of compact JSON, before
    /// `States.DataLimitExceeded` (AWS's quota: 262144); raise it for scale runs.
    #[arg(long, value_name = "BYTES", default_value_t = crate::engine::DEFAULT_PAYLOAD_LIMIT)]
    payload_limit: usize,
    /// Print the figures as one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let pipeline = match pipeline::load(&args.pipeline, MachineType::Standard)? {
        Ok(pipeline) => pipeline,
        Err(problems) => {
            super::validate::print_problems(&args.pipeline, &problems);
            return Ok(ExitCode::from(1));
        }
    };
    let input = super::run::read_input(args.input.as_deref())?;
    let expected = match &args.expect {
        Some(path) => Some(Arc::new(super::run::read_input(Some(path)).with_context(
            || format!("reading the expected output {}", path.display()),
        )?)),
        None => None,
    };
    let tasks = pipeline::task_runner(&pipeline, args.manifest.as_deref())?;
    let engine = Arc::new(Engine::new(tasks).with_payload_limit(args.payload_limit));
    let machine = Arc::new(pipeline.machine);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let request = Arc::new(ExecutionRequest {
        name: None,
        state_machine_name: pipeline.name.clone(),
        input,
        kind: ExecutionType::Express,
        record_history: args.history,
        durable: None,
    });
    let count = args.count.max(1);
    let concurrency = args.concurrency.clamp(1, count);

    for _ in 0..args.warmup {
        let warm = runtime.block_on(engine.execute(&machine, ExecutionRequest::clone(&request)));
        if let Some(why) = unexpected(&warm, expected.as_deref()) {
            anyhow::bail!("{why}");
        }
    }

    let started = Instant::now();
    let results: Vec<(Duration, u64, Option<String>)> = runtime.block_on(async {
        let per_worker = count.div_ceil(concurrency);
        let workers = (0..concurrency).map(|w| {
            let engine = Arc::clone(&engine);
            let machine = Arc::clone(&machine);
            // Shared: each execution gets its own copy, the workers none.
            let request = Arc::clone(&request);
            let expected = expected.clone();
            let n = per_worker.min(count.saturating_sub(w * per_worker));
            tokio::spawn(async move {
                let mut samples = Vec::with_capacity(n);
                for _ in 0..n {
                    // The request (a copy of the input) is the caller's, not the execution's cost.
                    let request = ExecutionRequest::clone(&request);
                    let t = Instant::now();
                    let execution = engine.execute(&machine, request).await;
                    let elapsed = t.elapsed();
                    // Checked outside the timed window.
                    samples.push((
                        elapsed,
                        execution.state_transitions,
                        unexpected(&execution, expected.as_deref()),
                    ));
                }
                samples
            })
        });
        let mut all = Vec::with_capacity(count);
        for worker in futures::future::join_all(workers).await {
            all.extend(worker.unwrap_or_default());
        }
        all
    });
    let elapsed = started.elapsed();

    let mut latencies: Vec<Duration> = results.iter().map(|r| r.0).collect();
    latencies.sort_unstable();
    let transitions: u64 = results.iter().map(|r| r.1).sum();
    let failed = results.iter().filter(|r| r.2.is_some()).count();
    let quantile = |q: f64| {
        let index = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies.get(index).copied().unwrap_or_default()
    };
    let seconds = elapsed.as_secs_f64().max(f64::EPSILON);
    let figures = json!({
        "pipeline": args.pipeline.display().to_string(),
        "executions": results.len(),
        "failed": failed,
        "concurrency": concurrency,
        "median_us": micros(quantile(0.5)),
        "p90_us": micros(quantile(0.9)),
        "p99_us": micros(quantile(0.99)),
        "executions_per_s": results.len() as f64 / seconds,
        "transitions_per_s": transitions as f64 / seconds,
        "peak_rss_mib": peak_rss_mib(),
    });
    if args.json {
        println!("{figures}");
    } else {
        print_table(&figures);
    }
    if let Some(why) = results.iter().find_map(|r| r.2.as_deref()) {
        eprintln!(
            "host bench: {failed} executions failed or differed; the first: {}",
            super::escape::escaped(why)
        );
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Why `execution` does not count as a success: it failed, or its output
/// differs from `expected`.
fn unexpected(execution: &Execution, expected: Option<&Value>) -> Option<String> {
    if execution.status != Status::Succeeded {
        return Some(format!(
            "the pipeline did not succeed ({}: {})",
            execution.error.as_deref().unwrap_or_default(),
            execution.cause.as_deref().unwrap_or_default()
        ));
    }
    let got = execution.output.as_ref().unwrap_or(&Value::Null);
    match expected {
        Some(expected) if got != expected => Some(format!(
            "the output differs from the --expect file: got {}",
            clip(&got.to_string(), 400)
        )),
        _ => None,
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn clip(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn micros(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e7).round() / 10.0
}

fn print_table(figures: &Value) {
    let get = |k: &str| figures[k].as_f64().unwrap_or_default();
    println!("{}", figures["pipeline"].as_str().unwrap_or_default());
    println!(
        "  executions   {} ({} failed), {} in flight",
        figures["executions"], figures["failed"], figures["concurrency"]
    );
    println!(
        "  latency      median {:.1} µs   p90 {:.1} µs   p99 {:.1} µs",
        get("median_us"),
        get("p90_us"),
        get("p99_us")
    );
    println!(
        "  throughput   {:.0} executions/s   {:.0} state transitions/s",
        get("executions_per_s"),
        get("transitions_per_s")
    );
    match figures["peak_rss_mib"].as_f64() {
        Some(mib) => println!("  peak memory  {mib:.1} MiB"),
        None => println!("  peak memory  unknown on this platform"),
    }
}

/// The process's peak resident set (`VmHWM`), where the OS tells it.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
