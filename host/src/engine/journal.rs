//! Durability seen from the engine: each event gets a key that names where it
//! happened (independent of how concurrent branches interleaved), new events
//! go to an [`EventSink`], and a resumed execution replays against the
//! [`Journal`] of what was recorded before.
//!
//! The engine knows nothing of databases: `store/` implements the sink.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::history::HistoryEvent;

/// Where an event sits in an execution.
///
/// `frame` names the (sub-)machine run the event belongs to: `""` for the
/// execution itself, then one segment per Parallel branch or Map iteration
/// (see the engine's frame naming). `visit` counts the states entered in that
/// frame from 0 ([`EventKey::FRAME`] for the frame's own events, such as
/// `ExecutionStarted` or `MapIterationStarted`), and `seq` the events within
/// one visit. A deterministic replay of the same execution produces the same
/// keys, whatever order its branches ran in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKey {
    pub frame: Arc<str>,
    pub visit: u32,
    pub seq: u32,
}

impl EventKey {
    /// The `visit` of events that belong to a frame, not to a state in it.
    pub const FRAME: u32 = u32::MAX;

    /// The key of the execution's own event `seq`: 0 is `ExecutionStarted`;
    /// run `n` (0 for the first, then one per redrive) ends with event
    /// `1 + 2n`, and the redrive that starts run `n + 1` is event `2 + 2n`.
    pub fn execution(seq: u32) -> Self {
        EventKey {
            frame: Arc::from(""),
            visit: EventKey::FRAME,
            seq,
        }
    }

    /// The key of the `ExecutionRedriven` event of redrive number `count` (from 1).
    pub fn redriven(count: u32) -> Self {
        EventKey::execution(count.saturating_mul(2))
    }
}

/// The ids of the events a redrive drops from replay: those of every state
/// visit that never exited (and of every Map iteration that did not
/// succeed), so exactly the unsuccessful steps run again, while what
/// succeeded is replayed from the record (the ASL redrive rule: a state is
/// redriven if it has an `Entered` without the matching `Exited`).
pub fn superseded_by_redrive<'a>(events: impl IntoIterator<Item = &'a KeyedEvent>) -> Vec<u64> {
    let mut visits: HashMap<(&str, u32), (bool, Vec<u64>)> = HashMap::new();
    for KeyedEvent { key, event } in events {
        let (complete, ids) = visits.entry((key.frame.as_ref(), key.visit)).or_default();
        ids.push(event.id);
        *complete |= event.kind.ends_with("StateExited") || event.kind == "MapIterationSucceeded";
    }
    let mut superseded: Vec<u64> = visits
        .into_iter()
        .filter(|((frame, visit), (complete, _))| {
            // The execution's own events stay: its start is never redone.
            let execution_own = frame.is_empty() && *visit == EventKey::FRAME;
            !complete && !execution_own
        })
        .flat_map(|(_, (_, ids))| ids)
        .collect();
    superseded.sort_unstable();
    superseded
}

/// A history event and its key, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyedEvent {
    pub key: EventKey,
    pub event: HistoryEvent,
}

pub type SinkFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'a>>;

/// Where a durable execution's new events go.
pub trait EventSink: Send + Sync {
    /// Takes one new event. Cheap and non-blocking: it may only buffer.
    fn record(&self, event: KeyedEvent);

    /// Resolves once every event recorded so far is durable. The engine
    /// awaits this before it acts on a Task's result and before it sleeps.
    fn durable(&self) -> SinkFuture<'_>;
}

/// The events a previous run of this execution recorded, by key: replaying
/// the execution against it re-emits none of them and invokes no Task whose
/// result is among them.
#[derive(Debug, Default)]
pub struct Journal {
    events: HashMap<EventKey, HistoryEvent>,
    /// The state entered at each (frame, visit), superseded events included:
    /// a redrive retraces the recorded path to the step that failed.
    path: HashMap<(Arc<str>, u32), String>,
    /// The highest event id recorded: new events continue from here.
    last_id: u64,
}

impl Journal {
    /// `recorded`: the replayable events (a redrive's superseded ones left out).
    pub fn new(recorded: impl IntoIterator<Item = KeyedEvent>) -> Self {
        let mut journal = Journal::default();
        for KeyedEvent { key, event } in recorded {
            journal.last_id = journal.last_id.max(event.id);
            journal.note_path(&key, &event);
            journal.events.insert(key, event);
        }
        journal
    }

    /// Adds the path (not the events) of what a redrive superseded.
    pub fn with_superseded<'a>(
        mut self,
        superseded: impl IntoIterator<Item = &'a KeyedEvent>,
    ) -> Self {
        for KeyedEvent { key, event } in superseded {
            self.note_path(key, event);
        }
        self
    }

    fn note_path(&mut self, key: &EventKey, event: &HistoryEvent) {
        if key.seq == 0 && key.visit != EventKey::FRAME && event.kind.ends_with("StateEntered") {
            let name = event
                .details
                .as_ref()
                .and_then(|(_, d)| d.get("name")?.as_str());
            if let Some(name) = name {
                self.path
                    .insert((key.frame.clone(), key.visit), name.to_owned());
            }
        }
    }

    /// The name of the state an earlier run entered at `visit` of `frame`.
    pub fn entered(&self, frame: &Arc<str>, visit: u32) -> Option<&str> {
        self.path.get(&(frame.clone(), visit)).map(String::as_str)
    }

    pub fn get(&self, key: &EventKey) -> Option<&HistoryEvent> {
        self.events.get(key)
    }

    pub fn last_id(&self) -> u64 {
        self.last_id
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}
