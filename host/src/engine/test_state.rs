//! TestState: one state run alone, as AWS's `TestState` operation runs it.
//!
//! The request and response are the API's own members (camelCase, JSON
//! values as text), so `host serve` can pass them through unchanged. The
//! state runs on the engine's interpreter (see `run/test_state.rs`); a
//! `mock` stands in for the work of a Task, Parallel or Map, and
//! `stateConfiguration` for what earlier attempts or iterations did.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::Engine;
use super::context::ExecutionInfo;
use super::history::format_timestamp;
use crate::asl::model::{StateKind, StateMachine};
use crate::errors::AslError;

/// The name AWS gives a state tested on its own (it shows in `$$.State.Name`).
pub const SINGLE_STATE_NAME: &str = "StateName";

/// The most characters of a definition, as the API's `definition` member.
const MAX_DEFINITION_CHARS: usize = 1_048_576;

/// The most characters of the JSON members (`input`, `variables`,
/// `context`, `mock.result`), as the API bounds them.
const MAX_JSON_MEMBER_CHARS: usize = 262_144;

/// A `TestState` request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestStateRequest {
    /// One state, or (with `state_name`) a whole state machine, as JSON text.
    pub definition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// The state's input as JSON text; absent means `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inspection_level: Option<InspectionLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reveal_secrets: Option<bool>,
    /// Workflow variables in scope, a JSON object as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mock: Option<MockInput>,
    /// The context object (`$$`), a JSON object as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_configuration: Option<StateConfiguration>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum InspectionLevel {
    #[default]
    Info,
    Debug,
    Trace,
}

/// What stands in for a Task's, Parallel's or Map's work.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MockInput {
    /// The result, JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_output: Option<MockErrorOutput>,
    /// STRICT | PRESENT | NONE: how the result is checked against the
    /// service's response shape (only NONE is enforced here: no shapes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_validation_mode: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MockErrorOutput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// What earlier attempts and iterations did, as if the state ran in a machine.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateConfiguration {
    /// How many retries already happened (`$$.State.RetryCount`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retrier_retry_count: Option<u32>,
    /// The state inside a Map or Parallel that raised the mocked error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_caused_by_state: Option<String>,
    /// How many iterations of the Map failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_iteration_failure_count: Option<u64>,
    /// The items a Map's ItemReader would have read, JSON text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_item_reader_data: Option<String>,
}

/// A `TestState` response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestStateResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inspection_data: Option<InspectionData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_state: Option<String>,
    pub status: TestStatus,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TestStatus {
    #[default]
    Succeeded,
    Failed,
    Retriable,
    CaughtError,
}

/// The state's data at each step of its processing (DEBUG and TRACE).
/// JSON values are text, as on the wire.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InspectionData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_arguments: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_input_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_parameters: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_result_selector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_result_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_items_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_item_selector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerated_failure_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerated_failure_percentage: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_details: Option<ErrorDetails>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catch_index: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_index: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_backoff_interval_seconds: Option<u64>,
}

/// A request AWS refuses: `ValidationException` (or `InvalidDefinition`)
/// with AWS's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct TestStateError {
    /// `ValidationException` or `InvalidDefinition`.
    pub code: &'static str,
    pub message: String,
}

impl TestStateError {
    fn validation(message: impl Into<String>) -> Self {
        TestStateError {
            code: "ValidationException",
            message: message.into(),
        }
    }
}

/// The checked request, ready for the interpreter.
pub(crate) struct Prepared {
    pub machine: StateMachine,
    pub state: usize,
    pub input: Value,
    pub variables: Map<String, Value>,
    pub mock: Option<Result<Value, AslError>>,
    pub config: StateConfiguration,
    pub level: InspectionLevel,
}

