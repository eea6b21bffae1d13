//! The state machines a manifest declares (`[state_machines.NAME]`), as
//! `host run` offers them to nested executions: found by the name in a
//! state machine ARN, parsed once when the manifest loads.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::{ChildMachine, MachineSource, StartError};
use crate::asl::model::StateMachine;
use crate::asl::{self, MachineType};
use crate::resources::Manifest;

/// A manifest's Standard state machines, by name.
pub struct ManifestMachines {
    machines: BTreeMap<String, (Arc<StateMachine>, String)>,
}

impl ManifestMachines {
    /// The state machines `manifest` declares; a definition that cannot be
    /// read or is invalid fails here, before any execution starts.
    pub fn load(manifest: &Manifest) -> anyhow::Result<Self> {
        let mut machines = BTreeMap::new();
        for decl in manifest.state_machines().values() {
            if decl.express {
                // Children run as durable Standard executions.
                continue;
            }
            let text = std::fs::read_to_string(&decl.definition).map_err(|e| {
                anyhow::anyhow!(
                    "state machine {:?}: cannot read its definition {}: {e}",
                    decl.name,
                    decl.definition.display()
                )
            })?;
            let machine = asl::parse_text_as(&text, MachineType::Standard).map_err(|problems| {
                let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
                anyhow::anyhow!(
                    "state machine {:?} ({}) is invalid: {}",
                    decl.name,
                    decl.definition.display(),
                    listed.join("; ")
                )
            })?;
            machines.insert(decl.name.clone(), (Arc::new(machine), text));
        }
        Ok(ManifestMachines { machines })
    }

    /// The manifest at `path`'s machines, or why nested executions cannot
    /// start any (said by a Task state's check before the run, so a
    /// pipeline that starts none runs whatever the manifest declares).
    pub fn for_manifest(path: Option<&Path>) -> Result<Arc<dyn MachineSource>, String> {
        let Some(path) = path else {
            return Err(
                "no task manifest declares a state machine to start: add [state_machines.NAME] \
                 (definition = \"FILE.json\") to a sandstep.toml beside the pipeline, or pass --manifest"
                    .into(),
            );
        };
        let machines = Manifest::load(path)
            .and_then(|manifest| ManifestMachines::load(&manifest))
            .map_err(|e| format!("{e:#}"))?;
        if machines.machines.is_empty() {
            return Err(format!(
                "{} declares no Standard state machine to start: add [state_machines.NAME] \
                 (definition = \"FILE.json\") to it",
                path.display()
            ));
        }
        Ok(Arc::new(machines))
    }

    fn find(&self, arn: &str) -> Result<ChildMachine, StartError> {
        let does_not_exist = || StartError {
            code: "StateMachineDoesNotExist".into(),
            message: format!(
                "State Machine Does Not Exist: '{}'",
                crate::api::protocol::echo(arn)
            ),
        };
        let parts: Vec<&str> = arn.split(':').collect();
        let name = match parts.as_slice() {
            [
                "arn",
                partition,
                "states",
                _region,
                _account,
                "stateMachine",
                name,
            ] if !partition.is_empty() => *name,
            // Versions and aliases live in `host serve`'s registry only.
            ["arn", _, "states", _, _, "stateMachine", _, _] => return Err(does_not_exist()),
            _ => {
                return Err(StartError {
                    code: "InvalidArn".into(),
                    message: format!("Invalid Arn: '{}'", crate::api::protocol::echo(arn)),
                });
            }
        };
        let (machine, definition) = self.machines.get(name).ok_or_else(does_not_exist)?;
        Ok(ChildMachine {
            machine: machine.clone(),
            definition: definition.clone(),
            name: name.to_owned(),
            labels: Vec::new(),
        })
    }
}

impl MachineSource for ManifestMachines {
    fn resolve<'a>(&'a self, arn: &'a str) -> BoxFuture<'a, Result<ChildMachine, StartError>> {
        Box::pin(async move { self.find(arn) })
    }
}
