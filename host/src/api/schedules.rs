//! What `host serve` starts unattended: the store's schedules, fired as
//! StartExecution requests of this service (so they are ordinary
//! executions: same records, metrics and logs as any other).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::{ApiError, Service};
use crate::ops::schedule::{self, Fire};
use crate::store::ScheduleStore;

/// How often the schedules are looked at: EventBridge Scheduler fires
/// within the minute, so a few seconds is precise enough.
pub const TICK: Duration = Duration::from_secs(5);

impl Service {
    /// Starts an execution of state machine `machine` named `name`, as
    /// StartExecution does; the execution ARN.
    pub async fn start_execution(
        self: &Arc<Self>,
        machine: &str,
        name: &str,
        input: &Value,
    ) -> Result<String, ApiError> {
        let body = json!({
            "stateMachineArn": crate::engine::state_machine_arn(machine),
            "name": name,
            "input": input.to_string(),
        });
        let answer = self
            .dispatch("StartExecution", body.to_string().as_bytes())
            .await?;
        Ok(answer["executionArn"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }
}

/// Puts the manifest's schedules in the store; a schedule already there
/// keeps its last fire and whether it is paused.
pub fn declare(
    store: &dyn ScheduleStore,
    declared: &[crate::store::ScheduleRecord],
) -> anyhow::Result<Vec<String>> {
    let existing = store.schedules()?;
    let mut done = Vec::new();
    for record in declared {
        let mut record = record.clone();
        if let Some(old) = existing.iter().find(|s| s.name == record.name) {
            record.enabled = old.enabled;
        }
        let existed = store.put_schedule(&record)?;
        done.push(format!(
            "schedule {}: {} ({} starts {})",
            record.name,
            if existed { "kept" } else { "created" },
            record.expression,
            record.state_machine
        ));
    }
    Ok(done)
}

/// Fires the store's schedules until the runtime ends.
pub async fn run(service: Arc<Service>, store: Arc<dyn ScheduleStore>) {
    loop {
        let now = time::OffsetDateTime::now_utc();
        let claiming = store.clone();
        let fires =
            tokio::task::spawn_blocking(move || schedule::claim_due(claiming.as_ref(), now)).await;
        match fires {
            Ok(Ok(fires)) => {
                for fire in fires {
                    start(&service, &fire).await;
                }
            }
            Ok(Err(e)) => tracing::error!(error = %e, "could not read the schedules"),
            Err(e) => tracing::error!(error = %e, "the schedule check failed"),
        }
        tokio::time::sleep(TICK).await;
    }
}

async fn start(service: &Arc<Service>, fire: &Fire) {
    match service
        .start_execution(&fire.state_machine, &fire.execution_name, &fire.input)
        .await
    {
        Ok(arn) => {
            tracing::info!(schedule = %fire.schedule.escape_debug(), execution = %arn.escape_debug(), "schedule fired")
        }
        Err(e) => tracing::error!(
            schedule = %fire.schedule.escape_debug(),
            error = %e.message.escape_debug(),
            "a schedule could not start its execution"
        ),
    }
}

/// How often the file triggers scan their directories.
pub const SCAN: Duration = Duration::from_secs(2);

/// Watches `decl`'s directory until the runtime ends, starting one
/// execution per completed file (see [`crate::ops::trigger`]).
pub async fn watch<S>(service: Arc<Service>, store: Arc<S>, decl: crate::ops::trigger::TriggerDecl)
where
    S: crate::ops::trigger::TriggerStore + 'static,
{
    use crate::ops::trigger::{self as trigger, Watcher};
    let mut watcher = Watcher::new(decl);
    loop {
        let scanning = store.clone();
        let scanned = tokio::task::spawn_blocking(move || {
            let ready = watcher.scan(scanning.as_ref());
            (watcher, ready)
        })
        .await;
        let ready = match scanned {
            Ok((back, ready)) => {
                watcher = back;
                ready
            }
            Err(e) => {
                tracing::error!(error = %e, "a file trigger's scan failed");
                return;
            }
        };
        let name = watcher.decl.name.clone();
        match ready {
            Ok(files) => {
                for file in files {
                    let execution = trigger::execution_name(&name, &file.id);
                    let event = trigger::event(&name, &file);
                    let started = service
                        .start_execution(&watcher.decl.state_machine, &execution, &event)
                        .await;
                    match started {
                        Ok(_) => {}
                        // Started before (a restart between start and record).
                        Err(e) if e.kind.ends_with("ExecutionAlreadyExists") => {}
                        Err(e) => {
                            tracing::error!(
                                trigger = %name.escape_debug(),
                                error = %e.message.escape_debug(),
                                "a file trigger could not start its execution; it tries again at the next scan"
                            );
                            continue;
                        }
                    }
                    let recording = store.clone();
                    let (trigger_name, id) = (name.clone(), file.id.clone());
                    let recorded = tokio::task::spawn_blocking(move || {
                        recording.record_file(&trigger_name, &id)
                    })
                    .await;
                    if !matches!(recorded, Ok(Ok(_))) {
                        tracing::error!(trigger = %name.escape_debug(), "could not record a started file");
                    }
                }
            }
            Err(e) => {
                tracing::error!(trigger = %name.escape_debug(), error = %e, "could not read the trigger's files")
            }
        }
        tokio::time::sleep(SCAN).await;
    }
}
