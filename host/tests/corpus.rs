//! Public state machine definitions (`tests/corpus/`, sources and licenses in
//! `tests/corpus/SOURCES.md`): every one must be accepted by the validator, as
//! AWS accepts them, and must run to an end with stub tasks (each returns its
//! input) on the virtual clock and on the real one, ending the same way.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sandstep_host::asl;
use sandstep_host::engine::{Clock, Engine, ExecutionRequest, TaskCall, TaskFuture, TaskRunner};
use serde_json::{Value, json};

/// Every Task returns its input, whatever its resource.
struct EchoTasks;

impl TaskRunner for EchoTasks {
    fn check_resource(&self, _: &str) -> Result<(), String> {
        Ok(())
    }

    fn invoke<'a>(&'a self, call: TaskCall<'a>) -> TaskFuture<'a> {
        let output = call.input.clone();
        Box::pin(async move { Ok(output).into() })
    }
}

fn definitions() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut found = Vec::new();
    for dir in std::fs::read_dir(&root).expect("tests/corpus exists") {
        let dir = dir.expect("readable entry").path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir).expect("readable corpus folder") {
            let path = file.expect("readable entry").path();
            let name = path.to_string_lossy();
            if name.ends_with(".json") && !name.ends_with(".input.json") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn input_for(definition: &Path) -> Value {
    let name = definition.to_string_lossy();
    let input = PathBuf::from(name.replace(".asl.json", ".input.json"));
    std::fs::read_to_string(&input).ok().map_or(json!({}), |t| {
        serde_json::from_str(&t).expect("input files are JSON")
    })
}

#[test]
fn public_definitions_are_accepted_and_run_alike_on_both_clocks() {
    let files = definitions();
    assert!(!files.is_empty(), "no corpus definitions found");
    let sources = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/SOURCES.md"),
    )
    .expect("tests/corpus/SOURCES.md names each file's source");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut problems = Vec::new();
    for path in &files {
        let shown = path
            .strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus"))
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned();
        if !sources.contains(&shown) {
            problems.push(format!("{shown}: not listed in SOURCES.md"));
        }
        let text = std::fs::read_to_string(path).expect("readable definition");
        let machine = match asl::parse_text(&text) {
            Ok(m) => m,
            Err(diagnostics) => {
                let listed: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
                problems.push(format!("{shown}: refused: {}", listed.join("; ")));
                continue;
            }
        };
        let input = input_for(path);
        let run = |clock: Clock| {
            let engine = Engine::new(Arc::new(EchoTasks)).with_clock(clock);
            let request = ExecutionRequest::new("corpus", input.clone());
            runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(30), engine.execute(&machine, request))
                    .await
            })
        };
        let Ok(virtual_run) = run(Clock::virtual_time()) else {
            problems.push(format!("{shown}: no end within 30 s on the virtual clock"));
            continue;
        };
        let Ok(real_run) = run(Clock::Real) else {
            problems.push(format!("{shown}: no end within 30 s on the real clock"));
            continue;
        };
        let ended =
            |e: &sandstep_host::engine::Execution| (e.status.as_str().to_owned(), e.error.clone());
        if ended(&virtual_run) != ended(&real_run) {
            problems.push(format!(
                "{shown}: virtual clock ended {:?}, real clock {:?}",
                ended(&virtual_run),
                ended(&real_run)
            ));
        }
        let cause: String = virtual_run
            .cause
            .as_deref()
            .unwrap_or("")
            .chars()
            .take(160)
            .collect();
        eprintln!(
            "corpus: {shown}: {} ({}) {cause}",
            virtual_run.status.as_str(),
            virtual_run.error.as_deref().unwrap_or("-")
        );
    }
    assert!(
        problems.is_empty(),
        "corpus problems:\n{}",
        problems.join("\n")
    );
}
