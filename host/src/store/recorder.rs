//! Group commit: many executions append events cheaply; one writer thread
//! commits everything pending in one [`Store::write`] transaction per round,
//! so 64 executions in flight share one disk sync instead of paying one each.
//!
//! A round that fails is retried one execution at a time, so a bad write
//! fails only the execution it belongs to. After a failure an execution's
//! later events are dropped (its history would have a hole) and every wait
//! on it reports the failure.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use indexmap::IndexMap;
use tokio::sync::oneshot;

use super::{ExecutionRecord, Finish, Store, StoreError, Write};
use crate::engine::journal::{EventSink, KeyedEvent, SinkFuture};

/// Why events could not be made durable.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RecorderError {
    #[error(transparent)]
    Store(Arc<StoreError>),
    #[error("the event writer stopped before the events were written")]
    Stopped,
}

/// Pending writes that wake the writer even when no one waits yet.
const WAKE_AFTER: usize = 4096;

/// Buffers events and commits them in rounds on one writer thread. Cheap to
/// clone; the last clone dropped flushes what is pending and stops the thread.
#[derive(Clone)]
pub struct Recorder {
    handle: Arc<Handle>,
}

struct Handle {
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    /// Told how long each round's commit took (metrics).
    on_commit: std::sync::OnceLock<CommitHook>,
}

/// Told the duration of each committed round.
pub type CommitHook = Box<dyn Fn(std::time::Duration) + Send + Sync>;

#[derive(Default)]
struct State {
    /// New executions the next round creates, before any other write.
    creates: Vec<(Write, Done)>,
    /// What the next round writes, per execution in order.
    pending: IndexMap<Arc<str>, Vec<Pending>>,
    /// The ticket of the last append.
    appended: u64,
    /// Every ticket up to this one is settled (durable, or failed).
    settled: u64,
    waiters: Vec<Waiter>,
    /// Executions whose writes failed, with why.
    failed: HashMap<Arc<str>, Arc<StoreError>>,
    /// The first failed round: tickets after `.0` were in it.
    first_failure: Option<(u64, Arc<StoreError>)>,
    closing: bool,
    /// Writes queued since the writer last took a round.
    queued: usize,
    /// The writer is gone (it panicked): nothing will settle.
    dead: bool,
}

/// A write waiting for its round; the execution is the map key.
enum Pending {
    Events(Vec<KeyedEvent>),
    Finish(Finish),
}

type Done = oneshot::Sender<Result<(), RecorderError>>;

struct Waiter {
    ticket: u64,
    /// The execution waited on; `None` for everything.
    arn: Option<Arc<str>>,
    done: Done,
}

impl State {
    fn push(&mut self, arn: &str, write: Pending) -> u64 {
        if self.failed.contains_key(arn) {
            // Dropped: a wait on it reports the failure. No new ticket, so
            // no one waits for a round that will never come.
            return self.appended;
        }
        self.appended += 1;
        let writes = match self.pending.get_mut(arn) {
            Some(writes) => writes,
            None => self.pending.entry(Arc::from(arn)).or_default(),
        };
        match (writes.last_mut(), write) {
            (Some(Pending::Events(events)), Pending::Events(new)) => events.extend(new),
            (_, write) => writes.push(write),
        }
        self.appended
    }

    /// The answer for a wait on `ticket` (and `arn`) once it is settled.
    fn outcome(&self, ticket: u64, arn: Option<&str>) -> Result<(), RecorderError> {
        let failure = match arn {
            Some(arn) => self.failed.get(arn),
            None => self
                .first_failure
                .as_ref()
                .filter(|(after, _)| *after < ticket)
                .map(|(_, e)| e),
        };
        match failure {
            Some(e) => Err(RecorderError::Store(e.clone())),
            None => Ok(()),
        }
    }
}

