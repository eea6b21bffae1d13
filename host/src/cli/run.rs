//! `host run`: one execution of a pipeline.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use serde_json::Value;

use super::escape::escaped;
use super::pipeline;
use crate::asl::MachineType;
use crate::engine::history::{HISTORY_EVENT_LIMIT, HISTORY_FULL_CAUSE};
use crate::engine::{Clock, Engine, ExecutionRequest, ExecutionType, NoTasks, Status, TaskRunner};
use crate::executions::{Executions, RunOptions, Start};
use crate::mocks::{MockConfig, MockedTasks};
use crate::nested::{ManifestMachines, NestedExecutions};
use crate::resources::{LambdaInvoke, Manifest, WasmTasks};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The pipeline: an ASL state machine definition (JSON).
    pipeline: PathBuf,
    /// The execution input as a JSON file, or `-` for standard input. Default: `{}`.
    #[arg(long, short)]
    input: Option<PathBuf>,
    /// The task manifest. Default: `sandstep.toml` beside the pipeline.
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Print the execution record (like AWS DescribeExecution) instead of the output.
    #[arg(long)]
    describe: bool,
    /// Write the execution history (like AWS GetExecutionHistory) to this file.
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
    /// Wait states and retry intervals take no real time; the execution's clock still advances.
    #[arg(long)]
    virtual_time: bool,
    /// The execution type.
    #[arg(
        long = "type",
        value_enum,
        default_value = "standard",
        ignore_case = true
    )]
    kind: Kind,
    /// The execution's name. Default: a fresh UUID.
    #[arg(long)]
    name: Option<String>,
    /// The largest state input or output, in bytes of compact JSON, before
    /// `States.DataLimitExceeded` (AWS's quota: 262144).
    #[arg(long, value_name = "BYTES", default_value_t = crate::engine::DEFAULT_PAYLOAD_LIMIT)]
    payload_limit: usize,
    /// Where a Standard execution is recorded. Default: `$SANDSTEP_DB`, else
    /// `.sandstep/executions.db` beside the pipeline.
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    /// Run a Standard execution in memory only, as Express runs: nothing
    /// recorded, nothing to resume after a crash.
    #[arg(long, conflicts_with = "db")]
    no_store: bool,
    /// Run every task for this tenant (declared under [tenants.NAME] in the
    /// manifest), whatever tenant the manifest gives each task.
    #[arg(long, value_name = "NAME")]
    tenant: Option<String>,
    /// After the run, print per state (to stderr) its entries, wall time,
    /// fuel and peak memory beside its task's configured limits.
    #[arg(long)]
    profile: bool,
    /// A mock config in Step Functions Local's format: the test case's
    /// mocked states answer from it; other Tasks run as usual. The
    /// execution runs in memory (a resume could not replay the mocks).
    #[arg(long, value_name = "FILE", requires = "test_case")]
    mock_config: Option<PathBuf>,
    /// The test case of the mock config to run.
    #[arg(long, value_name = "NAME", requires = "mock_config")]
    test_case: Option<String>,
    /// The state machine's name (in the mock config and the execution ARN).
    /// Default: the pipeline's file name without `.json`.
    #[arg(long, value_name = "NAME")]
    state_machine_name: Option<String>,
}

/// `--type`: the machine type, for validation and the execution ARN.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    Standard,
    Express,
}