impl Engine {
    /// Runs one state as AWS's `TestState` does. A request AWS would refuse
    /// is an `Err` with AWS's message; anything the state does (fail, be
    /// caught, ask for a retry) is in the response.
    pub async fn test_state(
        &self,
        request: &TestStateRequest,
    ) -> Result<TestStateResponse, TestStateError> {
        let prepared = prepare(request)?;
        let context = match &request.context {
            Some(text) => Some(json_member(text, "context")?),
            None => None,
        };
        let state = &prepared.machine.states[prepared.state];
        let retry_count = matches!(
            state.kind,
            StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_)
        )
        .then(|| prepared.config.retrier_retry_count.unwrap_or(0));
        // TestState runs the state in an Express execution of its own; its
        // `$$` has none of the redrive members.
        let now = format_timestamp(self.now());
        let name = uuid::Uuid::new_v4().to_string();
        let machine_name = uuid::Uuid::new_v4().to_string();
        let arn = super::execution_arn(super::ExecutionType::Express, &machine_name, &name);
        let state_machine_arn = super::state_machine_arn(&machine_name);
        let role_arn = request
            .role_arn
            .clone()
            .unwrap_or_else(|| "arn:aws:iam::000000000000:role/sandstep".into());
        let context = context.unwrap_or_else(|| {
            let mut state_context = json!({"Name": state.name, "EnteredTime": now});
            if let (Some(count), Some(object)) = (retry_count, state_context.as_object_mut()) {
                object.insert("RetryCount".into(), json!(count));
            }
            json!({
                "Execution": {
                    "Id": arn,
                    "Input": prepared.input,
                    "Name": name,
                    "RoleArn": role_arn,
                    "StartTime": now,
                },
                "StateMachine": {"Id": state_machine_arn, "Name": machine_name},
                "State": state_context,
            })
        });
        let info = ExecutionInfo {
            arn,
            name,
            input: Some(prepared.input.clone()),
            start_time: now,
            role_arn,
            state_machine_arn,
            state_machine_name: machine_name,
            redrive_count: 0,
            redrive_time: None,
            context: Some(context),
        };
        Ok(super::run::test_state(self, info, prepared).await)
    }
}

/// AWS's refusal of a member longer than `most` characters.
fn check_length(member: &str, text: Option<&str>, most: usize) -> Result<(), TestStateError> {
    match text {
        Some(text) if text.chars().count() > most => Err(TestStateError::validation(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length less than or equal to {most}"
        ))),
        _ => Ok(()),
    }
}

/// Checks the request as AWS does and compiles the state.
pub(crate) fn prepare(request: &TestStateRequest) -> Result<Prepared, TestStateError> {
    check_length(
        "definition",
        Some(&request.definition),
        MAX_DEFINITION_CHARS,
    )?;
    check_length("input", request.input.as_deref(), MAX_JSON_MEMBER_CHARS)?;
    check_length(
        "variables",
        request.variables.as_deref(),
        MAX_JSON_MEMBER_CHARS,
    )?;
    check_length("context", request.context.as_deref(), MAX_JSON_MEMBER_CHARS)?;
    let mock_result = request.mock.as_ref().and_then(|m| m.result.as_deref());
    check_length("mock.result", mock_result, MAX_JSON_MEMBER_CHARS)?;
    let definition = json_member(&request.definition, "definition")?;
    let (machine_json, state_name) = match &request.state_name {
        Some(name) => (definition, name.clone()),
        None => (single_state_machine(definition)?, SINGLE_STATE_NAME.into()),
    };
    let machine = crate::asl::parse(&machine_json).map_err(|problems| {
        let details: Vec<String> = problems
            .iter()
            .map(|p| match &p.location {
                Some(location) => format!("{}: {} at {location}", p.code, p.message),
                None => format!("{}: {}", p.code, p.message),
            })
            .collect();
        TestStateError {
            code: "InvalidDefinition",
            message: format!("Invalid State Machine Definition: '{}'", details.join(", ")),
        }
    })?;
    let Some(state) = machine.states.iter().position(|s| s.name == state_name) else {
        return Err(TestStateError::validation(format!(
            "State with name '{state_name}' not found in the state machine definition."
        )));
    };
    let input = match &request.input {
        Some(text) => json_member(text, "input")?,
        None => json!({}),
    };
    let variables = match &request.variables {
        Some(text) => match json_member(text, "variables")? {
            Value::Object(vars) => vars,
            _ => {
                return Err(TestStateError::validation(
                    "Variables must be a JSON object.",
                ));
            }
        },
        None => Map::new(),
    };
    let kind = &machine.states[state].kind;
    let mock = match &request.mock {
        None => None,
        Some(mock) => Some(check_mock(mock, kind)?),
    };
    if request.context.is_some() && mock.is_none() {
        return Err(TestStateError::validation(
            "A context object can only be specified when a mock is specified.",
        ));
    }
    let config = request.state_configuration.clone().unwrap_or_default();
    if config.map_iteration_failure_count.is_some() && !matches!(kind, StateKind::Map(_)) {
        return Err(TestStateError::validation(
            "mapIterationFailureCount can only be specified for Map states.",
        ));
    }
    Ok(Prepared {
        machine,
        state,
        input,
        variables,
        mock,
        config,
        level: request.inspection_level.unwrap_or_default(),
    })
}

