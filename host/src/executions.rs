//! Durable executions as objects: start, resume, stop and redrive over a
//! [`Store`], with the engine replaying what was recorded.
//!
//! A Standard execution is created in the store before it runs; every event
//! goes through the [`Recorder`] (group commit), and the engine waits for
//! durability before it acts on a Task's result or sleeps; the final status,
//! output and last event are committed together. After a crash, `resume`
//! re-runs each RUNNING execution whose owner process died against its
//! recorded events: nothing recorded happens twice, the attempt that was in
//! flight runs again (at-least-once), Waits sleep only what is left.
//!
//! This module never prints; the CLI does.

mod attempts;
pub mod callbacks;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use anyhow::bail;
use serde_json::{Value, json};
use time::OffsetDateTime;

use attempts::{MadeOnDrop, Progress, RESUME_ATTEMPTS, ResumeAttempts, WatchedSink};

use crate::asl::model::StateMachine;
use crate::asl::{self, MachineType};
use crate::engine::history::{HistoryEvent, format_timestamp};
use crate::engine::journal::{self, EventKey, Journal, KeyedEvent};
use crate::engine::{
    Clock, Durable, Engine, Execution, ExecutionRequest, ExecutionType, NoTasks, Observer, Status,
    TaskRunner,
};
use crate::errors::AslError;
use crate::store::{
    ExecutionRecord, ExecutionStatus, Finish, OwnerLock, Recorder, SqliteStore, StopRequest, Store,
    StoreError, StoredEvent, owner_alive,
};

/// The option that marks an execution run against a mock config's test
/// case (`host serve`, `stateMachineArn#TestCase`).
pub const MOCK_TEST_CASE: &str = "mockTestCase";

/// How often a running execution looks for a stop request.
const STOP_POLL: Duration = Duration::from_millis(250);

/// The executions of one store, as seen by this host process.
pub struct Executions {
    store: Arc<dyn Store>,
    recorder: Recorder,
    /// This process, as the owner of what it runs.
    owner: OwnerLock,
    /// Where owner locks live (the store's directory).
    dir: PathBuf,
    /// Task runners by manifest, so resumed executions share compiled tasks.
    runners: Mutex<HashMap<Option<PathBuf>, Arc<dyn TaskRunner>>>,
    observer: Option<Arc<dyn Observer>>,
    /// Resumes that ended with the host dead, per execution.
    attempts: ResumeAttempts,
    stops: Arc<StopPoller>,
    /// Task tokens of callback and activity tasks, and their poller.
    tokens: callbacks::TaskTokens,
    /// This, once shared ([`Executions::shared`]): children and resumes
    /// that outlive a call need it.
    me: OnceLock<Weak<Executions>>,
}

/// Who waits for a stop request, and the one task that looks for them.
#[derive(Default)]
struct StopPoller {
    waiting: Mutex<HashMap<String, tokio::sync::oneshot::Sender<StopRequest>>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl StopPoller {
    /// Starts the poller in the current runtime unless it runs.
    fn ensure_polling(self: &Arc<Self>, store: &Arc<dyn Store>, owner: &str) {
        let mut task = self.task.lock().unwrap_or_else(|e| e.into_inner());
        if task.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let (poller, store, owner) = (self.clone(), store.clone(), owner.to_owned());
        *task = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(STOP_POLL).await;
                let wanted = {
                    let mut waiting = poller.waiting.lock().unwrap_or_else(|e| e.into_inner());
                    // Executions that ended no longer listen.
                    waiting.retain(|_, sender| !sender.is_closed());
                    !waiting.is_empty()
                };
                if !wanted {
                    continue;
                }
                let (store, owner) = (store.clone(), owner.clone());
                let Ok(Ok(requests)) =
                    tokio::task::spawn_blocking(move || store.stop_requests(&owner)).await
                else {
                    continue;
                };
                let mut waiting = poller.waiting.lock().unwrap_or_else(|e| e.into_inner());
                for (arn, request) in requests {
                    if let Some(sender) = waiting.remove(&arn) {
                        let _ = sender.send(request);
                    }
                }
            }
        }));
    }
}

