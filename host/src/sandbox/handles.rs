//! Budgets on what a guest's handles hold on the host: open descriptors
//! (files, directories, file streams and sockets each keep a host file
//! descriptor alive), directory listings (wasmtime-wasi reads a whole
//! directory into host memory when the guest opens a listing) and sockets.
//!
//! Three scopes draw from the same ticket: the call (its own bound, so one
//! call cannot hold more than its share), its tenant (the sum over the
//! tenant's running calls, so one tenant cannot starve the others) and the
//! sandbox (the sum over every call, a fraction of the process's open-file
//! limit, so the host keeps descriptors for itself and for starting calls).
//! A handle past any of them ends the call with
//! `Sandbox.ResourceLimitExceeded`, naming the bound; the trap also closes
//! everything the call held. Every handle of any kind (pollables, streams,
//! lookups) is also bounded by the call's resource table
//! ([`DEFAULT_CALL_HANDLES`] entries).
//!
//! A [`Ticket`] is one held handle: dropping it gives the handle back to
//! every scope. Descriptors and listings give theirs back when the guest
//! drops them; streams on a file carry theirs inside the stream; sockets
//! keep theirs until the call ends (their drop is wasmtime-wasi's), so a
//! call creates at most [`DEFAULT_CALL_SOCKETS`] sockets in all.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;
use wasmtime_wasi::p2::{InputStream, OutputStream, Pollable, StreamResult};

/// Descriptors (files, directories, streams on files, sockets) one call may
/// hold open at once, besides its granted directories.
pub const DEFAULT_CALL_DESCRIPTORS: u32 = 128;
/// Directory listings one call may hold at once.
pub const DEFAULT_CALL_LISTINGS: u32 = 16;
/// Sockets one call may create in all.
pub const DEFAULT_CALL_SOCKETS: u32 = 64;
/// Entries in one call's resource table: every handle of every kind.
pub const DEFAULT_CALL_HANDLES: usize = 4096;

/// What a handle holds on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandleKind {
    Descriptor,
    Listing,
    Socket,
}

impl HandleKind {
    fn noun(self) -> &'static str {
        match self {
            HandleKind::Descriptor => "open descriptors (files, directories, streams, sockets)",
            HandleKind::Listing => "directory listings",
            HandleKind::Socket => "sockets",
        }
    }
}

/// Whose bound a pool is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    Call,
    Tenant(String),
    Sandbox,
}

/// A bounded count of held handles, shared by everyone who draws from it.
#[derive(Debug)]
pub(crate) struct Pool {
    scope: Scope,
    cap: u32,
    held: AtomicU32,
}

impl Pool {
    pub fn new(scope: Scope, cap: u32) -> Arc<Pool> {
        Arc::new(Pool {
            scope,
            cap,
            held: AtomicU32::new(0),
        })
    }

    /// Handles held from this pool now.
    pub fn held(&self) -> u32 {
        self.held.load(Ordering::Acquire)
    }

    fn take(&self) -> bool {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held < self.cap).then_some(held + 1)
            })
            .is_ok()
    }

    fn give_back(&self) {
        let _ = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_sub(1)
            });
    }
}

/// Raised (as the trap that ends the call) when a handle would pass a bound.
#[derive(Debug)]
pub(crate) struct HandleLimitHit {
    pub kind: HandleKind,
    pub scope: Scope,
    pub cap: u32,
}

impl fmt::Display for HandleLimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind.noun();
        match &self.scope {
            Scope::Call => write!(
                f,
                "it tried to hold more than {} {kind} at once, the most one call may \
                 (close what it no longer needs)",
                self.cap
            ),
            Scope::Tenant(name) => write!(
                f,
                "its tenant {name:?} already holds {} {kind} across its running calls, \
                 its max_open_files (raise it under [tenants.{name}] in sandstep.toml)",
                self.cap
            ),
            Scope::Sandbox => write!(
                f,
                "the host already holds {} {kind} for all running calls, the sandbox's \
                 share of the process's open-file limit (raise `ulimit -n`)",
                self.cap
            ),
        }
    }
}

impl std::error::Error for HandleLimitHit {}

/// One held handle; dropping it gives it back to every pool it came from.
#[derive(Debug)]
pub(crate) struct Ticket {
    pools: Vec<Arc<Pool>>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        for pool in &self.pools {
            pool.give_back();
        }
    }
}

/// The pools one call draws from.
pub(crate) struct CallHandles {
    descriptors: Arc<Pool>,
    listings: Arc<Pool>,
    sockets: Arc<Pool>,
    /// The tenant's and the sandbox's descriptor pools, when bounded.
    shared: Vec<Arc<Pool>>,
}

impl Default for CallHandles {
    fn default() -> Self {
        CallHandles::new(
            DEFAULT_CALL_DESCRIPTORS,
            DEFAULT_CALL_LISTINGS,
            DEFAULT_CALL_SOCKETS,
            Vec::new(),
        )
    }
}

