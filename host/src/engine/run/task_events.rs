//! The history events of a Task attempt, named and detailed by its
//! resource's kind.

use serde_json::{Value, json};

use crate::engine::Usage;
use crate::engine::history;
use crate::errors::AslError;

/// History event names and details for a Task's resource kind: a Lambda
/// ARN gets `LambdaFunction*` events as on AWS, an activity ARN
/// `Activity*` (checklist TASK-08), anything else `Task*`.
pub(super) struct TaskEvents<'r> {
    resource: &'r str,
    lambda: bool,
    activity: bool,
    pub scheduled: &'static str,
    pub started: &'static str,
    pub succeeded: &'static str,
    pub failed: &'static str,
    pub timed_out: &'static str,
}

impl<'r> TaskEvents<'r> {
    pub(super) fn for_resource(resource: &'r str) -> Self {
        if resource.starts_with("arn:aws:lambda:") {
            TaskEvents {
                resource,
                lambda: true,
                activity: false,
                scheduled: "LambdaFunctionScheduled",
                started: "LambdaFunctionStarted",
                succeeded: "LambdaFunctionSucceeded",
                failed: "LambdaFunctionFailed",
                timed_out: "LambdaFunctionTimedOut",
            }
        } else if crate::engine::callbacks::is_activity(resource) {
            TaskEvents {
                resource,
                lambda: false,
                activity: true,
                scheduled: "ActivityScheduled",
                started: "ActivityStarted",
                succeeded: "ActivitySucceeded",
                failed: "ActivityFailed",
                timed_out: "ActivityTimedOut",
            }
        } else {
            TaskEvents {
                resource,
                lambda: false,
                activity: false,
                scheduled: "TaskScheduled",
                started: "TaskStarted",
                succeeded: "TaskSucceeded",
                failed: "TaskFailed",
                timed_out: "TaskTimedOut",
            }
        }
    }

    /// The Task's `Resource`, as written.
    pub(super) fn resource(&self) -> &'r str {
        self.resource
    }

    /// `resourceType` and `resource` as AWS splits them: `wasm:enrich` →
    /// (`wasm`, `enrich`); a service integration
    /// `arn:aws:states:::glue:startJobRun.sync` → (`glue`,
    /// `startJobRun.sync`), `…:::aws-sdk:s3:getObject` → (`aws-sdk:s3`, `getObject`).
    fn resource_parts(&self) -> (&'r str, &'r str) {
        if let Some(integration) = self
            .resource
            .strip_prefix("arn:aws:states:::")
            .and_then(|rest| rest.rsplit_once(':'))
        {
            return integration;
        }
        self.resource
            .split_once(':')
            .unwrap_or(("task", self.resource))
    }

    pub(super) fn scheduled_details(
        &self,
        input: &Value,
        timeout: Option<u64>,
        heartbeat: Option<u64>,
    ) -> Option<(&'static str, Value)> {
        let mut details = if self.lambda || self.activity {
            json!({"resource": self.resource, "input": history::text(input), "inputDetails": {"truncated": false}})
        } else {
            let (resource_type, resource) = self.resource_parts();
            json!({"resourceType": resource_type, "resource": resource, "region": "local", "parameters": history::text(input)})
        };
        if let (Some(timeout), Some(object)) = (timeout, details.as_object_mut()) {
            object.insert("timeoutInSeconds".into(), json!(timeout));
        }
        // A Lambda function's event has no heartbeat member.
        if let (Some(heartbeat), Some(object), false) =
            (heartbeat, details.as_object_mut(), self.lambda)
        {
            object.insert("heartbeatInSeconds".into(), json!(heartbeat));
        }
        let member = if self.lambda {
            "lambdaFunctionScheduledEventDetails"
        } else if self.activity {
            "activityScheduledEventDetails"
        } else {
            "taskScheduledEventDetails"
        };
        Some((member, details))
    }

    pub(super) fn started_details(&self) -> Option<(&'static str, Value)> {
        if self.lambda {
            return None;
        }
        let (resource_type, resource) = self.resource_parts();
        Some((
            "taskStartedEventDetails",
            json!({"resourceType": resource_type, "resource": resource}),
        ))
    }

    pub(super) fn succeeded_details(
        &self,
        output: &Value,
        usage: Option<Usage>,
    ) -> Option<(&'static str, Value)> {
        let mut details =
            json!({"output": history::text(output), "outputDetails": {"truncated": false}});
        add_usage(&mut details, usage);
        let member = if self.lambda {
            "lambdaFunctionSucceededEventDetails"
        } else if self.activity {
            "activitySucceededEventDetails"
        } else {
            self.add_resource(&mut details);
            "taskSucceededEventDetails"
        };
        Some((member, details))
    }

    pub(super) fn error_details(
        &self,
        kind: &'static str,
        error: &AslError,
        usage: Option<Usage>,
    ) -> Option<(&'static str, Value)> {
        let mut details = history::error_object(&error.error, &error.cause);
        add_usage(&mut details, usage);
        if !self.lambda && !self.activity {
            self.add_resource(&mut details);
        }
        let member = match kind {
            "LambdaFunctionFailed" => "lambdaFunctionFailedEventDetails",
            "ActivityFailed" => "activityFailedEventDetails",
            "ActivityTimedOut" => "activityTimedOutEventDetails",
            "LambdaFunctionTimedOut" => "lambdaFunctionTimedOutEventDetails",
            "TaskTimedOut" => "taskTimedOutEventDetails",
            _ => "taskFailedEventDetails",
        };
        Some((member, details))
    }

    /// `TaskSubmitted`: what the integration of a callback task answered
    /// (e.g. Lambda's Invoke response), which is not the task's result.
    pub(super) fn submitted_details(&self, output: &Value) -> Option<(&'static str, Value)> {
        let mut details =
            json!({"output": history::text(output), "outputDetails": {"truncated": false}});
        self.add_resource(&mut details);
        Some(("taskSubmittedEventDetails", details))
    }

    /// `ActivityStarted`: the worker that took the task, if it named itself.
    pub(super) fn activity_started_details(
        &self,
        worker: Option<&str>,
    ) -> Option<(&'static str, Value)> {
        let details = match worker {
            Some(worker) => json!({"workerName": worker}),
            None => json!({}),
        };
        Some(("activityStartedEventDetails", details))
    }

    fn add_resource(&self, details: &mut Value) {
        let (resource_type, resource) = self.resource_parts();
        if let Some(object) = details.as_object_mut() {
            object.insert("resourceType".into(), json!(resource_type));
            object.insert("resource".into(), json!(resource));
        }
    }
}

/// Sandstep's own member of a Task event's details: what the attempt used.
fn add_usage(details: &mut Value, usage: Option<Usage>) {
    if let (Some(usage), Some(object)) = (usage, details.as_object_mut()) {
        object.insert("usage".into(), usage.to_json());
    }
}
