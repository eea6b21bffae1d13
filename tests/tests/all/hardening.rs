//! Issue 22: what a hostile task could still do to the host, each closed
//! and pinned here, each case beside a benign call: handles held on the
//! host (descriptors, listings, sockets) per call and per tenant, results
//! measured before they are copied, write-quota bypasses by symlink and
//! link, symlinks that lead out of a grant, log floods of empty lines, and
//! the neighbours (utimes, huge paths, one-byte writes). The quota's
//! randomized model test is `quota_model.rs`; logs are `tests/logs.rs`;
//! host memory and descriptors over a long run are `tests/soak.rs`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use sandstep_host::asl;
use sandstep_host::engine::{Engine, ExecutionRequest, TaskCall};
use sandstep_host::errors::names;
use sandstep_host::resources::{Manifest, WasmTasks};
use sandstep_host::sandbox::{
    DEFAULT_CALL_DESCRIPTORS, DirGrant, DirMode, ENTRY_BYTES, Grants, Limits, NetRule, Outcome,
};
use sandstep_tests::guests;

use crate::hostile::beside;
use crate::sandbox::{Tree, error, output, run, run_with, sandbox};

async fn fs_probe(grants: &Grants, request: Value) -> Outcome {
    run_with(
        guests::FS_PROBE,
        &request.to_string(),
        &Limits::default(),
        grants,
        None,
    )
    .await
}

fn quota_grant(host: &std::path::Path, guest: &str, quota: Option<u64>) -> DirGrant {
    DirGrant {
        guest: guest.into(),
        host: host.to_owned(),
        mode: DirMode::ReadWrite,
        quota,
    }
}

// ---- handles held on the host (22.4, 22.5) ------------------------------

#[tokio::test]
async fn holding_files_open_past_the_call_budget_ends_the_call() {
    let tree = Tree::new();
    let grants = tree.grants();
    for request in [
        json!({"op": "hold", "path": "/data/inside.txt", "count": 10_000}),
        json!({"op": "hold", "path": "/out", "each": true, "count": 10_000}),
    ] {
        let outcome = beside(fs_probe(&grants, request.clone())).await;
        let (name, cause) = error(&outcome);
        assert_eq!(
            name,
            names::SANDBOX_RESOURCE_LIMIT_EXCEEDED,
            "{request}: {cause}"
        );
        assert!(
            cause.contains(&format!(
                "more than {DEFAULT_CALL_DESCRIPTORS} open descriptors"
            )),
            "{cause}"
        );
    }
    // Within the budget, the same task holds what it needs.
    let fits = json!({"op": "hold", "path": "/data/inside.txt", "count": 100});
    let outcome = fs_probe(&grants, fits).await;
    assert_eq!(output(&outcome)["opened"], json!(100));
}

#[tokio::test]
async fn holding_many_directory_listings_is_bounded() {
    let tree = Tree::new();
    for i in 0..200 {
        std::fs::write(tree.path(&format!("granted/f{i:03}")), "x").expect("write");
    }
    let request = json!({"op": "listings", "path": "/data", "count": 5_000});
    let outcome = beside(fs_probe(&tree.grants(), request)).await;
    let (name, cause) = error(&outcome);
    assert_eq!(name, names::SANDBOX_RESOURCE_LIMIT_EXCEEDED, "{cause}");
    assert!(cause.contains("directory listings"), "{cause}");
    let few = json!({"op": "listings", "path": "/data", "count": 8});
    assert_eq!(
        output(&fs_probe(&tree.grants(), few).await)["opened"],
        json!(8)
    );
}

#[tokio::test]
async fn holding_many_sockets_is_bounded() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let grants = Grants {
        net: vec![
            format!("127.0.0.1:{port}")
                .parse::<NetRule>()
                .expect("pattern"),
        ],
        ..Grants::default()
    };
    let request = json!({"hold": format!("127.0.0.1:{port}"), "count": 1_000});
    let outcome = beside(run_with(
        guests::SOCKET_PROBE,
        &request.to_string(),
        &Limits::default(),
        &grants,
        None,
    ))
    .await;
    let (name, cause) = error(&outcome);
    assert_eq!(name, names::SANDBOX_RESOURCE_LIMIT_EXCEEDED, "{cause}");
    assert!(
        cause.contains("sockets") || cause.contains("descriptors"),
        "{cause}"
    );
    drop(listener);
}

