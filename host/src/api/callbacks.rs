//! Callbacks and activities: `SendTaskSuccess`, `SendTaskFailure`,
//! `SendTaskHeartbeat` (checklist CB-01..03), and `CreateActivity`,
//! `DescribeActivity`, `ListActivities`, `DeleteActivity`,
//! `GetActivityTask` (CB-05), with AWS's members, limits and errors.
//!
//! Answers go through `executions::callbacks::TaskTokens`: written to the
//! store (so they survive a restart) and woken in this process at once.

use std::sync::Arc;

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::Service;
use super::protocol::{ApiError, Request, echo, epoch, valid_name};
use crate::engine::callbacks::{activity_arn, activity_name};
use crate::executions::callbacks::{ACTIVITY_POLL, well_formed};
use crate::store::{ActivityRecord, Store, TokenAnswer, TokenRefusal};

/// AWS's bound on a task token's length.
const TOKEN_MAX: usize = 2048;
/// AWS's bound on `SendTaskSuccess`'s output: 256 KiB.
const OUTPUT_MAX: usize = 256 * 1024;
const ERROR_MAX: usize = 256;
const CAUSE_MAX: usize = 32_768;

fn refused(refusal: TokenRefusal, token: &str) -> ApiError {
    match refusal {
        TokenRefusal::DoesNotExist => ApiError::service(
            "TaskDoesNotExist",
            format!("Task Does Not Exist: '{}'", echo(token)),
        ),
        // AWS's text for a token answered, timed out or of an ended execution.
        TokenRefusal::TimedOut => ApiError::service(
            "TaskTimedOut",
            "Task Timed Out: 'Provided task does not exist anymore'",
        ),
    }
}

/// The token member, checked: a string this host could have made.
fn task_token(request: &mut Request) -> Result<String, ApiError> {
    request.required("taskToken", 1, TOKEN_MAX)
}

async fn answer(
    service: &Arc<Service>,
    token: String,
    answer: TokenAnswer,
) -> Result<Value, ApiError> {
    if !well_formed(&token) {
        return Err(ApiError::invalid_token(&token));
    }
    let answered = service
        .executions()
        .tokens()
        .answer(&token, answer)
        .await
        .map_err(|e| ApiError::internal(&anyhow::anyhow!(e)))?;
    match answered {
        Ok(_) => Ok(json!({})),
        Err(refusal) => Err(refused(refusal, &token)),
    }
}

pub async fn send_success(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let token = task_token(&mut request)?;
    let output = request.required("output", 0, OUTPUT_MAX)?;
    request.finish()?;
    // The task's result: JSON, kept as given.
    if serde_json::from_str::<Value>(&output).is_err() {
        return Err(ApiError::service(
            "InvalidOutput",
            "Invalid Output: 'the output is not valid JSON'",
        ));
    }
    answer(service, token, TokenAnswer::Success(output)).await
}

pub async fn send_failure(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let token = task_token(&mut request)?;
    let error = request.string("error", 0, ERROR_MAX)?;
    let cause = request.string("cause", 0, CAUSE_MAX)?;
    request.finish()?;
    answer(service, token, TokenAnswer::Failure { error, cause }).await
}

pub async fn send_heartbeat(
    service: &Arc<Service>,
    mut request: Request,
) -> Result<Value, ApiError> {
    let token = task_token(&mut request)?;
    request.finish()?;
    answer(service, token, TokenAnswer::Heartbeat).await
}

fn store(service: &Arc<Service>) -> Arc<dyn Store> {
    service.executions().store().clone()
}

async fn blocking<T: Send + 'static>(
    service: &Arc<Service>,
    f: impl FnOnce(&dyn Store) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let store = store(service);
    tokio::task::spawn_blocking(move || f(store.as_ref()))
        .await
        .map_err(|e| ApiError::internal(&anyhow::anyhow!("a store call failed: {e}")))?
        .map_err(ApiError::from)
}

/// The activity an ARN names, or `InvalidArn`.
fn parse_activity(arn: &str) -> Result<String, ApiError> {
    match activity_name(arn) {
        Some(name) => Ok(name.to_owned()),
        None if arn.starts_with("arn:") => Err(ApiError::invalid_arn(arn, "Invalid ARN")),
        None => Err(ApiError::invalid_arn(arn, "Invalid ARN prefix")),
    }
}

fn does_not_exist(arn: &str) -> ApiError {
    ApiError::service(
        "ActivityDoesNotExist",
        format!("Activity Does Not Exist: '{}'", echo(arn)),
    )
}

fn described(record: &ActivityRecord) -> Value {
    json!({
        "activityArn": activity_arn(&record.name),
        "name": record.name,
        "creationDate": epoch(record.creation_date),
    })
}

pub async fn create(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let name = request.required("name", 1, 80)?;
    // Tags and encryption are accepted and not kept.
    let _ = request.raw("tags");
    let _ = request.raw("encryptionConfiguration");
    request.finish()?;
    if !valid_name(&name) {
        return Err(ApiError::invalid_name(&name));
    }
    let record = ActivityRecord {
        name,
        creation_date: OffsetDateTime::now_utc(),
    };
    // Idempotent by name, as AWS's CreateActivity.
    let stored = blocking(service, move |s| s.put_activity(&record)).await?;
    Ok(json!({
        "activityArn": activity_arn(&stored.name),
        "creationDate": epoch(stored.creation_date),
    }))
}

pub async fn describe(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let arn = request.required("activityArn", 1, 256)?;
    request.finish()?;
    let name = parse_activity(&arn)?;
    let record = blocking(service, move |s| s.activity(&name)).await?;
    record
        .map(|r| described(&r))
        .ok_or_else(|| does_not_exist(&arn))
}

pub async fn list(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let page = request.page(1000)?;
    request.finish()?;
    let records = blocking(service, |s| s.activities()).await?;
    let (records, next) = page.take(
        "activities",
        records,
        |r| r.name.clone(),
        |key, after| key > after,
    )?;
    let mut answer = json!({"activities": records.iter().map(described).collect::<Vec<_>>()});
    if let Some(next) = next {
        answer["nextToken"] = json!(next);
    }
    Ok(answer)
}

pub async fn delete(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let arn = request.required("activityArn", 1, 256)?;
    request.finish()?;
    let name = parse_activity(&arn)?;
    // AWS answers a delete of an unknown activity with success too.
    blocking(service, move |s| s.delete_activity(&name)).await?;
    Ok(json!({}))
}

pub async fn get_task(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let arn = request.required("activityArn", 1, 256)?;
    let worker = request.string("workerName", 1, 80)?;
    request.finish()?;
    let name = parse_activity(&arn)?;
    let owned = name.clone();
    if blocking(service, move |s| s.activity(&owned))
        .await?
        .is_none()
    {
        return Err(does_not_exist(&arn));
    }
    let taken = service
        .executions()
        .tokens()
        .take_activity_task(&activity_arn(&name), worker.as_deref(), ACTIVITY_POLL)
        .await
        .map_err(|e| ApiError::internal(&anyhow::anyhow!(e)))?;
    // Nothing within the poll: AWS answers with no token.
    Ok(match taken {
        Some(task) => json!({"taskToken": task.token, "input": task.input}),
        None => json!({}),
    })
}
