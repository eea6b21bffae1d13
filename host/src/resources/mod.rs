//! What a Task `Resource` names: a task declared in the manifest
//! (`sandstep.toml`), reached as `wasm:NAME` or through a Lambda function
//! ARN `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]` (the
//! qualifier, an alias or version, is ignored). Owns the manifest and
//! [`WasmTasks`], the engine's [`TaskRunner`]; how a call is bounded and
//! sandboxed is `sandbox/`'s business.
//!
//! # The manifest
//!
//! `sandstep.toml` sits next to the pipeline (or is named explicitly).
//! Relative paths in it are relative to the manifest's directory. Unknown
//! fields are errors.
//!
//! ```toml
//! [defaults]                 # optional; each field falls back as noted
//! fuel = 20_000_000_000      # fuel units per call (default 20e9), or `false`: unmetered
//! memory_mib = 256           # linear memory per call, 1..=4096 (default 256)
//! timeout_seconds = 60       # deadline when the state has no TimeoutSeconds (default 60)
//!
//! [tasks.enrich]
//! component = "../../example-tasks/target/wasm32-wasip2/release/enrich.wasm"
//! fuel = 50_000_000_000      # per-task override; `fuel = false` turns fuel off
//! memory_mib = 128
//! timeout_seconds = 30       # may be fractional, e.g. 0.5
//! env = { REGION = "eu" }    # exactly the variables the task sees (default none)
//! dirs = [                   # directories the task sees (default none)
//!   { guest = "/ref", host = "data/reference", mode = "ro" },   # mode defaults to "ro"
//!   { guest = "/out", host = "out", mode = "rw", quota = "10 MiB" },
//! ]                          # quota: bytes one call may write there (rw only; default unlimited)
//! network = [                # outbound TCP the task may open (default none: no sockets, no DNS)
//!   "api.example.com:443",   # a name: the task may look it up and connect to what it returned
//!   "*.corp.example:*",      # any subdomain, any port
//!   "127.0.0.1:8080", "[::1]:*",
//! ]
//! inherit_stdio = false      # true: stdout/stderr go to the host's (default: captured)
//! tenant = "acme"            # who it runs for (default: the tenant "default")
//!
//! [tasks.enrich.secrets]     # environment variables whose values are never recorded
//! API_KEY = { env = "ENRICH_API_KEY" }   # from the host's environment, read at load
//! DB_PASSWORD = { file = "secrets/db" }  # from a file (one trailing newline dropped)
//!
//! [tenants.acme]             # optional; each field falls back as noted
//! max_concurrent_tasks = 8   # its calls running at once; more wait, FIFO (default 8)
//! memory_ceiling = "2 GiB"   # sum of its running calls' memory limits (default "2 GiB")
//! fuel_per_execution = 100_000_000_000  # fuel one execution's calls share (default: none)
//! max_open_files = 512       # host descriptors its running calls hold together (default 512)
//! ```
//!
//! A task gets no files outside its `dirs`, no environment besides its
//! `env` and `secrets`, no network beyond its `network` patterns, and empty
//! stdin. Quotas accept bytes (`1048576`) or sizes (`"512 KiB"`, `"10 MiB"`,
//! `"1 GB"`); a write past one ends the call with
//! `Sandbox.WriteQuotaExceeded`. A missing secret is a load error naming the
//! task and the secret; its value is redacted from the task's logs, captured
//! output, error and JSON output. SECURITY.md says what each of these
//! protects and where the gaps are.
//!
//! # Limits: the contract
//!
//! Every call runs under all of these at once; the first one reached ends
//! it, with the ASL error a Retry or Catch can match. `host run --profile`
//! prints what each state used next to its limits, to set them from
//! measurements.
//!
//! | limit | default | protects | when reached |
//! | --- | --- | --- | --- |
//! | `fuel` per call | 20e9 units (~1 per wasm instruction, 1–2 s of CPU) | the host's CPU, deterministically: the same input stops at the same point anywhere | `States.Timeout`, cause "ran out of fuel" |
//! | `timeout_seconds` (or the state's `TimeoutSeconds`) | 60 s | wall-clock time, including time blocked in host calls | `States.Timeout`: no cause for the state's `TimeoutSeconds` (as AWS), else cause "ran past its deadline" |
//! | `memory_mib` per call | 256 MiB, at most 4096 | the host's memory: all linear memories of the call together | `Sandbox.MemoryLimitExceeded` |
//! | state input/output size | 256 KiB of compact JSON (`host run --payload-limit`) | the engine's memory and history | `States.DataLimitExceeded` |
//! | stdout / stderr capture | 64 KiB each per call, head and tail kept | the host's memory and logs | never fails: the rest is counted and dropped |
//! | `log` capture | 64 KiB of messages per call | the host's memory and logs | never fails: later lines are counted and dropped |
//! | tenant `max_concurrent_tasks` | 8 (declared tenant); none for the undeclared default tenant | other tenants' share of the host: a tenant's calls queue behind its own | the call waits its turn (FIFO) |
//! | tenant `memory_ceiling` | 2 GiB (declared tenant); none for the undeclared default tenant | the host's memory across a tenant's running calls | the call waits for room; a task whose own `memory_mib` is above it is refused at load |
//! | tenant `fuel_per_execution` | none | the CPU one execution may burn across all its calls and retries | each call gets min(its fuel, what is left); running out is `States.Timeout`, cause "used its whole fuel budget" |
//! | tenant `max_open_files` | 512 (declared tenant); none for the undeclared default tenant | the host's file descriptors: one tenant holding files or sockets open cannot keep another's calls from starting | the call that would pass it ends with `Sandbox.ResourceLimitExceeded` |
//! | open descriptors per call (files, directories, streams on files, sockets) | 128 at once | the host's file descriptors | `Sandbox.ResourceLimitExceeded` |
//! | directory listings per call | 16 at once | host memory: each listing is read whole | `Sandbox.ResourceLimitExceeded` |
//! | sockets per call | 64 created | the host's file descriptors | `Sandbox.ResourceLimitExceeded` |
//! | handles per call (every stream, pollable, descriptor, lookup) | 4,096 at once | host memory | `Sandbox.ResourceLimitExceeded` |
//! | descriptors of all calls | half the process's open-file limit (`ulimit -n`) | descriptors for the host itself and for starting calls | `Sandbox.ResourceLimitExceeded` for the call that would pass it |
//! | output text | the payload limit, measured on the raw text | host memory: a result past it is never parsed | `States.DataLimitExceeded` |
//! | refusal log lines | 10 per kind per call, then one summary | the host's log volume | never fails: the rest are counted |
//!
//! The host memory one call can cause is bounded by these: at most about
//! twice its `memory_mib` (its linear memory, plus, for an instant, the copy
//! of what it returned, which is dropped unparsed when longer than the
//! payload limit and cut to AWS's sizes when a task-error), plus 34 times
//! the payload limit (its input, and its output parsed), plus its captures
//! and logs (192 KiB),
//! its 16 directory listings and a few MiB of wasmtime's own state.
//! SECURITY.md derives it; `tests/soak.rs` measures it.
//!
//! Tasks that name no tenant run for the tenant `"default"`, unlimited
//! unless the manifest declares `[tenants.default]`; `host run --tenant
//! NAME` runs every task of the pipeline for tenant NAME. The sandbox
//! itself runs at most 64 calls at once across all tenants (more wait): keep
//! the sum of the tenants' `max_concurrent_tasks` under that, so a busy
//! tenant cannot fill every slot. When several calls of one execution run
//! at once (Parallel, Map), the execution's fuel is re-checked at the end of
//! every time slice (10 million units), so together they may overshoot the
//! budget by about one slice each; calls that run one after another stay
//! within it exactly.