fn two_tenants(dir: &std::path::Path) -> WasmTasks {
    std::fs::create_dir(dir.join("data")).expect("mkdir");
    std::fs::write(dir.join("data/f"), "x").expect("write");
    let manifest_path = dir.join("sandstep.toml");
    std::fs::write(
        &manifest_path,
        format!(
            "[tenants.hog]\nmax_open_files = 40\n[tenants.calm]\n\
             [tasks.hog]\ncomponent = {c:?}\ntenant = \"hog\"\ndirs = [{{ guest = \"/data\", host = \"data\" }}]\n\
             [tasks.calm]\ncomponent = {c:?}\ntenant = \"calm\"\ndirs = [{{ guest = \"/data\", host = \"data\" }}]\n",
            c = guests::FS_PROBE
        ),
    )
    .expect("manifest");
    WasmTasks::load(&Manifest::load(&manifest_path).expect("valid"), sandbox()).expect("loads")
}

async fn call(tasks: &WasmTasks, resource: &str, input: Value) -> Outcome {
    call_limited(
        tasks,
        resource,
        input,
        sandstep_host::engine::DEFAULT_PAYLOAD_LIMIT,
    )
    .await
}

async fn call_limited(
    tasks: &WasmTasks,
    resource: &str,
    input: Value,
    payload_limit: usize,
) -> Outcome {
    tasks
        .run(&TaskCall {
            resource,
            input: &input,
            execution_id: "e",
            state_name: "S",
            attempt: "",
            retry_count: 0,
            timeout: None,
            concurrent: true,
            payload_limit,
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_holding_its_files_cannot_keep_another_tenant_from_starting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tasks = Arc::new(two_tenants(dir.path()));
    // The hog holds exactly its tenant's budget, and keeps it for a while.
    let holder = {
        let tasks = tasks.clone();
        tokio::spawn(async move {
            let hold = json!({"op": "hold", "path": "/data/f", "count": 40, "sleep_ms": 4000});
            call(&tasks, "wasm:hog", hold).await
        })
    };
    let started = Instant::now();
    while tasks.tenant("hog").and_then(|t| t.open_files_held()) != Some(40) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the hog never held its files"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Another call of the same tenant fails with the tenant's bound...
    let more = call(
        &tasks,
        "wasm:hog",
        json!({"op": "hold", "path": "/data/f", "count": 5}),
    )
    .await;
    let (name, cause) = error(&more);
    assert_eq!(name, names::SANDBOX_RESOURCE_LIMIT_EXCEEDED, "{cause}");
    assert!(
        cause.contains("tenant \"hog\"") && cause.contains("max_open_files"),
        "{cause}"
    );
    // ...while the other tenant's task starts and opens what it needs.
    let calm = call(
        &tasks,
        "wasm:calm",
        json!({"op": "hold", "path": "/data/f", "count": 20}),
    )
    .await;
    assert_eq!(output(&calm)["opened"], json!(20));
    let held = holder.await.expect("the hog's call");
    assert_eq!(output(&held)["opened"], json!(40));
    assert_eq!(
        tasks.tenant("hog").and_then(|t| t.open_files_held()),
        Some(0),
        "every descriptor was given back"
    );
}

#[tokio::test]
async fn a_resource_limit_is_the_task_s_own_error_and_a_catch_matches_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tasks = two_tenants(dir.path());
    let machine = asl::parse_text(
        r#"{"StartAt": "Hold", "States": {
            "Hold": {"Type": "Task", "Resource": "wasm:hog", "End": true,
                     "Catch": [{"ErrorEquals": ["Sandbox.ResourceLimitExceeded"], "Next": "Caught"}]},
            "Caught": {"Type": "Pass", "End": true}}}"#,
    )
    .unwrap_or_else(|e| panic!("valid machine: {e:?}"));
    let engine = Engine::new(Arc::new(tasks));
    let execution = engine
        .execute(
            &machine,
            ExecutionRequest::new(
                "hog",
                json!({"op": "hold", "path": "/data/f", "count": 1000}),
            ),
        )
        .await;
    let out = execution.output.expect("the Catch recovers");
    assert_eq!(
        out["Error"],
        json!(names::SANDBOX_RESOURCE_LIMIT_EXCEEDED),
        "{out}"
    );
}

