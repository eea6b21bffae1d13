//! The S3 integrations a pipeline calls around a Distributed Map, as a
//! [`TaskRunner`] layer (like `resources::LambdaInvoke`): the AWS SDK
//! integrations `arn:aws:states:::aws-sdk:s3:getObject | putObject |
//! listObjectsV2 | headObject | copyObject | deleteObject`, and the
//! optimized `arn:aws:states:::s3:getObject | putObject` names, which answer
//! the same way. Requests and results have S3's member names; failures are
//! `S3.NoSuchKeyException`, `S3.NoSuchBucketException` or `S3.S3Exception`
//! with the SDK's cause text (as recorded on AWS).
//!
//! Every other resource goes to the runner it wraps.

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use futures::StreamExt as _;
use serde_json::{Map, Value, json};

use super::{Buckets, ObjectInfo, S3Error};
use crate::engine::history::format_timestamp;
use crate::engine::{TaskCall, TaskFuture, TaskOutcome, TaskRunner};
use crate::errors::{AslError, names};

/// The operations this layer answers, by the resource's last part.
const OPERATIONS: [&str; 6] = [
    "getObject",
    "putObject",
    "listObjectsV2",
    "headObject",
    "copyObject",
    "deleteObject",
];

/// The S3 operation a resource names, if it is one this layer runs.
pub fn operation(resource: &str) -> Option<&'static str> {
    let op = resource
        .strip_prefix("arn:aws:states:::aws-sdk:s3:")
        .or_else(|| {
            resource
                .strip_prefix("arn:aws:states:::s3:")
                .filter(|op| matches!(*op, "getObject" | "putObject"))
        })?;
    OPERATIONS.into_iter().find(|known| *known == op)
}

/// Runs the S3 resources on `buckets`, everything else on `inner`.
pub struct S3Tasks {
    inner: Arc<dyn TaskRunner>,
    buckets: Buckets,
}

impl S3Tasks {
    pub fn new(inner: Arc<dyn TaskRunner>, buckets: Buckets) -> Self {
        S3Tasks { inner, buckets }
    }
}

impl TaskRunner for S3Tasks {
    fn check_resource(&self, resource: &str) -> Result<(), String> {
        match operation(resource) {
            Some(_) => Ok(()),
            None => self.inner.check_resource(resource),
        }
    }

    fn check_task(&self, state: &str, resource: &str) -> Result<(), String> {
        match operation(resource) {
            Some(_) => Ok(()),
            None => self.inner.check_task(state, resource),
        }
    }

    fn answers_itself(&self, state: &str) -> bool {
        self.inner.answers_itself(state)
    }

    fn buckets(&self) -> Option<&Buckets> {
        Some(&self.buckets)
    }

    fn invoke<'a>(&'a self, call: TaskCall<'a>) -> TaskFuture<'a> {
        let Some(op) = operation(call.resource) else {
            return self.inner.invoke(call);
        };
        Box::pin(async move {
            let result = run(&self.buckets, op, call.input, call.payload_limit).await;
            TaskOutcome::from(result)
        })
    }
}

/// A required string member of the request.
fn member<'v>(input: &'v Value, op: &str, name: &str) -> Result<&'v str, AslError> {
    match input.get(name) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(AslError::new(
            names::TASK_FAILED,
            format!("s3:{op} needs \"{name}\" (a string) in its Parameters or Arguments"),
        )),
    }
}

