//! The sandbox against hostile guests (tests/guests/): every bound ends the
//! call with the right ASL error, every capability is denied unless
//! granted, and the host survives whatever the guest does (the hostile
//! calls run [`beside`] a benign one). The rest of the hostile suite, and
//! the capabilities beyond plain grants, are in `hostile.rs`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};

use sandstep_host::engine::{TaskCall, TaskRunner};
use sandstep_host::errors::names;
use sandstep_host::resources::{Manifest, WasmTasks};
use sandstep_host::sandbox::{
    Allocator, CacheSetting, CompileOrigin, DirGrant, DirMode, Grants, Invocation, Limits, Outcome,
    Sandbox, SandboxConfig, TaskComponent,
};

use crate::hostile::beside;
use sandstep_tests::{foreach_guest, guests};

// Every guest of tests/guests/ has a test here, or this fails to compile.
macro_rules! assert_test_exists {
    ($name:ident) => {
        #[allow(unused_imports, reason = "the import only proves the test exists")]
        use tested::$name as _;
    };
}
foreach_guest!(assert_test_exists);

/// Which test covers each guest.
mod tested {
    pub(super) use super::a_component_importing_an_unknown_interface_is_refused_at_load as unknown_import;
    pub(super) use super::a_guest_blocked_in_a_host_call_hits_the_deadline as sleeper;
    pub(super) use super::a_memory_bomb_hits_the_memory_limit as memory_bomb;
    pub(super) use super::a_panic_is_a_trap_carrying_its_message as panic_message;
    pub(super) use super::a_stdout_flood_completes_and_counts_what_was_dropped as stdout_flood;
    pub(super) use super::a_task_error_keeps_its_own_name as task_error;
    pub(super) use super::an_infinite_loop_runs_out_of_fuel as infinite_loop;
    pub(super) use super::echo_returns_its_input_and_logs_through_the_host as echo;
    pub(super) use super::every_call_gets_a_fresh_instance_and_its_context as counter;
    pub(super) use super::files_outside_a_grant_are_denied as fs_probe;
    // Also the task of the crash test (tests/crash.rs).
    pub(super) use super::output_that_is_not_json_is_invalid_output as bad_output;
    pub(super) use super::the_host_environment_is_hidden_and_granted_variables_seen as env_probe;
    pub(super) use super::the_ledger_records_each_call_in_its_grant as ledger;
    pub(super) use super::the_network_is_denied as socket_probe;
    pub(super) use crate::hostile::a_huge_output_is_over_the_payload_limit as big_output;
    pub(super) use crate::hostile::a_log_flood_is_bounded_and_counted as log_flood;
    pub(super) use crate::hostile::a_raw_memory_grow_bomb_hits_the_memory_limit as memory_grow;
    pub(super) use crate::hostile::deep_recursion_overflows_the_stack_into_a_trap as stack_overflow;
    pub(super) use crate::hostile::exit_ends_the_call_with_sandbox_exit as exit_code;
    pub(super) use crate::hostile::secrets_reach_only_their_task_and_are_redacted as secret_leak;
}

/// One engine for the whole test binary, as the host has one per process.
pub(crate) fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        let config = SandboxConfig {
            cache: CacheSetting::Disabled,
            ..SandboxConfig::default()
        };
        Sandbox::new(&config).expect("the sandbox starts")
    })
}

/// Each guest compiled once per test binary.
pub(crate) fn component(path: &str) -> TaskComponent {
    static LOADED: OnceLock<Mutex<HashMap<String, TaskComponent>>> = OnceLock::new();
    let loaded = LOADED.get_or_init(Default::default);
    if let Some(c) = loaded.lock().expect("not poisoned").get(path) {
        return c.clone();
    }
    let c = sandbox()
        .load(Path::new(path))
        .unwrap_or_else(|e| panic!("guest {path} loads: {e:#}"));
    loaded
        .lock()
        .expect("not poisoned")
        .insert(path.to_owned(), c.clone());
    c
}

/// A call of the task "probe" from the state "Probe" of a test execution.
pub(crate) fn probe_call(input: &str, timeout: Option<Duration>) -> Invocation<'_> {
    Invocation {
        task: "probe",
        input,
        execution_id: "arn:sandstep:states:local:execution:test:1",
        state_name: "Probe",
        retry_count: 0,
        timeout,
        concurrent: true,
        output_limit: None,
    }
}