/// The settings an execution runs with, kept with it so a resume or redrive
/// runs it the same way.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub payload_limit: Option<usize>,
    pub virtual_time: bool,
}

impl RunOptions {
    fn to_json(&self) -> Value {
        json!({"payloadLimit": self.payload_limit, "virtualTime": self.virtual_time})
    }

    fn from_json(value: &Value) -> Self {
        RunOptions {
            payload_limit: value
                .get("payloadLimit")
                .and_then(Value::as_u64)
                .and_then(|n| usize::try_from(n).ok()),
            virtual_time: value
                .get("virtualTime")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }

    fn engine(&self, tasks: Arc<dyn TaskRunner>) -> Engine {
        let mut engine = Engine::new(tasks);
        if let Some(limit) = self.payload_limit {
            engine = engine.with_payload_limit(limit);
        }
        if self.virtual_time {
            engine = engine.with_clock(Clock::virtual_time());
        }
        engine
    }
}

/// A new execution to start.
pub struct Start<'a> {
    pub machine: &'a StateMachine,
    /// The definition's text, stored so the execution can be resumed.
    pub definition: &'a str,
    pub state_machine_name: &'a str,
    /// The task manifest, stored (absolute) for the same reason.
    pub manifest: Option<&'a Path>,
    pub name: Option<String>,
    pub input: Value,
    pub options: RunOptions,
}

/// An execution recorded by [`Executions::begin`], not yet run.
pub struct Begun {
    engine: Engine,
    record: ExecutionRecord,
}

impl Begun {
    pub fn record(&self) -> &ExecutionRecord {
        &self.record
    }
}

