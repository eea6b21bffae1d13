//! `host serve`'s registry as the source of nested executions' state
//! machines: a child's `StateMachineArn` (latest, version or alias) is
//! resolved as StartExecution resolves it.

use std::sync::{Arc, OnceLock, Weak};

use futures::future::BoxFuture;

use super::{ApiError, Service};
use crate::engine::ExecutionType;
use crate::nested::{ChildMachine, MachineSource, StartError};

/// The service's state machines, once the service exists.
#[derive(Default)]
pub struct ServiceMachines {
    service: OnceLock<Weak<Service>>,
}

impl ServiceMachines {
    pub fn attach(&self, service: &Arc<Service>) {
        let _ = self.service.set(Arc::downgrade(service));
    }
}

fn start_error(e: ApiError) -> StartError {
    let code = e.kind.rsplit('#').next().unwrap_or(&e.kind).to_owned();
    StartError {
        code,
        message: e.message,
    }
}

impl MachineSource for ServiceMachines {
    fn resolve<'a>(&'a self, arn: &'a str) -> BoxFuture<'a, Result<ChildMachine, StartError>> {
        Box::pin(async move {
            let Some(service) = self.service.get().and_then(Weak::upgrade) else {
                return Err(StartError {
                    code: "ServiceUnavailable".into(),
                    message: "the host is shutting down".into(),
                });
            };
            let target = service.target(arn).await.map_err(start_error)?;
            if target.kind == ExecutionType::Express {
                return Err(StartError {
                    code: "StateMachineTypeNotSupported".into(),
                    message: format!(
                        "'{}' is an EXPRESS state machine: this host runs nested executions of STANDARD ones only",
                        target.name
                    ),
                });
            }
            let mut labels = Vec::new();
            if let Some(version) = target.version_arn {
                labels.push(("stateMachineVersionArn", serde_json::json!(version)));
            }
            if let Some(alias) = target.alias_arn {
                labels.push(("stateMachineAliasArn", serde_json::json!(alias)));
            }
            Ok(ChildMachine {
                machine: target.machine,
                definition: target.definition,
                name: target.name,
                labels,
            })
        })
    }
}
