//! wasmtime, narrowed to what Sandstep needs: one engine, compiled
//! components cached on disk, a fresh store per call, fuel / deadline / memory
//! bounds, deny-by-default WASI, and traps mapped to ASL errors.
//!
//! The call path: [`Sandbox::load`] compiles a component once (or loads it
//! from the on-disk cache) and links it into one `InstancePre`;
//! [`Sandbox::run`] then waits for a free slot and, as a tokio task of its
//! own (so the calls of one execution use every runtime thread), builds a
//! fresh `Store` for every call with the task's [`Limits`] and [`Grants`],
//! instantiates, calls `run`, and turns whatever happened into JSON or an
//! [`AslError`].
//!
//! [`Sandbox::run_in`] does the same for a [`Tenant`]: it first waits its
//! turn among the tenant's calls, then runs within what is left of the
//! execution's fuel budget.
//!
//! This module knows nothing of manifests or `Resource` strings (that is
//! `resources/`) nor of states and retries (that is `engine/`).
//!
//! Engine settings: fuel metering, time slices (`slices.rs`: a running call
//! yields to tokio every [`SandboxConfig::slice_fuel`] units of fuel, so
//! many calls share threads fairly, and its deadline is checked; without
//! fuel, epoch interruption with one ticker thread per [`Sandbox`] ends the
//! slices instead), and the pooling allocator sized for
//! [`SandboxConfig::max_instances`] concurrent calls, falling back to
//! on-demand allocation when the address space cannot be reserved.

mod cache;
mod capture;
mod fault;
mod grants;
mod handles;
mod host;
mod limits;
mod net;
mod quota;
mod refusals;
mod secrets;
mod slices;
mod tenants;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use wasmtime::component::{Component, ComponentExportIndex, Linker, ResourceTable};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig,
    ProfilingStrategy, Store,
};

use crate::errors::{AslError, names};
use fault::{Budget, DeadlineSource};
use host::{CallState, TaskPre, WitContext};

pub use cache::{CompileOrigin, default_cache_dir};
pub use capture::Captured;
pub use grants::{DirGrant, DirMode, Grants};
pub use handles::{
    DEFAULT_CALL_DESCRIPTORS, DEFAULT_CALL_HANDLES, DEFAULT_CALL_LISTINGS, DEFAULT_CALL_SOCKETS,
    default_max_open_files,
};
pub use host::log::{LogLevel, LogLine};
pub use limits::{DEFAULT_FUEL, DEFAULT_MEMORY_BYTES, DEFAULT_TIMEOUT, Limits};
pub use net::NetRule;
pub use quota::ENTRY_BYTES;
pub(crate) use refusals::needs_escape;
pub use refusals::{LOGGED_CHARS, LOGGED_PER_KIND, escape_for_log};
pub use secrets::{Secret, SecretValue};
pub use slices::DEFAULT_SLICE_FUEL;
pub use tenants::{
    Admission, DEFAULT_MAX_CONCURRENT_TASKS, DEFAULT_MEMORY_CEILING_BYTES, DEFAULT_TENANT,
    ExecutionFuel, Tenant, TenantLimits,
};

/// Where compiled components are cached.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CacheSetting {
    /// [`default_cache_dir`]: `$SANDSTEP_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/sandstep`, else `~/.cache/sandstep`; no cache when
    /// none of these is set.
    #[default]
    Default,
    /// This directory (created when first written).
    Dir(PathBuf),
    /// Compile every component in every process.
    Disabled,
}

/// How a [`Sandbox`] allocates instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocator {
    /// Pre-reserved slots: fastest instantiation, at the cost of reserving
    /// address space up front (about 8 GiB per instance slot).
    Pooling,
    /// Memory mapped per instance.
    OnDemand,
}

