//! The toolchains `host task build` drives, installed by the project itself from the
//! registries on first use into a cache outside any repository, and reused after:
//!
//! - Python: a venv holding componentize-py ([`COMPONENTIZE_PY`], PyPI), made with the
//!   `python3` on `PATH` (3.10 or later, with its `venv` module);
//! - JavaScript: componentize-js ([`COMPONENTIZE_JS`], npm; SpiderMonkey, which runs `async`
//!   handlers to completion) and rolldown (the bundler), installed with the `node`/`npm` on
//!   `PATH` (Node 18 or later).
//!
//! The cache is `$SANDSTEP_TOOLCHAINS`, else `$XDG_CACHE_HOME/sandstep/toolchains`, else
//! `~/.cache/sandstep/toolchains`. Each toolchain has a directory named by its versions and is
//! complete once its `.complete` marker exists; concurrent builds wait on a lock file, so one
//! installs and the others reuse. A failed install leaves no marker and is redone next time.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use super::process::{found_in, found_on_path, run_checked};

/// componentize-py from PyPI (the version polyglot-notes.md measured).
pub const COMPONENTIZE_PY: &str = "0.25.1";
/// componentize-js from npm (SpiderMonkey; its own CLI, not jco's, whose 1.35 shim cannot read
/// the WIT path).
pub const COMPONENTIZE_JS: &str = "0.23.0";
/// rolldown from npm: bundles a handler and its package.json dependencies into one module.
pub const ROLLDOWN: &str = "1.3.4";
/// jco from npm, pinned for its WASI 0.2.12 WIT (componentize-js depends on some 1.x).
pub const JCO: &str = "1.35.0";

const OLDEST_PYTHON: (u32, u32) = (3, 10);
const OLDEST_NODE: u32 = 18;

/// Where toolchains are installed.
pub fn cache_root() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("SANDSTEP_TOOLCHAINS").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("sandstep/toolchains"));
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".cache/sandstep/toolchains")),
        None => bail!(
            "no directory for the build toolchains: set SANDSTEP_TOOLCHAINS (or HOME) to where \
             componentize-py and componentize-js may be installed"
        ),
    }
}

/// The Python toolchain: a venv with componentize-py.
#[derive(Debug, Clone)]
pub struct PythonToolchain {
    dir: PathBuf,
}

impl PythonToolchain {
    /// The venv's interpreter (runs pip and the import scan).
    pub fn python(&self) -> PathBuf {
        self.dir.join("venv/bin/python")
    }

    /// The `componentize-py` command.
    pub fn componentize_py(&self) -> PathBuf {
        self.dir.join("venv/bin/componentize-py")
    }
}

/// The JavaScript toolchain: componentize-js and rolldown in one npm prefix.
#[derive(Debug, Clone)]
pub struct JsToolchain {
    dir: PathBuf,
}

impl JsToolchain {
    pub fn componentize_js(&self) -> PathBuf {
        self.dir.join("node_modules/.bin/componentize-js")
    }

    pub fn rolldown(&self) -> PathBuf {
        self.dir.join("node_modules/.bin/rolldown")
    }

    /// WASI 0.2.12's WIT packages, as jco ships them.
    pub fn wasi_wit(&self) -> PathBuf {
        self.dir
            .join("node_modules/@bytecodealliance/jco/lib/wit/builtin/0.2.12")
    }
}

/// componentize-py, installed now if it is not yet.
pub fn python(notify: &mut dyn FnMut(&str)) -> anyhow::Result<PythonToolchain> {
    let dir = cache_root()?.join(format!("componentize-py-{COMPONENTIZE_PY}"));
    let toolchain = PythonToolchain { dir: dir.clone() };
    installed(
        &dir,
        notify,
        &format!("componentize-py {COMPONENTIZE_PY} (PyPI)"),
        |dir| {
            let python = host_python()?;
            let venv = dir.join("venv");
            run_checked(
                Command::new(&python).arg("-m").arg("venv").arg(&venv),
                "creating a Python venv for componentize-py",
                "is Python's venv module installed? (Debian/Ubuntu: apt-get install python3-venv)",
            )?;
            run_checked(
                Command::new(venv.join("bin/python"))
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                    ])
                    .arg(format!("componentize-py=={COMPONENTIZE_PY}")),
                "installing componentize-py from PyPI",
                "check that PyPI is reachable (pip's message above says why it failed)",
            )?;
            Ok(())
        },
    )?;
    Ok(toolchain)
}