impl Executions {
    /// Opens (or creates) the SQLite store at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let store = SqliteStore::open(path)?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_owned();
        Self::with_store(Arc::new(store), &dir)
    }

    /// Over any store; owner locks go in `dir`.
    pub fn with_store(store: Arc<dyn Store>, dir: &Path) -> anyhow::Result<Self> {
        let owner = OwnerLock::acquire(dir)?;
        Ok(Executions {
            tokens: callbacks::TaskTokens::new(store.clone()),
            recorder: Recorder::start(store.clone()),
            store,
            owner,
            dir: dir.to_owned(),
            runners: Mutex::new(HashMap::new()),
            observer: None,
            attempts: ResumeAttempts::new(dir),
            stops: Arc::default(),
            me: OnceLock::new(),
        })
    }

    /// Shared, so executions can start and adopt children (nested
    /// executions) and resume them with the manifest's state machines.
    pub fn shared(self) -> Arc<Self> {
        let shared = Arc::new(self);
        let _ = shared.me.set(Arc::downgrade(&shared));
        shared
    }

    /// Executions of `manifest` run with `runner` (also when resumed).
    pub fn register_runner(&self, manifest: Option<&Path>, runner: Arc<dyn TaskRunner>) {
        let key = manifest.map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_owned()));
        self.runners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, runner);
    }

    /// The stored record of execution `arn`.
    pub fn record(&self, arn: &str) -> anyhow::Result<ExecutionRecord> {
        Ok(self.store.get(arn)?)
    }

    /// Runs an execution [`Executions::begin`] recorded to its end, in a
    /// task of its own (a child a parent does not wait for, or waits for by
    /// [`Executions::wait_for`]).
    pub fn spawn_run(&self, begun: Begun, machine: Arc<StateMachine>) {
        let Some(me) = self.me.get().and_then(Weak::upgrade) else {
            return;
        };
        tokio::spawn(async move {
            if let Err(e) = me.run_begun(begun, &machine).await {
                tracing::error!(error = %format!("{e:#}").escape_debug(), "a child execution could not be run to its end");
            }
        });
    }

    /// Resolves with the record of execution `arn` once it has ended. If
    /// its owner process died (a child whose host crashed, not among the
    /// executions this host resumes), this process takes it over.
    pub async fn wait_for(&self, arn: &str) -> anyhow::Result<ExecutionRecord> {
        loop {
            let record = self.store.get(arn)?;
            if record.status != ExecutionStatus::Running {
                return Ok(record);
            }
            let alive = match &record.owner {
                Some(owner) => owner_alive(&self.dir, owner)?,
                None => false,
            };
            if !alive
                && let Some(me) = self.me.get().and_then(Weak::upgrade)
                && self
                    .store
                    .claim(&record.arn, record.owner.as_deref(), self.owner.id())?
            {
                tokio::spawn(async move {
                    if let Err(e) = me.continue_execution(&record, false, Arc::default()).await {
                        tracing::error!(error = %format!("{e:#}").escape_debug(), "an adopted child execution could not be run to its end");
                    }
                });
            }
            tokio::time::sleep(STOP_POLL).await;
        }
    }

    /// Reports Map progress of every execution run here to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    fn engine(&self, options: &RunOptions, tasks: Arc<dyn TaskRunner>) -> Engine {
        let engine = options
            .engine(tasks)
            .with_callbacks(Arc::new(self.tokens.clone()));
        match &self.observer {
            Some(observer) => engine.with_observer(observer.clone()),
            None => engine,
        }
    }

    /// Tells `hook` how long each group commit of events takes.
    pub fn on_store_commit(&self, hook: crate::store::CommitHook) {
        self.recorder.on_commit(hook);
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The task tokens of this store: `SendTask*` and `GetActivityTask` answer through them.
    pub fn tokens(&self) -> &callbacks::TaskTokens {
        &self.tokens
    }

    /// Records a new execution and runs it to its end with `tasks`.
    pub async fn start(
        &self,
        start: Start<'_>,
        tasks: Arc<dyn TaskRunner>,
    ) -> anyhow::Result<Execution> {
        let machine = start.machine;
        let begun = self.begin(start, tasks, &[]).await?;
        self.run_begun(begun, machine).await
    }

    /// Records a new execution without running it, so a caller (the API's
    /// StartExecution) can answer before it ends; [`Executions::run_begun`]
    /// runs it. `labels` are kept in the record's options beside the run
    /// settings (e.g. the version or alias ARN it was started through).
    pub async fn begin(
        &self,
        start: Start<'_>,
        tasks: Arc<dyn TaskRunner>,
        labels: &[(&str, Value)],
    ) -> anyhow::Result<Begun> {
        let name = start
            .name
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let arn =
            crate::engine::execution_arn(ExecutionType::Standard, start.state_machine_name, &name);
        let engine = self.engine(&start.options, tasks.clone());
        let manifest = start
            .manifest
            .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_owned()));
        // The first runner of a manifest stays: a mocked run's layer must
        // not become what later resumes of other executions use.
        self.runners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(manifest.clone())
            .or_insert(tasks);
        let mut record = ExecutionRecord::new_running(
            arn,
            name,
            start.state_machine_name,
            ExecutionType::Standard,
            start.definition,
            start.input,
            engine.now(),
        );
        record.manifest = manifest;
        let mut options = start.options.to_json();
        if let Some(object) = options.as_object_mut() {
            for (key, value) in labels {
                object.insert((*key).to_owned(), value.clone());
            }
        }
        record.options = options;
        record.owner = Some(self.owner.id().to_owned());
        // Group-committed with other starts; a used name fails here.
        self.recorder.create(record.clone(), Vec::new()).await?;
        Ok(Begun { engine, record })
    }

    /// Runs an execution [`Executions::begin`] recorded to its end.
    pub async fn run_begun(
        &self,
        begun: Begun,
        machine: &StateMachine,
    ) -> anyhow::Result<Execution> {
        self.run(
            &begun.engine,
            machine,
            &begun.record,
            Journal::default(),
            0,
            None,
        )
        .await
    }

    /// Continues every RUNNING execution whose owner process is gone, and
    /// returns how each ended. `only` limits it to one state machine.
    pub async fn resume_orphans(&self, only: Option<&str>) -> anyhow::Result<Vec<Execution>> {
        let running = self.store.list(Some(ExecutionStatus::Running))?;
        let mut claimed = Vec::new();
        for record in running {
            if only.is_some_and(|name| name != record.state_machine_name) {
                continue;
            }
            let alive = match &record.owner {
                Some(owner) => owner_alive(&self.dir, owner)?,
                None => false,
            };
            if alive
                || !self
                    .store
                    .claim(&record.arn, record.owner.as_deref(), self.owner.id())?
            {
                continue;
            }
            claimed.push(record);
        }
        // Polled together in this task: their calls need tasks of their own.
        let shared = claimed.len() > 1;
        // Executions whose last resume died with the host go first, one at
        // a time, each alone until its first durable point (or its end): if
        // one kills the host again, it alone is blamed (see `attempts`).
        // The least suspect first; the others after all suspects.
        let mut order: Vec<(u32, &ExecutionRecord)> = claimed
            .iter()
            .map(|record| (self.attempts.count(&record.arn), record))
            .collect();
        order.sort_by_key(|(count, _)| (*count == 0, *count));
        let mut running = futures::stream::FuturesUnordered::new();
        let mut ended = Vec::new();
        for (count, record) in order {
            let progress = Arc::new(Progress::default());
            running.push(self.continue_execution(record, shared, progress.clone()));
            if count == 0 {
                continue;
            }
            let made = progress.wait();
            tokio::pin!(made);
            loop {
                use futures::StreamExt;
                tokio::select! {
                    () = &mut made => break,
                    Some(result) = running.next() => ended.push(result?),
                    else => break,
                }
            }
        }
        use futures::TryStreamExt;
        while let Some(execution) = running.try_next().await? {
            ended.push(execution);
        }
        Ok(ended)
    }

    /// Replays `record` from its recorded events and runs it to its end.
    async fn continue_execution(
        &self,
        record: &ExecutionRecord,
        shared_task: bool,
        progress: Arc<Progress>,
    ) -> anyhow::Result<Execution> {
        let _made = MadeOnDrop(progress.clone());
        let machine =
            asl::parse_text_as(&record.definition, MachineType::Standard).map_err(|problems| {
                anyhow::anyhow!(
                    "the stored definition of {} is no longer valid: {}",
                    record.arn,
                    problems
                        .iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            })?;
        let tasks = self.runner(record.manifest.as_deref())?;
        let engine = self
            .engine(&RunOptions::from_json(&record.options), tasks)
            .with_shared_task(shared_task);
        let events = self.store.events(&record.arn)?;
        let last_id = events.iter().map(|e| e.event.event.id).max().unwrap_or(0);
        let (superseded, replayable): (Vec<StoredEvent>, Vec<StoredEvent>) =
            events.into_iter().partition(|e| e.superseded);
        let journal = Journal::new(replayable.into_iter().map(|e| e.event))
            .with_superseded(superseded.iter().map(|e| &e.event));
        let died = self.attempts.count(&record.arn);
        if died >= RESUME_ATTEMPTS {
            return self.fail_unresumable(record, died).await;
        }
        if let Some(case) = record.options.get(MOCK_TEST_CASE).and_then(Value::as_str) {
            // A mocked Task's answer depends on how often the state was
            // invoked, which a replay (that skips recorded attempts) does not
            // repeat; running real tasks instead would be worse.
            let error = AslError::runtime(format!(
                "This execution ran against the mocked responses of test case {:?}, which a resumed \
                 run cannot replay, so it was failed when its host restarted. Start it again.",
                case.chars().take(256).collect::<String>()
            ));
            return self.fail_now(record, error).await;
        }
        self.attempts.mark(&record.arn, died + 1).map_err(|e| {
            anyhow::anyhow!(
                "cannot count the resumes of {} beside the store in {}: {e}",
                record.arn,
                self.dir.display()
            )
        })?;
        self.run(&engine, &machine, record, journal, last_id, Some(progress))
            .await
    }

    /// Fails an execution whose resumes killed the host `died` times in a
    /// row before it reached a durable point, so the others can run.
    async fn fail_unresumable(
        &self,
        record: &ExecutionRecord,
        died: u32,
    ) -> anyhow::Result<Execution> {
        let error = AslError::runtime(format!(
            "The host stopped {died} times in a row while resuming this execution, each time before \
             it got past the point where it stopped, so it was failed instead of resumed again: replaying it \
             makes the host crash (a bug in Sandstep that its definition or data reaches). Report \
             it with the definition and input; after an upgrade, `host redrive` runs it again."
        ));
        self.fail_now(record, error).await
    }

    /// Ends `record` FAILED with `error` without running it.
    async fn fail_now(
        &self,
        record: &ExecutionRecord,
        error: AslError,
    ) -> anyhow::Result<Execution> {
        self.recorder.flush().await?;
        let events = self.store.events(&record.arn)?;
        let now = OffsetDateTime::now_utc();
        let failed = terminal_event(
            &events,
            record.redrive_count,
            now,
            "ExecutionFailed",
            crate::engine::history::error_details(
                "executionFailedEventDetails",
                &error.error,
                &error.cause,
            ),
        );
        self.observe(record, &failed.event);
        self.recorder.append(&record.arn, failed);
        self.recorder
            .finish(Finish {
                arn: record.arn.clone(),
                status: ExecutionStatus::Failed,
                output: None,
                error: Some(error.error),
                cause: Some(error.cause),
                stop_date: now,
            })
            .await?;
        self.attempts.clear(&record.arn);
        Ok(execution_of(&self.store.get(&record.arn)?))
    }

    /// Shows an event written here, not by the engine, to the observer.
    fn observe(&self, record: &ExecutionRecord, event: &HistoryEvent) {
        if let Some(observer) = self.observer.as_ref().filter(|o| o.wants_events()) {
            let meta = crate::engine::ExecutionMeta {
                arn: record.arn.clone(),
                state_machine_name: record.state_machine_name.clone(),
                kind: ExecutionType::Standard,
                redrive_count: record.redrive_count,
                start_date: record.start_date,
            };
            observer.event(&meta, event);
        }
    }

    async fn run(
        &self,
        engine: &Engine,
        machine: &StateMachine,
        record: &ExecutionRecord,
        journal: Journal,
        last_id: u64,
        resumed: Option<Arc<Progress>>,
    ) -> anyhow::Result<Execution> {
        let mut sink = self.recorder.sink(&record.arn);
        if let Some(progress) = resumed {
            sink = Arc::new(WatchedSink {
                inner: sink,
                attempts: self.attempts.clone(),
                arn: record.arn.clone(),
                progress,
                cleared: Default::default(),
            });
        }
        let request = ExecutionRequest {
            name: Some(record.name.clone()),
            state_machine_name: record.state_machine_name.clone(),
            input: record.input.clone(),
            kind: ExecutionType::Standard,
            record_history: false,
            durable: Some(Durable {
                sink,
                journal: Arc::new(journal),
                last_id,
                start_date: record.start_date,
                redrive_count: record.redrive_count,
                redrive_date: record.redrive_date,
            }),
        };
        let stop = self.stop_requested(&record.arn);
        let execution = tokio::select! {
            execution = engine.execute(machine, request) => execution,
            request = stop => {
                let aborted = self.abort(record, request).await;
                self.attempts.clear(&record.arn);
                return aborted;
            }
        };
        self.recorder
            .finish(Finish {
                arn: record.arn.clone(),
                status: stored_status(execution.status),
                output: execution.output.clone(),
                error: execution.error.clone(),
                cause: execution.cause.clone(),
                stop_date: execution.stop_date,
            })
            .await?;
        self.attempts.clear(&record.arn);
        Ok(execution)
    }

    /// Resolves when someone asks to stop execution `arn`. One poller per
    /// process asks the store for the stop requests of all the executions
    /// it runs, so thousands running cost one query per [`STOP_POLL`].
    async fn stop_requested(&self, arn: &str) -> StopRequest {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        self.stops
            .waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(arn.to_owned(), sender);
        self.stops.ensure_polling(&self.store, self.owner.id());
        match receiver.await {
            Ok(request) => request,
            // The poller is gone (its runtime ended): nothing will ask.
            Err(_) => std::future::pending().await,
        }
    }

    /// Ends a RUNNING execution this process owns as ABORTED.
    async fn abort(
        &self,
        record: &ExecutionRecord,
        request: StopRequest,
    ) -> anyhow::Result<Execution> {
        // Cut to AWS's limits like every other error the host records.
        let bounded = AslError::new(
            request.error.clone().unwrap_or_default(),
            request.cause.clone().unwrap_or_default(),
        )
        .bounded();
        let request = StopRequest {
            error: request.error.map(|_| bounded.error),
            cause: request.cause.map(|_| bounded.cause),
        };
        self.recorder.flush().await?;
        let events = self.store.events(&record.arn)?;
        let now = OffsetDateTime::now_utc();
        let aborted = terminal_event(
            &events,
            record.redrive_count,
            now,
            "ExecutionAborted",
            Some((
                "executionAbortedEventDetails",
                json!({"error": request.error, "cause": request.cause}),
            )),
        );
        self.observe(record, &aborted.event);
        self.recorder.append(&record.arn, aborted);
        self.recorder
            .finish(Finish {
                arn: record.arn.clone(),
                status: ExecutionStatus::Aborted,
                output: None,
                error: request.error.clone(),
                cause: request.cause.clone(),
                stop_date: now,
            })
            .await?;
        self.stop_children(&record.arn).await;
        let stored = self.store.get(&record.arn)?;
        Ok(execution_of(&stored))
    }

    /// Waits for every child execution `parent` started that still runs
    /// (fire-and-forget ones), and theirs: a `host run` ends with them
    /// rather than leaving them for the next start.
    pub async fn wait_for_children(&self, parent: &str) -> anyhow::Result<()> {
        let running = self.store.list(Some(ExecutionStatus::Running))?;
        for child in running {
            let link = child.options.get(crate::nested::STARTED_BY);
            if link.and_then(|l| l.get("executionArn")) == Some(&json!(parent)) {
                self.wait_for(&child.arn).await?;
                Box::pin(self.wait_for_children(&child.arn)).await?;
            }
        }
        Ok(())
    }

    /// Stops the running children that aborted execution `parent` was
    /// waiting for (`.sync`), best effort, as AWS does (checklist NEST-04).
    async fn stop_children(&self, parent: &str) {
        let Ok(running) = self.store.list(Some(ExecutionStatus::Running)) else {
            return;
        };
        for child in running {
            let link = child.options.get(crate::nested::STARTED_BY);
            let waited_for =
                link.and_then(|l| l.get("sync")).and_then(Value::as_bool) == Some(true);
            if !waited_for || link.and_then(|l| l.get("executionArn")) != Some(&json!(parent)) {
                continue;
            }
            let request = StopRequest {
                error: None,
                cause: None,
            };
            if let Err(e) = Box::pin(self.stop(&child.arn, request)).await {
                tracing::warn!(error = %format!("{e:#}").escape_debug(), "a child of an aborted execution could not be stopped");
            }
        }
    }

    /// Stops a RUNNING execution: its owner aborts it at once if alive,
    /// else this process does. Returns the record once it is ABORTED.
    pub async fn stop(&self, id: &str, request: StopRequest) -> anyhow::Result<ExecutionRecord> {
        let record = self.store.get(id)?;
        if record.status != ExecutionStatus::Running {
            bail!(
                "execution '{}' is {}, not RUNNING: there is nothing to stop",
                record.name,
                record.status
            );
        }
        let alive = match &record.owner {
            Some(owner) => owner_alive(&self.dir, owner)?,
            None => false,
        };
        if alive {
            self.store.request_stop(&record.arn, &request)?;
            for _ in 0..120 {
                tokio::time::sleep(STOP_POLL).await;
                let now = self.store.get(&record.arn)?;
                if now.status != ExecutionStatus::Running {
                    return Ok(now);
                }
            }
            bail!(
                "asked the host process running '{}' to stop it, but it has not yet; `host describe` shows when it does",
                record.name
            );
        }
        if !self
            .store
            .claim(&record.arn, record.owner.as_deref(), self.owner.id())?
        {
            bail!(
                "execution '{}' was taken over by another host process while stopping it; try again",
                record.name
            );
        }
        self.abort(&record, request).await?;
        Ok(self.store.get(&record.arn)?)
    }

    /// Restarts a FAILED, TIMED_OUT or ABORTED execution from its
    /// unsuccessful steps and runs it to its end.
    pub async fn redrive(&self, id: &str) -> anyhow::Result<Execution> {
        let record = self.begin_redrive(id).await?;
        self.run_redriven(&record).await
    }

    /// The first half of [`Executions::redrive`]: refuses what AWS refuses,
    /// records the redrive, and returns the RUNNING record without running
    /// it, so a caller (the API's RedriveExecution) can answer at once;
    /// [`Executions::run_redriven`] runs it.
    pub async fn begin_redrive(&self, id: &str) -> anyhow::Result<ExecutionRecord> {
        let record = self.store.get(id)?;
        if let Some(reason) = record.redrive_refusal(OffsetDateTime::now_utc()) {
            return Err(StoreError::ExecutionNotRedrivable {
                arn: record.arn,
                reason,
            }
            .into());
        }
        let events = self.store.events(&record.arn)?;
        let live: Vec<&KeyedEvent> = events
            .iter()
            .filter(|e| !e.superseded)
            .map(|e| &e.event)
            .collect();
        let superseded = journal::superseded_by_redrive(live.iter().copied());
        let count = record.redrive_count.saturating_add(1);
        let now = OffsetDateTime::now_utc();
        let last = events.iter().map(|e| e.event.event.id).max().unwrap_or(0);
        let redriven = KeyedEvent {
            key: EventKey::redriven(count),
            event: HistoryEvent {
                id: last + 1,
                previous_event_id: last,
                timestamp: now,
                kind: "ExecutionRedriven".into(),
                details: Some((
                    "executionRedrivenEventDetails".into(),
                    json!({"redriveCount": count}),
                )),
            },
        };
        self.store
            .redrive(&record.arn, self.owner.id(), &superseded, &redriven, now)?;
        self.observe(&record, &redriven.event);
        // Asked for by hand: earlier resumes that died do not count against it.
        self.attempts.clear(&record.arn);
        Ok(self.store.get(&record.arn)?)
    }

    /// Runs an execution [`Executions::begin_redrive`] restarted to its end.
    pub async fn run_redriven(&self, record: &ExecutionRecord) -> anyhow::Result<Execution> {
        self.continue_execution(record, false, Arc::default()).await
    }

    fn runner(&self, manifest: Option<&Path>) -> anyhow::Result<Arc<dyn TaskRunner>> {
        let mut runners = self.runners.lock().unwrap_or_else(|e| e.into_inner());
        let key = manifest.map(Path::to_owned);
        if let Some(runner) = runners.get(&key) {
            return Ok(runner.clone());
        }
        let runner: Arc<dyn TaskRunner> = match manifest {
            Some(path) => crate::resources::load_runner(path)?,
            None => Arc::new(NoTasks),
        };
        // Nested executions of the manifest's state machines, when shared.
        let runner = match self.me.get().and_then(Weak::upgrade) {
            Some(me) => {
                let machines = crate::nested::ManifestMachines::for_manifest(manifest);
                let nested = crate::nested::NestedExecutions::new(runner, machines);
                nested.attach(&me, key.clone(), RunOptions::default());
                nested as Arc<dyn TaskRunner>
            }
            None => runner,
        };
        runners.insert(key, runner.clone());
        Ok(runner)
    }
}