impl Recorder {
    /// Starts the writer thread over `store`.
    pub fn start(store: Arc<dyn Store>) -> Recorder {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            on_commit: std::sync::OnceLock::new(),
        });
        let writer = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("sandstep-recorder".into())
                .spawn(move || write_rounds(&shared, store.as_ref()))
                .expect("the OS can start one more thread")
        };
        Recorder {
            handle: Arc::new(Handle {
                shared,
                writer: Mutex::new(Some(writer)),
            }),
        }
    }

    /// Tells `hook` how long each round's commit takes, from now on. Set once.
    pub fn on_commit(&self, hook: CommitHook) {
        let _ = self.handle.shared.on_commit.set(hook);
    }

    /// Buffers one event of execution `arn`; never blocks on the store.
    pub fn append(&self, arn: &str, event: KeyedEvent) {
        self.push(arn, event);
    }

    /// Resolves once everything appended before the call, by anyone, is
    /// durable; fails if any of it could not be written.
    pub async fn flush(&self) -> Result<(), RecorderError> {
        let ticket = self.handle.shared.lock().appended;
        self.wait(ticket, None).await
    }

    /// Creates an execution with its first events, committed with the next
    /// round (concurrent starts share one commit). A used ARN fails only
    /// this call. Record no event of the execution before this resolves.
    pub async fn create(
        &self,
        record: ExecutionRecord,
        first_events: Vec<KeyedEvent>,
    ) -> Result<(), RecorderError> {
        let (done, receiver) = oneshot::channel();
        {
            let mut state = self.handle.shared.lock();
            if state.dead {
                return Err(RecorderError::Stopped);
            }
            state.appended += 1;
            let write = Write::Create {
                record: Box::new(record),
                events: first_events,
            };
            state.creates.push((write, done));
        }
        self.handle.shared.wake.notify_one();
        receiver.await.unwrap_or(Err(RecorderError::Stopped))
    }

    /// Ends an execution: commits `finish` together with every event of it
    /// still pending, and resolves once that is durable.
    pub async fn finish(&self, finish: Finish) -> Result<(), RecorderError> {
        let arn: Arc<str> = Arc::from(finish.arn.as_str());
        let ticket = self.handle.shared.enqueue(&arn, Pending::Finish(finish));
        self.wait(ticket, Some(arn)).await
    }

    /// The engine's [`EventSink`] for execution `arn`.
    pub fn sink(&self, arn: &str) -> Arc<dyn EventSink> {
        Arc::new(RecorderSink {
            recorder: self.clone(),
            arn: Arc::from(arn),
            last: AtomicU64::new(0),
        })
    }

    /// Creates waiting for the next round (tests).
    #[cfg(test)]
    pub(super) fn queued_creates(&self) -> usize {
        self.handle.shared.lock().creates.len()
    }

    fn push(&self, arn: &str, event: KeyedEvent) -> u64 {
        self.handle
            .shared
            .enqueue(arn, Pending::Events(vec![event]))
    }

    async fn wait(&self, ticket: u64, arn: Option<Arc<str>>) -> Result<(), RecorderError> {
        let receiver = {
            let mut state = self.handle.shared.lock();
            if let Some(arn) = &arn
                && let Some(e) = state.failed.get(arn.as_ref())
            {
                return Err(RecorderError::Store(e.clone()));
            }
            if ticket <= state.settled {
                return state.outcome(ticket, arn.as_deref());
            }
            if state.dead {
                return Err(RecorderError::Stopped);
            }
            let (done, receiver) = oneshot::channel();
            state.waiters.push(Waiter { ticket, arn, done });
            receiver
        };
        self.handle.shared.wake.notify_one();
        receiver.await.unwrap_or(Err(RecorderError::Stopped))
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a write. The writer is woken only when a round is worth it:
    /// someone waits (see `wait`) or much is pending; waking it for every
    /// event of a pure state cost more than the writing.
    fn enqueue(&self, arn: &str, write: Pending) -> u64 {
        let (ticket, wake) = {
            let mut state = self.lock();
            let ticket = state.push(arn, write);
            state.queued += 1;
            (ticket, state.queued >= WAKE_AFTER)
        };
        if wake {
            self.wake.notify_one();
        }
        ticket
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.wake.notify_one();
        let writer = self
            .writer
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(writer) = writer {
            // The writer drains what is pending before it exits.
            let _ = writer.join();
        }
    }
}

/// Marks the writer dead and releases its waiters if it unwinds.
struct DeadOnPanic<'a>(&'a Shared);

impl Drop for DeadOnPanic<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.dead = true;
        state.creates.clear();
        for waiter in state.waiters.drain(..) {
            let _ = waiter.done.send(Err(RecorderError::Stopped));
        }
    }
}