/// componentize-js and rolldown, installed now if they are not yet.
pub fn javascript(notify: &mut dyn FnMut(&str)) -> anyhow::Result<JsToolchain> {
    let dir = cache_root()?.join(format!(
        "componentize-js-{COMPONENTIZE_JS}-rolldown-{ROLLDOWN}-jco-{JCO}"
    ));
    let toolchain = JsToolchain { dir: dir.clone() };
    let what =
        format!("componentize-js {COMPONENTIZE_JS}, rolldown {ROLLDOWN} and jco {JCO} (npm)");
    installed(&dir, notify, &what, |dir| {
        check_node()?;
        fs::write(
            dir.join("package.json"),
            "{\"private\": true, \"description\": \"Sandstep's JavaScript task toolchain\"}\n",
        )
        .context("writing the toolchain's package.json")?;
        run_checked(
            Command::new("npm")
                .current_dir(dir)
                .args([
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    "--save-exact",
                ])
                .arg(format!(
                    "@bytecodealliance/componentize-js@{COMPONENTIZE_JS}"
                ))
                .arg(format!("rolldown@{ROLLDOWN}"))
                .arg(format!("@bytecodealliance/jco@{JCO}")),
            "installing componentize-js and rolldown from npm",
            "check that the npm registry is reachable (npm's message above says why it failed)",
        )?;
        Ok(())
    })?;
    Ok(toolchain)
}

/// Runs `install` into `dir` unless its marker says it is complete; one process at a time.
fn installed(
    dir: &Path,
    notify: &mut dyn FnMut(&str),
    what: &str,
    install: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let marker = dir.join(".complete");
    if marker.exists() {
        return Ok(());
    }
    let parent = dir.parent().unwrap_or(dir);
    fs::create_dir_all(parent)
        .with_context(|| format!("creating the toolchain cache {}", parent.display()))?;
    let lock_path = dir.with_extension("lock");
    let lock = File::create(&lock_path)
        .with_context(|| format!("creating the lock file {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("locking {}", lock_path.display()))?;
    if marker.exists() {
        return Ok(()); // another process installed it while this one waited
    }
    notify(&format!(
        "installing {what} into {} (first use only)",
        dir.display()
    ));
    if dir.exists() {
        fs::remove_dir_all(dir)
            .with_context(|| format!("removing the unfinished install {}", dir.display()))?;
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    install(dir).with_context(|| format!("installing {what} into {}", dir.display()))?;
    fs::write(&marker, "").with_context(|| format!("writing {}", marker.display()))?;
    Ok(())
}

/// The `python3` on PATH, checked to be recent enough for componentize-py.
fn host_python() -> anyhow::Result<PathBuf> {
    let Some(python) = found_on_path("python3") else {
        bail!(
            "Python tasks need python3 ({}.{} or later) on PATH to install componentize-py; \
             install it (Debian/Ubuntu: apt-get install python3 python3-venv) and run again",
            OLDEST_PYTHON.0,
            OLDEST_PYTHON.1
        );
    };
    let output = Command::new(&python)
        .args([
            "-c",
            "import sys; print(sys.version_info[0], sys.version_info[1])",
        ])
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut parts = text.split_whitespace().map(str::parse::<u32>);
    let version = match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor),
        _ => bail!("{} did not say its version", python.display()),
    };
    if version < OLDEST_PYTHON {
        bail!(
            "{} is Python {}.{}; componentize-py needs {}.{} or later",
            python.display(),
            version.0,
            version.1,
            OLDEST_PYTHON.0,
            OLDEST_PYTHON.1
        );
    }
    Ok(python)
}

/// Node and npm on PATH, Node recent enough for componentize-js.
pub fn check_node() -> anyhow::Result<()> {
    check_node_in(&std::env::var_os("PATH").unwrap_or_default())
}

/// [`check_node`] with `path` as PATH.
fn check_node_in(path: &std::ffi::OsStr) -> anyhow::Result<()> {
    let missing = |what: &str| {
        anyhow::anyhow!(
            "JavaScript tasks need Node.js {OLDEST_NODE} or later and npm on PATH ({what} was not \
             found); install them (https://nodejs.org, or Debian/Ubuntu: apt-get install nodejs \
             npm) and run again"
        )
    };
    let node = found_in("node", path).ok_or_else(|| missing("node"))?;
    found_in("npm", path).ok_or_else(|| missing("npm"))?;
    let output = Command::new(&node)
        .arg("--version")
        .output()
        .with_context(|| format!("running {} --version", node.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let major = text
        .trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse::<u32>().ok());
    match major {
        Some(major) if major >= OLDEST_NODE => Ok(()),
        Some(_) => bail!(
            "{} is Node.js {}; componentize-js needs {OLDEST_NODE} or later",
            node.display(),
            text.trim()
        ),
        None => bail!("{} did not say its version", node.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_node_says_what_to_install() {
        let empty = tempfile::tempdir().expect("temp dir");
        let e = check_node_in(empty.path().as_os_str()).expect_err("no node there");
        let e = e.to_string();
        assert!(
            e.contains("Node.js 18 or later and npm") && e.contains("node was not found"),
            "{e}"
        );
        assert!(e.contains("apt-get install nodejs npm"), "{e}");
    }
}