pub(crate) async fn run_with(
    path: &str,
    input: &str,
    limits: &Limits,
    grants: &Grants,
    timeout: Option<Duration>,
) -> Outcome {
    sandbox()
        .run(&component(path), limits, grants, probe_call(input, timeout))
        .await
}

pub(crate) async fn run(path: &str, input: &str) -> Outcome {
    run_with(path, input, &Limits::default(), &Grants::default(), None).await
}

pub(crate) fn output(outcome: &Outcome) -> &Value {
    match &outcome.result {
        Ok(v) => v,
        Err(e) => panic!("expected success, got {e}\nstderr: {}", outcome.stderr.text),
    }
}

pub(crate) fn error(outcome: &Outcome) -> (&str, &str) {
    match &outcome.result {
        Err(e) => (&e.error, &e.cause),
        Ok(v) => panic!("expected an error, got {v}"),
    }
}

#[tokio::test]
async fn echo_returns_its_input_and_logs_through_the_host() {
    let input = json!({"order": 42, "items": ["a", "b"], "note": "héllo"}).to_string();
    let outcome = run(guests::ECHO, &input).await;
    assert_eq!(
        output(&outcome),
        &serde_json::from_str::<Value>(&input).expect("json")
    );
    assert_eq!(outcome.logs.len(), 1);
    assert!(
        outcome.logs[0].message.contains("\"Probe\""),
        "{:?}",
        outcome.logs
    );
    assert!(outcome.fuel_consumed.is_some_and(|f| f > 0));
}

#[tokio::test]
async fn every_call_gets_a_fresh_instance_and_its_context() {
    for retry in 0..3 {
        let outcome = sandbox()
            .run(
                &component(guests::COUNTER),
                &Limits::default(),
                &Grants::default(),
                Invocation {
                    task: "counter",
                    input: "null",
                    execution_id: "exec-7",
                    state_name: "Count",
                    retry_count: retry,
                    timeout: None,
                    concurrent: true,
                    output_limit: None,
                },
            )
            .await;
        assert_eq!(
            output(&outcome),
            &json!({"calls": 1, "execution": "exec-7", "state": "Count", "retry": retry})
        );
    }
}

