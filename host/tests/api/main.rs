//! `host serve` driven by the official AWS SDK for Rust (`aws-sdk-sfn`), as
//! a user's tools drive it: every operation, success and error paths,
//! pagination, the `sync-` host prefix, version and alias pinning, a sample
//! of the AWS-recorded conformance executions, and a bounded load test.

mod auth;
mod callbacks;
mod conformance;
mod executions;
mod load;
mod machines;
mod mocks;
mod nested;
mod ops;
mod protocol;
mod server;
mod versions;

/// A definition of Pass states that returns `result`.
pub fn pass(result: &str) -> String {
    serde_json::json!({
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Result": result, "End": true}}
    })
    .to_string()
}

/// A definition that waits `seconds`, then returns `result`.
pub fn wait_then(seconds: u64, result: &str) -> String {
    serde_json::json!({
        "StartAt": "W",
        "States": {
            "W": {"Type": "Wait", "Seconds": seconds, "Next": "P"},
            "P": {"Type": "Pass", "Result": result, "End": true}
        }
    })
    .to_string()
}

/// Polls DescribeExecution until the execution is no longer RUNNING.
pub async fn settle(
    client: &aws_sdk_sfn::Client,
    arn: &str,
) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    for _ in 0..600 {
        let described = client
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .expect("describes");
        if described.status().as_str() != "RUNNING" {
            return described;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{arn} still RUNNING after 30 s");
}
