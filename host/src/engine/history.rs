//! Execution history: the record of truth of an execution, one event per
//! step, shaped like AWS's `GetExecutionHistory`.
//!
//! Each event serializes as
//! `{"timestamp", "type", "id", "previousEventId", "<detailsMember>": {...}}`:
//! `id` counts from 1; `previousEventId` names the causally previous event
//! (0 for the first event and for the first state entered), which inside
//! Parallel branches and Map iterations is not `id - 1`. `input`/`output`
//! fields inside details are JSON *text*, as on AWS's wire.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::journal::{EventKey, EventSink, KeyedEvent};

/// One history event.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    pub id: u64,
    pub previous_event_id: u64,
    pub timestamp: OffsetDateTime,
    /// The AWS `HistoryEventType`, e.g. `PassStateEntered`.
    pub kind: Cow<'static, str>,
    /// The details member name (e.g. `stateEnteredEventDetails`) and its value.
    pub details: Option<(Cow<'static, str>, Value)>,
}

impl Serialize for HistoryEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("timestamp", &format_timestamp(self.timestamp))?;
        map.serialize_entry("type", &self.kind)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("previousEventId", &self.previous_event_id)?;
        if let Some((member, details)) = &self.details {
            map.serialize_entry(member, details)?;
        }
        map.end()
    }
}

/// ISO-8601 with milliseconds, as the context object and the AWS CLI show times.
pub fn format_timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// AWS's cap on a Standard execution's history: event 25,000 is its
/// `ExecutionFailed` (`States.Runtime`, [`HISTORY_FULL_CAUSE`]).
pub const HISTORY_EVENT_LIMIT: u64 = 25_000;

/// The cause AWS gives when an execution reaches [`HISTORY_EVENT_LIMIT`].
pub const HISTORY_FULL_CAUSE: &str =
    "The execution reached the maximum number of history events (25000).";

/// The events of one execution, appended by every branch and iteration.
#[derive(Default)]
pub struct History {
    events: Mutex<Vec<HistoryEvent>>,
    /// Keep events in memory (`host run --history`, tests).
    record: bool,
    /// A durable execution's store: every new event goes there too.
    sink: Option<Arc<dyn EventSink>>,
    /// The last id handed out.
    last_id: AtomicU64,
    /// The id only the execution's own final event may take.
    limit: Option<u64>,
    /// An event was refused at `limit`: the execution must stop.
    full: AtomicBool,
    /// Sees every new event (metrics, execution logs).
    observer: Option<(Arc<dyn super::Observer>, Arc<super::ExecutionMeta>)>,
}

impl History {
    pub fn new(record: bool) -> Self {
        History {
            record,
            ..History::default()
        }
    }

    /// Sends every new event to `sink`, numbering from `last_id + 1` (a
    /// resumed execution continues its recorded history).
    pub fn with_sink(mut self, sink: Arc<dyn EventSink>, last_id: u64) -> Self {
        self.sink = Some(sink);
        self.last_id = AtomicU64::new(last_id);
        self
    }

    /// Shows every new event to `observer` too.
    pub fn with_observer(
        mut self,
        observer: Arc<dyn super::Observer>,
        meta: Arc<super::ExecutionMeta>,
    ) -> Self {
        self.observer = Some((observer, meta));
        self
    }

    /// Caps the history at `limit` events, the last of them the
    /// execution's own: other events past the cap are refused and
    /// [`is_full`](Self::is_full) turns true.
    pub fn with_event_limit(mut self, limit: Option<u64>) -> Self {
        self.limit = limit;
        self
    }

    /// An event was refused at the cap; the run must end.
    pub fn is_full(&self) -> bool {
        self.full.load(Ordering::Relaxed)
    }