#[tokio::test]
async fn a_flood_of_empty_log_lines_is_bounded() {
    let outcome = beside(run(guests::LOG_FLOOD, "{\"empty\": 1000000}")).await;
    assert_eq!(output(&outcome), &json!({"logged": 1_000_000}));
    assert!(
        outcome.logs.len() <= 64 * 1024 / 64,
        "kept {} lines",
        outcome.logs.len()
    );
    assert_eq!(outcome.logs.len() as u64 + outcome.logs_dropped, 1_000_000);
}

// ---- results (22.2) -----------------------------------------------------

#[tokio::test]
async fn a_result_past_the_payload_limit_is_refused_before_it_is_parsed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest_path = dir.path().join("sandstep.toml");
    std::fs::write(
        &manifest_path,
        format!("[tasks.big]\ncomponent = {:?}\n", guests::BIG_OUTPUT),
    )
    .expect("manifest");
    let tasks =
        WasmTasks::load(&Manifest::load(&manifest_path).expect("valid"), sandbox()).expect("loads");
    // The sandbox itself refuses it: no JSON value is ever built.
    for input in [
        json!(8 << 20),
        json!({"array": 8 << 20}),
        json!({"array": 65 << 10}),
    ] {
        let outcome = beside(call_limited(&tasks, "wasm:big", input.clone(), 64 << 10)).await;
        let (name, cause) = error(&outcome);
        assert_eq!(name, names::DATA_LIMIT_EXCEEDED, "{input}: {cause}");
        assert!(cause.contains("'S'"), "{cause}");
    }
    let fits = call_limited(&tasks, "wasm:big", json!({"array": 63 << 10}), 64 << 10).await;
    assert!(output(&fits).as_array().is_some_and(|a| a.len() > 30_000));
}

// ---- write quota (22.6) -------------------------------------------------

#[tokio::test]
async fn a_dangling_symlink_cannot_create_files_past_the_quota() {
    let dir = tempfile::tempdir().expect("temp dir");
    let grants = Grants {
        dirs: vec![quota_grant(dir.path(), "/out", Some(16 * ENTRY_BYTES))],
        ..Grants::default()
    };
    // One link, then create-through-it and rename the target away, again
    // and again: each round makes a new file.
    let mut steps = vec![json!({"op": "symlink", "path": "/out/l", "to": "target"})];
    for i in 0..200 {
        steps.push(json!({"op": "create", "path": "/out/l"}));
        steps.push(json!({"op": "rename", "path": "/out/target", "to": format!("/out/f{i}")}));
    }
    let outcome = beside(fs_probe(&grants, json!({"op": "script", "steps": steps}))).await;
    assert_eq!(error(&outcome).0, names::SANDBOX_WRITE_QUOTA_EXCEEDED);
    let entries = std::fs::read_dir(dir.path()).expect("list").count() as u64;
    assert_eq!(entries, 16, "exactly what the quota pays for");
}

#[tokio::test]
async fn hard_links_out_of_a_quota_grant_are_refused() {
    let tree = tempfile::tempdir().expect("temp dir");
    for d in ["scratch", "out"] {
        std::fs::create_dir(tree.path().join(d)).expect("mkdir");
    }
    let grants = Grants {
        dirs: vec![
            quota_grant(&tree.path().join("scratch"), "/scratch", None),
            quota_grant(&tree.path().join("out"), "/out", Some(64 << 10)),
        ],
        ..Grants::default()
    };
    // Linked out, the file could grow through the unquota'd name.
    let steps = json!([
        {"op": "write", "path": "/out/f", "data": "x"},
        {"op": "link", "path": "/out/f", "to": "/scratch/f"},
        {"op": "write_n", "path": "/scratch/f", "size": 1 << 20},
    ]);
    let report =
        output(&beside(fs_probe(&grants, json!({"op": "script", "steps": steps}))).await).clone();
    assert_eq!(report["steps"][1]["ok"], json!(false), "{report}");
    assert!(
        report["steps"][1]["error"]
            .as_str()
            .is_some_and(|e| e.to_lowercase().contains("cross-device"))
    );
    assert_eq!(
        std::fs::metadata(tree.path().join("out/f"))
            .expect("f")
            .len(),
        1
    );
}

