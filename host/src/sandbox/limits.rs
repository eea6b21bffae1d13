//! The bounds on one task call: fuel, wall-clock deadline, memory. Owns the
//! [`Limits`] a task is given and the `ResourceLimiter` that enforces the
//! memory bound; turning a hit bound into an ASL error is `fault.rs`'s job.

use std::fmt;
use std::time::Duration;

/// The default fuel budget: 20 billion units (about one per wasm
/// instruction), 1–2 seconds of guest CPU on the benchmark machine: W4's
/// filter burns about 10 units a nanosecond, a tight loop about 20.
pub const DEFAULT_FUEL: u64 = 20_000_000_000;
/// The default memory limit: 256 MiB across all linear memories of a call.
pub const DEFAULT_MEMORY_BYTES: u64 = 256 << 20;
/// The default wall-clock deadline when neither the state's `TimeoutSeconds`
/// nor the task's `timeout_seconds` sets one: 60 seconds, as AWS's default
/// for a Lambda-backed Task.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// What one task call may consume. All three bounds apply together; the
/// first one reached ends the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// CPU budget in wasmtime fuel units (about one per wasm instruction).
    /// Deterministic: the same input stops at the same point on any
    /// machine. `None` runs unmetered, bounded only by the deadline. Hitting
    /// it ends the call with `States.Timeout`, naming the budget.
    /// Default [`DEFAULT_FUEL`].
    pub fuel: Option<u64>,
    /// Bytes of linear memory the call may hold, summed over all its
    /// memories (including what the component starts with). A
    /// `memory.grow` past it ends the call with
    /// `Sandbox.MemoryLimitExceeded`. Default [`DEFAULT_MEMORY_BYTES`].
    pub memory_bytes: u64,
    /// Wall-clock deadline, used when the state has no `TimeoutSeconds`.
    /// Measured from the start of instantiation; covers time spent in host
    /// calls (a blocking sleep) as well as guest code. Checked at the end
    /// of every time slice (about a millisecond of guest CPU; see
    /// `SandboxConfig::slice_fuel`) and whenever a host call waits.
    /// Hitting it ends the call with `States.Timeout`. Default
    /// [`DEFAULT_TIMEOUT`].
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: Some(DEFAULT_FUEL),
            memory_bytes: DEFAULT_MEMORY_BYTES,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// Raised from inside `memory.grow` when a call asks for more memory than
/// its limit; travels as the root cause of the trap.
#[derive(Debug)]
pub(crate) struct MemoryLimitHit {
    pub limit: u64,
    pub requested: u64,
}

impl fmt::Display for MemoryLimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the guest asked to grow its linear memory to {} bytes, past the limit of {} bytes",
            self.requested, self.limit
        )
    }
}

impl std::error::Error for MemoryLimitHit {}

/// Counts the memory of one store and refuses growth past the limit.
///
/// Refusing with an error (rather than letting `memory.grow` return -1)
/// ends the call at once with a precise cause, instead of leaving it to the
/// guest's allocator to abort with a generic trap.
pub(crate) struct MemoryLimiter {
    limit: u64,
    used: u64,
}

/// Tables are bounded by element count; 1M entries is far beyond what
/// compiled Rust, C or Go needs and keeps a hostile `table.grow` small.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl MemoryLimiter {
    pub fn new(limit: u64) -> Self {
        MemoryLimiter { limit, used: 0 }
    }

    /// The most linear memory the call has held, in bytes. Wasm memories
    /// never shrink, so what is held now is the peak.
    pub fn peak_bytes(&self) -> u64 {
        self.used
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let growth = (desired as u64).saturating_sub(current as u64);
        let requested = self.used.saturating_add(growth);
        if requested > self.limit {
            return Err(wasmtime::Error::new(MemoryLimitHit {
                limit: self.limit,
                requested,
            }));
        }
        self.used = requested;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        // The guest sees -1 from `memory.grow` (the allocation fails in the
        // guest); this happens only past the engine's own per-memory cap.
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// `16 MiB`, `1.5 MiB`, `512 KiB`: sizes as a user would write them.
pub(crate) fn mib(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        let whole = bytes >> 20;
        let tenths = ((bytes & ((1 << 20) - 1)) * 10) >> 20;
        if tenths == 0 {
            format!("{whole} MiB")
        } else {
            format!("{whole}.{tenths} MiB")
        }
    } else {
        format!("{} KiB", bytes.div_ceil(1024))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    #[test]
    fn memory_is_summed_across_growths_and_refused_past_the_limit() {
        let mut limiter = MemoryLimiter::new(4 << 20);
        assert!(limiter.memory_growing(0, 2 << 20, None).is_ok());
        assert!(limiter.memory_growing(2 << 20, 4 << 20, None).is_ok());
        let err = limiter
            .memory_growing(4 << 20, (4 << 20) + 65536, None)
            .expect_err("growth past the limit is refused");
        let hit = err
            .downcast_ref::<MemoryLimitHit>()
            .expect("the error is the limit hit");
        assert_eq!(hit.requested, (4 << 20) + 65536);
        assert_eq!(
            limiter.peak_bytes(),
            4 << 20,
            "a refused growth is not counted"
        );
    }

    #[test]
    fn the_peak_sums_every_memory_of_the_call() {
        let mut limiter = MemoryLimiter::new(64 << 20);
        assert_eq!(limiter.peak_bytes(), 0);
        assert!(limiter.memory_growing(0, 1 << 20, None).is_ok());
        assert!(limiter.memory_growing(0, 2 << 20, None).is_ok());
        assert!(limiter.memory_growing(2 << 20, 3 << 20, None).is_ok());
        assert_eq!(limiter.peak_bytes(), 4 << 20);
    }

    #[test]
    fn sizes_read_like_a_user_wrote_them() {
        assert_eq!(mib(16 << 20), "16 MiB");
        assert_eq!(mib(3 << 19), "1.5 MiB");
        assert_eq!(mib(1000), "1 KiB");
    }
}
