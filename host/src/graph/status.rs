//! What happened to each state in one execution, read from its history
//! (events shaped like AWS's `GetExecutionHistory`, as the API and
//! `host history --json` give them).
//!
//! Each event is owned by a state visit: a `*StateEntered` opens one; an
//! event naming a state (`*StateExited`, `MapIteration*`) belongs to that
//! state's open visit; a Parallel/Map event without a name to the nearest
//! open visit of that type up its `previousEventId` chain; any other
//! event (a Task's) to the owner of its previous event. A failure in a
//! visit followed by its `Exited` is a catch (AWS records `Exited` after
//! a caught failure); a failure followed by a new `TaskScheduled` is a
//! retry.

use std::collections::HashMap;

use serde_json::Value;

/// How far detail is kept per state: the latest visits (a 10,000-item Map
/// enters its states 10,000 times; counts cover them all).
pub const VISITS_KEPT: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum StateStatus {
    #[default]
    NotReached,
    Succeeded,
    Caught,
    Running,
    Failed,
}

impl StateStatus {
    pub const ALL: [StateStatus; 5] = [
        StateStatus::NotReached,
        StateStatus::Succeeded,
        StateStatus::Caught,
        StateStatus::Running,
        StateStatus::Failed,
    ];

    /// The CSS class and the word shown.
    pub fn as_str(self) -> &'static str {
        match self {
            StateStatus::NotReached => "not-reached",
            StateStatus::Succeeded => "succeeded",
            StateStatus::Caught => "caught",
            StateStatus::Running => "running",
            StateStatus::Failed => "failed",
        }
    }

    /// Fill and stroke colours, shared by SVG and DOT.
    pub fn colours(self) -> (&'static str, &'static str) {
        match self {
            StateStatus::NotReached => ("#ffffff", "#8a8f98"),
            StateStatus::Succeeded => ("#d4f4dd", "#1d8102"),
            StateStatus::Caught => ("#fff1d6", "#c56b00"),
            StateStatus::Running => ("#dbeafe", "#0972d3"),
            StateStatus::Failed => ("#fde2e2", "#d91515"),
        }
    }
}

/// One visit of a state: what the step panel shows.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Visit {
    pub status: &'static str,
    pub entered_event: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    pub retries: u32,
    /// Milliseconds from Entered to Exited (or the last event seen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    /// A Task's sandbox figures, summed over its attempts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fuel: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_memory_bytes: Option<u64>,
    /// Milliseconds from TaskStarted to the attempt's end, summed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_wall_ms: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<String>,
    #[serde(skip)]
    state: StateStatus,
    #[serde(skip)]
    failed_seen: bool,
    #[serde(skip)]
    kind: String,
    #[serde(skip)]
    entered_at: Option<f64>,
    #[serde(skip)]
    attempt_started_at: Option<f64>,
}

/// One state across the execution.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StateSummary {
    /// The colour: the worst of its visits (failed, running, caught, succeeded).
    pub status: &'static str,
    pub visits_total: u64,
    /// Visits by status.
    pub counts: HashMap<&'static str, u64>,
    /// A Map state's iterations by status (`started`, `succeeded`, `failed`, `aborted`).
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub iterations: HashMap<&'static str, u64>,
    /// The latest visits, oldest first.
    pub visits: Vec<Visit>,
    #[serde(skip)]
    worst: StateStatus,
}

/// What an execution did, state by state.
#[derive(Debug, Clone, Default)]
pub struct Overlay {
    pub states: HashMap<String, StateSummary>,
}

impl Overlay {
    pub fn status(&self, state: &str) -> StateStatus {
        self.states
            .get(state)
            .map_or(StateStatus::NotReached, |s| s.worst)
    }

    /// Reads `events` (in id order).
    pub fn from_events(events: &[Value]) -> Overlay {
        let mut reader = Reader::default();
        for event in events {
            reader.read(event);
        }
        reader.finish()
    }
}

/// A visit: the state's name and its index among that state's visits.
type Owner = (String, usize);

#[derive(Default)]
struct Reader {
    /// Every visit of every state, in order.
    visits: HashMap<String, Vec<Visit>>,
    /// Owner and type of each event by id.
    owners: HashMap<u64, (Option<Owner>, u64)>,
    iterations: HashMap<String, HashMap<&'static str, u64>>,
    last_time: Option<f64>,
}

