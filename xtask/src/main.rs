//! Project chores, run as `cargo xtask <command>` (the alias is in `.cargo/config.toml`).
//!
//! - `etl [--rows N]`: builds the host and the example tasks in release, writes the ETL
//!   example's sample data if it is missing, runs `examples/etl/pipeline.json` and prints the
//!   summary.
//!
//! Plain `std::process::Command` calls with one context line per step; nothing here is needed
//! to build or test the project.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("etl") => etl(args.collect()),
        Some(other) => bail!("unknown command \"{other}\"; available: etl"),
        None => bail!("usage: cargo xtask etl [--rows N]"),
    }
}

/// The repository root: xtask lives one level below it.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ sits in the repository root")
        .to_path_buf()
}

/// The cargo that runs us, so `cargo xtask` and the builds use one toolchain.
fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn run(mut command: Command, what: &str) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot start {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

fn etl(args: Vec<String>) -> anyhow::Result<()> {
    let rows = match args.as_slice() {
        [] => None,
        [flag, n] if flag == "--rows" => Some(n.clone()),
        _ => bail!("usage: cargo xtask etl [--rows N]"),
    };
    let root = root();
    let example = root.join("examples/etl");

    // The host's target dir: wherever CARGO_TARGET_DIR points, as cargo itself decides.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    eprintln!("xtask: building the host (release)");
    let mut build = cargo();
    build
        .current_dir(&root)
        .args(["build", "--release", "-p", "sandstep-host"]);
    run(build, "building the host")?;

    eprintln!("xtask: building the example tasks (release, wasm32-wasip2)");
    check_wasm_target()?;
    let mut build = cargo();
    // example-tasks is its own workspace; the manifest names components under its own target/.
    build
        .current_dir(root.join("example-tasks"))
        .env_remove("CARGO_TARGET_DIR")
        .args(["build", "--release", "--target", "wasm32-wasip2"]);
    run(build, "building example-tasks")?;

    let data = example.join("data");
    if rows.is_some() || !data.join("injected.json").exists() {
        eprintln!("xtask: writing sample data to {}", data.display());
        let mut datagen = cargo();
        datagen
            .current_dir(&root)
            .args(["run", "--quiet", "--release", "-p", "etl-datagen", "--"]);
        if let Some(rows) = &rows {
            datagen.args(["--rows", rows]);
        }
        datagen.arg(&data).stdout(std::process::Stdio::null());
        run(datagen, "generating the sample data")?;
    }
    let injected = std::fs::read_to_string(data.join("injected.json"))
        .with_context(|| format!("reading {}", data.join("injected.json").display()))?;

    eprintln!("xtask: running examples/etl/pipeline.json");
    let host = target
        .join("release")
        .join(format!("host{}", std::env::consts::EXE_SUFFIX));
    let output = Command::new(&host)
        .current_dir(&root)
        .args([
            "run",
            "examples/etl/pipeline.json",
            "--input",
            "examples/etl/input.json",
        ])
        .output()
        .with_context(|| format!("cannot start {}", host.display()))?;
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    if !output.status.success() {
        bail!(
            "the pipeline did not succeed ({}); output:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout)
        );
    }
    println!(
        "summary:\n{}",
        String::from_utf8_lossy(&output.stdout).trim_end()
    );
    println!(
        "what the sample data holds (examples/etl/data/injected.json):\n{}",
        injected.trim_end()
    );
    Ok(())
}

/// Fails with the fix when the wasm32-wasip2 target is not installed.
fn check_wasm_target() -> anyhow::Result<()> {
    let output = Command::new("rustc")
        .args(["--print", "sysroot"])
        .current_dir(root())
        .output()
        .context("cannot run rustc to find the sysroot")?;
    let sysroot =
        String::from_utf8(output.stdout).context("rustc printed a sysroot that is not UTF-8")?;
    let lib = Path::new(sysroot.trim()).join("lib/rustlib/wasm32-wasip2");
    if !lib.exists() {
        bail!("the wasm32-wasip2 target is not installed; run `rustup target add wasm32-wasip2`");
    }
    Ok(())
}
