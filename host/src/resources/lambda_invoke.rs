//! The optimized integration `arn:aws:states:::lambda:invoke`: the Task's
//! effective input is the Invoke request (`FunctionName`, `Payload`), the
//! function is the manifest's task of that name (as a function ARN
//! `Resource` resolves today), and the result is Lambda's Invoke response
//! as Step Functions returns it (`Payload`, `StatusCode`, `ExecutedVersion`,
//! `SdkHttpMetadata`, `SdkResponseMetadata`).
//!
//! [`LambdaInvoke`] is a [`TaskRunner`] layer: it answers that one resource
//! and hands every other to the runner it wraps.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::engine::{TaskCall, TaskFuture, TaskOutcome, TaskRunner};
use crate::errors::{AslError, names};

/// The resource this layer answers.
pub const LAMBDA_INVOKE: &str = "arn:aws:states:::lambda:invoke";

/// The account and region a function name alone is resolved in.
const LOCAL_FUNCTION_ARN: &str = "arn:aws:lambda:local:000000000000:function:";

/// Runs `lambda:invoke` on `inner`'s function-ARN tasks.
pub struct LambdaInvoke {
    inner: Arc<dyn TaskRunner>,
}

impl LambdaInvoke {
    pub fn new(inner: Arc<dyn TaskRunner>) -> Self {
        LambdaInvoke { inner }
    }
}

/// The function a `FunctionName` names, as the function ARN the manifest's
/// tasks answer to (qualifier dropped: every task is `$LATEST`), or why
/// the name is not one. Accepts `NAME`, `NAME:QUALIFIER`,
/// `ACCOUNT:function:NAME[:QUALIFIER]` and a full function ARN.
pub fn function_arn(function_name: &str) -> Result<String, String> {
    let parts: Vec<&str> = function_name.split(':').collect();
    let name = match parts.as_slice() {
        [name] | [name, _] => *name,
        [_account, "function", name] | [_account, "function", name, _] => *name,
        [
            "arn",
            _partition,
            "lambda",
            _region,
            _account,
            "function",
            name,
        ]
        | [
            "arn",
            _partition,
            "lambda",
            _region,
            _account,
            "function",
            name,
            _,
        ] => *name,
        _ => "",
    };
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(format!(
            "FunctionName {:?} is not a function name, a partial ARN (ACCOUNT:function:NAME) or a function ARN",
            function_name.chars().take(256).collect::<String>()
        ));
    }
    Ok(format!("{LOCAL_FUNCTION_ARN}{name}"))
}

/// Lambda's Invoke response around a function's result, as Step Functions
/// returns it from `lambda:invoke`.
pub fn invoke_response(payload: Value) -> Value {
    let request_id = uuid::Uuid::new_v4().to_string();
    let length = serde_json::to_string(&payload).map_or(0, |text| text.len());
    let date = crate::engine::history::format_timestamp(time::OffsetDateTime::now_utc());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let trace = format!(
        "root=1-{now:08x}-{};sampled=0",
        &uuid::Uuid::new_v4().simple().to_string()[..24]
    );
    json!({
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "X-Amz-Executed-Version": ["$LATEST"],
                "x-amzn-Remapped-Content-Length": ["0"],
                "Connection": ["keep-alive"],
                "x-amzn-RequestId": [request_id],
                "Content-Length": [length.to_string()],
                "Date": [date],
                "Content-Type": ["application/json"],
                "X-Amzn-Trace-Id": [trace],
            },
            "HttpHeaders": {
                "Connection": "keep-alive",
                "Content-Length": length.to_string(),
                "Content-Type": "application/json",
                "Date": date,
                "X-Amz-Executed-Version": "$LATEST",
                "x-amzn-Remapped-Content-Length": "0",
                "x-amzn-RequestId": request_id,
                "X-Amzn-Trace-Id": trace,
            },
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    })
}

/// AWS's error for a function that does not exist.
fn not_found(arn: &str) -> AslError {
    AslError::new(
        "Lambda.ResourceNotFoundException",
        format!(
            "Function not found: {arn}:$LATEST (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: {}; Proxy: null)",
            uuid::Uuid::new_v4()
        ),
    )
}

impl TaskRunner for LambdaInvoke {
    fn check_resource(&self, resource: &str) -> Result<(), String> {
        if resource == LAMBDA_INVOKE {
            // The function is chosen by the request, often from the input.
            return Ok(());
        }
        self.inner.check_resource(resource)
    }

