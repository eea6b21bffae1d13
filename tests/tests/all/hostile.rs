//! The hostile-guest suite (issue 5): each case runs a misbehaving guest
//! beside a benign one and asserts the ASL error the hostile call ends with,
//! that the benign call returns its input, and that the host's resident
//! memory stays bounded. Also the capabilities beyond plain grants: write
//! quotas, secrets, the network allow-list.

use std::io::Read as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use sandstep_host::asl;
use sandstep_host::engine::{Engine, ExecutionRequest, TaskCall};
use sandstep_host::errors::names;
use sandstep_host::resources::{Manifest, WasmTasks};
use sandstep_host::sandbox::{
    CacheSetting, DirGrant, DirMode, ENTRY_BYTES, Grants, Invocation, Limits, NetRule, Outcome,
    Sandbox, SandboxConfig,
};
use sandstep_tests::guests;

use crate::sandbox::{Tree, error, output, run, run_with, sandbox};

/// The host's resident set, in bytes, from /proc/self/status.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line");
    kib * 1024
}

/// Generous: other tests run in the same process at the same time. A bound
/// that failed to hold would show up as gigabytes, not megabytes.
const RSS_GROWTH_BOUND: u64 = 384 << 20;

/// Runs `hostile` beside a benign echo call; checks the echo's output and
/// that the host's memory did not grow past [`RSS_GROWTH_BOUND`].
pub(crate) async fn beside<F: Future<Output = Outcome>>(hostile: F) -> Outcome {
    let before = rss();
    let input = json!({"benign": true, "n": [1, 2, 3]}).to_string();
    let (outcome, benign) = tokio::join!(hostile, run(guests::ECHO, &input));
    assert_eq!(
        output(&benign),
        &serde_json::from_str::<Value>(&input).expect("json"),
        "the benign call beside the hostile one"
    );
    let after = rss();
    assert!(
        after.saturating_sub(before) < RSS_GROWTH_BOUND,
        "host memory grew from {before} to {after} bytes"
    );
    outcome
}

fn rw(host: &Path, guest: &str, quota: Option<u64>) -> DirGrant {
    DirGrant {
        guest: guest.into(),
        host: host.to_owned(),
        mode: DirMode::ReadWrite,
        quota,
    }
}

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

// ---- path escapes -------------------------------------------------------

#[tokio::test]
async fn hard_links_cannot_be_made_to_reach_outside_a_grant() {
    let tree = Tree::new();
    // Set up by the operator, not the guest: a hard link inside the
    // read-only grant to a file outside it.
    std::fs::hard_link(tree.path("secret.txt"), tree.path("granted/hardlink")).expect("link");
    let grants = tree.grants();
    let attempts = [
        json!({"op": "link", "path": "/out/../secret.txt", "to": "/out/a"}),
        json!({"op": "link", "path": tree.path("secret.txt").display().to_string(), "to": "/out/b"}),
        // From the read-only grant into the writable one, to write it there.
        json!({"op": "link", "path": "/data/inside.txt", "to": "/out/c"}),
        json!({"op": "rename", "path": "/data/inside.txt", "to": "/out/d"}),
        json!({"op": "write", "path": "/data/hardlink", "data": "overwritten"}),
    ];
    for attempt in attempts {
        let outcome = beside(fs_probe(&grants, attempt.clone())).await;
        let report = output(&outcome);
        assert_eq!(
            report["ok"],
            json!(false),
            "{attempt} must be refused: {report}"
        );
    }
    assert_eq!(
        std::fs::read_dir(tree.path("out")).expect("out").count(),
        0,
        "no link was created"
    );
    assert_eq!(
        std::fs::read_to_string(tree.path("secret.txt")).expect("read"),
        "secret"
    );
    assert_eq!(
        std::fs::read_to_string(tree.path("granted/inside.txt")).expect("read"),
        "inside"
    );
    // A hard link the operator put inside a grant *is* the file: it is
    // readable like any granted file (documented in SECURITY.md).
    let read =
        output(&fs_probe(&grants, json!({"op": "read", "path": "/data/hardlink"})).await).clone();
    assert_eq!(read, json!({"ok": true, "content": "secret"}));
}