mod lambda_invoke;
pub(crate) mod manifest;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;

use crate::engine::{TaskCall, TaskFuture, TaskLog, TaskOutcome, TaskRunner, Usage};
use crate::errors::{AslError, names};
use crate::sandbox::{
    DEFAULT_TENANT, Invocation, Outcome, Sandbox, SandboxConfig, TaskComponent, Tenant,
    TenantLimits,
};

pub use lambda_invoke::{LAMBDA_INVOKE, LambdaInvoke, function_arn, invoke_response};
pub use manifest::{MANIFEST_FILE, MachineDecl, Manifest, RawSecret as SecretSource, TaskDecl};

/// The tasks of a manifest, every component compiled and linked up front.
pub struct WasmTasks {
    sandbox: Sandbox,
    manifest_path: String,
    tasks: BTreeMap<String, LoadedTask>,
    /// Every declared tenant, and the default one.
    tenants: BTreeMap<String, Arc<Tenant>>,
}

struct LoadedTask {
    decl: TaskDecl,
    component: TaskComponent,
    tenant: Arc<Tenant>,
}

impl WasmTasks {
    /// Compiles (or loads from the cache) every task's component, once per
    /// distinct file, and checks each against the host's interfaces. Fails
    /// naming the task and the file.
    pub fn load(manifest: &Manifest, sandbox: &Sandbox) -> anyhow::Result<WasmTasks> {
        let mut tenants: BTreeMap<String, Arc<Tenant>> = manifest
            .tenants()
            .iter()
            .map(|(name, limits)| (name.clone(), Arc::new(Tenant::new(name, limits.clone()))))
            .collect();
        tenants
            .entry(DEFAULT_TENANT.to_owned())
            .or_insert_with(|| Arc::new(Tenant::new(DEFAULT_TENANT, TenantLimits::UNLIMITED)));
        if !sandbox.consume_fuel()
            && let Some((name, _)) = tenants
                .iter()
                .find(|(_, t)| t.limits().fuel_per_execution.is_some())
        {
            anyhow::bail!(
                "tenant {name:?} (declared in {:?}) has a fuel_per_execution budget, \
                 which needs fuel metering, but the sandbox runs without it",
                manifest.path().display().to_string()
            );
        }
        let mut by_file: BTreeMap<&Path, TaskComponent> = BTreeMap::new();
        let mut tasks = BTreeMap::new();
        for (name, decl) in manifest.tasks() {
            let component = match by_file.get(decl.component.as_path()) {
                Some(component) => component.clone(),
                None => {
                    let component = sandbox.load(&decl.component).with_context(|| {
                        format!(
                            "task {name:?} (declared in {:?})",
                            manifest.path().display().to_string()
                        )
                    })?;
                    by_file.insert(&decl.component, component.clone());
                    component
                }
            };
            let tenant = tenants
                .get(&decl.tenant)
                .expect("the manifest checked every task's tenant is declared")
                .clone();
            tasks.insert(
                name.clone(),
                LoadedTask {
                    decl: decl.clone(),
                    component,
                    tenant,
                },
            );
        }
        Ok(WasmTasks {
            sandbox: sandbox.clone(),
            manifest_path: manifest.path().display().to_string(),
            tasks,
            tenants,
        })
    }

