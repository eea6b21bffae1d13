//! Mocked service integrations, in Step Functions Local's mock-config format
//! (`SFN_MOCK_CONFIG`), so a pipeline that calls Glue, SNS or any other
//! service runs end to end offline:
//!
//! ```json
//! {"StateMachines": {"etl": {"TestCases": {"HappyPath": {"Load": "GlueOk"}}}},
//!  "MockedResponses": {"GlueOk": {"0": {"Throw": {"Error": "Glue.Busy", "Cause": "..."}},
//!                                 "1-2": {"Return": {"JobRunState": "SUCCEEDED"}}}}}
//! ```
//!
//! A test case maps state names to mocked responses; each response maps the
//! state's invocation numbers (`"0"`, or an inclusive range `"1-2"`, counted
//! per state across retries and Map iterations, from 0) to a `Return` (the
//! task's result) or a `Throw` (its `Error` and `Cause`). Past the last
//! number given, the last response repeats. A mocked `.sync` or
//! `.waitForTaskToken` task returns its mock at once, as Step Functions
//! Local does (it makes up the token: `TaskRunner::answers_itself` tells
//! the engine not to wait); an activity cannot be mocked. A Task
//! the test case does not mock runs on the wrapped runner.
//!
//! [`MockedTasks`] is a [`TaskRunner`] layer: `host run --mock-config` uses
//! it, and `host serve` can for `stateMachineArn#TestCase`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::Value;

use crate::engine::{TaskCall, TaskFuture, TaskOutcome, TaskRunner};
use crate::errors::AslError;

/// The most invocation numbers a range may cover: a mock file is input,
/// and a range like `0-4000000000` must not become a table that size.
const MAX_INVOCATION: u32 = 1_000_000;

