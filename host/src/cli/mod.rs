//! The `host` command line. The only module that prints.
//!
//! Exit codes: 0 success; 1 the execution did not succeed, or the pipeline
//! is invalid; 2 usage errors and host failures (unreadable files, a broken
//! manifest or component).

mod bench;
mod escape;
mod executions;
mod graph;
mod pipeline;
mod profile;
mod progress;
mod run;
mod schedule;
mod serve;
mod task_build;
mod task_tokens;
mod test_state;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Runs Amazon States Language workflows whose Tasks are sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "host", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a pipeline once and print its output.
    Run(run::RunArgs),
    /// Run one state alone, as AWS's TestState does, and print the response JSON.
    TestState(test_state::TestStateArgs),
    /// Check a pipeline without running it; list every problem.
    Validate(validate::ValidateArgs),
    /// Run a pipeline many times and print latency, throughput and peak memory.
    ///
    /// Each run is an Express execution in memory: no history cap, at most 5 minutes.
    Bench(bench::BenchArgs),
    /// List the recorded executions.
    #[command(subcommand)]
    Executions(ExecutionsCommand),
    /// Print one execution's record, like AWS DescribeExecution.
    Describe(executions::IdArgs),
    /// Print one execution's history: a table, or `--json` like AWS GetExecutionHistory.
    History(executions::HistoryArgs),
    /// Stop a running execution (it ends ABORTED).
    Stop(executions::StopArgs),
    /// Restart a FAILED, TIMED_OUT or ABORTED execution from the steps that did not succeed.
    Redrive(executions::IdArgs),
    /// Continue every RUNNING execution whose host process died.
    Resume(executions::ResumeArgs),
    /// Serve the Step Functions API (AWS JSON 1.0) for the AWS CLI and SDKs, and the console at `/`.
    Serve(serve::ServeArgs),
    /// Draw a pipeline as a graph (SVG, DOT or Mermaid), coloured by an execution if given.
    Graph(graph::GraphArgs),
    /// Build task components from other languages.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Manage the schedules that `host serve` fires (EventBridge Scheduler syntax).
    #[command(subcommand)]
    Schedule(schedule::ScheduleCommand),
}

#[derive(Debug, Subcommand)]
enum TaskCommand {
    /// Build a Python or JavaScript Lambda-style handler into a task component.
    ///
    /// Installs its toolchain (componentize-py from PyPI; componentize-js and rolldown from
    /// npm, which need Node.js 18+) on first use, into ~/.cache/sandstep/toolchains.
    Build(task_build::TaskBuildArgs),
    /// Answer a waiting task with its result (like SendTaskSuccess).
    Success(task_tokens::SuccessArgs),
    /// Answer a waiting task with an error (like SendTaskFailure).
    Failure(task_tokens::FailureArgs),
    /// Tell a waiting task its worker is alive (like SendTaskHeartbeat).
    Heartbeat(task_tokens::HeartbeatArgs),
}

#[derive(Debug, Subcommand)]
enum ExecutionsCommand {
    /// List executions, newest first.
    List(executions::ListArgs),
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SANDSTEP_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        // Escaped: a field a guest controls cannot forge a log line or
        // reach the terminal as an escape sequence (so no colours either).
        .with_ansi(false)
        .with_writer(escape::EscapedStderr)
        .init();
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::TestState(args) => test_state::test_state(args),
        Command::Validate(args) => validate::validate(args),
        Command::Bench(args) => bench::bench(args),
        Command::Executions(ExecutionsCommand::List(args)) => executions::list(args),
        Command::Describe(args) => executions::describe(args),
        Command::History(args) => executions::history(args),
        Command::Stop(args) => executions::stop(args),
        Command::Redrive(args) => executions::redrive(args),
        Command::Resume(args) => executions::resume(args),
        Command::Task(TaskCommand::Build(args)) => task_build::build(args),
        Command::Task(TaskCommand::Success(args)) => task_tokens::success(args),
        Command::Task(TaskCommand::Failure(args)) => task_tokens::failure(args),
        Command::Task(TaskCommand::Heartbeat(args)) => task_tokens::heartbeat(args),
        Command::Serve(args) => serve::serve(args),
        Command::Graph(args) => graph::graph(args),
        Command::Schedule(command) => schedule::schedule(command),
    };
    match result {
        Ok(code) => code,
        // The reader went away (`host history x | head`): nothing to say.
        Err(e)
            if e.chain().any(|cause| {
                cause
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("host: {}", escape::escaped(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}