    /// Runs every task for tenant `name` (`host run --tenant`), whatever
    /// tenant the manifest gives it. Fails when the tenant is not declared
    /// or a task's memory limit is above its ceiling.
    pub fn with_tenant(mut self, name: &str) -> anyhow::Result<WasmTasks> {
        let Some(tenant) = self.tenants.get(name).cloned() else {
            let declared: Vec<String> = self.tenants.keys().map(|n| format!("{n:?}")).collect();
            anyhow::bail!(
                "tenant {name:?} is not declared in {:?} (the tenants are {})",
                self.manifest_path,
                declared.join(", ")
            );
        };
        for (task, loaded) in &mut self.tasks {
            if let Some(why) = tenant.limits().refuses(&loaded.decl.limits) {
                anyhow::bail!("task {task:?} cannot run for tenant {name:?}: {why}");
            }
            loaded.tenant = tenant.clone();
        }
        Ok(self)
    }

    /// The tenant task `name` runs for.
    pub fn tenant_of(&self, name: &str) -> Option<&Tenant> {
        self.tasks.get(name).map(|t| t.tenant.as_ref())
    }

    /// A tenant by name: a declared one, or the default tenant.
    pub fn tenant(&self, name: &str) -> Option<&Tenant> {
        self.tenants.get(name).map(Arc::as_ref)
    }