fn check_mock(
    mock: &MockInput,
    kind: &StateKind,
) -> Result<Result<Value, AslError>, TestStateError> {
    let type_name = match kind {
        StateKind::Pass { .. } => Some("Pass"),
        StateKind::Wait(_) => Some("Wait"),
        StateKind::Choice { .. } => Some("Choice"),
        StateKind::Succeed => Some("Succeed"),
        StateKind::Fail { .. } => Some("Fail"),
        _ => None,
    };
    if let Some(type_name) = type_name {
        return Err(TestStateError::validation(format!(
            "State type '{type_name}' is not supported when a mock is specified"
        )));
    }
    match (&mock.result, &mock.error_output) {
        (Some(result), None) => {
            let value = json_member(result, "mock.result")?;
            if let (StateKind::Parallel { branches }, Value::Array(items)) = (kind, &value)
                && items.len() != branches.len()
            {
                return Err(TestStateError::validation(
                    "Mocked result must contain the same number of items as number of Parallel branches.",
                ));
            }
            Ok(Ok(value))
        }
        (None, Some(error)) => Ok(Err(AslError::new(
            error.error.clone().unwrap_or_default(),
            error.cause.clone().unwrap_or_default(),
        ))),
        _ => Err(TestStateError::validation(
            "A test mock should have only one of the following fields: [result, errorOutput].",
        )),
    }
}

/// A member that holds JSON text, parsed, or AWS's refusal naming it.
fn json_member(text: &str, member: &str) -> Result<Value, TestStateError> {
    serde_json::from_str(text)
        .map_err(|e| TestStateError::validation(format!("Invalid JSON in '{member}': {e}")))
}

/// A one-state machine around `state`: each state it may move to is a
/// placeholder `Succeed`, so the definition validates as AWS validates it.
fn single_state_machine(state: Value) -> Result<Value, TestStateError> {
    let Value::Object(object) = &state else {
        return Err(TestStateError::validation(
            "The definition must be a JSON object describing one state.",
        ));
    };
    let mut targets: Vec<String> = Vec::new();
    let mut add = |value: Option<&Value>| {
        if let Some(Value::String(name)) = value
            && name != SINGLE_STATE_NAME
            && !targets.contains(name)
        {
            targets.push(name.clone());
        }
    };
    add(object.get("Next"));
    add(object.get("Default"));
    for list in ["Choices", "Catch"] {
        if let Some(Value::Array(items)) = object.get(list) {
            for item in items {
                add(item.get("Next"));
            }
        }
    }
    let mut states = Map::new();
    states.insert(SINGLE_STATE_NAME.into(), state.clone());
    for target in targets {
        states.insert(target, json!({"Type": "Succeed"}));
    }
    let mut machine = json!({"StartAt": SINGLE_STATE_NAME, "States": states});
    // A state's QueryLanguage must not be JSONPath under a JSONata machine:
    // the machine takes the state's own.
    if let (Some(language), Some(root)) = (object.get("QueryLanguage"), machine.as_object_mut()) {
        root.insert("QueryLanguage".into(), language.clone());
    }
    Ok(machine)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(definition: &str) -> TestStateRequest {
        TestStateRequest {
            definition: definition.into(),
            ..Default::default()
        }
    }

    #[test]
    fn oversized_members_are_refused_before_any_parse() {
        let mut big = request(r#"{"Type": "Pass", "End": true}"#);
        big.input = Some(format!("\"{}\"", "a".repeat(MAX_JSON_MEMBER_CHARS)));
        let refused = prepare(&big).err().expect("refused");
        assert_eq!(refused.code, "ValidationException");
        assert!(
            refused.message.contains("Value at 'input'"),
            "{}",
            refused.message
        );
        let huge = request(&" ".repeat(MAX_DEFINITION_CHARS + 1));
        let refused = prepare(&huge).err().expect("refused");
        assert!(refused.message.contains("Value at 'definition'"));
    }

    #[test]
    fn bad_requests_get_aws_messages() {
        let not_json = request("{");
        assert!(
            prepare(&not_json)
                .err()
                .expect("refused")
                .message
                .contains("'definition'")
        );
        let mut both =
            request(r#"{"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "End": true}"#);
        both.mock = Some(MockInput {
            result: Some("{}".into()),
            error_output: Some(MockErrorOutput::default()),
            field_validation_mode: None,
        });
        assert_eq!(
            prepare(&both).err().expect("refused").message,
            "A test mock should have only one of the following fields: [result, errorOutput]."
        );
        let mut missing = request(r#"{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}"#);
        missing.state_name = Some("B".into());
        assert!(
            prepare(&missing)
                .err()
                .expect("refused")
                .message
                .contains("'B'")
        );
        let mut context_alone = request(r#"{"Type": "Pass", "End": true}"#);
        context_alone.context = Some("{}".into());
        assert!(prepare(&context_alone).is_err());
    }
}
