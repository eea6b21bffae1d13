//! `host test-state`: one state run alone, as AWS's TestState runs it; the
//! response is printed as the API's JSON.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use crate::engine::test_state::{InspectionLevel, TestStateRequest, TestStatus};
use crate::engine::{Engine, NoTasks, TaskRunner};

#[derive(Debug, Args)]
pub struct TestStateArgs {
    /// A file holding one state (or, with `--state-name`, a whole state machine).
    #[arg(long, value_name = "STATE.json")]
    definition: PathBuf,
    /// The state's input, JSON text. Default: `{}`.
    #[arg(long, value_name = "JSON")]
    input: Option<String>,
    /// What stands in for the work: `{"result": "<JSON text>"}` or
    /// `{"errorOutput": {"error": "...", "cause": "..."}}`.
    #[arg(long, value_name = "JSON")]
    mock: Option<String>,
    /// INFO (output and status), DEBUG or TRACE (the data after each step).
    #[arg(long, value_enum, default_value = "info")]
    inspection_level: Level,
    /// The state to test, when the definition is a whole state machine.
    #[arg(long, value_name = "NAME")]
    state_name: Option<String>,
    /// The context object (`$$`), a JSON object (only with `--mock`).
    #[arg(long, value_name = "JSON")]
    context: Option<String>,
    /// Workflow variables in scope, a JSON object.
    #[arg(long, value_name = "JSON")]
    variables: Option<String>,
    /// `{"retrierRetryCount": N, "errorCausedByState": "...", "mapIterationFailureCount": N}`.
    #[arg(long, value_name = "JSON")]
    state_configuration: Option<String>,
    /// The task manifest, for a Task run without a mock.
    #[arg(long)]
    manifest: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Level {
    Info,
    Debug,
    Trace,
}

/// Exit 0 when the state succeeded, 1 when it failed, was caught or would
/// be retried, 2 when the request is refused.
pub fn test_state(args: TestStateArgs) -> anyhow::Result<ExitCode> {
    let definition = std::fs::read_to_string(&args.definition)
        .with_context(|| format!("cannot read {}", args.definition.display()))?;
    let mock = args
        .mock
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .context(
            "--mock is not a valid mock: {\"result\": \"<JSON text>\"} or {\"errorOutput\": {...}}",
        )?;
    let state_configuration = args
        .state_configuration
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .context("--state-configuration is not a valid state configuration")?;
    let request = TestStateRequest {
        definition,
        input: args.input,
        inspection_level: Some(match args.inspection_level {
            Level::Info => InspectionLevel::Info,
            Level::Debug => InspectionLevel::Debug,
            Level::Trace => InspectionLevel::Trace,
        }),
        state_name: args.state_name,
        mock,
        context: args.context,
        variables: args.variables,
        state_configuration,
        ..Default::default()
    };
    let tasks: Arc<dyn TaskRunner> = match &args.manifest {
        Some(path) => crate::resources::load_runner(path)?,
        None => Arc::new(NoTasks),
    };
    let engine = Engine::new(tasks);
    let runtime = super::executions::runtime()?;
    match runtime.block_on(engine.test_state(&request)) {
        Ok(response) => {
            println!("{}", serde_json::to_string_pretty(&response)?);
            Ok(match response.status {
                TestStatus::Succeeded => ExitCode::SUCCESS,
                _ => ExitCode::from(1),
            })
        }
        Err(refused) => {
            eprintln!(
                "host: {}",
                super::escape::escaped(&format!("{}: {}", refused.code, refused.message))
            );
            Ok(ExitCode::from(2))
        }
    }
}
