//! `/metrics`: Step Functions' CloudWatch metrics (namespace `AWS/States`)
//! and Sandstep's own, in the Prometheus text format, derived from what the
//! engine's [`Observer`](crate::engine::Observer) hook sees.
//!
//! Names: AWS's metric in snake case under `states_` (`ExecutionsStarted` →
//! `states_executions_started_total`), its dimension as the label
//! (`StateMachineArn` → `state_machine_arn`, `LambdaFunctionArn`,
//! `ServiceIntegrationResourceArn`). Times are in seconds, Prometheus's base
//! unit, where CloudWatch reports milliseconds (`ExecutionTime` →
//! `states_execution_time_seconds`). See the AWS Step Functions developer
//! guide, "Monitoring Step Functions metrics using Amazon CloudWatch".
//!
//! **Invariant:** label cardinality is bounded: each label keeps at most a
//! fixed number of distinct values ([`Bounded`]), the rest are counted
//! under `other`; every value is cut to [`LABEL_CHARS`] characters. The
//! encoder escapes what a value holds.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::engine::{ExecutionMeta, HistoryEvent, TaskReport, state_machine_arn};
use crate::errors::names;

/// The longest label value kept (state machine ARNs are at most 256 on AWS).
pub const LABEL_CHARS: usize = 256;
/// Distinct state machines, resources and tenants a label keeps apart.
pub const MACHINES_KEPT: usize = 200;
pub const RESOURCES_KEPT: usize = 200;
pub const TENANTS_KEPT: usize = 64;
/// The label value everything past a cap is counted under.
pub const OTHER: &str = "other";

/// A label's distinct values, up to a cap; later ones fold into [`OTHER`].
pub struct Bounded {
    cap: usize,
    seen: Mutex<HashSet<String>>,
}

impl Bounded {
    pub fn new(cap: usize) -> Self {
        Bounded {
            cap,
            seen: Mutex::default(),
        }
    }