/// Engine-wide knobs; the per-task bounds are [`Limits`].
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Default [`CacheSetting::Default`].
    pub cache: CacheSetting,
    /// Try the pooling allocator first. Default `true`; when the address
    /// space cannot be reserved the sandbox falls back to on-demand.
    pub pooling: bool,
    /// The most calls that run at once; more wait for a free slot instead
    /// of failing. Sizes the pool. Default 64.
    pub max_instances: u32,
    /// With fuel metering, the fuel a running call burns between yields:
    /// its time slice, and the precision of its deadline and of a shared
    /// execution budget: about a millisecond of guest CPU. Default
    /// [`DEFAULT_SLICE_FUEL`], 10 million.
    pub slice_fuel: u64,
    /// Without fuel metering, how often the epoch ticker ticks: the time
    /// slice instead of `slice_fuel`. Default 10 ms.
    pub epoch_tick: Duration,
    /// Bytes of stdout, and separately of stderr, kept per call (head and
    /// tail); the rest is counted and dropped. Default 64 KiB.
    pub capture_bytes: usize,
    /// Bytes of `log` messages kept per call (each line also costs 64
    /// bytes); later lines are counted and dropped. Default 64 KiB.
    pub log_bytes: usize,
    /// Host descriptors one call may hold at once: open files and
    /// directories, streams on files, sockets (its granted directories
    /// aside). Default [`DEFAULT_CALL_DESCRIPTORS`].
    pub call_descriptors: u32,
    /// Directory listings one call may hold at once (each is read whole
    /// into host memory). Default [`DEFAULT_CALL_LISTINGS`].
    pub call_listings: u32,
    /// Sockets one call may create. Default [`DEFAULT_CALL_SOCKETS`].
    pub call_sockets: u32,
    /// Handles of every kind one call may hold at once (its resource
    /// table). Default [`DEFAULT_CALL_HANDLES`].
    pub call_handles: usize,
    /// Host descriptors all running calls together may hold. Default
    /// [`default_max_open_files`]: half the process's open-file limit.
    pub max_open_files: u32,
    /// Compile fuel metering into components. Default `true`. With `false`
    /// guest code runs a little faster but no task's [`Limits::fuel`] is
    /// enforced: only the deadline bounds its CPU time.
    pub consume_fuel: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            cache: CacheSetting::Default,
            pooling: true,
            max_instances: 64,
            slice_fuel: DEFAULT_SLICE_FUEL,
            epoch_tick: Duration::from_millis(10),
            capture_bytes: 64 * 1024,
            log_bytes: 64 * 1024,
            call_descriptors: DEFAULT_CALL_DESCRIPTORS,
            call_listings: DEFAULT_CALL_LISTINGS,
            call_sockets: DEFAULT_CALL_SOCKETS,
            call_handles: DEFAULT_CALL_HANDLES,
            max_open_files: default_max_open_files(),
            consume_fuel: true,
        }
    }
}

/// The wasmtime engine and everything shared by all calls. Cheap to clone.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<CallState>,
    cache: Option<cache::CompileCache>,
    /// Components already compiled in this process, by sha256 of their bytes.
    compiled: Mutex<HashMap<[u8; 32], Component>>,
    allocator: Allocator,
    slots: Arc<Semaphore>,
    slice_fuel: u64,
    capture_bytes: usize,
    log_bytes: usize,
    call_descriptors: u32,
    call_listings: u32,
    call_sockets: u32,
    call_handles: usize,
    /// The descriptors all calls hold together.
    open_files: Arc<handles::Pool>,
    consume_fuel: bool,
}

/// A component compiled and linked once, ready to be instantiated for any
/// number of calls. Cheap to clone.
#[derive(Clone)]
pub struct TaskComponent {
    pre: TaskPre<CallState>,
    /// The `run` export, looked up once.
    run: ComponentExportIndex,
    path: PathBuf,
    origin: CompileOrigin,
}

impl TaskComponent {
    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether it was compiled now or loaded from the cache.
    pub fn origin(&self) -> CompileOrigin {
        self.origin
    }
}