#[tokio::test]
async fn an_infinite_loop_runs_out_of_fuel() {
    let limits = Limits {
        fuel: Some(50_000_000),
        ..Limits::default()
    };
    let outcome = beside(run_with(
        guests::INFINITE_LOOP,
        "{}",
        &limits,
        &Grants::default(),
        None,
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
async fn an_infinite_loop_without_fuel_hits_the_state_deadline() {
    let limits = Limits {
        fuel: None,
        ..Limits::default()
    };
    let outcome = run_with(
        guests::INFINITE_LOOP,
        "{}",
        &limits,
        &Grants::default(),
        Some(Duration::from_millis(200)),
    )
    .await;
    let (name, cause) = error(&outcome);
    assert_eq!(name, names::TIMEOUT);
    // AWS gives a state's TimeoutSeconds running out no cause; the log has the detail.
    assert!(cause.is_empty(), "{cause}");
}

#[tokio::test]
async fn without_a_state_timeout_the_task_default_applies() {
    let limits = Limits {
        fuel: None,
        timeout: Duration::from_millis(150),
        ..Limits::default()
    };
    let outcome = run_with(
        guests::INFINITE_LOOP,
        "{}",
        &limits,
        &Grants::default(),
        None,
    )
    .await;
    let (name, cause) = error(&outcome);
    assert_eq!(name, names::TIMEOUT);
    assert!(
        cause.contains("deadline of 0.15s") && cause.contains("timeout_seconds"),
        "{cause}"
    );
}

#[tokio::test]
async fn a_guest_blocked_in_a_host_call_hits_the_deadline() {
    let outcome = run_with(
        guests::SLEEPER,
        "60000",
        &Limits::default(),
        &Grants::default(),
        Some(Duration::from_millis(200)),
    )
    .await;
    let (name, cause) = error(&outcome);
    assert_eq!(name, names::TIMEOUT);
    assert!(cause.is_empty(), "{cause}");
    // And a short sleep completes.
    let outcome = run(guests::SLEEPER, "1").await;
    assert_eq!(output(&outcome), &json!({"slept": true}));
}

#[test]
fn busy_guests_yield_so_others_progress_on_one_thread() {
    // A current-thread runtime: without time slices the echo call could not
    // even start before every loop had ended.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let ended = Arc::new(AtomicUsize::new(0));
        let limits = Limits {
            fuel: None,
            timeout: Duration::from_secs(2),
            ..Limits::default()
        };
        let mut loops = Vec::new();
        for _ in 0..3 {
            let (ended, limits) = (ended.clone(), limits.clone());
            loops.push(tokio::spawn(async move {
                let outcome = run_with(
                    guests::INFINITE_LOOP,
                    "{}",
                    &limits,
                    &Grants::default(),
                    None,
                )
                .await;
                ended.fetch_add(1, Ordering::SeqCst);
                outcome.result.map_err(|e| e.error)
            }));
        }
        tokio::task::yield_now().await;
        let echo = run(guests::ECHO, "[1]").await;
        assert_eq!(output(&echo), &json!([1]));
        assert_eq!(
            ended.load(Ordering::SeqCst),
            0,
            "echo finished while the loops still ran"
        );
        for l in loops {
            assert_eq!(l.await.expect("joined"), Err(names::TIMEOUT.to_owned()));
        }
    });
}

#[tokio::test]
async fn a_memory_bomb_hits_the_memory_limit() {
    let limits = Limits {
        memory_bytes: 16 << 20,
        ..Limits::default()
    };
    let outcome = beside(run_with(
        guests::MEMORY_BOMB,
        "{}",
        &limits,
        &Grants::default(),
        None,
    ))
    .await;
    let (name, cause) = error(&outcome);
    assert_eq!(name, names::SANDBOX_MEMORY_LIMIT_EXCEEDED);
    assert!(cause.contains("16 MiB"), "{cause}");
}

#[tokio::test]
async fn a_panic_is_a_trap_carrying_its_message() {
    let outcome = beside(run(guests::PANIC_MESSAGE, "\"now\"")).await;
    let (name, cause) = error(&outcome);
    assert_eq!(name, names::SANDBOX_TRAP);
    assert!(cause.contains("unreachable"), "the trap is named: {cause}");
    assert!(
        cause.contains("the sky is falling: \"now\""),
        "the panic message is kept: {cause}"
    );
}

#[tokio::test]
async fn a_task_error_keeps_its_own_name() {
    let outcome = run(guests::TASK_ERROR, "{\"row\":3}").await;
    assert_eq!(
        error(&outcome),
        ("Orders.InvalidRow", "row has no id: {\"row\":3}")
    );
}

#[tokio::test]
async fn output_that_is_not_json_is_invalid_output() {
    let outcome = beside(run(guests::BAD_OUTPUT, "{}")).await;
    let (name, cause) = error(&outcome);
    assert_eq!(name, names::SANDBOX_INVALID_OUTPUT);
    assert!(cause.contains("this is {not json"), "{cause}");
}

#[tokio::test]
async fn a_stdout_flood_completes_and_counts_what_was_dropped() {
    let outcome = beside(run(guests::STDOUT_FLOOD, &(8u64 << 20).to_string())).await;
    assert_eq!(output(&outcome), &json!({"written": 8u64 << 20}));
    assert!(outcome.stdout.written > 8 << 20);
    assert!(outcome.stdout.dropped > 0);
    assert!(outcome.stdout.text.len() < 128 * 1024);
    assert!(
        outcome.stdout.text.ends_with("last line\n"),
        "the tail is kept"
    );
    assert!(outcome.stderr.dropped > 0);
}

/// A directory tree for the file-system probes:
/// `granted/{inside.txt, escape -> ../secret.txt}`, `secret.txt`, `out/`.
pub(crate) struct Tree {
    root: tempfile::TempDir,
}

impl Tree {
    pub(crate) fn new() -> Tree {
        let root = tempfile::tempdir().expect("temp dir");
        let p = root.path();
        std::fs::create_dir(p.join("granted")).expect("mkdir");
        std::fs::create_dir(p.join("out")).expect("mkdir");
        std::fs::write(p.join("granted/inside.txt"), "inside").expect("write");
        std::fs::write(p.join("secret.txt"), "secret").expect("write");
        std::os::unix::fs::symlink("../secret.txt", p.join("granted/escape")).expect("symlink");
        std::os::unix::fs::symlink(p.join("secret.txt"), p.join("granted/absolute"))
            .expect("symlink");
        Tree { root }
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    pub(crate) fn grants(&self) -> Grants {
        Grants {
            dirs: vec![
                DirGrant {
                    guest: "/data".into(),
                    host: self.path("granted"),
                    mode: DirMode::ReadOnly,
                    quota: None,
                },
                DirGrant {
                    guest: "/out".into(),
                    host: self.path("out"),
                    mode: DirMode::ReadWrite,
                    quota: None,
                },
            ],
            ..Grants::default()
        }
    }
}

async fn probe(tree: &Tree, request: Value) -> Value {
    let outcome = run_with(
        guests::FS_PROBE,
        &request.to_string(),
        &Limits::default(),
        &tree.grants(),
        None,
    )
    .await;
    output(&outcome).clone()
}

#[tokio::test]
async fn the_ledger_records_each_call_in_its_grant() {
    let ledger = tempfile::tempdir().expect("a temporary directory");
    let grants = Grants {
        dirs: vec![DirGrant {
            guest: "/ledger".into(),
            host: ledger.path().to_owned(),
            mode: DirMode::ReadWrite,
            quota: None,
        }],
        ..Grants::default()
    };
    for _ in 0..2 {
        let input = json!({"label": "first-1", "n": 1, "ms": 0}).to_string();
        let outcome = run_with(guests::LEDGER, &input, &Limits::default(), &grants, None).await;
        assert_eq!(output(&outcome), &json!({"label": "first-1", "n": 2}));
    }
    let entries: Vec<String> = std::fs::read_dir(ledger.path())
        .expect("the ledger")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert!(
        entries.iter().all(|e| e.starts_with("1.first-1.")),
        "{entries:?}"
    );
}

#[tokio::test]
async fn files_inside_a_grant_are_reachable() {
    let tree = Tree::new();
    let read = probe(&tree, json!({"op": "read", "path": "/data/inside.txt"})).await;
    assert_eq!(read, json!({"ok": true, "content": "inside"}));
    let write = probe(
        &tree,
        json!({"op": "write", "path": "/out/new.txt", "data": "hi"}),
    )
    .await;
    assert_eq!(write["ok"], json!(true), "{write}");
    assert_eq!(
        std::fs::read_to_string(tree.path("out/new.txt")).expect("written"),
        "hi"
    );
}

#[tokio::test]
async fn files_outside_a_grant_are_denied() {
    let tree = Tree::new();
    let secret = tree.path("secret.txt").display().to_string();
    for path in [
        secret.as_str(),
        "/secret.txt",
        "/data/../secret.txt",
        "/data/../../../../etc/passwd",
        "/data/escape",
        "/data/absolute",
        "/etc/passwd",
    ] {
        let read = probe(&tree, json!({"op": "read", "path": path})).await;
        assert_eq!(
            read["ok"],
            json!(false),
            "reading {path:?} must be denied: {read}"
        );
    }
}

#[tokio::test]
async fn a_read_only_grant_cannot_be_written() {
    let tree = Tree::new();
    let write = probe(
        &tree,
        json!({"op": "write", "path": "/data/new.txt", "data": "x"}),
    )
    .await;
    assert_eq!(write["ok"], json!(false), "{write}");
    assert!(!tree.path("granted/new.txt").exists());
    let overwrite = probe(
        &tree,
        json!({"op": "write", "path": "/data/inside.txt", "data": "x"}),
    )
    .await;
    assert_eq!(overwrite["ok"], json!(false), "{overwrite}");
    assert_eq!(
        std::fs::read_to_string(tree.path("granted/inside.txt")).expect("read"),
        "inside"
    );
}

#[tokio::test]
async fn the_host_environment_is_hidden_and_granted_variables_seen() {
    assert!(
        std::env::var_os("PATH").is_some(),
        "the host has an environment to leak"
    );
    let outcome = run(guests::ENV_PROBE, "{}").await;
    assert_eq!(output(&outcome), &json!({"vars": {}, "args": []}));
    let grants = Grants {
        env: vec![("REGION".into(), "eu".into())],
        ..Grants::default()
    };
    let outcome = run_with(guests::ENV_PROBE, "{}", &Limits::default(), &grants, None).await;
    assert_eq!(
        output(&outcome),
        &json!({"vars": {"REGION": "eu"}, "args": []})
    );
}

#[tokio::test]
async fn the_network_is_denied() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("listen");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr").to_string();
    let outcome = beside(run(guests::SOCKET_PROBE, &json!(addr).to_string())).await;
    let report = output(&outcome);
    for what in ["tcp", "udp", "dns"] {
        assert_eq!(
            report[what]["ok"],
            json!(false),
            "{what} must be denied: {report}"
        );
    }
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the guest reached the host: {other:?}"),
    }
}