async fn run(buckets: &Buckets, op: &str, input: &Value, limit: usize) -> Result<Value, AslError> {
    let bucket = member(input, op, "Bucket")?;
    let s3 = |e: S3Error| e.to_asl();
    match op {
        "getObject" => {
            let key = member(input, op, "Key")?;
            let (info, body) = buckets.get(bucket, key, limit).await.map_err(s3)?;
            let text = String::from_utf8(body.to_vec()).map_err(|_| {
                AslError::new(
                    names::TASK_FAILED,
                    "s3:getObject: the object is not UTF-8 text, and Step Functions returns Body as text",
                )
            })?;
            let mut result = head_shape(&info);
            result.insert("Body".into(), Value::String(text));
            Ok(Value::Object(result))
        }
        "putObject" => {
            let key = member(input, op, "Key")?;
            // Step Functions writes the Body member as JSON text: a string
            // keeps its quotes (recorded: "text data" is 11 bytes).
            let body = match input.get("Body") {
                Some(value) => serde_json::to_vec(value).unwrap_or_default(),
                None => Vec::new(),
            };
            let crc = crc32fast::hash(&body).to_be_bytes();
            let e_tag = buckets
                .put(bucket, key, Bytes::from(body))
                .await
                .map_err(s3)?;
            Ok(json!({
                "ChecksumCRC32": base64::engine::general_purpose::STANDARD.encode(crc),
                "ChecksumType": "FULL_OBJECT",
                "ETag": e_tag,
                "ServerSideEncryption": "AES256",
            }))
        }
        "headObject" => {
            let key = member(input, op, "Key")?;
            let info = buckets.head(bucket, key).await.map_err(s3)?;
            Ok(Value::Object(head_shape(&info)))
        }
        "deleteObject" => {
            let key = member(input, op, "Key")?;
            buckets.delete(bucket, key).await.map_err(s3)?;
            Ok(json!({}))
        }
        "copyObject" => {
            let key = member(input, op, "Key")?;
            let source = member(input, op, "CopySource")?;
            let source = source.trim_start_matches('/');
            let Some((from_bucket, from_key)) = source.split_once('/') else {
                return Err(S3Error::invalid("CopySource must be \"bucket/key\".").to_asl());
            };
            let info = buckets
                .copy(from_bucket, from_key, bucket, key)
                .await
                .map_err(s3)?;
            Ok(json!({
                "CopyObjectResult": {
                    "ETag": info.e_tag,
                    "LastModified": format_timestamp(info.last_modified),
                },
                "ServerSideEncryption": "AES256",
            }))
        }
        "listObjectsV2" => list_objects(buckets, bucket, input, limit).await,
        _ => Err(AslError::new(
            names::TASK_FAILED,
            format!("s3:{op} is not supported"),
        )),
    }
}

/// HeadObject's members (GetObject adds `Body`).
fn head_shape(info: &ObjectInfo) -> Map<String, Value> {
    let Value::Object(map) = json!({
        "AcceptRanges": "bytes",
        "ContentLength": info.size,
        "ContentType": "text/plain; charset=UTF-8",
        "ETag": info.e_tag,
        "LastModified": format_timestamp(info.last_modified),
        "Metadata": {},
        "ServerSideEncryption": "AES256",
    }) else {
        unreachable!("a literal object")
    };
    map
}

