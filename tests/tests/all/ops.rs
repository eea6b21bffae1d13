//! Operations on real components: the metrics a Task attempt feeds (fuel,
//! peak memory, queue wait by tenant; the per-integration counters), parsed
//! back with a Prometheus parser, and a task's own log lines in the
//! execution log, joined with its execution and state.

use std::io::Write;
use std::sync::{Arc, Mutex};

use sandstep_host::asl;
use sandstep_host::engine::{Engine, ExecutionRequest, Status};
use sandstep_host::ops::{ExecutionLog, Ops};
use sandstep_host::resources::{LambdaInvoke, Manifest, WasmTasks};
use sandstep_tests::guests;
use serde_json::{Value, json};

use crate::sandbox::sandbox;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn engine(ops: Arc<Ops>) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sandstep.toml");
    let text = format!(
        "[tenants.acme]\nmax_concurrent_tasks = 2\n[tasks.echo]\ncomponent = {:?}\ntenant = \"acme\"\n[tasks.reject]\ncomponent = {:?}\n",
        guests::ECHO,
        guests::TASK_ERROR
    );
    std::fs::write(&path, text).expect("write manifest");
    let manifest = Manifest::load(&path).expect("valid manifest");
    let tasks = WasmTasks::load(&manifest, sandbox()).expect("loads");
    let engine = Engine::new(Arc::new(LambdaInvoke::new(Arc::new(tasks)))).with_observer(ops);
    (dir, engine)
}

/// Echo twice, then the rejecting task, caught.
fn pipeline() -> Value {
    json!({
        "StartAt": "First",
        "States": {
            "First": {"Type": "Task", "Resource": "wasm:echo", "Next": "Second"},
            "Second": {"Type": "Task", "Resource": "wasm:echo", "Next": "Reject"},
            "Reject": {
                "Type": "Task", "Resource": "wasm:reject",
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Done"}],
                "End": true
            },
            "Done": {"Type": "Pass", "End": true}
        }
    })
}

fn value(scrape: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(buckets) => {
                buckets.iter().map(|b| b.count).fold(0.0, f64::max)
            }
            prometheus_parse::Value::Summary(_) => 0.0,
        })
        .sum()
}

fn scrape(ops: &Ops) -> prometheus_parse::Scrape {
    let text = ops.metrics.encode();
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines).expect("the exposition parses")
}

#[tokio::test]
async fn task_attempts_feed_the_metrics_and_the_execution_log() {
    let buffer = Buffer::default();
    let ops = Ops::new(Some(ExecutionLog::new(Box::new(buffer.clone()))));
    ops.set_logging(
        "etl",
        &json!({"loggingConfiguration": {"level": "ALL", "includeExecutionData": false}}),
    );
    let (_dir, engine) = engine(ops.clone());
    let machine = asl::parse(&pipeline()).expect("valid");
    let before = scrape(&ops);
    assert_eq!(
        value(&before, "sandstep_task_fuel_consumed_total", &[]),
        0.0
    );
    for _ in 0..2 {
        let execution = engine
            .execute(&machine, ExecutionRequest::new("etl", json!({"n": 1})))
            .await;
        assert_eq!(execution.status, Status::Succeeded, "{:?}", execution.cause);
    }
    let after = scrape(&ops);
    let machine_arn = "arn:aws:states:local:000000000000:stateMachine:etl";
    let by_machine = [("state_machine_arn", machine_arn)];
    assert_eq!(
        value(&after, "states_executions_started_total", &by_machine),
        2.0
    );
    assert_eq!(
        value(&after, "states_executions_succeeded_total", &by_machine),
        2.0
    );
    assert_eq!(
        value(&after, "sandstep_executions_running", &by_machine),
        0.0
    );
    let echo = [("service_integration_resource_arn", "wasm:echo")];
    let reject = [("service_integration_resource_arn", "wasm:reject")];
    assert_eq!(
        value(&after, "states_service_integrations_started_total", &echo),
        4.0
    );
    assert_eq!(
        value(&after, "states_service_integrations_succeeded_total", &echo),
        4.0
    );
    assert_eq!(
        value(&after, "states_service_integrations_failed_total", &reject),
        2.0
    );
    let acme = [("tenant", "acme")];
    assert!(value(&after, "sandstep_task_fuel_consumed_total", &acme) > 0.0);
    assert_eq!(
        value(&after, "sandstep_task_peak_memory_bytes", &acme),
        4.0,
        "one observation per echo attempt"
    );
    assert_eq!(
        value(&after, "sandstep_sandbox_queue_wait_seconds", &acme),
        4.0
    );
    assert_eq!(
        value(
            &after,
            "sandstep_sandbox_queue_wait_seconds",
            &[("tenant", "default")]
        ),
        2.0
    );

    ops.close();
    let text = String::from_utf8(buffer.0.lock().unwrap_or_else(|e| e.into_inner()).clone())
        .expect("utf-8");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let task_logs: Vec<&Value> = lines.iter().filter(|l| l["type"] == "TaskLog").collect();
    assert_eq!(task_logs.len(), 4, "{text}");
    assert_eq!(task_logs[0]["state_name"], "First");
    assert!(
        task_logs[0]["execution_arn"]
            .as_str()
            .is_some_and(|arn| arn.contains(":execution:etl:")),
        "{text}"
    );
    assert!(
        task_logs[0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("echo in state")),
        "{text}"
    );
    let kinds: Vec<&str> = lines.iter().filter_map(|l| l["type"].as_str()).collect();
    assert!(kinds.contains(&"TaskFailed"), "{kinds:?}");
    assert!(
        lines
            .iter()
            .all(|l| l["details"].get("input").is_none() && l["details"].get("output").is_none()),
        "no execution data without includeExecutionData"
    );
}
