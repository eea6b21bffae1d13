//! The wire protocol as AWS JSON 1.0 clients see it, with raw HTTP.

use crate::server::Server;

const JSON: (&str, &str) = ("content-type", "application/x-amz-json-1.0");

fn target(op: &str) -> String {
    format!("AWSStepFunctions.{op}")
}

#[test]
fn answers_are_aws_json_with_request_ids_and_aws_errors() {
    let server = Server::start(&[]);
    let listed = server.raw(
        "localhost",
        &[JSON, ("x-amz-target", &target("ListStateMachines"))],
        b"{}",
    );
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(
        listed.header("content-type"),
        Some("application/x-amz-json-1.0")
    );
    assert!(
        listed
            .header("x-amzn-requestid")
            .is_some_and(|id| id.len() >= 32)
    );
    assert_eq!(listed.json(), serde_json::json!({"stateMachines": []}));

    let unknown = server.raw(
        "localhost",
        &[JSON, ("x-amz-target", &target("FlyToTheMoon"))],
        b"{}",
    );
    assert_eq!(unknown.status, 400);
    assert!(
        unknown.json()["__type"]
            .as_str()
            .is_some_and(|t| t.ends_with("#UnknownOperationException"))
    );
    assert!(unknown.header("x-amzn-requestid").is_some());

    let malformed = server.raw(
        "localhost",
        &[JSON, ("x-amz-target", &target("ListStateMachines"))],
        b"{\"maxResults\": ",
    );
    assert_eq!(malformed.status, 400);
    assert!(
        malformed.json()["__type"]
            .as_str()
            .is_some_and(|t| t.ends_with("#SerializationException"))
    );

    let too_many = server.raw(
        "localhost",
        &[JSON, ("x-amz-target", &target("ListStateMachines"))],
        br#"{"maxResults": 1001}"#,
    );
    assert_eq!(too_many.status, 400);
    assert_eq!(
        too_many.json(),
        serde_json::json!({
            "__type": "com.amazon.coral.validate#ValidationException",
            "message": "1 validation error detected: Value '1001' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"
        })
    );

    let huge = vec![b' '; 2 * 1024 * 1024];
    let refused = server.raw(
        "localhost",
        &[JSON, ("x-amz-target", &target("ListStateMachines"))],
        &huge,
    );
    assert_eq!(refused.status, 413);
    assert!(refused.body.contains("1048576"), "{}", refused.body);

    // GET / is the console (a page, not an API answer); other methods are not served.
    let console = server.raw_method("GET", "localhost", &[], b"");
    assert_eq!(console.status, 200);
    assert!(console.body.contains("State machines"), "{}", console.body);
    let get = server.raw_method("PUT", "localhost", &[], b"");
    assert_eq!(get.status, 404);
    assert!(get.header("x-amzn-requestid").is_some());
    assert!(
        get.json()["__type"]
            .as_str()
            .is_some_and(|t| t.ends_with("#UnknownOperationException"))
    );

    // The server still serves after all of that.
    let listed = server.raw(
        "localhost",
        &[JSON, ("x-amz-target", &target("ListStateMachines"))],
        b"{}",
    );
    assert_eq!(listed.status, 200);
}

#[test]
fn start_sync_execution_works_through_the_sync_host_prefix() {
    let server = Server::start(&[]);
    let definition = crate::pass("synced");
    let create = serde_json::json!({
        "name": "s", "definition": definition, "roleArn": "r", "type": "EXPRESS"
    });
    let created = server.raw(
        "localhost",
        &[JSON, ("x-amz-target", &target("CreateStateMachine"))],
        create.to_string().as_bytes(),
    );
    assert_eq!(created.status, 200, "{}", created.body);
    let arn = created.json()["stateMachineArn"]
        .as_str()
        .expect("arn")
        .to_owned();
    assert!(created.json()["creationDate"].is_f64() || created.json()["creationDate"].is_u64());
    let host = format!("sync-localhost:{}", server.port);
    let answer = server.raw(
        &host,
        &[JSON, ("x-amz-target", &target("StartSyncExecution"))],
        serde_json::json!({"stateMachineArn": arn})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["status"], "SUCCEEDED");
    assert_eq!(answer.json()["output"], "\"synced\"");
    assert!(answer.json()["startDate"].is_number());
}
