//! Replay against a journal, checked at every point a crash could cut the
//! recorded history: the resumed execution ends with the same output and
//! the same events, and invokes exactly the attempts whose result was not
//! recorded.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::journal::{EventKey, EventSink, Journal, KeyedEvent, SinkFuture};
use super::{Clock, Durable, Engine, ExecutionRequest, Status, TaskCall, TaskFuture, TaskRunner};
use crate::errors::AslError;

/// Keeps what it is given; always durable.
#[derive(Default)]
struct Recorded(Mutex<Vec<KeyedEvent>>);

impl EventSink for Recorded {
    fn record(&self, event: KeyedEvent) {
        self.0.lock().expect("not poisoned").push(event);
    }

    fn durable(&self) -> SinkFuture<'_> {
        Box::pin(async { Ok(()) })
    }
}

/// `wasm:add` adds 1 to `n`; `wasm:flaky` fails its first attempt.
#[derive(Default)]
struct Counting {
    invocations: AtomicUsize,
    /// `wasm:add` fails for this `n`.
    broken: Option<i64>,
}

impl TaskRunner for Counting {
    fn check_resource(&self, _: &str) -> Result<(), String> {
        Ok(())
    }

    fn invoke<'a>(&'a self, call: TaskCall<'a>) -> TaskFuture<'a> {
        self.invocations.fetch_add(1, Ordering::Relaxed);
        let n = call.input.get("n").and_then(Value::as_i64).unwrap_or(0);
        let result = if call.resource == "wasm:flaky" && call.retry_count == 0 {
            Err(AslError::new("Flaky.Once", "first attempt fails"))
        } else if call.resource == "wasm:add" && self.broken == Some(n) {
            Err(AslError::new("Add.Broken", format!("cannot add to {n}")))
        } else {
            Ok(json!({"n": n + 1}))
        };
        Box::pin(async move { result.into() })
    }
}

const PIPELINE: &str = r#"{
  "StartAt": "Id",
  "States": {
    "Id": {"Type": "Pass", "Parameters": {"n.$": "$.n", "items.$": "$.items", "id.$": "States.UUID()"}, "Next": "Flaky"},
    "Flaky": {"Type": "Task", "Resource": "wasm:flaky", "Parameters": {"n.$": "$.n"},
      "Retry": [{"ErrorEquals": ["Flaky.Once"], "IntervalSeconds": 2}], "ResultPath": "$.flaky", "Next": "Fan"},
    "Fan": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
      "ItemSelector": {"n.$": "$$.Map.Item.Value"},
      "ItemProcessor": {"StartAt": "Add", "States": {
        "Add": {"Type": "Task", "Resource": "wasm:add", "Next": "Again"},
        "Again": {"Type": "Task", "Resource": "wasm:add", "End": true}}},
      "ResultPath": "$.mapped", "Next": "Both"},
    "Both": {"Type": "Parallel", "ResultPath": "$.both", "Branches": [
      {"StartAt": "L", "States": {"L": {"Type": "Task", "Resource": "wasm:add", "End": true}}},
      {"StartAt": "R", "States": {"R": {"Type": "Wait", "Seconds": 30, "Next": "R2"},
                                  "R2": {"Type": "Task", "Resource": "wasm:add", "End": true}}}],
      "Next": "Route"},
    "Route": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 0, "Next": "Done"}],
      "Default": "Done"},
    "Done": {"Type": "Succeed"}
  }
}"#;

struct Run {
    status: Status,
    output: Option<Value>,
    events: Vec<KeyedEvent>,
    invocations: usize,
}

fn run(journal: Vec<KeyedEvent>, start: OffsetDateTime) -> Run {
    run_with(Counting::default(), journal, 0, start)
}