#[tokio::test]
async fn absolute_host_paths_and_escapes_stay_denied_beside_a_benign_call() {
    let tree = Tree::new();
    let grants = tree.grants();
    let secret = tree.path("secret.txt").display().to_string();
    for path in [secret.as_str(), "/out/../secret.txt", "/proc/self/environ"] {
        let outcome = beside(fs_probe(&grants, json!({"op": "read", "path": path}))).await;
        assert_eq!(output(&outcome)["ok"], json!(false), "{path}");
        let write = json!({"op": "write", "path": path, "data": "x"});
        let outcome = beside(fs_probe(&grants, write)).await;
        assert_eq!(output(&outcome)["ok"], json!(false), "{path}");
    }
    assert_eq!(
        std::fs::read_to_string(tree.path("secret.txt")).expect("read"),
        "secret"
    );
}

// ---- write quotas -------------------------------------------------------

#[tokio::test]
async fn writes_past_the_quota_fail_in_the_guest_and_end_the_call() {
    let dir = tempfile::tempdir().expect("temp dir");
    let quota = 1 << 20;
    let grants = Grants {
        dirs: vec![rw(dir.path(), "/out", Some(quota))],
        ..Grants::default()
    };
    let fill = json!({"op": "fill", "path": "/out/big", "size": 3 << 20});
    let outcome = beside(fs_probe(&grants, fill)).await;
    let (name, cause) = error(&outcome);
    assert_eq!(name, names::SANDBOX_WRITE_QUOTA_EXCEEDED);
    assert!(cause.contains("1 MiB for \"/out\""), "{cause}");
    // The guest saw an I/O error and reported it (returned), and the disk
    // holds exactly what the quota allowed: the file's entry plus its data.
    assert!(cause.contains("the task then returned a result"), "{cause}");
    // Through a stream, wasi-libc reports any refused write as EIO.
    assert!(
        outcome.stderr.text.contains("fill failed: I/O error"),
        "{}",
        outcome.stderr.text
    );
    let written = std::fs::metadata(dir.path().join("big"))
        .expect("the file")
        .len();
    assert_eq!(written, quota - ENTRY_BYTES);

    // Within the quota, nothing fails.
    let small = json!({"op": "fill", "path": "/out/small", "size": 1000});
    let outcome = fs_probe(&grants, small).await;
    assert_eq!(output(&outcome)["ok"], json!(true), "{:?}", outcome.result);
}

#[tokio::test]
async fn sparse_growth_and_new_entries_count_against_the_quota() {
    let dir = tempfile::tempdir().expect("temp dir");
    let grants = Grants {
        dirs: vec![rw(dir.path(), "/out", Some(64 << 10))],
        ..Grants::default()
    };
    // A sparse file counts by its length, not by the blocks it occupies.
    let outcome = fs_probe(
        &grants,
        json!({"op": "set_len", "path": "/out/sparse", "size": 1 << 30}),
    )
    .await;
    assert_eq!(error(&outcome).0, names::SANDBOX_WRITE_QUOTA_EXCEEDED);
    let len = std::fs::metadata(dir.path().join("sparse")).map_or(0, |m| m.len());
    assert_eq!(len, 0, "the file was not extended");
    let far = json!({"op": "write_at", "path": "/out/sparse", "size": 1 << 30, "data": "x"});
    let outcome = fs_probe(&grants, far).await;
    assert_eq!(error(&outcome).0, names::SANDBOX_WRITE_QUOTA_EXCEEDED);
    let len = std::fs::metadata(dir.path().join("sparse")).map_or(0, |m| m.len());
    assert_eq!(len, 0, "nothing was written a gigabyte out");

    let outcome = fs_probe(
        &grants,
        json!({"op": "touch", "path": "/out", "count": 1000}),
    )
    .await;
    let (name, cause) = error(&outcome);
    assert_eq!(name, names::SANDBOX_WRITE_QUOTA_EXCEEDED, "{cause}");
    // Through a descriptor call, the guest sees `quota` (EDQUOT).
    assert!(
        outcome.stderr.text.contains("touch failed: Quota exceeded"),
        "{}",
        outcome.stderr.text
    );
    let created = std::fs::read_dir(dir.path()).expect("dir").count() as u64 - 1;
    assert_eq!(created, (64 << 10) / ENTRY_BYTES, "besides \"sparse\"");
}

