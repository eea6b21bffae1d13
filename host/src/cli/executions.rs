//! `host executions list | describe | history | stop | redrive | resume`:
//! the durable executions of a store.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use serde_json::{Value, json};

use super::escape::escaped;
use crate::engine::history::format_timestamp;
use crate::executions::{self, Executions};
use crate::store::{ExecutionStatus, StopRequest, StoreError, StoredEvent};

/// Where the executions are: shared by every command here.
#[derive(Debug, Args)]
pub struct DbArg {
    /// The executions database. Default: `$SANDSTEP_DB`, else
    /// `.sandstep/executions.db` in this directory or the nearest parent
    /// that has one.
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
}

impl DbArg {
    pub(super) fn open(&self) -> anyhow::Result<Executions> {
        let path = self.path()?;
        // Only `host run` creates a database; here a missing one is a typo.
        if !path.exists() {
            anyhow::bail!(
                "no executions database at {}: check the path, or run a pipeline first",
                path.display()
            );
        }
        Executions::open(&path)
    }

    fn path(&self) -> anyhow::Result<PathBuf> {
        if let Some(db) = &self.db {
            return Ok(db.clone());
        }
        if let Some(db) = std::env::var_os("SANDSTEP_DB") {
            return Ok(PathBuf::from(db));
        }
        let here = std::env::current_dir().context("cannot read the current directory")?;
        here.ancestors()
            .map(crate::store::default_path)
            .find(|path| path.exists())
            .with_context(|| {
                format!(
                    "no executions database in {} or its parents: run a pipeline first, or pass --db PATH",
                    here.display()
                )
            })
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only executions with this status (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED).
    #[arg(long)]
    status: Option<ExecutionStatus>,
    #[command(flatten)]
    db: DbArg,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// The execution's ARN or name.
    id: String,
    #[command(flatten)]
    db: DbArg,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The execution's ARN or name.
    id: String,
    /// Print `{"events": [...]}` like AWS GetExecutionHistory instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    db: DbArg,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// The execution's ARN or name.
    id: String,
    /// The error to record.
    #[arg(long)]
    error: Option<String>,
    /// The cause to record.
    #[arg(long)]
    cause: Option<String>,
    #[command(flatten)]
    db: DbArg,
}

#[derive(Debug, Args)]
pub struct ResumeArgs {
    #[command(flatten)]
    db: DbArg,
}

pub fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let executions = args.db.open()?;
    let records = executions.store().list(args.status)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<38} {:<10} {:<24} {:<24} STATE MACHINE",
        "NAME", "STATUS", "STARTED", "STOPPED"
    )?;
    for record in records {
        writeln!(
            out,
            "{:<38} {:<10} {:<24} {:<24} {}",
            escaped(&record.name),
            record.status.as_str(),
            format_timestamp(record.start_date),
            record.stop_date.map(format_timestamp).unwrap_or_default(),
            escaped(&record.state_machine_name)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn describe(args: IdArgs) -> anyhow::Result<ExitCode> {
    let executions = args.db.open()?;
    let record = executions.store().get(&args.id)?;
    print_json(&executions::describe(&record))?;
    Ok(ExitCode::SUCCESS)
}

pub fn history(args: HistoryArgs) -> anyhow::Result<ExitCode> {
    let executions = args.db.open()?;
    let record = executions.store().get(&args.id)?;
    let events = executions.store().events(&record.arn)?;
    if args.json {
        let events: Vec<&crate::engine::HistoryEvent> =
            events.iter().map(|e| &e.event.event).collect();
        print_json(&json!({ "events": events }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:>5} {:>5}  {:<24} {:<28} DETAILS",
        "ID", "PREV", "TIME", "TYPE"
    )?;
    for event in &events {
        writeln!(out, "{}", history_row(event))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One line of the history table: the state, error or payload in short.
fn history_row(stored: &StoredEvent) -> String {
    let event = &stored.event.event;
    let details = event.details.as_ref().map(|(_, d)| d);
    let field = |name: &str| details.and_then(|d| d.get(name)).and_then(Value::as_str);
    let mut summary = match (field("name"), field("error")) {
        (Some(name), _) => name.to_owned(),
        (None, Some(error)) => format!("{error}: {}", field("cause").unwrap_or("")),
        (None, None) => field("output")
            .or_else(|| field("input"))
            .or_else(|| field("parameters"))
            .unwrap_or("")
            .to_owned(),
    };
    if summary.chars().count() > 60 {
        summary = summary.chars().take(57).collect::<String>() + "...";
    }
    if stored.superseded {
        summary.push_str(" (superseded by a redrive)");
    }
    format!(
        "{:>5} {:>5}  {:<24} {:<28} {}",
        event.id,
        event.previous_event_id,
        format_timestamp(event.timestamp),
        escaped(&event.kind),
        escaped(&summary)
    )
}

pub fn stop(args: StopArgs) -> anyhow::Result<ExitCode> {
    let executions = args.db.open()?;
    let request = StopRequest {
        error: args.error,
        cause: args.cause,
    };
    let record = runtime()?.block_on(executions.stop(&args.id, request))?;
    print_json(&executions::describe(&record))?;
    Ok(ExitCode::SUCCESS)
}

pub fn redrive(args: IdArgs) -> anyhow::Result<ExitCode> {
    let executions = args.db.open()?;
    let execution = match runtime()?.block_on(executions.redrive(&args.id)) {
        Ok(execution) => execution,
        Err(e)
            if matches!(
                e.downcast_ref(),
                Some(StoreError::ExecutionNotRedrivable { .. })
            ) =>
        {
            eprintln!("host: {}", escaped(&format!("{e:#}")));
            let record = executions.store().get(&args.id)?;
            match record.status {
                ExecutionStatus::Running => eprintln!(
                    "host: wait for it to end, or stop it with `host stop {}`",
                    escaped(&record.name)
                ),
                ExecutionStatus::Succeeded => {}
                _ => eprintln!(
                    "host: start a new execution of the pipeline instead; `host describe {}` \
                     shows the input it ran with",
                    escaped(&record.name)
                ),
            }
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e),
    };
    let record = executions.store().get(&execution.execution_arn)?;
    print_json(&executions::describe(&record))?;
    Ok(exit_for(record.status))
}

pub fn resume(args: ResumeArgs) -> anyhow::Result<ExitCode> {
    let executions = args.db.open()?;
    let resumed = runtime()?.block_on(executions.resume_orphans(None))?;
    report_resumed(&resumed);
    Ok(ExitCode::SUCCESS)
}

/// One line on stderr per execution a command resumed.
pub fn report_resumed(resumed: &[crate::engine::Execution]) {
    for execution in resumed {
        let mut line = format!(
            "resumed execution {}: {}",
            execution.name,
            execution.status.as_str()
        );
        for part in [&execution.error, &execution.cause].into_iter().flatten() {
            line.push_str(": ");
            line.push_str(part);
        }
        eprintln!("host: {}", escaped(&line));
    }
}

fn exit_for(status: ExecutionStatus) -> ExitCode {
    match status {
        ExecutionStatus::Succeeded => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    }
}

fn print_json(value: &Value) -> anyhow::Result<()> {
    writeln!(
        std::io::stdout().lock(),
        "{}",
        serde_json::to_string_pretty(value)?
    )?;
    Ok(())
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The database `host run` uses for `pipeline`: `--db`, else
/// `$SANDSTEP_DB`, else `.sandstep/executions.db` beside the pipeline.
pub fn db_for_pipeline(db: Option<&Path>, pipeline: &Path) -> PathBuf {
    if let Some(db) = db {
        return db.to_owned();
    }
    if let Some(db) = std::env::var_os("SANDSTEP_DB") {
        return PathBuf::from(db);
    }
    let dir = pipeline.parent().unwrap_or(Path::new(""));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    crate::store::default_path(dir)
}