impl Kind {
    pub fn machine_type(self) -> MachineType {
        match self {
            Kind::Standard => MachineType::Standard,
            Kind::Express => MachineType::Express,
        }
    }
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let pipeline = match pipeline::load(&args.pipeline, args.kind.machine_type())? {
        Ok(pipeline) => pipeline,
        Err(problems) => {
            super::validate::print_problems(&args.pipeline, &problems);
            return Ok(ExitCode::from(1));
        }
    };
    let input = read_input(args.input.as_deref())?;
    // The engine consumes the input; `--describe` shows it.
    let described_input = args.describe.then(|| input.clone());
    let manifest = pipeline::manifest_path(&pipeline, args.manifest.as_deref());
    let (wasm, buckets) = load_tasks(manifest.as_deref(), args.tenant.as_deref())?;
    let mut base: Arc<dyn TaskRunner> = match &wasm {
        Some(wasm) => Arc::new(LambdaInvoke::new(wasm.clone())),
        None => Arc::new(NoTasks),
    };
    base = Arc::new(crate::objects::s3_tasks::S3Tasks::new(base, buckets));
    let kind = match args.kind {
        Kind::Standard => ExecutionType::Standard,
        Kind::Express => ExecutionType::Express,
    };
    let stored = kind == ExecutionType::Standard && !args.no_store && args.mock_config.is_none();
    // Nested executions start the manifest's state machines, as durable
    // executions beside this one: only a recorded run has a store for them.
    let machines = match stored {
        true => ManifestMachines::for_manifest(manifest.as_deref()),
        false => Err(
            "nested executions run only in a recorded Standard execution \
                      (not with --no-store, --mock-config or --type express)"
                .to_owned(),
        ),
    };
    let nested = NestedExecutions::new(base, machines);
    let mut tasks: Arc<dyn TaskRunner> = nested.clone();
    let state_machine_name = args
        .state_machine_name
        .clone()
        .unwrap_or_else(|| pipeline.name.clone());
    if let (Some(path), Some(case)) = (&args.mock_config, &args.test_case) {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the mock config {}", path.display()))?;
        let config =
            MockConfig::parse(&text).map_err(|why| anyhow::anyhow!("{}: {why}", path.display()))?;
        let case = config
            .test_case(&state_machine_name, case)
            .map_err(|why| anyhow::anyhow!("{}: {why}", path.display()))?;
        tasks = Arc::new(MockedTasks::new(tasks, case));
    }
    let mut engine = Engine::new(tasks).with_payload_limit(args.payload_limit);
    if args.virtual_time {
        engine = engine.with_clock(Clock::virtual_time());
    }
    let progress = super::progress::MapProgress::for_terminal();
    if let Some(progress) = &progress {
        engine = engine.with_observer(progress.clone());
    }
    let unknown = engine.check_resources(&pipeline.machine);
    if !unknown.is_empty() {
        super::validate::print_problems(&args.pipeline, &unknown);
        return Ok(ExitCode::from(1));
    }
    let runtime = super::executions::runtime()?;
    let (execution, history) = if stored {
        let db = super::executions::db_for_pipeline(args.db.as_deref(), &args.pipeline);
        let mut executions = Executions::open(&db)?;
        if let Some(progress) = progress {
            executions = executions.with_observer(progress);
        }
        let options = RunOptions {
            payload_limit: Some(args.payload_limit),
            virtual_time: args.virtual_time,
        };
        let executions = executions.shared();
        nested.attach(&executions, manifest.clone(), options.clone());
        executions.register_runner(manifest.as_deref(), nested.clone());
        let start = Start {
            machine: &pipeline.machine,
            definition: &pipeline.text,
            state_machine_name: &state_machine_name,
            manifest: manifest.as_deref(),
            name: args.name,
            input,
            options,
        };
        let execution = runtime.block_on(async {
            // Executions of this pipeline whose host died go first.
            let resumed = executions.resume_orphans(Some(&state_machine_name)).await?;
            super::executions::report_resumed(&resumed);
            let execution = executions.start(start, engine.tasks().clone()).await?;
            executions
                .wait_for_children(&execution.execution_arn)
                .await?;
            anyhow::Ok(execution)
        })?;
        let history = match args.history.is_some() || args.profile {
            true => executions
                .store()
                .events(&execution.execution_arn)?
                .into_iter()
                .map(|stored| stored.event.event)
                .collect(),
            false => Vec::new(),
        };
        (execution, history)
    } else {
        let request = ExecutionRequest {
            name: args.name,
            state_machine_name: state_machine_name.clone(),
            input,
            kind,
            record_history: args.history.is_some() || args.profile,
            durable: None,
        };
        let mut execution = runtime.block_on(engine.execute(&pipeline.machine, request));
        let history = std::mem::take(&mut execution.history);
        (execution, history)
    };

    if let Some(path) = &args.history {
        let text = serde_json::to_string_pretty(&serde_json::json!({ "events": history }))?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write the history to {}", path.display()))?;
    }
    if args.profile {
        let states = super::profile::profile(&history);
        eprint!(
            "{}",
            super::profile::render(&states, wasm.as_deref(), &execution.execution_arn)
        );
    }
    let mut stdout = std::io::stdout().lock();
    if let Some(input) = &described_input {
        writeln!(
            stdout,
            "{}",
            serde_json::to_string_pretty(&execution.describe(input))?
        )?;
    } else if let Some(output) = &execution.output {
        writeln!(stdout, "{}", serde_json::to_string_pretty(output)?)?;
    }
    if execution.status == Status::Succeeded {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "host: {}",
        escaped(&failure_line(
            &execution.name,
            execution.status.as_str(),
            execution.error.as_deref(),
            execution.cause.as_deref()
        ))
    );
    if execution.cause.as_deref() == Some(HISTORY_FULL_CAUSE) {
        eprintln!(
            "host: a Standard execution keeps at most {HISTORY_EVENT_LIMIT} history events, as on AWS. \
             Run it with --type express (no history cap, but at most 5 minutes), or give a large Map \
             \"ProcessorConfig\": {{\"Mode\": \"DISTRIBUTED\"}} so each item has a history of its own"
        );
    }
    Ok(ExitCode::from(1))
}

/// `execution NAME STATUS: ERROR: CAUSE`, leaving out what the execution
/// does not have (a timed-out execution has neither).
pub(super) fn failure_line(
    name: &str,
    status: &str,
    error: Option<&str>,
    cause: Option<&str>,
) -> String {
    let mut line = format!("execution {name} {status}");
    for part in [error, cause].into_iter().flatten() {
        line.push_str(": ");
        line.push_str(part);
    }
    line
}

/// The tasks of the manifest at `path`, all run for `tenant` when given;
/// `None` when there is no manifest.
/// The manifest's tasks and buckets (none without a manifest).
fn load_tasks(
    path: Option<&Path>,
    tenant: Option<&str>,
) -> anyhow::Result<(Option<Arc<WasmTasks>>, crate::objects::Buckets)> {
    let Some(path) = path else {
        if let Some(tenant) = tenant {
            anyhow::bail!(
                "--tenant {tenant:?} needs a task manifest that declares it: \
                 add a sandstep.toml beside the pipeline or pass --manifest"
            );
        }
        return Ok((None, Default::default()));
    };
    let manifest = Manifest::load(path)?;
    let buckets = crate::objects::config::open_all(manifest.buckets())?;
    let mut tasks = WasmTasks::load(&manifest, &crate::resources::shared_sandbox()?)?;
    if let Some(tenant) = tenant {
        tasks = tasks.with_tenant(tenant)?;
    }
    Ok((Some(Arc::new(tasks)), buckets))
}

pub fn read_input(path: Option<&std::path::Path>) -> anyhow::Result<Value> {
    let text = match path {
        None => return Ok(Value::Object(Default::default())),
        Some(p) if p.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the input from standard input")?;
            text
        }
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("cannot read the input file {}", p.display()))?,
    };
    serde_json::from_str(&text).context("the execution input is not valid JSON")
}
