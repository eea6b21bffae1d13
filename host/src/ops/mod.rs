//! Operations for `host serve`: metrics (`/metrics`), execution logs
//! (`--execution-log`), and what starts executions unattended.
//!
//! Metrics and logs come from one place: [`Ops`] is the engine's
//! [`Observer`], so it sees every new history event of every execution
//! the host runs (a replay re-emits none, so nothing is counted twice) and
//! every Task attempt's figures (fuel, peak memory, queue wait, tenant, the
//! task's log lines). Nothing else in the engine is instrumented.
//!
//! **Invariant:** an observer call is cheap and never blocks: metric
//! updates are atomic, log lines go to a bounded queue (dropped and counted
//! past it).

pub mod exec_log;
pub mod metrics;
pub mod schedule;
pub mod trigger;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::engine::{ExecutionMeta, HistoryEvent, Observer, TaskReport};
pub use exec_log::{ExecutionLog, LogConfig, LogLevel};
pub use metrics::Metrics;

/// The operations side of one host process.
#[derive(Default)]
pub struct Ops {
    pub metrics: Metrics,
    log: Option<ExecutionLog>,
    /// Each state machine's logging configuration, by name.
    logging: RwLock<HashMap<String, LogConfig>>,
}

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ops")
            .field("execution_log", &self.log.is_some())
            .finish_non_exhaustive()
    }
}

impl Ops {
    pub fn new(log: Option<ExecutionLog>) -> Arc<Ops> {
        Arc::new(Ops {
            metrics: Metrics::new(),
            log,
            logging: RwLock::default(),
        })
    }

    /// Sets state machine `name`'s logging from its stored configuration
    /// (the record's `config`, holding `loggingConfiguration` if given).
    pub fn set_logging(&self, name: &str, config: &serde_json::Value) {
        let logging = config
            .get("loggingConfiguration")
            .map(LogConfig::from_json)
            .unwrap_or_default();
        let mut all = self.logging.write().unwrap_or_else(|e| e.into_inner());
        if logging.level == LogLevel::Off {
            all.remove(name);
        } else {
            all.insert(name.to_owned(), logging);
        }
    }

    /// Forgets state machine `name`'s logging (deleted, or about to be re-read).
    pub fn forget_logging(&self, name: &str) {
        self.logging
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
    }

    fn logging(&self, execution: &ExecutionMeta) -> Option<(&ExecutionLog, LogConfig)> {
        let log = self.log.as_ref()?;
        let config = *self
            .logging
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&execution.state_machine_name)?;
        Some((log, config))
    }

    /// Writes what is queued in the execution log and stops its writer.
    pub fn close(&self) {
        if let Some(log) = &self.log {
            log.close();
        }
    }
}

impl Observer for Ops {
    fn wants_events(&self) -> bool {
        true
    }

    fn execution_began(&self, execution: &ExecutionMeta) {
        self.metrics.execution_began(execution);
    }

    fn execution_left(&self, execution: &ExecutionMeta) {
        self.metrics.execution_left(execution);
    }

    fn event(&self, execution: &ExecutionMeta, event: &HistoryEvent) {
        self.metrics.event(execution, event);
        if let Some((log, config)) = self.logging(execution) {
            log.event(config, execution, event);
        }
    }

    fn task_ended(&self, execution: &ExecutionMeta, task: &TaskReport<'_>) {
        self.metrics.task_ended(execution, task);
        if let Some((log, config)) = self.logging(execution) {
            log.task_ended(config, execution, task);
        }
    }
}