fn field<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    details(event)
        .and_then(|d| d.get(name))
        .and_then(Value::as_str)
}

fn details(event: &Value) -> Option<&Value> {
    event
        .as_object()?
        .iter()
        .find(|(k, _)| k.ends_with("EventDetails"))
        .map(|(_, v)| v)
}

/// Seconds since the epoch: the API's number or the CLI's ISO text.
fn timestamp(event: &Value) -> Option<f64> {
    match event.get("timestamp")? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            crate::query::choice::parse_timestamp(s).map(|t| t.unix_timestamp_nanos() as f64 / 1e9)
        }
        _ => None,
    }
}

/// A failure inside a state visit (not the execution's own).
fn is_failure(kind: &str) -> bool {
    !kind.starts_with("Execution")
        && !kind.starts_with("MapIteration")
        && !kind.starts_with("MapRun")
        && (kind.ends_with("Failed") || kind.ends_with("TimedOut") || kind.ends_with("Aborted"))
}

impl Reader {
    fn read(&mut self, event: &Value) {
        let Some(kind) = event.get("type").and_then(Value::as_str) else {
            return;
        };
        let id = event.get("id").and_then(Value::as_u64).unwrap_or(0);
        let previous = event
            .get("previousEventId")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let time = timestamp(event);
        if time.is_some() {
            self.last_time = time;
        }
        if kind == "ExecutionRedriven" {
            // A redrive reruns what did not succeed: those visits are superseded.
            for visits in self.visits.values_mut() {
                visits.retain(|v| matches!(v.state, StateStatus::Succeeded | StateStatus::Caught));
            }
            self.owners.clear();
            return;
        }
        if matches!(
            kind,
            "ExecutionFailed" | "ExecutionTimedOut" | "ExecutionAborted"
        ) {
            let (error, cause) = (field(event, "error"), field(event, "cause"));
            for visit in self.visits.values_mut().flatten() {
                if visit.state == StateStatus::Running
                    || (visit.state == StateStatus::Failed && visit.error.is_none())
                {
                    visit.state = StateStatus::Failed;
                    if visit.error.is_none() {
                        visit.error = error.map(str::to_owned);
                        visit.cause = cause.map(str::to_owned);
                    }
                    close(visit, time);
                }
            }
            return;
        }
        if kind.starts_with("Execution") {
            return;
        }
        let name = field(event, "name");
        if let (true, Some(name)) = (kind.ends_with("StateEntered"), name) {
            let visits = self.visits.entry(name.to_owned()).or_default();
            let state = if kind == "FailStateEntered" {
                StateStatus::Failed
            } else {
                StateStatus::Running
            };
            visits.push(Visit {
                state,
                failed_seen: state == StateStatus::Failed,
                kind: kind.trim_end_matches("StateEntered").to_owned(),
                entered_event: id,
                input: field(event, "input").map(str::to_owned),
                entered_at: time,
                ..Visit::default()
            });
            let owner = (name.to_owned(), visits.len() - 1);
            self.owners.insert(id, (Some(owner), previous));
            return;
        }
        let owner = self.owner(kind, name, previous);
        self.owners.insert(id, (owner.clone(), previous));
        if kind.starts_with("MapIteration") {
            if let Some(name) = name {
                let word = match kind {
                    "MapIterationStarted" => "started",
                    "MapIterationSucceeded" => "succeeded",
                    "MapIterationFailed" => "failed",
                    _ => "aborted",
                };
                *self
                    .iterations
                    .entry(name.to_owned())
                    .or_default()
                    .entry(word)
                    .or_default() += 1;
            }
            return;
        }
        let Some((state, index)) = owner else {
            return;
        };
        let Some(visit) = self.visits.get_mut(&state).and_then(|v| v.get_mut(index)) else {
            return;
        };
        if let Some(d) = details(event)
            && let Some(usage) = d.get("usage")
        {
            if let Some(fuel) = usage.get("fuelConsumed").and_then(Value::as_u64) {
                visit.fuel = Some(visit.fuel.unwrap_or(0).saturating_add(fuel));
            }
            if let Some(peak) = usage.get("peakMemoryBytes").and_then(Value::as_u64) {
                visit.peak_memory_bytes = Some(visit.peak_memory_bytes.unwrap_or(0).max(peak));
            }
        }
        if let Some(logs) = details(event).and_then(|d| d.get("logs")) {
            match logs {
                Value::String(s) => visit.logs.push(s.clone()),
                Value::Array(lines) => visit.logs.extend(
                    lines
                        .iter()
                        .map(|l| l.as_str().map_or_else(|| l.to_string(), str::to_owned)),
                ),
                _ => {}
            }
        }
        if kind.ends_with("StateExited") {
            visit.output = field(event, "output").map(str::to_owned);
            visit.state = if visit.failed_seen {
                StateStatus::Caught
            } else {
                StateStatus::Succeeded
            };
            close(visit, time);
        } else if kind.ends_with("Started") && !kind.ends_with("StateStarted") {
            visit.attempt_started_at = time;
        } else if kind.ends_with("Scheduled") && visit.failed_seen {
            visit.retries += 1;
            visit.failed_seen = false;
            visit.state = StateStatus::Running;
        } else if is_failure(kind) {
            visit.failed_seen = true;
            visit.state = StateStatus::Failed;
            if let Some(error) = field(event, "error") {
                visit.error = Some(error.to_owned());
                visit.cause = field(event, "cause").map(str::to_owned);
            }
            end_attempt(visit, time);
        } else if kind.ends_with("Succeeded") && !kind.ends_with("StateSucceeded") {
            end_attempt(visit, time);
        }
    }

