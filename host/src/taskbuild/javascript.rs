//! JavaScript: the staged sources and their package.json dependencies bundled by rolldown
//! into one module with `guest-sdk/js/sandstep_adapter.js`, then componentize-js
//! (SpiderMonkey) over the bundle. SpiderMonkey, not QuickJS: componentize-js runs the event
//! loop until an exported function's promise settles, which `async` handlers need; QuickJS's
//! synchronous runtime (the only one the host's engine can run) never runs the promise jobs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use super::process::{run_checked, tail};
use super::{Built, TASK_WIT, split_handler, stage_sources, toolchain, top_level_modules};

const ADAPTER: &str = include_str!("../../../guest-sdk/js/sandstep_adapter.js");
const FS_MODULE: &str = include_str!("../../../guest-sdk/js/sandstep_fs.js");
/// The WASI version the host provides (wasmtime-wasi 48) and jco 1.35's WIT describes.
const WASI_ENVIRONMENT: &str = "wasi:cli/environment@0.2.12";
const WASI_PREOPENS: &str = "wasi:filesystem/preopens@0.2.12";

/// `index.handler` (Lambda's Node.js default) when `index.js` or `index.mjs` exists, else
/// `handler.handler`, else the only module's `handler`.
pub(crate) fn default_handler(root: &Path, modules: &[String]) -> anyhow::Result<String> {
    for candidate in ["index", "handler"] {
        if modules.iter().any(|m| m == candidate) {
            return Ok(format!("{candidate}.handler"));
        }
    }
    match modules {
        [only] => Ok(format!("{only}.handler")),
        _ => bail!(
            "{} has no index.js or handler.js and {} modules ({}); name the handler with \
             --handler MODULE.FUNCTION",
            root.display(),
            modules.len(),
            modules.join(", ")
        ),
    }
}

pub(crate) fn build(
    source: &Path,
    handler: Option<&str>,
    stage: &Path,
    output: &Path,
    notify: &mut dyn FnMut(&str),
) -> anyhow::Result<Built> {
    toolchain::check_node()?;
    let toolchain = toolchain::javascript(notify)?;
    let src = stage.join("src");
    stage_sources(source, &src)?;
    let modules = top_level_modules(&src, &["js", "mjs"])?;
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
    if !modules.iter().any(|m| m == handler_module) {
        bail!(
            "the handler \"{handler}\" names the module \"{handler_module}\", but {} has no \
             {handler_module}.js or {handler_module}.mjs",
            source.display()
        );
    }

    if has_dependencies(&src)? {
        run_checked(
            Command::new("npm").current_dir(&src).args([
                "install",
                "--omit=dev",
                "--ignore-scripts",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ]),
            "installing the package.json dependencies",
            "npm's message above says why; only pure-JavaScript packages can be bundled",
        )?;
    }

    std::fs::write(src.join("__sandstep_adapter.js"), ADAPTER).context("writing the adapter")?;
    std::fs::write(src.join("__sandstep_fs.js"), FS_MODULE).context("writing @sandstep/fs")?;
    std::fs::write(
        src.join("__sandstep_entry.js"),
        entry_module(&src, &modules, &handler)?,
    )
    .context("writing the adapter's entry")?;
    let bundle = stage.join("bundle.js");
    // A config file, not flags: the WIT and WASI imports stay external by pattern.
    let config = stage.join("rolldown.config.mjs");
    std::fs::write(
        &config,
        format!(
            "export default {{\n  input: {},\n  platform: \"browser\",\n  \
             resolve: {{ alias: {{ \"@sandstep/fs\": {} }} }},\n  \
             external: [/^wasi:/, /^sandstep:/],\n  output: {{ file: {}, format: \"esm\" }},\n}};\n",
            serde_json::to_string(&src.join("__sandstep_adapter.js").to_string_lossy())?,
            serde_json::to_string(&src.join("__sandstep_fs.js").to_string_lossy())?,
            serde_json::to_string(&bundle.to_string_lossy())?,
        ),
    )
    .context("writing the bundler's configuration")?;
    let bundled = run_checked(
        Command::new(toolchain.rolldown())
            .current_dir(&src)
            .arg("--config")
            .arg(&config),
        &format!("bundling {}", source.display()),
        "rolldown's message above names the file and import it could not bundle",
    )?;
    let said = tail(&bundled);
    if said.contains("UNRESOLVED_IMPORT") || said.contains("Could not resolve") {
        bail!(
            "bundling {} left imports unresolved:\n{said}\nOnly the handler's own files and the \
             pure-JavaScript packages of its package.json can be bundled; Node's built-in \
             modules (fs, path, node:*) do not exist in the sandstep sandbox",
            source.display()
        );
    }

    let wit = write_world(&toolchain, stage)?;
    run_checked(
        Command::new(toolchain.componentize_js())
            .arg(&bundle)
            .arg("--wit")
            .arg(&wit)
            .args(["-n", "task-js", "-d", "http", "fetch-event", "-o"])
            .arg(output),
        &format!("componentize-js building {}", source.display()),
        "the error above comes from running the bundled handler's module code at build time",
    )?;
    Ok(Built { handler, modules })
}