impl CallHandles {
    pub fn new(descriptors: u32, listings: u32, sockets: u32, shared: Vec<Arc<Pool>>) -> Self {
        CallHandles {
            descriptors: Pool::new(Scope::Call, descriptors),
            listings: Pool::new(Scope::Call, listings),
            sockets: Pool::new(Scope::Call, sockets),
            shared,
        }
    }

    /// Takes one handle of `kind` from every pool it counts against, or
    /// none when one of them is full.
    pub fn take(&self, kind: HandleKind) -> Result<Ticket, HandleLimitHit> {
        let mut ticket = Ticket { pools: Vec::new() };
        let own = match kind {
            HandleKind::Descriptor => &self.descriptors,
            HandleKind::Listing => &self.listings,
            HandleKind::Socket => &self.sockets,
        };
        let mut pools = vec![own];
        // A socket also holds a descriptor; a listing holds only memory.
        if kind == HandleKind::Socket {
            pools.push(&self.descriptors);
        }
        if kind != HandleKind::Listing {
            pools.extend(&self.shared);
        }
        for pool in pools {
            if !pool.take() {
                // `ticket` gives back what was taken so far.
                return Err(HandleLimitHit {
                    kind,
                    scope: pool.scope.clone(),
                    cap: pool.cap,
                });
            }
            ticket.pools.push(pool.clone());
        }
        Ok(ticket)
    }
}

/// An input stream on a file, holding its descriptor's ticket.
pub(crate) struct HeldInput {
    pub inner: Box<dyn InputStream>,
    pub _ticket: Ticket,
}

#[wasmtime_wasi::async_trait]
impl Pollable for HeldInput {
    async fn ready(&mut self) {
        self.inner.ready().await
    }
}

#[wasmtime_wasi::async_trait]
impl InputStream for HeldInput {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        self.inner.read(size)
    }

    fn skip(&mut self, nelem: usize) -> StreamResult<usize> {
        self.inner.skip(nelem)
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await
    }
}

/// An output stream on a file, holding its descriptor's ticket.
pub(crate) struct HeldOutput {
    pub inner: Box<dyn OutputStream>,
    pub _ticket: Ticket,
}

#[wasmtime_wasi::async_trait]
impl Pollable for HeldOutput {
    async fn ready(&mut self) {
        self.inner.ready().await
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for HeldOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.inner.write(bytes)
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.inner.flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.inner.check_write()
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await
    }
}

/// The open-file limit of this process (`RLIMIT_NOFILE`'s soft value), from
/// `/proc/self/limits`; 1024, the usual default, where that cannot be read.
pub(crate) fn process_open_file_limit() -> u32 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("Max open files"))?;
            let soft = line
                .trim_start_matches("Max open files")
                .split_whitespace()
                .next()?;
            match soft {
                "unlimited" => Some(u32::MAX),
                n => n.parse().ok(),
            }
        })
        .unwrap_or(1024)
}

/// The sandbox's default share of the open-file limit: half, so the host
/// keeps the rest for itself (its store, its listeners, the granted
/// directories each starting call opens).
pub fn default_max_open_files() -> u32 {
    (process_open_file_limit() / 2).max(64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_draws_from_every_scope_and_gives_back_when_dropped() {
        let tenant = Pool::new(Scope::Tenant("acme".into()), 3);
        let sandbox = Pool::new(Scope::Sandbox, 100);
        let call = CallHandles::new(2, 1, 5, vec![tenant.clone(), sandbox.clone()]);
        let a = call.take(HandleKind::Descriptor).expect("first");
        let b = call.take(HandleKind::Descriptor).expect("second");
        let hit = call
            .take(HandleKind::Descriptor)
            .expect_err("the call's bound");
        assert_eq!((hit.scope, hit.cap), (Scope::Call, 2));
        assert_eq!((tenant.held(), sandbox.held()), (2, 2), "nothing leaked");
        drop(a);
        assert_eq!((tenant.held(), sandbox.held()), (1, 1));
        let other = CallHandles::new(10, 1, 5, vec![tenant.clone(), sandbox.clone()]);
        let c = other
            .take(HandleKind::Descriptor)
            .expect("the tenant has room");
        let d = other.take(HandleKind::Descriptor).expect("its last");
        let hit = other
            .take(HandleKind::Descriptor)
            .expect_err("the tenant's bound");
        assert_eq!(hit.scope, Scope::Tenant("acme".into()));
        assert!(hit.to_string().contains("max_open_files"), "{hit}");
        let listing = call
            .take(HandleKind::Listing)
            .expect("memory, not a descriptor");
        assert!(call.take(HandleKind::Listing).is_err());
        drop((b, c, d, listing));
        assert_eq!((tenant.held(), sandbox.held()), (0, 0));
    }

    #[test]
    fn a_socket_also_counts_as_a_descriptor() {
        let call = CallHandles::new(1, 1, 5, Vec::new());
        let _socket = call.take(HandleKind::Socket).expect("one");
        let hit = call
            .take(HandleKind::Descriptor)
            .expect_err("the socket holds it");
        assert_eq!(hit.kind, HandleKind::Descriptor);
    }

    #[test]
    fn the_open_file_limit_is_read() {
        assert!(process_open_file_limit() >= 64);
        assert!(default_max_open_files() >= 64);
    }
}