    /// The sandbox the tasks run in.
    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The declared task names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tasks.keys().map(String::as_str)
    }

    /// The declaration and compiled component of task `name`.
    pub fn task(&self, name: &str) -> Option<(&TaskDecl, &TaskComponent)> {
        self.tasks.get(name).map(|t| (&t.decl, &t.component))
    }

    /// The task a `Resource` names, or a message saying what would be valid.
    pub fn resolve(&self, resource: &str) -> Result<&str, String> {
        let Some(name) = task_name(resource) else {
            return Err(format!(
                "resource {resource:?} is not supported: use \"wasm:NAME\" or a Lambda function ARN \
                 (arn:aws:lambda:REGION:ACCOUNT:function:NAME) naming a task declared in {:?}",
                self.manifest_path
            ));
        };
        if let Some((known, _)) = self.tasks.get_key_value(name) {
            return Ok(known);
        }
        let mut message = format!("resource {resource:?} names the unknown task {name:?}");
        if let Some(near) = nearest(name, self.names()) {
            message.push_str(&format!(": did you mean {near:?}?"));
        }
        if self.tasks.is_empty() {
            message.push_str(&format!("; {:?} declares no tasks", self.manifest_path));
        } else {
            let known: Vec<String> = self.names().map(|n| format!("{n:?}")).collect();
            message.push_str(&format!(
                "; the tasks declared in {:?} are {}",
                self.manifest_path,
                known.join(", ")
            ));
        }
        Err(message)
    }

    /// Runs one call and returns everything it produced (captured output,
    /// logs, fuel), for callers that want more than the result.
    pub async fn run(&self, call: &TaskCall<'_>) -> Outcome {
        let found = self.resolve(call.resource).and_then(|name| {
            self.tasks
                .get_key_value(name)
                .ok_or_else(|| name.to_owned())
        });
        let (name, task) = match found {
            Ok((name, task)) => (name.as_str(), task),
            Err(why) => return failed_before_start(AslError::new(names::TASK_FAILED, why)),
        };
        let input = match serde_json::to_string(call.input) {
            Ok(input) => input,
            Err(e) => {
                return failed_before_start(AslError::new(
                    names::TASK_FAILED,
                    format!("task {name:?}: cannot serialize the input: {e}"),
                ));
            }
        };
        let outcome = self
            .sandbox
            .run_in(
                &task.tenant,
                &task.component,
                &task.decl.limits,
                &task.decl.grants,
                Invocation {
                    task: name,
                    input: &input,
                    execution_id: call.execution_id,
                    state_name: call.state_name,
                    retry_count: call.retry_count,
                    timeout: call.timeout,
                    concurrent: call.concurrent,
                    output_limit: Some(call.payload_limit),
                },
            )
            .await;
        tracing::debug!(
            target: "sandstep::task",
            task = name,
            tenant = task.tenant.name(),
            execution = call.execution_id,
            state = call.state_name,
            elapsed_us = outcome.elapsed.as_micros() as u64,
            fuel = outcome.fuel_consumed,
            peak_memory = outcome.peak_memory_bytes,
            stdout_bytes = outcome.stdout.written,
            stdout_dropped = outcome.stdout.dropped,
            stderr_bytes = outcome.stderr.written,
            stderr_dropped = outcome.stderr.dropped,
            logs_dropped = outcome.logs_dropped,
            "task call ended"
        );
        for (stream, captured) in [("stdout", &outcome.stdout), ("stderr", &outcome.stderr)] {
            if !captured.text.is_empty() {
                // Bounded by the capture; escaped so it cannot forge log lines.
                let text = crate::sandbox::escape_for_log(&captured.text, usize::MAX);
                tracing::debug!(target: "sandstep::task", task = name, stream, "{text}");
            }
        }
        outcome
    }
}

fn failed_before_start(error: AslError) -> Outcome {
    Outcome {
        result: Err(error),
        stdout: Default::default(),
        stderr: Default::default(),
        logs: Vec::new(),
        logs_dropped: 0,
        fuel_consumed: None,
        peak_memory_bytes: None,
        elapsed: Default::default(),
        queued: Default::default(),
    }
}

impl TaskRunner for WasmTasks {
    fn check_resource(&self, resource: &str) -> Result<(), String> {
        self.resolve(resource).map(|_| ())
    }

