//! Task states: `Resource` (only its Express compatibility; what it names
//! is the engine's business), timeouts, heartbeats and `Credentials`.

use serde_json::Value;

use super::paths::{self, Roots};
use super::query_language::{self, Lang};
use super::values::{self, MAX_SECONDS};
use super::{Checker, Loc, MachineType, StateCx};

/// Task: `Resource`, timeouts, heartbeats, credentials.
pub(crate) fn check(ch: &mut Checker, cx: &StateCx<'_>) {
    match cx.get("Resource") {
        None => ch.schema(
            &cx.loc,
            "The field 'Resource' is required but was missing: it names the task to run",
        ),
        Some(value) => {
            if let Some(resource) = values::string(ch, &cx.at("Resource"), "Resource", value)
                && ch.machine_type == MachineType::Express
            {
                express_resource(ch, &cx.at("Resource"), resource);
            }
        }
    }
    let mut timeout = None;
    let mut heartbeat = None;
    values::exclusive(ch, cx, &["TimeoutSeconds", "TimeoutSecondsPath"]);
    values::exclusive(ch, cx, &["HeartbeatSeconds", "HeartbeatSecondsPath"]);
    for key in [
        "TimeoutSeconds",
        "HeartbeatSeconds",
        "TimeoutSecondsPath",
        "HeartbeatSecondsPath",
    ] {
        let Some(value) = cx.get(key) else { continue };
        let loc = cx.at(key);
        match key {
            "TimeoutSeconds" => {
                timeout = values::integer_or_expression(ch, cx, &loc, key, value, 1, MAX_SECONDS)
            }
            "HeartbeatSeconds" => {
                heartbeat = values::integer_or_expression(ch, cx, &loc, key, value, 1, MAX_SECONDS)
            }
            _ => values::reference_path_field(ch, &loc, key, value, Roots::NO_CONTEXT),
        }
    }
    if let (Some(timeout), Some(heartbeat)) = (timeout, heartbeat)
        && heartbeat >= timeout
    {
        ch.schema(
            &cx.at("HeartbeatSeconds"),
            format!(
                "Field 'HeartbeatSeconds' is {heartbeat}; it must be smaller than \
                 'TimeoutSeconds' ({timeout})"
            ),
        );
    }
    if let Some(value) = cx.get("Credentials") {
        credentials(ch, cx, &cx.at("Credentials"), value);
    }
}

/// Express machines refuse the callback and run-a-job patterns and
/// activities (checklist TASK-12; AWS's words, trailing space included).
fn express_resource(ch: &mut Checker, loc: &Loc, resource: &str) {
    let message = if resource.ends_with(".waitForTaskToken") {
        Some("Express state machine does not support '.waitForTaskToken' service integration ")
    } else if resource.ends_with(".sync") || resource.contains(".sync:") {
        Some("Express state machine does not support '.sync' service integration ")
    } else if resource.starts_with("arn:") && resource.contains(":activity:") {
        Some("Express state machine does not support Activity ARN")
    } else {
        None
    };
    if let Some(message) = message {
        ch.schema(loc, message);
    }
}

/// `Credentials`: an object naming the role to assume (checklist TASK-13).
fn credentials(ch: &mut Checker, cx: &StateCx<'_>, loc: &Loc, value: &Value) {
    let Some(obj) = values::object(ch, loc, "Credentials", value) else {
        return;
    };
    match cx.lang {
        Lang::JsonPath => {
            if !obj.contains_key("RoleArn") && !obj.contains_key("RoleArn.$") {
                ch.schema(loc, "The field 'RoleArn' is required but was missing");
            }
            paths::jsonpath_template(ch, loc, value);
        }
        Lang::Jsonata => match obj.get("RoleArn") {
            None => ch.schema(loc, "The field 'RoleArn' is required but was missing"),
            Some(role) => {
                if let Some(s) = values::string(ch, &loc.key("RoleArn"), "RoleArn", role) {
                    query_language::jsonata_string(ch, &loc.key("RoleArn"), s);
                }
            }
        },
    }
}
