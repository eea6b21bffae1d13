//! Tenants: who a call runs for, and what that tenant may hold at once.
//! Owns admission (at most N running calls, a ceiling on the sum of their
//! memory limits, both waited for in FIFO order), the fuel budget shared
//! by one execution's calls, and the tenant's budget of host descriptors
//! (`handles.rs`) that its running calls draw from. Declaring tenants is the manifest's
//! business (`resources/`); enforcing the budget inside a running call is
//! the call path's (`mod.rs`), through [`FuelMeter`].
//!
//! Fairness between tenants comes from two things: a tenant's calls queue
//! only behind that tenant's own calls (its concurrency cap keeps it from
//! filling the sandbox's instance slots), and every running call yields at
//! the end of each time slice (`slices.rs`), so a newly admitted call of
//! another tenant waits about one slice per running call per core before
//! it gets a thread.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::handles::{Pool, Scope};
use super::limits::{Limits, mib};
use crate::errors::{AslError, names};

/// The tenant of a task that names none (and of every task when no
/// `--tenant` is given). Unlimited unless the manifest declares it.
pub const DEFAULT_TENANT: &str = "default";
/// A declared tenant's running calls at once, unless it says otherwise.
pub const DEFAULT_MAX_CONCURRENT_TASKS: u32 = 8;
/// A declared tenant's memory ceiling, unless it says otherwise: room for
/// [`DEFAULT_MAX_CONCURRENT_TASKS`] calls at the default 256 MiB each.
pub const DEFAULT_MEMORY_CEILING_BYTES: u64 = 2 << 30;
/// A declared tenant's host descriptors across its running calls, unless it
/// says otherwise: [`DEFAULT_MAX_CONCURRENT_TASKS`] calls at half their own
/// bound each.
pub const DEFAULT_MAX_OPEN_FILES: u32 = 512;

/// What one tenant may hold at once. `None` is unbounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantLimits {
    /// Calls of this tenant running at once; more wait, first come first
    /// served. Default [`DEFAULT_MAX_CONCURRENT_TASKS`].
    pub max_concurrent_tasks: Option<u32>,
    /// The sum of the memory limits ([`Limits::memory_bytes`]) of this
    /// tenant's running calls stays at or under this; a call waits for room.
    /// A task whose own limit is larger can never run and is refused at
    /// load. Default [`DEFAULT_MEMORY_CEILING_BYTES`].
    pub memory_ceiling_bytes: Option<u64>,
    /// Fuel all the calls of one execution may burn together. Each call
    /// gets the smaller of its own fuel and what is left; running out ends
    /// the call with `States.Timeout`. Default: none (each call's own fuel
    /// still applies).
    pub fuel_per_execution: Option<u64>,
    /// Host descriptors (open files, directories, streams on files,
    /// sockets) this tenant's running calls may hold together. The call
    /// that would pass it ends with `Sandbox.ResourceLimitExceeded`, so one
    /// tenant holding files open cannot keep another's calls from starting.
    /// Default [`DEFAULT_MAX_OPEN_FILES`].
    pub max_open_files: Option<u32>,
}

impl Default for TenantLimits {
    /// The limits of a declared tenant that sets none.
    fn default() -> Self {
        TenantLimits {
            max_concurrent_tasks: Some(DEFAULT_MAX_CONCURRENT_TASKS),
            memory_ceiling_bytes: Some(DEFAULT_MEMORY_CEILING_BYTES),
            fuel_per_execution: None,
            max_open_files: Some(DEFAULT_MAX_OPEN_FILES),
        }
    }
}

impl TenantLimits {
    /// No tenant bound at all: the undeclared default tenant.
    pub const UNLIMITED: TenantLimits = TenantLimits {
        max_concurrent_tasks: None,
        memory_ceiling_bytes: None,
        fuel_per_execution: None,
        max_open_files: None,
    };