    fn invoke<'a>(&'a self, call: TaskCall<'a>) -> TaskFuture<'a> {
        Box::pin(async move {
            let outcome = self.run(&call).await;
            let tenant = self
                .resolve(call.resource)
                .ok()
                .and_then(|name| self.tasks.get(name))
                .map(|task| Arc::from(task.tenant.name()));
            let logs = outcome
                .logs
                .into_iter()
                .map(|line| TaskLog {
                    level: line.level.as_str(),
                    message: line.message,
                })
                .collect();
            TaskOutcome {
                result: outcome.result,
                usage: Some(Usage {
                    fuel_consumed: outcome.fuel_consumed,
                    peak_memory_bytes: outcome.peak_memory_bytes,
                    queue_wait_micros: u64::try_from(outcome.queued.as_micros()).ok(),
                }),
                tenant,
                logs,
            }
        })
    }
}

/// Loads the manifest at `path` and compiles its tasks in the process's
/// shared sandbox ([`shared_sandbox`]).
pub fn load_runner(path: &Path) -> anyhow::Result<Arc<dyn TaskRunner>> {
    load_runner_for(path, None)
}

/// [`load_runner`], with every task run for `tenant` when one is given
/// (`host serve --credentials`: a tenant's executions run under its quotas).
pub fn load_runner_for(path: &Path, tenant: Option<&str>) -> anyhow::Result<Arc<dyn TaskRunner>> {
    let manifest = Manifest::load(path)?;
    let mut tasks = WasmTasks::load(&manifest, &shared_sandbox()?)?;
    if let Some(tenant) = tenant {
        tasks = tasks.with_tenant(tenant)?;
    }
    let buckets = crate::objects::config::open_all(manifest.buckets())?;
    Ok(Arc::new(crate::objects::s3_tasks::S3Tasks::new(
        Arc::new(LambdaInvoke::new(Arc::new(tasks))),
        buckets,
    )))
}

/// The process's one sandbox, with [`SandboxConfig::default`] settings,
/// created on first use: one engine, one compiled copy of
/// each component per process.
pub fn shared_sandbox() -> anyhow::Result<Sandbox> {
    static SHARED: OnceLock<Sandbox> = OnceLock::new();
    if let Some(sandbox) = SHARED.get() {
        return Ok(sandbox.clone());
    }
    let sandbox = Sandbox::new(&SandboxConfig::default())?;
    Ok(SHARED.get_or_init(|| sandbox).clone())
}

/// The task name in `wasm:NAME` or a Lambda function ARN.
fn task_name(resource: &str) -> Option<&str> {
    if let Some(name) = resource.strip_prefix("wasm:") {
        return Some(name);
    }
    let parts: Vec<&str> = resource.split(':').collect();
    match parts.as_slice() {
        [
            "arn",
            partition,
            "lambda",
            _region,
            _account,
            "function",
            name,
            rest @ ..,
        ] if partition.starts_with("aws") && rest.len() <= 1 && !name.is_empty() => Some(name),
        _ => None,
    }
}

/// The candidate closest to `name`, when it is close enough to be a typo.
fn nearest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|&(d, c)| d <= (c.chars().count().max(name.chars().count()) / 3).max(1))
        .min()
        .map(|(_, c)| c)
}

/// Levenshtein distance, counting a swap of neighbours as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // d[i][j]: distance between a[..i] and b[..j].
    let mut d = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_name_tasks() {
        assert_eq!(task_name("wasm:enrich"), Some("enrich"));
        assert_eq!(
            task_name("arn:aws:lambda:eu-west-1:123456789012:function:enrich"),
            Some("enrich")
        );
        assert_eq!(
            task_name("arn:aws:lambda:us-east-1:123456789012:function:enrich:prod"),
            Some("enrich")
        );
        assert_eq!(
            task_name("arn:aws-cn:lambda:cn-north-1:123456789012:function:enrich:7"),
            Some("enrich")
        );
        assert_eq!(task_name("arn:aws:states:::lambda:invoke"), None);
        assert_eq!(task_name("arn:aws:lambda:r:a:function:x:y:z"), None);
        assert_eq!(task_name("enrich"), None);
    }

    #[test]
    fn typos_find_their_task() {
        let names = ["enrich", "load", "validate"];
        assert_eq!(nearest("enrch", names.into_iter()), Some("enrich"));
        assert_eq!(nearest("valdiate", names.into_iter()), Some("validate"));
        assert_eq!(nearest("zzz", names.into_iter()), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("ecoh", "echo"), 1);
        assert_eq!(nearest("ecoh", ["echo", "load"].into_iter()), Some("echo"));
    }
}