#[test]
fn a_component_importing_an_unknown_interface_is_refused_at_load() {
    let Err(e) = sandbox().load(Path::new(guests::UNKNOWN_IMPORT)) else {
        panic!("loading must fail")
    };
    let e = format!("{e:#}");
    assert!(
        e.contains("unknown_import.wasm") && e.contains("imports"),
        "{e}"
    );
    assert!(
        e.contains("test:unknown/oracle"),
        "names the missing import: {e}"
    );
}

#[test]
fn a_file_that_is_not_a_component_is_refused_at_load() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("garbage.wasm");
    std::fs::write(&path, b"\0asm garbage").expect("write");
    let Err(e) = sandbox().load(&path) else {
        panic!("loading must fail")
    };
    let e = format!("{e:#}");
    assert!(
        e.contains("garbage.wasm") && e.contains("not a valid WebAssembly component"),
        "{e}"
    );
}

#[test]
fn without_fuel_metering_epochs_end_the_slices() {
    // Fuel off: the engine compiles epoch checks in instead, and a busy
    // guest still yields on a one-thread runtime and stops at its deadline.
    let sandbox = Sandbox::new(&SandboxConfig {
        cache: CacheSetting::Disabled,
        consume_fuel: false,
        ..SandboxConfig::default()
    })
    .expect("the sandbox starts");
    let spin = sandbox
        .load(Path::new(guests::INFINITE_LOOP))
        .expect("loads");
    let echo = sandbox.load(Path::new(guests::ECHO)).expect("loads");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let limits = Limits {
            timeout: Duration::from_millis(500),
            ..Limits::default()
        };
        let looping = {
            let (sandbox, limits) = (sandbox.clone(), limits.clone());
            tokio::spawn(async move {
                let outcome = sandbox
                    .run(&spin, &limits, &Grants::default(), probe_call("{}", None))
                    .await;
                (outcome.result, outcome.fuel_consumed)
            })
        };
        tokio::task::yield_now().await;
        let echoed = sandbox
            .run(
                &echo,
                &Limits::default(),
                &Grants::default(),
                probe_call("[1]", None),
            )
            .await;
        assert_eq!(echoed.result, Ok(json!([1])));
        assert!(!looping.is_finished(), "echo ran while the loop still spun");
        let (result, fuel) = looping.await.expect("joined");
        let error = result.expect_err("a loop never returns");
        assert_eq!(error.error, names::TIMEOUT);
        assert!(error.cause.contains("deadline of 0.5s"), "{error}");
        assert_eq!(fuel, None, "nothing is metered");
    });
}