#[tokio::test]
async fn data_cannot_enter_a_quota_grant_by_rename_or_link() {
    let tree = tempfile::tempdir().expect("temp dir");
    for d in ["scratch", "out"] {
        std::fs::create_dir(tree.path().join(d)).expect("mkdir");
    }
    std::fs::write(tree.path().join("scratch/big"), vec![0u8; 1 << 20]).expect("write");
    let grants = Grants {
        dirs: vec![
            rw(&tree.path().join("scratch"), "/scratch", None),
            rw(&tree.path().join("out"), "/out", Some(4096 * 4)),
        ],
        ..Grants::default()
    };
    for op in ["rename", "link"] {
        let request = json!({"op": op, "path": "/scratch/big", "to": "/out/big"});
        let report = output(&fs_probe(&grants, request).await).clone();
        assert_eq!(report["ok"], json!(false), "{op}: {report}");
        assert!(
            report["error"]
                .as_str()
                .is_some_and(|e| e.to_lowercase().contains("cross-device")),
            "{op}: {report}"
        );
    }
    assert!(!tree.path().join("out/big").exists());
}

#[tokio::test]
async fn a_quota_error_is_caught_by_a_catch() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("out")).expect("mkdir");
    let manifest_path = dir.path().join("sandstep.toml");
    std::fs::write(
        &manifest_path,
        format!(
            "[tasks.fill]\ncomponent = {:?}\ndirs = [{{ guest = \"/out\", host = \"out\", mode = \"rw\", quota = \"64 KiB\" }}]\n",
            guests::FS_PROBE
        ),
    )
    .expect("manifest");
    let tasks =
        WasmTasks::load(&Manifest::load(&manifest_path).expect("valid"), sandbox()).expect("loads");
    let machine = asl::parse_text(
        r#"{"StartAt": "Fill", "States": {
            "Fill": {"Type": "Task", "Resource": "wasm:fill", "End": true,
                     "Catch": [{"ErrorEquals": ["Sandbox.WriteQuotaExceeded"], "Next": "Full"}]},
            "Full": {"Type": "Pass", "End": true}}}"#,
    )
    .unwrap_or_else(|e| panic!("valid machine: {e:?}"));
    let engine = Engine::new(Arc::new(tasks));
    let execution = engine
        .execute(
            &machine,
            ExecutionRequest::new(
                "hostile",
                json!({"op": "fill", "path": "/out/f", "size": 1 << 20}),
            ),
        )
        .await;
    let out = execution.output.expect("the Catch recovers");
    assert_eq!(
        out["Error"],
        json!(names::SANDBOX_WRITE_QUOTA_EXCEEDED),
        "{out}"
    );
}

// ---- secrets ------------------------------------------------------------

const SECRET: &str = "s3cr3t-value-0f-the-api-key";