/// One call of a task.
#[derive(Debug, Clone)]
pub struct Invocation<'a> {
    /// The task's name, for causes and logs.
    pub task: &'a str,
    /// The effective input as JSON text.
    pub input: &'a str,
    pub execution_id: &'a str,
    pub state_name: &'a str,
    pub retry_count: u32,
    /// The state's `TimeoutSeconds`; `None` uses [`Limits::timeout`].
    pub timeout: Option<Duration>,
    /// Other calls may run beside this one (see
    /// [`TaskCall::concurrent`](crate::engine::TaskCall::concurrent)): it
    /// then runs as a tokio task of its own, so calls spread over threads.
    pub concurrent: bool,
    /// The most bytes of output text the call may return: past it the call
    /// ends with `States.DataLimitExceeded`, measured on the raw text before
    /// anything parses it. `None`: only the memory limit bounds it.
    pub output_limit: Option<usize>,
}

/// Everything a call produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The task's output, or the ASL error the call ended with.
    pub result: Result<Value, AslError>,
    /// Captured stdout (empty when the task inherits stdio).
    pub stdout: Captured,
    /// Captured stderr (empty when the task inherits stdio).
    pub stderr: Captured,
    /// What the task logged through `sandstep:task/log`, up to the bound.
    pub logs: Vec<LogLine>,
    /// Log lines dropped past the bound.
    pub logs_dropped: u64,
    /// Fuel the call consumed, when it ran metered and started.
    pub fuel_consumed: Option<u64>,
    /// The most linear memory the call held (all its memories together),
    /// when it started.
    pub peak_memory_bytes: Option<u64>,
    /// Wall-clock time from store creation to the end of the call.
    pub elapsed: Duration,
    /// How long the call waited for its tenant's turn and a sandbox slot.
    pub queued: Duration,
}

