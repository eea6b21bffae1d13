use super::*;

#[test]
fn resources_name_their_pattern() {
    assert_eq!(Pattern::of(START_EXECUTION), Some(Pattern::Start));
    assert_eq!(
        Pattern::of("arn:aws:states:::states:startExecution.sync"),
        Some(Pattern::Sync)
    );
    assert_eq!(
        Pattern::of("arn:aws:states:::states:startExecution.sync:2"),
        Some(Pattern::Sync2)
    );
    assert_eq!(Pattern::of(SDK_START_EXECUTION), Some(Pattern::Sdk));
    // The callback pattern belongs to the layer that handles task tokens.
    assert_eq!(
        Pattern::of("arn:aws:states:::states:startExecution.waitForTaskToken"),
        None
    );
    assert_eq!(
        Pattern::of("arn:aws:states:::states:startExecution.sync:3"),
        None
    );
}

#[test]
fn a_child_name_is_the_same_for_the_same_attempt_only() {
    let parent = "arn:aws:states:local:000000000000:execution:p:run-1";
    let first = child_name(parent, "@1.2#0");
    assert_eq!(first, child_name(parent, "@1.2#0"));
    assert_ne!(
        first,
        child_name(parent, "@1.4#0"),
        "a retry is a new child"
    );
    assert_ne!(
        first,
        child_name(parent, "@1.2#1"),
        "a redrive is a new child"
    );
    assert_ne!(first, child_name("arn:other", "@1.2#0"));
    assert!(crate::api::protocol::valid_name(&first), "{first}");
    assert_eq!(
        uuid::Uuid::parse_str(&first).map(|u| u.get_version_num()),
        Ok(5)
    );
}

#[test]
fn input_is_json_or_json_text_and_absent_is_an_empty_object() {
    let read = |v: Value| ChildRequest::read(&v).map(|r| (r.input, r.name));
    let arn = "arn:aws:states:us-east-1:1:stateMachine:c";
    assert_eq!(
        read(json!({"StateMachineArn": arn})).unwrap(),
        (json!({}), None)
    );
    assert_eq!(
        read(json!({"StateMachineArn": arn, "Input": "{\"a\":1}", "Name": "n"})).unwrap(),
        (json!({"a": 1}), Some("n".into()))
    );
    assert_eq!(
        read(json!({"StateMachineArn": arn, "Input": [1]}))
            .unwrap()
            .0,
        json!([1])
    );
    for bad in [
        json!({}),
        json!({"StateMachineArn": 5}),
        json!({"StateMachineArn": arn, "Input": "{oops"}),
        json!({"StateMachineArn": arn, "Name": "has space"}),
        json!([]),
    ] {
        let error = read(bad.clone()).unwrap_err();
        assert_eq!(error.error, names::TASK_FAILED, "{bad}");
    }
}

#[test]
fn service_errors_are_named_as_each_integration_names_them() {
    let refusal = StartError {
        code: "StateMachineDoesNotExist".into(),
        message: "State Machine Does Not Exist: 'x'".into(),
    };
    let optimized = Pattern::Sync.service_error(&refusal);
    assert_eq!(
        optimized.error,
        "StepFunctions.StateMachineDoesNotExistException"
    );
    assert!(optimized.cause.starts_with(
        "State Machine Does Not Exist: 'x' (Service: AWSStepFunctions; Status Code: 400; Error Code: StateMachineDoesNotExist; Request ID: "
    ));
    let sdk = Pattern::Sdk.service_error(&refusal);
    assert_eq!(sdk.error, "Sfn.StateMachineDoesNotExistException");
    assert!(
        sdk.cause
            .contains("(Service: Sfn, Status Code: 400, Request ID: ")
    );
}