/// The execution's closing event of its current run.
fn terminal_event(
    events: &[StoredEvent],
    redrive_count: u32,
    timestamp: OffsetDateTime,
    kind: &'static str,
    details: Option<(&'static str, Value)>,
) -> KeyedEvent {
    let last = events.iter().map(|e| e.event.event.id).max().unwrap_or(0);
    KeyedEvent {
        key: EventKey::execution(redrive_count.saturating_mul(2).saturating_add(1)),
        event: HistoryEvent {
            id: last + 1,
            previous_event_id: last,
            timestamp,
            kind: kind.into(),
            details: details.map(|(member, value)| (member.into(), value)),
        },
    }
}

fn stored_status(status: Status) -> ExecutionStatus {
    match status {
        Status::Succeeded => ExecutionStatus::Succeeded,
        Status::Failed => ExecutionStatus::Failed,
        Status::TimedOut => ExecutionStatus::TimedOut,
        Status::Aborted => ExecutionStatus::Aborted,
    }
}

/// A stored record as an [`Execution`] (without history).
fn execution_of(record: &ExecutionRecord) -> Execution {
    Execution {
        execution_arn: record.arn.clone(),
        name: record.name.clone(),
        state_machine_arn: crate::engine::state_machine_arn(&record.state_machine_name),
        status: match record.status {
            ExecutionStatus::Succeeded => Status::Succeeded,
            ExecutionStatus::TimedOut => Status::TimedOut,
            ExecutionStatus::Aborted => Status::Aborted,
            ExecutionStatus::Failed | ExecutionStatus::Running => Status::Failed,
        },
        output: record.output.clone(),
        error: record.error.clone(),
        cause: record.cause.clone(),
        start_date: record.start_date,
        stop_date: record.stop_date.unwrap_or(record.start_date),
        state_transitions: 0,
        history: Vec::new(),
    }
}

/// A stored record shaped like AWS `DescribeExecution`.
pub fn describe(record: &ExecutionRecord) -> Value {
    let refusal = record.redrive_refusal(OffsetDateTime::now_utc());
    let mut described = json!({
        "executionArn": record.arn,
        "stateMachineArn": crate::engine::state_machine_arn(&record.state_machine_name),
        "name": record.name,
        "status": record.status.as_str(),
        "startDate": format_timestamp(record.start_date),
        "input": crate::engine::history::text(&record.input),
        "inputDetails": {"included": true},
        "redriveCount": record.redrive_count,
        "redriveStatus": if refusal.is_none() { "REDRIVABLE" } else { "NOT_REDRIVABLE" },
    });
    if let Some(object) = described.as_object_mut() {
        if let Some(stop) = record.stop_date {
            object.insert("stopDate".into(), json!(format_timestamp(stop)));
        }
        if let Some(output) = &record.output {
            object.insert("output".into(), json!(crate::engine::history::text(output)));
            object.insert("outputDetails".into(), json!({"included": true}));
        }
        if let Some(error) = &record.error {
            object.insert("error".into(), json!(error));
        }
        if let Some(cause) = &record.cause {
            object.insert("cause".into(), json!(cause));
        }
        if let Some(date) = record.redrive_date {
            object.insert("redriveDate".into(), json!(format_timestamp(date)));
        }
        if let Some(reason) = refusal {
            object.insert("redriveStatusReason".into(), json!(reason));
        }
    }
    described
}

/// The ARN of the execution whose name a failed [`Executions::begin`] found used.
pub fn already_exists(e: &anyhow::Error) -> Option<&str> {
    let store_error = match e.downcast_ref::<StoreError>() {
        Some(e) => Some(e),
        None => match e.downcast_ref::<crate::store::RecorderError>() {
            Some(crate::store::RecorderError::Store(e)) => Some(e.as_ref()),
            _ => None,
        },
    };
    match store_error {
        Some(StoreError::ExecutionAlreadyExists { arn }) => Some(arn.as_str()),
        _ => None,
    }
}