/// A whole mock-config file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockConfig {
    #[serde(rename = "StateMachines", default)]
    state_machines: BTreeMap<String, MockedMachine>,
    #[serde(rename = "MockedResponses", default)]
    mocked_responses: BTreeMap<String, BTreeMap<String, MockStep>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MockedMachine {
    #[serde(rename = "TestCases", default)]
    test_cases: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MockStep {
    #[serde(rename = "Return")]
    ret: Option<Value>,
    #[serde(rename = "Throw")]
    throw: Option<MockThrow>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MockThrow {
    #[serde(rename = "Error", default)]
    error: String,
    #[serde(rename = "Cause", default)]
    cause: String,
}

/// One state's mocked responses: `(first, last, outcome)`, sorted and
/// without gaps from 0.
#[derive(Debug)]
struct Responses(Vec<(u32, u32, Result<Value, AslError>)>);

impl Responses {
    fn at(&self, invocation: u32) -> Result<Value, AslError> {
        let found = self
            .0
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(&invocation))
            .or(self.0.last());
        match found {
            Some((_, _, outcome)) => outcome.clone(),
            None => Err(AslError::new(
                crate::errors::names::TASK_FAILED,
                "the mocked response has no entries",
            )),
        }
    }
}

/// The mocks of one test case: state name → its responses.
#[derive(Debug, Clone)]
pub struct TestCase {
    name: String,
    states: HashMap<String, Arc<Responses>>,
}

impl MockConfig {
    /// Parses and checks a mock-config document; the error names the
    /// field that is wrong and what would be valid.
    pub fn parse(text: &str) -> Result<MockConfig, String> {
        let config: MockConfig =
            serde_json::from_str(text).map_err(|e| format!("not a valid mock config: {e}"))?;
        for (name, steps) in &config.mocked_responses {
            responses(name, steps)?;
        }
        for (machine, mocked) in &config.state_machines {
            for (case, states) in &mocked.test_cases {
                for (state, response) in states {
                    if !config.mocked_responses.contains_key(response) {
                        return Err(format!(
                            "StateMachines.{machine}.TestCases.{case}.{state} names the mocked response '{response}', which MockedResponses does not define"
                        ));
                    }
                }
            }
        }
        Ok(config)
    }

    /// Whether some test case of some state machine mocks a state named `state`.
    pub fn mocks_state(&self, state: &str) -> bool {
        self.state_machines
            .values()
            .any(|m| m.test_cases.values().any(|case| case.contains_key(state)))
    }

    /// The mocks of test case `case` of state machine `machine`.
    pub fn test_case(&self, machine: &str, case: &str) -> Result<TestCase, String> {
        let Some(mocked) = self.state_machines.get(machine) else {
            let known: Vec<&str> = self.state_machines.keys().map(String::as_str).collect();
            return Err(format!(
                "the mock config has no state machine '{machine}' (it has: {}); name it with --state-machine-name",
                known.join(", ")
            ));
        };
        let Some(states) = mocked.test_cases.get(case) else {
            let known: Vec<&str> = mocked.test_cases.keys().map(String::as_str).collect();
            return Err(format!(
                "state machine '{machine}' has no test case '{case}' (it has: {})",
                known.join(", ")
            ));
        };
        let mut mocks = HashMap::new();
        for (state, response) in states {
            let steps = &self.mocked_responses[response];
            mocks.insert(state.clone(), Arc::new(responses(response, steps)?));
        }
        Ok(TestCase {
            name: case.to_owned(),
            states: mocks,
        })
    }
}

/// A mocked response's invocation table, checked: keys `N` or `N-M`, from
/// 0 without gaps or overlaps, each with exactly one of Return or Throw.
fn responses(name: &str, steps: &BTreeMap<String, MockStep>) -> Result<Responses, String> {
    let mut table = Vec::new();
    for (key, step) in steps {
        let (first, last) = match key.split_once('-') {
            Some((a, b)) => (a.trim().parse::<u32>(), b.trim().parse::<u32>()),
            None => (key.trim().parse::<u32>(), key.trim().parse::<u32>()),
        };
        let (Ok(first), Ok(last)) = (first, last) else {
            return Err(format!(
                "MockedResponses.{name}: '{key}' is not an invocation number (\"0\") or range (\"1-2\")"
            ));
        };
        if first > last || last > MAX_INVOCATION {
            return Err(format!(
                "MockedResponses.{name}: the range '{key}' must run upwards and end by {MAX_INVOCATION}"
            ));
        }
        let outcome = match (&step.ret, &step.throw) {
            (Some(value), None) => Ok(value.clone()),
            (None, Some(throw)) => Err(AslError::new(throw.error.clone(), throw.cause.clone())),
            _ => {
                return Err(format!(
                    "MockedResponses.{name}.{key} must hold exactly one of Return or Throw"
                ));
            }
        };
        table.push((first, last, outcome));
    }
    table.sort_by_key(|(first, _, _)| *first);
    let mut expected = 0;
    for (first, last, _) in &table {
        if *first != expected {
            return Err(format!(
                "MockedResponses.{name}: invocation {expected} has no response (numbers count from 0 without gaps or overlaps)"
            ));
        }
        expected = last + 1;
    }
    if table.is_empty() {
        return Err(format!("MockedResponses.{name} has no responses"));
    }
    Ok(Responses(table))
}

/// A [`TaskRunner`] that answers the test case's mocked states and hands
/// every other Task to `inner`.
pub struct MockedTasks {
    inner: Arc<dyn TaskRunner>,
    case: TestCase,
    /// Invocations so far, per mocked state.
    counts: Mutex<HashMap<String, u32>>,
}

impl MockedTasks {
    pub fn new(inner: Arc<dyn TaskRunner>, case: TestCase) -> Self {
        MockedTasks {
            inner,
            case,
            counts: Mutex::new(HashMap::new()),
        }
    }
}

/// Whether `resource` names an activity, which Step Functions Local refuses to mock.
fn is_activity(resource: &str) -> bool {
    resource.starts_with("arn:") && resource.split(':').nth(5) == Some("activity")
}

impl TaskRunner for MockedTasks {
    fn check_resource(&self, resource: &str) -> Result<(), String> {
        self.inner.check_resource(resource)
    }

    fn check_task(&self, state: &str, resource: &str) -> Result<(), String> {
        if !self.case.states.contains_key(state) {
            return self.inner.check_task(state, resource);
        }
        if is_activity(resource) {
            return Err(format!(
                "Activity state cannot be mocked: test case '{}' mocks state '{state}', whose Resource is the activity '{resource}'",
                self.case.name
            ));
        }
        Ok(())
    }

    fn answers_itself(&self, state: &str) -> bool {
        self.case.states.contains_key(state) || self.inner.answers_itself(state)
    }

    fn buckets(&self) -> Option<&crate::objects::Buckets> {
        self.inner.buckets()
    }

    fn invoke<'a>(&'a self, call: TaskCall<'a>) -> TaskFuture<'a> {
        let Some(responses) = self.case.states.get(call.state_name) else {
            return self.inner.invoke(call);
        };
        let invocation = {
            let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
            let count = counts.entry(call.state_name.to_owned()).or_default();
            let this = *count;
            *count = count.saturating_add(1);
            this
        };
        let outcome: TaskOutcome = responses.at(invocation).into();
        Box::pin(async move { outcome })
    }
}

/// Checks Task states for `host serve --mock-config`: a state that a test
/// case mocks may name a service this host cannot run (Glue, SNS, ...),
/// because it runs only through its mocks; other states must be runnable.
/// A start without a test case still refuses such a state before the run.
pub struct MockAwareCheck {
    pub inner: Arc<dyn TaskRunner>,
    pub config: Arc<MockConfig>,
}

impl TaskRunner for MockAwareCheck {
    fn check_resource(&self, resource: &str) -> Result<(), String> {
        self.inner.check_resource(resource)
    }

    fn check_task(&self, state: &str, resource: &str) -> Result<(), String> {
        if self.config.mocks_state(state) && !is_activity(resource) {
            return Ok(());
        }
        self.inner.check_task(state, resource)
    }

    fn answers_itself(&self, state: &str) -> bool {
        self.inner.answers_itself(state)
    }

    fn buckets(&self) -> Option<&crate::objects::Buckets> {
        self.inner.buckets()
    }

    fn invoke<'a>(&'a self, call: TaskCall<'a>) -> TaskFuture<'a> {
        self.inner.invoke(call)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{
        "StateMachines": {"etl": {"TestCases": {"Retry": {"Load": "Flaky"}}}},
        "MockedResponses": {"Flaky": {
            "0": {"Throw": {"Error": "Glue.Busy", "Cause": "try later"}},
            "1-2": {"Return": {"JobRunState": "SUCCEEDED"}}
        }}
    }"#;

    #[test]
    fn responses_follow_invocation_numbers_and_the_last_repeats() {
        let config = MockConfig::parse(CONFIG).expect("valid");
        let case = config.test_case("etl", "Retry").expect("valid");
        let responses = &case.states["Load"];
        assert_eq!(responses.at(0).expect_err("refused").error, "Glue.Busy");
        assert_eq!(responses.at(1).expect("valid")["JobRunState"], "SUCCEEDED");
        assert_eq!(responses.at(2).expect("valid")["JobRunState"], "SUCCEEDED");
        assert_eq!(responses.at(9).expect("valid")["JobRunState"], "SUCCEEDED");
    }

    #[test]
    fn bad_configs_name_what_is_wrong() {
        let gap = r#"{"MockedResponses": {"R": {"0": {"Return": 1}, "2": {"Return": 2}}}}"#;
        assert!(
            MockConfig::parse(gap)
                .expect_err("refused")
                .contains("invocation 1 has no response")
        );
        let both = r#"{"MockedResponses": {"R": {"0": {"Return": 1, "Throw": {"Error": "E"}}}}}"#;
        assert!(
            MockConfig::parse(both)
                .expect_err("refused")
                .contains("exactly one of Return or Throw")
        );
        let unknown = r#"{"StateMachines": {"m": {"TestCases": {"c": {"S": "Nope"}}}}}"#;
        assert!(
            MockConfig::parse(unknown)
                .expect_err("refused")
                .contains("'Nope'")
        );
        let huge = r#"{"MockedResponses": {"R": {"0-4000000000": {"Return": 1}}}}"#;
        assert!(MockConfig::parse(huge).is_err());
        let config = MockConfig::parse(CONFIG).expect("valid");
        assert!(
            config
                .test_case("etl", "Nope")
                .expect_err("refused")
                .contains("Retry")
        );
        assert!(
            config
                .test_case("other", "Retry")
                .expect_err("refused")
                .contains("etl")
        );
    }

    #[test]
    fn an_activity_cannot_be_mocked_and_unmocked_states_go_to_the_inner_runner() {
        let config = MockConfig::parse(
            r#"{"StateMachines": {"m": {"TestCases": {"c": {"Work": "R"}}}},
                "MockedResponses": {"R": {"0": {"Return": {}}}}}"#,
        )
        .expect("valid");
        let tasks = MockedTasks::new(
            Arc::new(crate::engine::NoTasks),
            config.test_case("m", "c").expect("valid"),
        );
        let activity = "arn:aws:states:us-east-1:123456789012:activity:worker";
        assert!(
            tasks
                .check_task("Work", activity)
                .expect_err("refused")
                .contains("Activity state cannot be mocked")
        );
        assert!(
            tasks
                .check_task("Work", "arn:aws:states:::sns:publish")
                .is_ok()
        );
        assert!(
            tasks
                .check_task("Other", "arn:aws:states:::sns:publish")
                .is_err()
        );
    }
}