impl Sandbox {
    /// Creates the engine, its linker and its epoch ticker.
    pub fn new(config: &SandboxConfig) -> anyhow::Result<Sandbox> {
        let (engine, allocator) = build_engine(config)?;
        let mut linker = Linker::new(&engine);
        host::add_to_linker(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking the host interfaces")?;
        if !config.consume_fuel {
            spawn_ticker(&engine, config.epoch_tick)?;
        }
        let cache_dir = match &config.cache {
            CacheSetting::Default => default_cache_dir(),
            CacheSetting::Dir(dir) => Some(dir.clone()),
            CacheSetting::Disabled => None,
        };
        let cache = cache_dir.map(|dir| cache::CompileCache::new(dir, &engine));
        Ok(Sandbox {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache,
                compiled: Mutex::default(),
                allocator,
                slots: Arc::new(Semaphore::new(config.max_instances.max(1) as usize)),
                slice_fuel: config.slice_fuel.max(1),
                capture_bytes: config.capture_bytes,
                log_bytes: config.log_bytes,
                call_descriptors: config.call_descriptors,
                call_listings: config.call_listings,
                call_sockets: config.call_sockets,
                call_handles: config.call_handles,
                open_files: handles::Pool::new(handles::Scope::Sandbox, config.max_open_files),
                consume_fuel: config.consume_fuel,
            }),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Whether calls are fuel-metered ([`SandboxConfig::consume_fuel`]).
    pub fn consume_fuel(&self) -> bool {
        self.inner.consume_fuel
    }

    /// The allocator in use (pooling unless it could not be set up).
    pub fn allocator(&self) -> Allocator {
        self.inner.allocator
    }

    /// The compile cache's directory, when caching is on.
    pub fn cache_dir(&self) -> Option<&Path> {
        self.inner.cache.as_ref().map(|c| c.dir())
    }

    /// Compiles the component at `path` (unless this process already did,
    /// or the on-disk cache has it) and links it. Fails, naming the file, when it is not a component, does
    /// not export `run` with the right type, or imports something the host
    /// does not provide.
    pub fn load(&self, path: &Path) -> anyhow::Result<TaskComponent> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read component {:?}", path.display().to_string()))?;
        self.load_bytes(path, &bytes)
    }

    /// As [`Sandbox::load`], from bytes already in memory; `path` is only
    /// used in messages.
    pub fn load_bytes(&self, path: &Path, bytes: &[u8]) -> anyhow::Result<TaskComponent> {
        let shown = path.display().to_string();
        let engine = &self.inner.engine;
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        let known = self.compiled().get(&digest).cloned();
        let (component, origin) = match (known, &self.inner.cache) {
            (Some(component), _) => Ok((component, CompileOrigin::Cached)),
            (None, Some(cache)) => cache.get_or_compile(engine, bytes),
            (None, None) => Component::new(engine, bytes)
                .map(|c| (c, CompileOrigin::Compiled))
                .map_err(anyhow::Error::from),
        }
        .with_context(|| format!("{shown:?} is not a valid WebAssembly component"))?;
        self.compiled().insert(digest, component.clone());
        let instance_pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!(
                    "component {shown:?} imports something the host does not provide \
                 (a task may import `sandstep:task/log` and WASI preview 2 only)"
                )
            })?;
        let not_a_task = || {
            format!(
                "component {shown:?} does not implement the `sandstep:task/task` world \
                 (it must export `run: func(input: string, ctx: context) -> result<string, task-error>`)"
            )
        };
        let pre = TaskPre::new(instance_pre)
            .map_err(anyhow::Error::from)
            .with_context(not_a_task)?;
        let (_, run) = component.get_export(None, "run").with_context(not_a_task)?;
        Ok(TaskComponent {
            pre,
            run,
            path: path.to_owned(),
            origin,
        })
    }

    fn compiled(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Component>> {
        self.inner
            .compiled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs one call on a fresh instance, within `limits` and `grants`.
    /// Never panics and never fails for what the guest does: every
    /// failure is in [`Outcome::result`].
    ///
    /// Once a slot is free the call runs as a task of its own on a
    /// multi-threaded tokio runtime, so the calls of one execution (a Map's
    /// iterations) spread over all its threads; dropping the returned future
    /// aborts the call. On a current-thread runtime it runs inline.
    pub async fn run(
        &self,
        component: &TaskComponent,
        limits: &Limits,
        grants: &Grants,
        call: Invocation<'_>,
    ) -> Outcome {
        self.call(
            component,
            limits,
            grants,
            call,
            Admission::none(),
            Instant::now(),
        )
        .await
    }

    /// As [`Sandbox::run`], for `tenant`: first waits (FIFO) until the
    /// tenant has room for the call, and runs it within what is left of
    /// its execution's fuel budget. Waiting is not part of the call's time.
    pub async fn run_in(
        &self,
        tenant: &Tenant,
        component: &TaskComponent,
        limits: &Limits,
        grants: &Grants,
        call: Invocation<'_>,
    ) -> Outcome {
        let asked = Instant::now();
        match tenant.admit(call.task, limits, call.execution_id).await {
            Ok(admission) => {
                self.call(component, limits, grants, call, admission, asked)
                    .await
            }
            Err(error) => Outcome::early(error, Instant::now()),
        }
    }

    async fn call(
        &self,
        component: &TaskComponent,
        limits: &Limits,
        grants: &Grants,
        call: Invocation<'_>,
        admission: Admission,
        asked: Instant,
    ) -> Outcome {
        let mut outcome = self
            .call_admitted(component, limits, grants, call, admission)
            .await;
        // The wait for the tenant and a slot: the call itself began `elapsed` ago.
        outcome.queued = asked.elapsed().saturating_sub(outcome.elapsed);
        outcome
    }

    async fn call_admitted(
        &self,
        component: &TaskComponent,
        limits: &Limits,
        grants: &Grants,
        call: Invocation<'_>,
        admission: Admission,
    ) -> Outcome {
        // Waiting for a slot is not part of the call's time.
        let Ok(permit) = Arc::clone(&self.inner.slots).acquire_owned().await else {
            let error = AslError::new(
                names::TASK_FAILED,
                format!(
                    "task \"{}\" could not start: the sandbox is closed",
                    call.task
                ),
            );
            return Outcome::early(error, Instant::now());
        };
        // A task of its own costs a hand-over between threads (tens of
        // µs); it pays only when other calls can use the other threads.
        let flavor = tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor());
        if !call.concurrent || !matches!(flavor, Ok(tokio::runtime::RuntimeFlavor::MultiThread)) {
            let _permit = permit;
            return self
                .run_in_slot(component, limits, grants, call, admission)
                .await;
        }
        let owned = OwnedCall {
            sandbox: self.clone(),
            component: component.clone(),
            limits: limits.clone(),
            grants: grants.clone(),
            task: call.task.to_owned(),
            input: call.input.to_owned(),
            execution_id: call.execution_id.to_owned(),
            state_name: call.state_name.to_owned(),
            retry_count: call.retry_count,
            timeout: call.timeout,
            output_limit: call.output_limit,
            admission,
        };
        let mut running = AbortOnDrop(tokio::spawn(async move {
            let _permit = permit;
            let call = Invocation {
                task: &owned.task,
                input: &owned.input,
                execution_id: &owned.execution_id,
                state_name: &owned.state_name,
                retry_count: owned.retry_count,
                timeout: owned.timeout,
                concurrent: true,
                output_limit: owned.output_limit,
            };
            (owned.sandbox)
                .run_in_slot(
                    &owned.component,
                    &owned.limits,
                    &owned.grants,
                    call,
                    owned.admission,
                )
                .await
        }));
        match (&mut running.0).await {
            Ok(outcome) => outcome,
            Err(ended) if ended.is_panic() => std::panic::resume_unwind(ended.into_panic()),
            Err(ended) => Outcome::early(
                AslError::new(
                    names::TASK_FAILED,
                    format!("task \"{}\" did not finish: {ended}", call.task),
                ),
                Instant::now(),
            ),
        }
    }

    /// [`Sandbox::run`]'s call, once it holds a slot; `admission` (the
    /// tenant's share) is held until it ends.
    async fn run_in_slot(
        &self,
        component: &TaskComponent,
        limits: &Limits,
        grants: &Grants,
        call: Invocation<'_>,
        admission: Admission,
    ) -> Outcome {
        let started = Instant::now();
        let stdout = capture::CapturePipe::new(self.inner.capture_bytes);
        let stderr = capture::CapturePipe::new(self.inner.capture_bytes);
        let budget = Budget {
            task: call.task,
            fuel: limits.fuel,
            memory_bytes: limits.memory_bytes,
            timeout: call.timeout.unwrap_or(limits.timeout),
            source: match call.timeout {
                Some(_) => DeadlineSource::State,
                None => DeadlineSource::Task,
            },
        };
        // Descriptors count against the call, its tenant and the sandbox.
        let shared = admission
            .open_files()
            .into_iter()
            .chain([&self.inner.open_files])
            .cloned()
            .collect();
        let handles = handles::CallHandles::new(
            self.inner.call_descriptors,
            self.inner.call_listings,
            self.inner.call_sockets,
            shared,
        );
        let (wasi, call_grants) = match grants.wasi_ctx(call.task, &stdout, &stderr, handles) {
            Ok(ctx) => ctx,
            Err(why) => {
                let error = AslError::new(
                    names::TASK_FAILED,
                    format!("task \"{}\" could not start: {why:#}", call.task),
                );
                return Outcome::early(error, started);
            }
        };
        let mut table = ResourceTable::new();
        table.set_max_capacity(self.inner.call_handles);
        let state = CallState {
            wasi,
            table,
            limiter: limits::MemoryLimiter::new(limits.memory_bytes),
            log: host::log::LogSink::new(call.task, call.execution_id, self.inner.log_bytes),
            grants: call_grants,
        };
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|state| &mut state.limiter);
        let metered = self.inner.consume_fuel;
        // The call's own fuel, or what its execution has left if that is less.
        let pool = admission.execution_fuel().filter(|_| metered);
        let fuel = limits
            .fuel
            .unwrap_or(u64::MAX)
            .min(pool.map_or(u64::MAX, |p| p.left()));
        let meter = pool.map(|p| Arc::new(tenants::FuelMeter::new(p.clone(), fuel)));
        let deadline = started + budget.timeout;
        let sliced = if metered {
            store
                .set_fuel(fuel)
                .and_then(|()| store.fuel_async_yield_interval(Some(self.inner.slice_fuel)))
        } else {
            store.set_epoch_deadline(1);
            store.epoch_deadline_async_yield_and_update(1);
            Ok(())
        };
        let (result, fuel_consumed) = match sliced {
            Err(why) => (
                Err(AslError::new(
                    names::TASK_FAILED,
                    format!("task \"{}\" could not start: {why}", call.task),
                )),
                None,
            ),
            Ok(()) => {
                let ctx = WitContext {
                    execution_id: call.execution_id.to_owned(),
                    state_name: call.state_name.to_owned(),
                    retry_count: call.retry_count,
                };
                let attempt = async {
                    let instance = component
                        .pre
                        .instance_pre()
                        .instantiate_async(&mut store)
                        .await?;
                    let run = instance.get_typed_func::<(&str, &WitContext), (fault::RawReturn,)>(
                        &mut store,
                        &component.run,
                    )?;
                    let (raw,) = run.call_async(&mut store, (call.input, &ctx)).await?;
                    // Bounded before anything parses it.
                    wasmtime::Result::Ok(fault::Returned::bounded(raw, call.output_limit))
                };
                // A metered slice burns at least `slice_fuel`: charge that
                // much to the execution's budget at each end, and stop once
                // other calls of the execution have spent it.
                let mut charged = 0u64;
                let at_slice_end = || {
                    if Instant::now() >= deadline {
                        return Err(slices::Stop::Deadline);
                    }
                    if let Some(meter) = &meter {
                        charged = charged.saturating_add(self.inner.slice_fuel).min(fuel);
                        if meter.sync(fuel - charged) == 0 {
                            return Err(slices::Stop::ExecutionFuel);
                        }
                    }
                    Ok(())
                };
                // Slice ends stop busy guests; this also ends guests
                // blocked in a host call (a sleep) when the deadline passes.
                let ended =
                    tokio::time::timeout_at(deadline.into(), slices::sliced(attempt, at_slice_end))
                        .await
                        .unwrap_or(Err(slices::Stop::Deadline));
                let left = store.get_fuel().ok().filter(|_| metered);
                if let (Some(meter), Some(left)) = (&meter, left) {
                    meter.sync(left);
                }
                let consumed = match &meter {
                    Some(meter) => left.map(|_| meter.burnt()),
                    None => left.map(|left| fuel - left),
                };
                let stderr_text = stderr.snapshot().text;
                let pool = meter.as_deref().map(tenants::FuelMeter::pool);
                let result = match ended {
                    Err(slices::Stop::Deadline) => Err(budget.deadline_error()),
                    Err(slices::Stop::ExecutionFuel) => Err(pool
                        .map(|pool| pool.exhausted(call.task))
                        .unwrap_or_else(|| budget.deadline_error())),
                    Ok(Err(error)) => Err(budget.failure(&error, &stderr_text, pool)),
                    Ok(Ok(returned)) => fault::returned(call.task, call.state_name, returned),
                };
                (result, consumed)
            }
        };
        let log = std::mem::replace(
            &mut store.data_mut().log,
            host::log::LogSink::new("", "", 0),
        );
        let mut outcome = Outcome {
            result,
            stdout: stdout.snapshot(),
            stderr: stderr.snapshot(),
            logs: log.lines,
            logs_dropped: log.dropped,
            fuel_consumed,
            peak_memory_bytes: Some(store.data().limiter.peak_bytes()),
            elapsed: started.elapsed(),
            queued: Duration::ZERO,
        };
        store.data().grants.settle(call.task, &mut outcome);
        outcome
    }
}

