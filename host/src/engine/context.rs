//! The context object (`$$`): what an execution knows about itself.

use serde_json::{Map, Value, json};

/// Fixed facts of one execution.
#[derive(Debug, Clone)]
pub struct ExecutionInfo {
    pub arn: String,
    pub name: String,
    /// `None` when the definition never reads the context object
    /// ([`StateMachine::reads_context`](crate::asl::StateMachine::reads_context)).
    pub input: Option<Value>,
    pub start_time: String,
    pub role_arn: String,
    pub state_machine_arn: String,
    pub state_machine_name: String,
    pub redrive_count: u32,
    /// When the execution was last redriven.
    pub redrive_time: Option<String>,
    /// A `$$` given whole (TestState's `context`): it replaces the built one.
    pub context: Option<Value>,
}

/// The current Map item, visible to the Map's `ItemSelector` as `$$.Map.Item`.
#[derive(Debug, Clone, Copy)]
pub struct MapItem<'a> {
    pub index: usize,
    pub value: &'a Value,
}

/// Builds `$$` for a state. Called lazily: only expressions that read `$$` pay.
pub fn build(
    execution: &ExecutionInfo,
    state_name: &str,
    entered_time: &str,
    retry_count: Option<u32>,
    map_item: Option<MapItem<'_>>,
    task_token: Option<&str>,
) -> Value {
    if let Some(context) = &execution.context {
        return context.clone();
    }
    let mut context = Map::new();
    context.insert(
        "Execution".into(),
        json!({
            "Id": execution.arn,
            "Input": execution.input,
            "StartTime": execution.start_time,
            "Name": execution.name,
            "RoleArn": execution.role_arn,
            "RedriveCount": execution.redrive_count,
        }),
    );
    if let (Some(time), Some(Value::Object(object))) =
        (&execution.redrive_time, context.get_mut("Execution"))
    {
        object.insert("RedriveTime".into(), json!(time));
    }
    context.insert(
        "StateMachine".into(),
        json!({"Id": execution.state_machine_arn, "Name": execution.state_machine_name}),
    );
    let mut state = json!({"Name": state_name, "EnteredTime": entered_time});
    // AWS shows `RetryCount` only on states that can retry.
    if let (Some(count), Some(object)) = (retry_count, state.as_object_mut()) {
        object.insert("RetryCount".into(), json!(count));
    }
    context.insert("State".into(), state);
    // A callback task's token (checklist TASK-04): only while it is invoked.
    if let Some(token) = task_token {
        context.insert("Task".into(), json!({"Token": token}));
    }
    if let Some(item) = map_item {
        context.insert(
            "Map".into(),
            json!({"Item": {"Index": item.index, "Value": item.value}}),
        );
    }
    Value::Object(context)
}