    fn check_task(&self, state: &str, resource: &str) -> Result<(), String> {
        if resource == LAMBDA_INVOKE {
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
        if call.resource != LAMBDA_INVOKE {
            return self.inner.invoke(call);
        }
        Box::pin(async move {
            let function_name = match call.input.get("FunctionName") {
                Some(Value::String(name)) => name,
                _ => {
                    return TaskOutcome::from(Err(AslError::new(
                        names::TASK_FAILED,
                        "lambda:invoke needs \"FunctionName\" (a string) in its Parameters or Arguments",
                    )));
                }
            };
            let arn = match function_arn(function_name) {
                Ok(arn) => arn,
                Err(why) => return TaskOutcome::from(Err(AslError::new(names::TASK_FAILED, why))),
            };
            if self.inner.check_resource(&arn).is_err() {
                return TaskOutcome::from(Err(not_found(&arn)));
            }
            // No Payload: the function's event is `{}`, as Lambda gives it.
            let empty = json!({});
            let payload = call.input.get("Payload").unwrap_or(&empty);
            let function_call = TaskCall {
                resource: &arn,
                input: payload,
                ..call
            };
            let outcome = self.inner.invoke(function_call).await;
            TaskOutcome {
                result: outcome.result.map(invoke_response),
                ..outcome
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A stand-in for the manifest's tasks: function `echo` returns its
    /// event, `boom` fails; nothing else exists.
    struct Functions;

    impl TaskRunner for Functions {
        fn check_resource(&self, resource: &str) -> Result<(), String> {
            match resource.strip_prefix(LOCAL_FUNCTION_ARN) {
                Some("echo" | "boom") => Ok(()),
                _ => Err(format!("unknown {resource}")),
            }
        }

        fn invoke<'a>(&'a self, call: TaskCall<'a>) -> TaskFuture<'a> {
            let result = match call.resource.strip_prefix(LOCAL_FUNCTION_ARN) {
                Some("echo") => Ok(call.input.clone()),
                _ => Err(AslError::new("Exception", "{\"errorMessage\":\"boom\"}")),
            };
            Box::pin(async move { result.into() })
        }
    }

    fn call<'a>(resource: &'a str, input: &'a Value) -> TaskCall<'a> {
        TaskCall {
            resource,
            input,
            execution_id: "arn:aws:states:local:000000000000:execution:m:e",
            state_name: "Invoke",
            attempt: "@0.2#0",
            retry_count: 0,
            timeout: Some(Duration::from_secs(5)),
            concurrent: false,
            payload_limit: crate::engine::DEFAULT_PAYLOAD_LIMIT,
        }
    }

    #[test]
    fn every_form_of_function_name_resolves_to_the_function() {
        for name in [
            "echo",
            "echo:prod",
            "123456789012:function:echo",
            "123456789012:function:echo:7",
            "arn:aws:lambda:us-east-1:123456789012:function:echo",
            "arn:aws-cn:lambda:cn-north-1:123456789012:function:echo:$LATEST",
        ] {
            assert_eq!(
                function_arn(name).as_deref(),
                Ok("arn:aws:lambda:local:000000000000:function:echo"),
                "{name}"
            );
        }
        for bad in ["", "a:b:c", "arn:aws:s3:::bucket", "na me", &"x".repeat(65)] {
            assert!(function_arn(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn the_result_is_the_invoke_response_around_the_payload() {
        let layer = LambdaInvoke::new(Arc::new(Functions));
        let input = json!({"FunctionName": "echo", "Payload": {"a": 1}});
        let result = layer
            .invoke(call(LAMBDA_INVOKE, &input))
            .await
            .result
            .expect("echo succeeds");
        assert_eq!(result["Payload"], json!({"a": 1}));
        assert_eq!(result["StatusCode"], 200);
        assert_eq!(result["ExecutedVersion"], "$LATEST");
        assert_eq!(result["SdkHttpMetadata"]["HttpStatusCode"], 200);
        assert_eq!(
            result["SdkResponseMetadata"]["RequestId"],
            result["SdkHttpMetadata"]["HttpHeaders"]["x-amzn-RequestId"]
        );
        let no_payload = json!({"FunctionName": "echo"});
        let result = layer.invoke(call(LAMBDA_INVOKE, &no_payload)).await.result;
        assert_eq!(result.expect("echo succeeds")["Payload"], json!({}));
    }

    #[tokio::test]
    async fn a_failing_or_missing_function_fails_as_on_aws() {
        let layer = LambdaInvoke::new(Arc::new(Functions));
        let input = json!({"FunctionName": "boom", "Payload": null});
        let error = layer
            .invoke(call(LAMBDA_INVOKE, &input))
            .await
            .result
            .expect_err("boom fails");
        assert_eq!(error.error, "Exception");
        assert_eq!(error.cause, "{\"errorMessage\":\"boom\"}");
        let input = json!({"FunctionName": "nope"});
        let error = layer
            .invoke(call(LAMBDA_INVOKE, &input))
            .await
            .result
            .expect_err("nope is not declared");
        assert_eq!(error.error, "Lambda.ResourceNotFoundException");
        assert!(error.cause.starts_with(
            "Function not found: arn:aws:lambda:local:000000000000:function:nope:$LATEST (Service: AWSLambda; Status Code: 404;"
        ));
        let input = json!({"Payload": {}});
        let error = layer.invoke(call(LAMBDA_INVOKE, &input)).await.result;
        assert!(error.expect_err("no name").cause.contains("FunctionName"));
    }

    #[tokio::test]
    async fn other_resources_go_to_the_inner_runner() {
        let layer = LambdaInvoke::new(Arc::new(Functions));
        assert!(layer.check_resource(LAMBDA_INVOKE).is_ok());
        assert!(
            layer
                .check_resource("arn:aws:states:::sns:publish")
                .is_err()
        );
        let arn = "arn:aws:lambda:local:000000000000:function:echo";
        let input = json!({"x": 1});
        let result = layer.invoke(call(arn, &input)).await.result;
        assert_eq!(result.expect("echo succeeds"), json!({"x": 1}));
    }
}
