//! `host validate`: every problem of a pipeline, without running it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::pipeline;
use crate::asl::{Diagnostic, ValidationReport};
use crate::engine::Engine;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The pipeline: an ASL state machine definition (JSON).
    pipeline: PathBuf,
    /// The task manifest to check Task resources against. Default: `sandstep.toml` beside the pipeline.
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Print the result shaped like AWS ValidateStateMachineDefinition.
    #[arg(long)]
    json: bool,
    /// Validate for this machine type (Express refuses `.sync`, callbacks, activities).
    #[arg(
        long = "type",
        value_enum,
        default_value = "standard",
        ignore_case = true
    )]
    kind: super::run::Kind,
}

pub fn validate(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let mut problems = match pipeline::load(&args.pipeline, args.kind.machine_type())? {
        Err(problems) => problems,
        Ok(pipeline) => {
            let tasks = pipeline::task_runner(&pipeline, args.manifest.as_deref())?;
            Engine::new(tasks).check_resources(&pipeline.machine)
        }
    };
    problems.sort_by(|a, b| a.location.cmp(&b.location));
    let valid = problems.is_empty();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&ValidationReport::new(problems))?
        );
    } else if valid {
        println!("{}: valid", args.pipeline.display());
    } else {
        print_problems(&args.pipeline, &problems);
    }
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn print_problems(path: &Path, problems: &[Diagnostic]) {
    for problem in problems {
        eprintln!(
            "host: {}: {}",
            path.display(),
            super::escape::escaped(&problem.to_string())
        );
    }
    eprintln!(
        "host: {}: {} problem{} found",
        path.display(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
}