    fn owner(&self, kind: &str, name: Option<&str>, previous: u64) -> Option<Owner> {
        let open = |name: &str| {
            let visits = self.visits.get(name)?;
            let index = visits
                .iter()
                .rposition(|v| matches!(v.state, StateStatus::Running | StateStatus::Failed))
                .unwrap_or(visits.len().checked_sub(1)?);
            Some((name.to_owned(), index))
        };
        if let Some(name) = name
            && let Some(owner) = open(name)
        {
            return Some(owner);
        }
        // A container's own event: the nearest open visit of its type.
        let container = ["Map", "Parallel"]
            .into_iter()
            .find(|p| kind.starts_with(p) && kind[p.len()..].starts_with("State"));
        let mut at = previous;
        for _ in 0..100_000 {
            let (owner, prev) = self.owners.get(&at)?;
            match (container, owner) {
                (None, owner) => return owner.clone(),
                (Some(p), Some((state, index))) => {
                    if let Some(v) = self.visits.get(state).and_then(|v| v.get(*index))
                        && v.kind == p
                        && matches!(v.state, StateStatus::Running | StateStatus::Failed)
                    {
                        return owner.clone();
                    }
                }
                (Some(_), None) => {}
            }
            if *prev == 0 {
                return None;
            }
            at = *prev;
        }
        None
    }

    fn finish(mut self) -> Overlay {
        let mut states = HashMap::new();
        for (name, visits) in self.visits.drain() {
            let mut summary = StateSummary {
                visits_total: visits.len() as u64,
                ..StateSummary::default()
            };
            for visit in &visits {
                *summary.counts.entry(visit.state.as_str()).or_default() += 1;
                summary.worst = summary.worst.max(visit.state);
            }
            summary.status = summary.worst.as_str();
            let skip = visits.len().saturating_sub(VISITS_KEPT);
            summary.visits = visits
                .into_iter()
                .skip(skip)
                .map(|mut v| {
                    v.status = v.state.as_str();
                    if v.duration_ms.is_none()
                        && let (Some(a), Some(b)) = (v.entered_at, self.last_time)
                    {
                        v.duration_ms = Some(((b - a) * 1000.0).max(0.0));
                    }
                    v
                })
                .collect();
            if let Some(iterations) = self.iterations.remove(&name) {
                summary.iterations = iterations;
            }
            states.insert(name, summary);
        }
        Overlay { states }
    }
}

fn close(visit: &mut Visit, time: Option<f64>) {
    if let (Some(a), Some(b)) = (visit.entered_at, time) {
        visit.duration_ms = Some(((b - a) * 1000.0).max(0.0));
    }
}

fn end_attempt(visit: &mut Visit, time: Option<f64>) {
    if let (Some(a), Some(b)) = (visit.attempt_started_at.take(), time) {
        visit.task_wall_ms = Some(visit.task_wall_ms.unwrap_or(0.0) + ((b - a) * 1000.0).max(0.0));
    }
}