    /// Why a task with `limits` can never run under these limits, if so.
    pub fn refuses(&self, limits: &Limits) -> Option<String> {
        let ceiling = self.memory_ceiling_bytes?;
        (limits.memory_bytes > ceiling).then(|| {
            format!(
                "its memory limit of {} is above the tenant's memory_ceiling of {}, so it could never start \
                 (lower the task's memory_mib or raise the tenant's memory_ceiling)",
                mib(limits.memory_bytes),
                mib(ceiling)
            )
        })
    }
}

/// One tenant's admission queues and the fuel left to its executions.
#[derive(Debug)]
pub struct Tenant {
    name: String,
    limits: TenantLimits,
    running: Option<Arc<Semaphore>>,
    /// Permits are KiB of memory limit, so a 4 GiB limit fits a `u32`.
    memory: Option<Arc<Semaphore>>,
    open_files: Option<Arc<Pool>>,
    executions: Mutex<HashMap<String, Arc<ExecutionFuel>>>,
}

/// What an admitted call holds until it ends: its place among the
/// tenant's running calls, its share of the memory ceiling, and the
/// execution's fuel budget.
#[derive(Debug)]
pub struct Admission {
    _running: Option<OwnedSemaphorePermit>,
    _memory: Option<OwnedSemaphorePermit>,
    fuel: Option<Arc<ExecutionFuel>>,
    open_files: Option<Arc<Pool>>,
}

impl Admission {
    /// No tenant at all: what [`super::Sandbox::run`] uses.
    pub(crate) fn none() -> Admission {
        Admission {
            _running: None,
            _memory: None,
            fuel: None,
            open_files: None,
        }
    }

    /// The tenant's descriptor budget, when it has one.
    pub(crate) fn open_files(&self) -> Option<&Arc<Pool>> {
        self.open_files.as_ref()
    }

    /// The execution's fuel budget, when the tenant has one.
    pub fn execution_fuel(&self) -> Option<&Arc<ExecutionFuel>> {
        self.fuel.as_ref()
    }
}

