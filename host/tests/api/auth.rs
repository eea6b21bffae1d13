//! Access: requests signed with AWS Signature Version 4 by the keys of a
//! credentials file, each key's tenant isolated from the others.

use std::process::Command;

use crate::server::{Server, client_as, code, message};
use crate::{pass, settle};

const KEY_A: &str = "AKIASANDSTEPTENANTA";
const KEY_B: &str = "AKIASANDSTEPTENANTB";
const SECRET_A: &str = "secret-of-tenant-a/with+symbols=";
const SECRET_B: &str = "secret-of-tenant-b";

/// A credentials file for tenants `team-a` and `team-b`, secrets in files
/// beside it.
fn credentials(dir: &std::path::Path) -> std::path::PathBuf {
    std::fs::write(dir.join("a.secret"), format!("{SECRET_A}\n")).expect("secret a");
    std::fs::write(dir.join("b.secret"), SECRET_B).expect("secret b");
    let path = dir.join("credentials.toml");
    std::fs::write(
        &path,
        format!(
            "[keys.{KEY_A}]\nsecret = {{ file = \"a.secret\" }}\ntenant = \"team-a\"\n\n\
             [keys.{KEY_B}]\nsecret = {{ file = \"b.secret\" }}\ntenant = \"team-b\"\n"
        ),
    )
    .expect("credentials file");
    path
}

/// Creates an Express state machine returning `result`; its ARN.
async fn express(client: &aws_sdk_sfn::Client, name: &str, result: &str) -> String {
    client
        .create_state_machine()
        .name(name)
        .r#type(aws_sdk_sfn::types::StateMachineType::Express)
        .definition(pass(result))
        .role_arn("arn:aws:iam::123456789012:role/x")
        .send()
        .await
        .expect("creates an Express state machine")
        .state_machine_arn()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_requests_are_served_and_tenants_see_only_their_own() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = credentials(dir.path());
    let server = Server::start(&["--credentials", file.to_str().expect("utf-8")]);
    let a = client_as(&server.endpoint(), server.port, KEY_A, SECRET_A);
    let b = client_as(&server.endpoint(), server.port, KEY_B, SECRET_B);

    let machine = a
        .create_state_machine()
        .name("orders")
        .definition(pass("from a"))
        .role_arn("arn:aws:iam::123456789012:role/x")
        .send()
        .await
        .expect("tenant a creates")
        .state_machine_arn()
        .to_owned();
    let execution = a
        .start_execution()
        .state_machine_arn(&machine)
        .name("run-1")
        .send()
        .await
        .expect("tenant a starts")
        .execution_arn()
        .to_owned();
    assert_eq!(settle(&a, &execution).await.output(), Some("\"from a\""));
    // Signed StartSyncExecution goes to the `sync-` host, and is signed for it.
    let quick = express(&a, "quick", "quick a").await;
    let sync = a
        .start_sync_execution()
        .state_machine_arn(&quick)
        .send()
        .await
        .expect("tenant a runs a sync execution");
    assert_eq!(sync.output(), Some("\"quick a\""));

    // Tenant b sees nothing of a's, and cannot touch it.
    let listed = b.list_state_machines().send().await.expect("b lists");
    assert!(listed.state_machines().is_empty(), "{listed:?}");
    let e = b
        .describe_state_machine()
        .state_machine_arn(&machine)
        .send()
        .await
        .expect_err("b cannot describe a's machine");
    assert_eq!(code(&e), "StateMachineDoesNotExist");
    let e = b
        .describe_execution()
        .execution_arn(&execution)
        .send()
        .await
        .expect_err("b cannot describe a's execution");
    assert_eq!(code(&e), "ExecutionDoesNotExist");
    let e = b
        .stop_execution()
        .execution_arn(&execution)
        .send()
        .await
        .expect_err("b cannot stop a's execution");
    assert_eq!(code(&e), "ExecutionDoesNotExist");
    let e = b
        .start_execution()
        .state_machine_arn(&machine)
        .send()
        .await
        .expect_err("b cannot start a's machine");
    assert_eq!(code(&e), "StateMachineDoesNotExist");

    // The same name is b's own machine in b's namespace.
    b.create_state_machine()
        .name("orders")
        .definition(pass("from b"))
        .role_arn("arn:aws:iam::123456789012:role/x")
        .send()
        .await
        .expect("tenant b creates its own");
    assert_eq!(express(&b, "quick", "quick b").await, quick);
    let b_sync = b
        .start_sync_execution()
        .state_machine_arn(&quick)
        .send()
        .await
        .expect("b runs its own quick");
    assert_eq!(b_sync.output(), Some("\"quick b\""));
    let a_runs = a
        .list_executions()
        .state_machine_arn(&machine)
        .send()
        .await
        .expect("a lists");
    assert_eq!(a_runs.executions().len(), 1, "{a_runs:?}");
    let b_runs = b
        .list_executions()
        .state_machine_arn(&machine)
        .send()
        .await
        .expect("b lists");
    assert!(b_runs.executions().is_empty(), "{b_runs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unsigned_unknown_and_badly_signed_requests_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = credentials(dir.path());
    let server = Server::start(&["--credentials", file.to_str().expect("utf-8")]);

    let wrong_secret = client_as(&server.endpoint(), server.port, KEY_A, "not-the-secret");
    let e = wrong_secret
        .list_state_machines()
        .send()
        .await
        .expect_err("a wrong secret is refused");
    assert_eq!(code(&e), "InvalidSignatureException");
    assert!(message(&e).contains("does not match"), "{}", message(&e));

    let unknown = client_as(&server.endpoint(), server.port, "AKIANOBODYKNOWSTHIS", "x");
    let e = unknown
        .list_state_machines()
        .send()
        .await
        .expect_err("an unknown key is refused");
    assert_eq!(code(&e), "UnrecognizedClientException");

    let raw = server.raw(
        "localhost",
        &[
            ("X-Amz-Target", "AWSStepFunctions.ListStateMachines"),
            ("Content-Type", "application/x-amz-json-1.0"),
        ],
        b"{}",
    );
    assert_eq!(raw.status, 400);
    assert_eq!(
        raw.json()["__type"],
        "com.amazon.coral.service#MissingAuthenticationTokenException"
    );
}

#[test]
fn serve_refuses_a_public_address_without_credentials() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_host"))
        .args(["serve", "--listen", "0.0.0.0:0", "--db"])
        .arg(dir.path().join("executions.db"))
        .output()
        .expect("host runs");
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("--credentials"), "{said}");
}

#[test]
fn a_tenant_the_manifest_does_not_declare_stops_the_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = credentials(dir.path());
    let manifest = dir.path().join("sandstep.toml");
    std::fs::write(&manifest, "[tenants.team-a]\nmax_concurrent_tasks = 2\n").expect("manifest");
    let out = Command::new(env!("CARGO_BIN_EXE_host"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("executions.db"))
        .arg("--manifest")
        .arg(&manifest)
        .arg("--credentials")
        .arg(&file)
        .output()
        .expect("host runs");
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("team-b") && said.contains("not declared"),
        "{said}"
    );
}
