//! JavaScript: the staged sources and their package.json dependencies bundled by rolldown
//! into one module with `guest-sdk/js/sandstep_adapter.js`, then componentize-js
//! (SpiderMonkey) over the bundle. SpiderMonkey, not QuickJS: componentize-js runs the event
//! loop until an exported function's promise settles, which `async` handlers need; QuickJS's
//! synchronous runtime (the only one the host's engine can run) never runs the promise jobs.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};

use super::process::{run_checked, tail};
use super::{Built, TASK_WIT, split_handler, stage_sources, toolchain, top_level_modules};

const ADAPTER: &str = include_str!("../../../guest-sdk/js/sandstep_adapter.js");

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
    std::fs::write(
        src.join("__sandstep_entry.js"),
        entry_module(&src, handler_module, &handler)?,
    )
    .context("writing the adapter's entry")?;
    let bundle = stage.join("bundle.js");
    // A config file, not flags: the WIT and WASI imports stay external by pattern.
    let config = stage.join("rolldown.config.mjs");
    std::fs::write(
        &config,
        format!(
            "export default {{\n  input: {},\n  platform: \"browser\",\n  \
             external: [/^wasi:/, /^sandstep:/],\n  output: {{ file: {}, format: \"esm\" }},\n}};\n",
            serde_json::to_string(&src.join("__sandstep_adapter.js").to_string_lossy())?,
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

    let wit = stage.join("wit");
    std::fs::create_dir_all(&wit).context("creating the WIT directory")?;
    std::fs::write(wit.join("task.wit"), TASK_WIT).context("writing the WIT")?;
    run_checked(
        Command::new(toolchain.componentize_js())
            .arg(&bundle)
            .arg("--wit")
            .arg(&wit)
            .args(["-n", "task", "-d", "http", "fetch-event", "-o"])
            .arg(output),
        &format!("componentize-js building {}", source.display()),
        "the error above comes from running the bundled handler's module code at build time",
    )?;
    let modules = vec![handler_module.to_owned()];
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

/// `__sandstep_entry.js`: the handler's module and the handler's name. Only the one module:
/// the `task` world imports no environment, so `_HANDLER` cannot pick another at run time.
fn entry_module(src: &Path, module: &str, handler: &str) -> anyhow::Result<String> {
    let file = if src.join(format!("{module}.js")).is_file() {
        format!("{module}.js")
    } else {
        format!("{module}.mjs")
    };
    Ok(format!(
        "// Written by `host task build`.\nimport * as handlerModule from {};\n\
         export const modules = {{ {}: handlerModule }};\nexport const defaultHandler = {};\n",
        serde_json::to_string(&format!("./{file}"))?,
        serde_json::to_string(module)?,
        serde_json::to_string(handler)?,
    ))
}
