//! Loading what a command works on: the pipeline definition and the tasks
//! its Task states name.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use crate::asl::model::StateMachine;
use crate::asl::{self, Diagnostic, MachineType};
use crate::engine::{NoTasks, TaskRunner};

/// A pipeline file, parsed and compiled.
pub struct Pipeline {
    pub path: PathBuf,
    /// The state machine's name: the file name without `.json`/`.asl.json`.
    pub name: String,
    pub machine: StateMachine,
    /// The definition as written: a durable execution stores it.
    pub text: String,
}

/// Reads and compiles `path` for a machine of type `ty`. `Ok(Err(..))` lists
/// the problems of an invalid definition.
pub fn load(path: &Path, ty: MachineType) -> anyhow::Result<Result<Pipeline, Vec<Diagnostic>>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read pipeline {}", path.display()))?;
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("pipeline");
    let name = file_name
        .trim_end_matches(".json")
        .trim_end_matches(".asl")
        .to_owned();
    Ok(asl::parse_text_as(&text, ty).map(|machine| Pipeline {
        path: path.to_owned(),
        name,
        machine,
        text,
    }))
}

/// The task runner for `pipeline`: the manifest's tasks, loaded and compiled,
/// or none at all when the pipeline has no Task state and no manifest.
pub fn task_runner(
    pipeline: &Pipeline,
    manifest: Option<&Path>,
) -> anyhow::Result<Arc<dyn TaskRunner>> {
    match manifest_path(pipeline, manifest) {
        Some(path) => crate::resources::load_runner(&path),
        None => Ok(Arc::new(NoTasks)),
    }
}

/// The manifest `pipeline` runs with: `manifest`, else `sandstep.toml` beside it.
pub fn manifest_path(pipeline: &Pipeline, manifest: Option<&Path>) -> Option<PathBuf> {
    match manifest {
        Some(path) => Some(path.to_owned()),
        None => crate::resources::Manifest::find_beside(&pipeline.path),
    }
}