#[tokio::test]
async fn one_byte_writes_stop_exactly_at_the_quota() {
    let dir = tempfile::tempdir().expect("temp dir");
    let quota = 4 * ENTRY_BYTES;
    let grants = Grants {
        dirs: vec![quota_grant(dir.path(), "/out", Some(quota))],
        ..Grants::default()
    };
    let request = json!({"op": "write_n", "path": "/out/f", "size": 100_000, "chunk": 1});
    let outcome = beside(fs_probe(&grants, request)).await;
    assert_eq!(error(&outcome).0, names::SANDBOX_WRITE_QUOTA_EXCEEDED);
    let len = std::fs::metadata(dir.path().join("f")).expect("f").len();
    assert_eq!(len, quota - ENTRY_BYTES);
}

#[tokio::test]
async fn holes_left_by_shrinking_under_an_open_file_count() {
    let dir = tempfile::tempdir().expect("temp dir");
    let quota = 64u64 << 10;
    let grants = Grants {
        dirs: vec![quota_grant(dir.path(), "/out", Some(quota))],
        ..Grants::default()
    };
    // Round i writes 1000 bytes at offset i * 1000 of an empty file: a
    // hole of i * 1000 bytes before them, which counts like any growth.
    let request = json!({"op": "churn", "path": "/out/f", "size": 1000, "count": 1000});
    let outcome = beside(fs_probe(&grants, request)).await;
    assert_eq!(error(&outcome).0, names::SANDBOX_WRITE_QUOTA_EXCEEDED);
    let rounds = output_of_failed(&outcome)["written"]
        .as_u64()
        .expect("rounds");
    let charged = |k: u64| ENTRY_BYTES + 1000 * k * (k + 1) / 2;
    assert!(
        charged(rounds) <= quota,
        "{rounds} rounds cost {}",
        charged(rounds)
    );
    assert!(
        charged(rounds + 2) > quota,
        "stopped early: {rounds} rounds"
    );
}

/// The probe's report from its `report: ` line on stderr: a call that ends
/// with a host error keeps what the guest printed, not what it returned.
fn output_of_failed(outcome: &Outcome) -> Value {
    let line = outcome
        .stderr
        .text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("report: "))
        .unwrap_or_else(|| panic!("no report on stderr: {}", outcome.stderr.text));
    serde_json::from_str(line).expect("a JSON report")
}

// ---- symlinks and neighbours (22.9) -------------------------------------

#[tokio::test]
async fn symlinks_that_could_lead_out_of_a_grant_are_refused() {
    let tree = Tree::new();
    let grants = tree.grants();
    for target in ["../secret.txt", "/etc/passwd", "sub/../../secret.txt", ".."] {
        let request = json!({"op": "symlink", "path": "/out/link", "to": target});
        let report = output(&beside(fs_probe(&grants, request)).await).clone();
        assert_eq!(report["ok"], json!(false), "{target}: {report}");
        assert!(
            std::fs::symlink_metadata(tree.path("out/link")).is_err(),
            "{target}: nothing was left on the host disk"
        );
    }
    // A link that points down stays inside wherever it is moved.
    let steps = json!([
        {"op": "symlink", "path": "/out/down", "to": "sub/file"},
        {"op": "readlink", "path": "/out/down"},
    ]);
    let report = output(&fs_probe(&grants, json!({"op": "script", "steps": steps})).await).clone();
    assert_eq!(report["steps"][0]["ok"], json!(true), "{report}");
    assert_eq!(report["steps"][1]["content"], json!("sub/file"), "{report}");
}

#[tokio::test]
async fn utimes_stat_and_huge_paths_outside_a_grant_are_refused() {
    let tree = Tree::new();
    let grants = tree.grants();
    let huge = format!("/out/{}", "a".repeat(1 << 20));
    let before = std::fs::metadata(tree.path("secret.txt"))
        .expect("secret")
        .modified()
        .ok();
    for request in [
        json!({"op": "utimes", "path": "/out/../secret.txt"}),
        json!({"op": "utimes", "path": "/data/escape"}),
        json!({"op": "stat", "path": "/out/../secret.txt"}),
        json!({"op": "stat", "path": "/data/absolute"}),
        json!({"op": "write", "path": huge, "data": "x"}),
        json!({"op": "read", "path": huge}),
    ] {
        let report = output(&beside(fs_probe(&grants, request.clone())).await).clone();
        assert_eq!(
            report["ok"],
            json!(false),
            "{}: {report}",
            &request.to_string()[..60]
        );
    }
    let after = std::fs::metadata(tree.path("secret.txt"))
        .expect("secret")
        .modified()
        .ok();
    assert_eq!(before, after, "the file outside was not touched");
}