    /// The next id, or `None` when the event is refused at the cap. Only
    /// the execution's own events (`Execution*`) may take the last id, so a
    /// full history still ends with its terminal event.
    fn next_id(&self, kind: &str) -> Option<u64> {
        let Some(limit) = self.limit else {
            return Some(self.last_id.fetch_add(1, Ordering::Relaxed) + 1);
        };
        let own = kind.starts_with("Execution");
        let taken = self
            .last_id
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
                (last + 1 < limit || own).then_some(last + 1)
            });
        match taken {
            Ok(last) => Some(last + 1),
            Err(_) => {
                self.full.store(true, Ordering::Relaxed);
                None
            }
        }
    }

    /// Whether events are rendered at all (kept in memory or sent to a store).
    pub fn is_recording(&self) -> bool {
        self.record || self.sink.is_some() || self.observer.is_some()
    }

    pub fn sink(&self) -> Option<&Arc<dyn EventSink>> {
        self.sink.as_ref()
    }

    /// Appends an event and returns its id. `key`, `timestamp` and
    /// `details` are only called when events are recorded, so an
    /// unrecorded run pays for none of them. An event refused at the cap
    /// is dropped and gets the last id handed out; the run stops at its
    /// next [`is_full`](Self::is_full) check.
    pub fn emit(
        &self,
        key: impl FnOnce() -> EventKey,
        previous_event_id: u64,
        kind: &'static str,
        timestamp: impl FnOnce() -> OffsetDateTime,
        details: impl FnOnce() -> Option<(&'static str, Value)>,
    ) -> u64 {
        let refused = || self.last_id.load(Ordering::Relaxed);
        if !self.is_recording() {
            return self.next_id(kind).unwrap_or_else(refused);
        }
        let details = details();
        let timestamp = timestamp();
        // Ids are handed out under the lock so the kept events stay in id order.
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let Some(id) = self.next_id(kind) else {
            return refused();
        };
        let event = HistoryEvent {
            id,
            previous_event_id,
            timestamp,
            kind: Cow::Borrowed(kind),
            details: details.map(|(member, value)| (Cow::Borrowed(member), value)),
        };
        if let Some((observer, meta)) = &self.observer {
            observer.event(meta, &event);
        }
        match &self.sink {
            Some(sink) if self.record => {
                sink.record(KeyedEvent {
                    key: key(),
                    event: event.clone(),
                });
                events.push(event);
            }
            Some(sink) => sink.record(KeyedEvent { key: key(), event }),
            None if self.record => events.push(event),
            None => {}
        }
        id
    }

    pub fn into_events(self) -> Vec<HistoryEvent> {
        self.events.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("record", &self.record)
            .field("durable", &self.sink.is_some())
            .field("last_id", &self.last_id)
            .finish()
    }
}

/// JSON text of a value, as event details carry it.
pub fn text(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

pub fn state_entered(name: &str, input: &Value) -> Option<(&'static str, Value)> {
    Some((
        "stateEnteredEventDetails",
        json!({"name": name, "input": text(input), "inputDetails": {"truncated": false}}),
    ))
}

pub fn state_exited(
    name: &str,
    output: &Value,
    assigned: Option<&serde_json::Map<String, Value>>,
) -> Option<(&'static str, Value)> {
    let mut details =
        json!({"name": name, "output": text(output), "outputDetails": {"truncated": false}});
    if let (Some(assigned), Some(object)) = (assigned, details.as_object_mut()) {
        let rendered: serde_json::Map<String, Value> = assigned
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(text(v))))
            .collect();
        object.insert("assignedVariables".into(), Value::Object(rendered));
        object.insert(
            "assignedVariablesDetails".into(),
            json!({"truncated": false}),
        );
    }
    Some(("stateExitedEventDetails", details))
}

/// A failure's `error` and `cause` in event details: as on AWS, an empty
/// one (a Fail state without `Error` or `Cause`) is left out, not sent as
/// `""`.
pub fn error_details(
    member: &'static str,
    error: &str,
    cause: &str,
) -> Option<(&'static str, Value)> {
    Some((member, error_object(error, cause)))
}

/// `{"error", "cause"}` without the empty ones.
pub fn error_object(error: &str, cause: &str) -> Value {
    let mut details = serde_json::Map::new();
    if !error.is_empty() {
        details.insert("error".into(), error.into());
    }
    if !cause.is_empty() {
        details.insert("cause".into(), cause.into());
    }
    Value::Object(details)
}

/// The event type of a state's entered/exited/... event, e.g. `PassStateEntered`.
pub fn state_event(state_type: &str, phase: Phase) -> &'static str {
    macro_rules! table {
        ($($ty:literal),*) => {
            match (state_type, phase) {
                $(
                    ($ty, Phase::Entered) => concat!($ty, "StateEntered"),
                    ($ty, Phase::Exited) => concat!($ty, "StateExited"),
                    ($ty, Phase::Started) => concat!($ty, "StateStarted"),
                    ($ty, Phase::Succeeded) => concat!($ty, "StateSucceeded"),
                    ($ty, Phase::Failed) => concat!($ty, "StateFailed"),
                    ($ty, Phase::Aborted) => concat!($ty, "StateAborted"),
                )*
                _ => "Unknown",
            }
        };
    }
    table!(
        "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Entered,
    Exited,
    Started,
    Succeeded,
    Failed,
    Aborted,
}