/// Whether `package.json` lists dependencies to install.
fn has_dependencies(src: &Path) -> anyhow::Result<bool> {
    let path = src.join("package.json");
    if !path.is_file() {
        return Ok(false);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let manifest: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    Ok(manifest["dependencies"]
        .as_object()
        .is_some_and(|deps| !deps.is_empty()))
}

/// `__sandstep_entry.js`: every top-level module, the default handler, and `_HANDLER` from
/// the task's environment.
fn entry_module(src: &Path, modules: &[String], handler: &str) -> anyhow::Result<String> {
    let mut code = String::from("// Written by `host task build`.\n");
    writeln!(
        code,
        "import {{ getEnvironment }} from \"{WASI_ENVIRONMENT}\";"
    )?;
    for (i, module) in modules.iter().enumerate() {
        let file = if src.join(format!("{module}.js")).is_file() {
            format!("{module}.js")
        } else {
            format!("{module}.mjs")
        };
        let path = serde_json::to_string(&format!("./{file}"))?;
        writeln!(code, "import * as m{i} from {path};")?;
    }
    code.push_str("export const modules = {\n");
    for (i, module) in modules.iter().enumerate() {
        writeln!(code, "  {}: m{i},", serde_json::to_string(module)?)?;
    }
    code.push_str("};\n");
    writeln!(
        code,
        "export const defaultHandler = {};",
        serde_json::to_string(handler)?
    )?;
    code.push_str(
        "export function handlerFromEnvironment() {\n  \
         for (const [name, value] of getEnvironment()) if (name === \"_HANDLER\") return value;\n  \
         return \"\";\n}\n",
    );
    Ok(code)
}

/// The world componentize-js builds for, `task-js`: the `task` world (wit/task.wit, unchanged)
/// plus the WASI filesystem and environment imports `@sandstep/fs` and `_HANDLER` read.
/// componentize-js refuses imports its world does not name; the host provides WASI anyway,
/// under the task's grants. WASI's WIT comes from jco, installed with componentize-js.
fn write_world(toolchain: &toolchain::JsToolchain, stage: &Path) -> anyhow::Result<PathBuf> {
    let wit = stage.join("wit");
    let deps = wit.join("deps");
    let task = deps.join("sandstep-task");
    std::fs::create_dir_all(&task).context("creating the WIT directory")?;
    std::fs::write(task.join("task.wit"), TASK_WIT).context("writing the WIT")?;
    let wasi = toolchain.wasi_wit();
    for package in [
        "wasi-filesystem",
        "wasi-io",
        "wasi-clocks",
        "wasi-cli",
        "wasi-random",
        "wasi-sockets",
    ] {
        let from = wasi.join(package).join("package.wit");
        let to = deps.join(package);
        std::fs::create_dir_all(&to).with_context(|| format!("creating {}", to.display()))?;
        std::fs::copy(&from, to.join("package.wit")).with_context(|| {
            format!(
                "copying {} (is the JavaScript toolchain complete?)",
                from.display()
            )
        })?;
    }
    std::fs::write(
        wit.join("task-js.wit"),
        format!(
            "package sandstep:task-js;\n\nworld task-js {{\n  include sandstep:task/task@0.1.0;\n  \
             import {WASI_PREOPENS};\n  import {WASI_ENVIRONMENT};\n}}\n"
        ),
    )
    .context("writing the task-js world")?;
    Ok(wit)
}