impl Tenant {
    pub fn new(name: impl Into<String>, limits: TenantLimits) -> Tenant {
        let name: String = name.into();
        let semaphore = |n: usize| Arc::new(Semaphore::new(n.min(Semaphore::MAX_PERMITS)));
        Tenant {
            name: name.clone(),
            running: limits
                .max_concurrent_tasks
                .map(|n| semaphore(n.max(1) as usize)),
            memory: limits
                .memory_ceiling_bytes
                .map(|bytes| semaphore(usize::try_from(bytes / 1024).unwrap_or(usize::MAX))),
            open_files: limits
                .max_open_files
                .map(|n| Pool::new(Scope::Tenant(name.clone()), n)),
            limits,
            executions: Mutex::default(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn limits(&self) -> &TenantLimits {
        &self.limits
    }

    /// Waits, in the order calls arrived, until a call of task `task` with
    /// `limits` may run for execution `execution_id`. Fails only when the
    /// call can never run here (its memory limit is above the ceiling, which
    /// loading normally refuses) or the execution's fuel is already spent.
    pub async fn admit(
        &self,
        task: &str,
        limits: &Limits,
        execution_id: &str,
    ) -> Result<Admission, AslError> {
        if let Some(why) = self.limits.refuses(limits) {
            return Err(AslError::new(
                names::TASK_FAILED,
                format!("task {task:?} cannot run for tenant {:?}: {why}", self.name),
            ));
        }
        let fuel = self.limits.fuel_per_execution.map(|budget| {
            let mut executions = self
                .executions
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            executions
                .entry(execution_id.to_owned())
                .or_insert_with(|| {
                    Arc::new(ExecutionFuel {
                        tenant: self.name.clone(),
                        execution_id: execution_id.to_owned(),
                        budget,
                        used: AtomicU64::new(0),
                    })
                })
                .clone()
        });
        if let Some(fuel) = &fuel
            && fuel.left() == 0
        {
            return Err(fuel.exhausted(task));
        }
        let running = match &self.running {
            Some(slots) => Some(
                slots
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("a tenant's semaphores are never closed"),
            ),
            None => None,
        };
        let memory = match &self.memory {
            Some(room) => {
                // `refuses` checked the limit fits the ceiling, so it fits a u32 of KiB.
                let kib = u32::try_from(limits.memory_bytes.div_ceil(1024)).unwrap_or(u32::MAX);
                Some(
                    room.clone()
                        .acquire_many_owned(kib)
                        .await
                        .expect("a tenant's semaphores are never closed"),
                )
            }
            None => None,
        };
        Ok(Admission {
            _running: running,
            _memory: memory,
            fuel,
            open_files: self.open_files.clone(),
        })
    }

    /// Forgets what execution `execution_id` has burnt, once it has ended.
    /// Until then a tenant keeps one small entry per execution it ran.
    pub fn forget_execution(&self, execution_id: &str) {
        self.executions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(execution_id);
    }

    /// Host descriptors the tenant's running calls hold now, when it has a
    /// budget for them.
    pub fn open_files_held(&self) -> Option<u32> {
        self.open_files.as_ref().map(|pool| pool.held())
    }

    /// Fuel burnt so far by the calls of `execution_id`, when the tenant
    /// has a per-execution budget.
    pub fn execution_fuel_used(&self, execution_id: &str) -> Option<u64> {
        self.executions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(execution_id)
            .map(|fuel| fuel.used())
    }
}

/// The fuel one execution's calls share under a tenant's budget.
#[derive(Debug)]
pub struct ExecutionFuel {
    tenant: String,
    execution_id: String,
    budget: u64,
    used: AtomicU64,
}

impl ExecutionFuel {
    pub fn budget(&self) -> u64 {
        self.budget
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    /// What the execution's calls may still burn.
    pub fn left(&self) -> u64 {
        self.budget.saturating_sub(self.used())
    }

    fn charge(&self, units: u64) {
        if units > 0 {
            self.used.fetch_add(units, Ordering::AcqRel);
        }
    }

    /// The error of a call of `task` stopped because the budget is spent.
    pub fn exhausted(&self, task: &str) -> AslError {
        AslError::new(
            names::TIMEOUT,
            format!(
                "task {task:?} stopped: execution {:?} used its whole fuel budget of {} units \
                 (tenant {:?}; raise `fuel_per_execution` for the tenant in sandstep.toml)",
                self.execution_id, self.budget, self.tenant
            ),
        )
    }
}

/// Charges one call's fuel to its execution's budget as it burns it: at
/// the end of every time slice and once more at the end of the call.
#[derive(Debug)]
pub(crate) struct FuelMeter {
    pool: Arc<ExecutionFuel>,
    /// The store's fuel at the last sync.
    last: AtomicU64,
    /// What the call has burnt so far.
    burnt: AtomicU64,
}

impl FuelMeter {
    /// A meter for a store given `start` units.
    pub fn new(pool: Arc<ExecutionFuel>, start: u64) -> FuelMeter {
        FuelMeter {
            pool,
            last: AtomicU64::new(start),
            burnt: AtomicU64::new(0),
        }
    }

    pub fn pool(&self) -> &ExecutionFuel {
        &self.pool
    }

    /// Charges what the call burnt since the last sync, given the fuel its
    /// store has left, and returns what the execution has left.
    pub fn sync(&self, store_left: u64) -> u64 {
        let before = self.last.swap(store_left, Ordering::AcqRel);
        let burnt = before.saturating_sub(store_left);
        self.burnt.fetch_add(burnt, Ordering::AcqRel);
        self.pool.charge(burnt);
        self.pool.left()
    }

    /// What the call has burnt, as of the last sync.
    pub fn burnt(&self) -> u64 {
        self.burnt.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits(memory_mib: u64) -> Limits {
        Limits {
            memory_bytes: memory_mib << 20,
            ..Limits::default()
        }
    }

    #[tokio::test]
    async fn calls_past_the_cap_wait_in_arrival_order() {
        let tenant = Arc::new(Tenant::new(
            "a",
            TenantLimits {
                max_concurrent_tasks: Some(2),
                ..TenantLimits::UNLIMITED
            },
        ));
        let first = tenant.admit("t", &limits(1), "e").await.expect("admitted");
        let _second = tenant.admit("t", &limits(1), "e").await.expect("admitted");
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for i in 0..3 {
            let (tenant, order) = (tenant.clone(), order.clone());
            waiting.push(tokio::spawn(async move {
                let admission = tenant.admit("t", &limits(1), "e").await.expect("admitted");
                order.lock().expect("not poisoned").push(i);
                drop(admission);
            }));
            // Let each queue up before the next arrives.
            tokio::task::yield_now().await;
        }
        assert!(order.lock().expect("not poisoned").is_empty(), "all wait");
        drop(first);
        for handle in waiting {
            handle.await.expect("joined");
        }
        assert_eq!(*order.lock().expect("not poisoned"), vec![0, 1, 2]);
    }

    #[tokio::test]
    async fn the_memory_ceiling_bounds_the_sum_of_running_limits() {
        let tenant = Tenant::new(
            "a",
            TenantLimits {
                memory_ceiling_bytes: Some(100 << 20),
                ..TenantLimits::UNLIMITED
            },
        );
        let big = tenant.admit("t", &limits(64), "e").await.expect("fits");
        let blocked = tokio::time::timeout(
            Duration::from_millis(50),
            tenant.admit("t", &limits(64), "e"),
        )
        .await;
        assert!(blocked.is_err(), "64 + 64 MiB is over a 100 MiB ceiling");
        let small = tenant.admit("t", &limits(32), "e").await.expect("fits");
        drop((big, small));
        tenant
            .admit("t", &limits(64), "e")
            .await
            .expect("room again");
        let refused = tenant
            .admit("t", &limits(200), "e")
            .await
            .expect_err("never fits");
        assert!(
            refused.cause.contains("memory_ceiling of 100 MiB"),
            "{refused}"
        );
    }

    #[tokio::test]
    async fn an_execution_shares_its_fuel_budget_and_others_do_not() {
        let tenant = Tenant::new(
            "a",
            TenantLimits {
                fuel_per_execution: Some(1_000),
                ..TenantLimits::UNLIMITED
            },
        );
        let one = tenant
            .admit("t", &Limits::default(), "e1")
            .await
            .expect("admitted");
        let pool = one.execution_fuel().expect("budgeted").clone();
        let meter = FuelMeter::new(pool.clone(), 1_000);
        assert_eq!(meter.sync(700), 700, "300 burnt");
        assert_eq!(meter.sync(700), 700, "nothing more");
        assert_eq!(meter.sync(200), 200, "500 more burnt");
        assert_eq!(meter.burnt(), 800);
        assert_eq!(meter.sync(200), 200, "nothing more");
        assert_eq!(meter.sync(300), 200, "a store never gains fuel back");
        FuelMeter::new(pool.clone(), 200).sync(0);
        let spent = tenant
            .admit("t", &Limits::default(), "e1")
            .await
            .expect_err("nothing left");
        assert_eq!(spent.error, names::TIMEOUT);
        assert!(spent.cause.contains("fuel budget of 1000"), "{spent}");
        let other = tenant
            .admit("t", &Limits::default(), "e2")
            .await
            .expect("admitted");
        assert_eq!(other.execution_fuel().map(|f| f.left()), Some(1_000));
        assert_eq!(tenant.execution_fuel_used("e1"), Some(1_000));
        tenant.forget_execution("e1");
        assert_eq!(tenant.execution_fuel_used("e1"), None);
    }
}