fn run_with(
    tasks: Counting,
    journal: Vec<KeyedEvent>,
    redrive_count: u32,
    start: OffsetDateTime,
) -> Run {
    let machine = crate::asl::parse_text(PIPELINE).expect("a valid pipeline");
    let tasks = Arc::new(tasks);
    let engine = Engine::new(tasks.clone()).with_clock(Clock::virtual_time());
    let sink = Arc::new(Recorded::default());
    let last_id = journal.iter().map(|e| e.event.id).max().unwrap_or(0);
    let mut request = ExecutionRequest::new("replay", json!({"n": 1, "items": [10, 20, 30]}));
    request.name = Some("fixed".into());
    request.record_history = false;
    request.durable = Some(Durable {
        sink: sink.clone(),
        journal: Arc::new(Journal::new(journal)),
        last_id,
        start_date: start,
        redrive_count,
        redrive_date: None,
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let execution = runtime.block_on(engine.execute(&machine, request));
    let events = std::mem::take(&mut *sink.0.lock().expect("not poisoned"));
    Run {
        status: execution.status,
        output: execution.output,
        events,
        invocations: tasks.invocations.load(Ordering::Relaxed),
    }
}

fn is_task_result(event: &KeyedEvent) -> bool {
    matches!(event.event.kind.as_ref(), "TaskSucceeded" | "TaskFailed")
}

/// What must match between a clean run and a resumed one: each event's
/// place, type and details (ids may differ where branches interleaved).
fn shape(events: &[KeyedEvent]) -> BTreeMap<EventKey, (String, Option<Value>)> {
    events
        .iter()
        .map(|e| {
            let details = e.event.details.as_ref().map(|(_, d)| d.clone());
            (e.key.clone(), (e.event.kind.to_string(), details))
        })
        .collect()
}

#[test]
fn a_resumed_execution_continues_from_any_cut_of_its_history() {
    let start = OffsetDateTime::now_utc();
    let clean = run(Vec::new(), start);
    assert_eq!(clean.status, Status::Succeeded);
    let output = clean.output.clone().expect("an output");
    assert_eq!(output["mapped"], json!([{"n": 12}, {"n": 22}, {"n": 32}]));
    assert_eq!(output["both"], json!([{"n": 2}, {"n": 2}]));
    let results = clean.events.iter().filter(|e| is_task_result(e)).count();
    assert_eq!(clean.invocations, results);
    let mut by_id = clean.events.clone();
    by_id.sort_by_key(|e| e.event.id);
    let keys: std::collections::HashSet<_> = by_id.iter().map(|e| e.key.clone()).collect();
    assert_eq!(keys.len(), by_id.len(), "every event has its own key");
    assert!(by_id.len() > 40, "{} events", by_id.len());

    for cut in 0..=by_id.len() {
        let prefix = by_id[..cut].to_vec();
        let resumed = run(prefix.clone(), start);
        assert_eq!(resumed.status, Status::Succeeded, "cut at {cut}");
        // The UUID of the first Pass is whatever was recorded, so the
        // outputs agree whenever that state's exit was recorded.
        let exit_recorded = prefix.iter().any(|e| e.event.kind == "PassStateExited");
        if exit_recorded {
            assert_eq!(resumed.output, clean.output, "cut at {cut}");
        }
        let recorded_results = prefix.iter().filter(|e| is_task_result(e)).count();
        assert_eq!(
            resumed.invocations,
            results - recorded_results,
            "cut at {cut}: only attempts without a recorded result run again"
        );
        let mut whole = prefix.clone();
        whole.extend(resumed.events.iter().cloned());
        let mut ids: Vec<u64> = whole.iter().map(|e| e.event.id).collect();
        ids.sort_unstable();
        assert_eq!(
            ids,
            (1..=by_id.len() as u64).collect::<Vec<_>>(),
            "cut at {cut}: no event lost or repeated"
        );
        if exit_recorded {
            assert_eq!(shape(&whole), shape(&by_id), "cut at {cut}");
        }
    }
}

#[test]
fn a_replayed_wait_sleeps_only_what_is_left() {
    let start = OffsetDateTime::now_utc();
    let clean = run(Vec::new(), start);
    let mut by_id = clean.events.clone();
    by_id.sort_by_key(|e| e.event.id);
    let entered = by_id
        .iter()
        .position(|e| e.event.kind == "WaitStateEntered")
        .expect("the Wait ran");
    let resumed = run(by_id[..=entered].to_vec(), start);
    let wait_entered = by_id[entered].event.timestamp;
    let exited = resumed
        .events
        .iter()
        .find(|e| e.event.kind == "WaitStateExited")
        .expect("the Wait ends");
    // Virtual time: the resumed Wait ends 30 s after it was first entered,
    // not 30 s after the resume.
    let waited = exited.event.timestamp - wait_entered;
    assert!(
        waited >= time::Duration::seconds(30) && waited < time::Duration::seconds(31),
        "{waited}"
    );
}

#[test]
fn a_redrive_reruns_only_the_unsuccessful_steps() {
    let start = OffsetDateTime::now_utc();
    let broken = Counting {
        broken: Some(20),
        ..Counting::default()
    };
    let failed = run_with(broken, Vec::new(), 0, start);
    assert_eq!(failed.status, Status::Failed);
    let superseded = super::journal::superseded_by_redrive(&failed.events);
    assert!(!superseded.is_empty());
    let kept: Vec<KeyedEvent> = failed
        .events
        .iter()
        .filter(|e| !superseded.contains(&e.event.id))
        .cloned()
        .collect();
    // Nothing that exited is dropped; the failed iteration's Task is.
    assert!(kept.iter().any(|e| e.event.kind == "PassStateExited"));
    assert!(
        !kept
            .iter()
            .any(|e| e.event.kind == "TaskFailed" && e.key.frame.contains('m'))
    );
    let redriven = run_with(Counting::default(), kept, 1, start);
    assert_eq!(redriven.status, Status::Succeeded);
    // Item 20's two Tasks, item 30's (the Map stopped before it), and the
    // Parallel's two; item 10 and the retried first Task are not run again.
    assert_eq!(redriven.invocations, 6);
    let output = redriven.output.expect("an output");
    assert_eq!(output["mapped"], json!([{"n": 12}, {"n": 22}, {"n": 32}]));
    assert!(
        redriven
            .events
            .iter()
            .any(|e| e.key == EventKey::execution(3) && e.event.kind == "ExecutionSucceeded"),
        "the second run's end is the execution's event 3"
    );
}
