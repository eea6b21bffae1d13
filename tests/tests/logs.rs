//! What the host logs about a hostile guest: every refusal, with the task's
//! name, a bounded number of lines per call, escaped guest text, and never a
//! secret's value. A test binary of its own because it
//! installs a `tracing` subscriber: in the shared `all` binary, tests running
//! at the same time race with the subscriber's registration (tracing caches
//! each call site's interest process-wide), which makes the check flaky.

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use sandstep_host::engine::TaskCall;
use sandstep_host::resources::{Manifest, WasmTasks};
use sandstep_host::sandbox::{
    CacheSetting, DirGrant, DirMode, Grants, Invocation, LOGGED_PER_KIND, Limits, NetRule, Sandbox,
    SandboxConfig,
};
use sandstep_tests::guests;

const SECRET: &str = "s3cr3t-value-0f-the-api-key";

/// Everything logged (at every level) while the guard lives.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .expect("not poisoned")
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn start() -> (Captured, tracing::subscriber::DefaultGuard) {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("not poisoned")).into_owned()
    }
}

async fn probe(sandbox: &Sandbox, guest: &str, grants: &Grants, request: Value) -> Value {
    let component = sandbox.load(Path::new(guest)).expect("the guest loads");
    let input = request.to_string();
    let invocation = Invocation {
        task: "probe",
        input: &input,
        execution_id: "e",
        state_name: "S",
        retry_count: 0,
        timeout: None,
        concurrent: true,
        output_limit: None,
    };
    let outcome = sandbox
        .run(&component, &Limits::default(), grants, invocation)
        .await;
    outcome.result.expect("the probe reports")
}

#[tokio::test]
async fn refusals_are_logged_with_the_task_and_secrets_never_are() {
    // A current-thread runtime: the guest's calls run on this thread, where
    // the subscriber is installed.
    let (logs, _guard) = Captured::start();
    let sandbox = Sandbox::new(&SandboxConfig {
        cache: CacheSetting::Disabled,
        pooling: false,
        ..SandboxConfig::default()
    })
    .expect("the sandbox starts");

    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("ro")).expect("mkdir");
    let read_only = Grants {
        dirs: vec![DirGrant {
            guest: "/data".into(),
            host: dir.path().join("ro"),
            mode: DirMode::ReadOnly,
            quota: None,
        }],
        ..Grants::default()
    };
    for request in [
        json!({"op": "write", "path": "/data/new.txt", "data": "x"}),
        json!({"op": "read", "path": "/data/../key.txt"}),
    ] {
        let report = probe(&sandbox, guests::FS_PROBE, &read_only, request).await;
        assert_eq!(report["ok"], json!(false), "{report}");
    }
    let net = Grants {
        net: vec!["127.0.0.1:9".parse::<NetRule>().expect("pattern")],
        ..Grants::default()
    };
    let request = json!({"tcp": "127.0.0.1:10", "dns": "exfiltrate.example.com"});
    let report = probe(&sandbox, guests::SOCKET_PROBE, &net, request).await;
    assert_eq!(
        (report["tcp"]["ok"].clone(), report["dns"]["ok"].clone()),
        (json!(false), json!(false))
    );

    std::fs::write(dir.path().join("key.txt"), SECRET).expect("key file");
    let path = dir.path().join("sandstep.toml");
    std::fs::write(
        &path,
        format!(
            "[tasks.leak]\ncomponent = {:?}\n[tasks.leak.secrets]\nAPI_KEY = {{ file = \"key.txt\" }}\n",
            guests::SECRET_LEAK
        ),
    )
    .expect("manifest");
    let manifest = Manifest::load(&path).expect("valid");
    let tasks = WasmTasks::load(&manifest, &sandbox).expect("loads");
    let input = json!({"var": "API_KEY"});
    let call = TaskCall {
        resource: "wasm:leak",
        input: &input,
        execution_id: "e",
        state_name: "S",
        attempt: "",
        retry_count: 0,
        timeout: None,
        concurrent: true,
        payload_limit: sandstep_host::engine::DEFAULT_PAYLOAD_LIMIT,
    };
    let leak = tasks.run(&call).await;
    assert_eq!(leak.result.expect("returns")["found"], json!(true));

    let text = logs.text();
    for expected in [
        "refused a file-system operation",
        "error=not-permitted",
        "path=\"new.txt\"",
        "path=\"../key.txt\"",
        "refused a socket operation",
        "127.0.0.1:10",
        "refused a DNS lookup",
        "exfiltrate.example.com",
        "task=\"probe\"",
        "the key is [redacted API_KEY]",
        "stdout: [redacted API_KEY]",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} is not in the log:\n{text}"
        );
    }
    assert!(
        !text.contains(SECRET),
        "the secret reached the log:\n{text}"
    );
}