/// ListObjectsV2: one page of at most `MaxKeys` (≤ 1,000) keys after
/// `StartAfter` or the `ContinuationToken` (the last key of the previous
/// page, opaque to the caller).
async fn list_objects(
    buckets: &Buckets,
    bucket: &str,
    input: &Value,
    limit: usize,
) -> Result<Value, AslError> {
    let prefix = input.get("Prefix").and_then(Value::as_str).unwrap_or("");
    let max_keys = input
        .get("MaxKeys")
        .and_then(Value::as_u64)
        .unwrap_or(1000)
        .min(1000) as usize;
    let token = input.get("ContinuationToken").and_then(Value::as_str);
    let after = match token {
        Some(token) => Some(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|k| String::from_utf8(k).ok())
                .ok_or_else(|| {
                    S3Error::invalid("The continuation token provided is incorrect").to_asl()
                })?,
        ),
        None => input
            .get("StartAfter")
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    let mut listing = buckets.list(bucket, prefix).await.map_err(|e| e.to_asl())?;
    let mut contents = Vec::new();
    let mut truncated = false;
    let mut size = 0usize;
    while let Some(info) = listing.next().await {
        let info = info.map_err(|e| e.to_asl())?;
        if after
            .as_deref()
            .is_some_and(|after| info.key.as_str() <= after)
        {
            continue;
        }
        // A page also stops before it would pass the payload limit.
        size += info.key.len() + 150;
        if contents.len() == max_keys || size > limit {
            truncated = true;
            break;
        }
        contents.push(info);
    }
    let mut result = json!({
        "IsTruncated": truncated,
        "KeyCount": contents.len(),
        "MaxKeys": max_keys,
        "Name": bucket,
        "Prefix": prefix,
    });
    if let (true, Some(last)) = (truncated, contents.last()) {
        result["NextContinuationToken"] = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(&last.key)
            .into();
    }
    if let Some(token) = token {
        result["ContinuationToken"] = token.into();
    }
    if !contents.is_empty() {
        result["Contents"] = contents
            .iter()
            .map(|info| {
                json!({
                    "ETag": info.e_tag,
                    "Key": info.key,
                    "LastModified": format_timestamp(info.last_modified),
                    "Size": info.size,
                    "StorageClass": "STANDARD",
                })
            })
            .collect();
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::NoTasks;

    fn layer() -> (tempfile::TempDir, S3Tasks) {
        let dir = tempfile::tempdir().expect("tempdir");
        let buckets =
            Buckets::local([("data".to_owned(), dir.path().join("data"))]).expect("a local bucket");
        (dir, S3Tasks::new(Arc::new(NoTasks), buckets))
    }

    async fn call(layer: &S3Tasks, op: &str, input: Value) -> Result<Value, AslError> {
        let resource = format!("arn:aws:states:::aws-sdk:s3:{op}");
        layer
            .invoke(TaskCall {
                resource: &resource,
                input: &input,
                execution_id: "e",
                state_name: "S",
                attempt: "",
                retry_count: 0,
                timeout: None,
                concurrent: false,
                payload_limit: crate::engine::DEFAULT_PAYLOAD_LIMIT,
            })
            .await
            .result
    }

    #[test]
    fn resources_are_recognised() {
        assert_eq!(
            operation("arn:aws:states:::s3:getObject"),
            Some("getObject")
        );
        assert_eq!(
            operation("arn:aws:states:::aws-sdk:s3:listObjectsV2"),
            Some("listObjectsV2")
        );
        assert_eq!(operation("arn:aws:states:::s3:listObjectsV2"), None);
        assert_eq!(operation("arn:aws:states:::aws-sdk:s3:putBucketAcl"), None);
    }

    #[tokio::test]
    async fn put_then_get_head_copy_list_delete() {
        let (_dir, s3) = layer();
        let put = call(
            &s3,
            "putObject",
            json!({"Bucket": "data", "Key": "a/b.json", "Body": false}),
        )
        .await
        .expect("put");
        // Recorded on AWS for the body `false`.
        assert_eq!(put["ChecksumCRC32"], "K81oMA==");
        assert_eq!(put["ETag"], "\"68934a3e9455fa72420237eb05902327\"");
        let got = call(
            &s3,
            "getObject",
            json!({"Bucket": "data", "Key": "a/b.json"}),
        )
        .await
        .expect("get");
        assert_eq!(got["Body"], "false");
        assert_eq!(got["ContentLength"], 5);
        assert_eq!(got["ETag"], put["ETag"]);
        let head = call(
            &s3,
            "headObject",
            json!({"Bucket": "data", "Key": "a/b.json"}),
        )
        .await
        .expect("head");
        assert_eq!(head["ContentLength"], 5);
        call(
            &s3,
            "copyObject",
            json!({"Bucket": "data", "Key": "c.json", "CopySource": "data/a/b.json"}),
        )
        .await
        .expect("copy");
        let listed = call(
            &s3,
            "listObjectsV2",
            json!({"Bucket": "data", "MaxKeys": 1}),
        )
        .await
        .expect("list");
        assert_eq!(listed["KeyCount"], 1);
        assert_eq!(listed["Contents"][0]["Key"], "a/b.json");
        assert_eq!(listed["IsTruncated"], true);
        let token = listed["NextContinuationToken"].clone();
        let rest = call(
            &s3,
            "listObjectsV2",
            json!({"Bucket": "data", "ContinuationToken": token}),
        )
        .await
        .expect("list");
        assert_eq!(rest["Contents"][0]["Key"], "c.json");
        assert_eq!(rest["IsTruncated"], false);
        let only_a = call(
            &s3,
            "listObjectsV2",
            json!({"Bucket": "data", "Prefix": "a/"}),
        )
        .await
        .expect("list");
        assert_eq!(only_a["KeyCount"], 1);
        call(
            &s3,
            "deleteObject",
            json!({"Bucket": "data", "Key": "c.json"}),
        )
        .await
        .expect("delete");
        let gone = call(&s3, "getObject", json!({"Bucket": "data", "Key": "c.json"}))
            .await
            .expect_err("deleted");
        assert_eq!(gone.error, "S3.NoSuchKeyException");
        assert!(gone.cause.starts_with(
            "The specified key does not exist. (Service: S3, Status Code: 404, Request ID: "
        ));
    }

    #[tokio::test]
    async fn bad_requests_fail_without_touching_the_disk() {
        let (dir, s3) = layer();
        let error = call(&s3, "getObject", json!({"Bucket": "nope", "Key": "k"}))
            .await
            .expect_err("no bucket");
        assert_eq!(error.error, "S3.NoSuchBucketException");
        for key in ["../escape", "a/../../b", "", "a//b", "x\u{0}y"] {
            let error = call(
                &s3,
                "putObject",
                json!({"Bucket": "data", "Key": key, "Body": 1}),
            )
            .await
            .expect_err(key);
            assert_eq!(error.error, "S3.S3Exception", "{key:?}");
        }
        let long = "k".repeat(super::super::MAX_KEY_BYTES + 1);
        assert!(
            call(
                &s3,
                "putObject",
                json!({"Bucket": "data", "Key": long, "Body": 1})
            )
            .await
            .is_err()
        );
        let error = call(&s3, "getObject", json!({"Bucket": "data"}))
            .await
            .expect_err("no key");
        assert!(error.cause.contains("\"Key\""));
        assert!(!dir.path().join("escape").exists());
    }
}
