//! State machines: Create, Describe, Update, Delete, List, Validate, tags.

use aws_sdk_sfn::types::{StateMachineType, Tag, ValidateStateMachineDefinitionResultCode};

use crate::pass;
use crate::server::{Server, code, message};

#[tokio::test(flavor = "multi_thread")]
async fn state_machines_are_created_described_updated_listed_and_deleted() {
    let server = Server::start(&[]);
    let client = server.client();
    let created = client
        .create_state_machine()
        .name("orders")
        .definition(pass("one"))
        .role_arn("arn:aws:iam::123456789012:role/x")
        .send()
        .await
        .expect("created");
    let arn = created.state_machine_arn().to_owned();
    assert!(arn.ends_with(":stateMachine:orders"), "{arn}");

    // Idempotent for the same definition, refused for another.
    let again = client
        .create_state_machine()
        .name("orders")
        .definition(pass("one"))
        .role_arn("arn:aws:iam::123456789012:role/other")
        .send()
        .await
        .expect("idempotent");
    assert_eq!(again.state_machine_arn(), arn);
    let e = client
        .create_state_machine()
        .name("orders")
        .definition(pass("two"))
        .role_arn("r")
        .send()
        .await
        .expect_err("name taken");
    assert_eq!(code(&e), "StateMachineAlreadyExists");
    assert_eq!(
        message(&e),
        format!("State Machine Already Exists: '{arn}'")
    );

    let described = client
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .expect("described");
    assert_eq!(described.name(), "orders");
    assert_eq!(described.definition(), pass("one"));
    assert_eq!(described.r#type(), &StateMachineType::Standard);
    let revision = described.revision_id().expect("revision").to_owned();

    let updated = client
        .update_state_machine()
        .state_machine_arn(&arn)
        .definition(pass("two"))
        .send()
        .await
        .expect("updated");
    assert_ne!(updated.revision_id(), Some(revision.as_str()));
    let described = client
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .expect("described");
    assert_eq!(described.definition(), pass("two"));
    let e = client
        .update_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .expect_err("nothing to update");
    assert_eq!(code(&e), "MissingRequiredParameter");

    // Pagination: five machines, two per page, each once, in name order.
    for name in ["b", "c", "d", "e"] {
        client
            .create_state_machine()
            .name(name)
            .definition(pass(name))
            .role_arn("r")
            .send()
            .await
            .expect("created");
    }
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_state_machines()
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .expect("listed");
        assert!(page.state_machines().len() <= 2);
        names.extend(page.state_machines().iter().map(|m| m.name().to_owned()));
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names, ["b", "c", "d", "e", "orders"]);
    let e = client
        .list_state_machines()
        .next_token("not-a-token")
        .send()
        .await
        .expect_err("bad token");
    assert_eq!(code(&e), "InvalidToken");

    client
        .delete_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .expect("deleted");
    let e = client
        .describe_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .expect_err("gone");
    assert_eq!(code(&e), "StateMachineDoesNotExist");
    assert_eq!(
        message(&e),
        format!("State Machine Does Not Exist: '{arn}'")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_names_arns_and_definitions_get_aws_errors() {
    let server = Server::start(&[]);
    let client = server.client();
    let e = client
        .create_state_machine()
        .name("has space")
        .definition(pass("x"))
        .role_arn("r")
        .send()
        .await
        .expect_err("bad name");
    assert_eq!(code(&e), "InvalidName");
    assert_eq!(message(&e), "Invalid Name: 'has space'");

    let e = client
        .create_state_machine()
        .name("x")
        .definition(r#"{"StartAt": "Nope", "States": {}}"#)
        .role_arn("r")
        .send()
        .await
        .expect_err("bad definition");
    assert_eq!(code(&e), "InvalidDefinition");
    assert!(
        message(&e).starts_with("Invalid State Machine Definition: '"),
        "{}",
        message(&e)
    );

    // A Task the manifest (none here) does not declare: refused at create.
    let lambda = serde_json::json!({
        "StartAt": "Charge",
        "States": {"Charge": {
            "Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:charge-card",
            "End": true
        }}
    });
    let e = client
        .create_state_machine()
        .name("x")
        .definition(lambda.to_string())
        .role_arn("r")
        .send()
        .await
        .expect_err("unknown task");
    assert_eq!(code(&e), "InvalidDefinition");
    let text = message(&e);
    assert!(text.contains("/States/Charge/Resource"), "{text}");
    assert!(text.contains("charge-card"), "{text}");

    let e = client
        .describe_state_machine()
        .state_machine_arn("not-an-arn")
        .send()
        .await
        .expect_err("bad arn");
    assert_eq!(code(&e), "InvalidArn");
    assert_eq!(message(&e), "Invalid Arn: 'Invalid ARN prefix: not-an-arn'");

    let e = client
        .create_state_machine()
        .name("x".repeat(81))
        .definition(pass("x"))
        .role_arn("r")
        .send()
        .await
        .expect_err("too long");
    assert_eq!(code(&e), "ValidationException");
    assert!(
        message(&e).starts_with("1 validation error detected: Value '"),
        "{}",
        message(&e)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn definitions_are_validated_without_creating_anything() {
    let server = Server::start(&[]);
    let client = server.client();
    let ok = client
        .validate_state_machine_definition()
        .definition(pass("x"))
        .send()
        .await
        .expect("validated");
    assert_eq!(ok.result(), &ValidateStateMachineDefinitionResultCode::Ok);
    assert!(ok.diagnostics().is_empty());
    let bad = client
        .validate_state_machine_definition()
        .definition(r#"{"StartAt": "A", "States": {"A": {"Type": "Pass"}}}"#)
        .send()
        .await
        .expect("validated");
    assert_eq!(
        bad.result(),
        &ValidateStateMachineDefinitionResultCode::Fail
    );
    assert!(!bad.diagnostics().is_empty());
    assert!(bad.diagnostics()[0].location().is_some());
    let listed = client.list_state_machines().send().await.expect("listed");
    assert!(listed.state_machines().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn tags_are_added_listed_and_removed() {
    let server = Server::start(&[]);
    let client = server.client();
    let arn = client
        .create_state_machine()
        .name("tagged")
        .definition(pass("x"))
        .role_arn("r")
        .tags(Tag::builder().key("team").value("data").build())
        .send()
        .await
        .expect("created")
        .state_machine_arn()
        .to_owned();
    client
        .tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("env").value("dev").build())
        .tags(Tag::builder().key("team").value("ops").build())
        .send()
        .await
        .expect("tagged");
    let tags =
        |list: &aws_sdk_sfn::operation::list_tags_for_resource::ListTagsForResourceOutput| {
            list.tags()
                .iter()
                .map(|t| {
                    (
                        t.key().unwrap_or("").to_owned(),
                        t.value().unwrap_or("").to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        };
    let listed = client
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .expect("listed");
    assert_eq!(
        tags(&listed),
        [("env".into(), "dev".into()), ("team".into(), "ops".into())]
    );
    client
        .untag_resource()
        .resource_arn(&arn)
        .tag_keys("env")
        .send()
        .await
        .expect("untagged");
    let listed = client
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .expect("listed");
    assert_eq!(tags(&listed), [("team".into(), "ops".into())]);
    let mut many = client.tag_resource().resource_arn(&arn);
    for i in 0..50 {
        many = many.tags(Tag::builder().key(format!("k{i}")).value("v").build());
    }
    let e = many.send().await.expect_err("51 tags");
    assert_eq!(code(&e), "TooManyTags");
    let e = client
        .list_tags_for_resource()
        .resource_arn(arn.replace("tagged", "missing"))
        .send()
        .await
        .expect_err("no such machine");
    assert_eq!(code(&e), "ResourceNotFound");
}