    /// `value` (cut to [`LABEL_CHARS`]) while fewer than `cap` values are
    /// known or it is one of them; else [`OTHER`].
    pub fn label(&self, value: &str) -> String {
        let value: String = value.chars().take(LABEL_CHARS).collect();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.contains(&value) {
            return value;
        }
        if seen.len() < self.cap {
            seen.insert(value.clone());
            return value;
        }
        OTHER.to_owned()
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MachineLabels {
    state_machine_arn: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LambdaLabels {
    lambda_function_arn: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IntegrationLabels {
    service_integration_resource_arn: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantLabels {
    tenant: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MachineTenantLabels {
    state_machine_arn: String,
    tenant: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// One family per outcome of a task attempt, as AWS names them.
struct TaskCounters<L> {
    scheduled: Family<L, Counter>,
    started: Family<L, Counter>,
    succeeded: Family<L, Counter>,
    failed: Family<L, Counter>,
    timed_out: Family<L, Counter>,
}

impl<L> TaskCounters<L>
where
    L: Clone + std::hash::Hash + Eq + EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static,
{
    fn register(registry: &mut Registry, prefix: &str, what: &str) -> Self {
        let mut family = |phase: &str| {
            let family = Family::<L, Counter>::default();
            registry.register(
                format!("{prefix}_{phase}"),
                format!("{what} {}", phase.replace('_', " ")),
                family.clone(),
            );
            family
        };
        TaskCounters {
            scheduled: family("scheduled"),
            started: family("started"),
            succeeded: family("succeeded"),
            failed: family("failed"),
            timed_out: family("timed_out"),
        }
    }

    /// One attempt the runner ran: scheduled, started and how it ended.
    fn count(&self, labels: &L, error: Option<&str>) {
        self.scheduled.get_or_create(labels).inc();
        self.started.get_or_create(labels).inc();
        match error {
            None => self.succeeded.get_or_create(labels).inc(),
            Some(names::TIMEOUT) => self.timed_out.get_or_create(labels).inc(),
            Some(_) => self.failed.get_or_create(labels).inc(),
        };
    }
}

/// Every metric `host serve` exports.
pub struct Metrics {
    registry: Registry,
    machines: Bounded,
    resources: Bounded,
    tenants: Bounded,
    started: Family<MachineLabels, Counter>,
    succeeded: Family<MachineLabels, Counter>,
    failed: Family<MachineLabels, Counter>,
    aborted: Family<MachineLabels, Counter>,
    timed_out: Family<MachineLabels, Counter>,
    redriven: Family<MachineLabels, Counter>,
    execution_time: Histograms<MachineLabels>,
    lambda: TaskCounters<LambdaLabels>,
    integrations: TaskCounters<IntegrationLabels>,
    running: Family<MachineLabels, Gauge>,
    fuel: Family<MachineTenantLabels, Counter>,
    peak_memory: Histograms<TenantLabels>,
    queue_wait: Histograms<TenantLabels>,
    store_commit: Histogram,
}

fn seconds_buckets() -> Histogram {
    // 100 µs to about 30 minutes.
    Histogram::new(exponential_buckets(0.0001, 4.0, 13))
}

fn memory_buckets() -> Histogram {
    // 64 KiB to 4 GiB.
    Histogram::new(exponential_buckets(65_536.0, 4.0, 9))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let mut machine_counter = |name: &str, help: &str| {
            let family = Family::<MachineLabels, Counter>::default();
            registry.register(name, help, family.clone());
            family
        };
        let started = machine_counter(
            "states_executions_started",
            "Executions started (AWS/States ExecutionsStarted)",
        );
        let succeeded = machine_counter(
            "states_executions_succeeded",
            "Executions that succeeded (ExecutionsSucceeded)",
        );
        let failed = machine_counter(
            "states_executions_failed",
            "Executions that failed (ExecutionsFailed)",
        );
        let aborted = machine_counter(
            "states_executions_aborted",
            "Executions stopped (ExecutionsAborted)",
        );
        let timed_out = machine_counter(
            "states_executions_timed_out",
            "Executions that timed out (ExecutionsTimedOut)",
        );
        let redriven = machine_counter(
            "states_executions_redriven",
            "Executions redriven (ExecutionsRedriven)",
        );
        let execution_time =
            Histograms::<MachineLabels>::new_with_constructor(seconds_buckets as fn() -> Histogram);
        registry.register(
            "states_execution_time_seconds",
            "From an execution's start to its end (ExecutionTime, in seconds)",
            execution_time.clone(),
        );
        let lambda = TaskCounters::register(
            &mut registry,
            "states_lambda_functions",
            "Lambda function attempts (LambdaFunctions*)",
        );
        let integrations = TaskCounters::register(
            &mut registry,
            "states_service_integrations",
            "Task attempts of other resources (ServiceIntegrations*)",
        );
        let running = Family::<MachineLabels, Gauge>::default();
        registry.register(
            "sandstep_executions_running",
            "Executions running in this host process",
            running.clone(),
        );
        let fuel = Family::<MachineTenantLabels, Counter>::default();
        registry.register(
            "sandstep_task_fuel_consumed",
            "Fuel the task attempts burnt",
            fuel.clone(),
        );
        let peak_memory =
            Histograms::<TenantLabels>::new_with_constructor(memory_buckets as fn() -> Histogram);
        registry.register(
            "sandstep_task_peak_memory_bytes",
            "The most linear memory each task attempt held",
            peak_memory.clone(),
        );
        let queue_wait =
            Histograms::<TenantLabels>::new_with_constructor(seconds_buckets as fn() -> Histogram);
        registry.register(
            "sandstep_sandbox_queue_wait_seconds",
            "How long a task attempt waited for its tenant's turn and a sandbox slot",
            queue_wait.clone(),
        );
        let store_commit = seconds_buckets();
        registry.register(
            "sandstep_store_commit_seconds",
            "How long each group commit of history events took",
            store_commit.clone(),
        );
        Metrics {
            registry,
            machines: Bounded::new(MACHINES_KEPT),
            resources: Bounded::new(RESOURCES_KEPT),
            tenants: Bounded::new(TENANTS_KEPT),
            started,
            succeeded,
            failed,
            aborted,
            timed_out,
            redriven,
            execution_time,
            lambda,
            integrations,
            running,
            fuel,
            peak_memory,
            queue_wait,
            store_commit,
        }
    }

    fn machine(&self, execution: &ExecutionMeta) -> MachineLabels {
        MachineLabels {
            state_machine_arn: self
                .machines
                .label(&state_machine_arn(&execution.state_machine_name)),
        }
    }

    pub fn execution_began(&self, execution: &ExecutionMeta) {
        self.running.get_or_create(&self.machine(execution)).inc();
    }

    pub fn execution_left(&self, execution: &ExecutionMeta) {
        self.running.get_or_create(&self.machine(execution)).dec();
    }

    /// Counts the execution-level events; the rest are not metrics.
    pub fn event(&self, execution: &ExecutionMeta, event: &HistoryEvent) {
        let family = match event.kind.as_ref() {
            "ExecutionStarted" => &self.started,
            "ExecutionSucceeded" => &self.succeeded,
            "ExecutionFailed" => &self.failed,
            "ExecutionAborted" => &self.aborted,
            "ExecutionTimedOut" => &self.timed_out,
            "ExecutionRedriven" => &self.redriven,
            _ => return,
        };
        let labels = self.machine(execution);
        family.get_or_create(&labels).inc();
        if event.kind != "ExecutionStarted" && event.kind != "ExecutionRedriven" {
            let took = (event.timestamp - execution.start_date).as_seconds_f64();
            self.execution_time
                .get_or_create(&labels)
                .observe(took.max(0.0));
        }
    }

    pub fn task_ended(&self, execution: &ExecutionMeta, task: &TaskReport<'_>) {
        let resource = self.resources.label(task.resource);
        if task.resource.starts_with("arn:aws:lambda:") {
            let labels = LambdaLabels {
                lambda_function_arn: resource,
            };
            self.lambda.count(&labels, task.error);
        } else {
            let labels = IntegrationLabels {
                service_integration_resource_arn: resource,
            };
            self.integrations.count(&labels, task.error);
        }
        let tenant = self
            .tenants
            .label(task.tenant.unwrap_or(crate::sandbox::DEFAULT_TENANT));
        let Some(usage) = task.usage else {
            return;
        };
        if let Some(fuel) = usage.fuel_consumed {
            let labels = MachineTenantLabels {
                state_machine_arn: self.machine(execution).state_machine_arn,
                tenant: tenant.clone(),
            };
            self.fuel.get_or_create(&labels).inc_by(fuel);
        }
        let labels = TenantLabels { tenant };
        if let Some(peak) = usage.peak_memory_bytes {
            self.peak_memory.get_or_create(&labels).observe(peak as f64);
        }
        if let Some(wait) = usage.queue_wait_micros {
            let wait = Duration::from_micros(wait).as_secs_f64();
            self.queue_wait.get_or_create(&labels).observe(wait);
        }
    }

    pub fn store_committed(&self, took: Duration) {
        self.store_commit.observe(took.as_secs_f64());
    }

    /// The text exposition (OpenMetrics flavour of the Prometheus format).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// The `Content-Type` of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_keeps_its_cap_of_values_and_folds_the_rest() {
        let bounded = Bounded::new(2);
        assert_eq!(bounded.label("a"), "a");
        assert_eq!(bounded.label("b"), "b");
        assert_eq!(bounded.label("c"), OTHER);
        assert_eq!(bounded.label("a"), "a", "a known value stays itself");
        let long = "x".repeat(1000);
        assert_eq!(Bounded::new(1).label(&long).chars().count(), LABEL_CHARS);
    }

    #[test]
    fn a_label_value_with_quotes_and_newlines_is_escaped() {
        let metrics = Metrics::new();
        let meta = ExecutionMeta {
            arn: "arn".into(),
            state_machine_name: "a\"b\nc".into(),
            kind: crate::engine::ExecutionType::Standard,
            redrive_count: 0,
            start_date: time::OffsetDateTime::UNIX_EPOCH,
        };
        metrics.execution_began(&meta);
        let text = metrics.encode();
        assert!(text.contains(r#"a\"b\nc"#), "{text}");
        assert!(!text.contains("a\"b\nc"), "{text}");
    }
}
