//! Builds the guest components the end-to-end tests run, and tells the tests where they are.
//!
//! Two suites, each its own cargo workspace built for `wasm32-wasip2` in release: the example
//! tasks (`example-tasks/`) and the sandbox's test guests (`tests/guests/`, when present). As in
//! wasmtime's `test-programs-artifacts`, the nested cargo gets a target directory inside
//! `OUT_DIR` (so it never waits on the outer build's lock) and none of the outer build's
//! `CARGO_*` settings. For each suite this writes `OUT_DIR/<suite>.rs` with one
//! `pub const <LIBNAME>: &str` per component path, an `ALL` list, and a `foreach_<suite>!` macro
//! that lists every component, so a test module can require a test per component.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Suite {
    /// Module name in `sandstep_tests` and file name in `OUT_DIR`.
    module: &'static str,
    /// The macro listing every component: `foreach_<singular>!`.
    singular: &'static str,
    /// The workspace, relative to the repository root.
    dir: &'static str,
    required: bool,
}

const SUITES: [Suite; 2] = [
    Suite {
        module: "tasks",
        singular: "task",
        dir: "example-tasks",
        required: true,
    },
    Suite {
        module: "guests",
        singular: "guest",
        dir: "tests/guests",
        required: false,
    },
];

/// Inputs of the components besides the suites themselves.
const ALSO_WATCHED: [&str; 2] = ["guest-sdk", "wit"];

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .expect("tests/ sits in the repository root")
        .to_path_buf();
    let out_dir = PathBuf::from(env("OUT_DIR"));
    check_wasm_target();
    for dir in ALSO_WATCHED {
        watch(&root.join(dir));
    }
    for suite in &SUITES {
        let workspace = root.join(suite.dir);
        let present = workspace.join("Cargo.toml").exists();
        assert!(
            present || !suite.required,
            "{} is missing its Cargo.toml",
            workspace.display()
        );
        let components = if present {
            watch(&workspace);
            build(
                &workspace,
                &out_dir.join(format!("{}-target", suite.module)),
            )
        } else {
            BTreeMap::new()
        };
        let code = generate(suite, &components);
        let path = out_dir.join(format!("{}.rs", suite.module));
        std::fs::write(&path, code)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("cargo sets {name} for build scripts"))
}

/// Panics with the fix when the `wasm32-wasip2` standard library is not installed.
fn check_wasm_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok());
    let Some(sysroot) = sysroot else {
        panic!("cannot ask `{rustc} --print sysroot` where the standard libraries are");
    };
    if !Path::new(sysroot.trim())
        .join("lib/rustlib/wasm32-wasip2")
        .exists()
    {
        panic!(
            "the wasm32-wasip2 target is not installed, and the tests need it to build the guest \
             components; run `rustup target add wasm32-wasip2`"
        );
    }
}

/// Asks cargo to rerun the build script when a source file under `dir` changes. Files one by one,
/// not the directory: cargo scans a directory recursively, `target/` included.
fn watch(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            watch(&path);
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

/// Builds every cdylib of `workspace` for wasm32-wasip2 and returns lib name → component path.
fn build(workspace: &Path, target_dir: &Path) -> BTreeMap<String, PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
        ])
        .env("CARGO_TARGET_DIR", target_dir)
        .stdout(Stdio::piped());
    // The outer build's settings are for the host target: keep them out of the nested build,
    // but keep the jobserver (CARGO_MAKEFLAGS) so both share the same cores.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let leaks = key.starts_with("CARGO_")
            && !matches!(&*key, "CARGO_HOME" | "CARGO_MAKEFLAGS" | "CARGO_TARGET_DIR");
        if leaks
            || matches!(
                &*key,
                "RUSTFLAGS"
                    | "RUSTC_WORKSPACE_WRAPPER"
                    | "TARGET"
                    | "HOST"
                    | "OUT_DIR"
                    | "PROFILE"
                    | "OPT_LEVEL"
                    | "DEBUG"
                    | "NUM_JOBS"
                    | "RUSTC_LINKER"
            )
        {
            cmd.env_remove(&*key);
        }
    }
    // Warnings denied for the host are denied for the guests too (CI sets -D warnings).
    let outer_flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    if outer_flags
        .split('\x1f')
        .collect::<Vec<_>>()
        .windows(2)
        .any(|w| w == ["-D", "warnings"])
        || outer_flags.split('\x1f').any(|f| f == "-Dwarnings")
    {
        cmd.env("RUSTFLAGS", "-Dwarnings");
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start cargo in {}: {e}", workspace.display()));
    let stdout = child.stdout.take().expect("stdout was piped");
    let mut components = BTreeMap::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap_or_else(|e| panic!("cannot read cargo's output: {e}"));
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        let is_cdylib = message["target"]["kind"]
            .as_array()
            .is_some_and(|k| k.iter().any(|k| k == "cdylib"));
        let (Some(name), Some(files)) = (
            message["target"]["name"].as_str(),
            message["filenames"].as_array(),
        ) else {
            continue;
        };
        if let Some(wasm) = files
            .iter()
            .filter_map(|f| f.as_str())
            .find(|f| f.ends_with(".wasm"))
            .filter(|_| is_cdylib)
        {
            components.insert(name.replace('-', "_"), PathBuf::from(wasm));
        }
    }
    let status = child
        .wait()
        .unwrap_or_else(|e| panic!("cargo in {} did not finish: {e}", workspace.display()));
    assert!(
        status.success(),
        "building {} for wasm32-wasip2 failed ({status}); see the errors above",
        workspace.display()
    );
    components
}

fn generate(suite: &Suite, components: &BTreeMap<String, PathBuf>) -> String {
    let mut code = format!(
        "// Generated by tests/build.rs from {}/: one component per cdylib crate.\n\n",
        suite.dir
    );
    for (name, path) in components {
        let path = path
            .to_str()
            .unwrap_or_else(|| panic!("{} is not UTF-8", path.display()));
        writeln!(
            code,
            "/// The `{name}` component, built for wasm32-wasip2 in release."
        )
        .expect("String writes succeed");
        writeln!(code, "pub const {}: &str = {path:?};", name.to_uppercase())
            .expect("String writes succeed");
    }
    writeln!(
        code,
        "\n/// Every component of the suite: (lib name, path)."
    )
    .expect("String writes succeed");
    writeln!(code, "pub const ALL: &[(&str, &str)] = &[").expect("String writes succeed");
    for name in components.keys() {
        writeln!(code, "    ({name:?}, {}),", name.to_uppercase()).expect("String writes succeed");
    }
    writeln!(code, "];\n").expect("String writes succeed");
    let invocations: String = components
        .keys()
        .map(|n| format!("        $mac!({n});\n"))
        .collect();
    write!(
        code,
        "/// Calls `$mac!(lib_name)` for every component of the suite; with a macro that names a\n\
         /// test per component, a component without a test fails to compile.\n\
         #[macro_export]\n\
         macro_rules! foreach_{} {{\n    ($mac:ident) => {{\n{invocations}    }};\n}}\n",
        suite.singular
    )
    .expect("String writes succeed");
    code
}
