//! `host run --profile`: per state, what it used — entries, wall time,
//! fuel, peak linear memory — beside the limits configured for its task,
//! so budgets can be set from measurements. Reads only the execution's
//! history (Entered/Exited timestamps, the `usage` the Task events carry)
//! and the loaded tasks; it measures nothing itself.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;

use serde_json::Value;
use time::OffsetDateTime;

use crate::engine::HistoryEvent;
use crate::resources::WasmTasks;

/// What one state used over an execution.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateProfile {
    pub name: String,
    /// Times the state was entered.
    pub entries: u64,
    /// Of them, the times it exited (a failed state does not).
    pub exits: u64,
    /// Summed time from each entry to its exit.
    pub wall: time::Duration,
    /// Task attempts (retries included).
    pub attempts: u64,
    /// Fuel burnt over every attempt, when any attempt reported it.
    pub fuel: Option<u64>,
    /// The largest linear memory any attempt reached.
    pub peak_memory: Option<u64>,
    /// The Task's resource as the scheduled event names it (`wasm:NAME` or an ARN).
    pub resource: Option<String>,
    /// The state's `TimeoutSeconds`, when its Task had one.
    pub state_timeout: Option<u64>,
}

/// The profile of every state in `events`, in order of first entry.
pub fn profile(events: &[HistoryEvent]) -> Vec<StateProfile> {
    let mut states: Vec<StateProfile> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    // Entry times not yet matched with an exit, per state.
    let mut open: HashMap<usize, VecDeque<OffsetDateTime>> = HashMap::new();
    // The state each event belongs to: the nearest Entered up its chain.
    let mut owner: HashMap<u64, usize> = HashMap::new();
    for event in events {
        let details = event.details.as_ref().map(|(_, d)| d);
        let name = details.and_then(|d| d.get("name")).and_then(Value::as_str);
        if event.kind.ends_with("StateEntered")
            && let Some(name) = name
        {
            let at = *index.entry(name.to_owned()).or_insert_with(|| {
                states.push(StateProfile {
                    name: name.to_owned(),
                    ..StateProfile::default()
                });
                states.len() - 1
            });
            states[at].entries += 1;
            open.entry(at).or_default().push_back(event.timestamp);
            owner.insert(event.id, at);
            continue;
        }
        if event.kind.ends_with("StateExited")
            && let Some(&at) = name.and_then(|n| index.get(n))
        {
            // Matched first in, first out: the summed time is the same
            // whichever of several concurrent entries an exit is paired with.
            if let Some(entered) = open.get_mut(&at).and_then(VecDeque::pop_front) {
                states[at].exits += 1;
                states[at].wall += event.timestamp - entered;
            }
            owner.insert(event.id, at);
            continue;
        }
        let Some(&at) = owner.get(&event.previous_event_id) else {
            continue;
        };
        owner.insert(event.id, at);
        let state = &mut states[at];
        if event.kind.ends_with("Scheduled") {
            state.attempts += 1;
            state.resource = details.and_then(scheduled_resource);
            state.state_timeout = details
                .and_then(|d| d.get("timeoutInSeconds"))
                .and_then(Value::as_u64);
        }
        if let Some(usage) = details.and_then(|d| d.get("usage")) {
            if let Some(fuel) = usage.get("fuelConsumed").and_then(Value::as_u64) {
                state.fuel = Some(state.fuel.unwrap_or(0).saturating_add(fuel));
            }
            if let Some(peak) = usage.get("peakMemoryBytes").and_then(Value::as_u64) {
                state.peak_memory = Some(state.peak_memory.unwrap_or(0).max(peak));
            }
        }
    }
    states
}

/// `wasm:enrich` from `{"resourceType": "wasm", "resource": "enrich"}`, or
/// a Lambda event's ARN as it is.
fn scheduled_resource(details: &Value) -> Option<String> {
    let resource = details.get("resource")?.as_str()?;
    Some(match details.get("resourceType").and_then(Value::as_str) {
        Some(kind) => format!("{kind}:{resource}"),
        None => resource.to_owned(),
    })
}