#[tokio::test]
pub(crate) async fn secrets_reach_only_their_task_and_are_redacted() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("key.txt"), format!("{SECRET}\n")).expect("key file");
    let manifest_path = dir.path().join("sandstep.toml");
    std::fs::write(
        &manifest_path,
        format!(
            "[tasks.leak]\ncomponent = {c:?}\n[tasks.leak.secrets]\nAPI_KEY = {{ file = \"key.txt\" }}\n\
             [tasks.snoop]\ncomponent = {c:?}\n[tasks.env]\ncomponent = {e:?}\n",
            c = guests::SECRET_LEAK,
            e = guests::ENV_PROBE,
        ),
    )
    .expect("manifest");
    let manifest = Manifest::load(&manifest_path).expect("valid");
    assert!(
        !format!("{manifest:?}").contains(SECRET),
        "the value never shows in a Debug print"
    );
    let tasks = WasmTasks::load(&manifest, sandbox()).expect("loads");
    let tasks = &tasks;
    let call = |resource, input| async move {
        let input: Value = input;
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
                payload_limit: sandstep_host::engine::DEFAULT_PAYLOAD_LIMIT,
            })
            .await
    };

    // Without the grant, the value is nowhere to be seen.
    let snoop = beside(call("wasm:snoop", json!({"var": "API_KEY"}))).await;
    assert_eq!(output(&snoop)["found"], json!(false));
    let env = call("wasm:env", json!({})).await;
    assert_eq!(output(&env)["vars"], json!({}));

    // With it, the guest reads it, but everything the host records is redacted.
    let leak = beside(call("wasm:leak", json!({"var": "API_KEY"}))).await;
    let everything = format!(
        "{:?} {} {} {:?}",
        leak.result, leak.stdout.text, leak.stderr.text, leak.logs
    );
    assert!(!everything.contains(SECRET), "leaked: {everything}");
    let out = output(&leak);
    assert_eq!(out["found"], json!(true));
    assert_eq!(out["value"], json!("[redacted API_KEY]"));
    assert_eq!(out["[redacted API_KEY]"], json!("as a key"));
    assert!(
        leak.stdout.text.contains("stdout: [redacted API_KEY]"),
        "{}",
        leak.stdout.text
    );
    assert_eq!(leak.logs[0].message, "the key is [redacted API_KEY]");

    let failed = call("wasm:leak", json!({"var": "API_KEY", "fail": true})).await;
    assert_eq!(
        error(&failed),
        ("Leak.Attempt", "the key is [redacted API_KEY]")
    );
}

#[test]
fn a_missing_secret_is_a_load_error_naming_task_and_secret() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sandstep.toml");
    std::fs::write(
        &path,
        "[tasks.pay]\ncomponent = \"p.wasm\"\n[tasks.pay.secrets]\nTOKEN = { file = \"nope.txt\" }\n",
    )
    .expect("manifest");
    let e = format!(
        "{:#}",
        Manifest::load(&path).expect_err("the file is missing")
    );
    assert!(
        e.contains("task \"pay\"") && e.contains("secret \"TOKEN\"") && e.contains("nope.txt"),
        "{e}"
    );
}

// ---- network ------------------------------------------------------------

fn net(patterns: &[String]) -> Grants {
    Grants {
        net: patterns
            .iter()
            .map(|p| p.parse::<NetRule>().expect("valid pattern"))
            .collect(),
        ..Grants::default()
    }
}

/// A listener on 127.0.0.1 that records what the first client sent, until
/// asked what it saw.
struct Listener {
    port: u16,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Option<String>>,
}

impl Listener {
    fn start() -> Listener {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            // Waits as long as the test wants: under load the probe may
            // wait for a free instance slot first.
            loop {
                // Accept before looking at `stop`: a client that connected
                // just before the test asked is still seen.
                let stopping = stopped.load(Ordering::SeqCst);
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        stream.set_nonblocking(false).expect("blocking");
                        stream
                            .set_read_timeout(Some(Duration::from_secs(5)))
                            .expect("timeout");
                        let mut got = String::new();
                        stream.read_to_string(&mut got).ok();
                        return Some(got);
                    }
                    Err(_) if stopping => return None,
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Listener { port, stop, thread }
    }

    /// What the first client sent, if one connected before now.
    fn received(self) -> Option<String> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.join().expect("the listener thread ends")
    }
}

async fn socket_probe(grants: &Grants, request: Value) -> Value {
    let outcome = beside(run_with(
        guests::SOCKET_PROBE,
        &request.to_string(),
        &Limits::default(),
        grants,
        None,
    ))
    .await;
    output(&outcome).clone()
}