#[tokio::test]
async fn compiled_components_are_cached_on_disk_and_corrupt_entries_recompiled() {
    let cache = tempfile::tempdir().expect("temp dir");
    // A new engine each time stands for a new process.
    let fresh = || {
        let config = SandboxConfig {
            cache: CacheSetting::Dir(cache.path().to_owned()),
            pooling: false,
            ..SandboxConfig::default()
        };
        Sandbox::new(&config).expect("the sandbox starts")
    };
    let echo = Path::new(guests::ECHO);
    assert_eq!(
        fresh().load(echo).expect("loads").origin(),
        CompileOrigin::Compiled
    );
    assert_eq!(
        fresh().load(echo).expect("loads").origin(),
        CompileOrigin::Cached
    );

    let entries: Vec<_> = std::fs::read_dir(cache.path())
        .expect("cache dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let mut bytes = std::fs::read(&entries[0]).expect("read entry");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&entries[0], &bytes).expect("corrupt");

    let sandbox = fresh();
    let component = sandbox.load(echo).expect("a corrupt entry is not fatal");
    assert_eq!(component.origin(), CompileOrigin::Recompiled);
    let outcome = sandbox
        .run(
            &component,
            &Limits::default(),
            &Grants::default(),
            Invocation {
                task: "echo",
                input: "[true]",
                execution_id: "e",
                state_name: "S",
                retry_count: 0,
                timeout: None,
                concurrent: true,
                output_limit: None,
            },
        )
        .await;
    assert_eq!(output(&outcome), &json!([true]));
    std::fs::write(&entries[0], b"short").expect("truncate");
    assert_eq!(
        fresh().load(echo).expect("loads").origin(),
        CompileOrigin::Recompiled
    );
    assert_eq!(
        fresh().load(echo).expect("loads").origin(),
        CompileOrigin::Cached
    );
}

#[test]
fn without_address_space_for_the_pool_the_sandbox_allocates_on_demand() {
    let config = SandboxConfig {
        cache: CacheSetting::Disabled,
        max_instances: u32::MAX,
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::new(&config).expect("falls back instead of failing");
    assert_eq!(sandbox.allocator(), Allocator::OnDemand);
}

fn manifest(dir: &Path, text: &str) -> Manifest {
    let path = dir.join("sandstep.toml");
    std::fs::write(&path, text).expect("write manifest");
    Manifest::load(&path).expect("valid manifest")
}

#[tokio::test]
async fn the_manifest_maps_resources_to_tasks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let m = manifest(
        dir.path(),
        &format!(
            "[tasks.echo]\ncomponent = {:?}\n[tasks.reject]\ncomponent = {:?}\n[tasks.spin]\ncomponent = {:?}\nfuel = 1_000_000\n",
            guests::ECHO,
            guests::TASK_ERROR,
            guests::INFINITE_LOOP
        ),
    );
    let tasks = WasmTasks::load(&m, sandbox()).expect("loads");
    assert_eq!(
        tasks.names().collect::<Vec<_>>(),
        ["echo", "reject", "spin"]
    );
    for resource in [
        "wasm:echo",
        "arn:aws:lambda:eu-west-1:123456789012:function:echo",
        "arn:aws:lambda:eu-west-1:123456789012:function:echo:live",
    ] {
        assert_eq!(tasks.check_resource(resource), Ok(()), "{resource}");
    }
    let unknown = tasks.check_resource("wasm:ecoh").expect_err("unknown");
    assert!(unknown.contains("did you mean \"echo\"?"), "{unknown}");
    assert!(
        unknown.contains("\"echo\", \"reject\", \"spin\""),
        "{unknown}"
    );
    let unsupported = tasks
        .check_resource("arn:aws:states:::sqs:sendMessage")
        .expect_err("unsupported");
    assert!(unsupported.contains("wasm:NAME"), "{unsupported}");

    let input = json!({"x": 1});
    let call = |resource| TaskCall {
        resource,
        input: &input,
        execution_id: "e",
        state_name: "S",
        attempt: "",
        retry_count: 0,
        timeout: None,
        concurrent: true,
        payload_limit: sandstep_host::engine::DEFAULT_PAYLOAD_LIMIT,
    };
    let echoed = tasks.invoke(call("wasm:echo")).await;
    assert_eq!(echoed.result, Ok(input.clone()));
    let fuel = echoed.usage.and_then(|u| u.fuel_consumed);
    assert!(
        fuel.is_some_and(|f| f > 0),
        "a metered call reports its fuel: {fuel:?}"
    );
    let rejected = tasks
        .invoke(call("arn:aws:lambda:us-east-1:1:function:reject"))
        .await
        .result
        .expect_err("fails");
    assert_eq!(rejected.error, "Orders.InvalidRow");
    let spun = tasks
        .invoke(call("wasm:spin"))
        .await
        .result
        .expect_err("fuel");
    assert_eq!(spun.error, names::TIMEOUT);
    assert!(
        spun.cause.contains("1000000"),
        "the manifest's budget is used: {}",
        spun.cause
    );
}

#[test]
fn a_bad_component_in_the_manifest_names_the_task_and_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let m = manifest(
        dir.path(),
        &format!(
            "[tasks.echo]\ncomponent = {:?}\n[tasks.oracle]\ncomponent = {:?}\n",
            guests::ECHO,
            guests::UNKNOWN_IMPORT
        ),
    );
    let Err(e) = WasmTasks::load(&m, sandbox()) else {
        panic!("loading must fail")
    };
    let e = format!("{e:#}");
    assert!(
        e.contains("task \"oracle\"") && e.contains("unknown_import.wasm"),
        "{e}"
    );
    let m = manifest(dir.path(), "[tasks.gone]\ncomponent = \"missing.wasm\"\n");
    let Err(e) = WasmTasks::load(&m, sandbox()) else {
        panic!("loading must fail")
    };
    let e = format!("{e:#}");
    assert!(
        e.contains("task \"gone\"") && e.contains("missing.wasm"),
        "{e}"
    );
}
