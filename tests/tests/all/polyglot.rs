//! The hostile-guest suite for Python tasks (`tests/guests/python/probe.py`, built by
//! `host task build`): a Python task that loops, allocates without bound, reads outside its
//! grants or opens sockets is stopped exactly as a Rust one is, beside a benign Rust call. Also
//! the Python adapter's own contract: its context and its Lambda-shaped errors.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{Value, json};

use sandstep_host::errors::names;
use sandstep_host::sandbox::{
    DirGrant, DirMode, Grants, Limits, Outcome, Sandbox, SandboxConfig, TaskComponent,
};
use sandstep_host::taskbuild::Language;
use sandstep_tests::polyglot;

use crate::hostile::beside;
use crate::sandbox::{Tree, error, output, probe_call};

/// One sandbox with the on-disk compile cache, so the Python component (tens of megabytes of
/// native code) is compiled once per machine, not once per test run.
fn cached_sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| Sandbox::new(&SandboxConfig::default()).expect("the sandbox starts"))
}

fn python_probe() -> &'static TaskComponent {
    static PROBE: OnceLock<TaskComponent> = OnceLock::new();
    PROBE.get_or_init(|| {
        let source: PathBuf = [env!("CARGO_MANIFEST_DIR"), "guests/python/probe.py"]
            .iter()
            .collect();
        let path = polyglot::component(&source, "probe.handler", Language::Python);
        cached_sandbox()
            .load(&path)
            .unwrap_or_else(|e| panic!("the Python probe loads: {e:#}"))
    })
}

/// Python's snapshot is about 13 MiB of linear memory: give it room, as a manifest would.
fn python_limits() -> Limits {
    Limits {
        memory_bytes: 64 << 20,
        ..Limits::default()
    }
}

async fn probe_with(request: Value, limits: &Limits, grants: &Grants) -> Outcome {
    let input = request.to_string();
    cached_sandbox()
        .run(python_probe(), limits, grants, probe_call(&input, None))
        .await
}

async fn probe(request: Value) -> Outcome {
    probe_with(request, &python_limits(), &Grants::default()).await
}

#[tokio::test]
async fn a_python_task_returns_its_input_with_context() {
    let outcome = probe(json!({"op": "echo", "n": [1, 2, 3], "s": "héllo"})).await;
    assert_eq!(
        output(&outcome),
        &json!({"op": "echo", "n": [1, 2, 3], "s": "héllo"})
    );
}

#[tokio::test]
async fn a_module_imported_inside_the_handler_was_imported_at_build_time() {
    let outcome = probe(json!({"op": "lazy_import", "csv": "a,\"b,c\"\n1,2\n"})).await;
    assert_eq!(
        output(&outcome),
        &json!({"rows": [["a", "b,c"], ["1", "2"]]}),
        "stderr: {}",
        outcome.stderr.text
    );
}

#[tokio::test]
async fn a_python_loop_runs_out_of_fuel() {
    let limits = Limits {
        fuel: Some(50_000_000),
        ..python_limits()
    };
    let outcome = beside(probe_with(
        json!({"op": "loop"}),
        &limits,
        &Grants::default(),
    ))
    .await;
    let (name, cause) = error(&outcome);
    assert_eq!(name, names::TIMEOUT);
    assert!(
        cause.contains("out of fuel") && cause.contains("50000000"),
        "{cause}"
    );
}

#[tokio::test]
async fn a_python_allocation_bomb_hits_the_memory_limit() {
    let limits = Limits {
        memory_bytes: 32 << 20,
        ..python_limits()
    };
    let outcome = beside(probe_with(
        json!({"op": "allocate"}),
        &limits,
        &Grants::default(),
    ))
    .await;
    let (name, cause) = error(&outcome);
    // The limiter refuses the growth and ends the call: Python never sees a MemoryError.
    assert_eq!(name, names::SANDBOX_MEMORY_LIMIT_EXCEEDED, "{cause}");
    assert!(cause.contains("32 MiB"), "{cause}");
}

#[tokio::test]
async fn python_reads_outside_the_grants_are_denied() {
    let tree = Tree::new();
    let grants = tree.grants();
    let secret = tree.path("secret.txt").display().to_string();
    for path in [
        secret.as_str(),
        "/secret.txt",
        "/data/../secret.txt",
        "/data/../../../../etc/passwd",
        "/etc/passwd",
    ] {
        let outcome = beside(probe_with(
            json!({"op": "read", "path": path}),
            &python_limits(),
            &grants,
        ))
        .await;
        let report = output(&outcome);
        assert_eq!(report["ok"], json!(false), "reading {path:?}: {report}");
    }
    // Inside the grant, the same probe reads.
    let inside = probe_with(
        json!({"op": "read", "path": "/data/inside.txt"}),
        &python_limits(),
        &grants,
    )
    .await;
    assert_eq!(output(&inside), &json!({"ok": true, "content": "inside"}));
    // And a read-only grant stays read-only.
    let write = probe_with(
        json!({"op": "write", "path": "/data/new.txt", "data": "x"}),
        &python_limits(),
        &grants,
    )
    .await;
    assert_eq!(output(&write)["ok"], json!(false));
    assert!(!tree.path("granted/new.txt").exists());
}

#[tokio::test]
async fn python_sockets_are_denied() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr").to_string();
    let outcome = beside(probe(json!({"op": "connect", "addr": addr}))).await;
    assert_eq!(output(&outcome)["ok"], json!(false), "{:?}", outcome.result);
    let outcome = probe(json!({"op": "resolve", "name": "localhost"})).await;
    assert_eq!(output(&outcome)["ok"], json!(false), "{:?}", outcome.result);
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the guest reached the host: {other:?}"),
    }
}

#[tokio::test]
async fn an_uncaught_python_exception_is_the_error_lambda_reports() {
    let outcome = probe(json!({"op": "no-such-op"})).await;
    let (name, cause) = error(&outcome);
    assert_eq!(name, "ValueError");
    let cause: Value = serde_json::from_str(cause).expect("the cause is JSON");
    assert_eq!(cause["errorType"], "ValueError");
    assert_eq!(cause["errorMessage"], "unknown op 'no-such-op'");
    assert!(cause["requestId"].as_str().is_some_and(|id| id.len() == 36));
    let frames = cause["stackTrace"].as_array().expect("frames");
    assert_eq!(frames.len(), 1, "only the handler's frame: {frames:?}");
    let frame = frames[0].as_str().expect("a frame");
    assert!(
        frame.starts_with("  File \"probe.py\", line ")
            && frame.contains(", in handler\n    raise ValueError(f\"unknown op {op!r}\")"),
        "{frame:?}"
    );
}

#[tokio::test]
async fn a_grant_written_by_python_counts_against_its_quota() {
    let dir = tempfile::tempdir().expect("temp dir");
    let grants = Grants {
        dirs: vec![DirGrant {
            guest: "/out".into(),
            host: dir.path().to_owned(),
            mode: DirMode::ReadWrite,
            quota: Some(64 << 10),
        }],
        ..Grants::default()
    };
    let big = "x".repeat(256 << 10);
    let outcome = probe_with(
        json!({"op": "write", "path": "/out/big.txt", "data": big}),
        &python_limits(),
        &grants,
    )
    .await;
    assert_eq!(error(&outcome).0, names::SANDBOX_WRITE_QUOTA_EXCEEDED);
    let written = std::fs::metadata(dir.path().join("big.txt")).map_or(0, |m| m.len());
    assert!(written < 64 << 10, "{written} bytes written");
}
