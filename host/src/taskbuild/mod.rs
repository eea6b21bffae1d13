//! `host task build`: a Lambda-style handler in Python or JavaScript to a component of the
//! `task` world (wit/task.wit), with the toolchains the project installs itself
//! ([`toolchain`]).
//!
//! Both languages follow one shape: the handler's sources are staged (copied without
//! `node_modules`, venvs, caches and `.wasm` files) beside an adapter from `guest-sdk/`
//! (`python/sandstep_adapter.py`, `js/sandstep_adapter.js`) that implements the world's `run`:
//! parse the input, call the handler with it and a context, serialize the result, and turn an
//! uncaught exception into the error Lambda reports. Pure dependencies (requirements.txt,
//! package.json) are installed into the stage and bundled; anything that cannot run in the
//! sandbox fails here, at build time. Everything the handler imports is imported while the
//! toolchain snapshots the initialized runtime, so a call never imports.
//!
//! The handler is named Lambda's way, `MODULE.FUNCTION` (`handler.handler`,
//! `index.handler`); a component built from a directory holds all its top-level modules, and a
//! task's `_HANDLER` environment variable (the manifest's `env`) picks another of them at run
//! time, as one Lambda package can back several functions.

mod javascript;
mod process;
mod python;
pub mod toolchain;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// The WIT world every task targets; written into each build's stage.
pub(crate) const TASK_WIT: &str = include_str!("../../../wit/task.wit");

/// A language `host task build` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Language {
    Python,
    #[value(name = "js", alias = "javascript")]
    JavaScript,
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Language::Python => "Python",
            Language::JavaScript => "JavaScript",
        })
    }
}

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// A handler file, or a directory of sources (with `requirements.txt` or `package.json`).
    pub source: PathBuf,
    /// Where the component goes. Default: [`default_output`].
    pub output: Option<PathBuf>,
    /// `MODULE.FUNCTION`. Default: the file's module and `handler`; for a directory, see
    /// [`python::default_handler`] and [`javascript::default_handler`].
    pub handler: Option<String>,
    /// Default: from the file's extension, or the directory's contents.
    pub language: Option<Language>,
}

/// What was built.
#[derive(Debug, Clone)]
pub struct BuildReport {
    pub output: PathBuf,
    pub language: Language,
    pub handler: String,
    /// Top-level modules a `_HANDLER` may name.
    pub modules: Vec<String>,
    pub bytes: u64,
    pub took: Duration,
}

/// Builds the component; `notify` hears about slow steps (installing a toolchain).
pub fn build(request: &BuildRequest, notify: &mut dyn FnMut(&str)) -> anyhow::Result<BuildReport> {
    let started = Instant::now();
    let source = &request.source;
    let metadata = std::fs::metadata(source)
        .with_context(|| format!("cannot read the handler source {}", source.display()))?;
    let language = match request.language {
        Some(language) => language,
        None => detect(source, metadata.is_dir())?,
    };
    let output = match &request.output {
        Some(output) => output.clone(),
        None => default_output(source)?,
    };
    let stage = tempfile::Builder::new()
        .prefix("sandstep-task-build-")
        .tempdir()
        .context("creating a temporary build directory")?;
    let built = match language {
        Language::Python => python::build(
            source,
            request.handler.as_deref(),
            stage.path(),
            &output,
            notify,
        ),
        Language::JavaScript => javascript::build(
            source,
            request.handler.as_deref(),
            stage.path(),
            &output,
            notify,
        ),
    }?;
    let bytes = std::fs::metadata(&output)
        .with_context(|| format!("the toolchain wrote no component at {}", output.display()))?
        .len();
    Ok(BuildReport {
        output,
        language,
        handler: built.handler,
        modules: built.modules,
        bytes,
        took: started.elapsed(),
    })
}

/// What a language's build settled on.
pub(crate) struct Built {
    handler: String,
    modules: Vec<String>,
}

/// `handler.py` → `handler.wasm` beside it; a directory `etl/` → `etl.wasm` beside it.
pub fn default_output(source: &Path) -> anyhow::Result<PathBuf> {
    let source = source.components().collect::<PathBuf>();
    let stem = if source.is_dir() {
        source.file_name()
    } else {
        source.file_stem()
    };
    let Some(stem) = stem else {
        bail!(
            "cannot name the component after {}; give it a name with -o",
            source.display()
        );
    };
    Ok(source.with_file_name(format!("{}.wasm", stem.to_string_lossy())))
}

fn detect(source: &Path, is_dir: bool) -> anyhow::Result<Language> {
    if !is_dir {
        return match source.extension().and_then(|e| e.to_str()) {
            Some("py") => Ok(Language::Python),
            Some("js" | "mjs") => Ok(Language::JavaScript),
            _ => bail!(
                "cannot tell the language of {} from its extension: name it .py, .js or .mjs, \
                 or say --language python|js",
                source.display()
            ),
        };
    }
    let has = |name: &str| source.join(name).is_file();
    let any_ext = |exts: &[&str]| {
        std::fs::read_dir(source).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                e.path()
                    .extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| exts.contains(&x))
            })
        })
    };
    let python = has("requirements.txt") || any_ext(&["py"]);
    let js = has("package.json") || any_ext(&["js", "mjs"]);
    match (python, js) {
        (true, false) => Ok(Language::Python),
        (false, true) => Ok(Language::JavaScript),
        (true, true) => bail!(
            "{} holds both Python and JavaScript sources; say which with --language python|js",
            source.display()
        ),
        (false, false) => bail!(
            "{} holds no .py, .js or .mjs file, requirements.txt or package.json: nothing to build",
            source.display()
        ),
    }
}

