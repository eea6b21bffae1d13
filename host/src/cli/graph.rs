//! `host graph`: a pipeline as a picture (SVG), or as DOT or Mermaid text,
//! optionally coloured by what one recorded execution did.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use serde_json::Value;

use super::escape::escaped;
use super::executions::DbArg;
use crate::asl::MachineType;
use crate::graph::{Graph, Overlay, svg, text};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Svg,
    Dot,
    Mermaid,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The pipeline definition (ASL JSON).
    pipeline: PathBuf,
    /// What to write.
    #[arg(long, value_enum, default_value = "svg")]
    format: Format,
    /// Colour each state by what this execution (name or ARN) did:
    /// succeeded, failed, caught, running or not reached.
    #[arg(long, value_name = "NAME")]
    execution: Option<String>,
    /// Write to this file instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    db: DbArg,
}

pub fn graph(args: GraphArgs) -> anyhow::Result<ExitCode> {
    let pipeline = match super::pipeline::load(&args.pipeline, MachineType::Standard)? {
        Ok(pipeline) => pipeline,
        Err(problems) => {
            eprintln!(
                "host: {} is not a valid pipeline ({} problems); `host validate {}` lists them",
                escaped(&args.pipeline.display().to_string()),
                problems.len(),
                escaped(&args.pipeline.display().to_string())
            );
            return Ok(ExitCode::from(1));
        }
    };
    let overlay = match &args.execution {
        Some(id) => {
            let executions = args.db.open()?;
            let record = executions.store().get(id)?;
            let events = executions.store().events(&record.arn)?;
            let events: Vec<Value> = events
                .iter()
                .filter(|e| !e.superseded)
                .map(|e| serde_json::to_value(&e.event.event))
                .collect::<Result<_, _>>()?;
            Some(Overlay::from_events(&events))
        }
        None => None,
    };
    let graph = Graph::of(&pipeline.machine);
    let out = match args.format {
        Format::Svg => svg::render(&graph, overlay.as_ref()),
        Format::Dot => text::dot(&graph, overlay.as_ref()),
        Format::Mermaid => text::mermaid(&graph, overlay.as_ref()),
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, out).with_context(|| format!("cannot write {}", path.display()))?
        }
        None => std::io::stdout().lock().write_all(out.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}
