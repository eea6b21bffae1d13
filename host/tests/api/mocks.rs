//! `host serve --mock-config`: `StartExecution` of `stateMachineArn#TestCase`
//! runs a pipeline that calls Glue and SNS end to end from Step Functions
//! Local's mock config.

use crate::server::{Server, code, message};
use crate::settle;

const DEFINITION: &str = r#"{
  "StartAt": "RunGlue",
  "States": {
    "RunGlue": {
      "Type": "Task",
      "Resource": "arn:aws:states:::glue:startJobRun.sync",
      "Parameters": {"JobName": "nightly-etl"},
      "ResultSelector": {"state.$": "$.JobRunState"},
      "Next": "Notify"
    },
    "Notify": {
      "Type": "Task",
      "Resource": "arn:aws:states:::sns:publish",
      "Parameters": {"TopicArn": "arn:aws:sns:us-east-1:123456789012:etl", "Message.$": "$.state"},
      "End": true
    }
  }
}"#;

const MOCKS: &str = r#"{
  "StateMachines": {
    "nightly": {
      "TestCases": {
        "HappyPath": {"RunGlue": "GlueSucceeds", "Notify": "Published"},
        "GlueBusy": {"RunGlue": "GlueThrottled"}
      }
    }
  },
  "MockedResponses": {
    "GlueSucceeds": {"0": {"Return": {"JobRunState": "SUCCEEDED", "JobRunId": "jr_1"}}},
    "Published": {"0": {"Return": {"MessageId": "m-1"}}},
    "GlueThrottled": {"0": {"Throw": {"Error": "Glue.ConcurrentRunsExceededException", "Cause": "too many runs"}}}
  }
}"#;

#[tokio::test(flavor = "multi_thread")]
async fn test_cases_of_a_mock_config_run_glue_and_sns_pipelines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mocks = dir.path().join("mocks.json");
    std::fs::write(&mocks, MOCKS).expect("mock config");
    let server = Server::start(&["--mock-config", mocks.to_str().expect("utf-8")]);
    let client = server.client();
    let machine = client
        .create_state_machine()
        .name("nightly")
        .definition(DEFINITION)
        .role_arn("arn:aws:iam::123456789012:role/x")
        .send()
        .await
        .expect("a definition whose services are mocked is accepted")
        .state_machine_arn()
        .to_owned();

    let happy = client
        .start_execution()
        .state_machine_arn(format!("{machine}#HappyPath"))
        .send()
        .await
        .expect("starts the HappyPath test case");
    let done = settle(&client, happy.execution_arn()).await;
    assert_eq!(done.status().as_str(), "SUCCEEDED", "{done:?}");
    assert_eq!(done.output(), Some(r#"{"MessageId":"m-1"}"#));
    let history = client
        .get_execution_history()
        .execution_arn(happy.execution_arn())
        .send()
        .await
        .expect("history");
    let glue = history
        .events()
        .iter()
        .find_map(|e| e.task_succeeded_event_details())
        .expect("a TaskSucceeded event");
    assert_eq!(glue.resource_type(), "glue");
    assert_eq!(glue.resource(), "startJobRun.sync");

    let busy = client
        .start_execution()
        .state_machine_arn(format!("{machine}#GlueBusy"))
        .send()
        .await
        .expect("starts the GlueBusy test case");
    let failed = settle(&client, busy.execution_arn()).await;
    assert_eq!(failed.status().as_str(), "FAILED");
    assert_eq!(failed.error(), Some("Glue.ConcurrentRunsExceededException"));
    assert_eq!(failed.cause(), Some("too many runs"));

    let e = client
        .start_execution()
        .state_machine_arn(format!("{machine}#NoSuchCase"))
        .send()
        .await
        .expect_err("an unknown test case is refused");
    assert_eq!(code(&e), "ValidationException");
    assert!(message(&e).contains("NoSuchCase"), "{}", message(&e));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_test_case_without_a_mock_config_is_refused() {
    let server = Server::start(&[]);
    let client = server.client();
    let machine = client
        .create_state_machine()
        .name("plain")
        .definition(crate::pass("x"))
        .role_arn("arn:aws:iam::123456789012:role/x")
        .send()
        .await
        .expect("created")
        .state_machine_arn()
        .to_owned();
    let e = client
        .start_execution()
        .state_machine_arn(format!("{machine}#HappyPath"))
        .send()
        .await
        .expect_err("no mock config");
    assert_eq!(code(&e), "ValidationException");
    assert!(message(&e).contains("--mock-config"), "{}", message(&e));
}