/// The report `host run --profile` prints: one row per state, then the
/// per-execution fuel of each tenant that has a budget.
pub fn render(states: &[StateProfile], tasks: Option<&WasmTasks>, execution_id: &str) -> String {
    let mut rows: Vec<[String; 10]> = vec![
        [
            "state",
            "entries",
            "wall",
            "fuel",
            "peak memory",
            "task",
            "fuel limit",
            "memory limit",
            "timeout",
            "tenant",
        ]
        .map(str::to_owned),
    ];
    let mut budgets = BTreeMap::new();
    for state in states {
        let mut row: [String; 10] = Default::default();
        row[0] = super::escape::escaped(&state.name).into_owned();
        row[1] = if state.exits == state.entries {
            state.entries.to_string()
        } else {
            format!(
                "{} ({} not exited)",
                state.entries,
                state.entries - state.exits
            )
        };
        row[2] = millis(state.wall);
        row[3] = state.fuel.map_or_else(|| "-".into(), grouped);
        row[4] = state.peak_memory.map_or_else(|| "-".into(), size);
        let task = state
            .resource
            .as_deref()
            .zip(tasks)
            .and_then(|(resource, tasks)| Some((tasks.resolve(resource).ok()?, tasks)));
        if let Some((name, tasks)) = task
            && let Some((decl, _)) = tasks.task(name)
        {
            row[5] = name.to_owned();
            row[6] = decl.limits.fuel.map_or_else(|| "off".into(), grouped);
            row[7] = size(decl.limits.memory_bytes);
            row[8] = match state.state_timeout {
                Some(secs) => format!("{secs} s (state)"),
                None => format!("{} s", decl.limits.timeout.as_secs_f64()),
            };
            if let Some(tenant) = tasks.tenant_of(name) {
                row[9] = tenant.name().to_owned();
                if let Some(budget) = tenant.limits().fuel_per_execution {
                    budgets.insert(
                        tenant.name().to_owned(),
                        (tenant.execution_fuel_used(execution_id), budget),
                    );
                }
            }
        } else if let Some(resource) = &state.resource {
            row[5] = super::escape::escaped(resource).into_owned();
        }
        rows.push(row);
    }
    let mut widths = [0; 10];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::from(
        "profile (wall time from the history; fuel and peak memory summed / maxed over attempts):\n",
    );
    for row in &rows {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            // Names and text left, figures right.
            if matches!(i, 0 | 5 | 9) {
                let _ = write!(line, "{cell:<width$}  ");
            } else {
                let _ = write!(line, "{cell:>width$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    for (tenant, (used, budget)) in budgets {
        let _ = writeln!(
            out,
            "tenant {tenant:?}: this execution burnt {} of its {} fuel units",
            grouped(used.unwrap_or(0)),
            grouped(budget)
        );
    }
    out
}

/// `12.345 ms`.
fn millis(d: time::Duration) -> String {
    format!("{:.3} ms", d.as_seconds_f64() * 1000.0)
}

/// `20_000_000_000`: digits grouped as the manifest may write them.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('_');
        }
        out.push(c);
    }
    out
}

/// `1.5 MiB`, `640 KiB`.
fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::borrow::Cow;

    fn event(id: u64, prev: u64, ms: i64, kind: &'static str, details: Value) -> HistoryEvent {
        HistoryEvent {
            id,
            previous_event_id: prev,
            timestamp: OffsetDateTime::UNIX_EPOCH + time::Duration::milliseconds(ms),
            kind: Cow::Borrowed(kind),
            details: Some((Cow::Borrowed("details"), details)),
        }
    }

    #[test]
    fn usage_and_wall_time_are_summed_per_state_across_retries() {
        let events = vec![
            event(1, 0, 0, "ExecutionStarted", json!({})),
            event(2, 0, 0, "TaskStateEntered", json!({"name": "Work"})),
            event(
                3,
                2,
                1,
                "TaskScheduled",
                json!({"resourceType": "wasm", "resource": "w", "timeoutInSeconds": 5}),
            ),
            event(4, 3, 2, "TaskStarted", json!({})),
            event(
                5,
                4,
                10,
                "TaskFailed",
                json!({"error": "E", "usage": {"fuelConsumed": 100, "peakMemoryBytes": 2_097_152}}),
            ),
            event(
                6,
                5,
                11,
                "TaskScheduled",
                json!({"resourceType": "wasm", "resource": "w"}),
            ),
            event(7, 6, 12, "TaskStarted", json!({})),
            event(
                8,
                7,
                20,
                "TaskSucceeded",
                json!({"usage": {"fuelConsumed": 50, "peakMemoryBytes": 1_048_576}}),
            ),
            event(9, 8, 20, "TaskStateExited", json!({"name": "Work"})),
            event(10, 9, 20, "PassStateEntered", json!({"name": "Done"})),
            event(11, 10, 25, "PassStateExited", json!({"name": "Done"})),
        ];
        let states = profile(&events);
        assert_eq!(states.len(), 2);
        let work = &states[0];
        assert_eq!(
            (work.entries, work.exits, work.attempts),
            (1, 1, 2),
            "{work:?}"
        );
        assert_eq!(work.wall, time::Duration::milliseconds(20));
        assert_eq!(work.fuel, Some(150));
        assert_eq!(work.peak_memory, Some(2 << 20));
        assert_eq!(work.resource.as_deref(), Some("wasm:w"));
        assert_eq!(work.state_timeout, None, "the last attempt's timeout");
        let done = &states[1];
        assert_eq!((done.entries, done.fuel), (1, None));
        assert_eq!(done.wall, time::Duration::milliseconds(5));
        let report = render(&states, None, "e");
        assert!(report.contains("150"), "{report}");
        assert!(report.contains("2.0 MiB"), "{report}");
    }

    #[test]
    fn concurrent_entries_pair_with_exits_and_failures_are_counted() {
        let events = vec![
            event(1, 0, 0, "TaskStateEntered", json!({"name": "T"})),
            event(2, 0, 5, "TaskStateEntered", json!({"name": "T"})),
            event(3, 1, 10, "TaskStateExited", json!({"name": "T"})),
            event(4, 0, 12, "TaskStateEntered", json!({"name": "T"})),
            event(5, 2, 20, "TaskStateExited", json!({"name": "T"})),
        ];
        let states = profile(&events);
        assert_eq!((states[0].entries, states[0].exits), (3, 2));
        assert_eq!(states[0].wall, time::Duration::milliseconds(25));
        let report = render(&states, None, "e");
        assert!(report.contains("3 (1 not exited)"), "{report}");
    }

    #[test]
    fn figures_are_grouped_like_the_manifest_writes_them() {
        assert_eq!(grouped(20_000_000_000), "20_000_000_000");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1_000");
        assert_eq!(size(1536 << 10), "1.5 MiB");
    }
}
