//! The in-memory store: Express executions (at-least-once, gone with the
//! process) and tests. Same rules as the SQLite store, nothing durable.

mod callbacks;
mod machines;
mod schedules;

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use time::OffsetDateTime;

use super::{ExecutionRecord, ExecutionStatus, StopRequest, Store, StoreError, StoredEvent, Write};
use crate::engine::journal::{EventKey, KeyedEvent};

/// A [`Store`] in memory.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    /// State machines, versions, aliases and tags ([`super::MachineStore`]).
    machines: Mutex<machines::Tables>,
    /// Task tokens and activities ([`super::CallbackStore`]).
    callbacks: Mutex<callbacks::Tables>,
    /// Schedules ([`super::ScheduleStore`]).
    schedules: Mutex<schedules::Schedules>,
    /// Files the file triggers started ([`crate::ops::trigger::TriggerStore`]).
    files: Mutex<HashSet<(String, crate::ops::trigger::FileId)>>,
}

#[derive(Default)]
struct Inner {
    /// In creation order.
    executions: Vec<Entry>,
    by_arn: HashMap<String, usize>,
}

/// How to take back one applied write of a failed batch.
enum Undo {
    /// The last execution was created.
    Created,
    /// Events were appended to execution `.0` after its first `.1`.
    Appended(usize, usize),
    /// Execution `.0` was finished; its record before.
    Finished(usize, Box<ExecutionRecord>),
}

struct Entry {
    record: ExecutionRecord,
    events: Vec<StoredEvent>,
    ids: HashSet<u64>,
    /// Keys of the events not superseded.
    live_keys: HashSet<EventKey>,
}

impl Entry {
    /// Checks `events` can all be appended, then appends them, so a refused
    /// batch changes nothing.
    fn check_events(&self, events: &[KeyedEvent]) -> Result<(), StoreError> {
        let mut ids = HashSet::new();
        let mut keys = HashSet::new();
        for KeyedEvent { key, event } in events {
            if self.ids.contains(&event.id)
                || self.live_keys.contains(key)
                || !ids.insert(event.id)
                || !keys.insert(key)
            {
                return Err(StoreError::DuplicateEvent {
                    arn: self.record.arn.clone(),
                    id: event.id,
                    frame: key.frame.to_string(),
                    visit: key.visit,
                    seq: key.seq,
                });
            }
        }
        Ok(())
    }

    fn push_events(&mut self, events: &[KeyedEvent]) {
        for event in events {
            self.record.last_event_id = self.record.last_event_id.max(event.event.id);
            self.ids.insert(event.event.id);
            self.live_keys.insert(event.key.clone());
            self.events.push(StoredEvent {
                event: event.clone(),
                superseded: false,
            });
        }
    }
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn index(&self, arn: &str) -> Result<usize, StoreError> {
        self.by_arn
            .get(arn)
            .copied()
            .ok_or_else(|| StoreError::ExecutionDoesNotExist { id: arn.to_owned() })
    }

    fn entry(&mut self, arn: &str) -> Result<&mut Entry, StoreError> {
        let i = self.index(arn)?;
        Ok(&mut self.executions[i])
    }

    fn apply(&mut self, write: &Write, undo: &mut Vec<Undo>) -> Result<(), StoreError> {
        match write {
            Write::Create { record, events } => {
                if self.by_arn.contains_key(&record.arn) {
                    return Err(StoreError::ExecutionAlreadyExists {
                        arn: record.arn.clone(),
                    });
                }
                let mut entry = Entry {
                    record: ExecutionRecord {
                        last_event_id: 0,
                        ..(**record).clone()
                    },
                    events: Vec::new(),
                    ids: HashSet::new(),
                    live_keys: HashSet::new(),
                };
                entry.check_events(events)?;
                entry.push_events(events);
                self.by_arn
                    .insert(record.arn.clone(), self.executions.len());
                self.executions.push(entry);
                undo.push(Undo::Created);
            }
            Write::Events { arn, events } => {
                let i = self.index(arn)?;
                let entry = &mut self.executions[i];
                entry.check_events(events)?;
                undo.push(Undo::Appended(i, entry.events.len()));
                entry.push_events(events);
            }
            Write::Finish(f) => {
                let i = self.index(&f.arn)?;
                let record = &mut self.executions[i].record;
                if record.status == ExecutionStatus::Running {
                    undo.push(Undo::Finished(i, Box::new(record.clone())));
                    record.status = f.status;
                    record.output = f.output.clone();
                    record.error = f.error.clone();
                    record.cause = f.cause.clone();
                    record.stop_date = Some(f.stop_date);
                    record.owner = None;
                }
            }
        }
        Ok(())
    }

