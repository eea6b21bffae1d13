//! Python and JavaScript components for the end-to-end tests, built with `host task build`'s
//! library (the real toolchains, installed on first use) once per source and cached under
//! `OUT_DIR/polyglot/`, keyed by the sources, the handler and the adapters: a second test run
//! builds nothing.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use sandstep_host::taskbuild::{self, BuildRequest, Language};

/// What the build's output depends on besides the sources.
const ADAPTERS: [&str; 4] = [
    include_str!("../../guest-sdk/python/sandstep_adapter.py"),
    include_str!("../../guest-sdk/python/scan_imports.py"),
    include_str!("../../guest-sdk/js/sandstep_adapter.js"),
    include_str!("../../guest-sdk/js/sandstep_fs.js"),
];

/// The repository's `example-tasks/`.
pub fn example_tasks() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../example-tasks")
}

/// The component of `source` (a file or directory) with `handler`, built now or taken from the
/// cache. Panics with the toolchain's words when the build fails.
pub fn component(source: &Path, handler: &str, language: Language) -> PathBuf {
    static BUILDING: OnceLock<Mutex<HashMap<u64, Arc<Mutex<()>>>>> = OnceLock::new();
    let key = key(source, handler, language);
    let output = Path::new(env!("OUT_DIR"))
        .join("polyglot")
        .join(format!("{key:016x}.wasm"));
    // One build per key at a time in this process; other processes write then rename.
    let lock = BUILDING
        .get_or_init(Default::default)
        .lock()
        .expect("not poisoned")
        .entry(key)
        .or_default()
        .clone();
    let _held = lock.lock().expect("not poisoned");
    if output.exists() {
        return output;
    }
    std::fs::create_dir_all(output.parent().expect("has a parent")).expect("cache directory");
    let partial = output.with_extension(format!("{}.partial.wasm", std::process::id()));
    let request = BuildRequest {
        source: source.to_owned(),
        output: Some(partial.clone()),
        handler: Some(handler.to_owned()),
        language: Some(language),
    };
    taskbuild::build(&request, &mut |note| eprintln!("{note}")).unwrap_or_else(|e| {
        panic!(
            "host task build {} --handler {handler}: {e:#}",
            source.display()
        )
    });
    std::fs::rename(&partial, &output).expect("cache entry renamed into place");
    output
}

fn key(source: &Path, handler: &str, language: Language) -> u64 {
    let mut hasher = DefaultHasher::new();
    handler.hash(&mut hasher);
    format!("{language}").hash(&mut hasher);
    ADAPTERS.hash(&mut hasher);
    hash_tree(source, &mut hasher);
    hasher.finish()
}

fn hash_tree(path: &Path, hasher: &mut DefaultHasher) {
    if path.is_file() {
        path.file_name().hash(hasher);
        std::fs::read(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
            .hash(hasher);
        return;
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            !matches!(name.as_deref(), Some("node_modules" | "__pycache__"))
        })
        .collect();
    entries.sort();
    for entry in entries {
        entry.file_name().hash(hasher);
        hash_tree(&entry, hasher);
    }
}