#[tokio::test]
async fn an_allowed_address_is_reached_and_others_are_refused() {
    let (allowed_listener, other_listener) = (Listener::start(), Listener::start());
    let (allowed, other) = (allowed_listener.port, other_listener.port);
    let grants = net(&[format!("127.0.0.1:{allowed}")]);
    let report = socket_probe(
        &grants,
        json!({"tcp": format!("127.0.0.1:{allowed}"), "udp": format!("127.0.0.1:{allowed}")}),
    )
    .await;
    assert_eq!(report["tcp"]["ok"], json!(true), "{report}");
    assert_eq!(
        report["udp"]["ok"],
        json!(false),
        "UDP is never granted: {report}"
    );
    assert_eq!(allowed_listener.received().as_deref(), Some("hello"));

    let report = socket_probe(
        &grants,
        json!({"tcp": format!("127.0.0.1:{other}"), "dns": "localhost"}),
    )
    .await;
    assert_eq!(report["tcp"]["ok"], json!(false), "{report}");
    assert_eq!(
        report["dns"]["ok"],
        json!(false),
        "no name is allowed: {report}"
    );
    assert_eq!(
        other_listener.received(),
        None,
        "the other port saw no client"
    );
}

#[tokio::test]
async fn an_allowed_name_resolves_and_connects_and_others_do_not_resolve() {
    let listener = Listener::start();
    let port = listener.port;
    let grants = net(&[format!("localhost:{port}")]);
    let report = socket_probe(
        &grants,
        json!({"dns": "localhost", "tcp": format!("localhost:{port}")}),
    )
    .await;
    assert_eq!(report["dns"]["ok"], json!(true), "{report}");
    assert_eq!(report["tcp"]["ok"], json!(true), "{report}");
    assert_eq!(listener.received().as_deref(), Some("hello"));
    // A name outside the list is refused before any query is made; so is
    // the same host on another port.
    let report = socket_probe(
        &grants,
        json!({"dns": "example.com", "tcp": format!("localhost:{}", port.wrapping_add(1).max(1))}),
    )
    .await;
    assert_eq!(report["dns"]["ok"], json!(false), "{report}");
    assert_eq!(report["tcp"]["ok"], json!(false), "{report}");
}

// ---- bounds -------------------------------------------------------------

#[tokio::test]
pub(crate) async fn a_raw_memory_grow_bomb_hits_the_memory_limit() {
    let limits = Limits {
        memory_bytes: 16 << 20,
        ..Limits::default()
    };
    let outcome = beside(run_with(
        guests::MEMORY_GROW,
        "{}",
        &limits,
        &Grants::default(),
        None,
    ))
    .await;
    let (name, cause) = error(&outcome);
    assert_eq!(name, names::SANDBOX_MEMORY_LIMIT_EXCEEDED, "{cause}");
    assert!(cause.contains("16 MiB"), "{cause}");
}

#[tokio::test]
pub(crate) async fn deep_recursion_overflows_the_stack_into_a_trap() {
    for (input, expected) in [
        ("\"wasm\"", "call stack exhausted"),
        ("\"shadow\"", "out of bounds memory access"),
    ] {
        let outcome = beside(run(guests::STACK_OVERFLOW, input)).await;
        let (name, cause) = error(&outcome);
        assert_eq!(name, names::SANDBOX_TRAP, "{input}: {cause}");
        assert!(cause.contains(expected), "{input}: {cause}");
    }
}

#[tokio::test]
pub(crate) async fn exit_ends_the_call_with_sandbox_exit() {
    for (status, reported) in [(3, 1), (0, 0)] {
        let outcome = beside(run(guests::EXIT_CODE, &status.to_string())).await;
        let (name, cause) = error(&outcome);
        assert_eq!(name, names::SANDBOX_EXIT, "{cause}");
        assert!(
            cause.contains(&format!("exit with status {reported}")),
            "{cause}"
        );
        assert!(
            cause.contains(&format!("leaving with status {status}")),
            "{cause}"
        );
    }
}