    fn undo(&mut self, step: Undo) {
        match step {
            Undo::Created => {
                if let Some(entry) = self.executions.pop() {
                    self.by_arn.remove(&entry.record.arn);
                }
            }
            Undo::Appended(i, len) => {
                let entry = &mut self.executions[i];
                for stored in entry.events.drain(len..) {
                    entry.ids.remove(&stored.event.event.id);
                    entry.live_keys.remove(&stored.event.key);
                }
                entry.record.last_event_id = entry.ids.iter().copied().max().unwrap_or(0);
            }
            Undo::Finished(i, record) => self.executions[i].record = *record,
        }
    }

    fn newest_first(&self) -> impl Iterator<Item = &ExecutionRecord> {
        let mut records: Vec<&ExecutionRecord> =
            self.executions.iter().map(|e| &e.record).collect();
        // Stable: equal dates stay newest-created first after the reverse.
        records.reverse();
        records.sort_by_key(|r| std::cmp::Reverse(r.start_date));
        records.into_iter()
    }
}

impl Store for MemoryStore {
    fn write(&self, writes: &[Write]) -> Result<(), StoreError> {
        let mut inner = self.lock();
        // All or nothing: apply in order, undo everything on the first error.
        let mut undo = Vec::with_capacity(writes.len());
        for write in writes {
            if let Err(e) = inner.apply(write, &mut undo) {
                for step in undo.into_iter().rev() {
                    inner.undo(step);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    fn get(&self, id: &str) -> Result<ExecutionRecord, StoreError> {
        let inner = self.lock();
        if let Some(&i) = inner.by_arn.get(id) {
            return Ok(inner.executions[i].record.clone());
        }
        let found: Vec<&ExecutionRecord> = inner.newest_first().filter(|r| r.name == id).collect();
        match found.as_slice() {
            [] => Err(StoreError::ExecutionDoesNotExist { id: id.to_owned() }),
            [one] => Ok((*one).clone()),
            many => Err(StoreError::AmbiguousName {
                name: id.to_owned(),
                arns: many.iter().map(|r| r.arn.clone()).collect(),
            }),
        }
    }

    fn list(&self, status: Option<ExecutionStatus>) -> Result<Vec<ExecutionRecord>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .newest_first()
            .filter(|r| status.is_none_or(|s| r.status == s))
            .cloned()
            .collect())
    }

    fn events(&self, arn: &str) -> Result<Vec<StoredEvent>, StoreError> {
        let mut inner = self.lock();
        let mut events = inner.entry(arn)?.events.clone();
        events.sort_by_key(|e| e.event.event.id);
        Ok(events)
    }

    fn claim(
        &self,
        arn: &str,
        expected_owner: Option<&str>,
        new_owner: &str,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let record = &mut inner.entry(arn)?.record;
        if record.status != ExecutionStatus::Running || record.owner.as_deref() != expected_owner {
            return Ok(false);
        }
        record.owner = Some(new_owner.to_owned());
        Ok(true)
    }

    fn request_stop(&self, arn: &str, request: &StopRequest) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let record = &mut inner.entry(arn)?.record;
        if record.status != ExecutionStatus::Running {
            return Ok(false);
        }
        record.stop_request = Some(request.clone());
        Ok(true)
    }

    fn redrive(
        &self,
        arn: &str,
        new_owner: &str,
        superseded_ids: &[u64],
        redriven_event: &KeyedEvent,
        date: OffsetDateTime,
    ) -> Result<u32, StoreError> {
        let mut inner = self.lock();
        let entry = inner.entry(arn)?;
        let status = entry.record.status;
        if let Some(reason) = status.redrive_refusal() {
            return Err(StoreError::ExecutionNotRedrivable {
                arn: arn.to_owned(),
                reason,
            });
        }
        if let Some(&missing) = superseded_ids.iter().find(|id| !entry.ids.contains(id)) {
            return Err(StoreError::Invalid {
                arn: arn.to_owned(),
                detail: format!("cannot supersede event {missing}: there is no such event"),
            });
        }
        // Check the new event against the keys as they will be.
        let superseded: HashSet<u64> = superseded_ids.iter().copied().collect();
        let mut live_keys = HashSet::new();
        for stored in &entry.events {
            if !stored.superseded && !superseded.contains(&stored.event.event.id) {
                live_keys.insert(stored.event.key.clone());
            }
        }
        let previous_keys = std::mem::replace(&mut entry.live_keys, live_keys);
        if let Err(e) = entry.check_events(std::slice::from_ref(redriven_event)) {
            entry.live_keys = previous_keys;
            return Err(e);
        }
        for stored in &mut entry.events {
            if superseded.contains(&stored.event.event.id) {
                stored.superseded = true;
            }
        }
        entry.push_events(std::slice::from_ref(redriven_event));
        let record = &mut entry.record;
        record.status = ExecutionStatus::Running;
        record.output = None;
        record.error = None;
        record.cause = None;
        record.stop_date = None;
        record.stop_request = None;
        record.redrive_count += 1;
        record.redrive_date = Some(date);
        record.owner = Some(new_owner.to_owned());
        Ok(record.redrive_count)
    }
}