/// An [`Invocation`] and its bounds, owned, to move into a spawned task.
struct OwnedCall {
    sandbox: Sandbox,
    component: TaskComponent,
    limits: Limits,
    grants: Grants,
    task: String,
    input: String,
    execution_id: String,
    state_name: String,
    retry_count: u32,
    timeout: Option<Duration>,
    output_limit: Option<usize>,
    admission: Admission,
}

/// A spawned call that is aborted when whoever awaited it goes away (an
/// execution that timed out, a Map that failed), as an inline call would be.
struct AbortOnDrop(tokio::task::JoinHandle<Outcome>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Outcome {
    fn early(error: AslError, started: Instant) -> Outcome {
        Outcome {
            result: Err(error),
            stdout: Captured::default(),
            stderr: Captured::default(),
            logs: Vec::new(),
            logs_dropped: 0,
            fuel_consumed: None,
            peak_memory_bytes: None,
            elapsed: started.elapsed(),
            queued: Duration::ZERO,
        }
    }
}

fn base_config(settings: &SandboxConfig) -> Config {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .consume_fuel(settings.consume_fuel)
        // Fuel ends time slices when it is on (see `slices.rs`).
        .epoch_interruption(!settings.consume_fuel);
    if std::env::var_os(PERF_MAP_VAR).is_some_and(|v| v == "1") {
        config.profiler(ProfilingStrategy::PerfMap);
    }
    config
}

/// Set to `1` to write `/tmp/perf-PID.map`, so `perf report` names the
/// guests' compiled functions instead of showing bare JIT addresses.
pub const PERF_MAP_VAR: &str = "SANDSTEP_PERF_MAP";

fn build_engine(settings: &SandboxConfig) -> anyhow::Result<(Engine, Allocator)> {
    if settings.pooling {
        let n = settings.max_instances.max(1);
        let mut pool = PoolingAllocationConfig::new();
        // A Rust component has a handful of core instances, tables and
        // (usually one) memories; leave room for a few of each per call.
        pool.total_component_instances(n)
            .total_core_instances(n.saturating_mul(8))
            .total_memories(n.saturating_mul(2))
            .total_tables(n.saturating_mul(4))
            .total_stacks(n)
            .max_memories_per_module(1)
            .max_tables_per_module(2)
            // Reset the first pages of a reused slot with memset instead of
            // madvise: page faults on reuse cost more. Larger regions were
            // slower in `cargo bench --bench invoke` (memset dominates).
            .linear_memory_keep_resident(256 << 10)
            .table_keep_resident(16 << 10)
            .async_stack_keep_resident(16 << 10)
            // Where the kernel can tell which pages a call dirtied (Linux
            // 6.7+), reset only those: a 1 KB echo call 61 → 41 µs, W4 205 →
            // 173 µs. Falls back to resetting the whole region elsewhere.
            .pagemap_scan(Enabled::Auto);
        let mut config = base_config(settings);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        match Engine::new(&config) {
            Ok(engine) => return Ok((engine, Allocator::Pooling)),
            Err(why) => tracing::warn!(
                "cannot reserve address space for {n} pooled instances ({why}); \
                 using on-demand allocation"
            ),
        }
    }
    let engine = Engine::new(&base_config(settings))
        .map_err(anyhow::Error::from)
        .context("creating the wasmtime engine")?;
    Ok((engine, Allocator::OnDemand))
}

/// One thread per engine advancing the epoch; it ends when the engine is dropped.
fn spawn_ticker(engine: &Engine, tick: Duration) -> anyhow::Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("sandstep-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(tick);
            }
        })
        .context("starting the epoch ticker thread")?;
    Ok(())
}
