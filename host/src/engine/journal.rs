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
    /// The highest event id recorded: new events continue from here.
    last_id: u64,
}

impl Journal {
    pub fn new(recorded: impl IntoIterator<Item = KeyedEvent>) -> Self {
        let mut journal = Journal::default();
        for KeyedEvent { key, event } in recorded {
            journal.last_id = journal.last_id.max(event.id);
            journal.events.insert(key, event);
        }
        journal
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