/// The writer thread: one [`Store::write`] per round until closed and drained.
fn write_rounds(shared: &Shared, store: &dyn Store) {
    let _guard = DeadOnPanic(shared);
    loop {
        let (creates, batch, upto) = {
            let mut state = shared.lock();
            while state.pending.is_empty() && state.creates.is_empty() && !state.closing {
                state = shared.wake.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            if state.pending.is_empty() && state.creates.is_empty() {
                return;
            }
            state.queued = 0;
            let creates = std::mem::take(&mut state.creates);
            let batch = std::mem::take(&mut state.pending);
            let batch: Vec<(Arc<str>, Vec<Pending>)> = batch
                .into_iter()
                .filter(|(arn, _)| !state.failed.contains_key(arn))
                .collect();
            (creates, batch, state.appended)
        };
        let began = std::time::Instant::now();
        let failures = write_round(store, creates, batch);
        if let Some(hook) = shared.on_commit.get() {
            hook(began.elapsed());
        }
        let mut state = shared.lock();
        if let Some((_, e)) = failures.first()
            && state.first_failure.is_none()
        {
            state.first_failure = Some((state.settled, e.clone()));
        }
        for (arn, e) in failures {
            tracing::error!(execution = %arn, error = %e, "could not record events");
            state.failed.insert(arn, e);
        }
        state.settled = upto;
        let waiters = std::mem::take(&mut state.waiters);
        for waiter in waiters {
            if waiter.ticket <= upto {
                let outcome = state.outcome(waiter.ticket, waiter.arn.as_deref());
                let _ = waiter.done.send(outcome);
            } else {
                state.waiters.push(waiter);
            }
        }
    }
}

/// Writes a round in one transaction; if that fails, one execution at a
/// time. Answers the creates; returns the executions whose other writes
/// failed.
fn write_round(
    store: &dyn Store,
    creates: Vec<(Write, Done)>,
    batch: Vec<(Arc<str>, Vec<Pending>)>,
) -> Vec<(Arc<str>, Arc<StoreError>)> {
    let (mut all, dones): (Vec<Write>, Vec<Done>) = creates.into_iter().unzip();
    let mut spans = Vec::with_capacity(batch.len());
    for (arn, items) in batch {
        let start = all.len();
        all.extend(items.into_iter().map(|item| match item {
            Pending::Events(events) => Write::Events {
                arn: arn.to_string(),
                events,
            },
            Pending::Finish(finish) => Write::Finish(finish),
        }));
        spans.push((arn, start..all.len()));
    }
    let error = match store.write(&all) {
        Ok(()) => {
            for done in dones {
                let _ = done.send(Ok(()));
            }
            return Vec::new();
        }
        Err(e) => e,
    };
    // A round of one write: no need to try it again to know whose it is.
    if dones.is_empty()
        && let [(arn, _)] = spans.as_slice()
    {
        return vec![(arn.clone(), Arc::new(error))];
    }
    if spans.is_empty() && dones.len() == 1 {
        if let Some(done) = dones.into_iter().next() {
            let _ = done.send(Err(RecorderError::Store(Arc::new(error))));
        }
        return Vec::new();
    }
    // Creates first: the other writes of a round may be to those executions.
    for (i, done) in dones.into_iter().enumerate() {
        let result = store.write(&all[i..=i]);
        let _ = done.send(result.map_err(|e| RecorderError::Store(Arc::new(e))));
    }
    spans
        .into_iter()
        .filter_map(|(arn, span)| store.write(&all[span]).err().map(|e| (arn, Arc::new(e))))
        .collect()
}

/// [`EventSink`] of one execution over a [`Recorder`].
struct RecorderSink {
    recorder: Recorder,
    arn: Arc<str>,
    /// The ticket of this execution's last event.
    last: AtomicU64,
}

impl EventSink for RecorderSink {
    fn record(&self, event: KeyedEvent) {
        let ticket = self.recorder.push(&self.arn, event);
        self.last.fetch_max(ticket, Ordering::AcqRel);
    }

    fn durable(&self) -> SinkFuture<'_> {
        let ticket = self.last.load(Ordering::Acquire);
        Box::pin(async move {
            self.recorder
                .wait(ticket, Some(self.arn.clone()))
                .await
                .map_err(anyhow::Error::new)
        })
    }
}
