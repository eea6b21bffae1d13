//! `host task success | failure | heartbeat TOKEN`: answers a callback or
//! activity task through the store, like `SendTask*` through the API. The
//! host process running the execution learns of it from its token poller.

use std::process::ExitCode;

use clap::Args;

use super::executions::DbArg;
use crate::executions::callbacks::well_formed;
use crate::store::{TokenAnswer, TokenRefusal};

#[derive(Debug, Args)]
pub struct SuccessArgs {
    /// The task token (`$$.Task.Token`, or GetActivityTask's `taskToken`).
    token: String,
    /// The task's result: JSON text, at most 256 KiB.
    #[arg(long)]
    output: String,
    #[command(flatten)]
    db: DbArg,
}

#[derive(Debug, Args)]
pub struct FailureArgs {
    /// The task token.
    token: String,
    /// The error name a Retry or Catch matches (at most 256 characters).
    #[arg(long)]
    error: Option<String>,
    /// The cause (at most 32,768 characters).
    #[arg(long)]
    cause: Option<String>,
    #[command(flatten)]
    db: DbArg,
}

#[derive(Debug, Args)]
pub struct HeartbeatArgs {
    /// The task token.
    token: String,
    #[command(flatten)]
    db: DbArg,
}

pub fn success(args: SuccessArgs) -> anyhow::Result<ExitCode> {
    if args.output.len() > 256 * 1024 {
        anyhow::bail!("--output is longer than the 256 KiB a task result may be");
    }
    if let Err(e) = serde_json::from_str::<serde_json::Value>(&args.output) {
        anyhow::bail!("--output is not valid JSON ({e}): give the task's result as JSON text");
    }
    answer(&args.db, &args.token, TokenAnswer::Success(args.output))
}

pub fn failure(args: FailureArgs) -> anyhow::Result<ExitCode> {
    if args.error.as_ref().is_some_and(|e| e.chars().count() > 256) {
        anyhow::bail!("--error is longer than 256 characters");
    }
    if args
        .cause
        .as_ref()
        .is_some_and(|c| c.chars().count() > 32_768)
    {
        anyhow::bail!("--cause is longer than 32,768 characters");
    }
    let answer_given = TokenAnswer::Failure {
        error: args.error,
        cause: args.cause,
    };
    answer(&args.db, &args.token, answer_given)
}

pub fn heartbeat(args: HeartbeatArgs) -> anyhow::Result<ExitCode> {
    answer(&args.db, &args.token, TokenAnswer::Heartbeat)
}

fn answer(db: &DbArg, token: &str, answer: TokenAnswer) -> anyhow::Result<ExitCode> {
    if !well_formed(token) {
        anyhow::bail!(
            "InvalidToken: '{}' is not a task token of this host (they start with `sst1` and have 68 characters)",
            super::escape::escaped(&crate::api::protocol::echo(token))
        );
    }
    let executions = db.open()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let answered = runtime
        .block_on(executions.tokens().answer(token, answer))
        .map_err(|e| anyhow::anyhow!(e))?;
    match answered {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(TokenRefusal::DoesNotExist) => anyhow::bail!(
            "TaskDoesNotExist: no task has this token in {}: check the token and --db",
            db.describe()
        ),
        Err(TokenRefusal::TimedOut) => anyhow::bail!(
            "TaskTimedOut: the task was already answered, timed out, or its execution ended"
        ),
    }
}
