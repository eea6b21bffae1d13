//! Python: componentize-py over the staged sources, `requirements.txt` installed beside them
//! (pure-Python wheels only), and `guest-sdk/python/sandstep_adapter.py` as the world's module.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};
use serde::Deserialize;

use super::process::run_checked;
use super::{Built, TASK_WIT, split_handler, stage_sources, toolchain, top_level_modules};

const ADAPTER: &str = include_str!("../../../guest-sdk/python/sandstep_adapter.py");
const SCAN_IMPORTS: &str = include_str!("../../../guest-sdk/python/scan_imports.py");

/// The Python componentize-py embeds (its wheel carries CPython 3.14): what pip installs for.
const GUEST_PYTHON: &str = "3.14";

/// Top-level files that are never handler modules (imported at build time they would run).
fn is_tooling(module: &str) -> bool {
    matches!(module, "setup" | "conftest" | "noxfile" | "fabfile")
        || module.starts_with("test_")
        || module.ends_with("_test")
}

/// `handler.handler` when `handler.py` exists, else Lambda's console default
/// `lambda_function.lambda_handler`, else the only module's `handler`.
pub(crate) fn default_handler(root: &Path, modules: &[String]) -> anyhow::Result<String> {
    if root.join("handler.py").is_file() {
        return Ok("handler.handler".into());
    }
    if root.join("lambda_function.py").is_file() {
        return Ok("lambda_function.lambda_handler".into());
    }
    match modules {
        [only] => Ok(format!("{only}.handler")),
        _ => bail!(
            "{} has no handler.py or lambda_function.py and {} modules ({}); name the handler \
             with --handler MODULE.FUNCTION",
            root.display(),
            modules.len(),
            modules.join(", ")
        ),
    }
}

#[derive(Deserialize)]
struct Scan {
    modules: Vec<String>,
    imports: Vec<String>,
    problems: Vec<String>,
}

pub(crate) fn build(
    source: &Path,
    handler: Option<&str>,
    stage: &Path,
    output: &Path,
    notify: &mut dyn FnMut(&str),
) -> anyhow::Result<Built> {
    let toolchain = toolchain::python(notify)?;
    let src = stage.join("src");
    stage_sources(source, &src)?;
    let modules: Vec<String> = top_level_modules(&src, &["py"])?
        .into_iter()
        .filter(|m| !is_tooling(m))
        .collect();
    let handler = match handler {
        Some(spec) => spec.to_owned(),
        None if source.is_file() => {
            let stem = source
                .file_stem()
                .and_then(|s| s.to_str())
                .with_context(|| format!("{} has no usable file name", source.display()))?;
            format!("{stem}.handler")
        }
        None => default_handler(&src, &modules)?,
    };
    let (handler_module, _) = split_handler(&handler)?;

    let mut python_path = vec![stage.join("adapter"), src.clone()];
    let requirements = src.join("requirements.txt");
    if requirements.is_file() {
        let deps = stage.join("deps");
        run_checked(
            Command::new(toolchain.python())
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--no-compile",
                    "--only-binary=:all:",
                    "--platform",
                    "any",
                    "--implementation",
                    "py",
                    "--python-version",
                    GUEST_PYTHON,
                    "--target",
                ])
                .arg(&deps)
                .arg("-r")
                .arg(&requirements),
            &format!(
                "installing {} for the sandbox",
                source.join("requirements.txt").display()
            ),
            "only pure-Python packages (wheels tagged py3-none-any) can run in the sandbox: a \
             package with native code, or without a wheel, cannot be bundled",
        )?;
        python_path.push(deps);
    }

    let mut wanted = modules.clone();
    if !wanted.iter().any(|m| m == handler_module) {
        wanted.push(handler_module.to_owned());
    }
    let scan = scan_imports(&toolchain, stage, &src, &wanted)?;
    if !scan.problems.is_empty() {
        bail!(
            "the handler's sources do not parse:\n  {}",
            scan.problems.join("\n  ")
        );
    }

    let adapter = stage.join("adapter");
    std::fs::create_dir_all(&adapter).context("creating the adapter's directory")?;
    std::fs::write(adapter.join("sandstep_adapter.py"), ADAPTER).context("writing the adapter")?;
    std::fs::write(
        adapter.join("sandstep_build.py"),
        build_module(&handler, &scan.modules, &scan.imports)?,
    )
    .context("writing the adapter's settings")?;
    let wit = stage.join("wit");
    std::fs::create_dir_all(&wit).context("creating the WIT directory")?;
    std::fs::write(wit.join("task.wit"), TASK_WIT).context("writing the WIT")?;

    let mut command = Command::new(toolchain.componentize_py());
    command
        .arg("-d")
        .arg(&wit)
        .args(["-w", "task", "componentize", "sandstep_adapter"]);
    for dir in &python_path {
        command.arg("-p").arg(dir);
    }
    command.arg("-o").arg(output);
    run_checked(
        &mut command,
        &format!("componentize-py building {}", source.display()),
        "the traceback above is from importing the handler at build time: a module that cannot \
         run in WebAssembly (native code, threads, subprocesses) fails there",
    )?;
    Ok(Built {
        handler,
        modules: scan.modules,
    })
}

fn scan_imports(
    toolchain: &toolchain::PythonToolchain,
    stage: &Path,
    root: &Path,
    modules: &[String],
) -> anyhow::Result<Scan> {
    let script = stage.join("scan_imports.py");
    std::fs::write(&script, SCAN_IMPORTS).context("writing the import scanner")?;
    let output = run_checked(
        Command::new(toolchain.python())
            .arg(&script)
            .arg(root)
            .args(modules),
        "listing what the handler imports",
        "this is a bug in Sandstep's build: please report it",
    )?;
    serde_json::from_slice(&output.stdout).context("reading the import scanner's answer")
}

/// `sandstep_build.py`: the handler and what to import at build time, as Python literals
/// (JSON strings and lists are valid Python).
fn build_module(handler: &str, modules: &[String], imports: &[String]) -> anyhow::Result<String> {
    Ok(format!(
        "# Written by `host task build`: what sandstep_adapter imports and calls.\n\
         HANDLER = {}\nMODULES = {}\nIMPORTS = {}\n",
        serde_json::to_string(handler)?,
        serde_json::to_string(modules)?,
        serde_json::to_string(imports)?,
    ))
}