fn read_only(dir: &Path) -> Grants {
    std::fs::create_dir_all(dir.join("ro")).expect("mkdir");
    Grants {
        dirs: vec![DirGrant {
            guest: "/data".into(),
            host: dir.join("ro"),
            mode: DirMode::ReadOnly,
            quota: None,
        }],
        ..Grants::default()
    }
}

#[tokio::test]
async fn a_refusal_flood_logs_a_few_lines_and_a_summary() {
    let (logs, _guard) = Captured::start();
    let sandbox = Sandbox::new(&SandboxConfig {
        cache: CacheSetting::Disabled,
        pooling: false,
        ..SandboxConfig::default()
    })
    .expect("the sandbox starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let steps: Vec<Value> = (0..500)
        .map(|_| json!({"op": "read", "path": "/data/../key.txt"}))
        .collect();
    let report = probe(
        &sandbox,
        guests::FS_PROBE,
        &read_only(dir.path()),
        json!({"op": "script", "steps": steps}),
    )
    .await;
    assert_eq!(report["steps"][499]["ok"], json!(false), "{report}");
    let text = logs.text();
    let lines = text
        .lines()
        .filter(|l| l.contains("refused a file-system operation"))
        .count() as u64;
    assert_eq!(lines, LOGGED_PER_KIND, "{text}");
    let more = 500 - LOGGED_PER_KIND;
    assert!(
        text.contains(&format!("and {more} more refusals of this kind")),
        "{text}"
    );
}

#[tokio::test]
async fn guest_text_cannot_forge_a_log_line_or_reach_the_terminal() {
    let (logs, _guard) = Captured::start();
    let sandbox = Sandbox::new(&SandboxConfig {
        cache: CacheSetting::Disabled,
        pooling: false,
        ..SandboxConfig::default()
    })
    .expect("the sandbox starts");
    // A log line with a newline and an escape sequence.
    let forged = r#""ok\nERROR sandstep::sandbox: forged by the guest\u001b[2J""#;
    let component = sandbox
        .load(Path::new(guests::LOG_FLOOD))
        .expect("the guest loads");
    let outcome = sandbox
        .run(
            &component,
            &Limits::default(),
            &Grants::default(),
            Invocation {
                task: "probe",
                input: forged,
                execution_id: "e",
                state_name: "S",
                retry_count: 0,
                timeout: None,
                concurrent: true,
                output_limit: None,
            },
        )
        .await;
    assert_eq!(outcome.result.expect("logs"), json!({"logged": 1}));
    // The call keeps the task's own text; the host's log line is escaped.
    assert!(outcome.logs[0].message.contains('\n'));

    // Refused paths and captured stderr, as a task run through the manifest.
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("ro")).expect("mkdir");
    let path = dir.path().join("sandstep.toml");
    std::fs::write(
        &path,
        format!(
            "[tasks.probe]\ncomponent = {:?}\ndirs = [{{ guest = \"/data\", host = \"ro\" }}]\n",
            guests::FS_PROBE
        ),
    )
    .expect("manifest");
    let tasks = WasmTasks::load(&Manifest::load(&path).expect("valid"), &sandbox).expect("loads");
    for input in [
        json!({"op": "write", "path": "/data/x\nERROR sandstep::sandbox: forged path\u{1b}[2J", "data": "x"}),
        json!({"op": "nope\nERROR sandstep::task: forged stderr\u{1b}]0;title\u{7}"}),
    ] {
        let call = TaskCall {
            resource: "wasm:probe",
            input: &input,
            execution_id: "e",
            state_name: "S",
            attempt: "",
            retry_count: 0,
            timeout: None,
            concurrent: true,
            payload_limit: sandstep_host::engine::DEFAULT_PAYLOAD_LIMIT,
        };
        let outcome = tasks.run(&call).await;
        assert_eq!(outcome.result.expect("reports")["ok"], json!(false));
    }

    let text = logs.text();
    for needle in ["forged by the guest", "forged path", "forged stderr"] {
        assert!(
            text.contains(needle),
            "{needle:?} was not logged at all:\n{text}"
        );
    }
    for line in text.lines() {
        assert!(
            !line.starts_with("ERROR sandstep"),
            "a guest forged a log line: {line:?}\n{text}"
        );
    }
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "a control character reached the log:\n{text}"
    );
}

#[tokio::test]
async fn a_refused_stat_is_logged_like_every_refusal() {
    let (logs, _guard) = Captured::start();
    let sandbox = Sandbox::new(&SandboxConfig {
        cache: CacheSetting::Disabled,
        pooling: false,
        ..SandboxConfig::default()
    })
    .expect("the sandbox starts");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("key.txt"), "k").expect("key");
    let report = probe(
        &sandbox,
        guests::FS_PROBE,
        &read_only(dir.path()),
        json!({"op": "stat", "path": "/data/../key.txt"}),
    )
    .await;
    assert_eq!(report["ok"], json!(false), "{report}");
    let text = logs.text();
    assert!(
        text.lines()
            .any(|l| l.contains("refused a file-system operation") && l.contains("op=\"stat\"")),
        "{text}"
    );
}
