//! What the benchmarks share: building guest components with a nested
//! cargo, as `tests/build.rs` does, and summarising samples.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Builds `packages` of the cargo workspace `dir` (relative to the
/// repository root) for wasm32-wasip2 in release and returns each
/// component's path, in the order given.
pub fn build_components(dir: &str, packages: &[&str]) -> Vec<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir);
    let mut args = vec!["build", "--quiet", "--release", "--target", "wasm32-wasip2"];
    for package in packages {
        args.extend(["-p", package]);
    }
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(&args)
        .current_dir(&workspace)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo in {}: {e}", workspace.display()));
    assert!(
        status.success(),
        "building {packages:?} in {dir} failed (is the target installed? `rustup target add wasm32-wasip2`)"
    );
    packages
        .iter()
        .map(|p| {
            workspace
                .join("target/wasm32-wasip2/release")
                .join(format!("{}.wasm", p.replace('-', "_")))
        })
        .collect()
}

/// Median, 95th percentile and largest of `samples`.
#[allow(dead_code, reason = "each benchmark prints the figures it needs")]
pub struct Summary {
    pub n: usize,
    pub p50: Duration,
    pub p95: Duration,
    pub max: Duration,
}

pub fn summarize(samples: &[Duration]) -> Summary {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    Summary {
        n: sorted.len(),
        p50: at(0.5),
        p95: at(0.95),
        max: sorted[sorted.len() - 1],
    }
}

/// `12.345 ms`.
pub fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// The load average over the last minute, as `uptime` shows it.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}