/// Directories and files a stage never copies.
fn skipped(name: &str, is_dir: bool) -> bool {
    if is_dir {
        matches!(
            name,
            "node_modules" | "__pycache__" | ".git" | ".venv" | "venv" | ".sandstep" | "target"
        )
    } else {
        name.ends_with(".wasm") || name.ends_with(".pyc")
    }
}

/// Copies the handler's sources into `to`: the file, or the directory without [`skipped`] entries.
fn stage_sources(source: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    if source.is_file() {
        let name = source
            .file_name()
            .with_context(|| format!("{} has no file name", source.display()))?;
        std::fs::copy(source, to.join(name))
            .with_context(|| format!("copying {}", source.display()))?;
        return Ok(());
    }
    copy_tree(source, to)
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry.with_context(|| format!("reading {}", from.display()))?;
        let kind = entry.file_type()?;
        let name = entry.file_name();
        if skipped(&name.to_string_lossy(), kind.is_dir()) || kind.is_symlink() {
            continue;
        }
        let target = to.join(&name);
        if kind.is_dir() {
            std::fs::create_dir_all(&target)
                .with_context(|| format!("creating {}", target.display()))?;
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

/// The file stems of `dir`'s top-level files with one of `extensions`, sorted.
fn top_level_modules(dir: &Path, extensions: &[&str]) -> anyhow::Result<Vec<String>> {
    let mut modules = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if path.is_file()
            && extensions.contains(&ext)
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            modules.push(stem.to_owned());
        }
    }
    modules.sort();
    modules.dedup();
    Ok(modules)
}

/// Splits `MODULE.FUNCTION`, naming what is wrong.
fn split_handler(spec: &str) -> anyhow::Result<(&str, &str)> {
    match spec.rsplit_once('.') {
        Some((module, function)) if !module.is_empty() && !function.is_empty() => {
            Ok((module, function))
        }
        _ => bail!(
            "the handler \"{spec}\" is not MODULE.FUNCTION (for example handler.handler for \
             the function handler in handler.py, or index.handler for index.js)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_comes_from_the_extension_or_the_directory() {
        assert_eq!(
            detect(Path::new("a/handler.py"), false).ok(),
            Some(Language::Python)
        );
        assert_eq!(
            detect(Path::new("index.mjs"), false).ok(),
            Some(Language::JavaScript)
        );
        let e = detect(Path::new("handler.rb"), false).expect_err("unknown");
        assert!(e.to_string().contains("--language"), "{e}");

        let dir = tempfile::tempdir().expect("temp dir");
        let e = detect(dir.path(), true).expect_err("empty");
        assert!(e.to_string().contains("nothing to build"), "{e}");
        std::fs::write(dir.path().join("requirements.txt"), "").expect("write");
        assert_eq!(detect(dir.path(), true).ok(), Some(Language::Python));
        std::fs::write(dir.path().join("index.js"), "").expect("write");
        let e = detect(dir.path(), true).expect_err("both");
        assert!(e.to_string().contains("both Python and JavaScript"), "{e}");
    }

    #[test]
    fn the_component_is_named_after_the_source() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("handler.py");
        std::fs::write(&file, "").expect("write");
        assert_eq!(
            default_output(&file).ok(),
            Some(dir.path().join("handler.wasm"))
        );
        let sub = dir.path().join("etl");
        std::fs::create_dir(&sub).expect("mkdir");
        assert_eq!(default_output(&sub).ok(), Some(dir.path().join("etl.wasm")));
    }

    #[test]
    fn handlers_are_module_dot_function() {
        assert_eq!(
            split_handler("pkg.mod.handler").ok(),
            Some(("pkg.mod", "handler"))
        );
        for bad in ["handler", ".handler", "handler.", ""] {
            let e = split_handler(bad).expect_err(bad);
            assert!(e.to_string().contains("MODULE.FUNCTION"), "{e}");
        }
    }

    #[test]
    fn default_handlers_follow_lambda() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let one = vec!["app".to_owned()];
        assert_eq!(
            python::default_handler(root, &one).ok().as_deref(),
            Some("app.handler")
        );
        let two = vec!["a".to_owned(), "b".to_owned()];
        let e = python::default_handler(root, &two).expect_err("ambiguous");
        assert!(e.to_string().contains("--handler"), "{e}");
        std::fs::write(root.join("lambda_function.py"), "").expect("write");
        assert_eq!(
            python::default_handler(root, &two).ok().as_deref(),
            Some("lambda_function.lambda_handler")
        );
        let js = vec!["handler".to_owned(), "index".to_owned()];
        assert_eq!(
            javascript::default_handler(root, &js).ok().as_deref(),
            Some("index.handler")
        );
    }

    #[test]
    fn staging_skips_dependencies_caches_and_components() {
        let from = tempfile::tempdir().expect("temp dir");
        let to = tempfile::tempdir().expect("temp dir");
        for dir in ["node_modules/x", "__pycache__", "pkg"] {
            std::fs::create_dir_all(from.path().join(dir)).expect("mkdir");
        }
        for file in [
            "handler.py",
            "old.wasm",
            "pkg/util.py",
            "node_modules/x/i.js",
        ] {
            std::fs::write(from.path().join(file), "x").expect("write");
        }
        stage_sources(from.path(), to.path()).expect("staged");
        assert!(to.path().join("handler.py").is_file());
        assert!(to.path().join("pkg/util.py").is_file());
        assert!(!to.path().join("old.wasm").exists());
        assert!(!to.path().join("node_modules").exists());
        assert!(!to.path().join("__pycache__").exists());
    }
}