#[tokio::test]
pub(crate) async fn a_huge_output_is_over_the_payload_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest_path = dir.path().join("sandstep.toml");
    std::fs::write(
        &manifest_path,
        format!("[tasks.big]\ncomponent = {:?}\n", guests::BIG_OUTPUT),
    )
    .expect("manifest");
    let tasks =
        WasmTasks::load(&Manifest::load(&manifest_path).expect("valid"), sandbox()).expect("loads");
    let machine = asl::parse_text(
        r#"{"StartAt": "Big", "States": {"Big": {"Type": "Task", "Resource": "wasm:big", "End": true}}}"#,
    )
    .unwrap_or_else(|e| panic!("valid machine: {e:?}"));
    let engine = Engine::new(Arc::new(tasks));
    let before = rss();
    let huge = engine
        .execute(&machine, ExecutionRequest::new("hostile", json!(8 << 20)))
        .await;
    assert_eq!(
        huge.error.as_deref(),
        Some(names::DATA_LIMIT_EXCEEDED),
        "{:?}",
        huge.cause
    );
    assert!(rss().saturating_sub(before) < RSS_GROWTH_BOUND);
    let fits = engine
        .execute(&machine, ExecutionRequest::new("hostile", json!(1000)))
        .await;
    assert_eq!(
        fits.output.as_ref().and_then(Value::as_str).map(str::len),
        Some(1000)
    );
}

#[tokio::test]
pub(crate) async fn a_log_flood_is_bounded_and_counted() {
    let outcome = beside(run(guests::LOG_FLOOD, "100000")).await;
    assert_eq!(output(&outcome), &json!({"logged": 100000}));
    let kept: usize = outcome.logs.iter().map(|l| l.message.len()).sum();
    assert!(kept <= 64 * 1024, "kept {kept} bytes");
    assert_eq!(outcome.logs.len() as u64 + outcome.logs_dropped, 100_000);
    assert!(outcome.logs_dropped > 99_000, "{}", outcome.logs_dropped);
}

#[test]
fn a_truncated_component_is_refused_at_load() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bytes = std::fs::read(guests::ECHO).expect("echo");
    let path = dir.path().join("cut.wasm");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("write");
    let Err(e) = sandbox().load(&path) else {
        panic!("loading must fail")
    };
    let e = format!("{e:#}");
    assert!(
        e.contains("cut.wasm") && e.contains("not a valid WebAssembly component"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_hostile_calls_at_once_all_fail_and_the_host_stays_up() {
    // A sandbox of its own, so the other tests do not queue behind these calls.
    let sandbox = Sandbox::new(&SandboxConfig {
        cache: CacheSetting::Disabled,
        ..SandboxConfig::default()
    })
    .expect("the sandbox starts");
    let load = |path: &str| sandbox.load(Path::new(path)).expect("loads");
    let (spinner, grower, echo) = (
        load(guests::INFINITE_LOOP),
        load(guests::MEMORY_GROW),
        load(guests::ECHO),
    );
    let invocation = |input| Invocation {
        task: "hostile",
        input,
        execution_id: "e",
        state_name: "S",
        retry_count: 0,
        timeout: None,
        concurrent: true,
        output_limit: None,
    };
    let before = rss();
    let spin = Limits {
        fuel: Some(2_000_000),
        ..Limits::default()
    };
    let bomb = Limits {
        memory_bytes: 4 << 20,
        ..Limits::default()
    };
    let mut calls = Vec::new();
    for i in 0..1000 {
        let (guest, limits, expected) = if i % 2 == 0 {
            (spinner.clone(), spin.clone(), names::TIMEOUT)
        } else {
            (
                grower.clone(),
                bomb.clone(),
                names::SANDBOX_MEMORY_LIMIT_EXCEEDED,
            )
        };
        let sandbox = sandbox.clone();
        calls.push(tokio::spawn(async move {
            let grants = Grants::default();
            let outcome = sandbox
                .run(&guest, &limits, &grants, invocation("{}"))
                .await;
            (outcome.result.err().map(|e| e.error), expected)
        }));
    }
    let benign = sandbox
        .run(
            &echo,
            &Limits::default(),
            &Grants::default(),
            invocation("[\"still here\"]"),
        )
        .await;
    assert_eq!(output(&benign), &json!(["still here"]));
    for call in calls {
        let (got, expected) = call.await.expect("the call's task did not panic");
        assert_eq!(got.as_deref(), Some(expected));
    }
    let after = rss();
    assert!(
        after.saturating_sub(before) < RSS_GROWTH_BOUND,
        "host memory grew from {before} to {after} bytes"
    );
}
