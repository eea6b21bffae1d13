//! The host side of the `task` world (wit/task.wit): the generated
//! bindings, the state each call's `Store` carries, and one file per
//! imported interface (`log.rs`). WASI itself comes from wasmtime-wasi;
//! which of it a task may use is decided by the `WasiCtx` built per call,
//! and two of its interfaces are wrapped to enforce what a `WasiCtx`
//! cannot: `filesystem.rs` (write quotas, handle budgets, refusals),
//! `ip_name_lookup.rs` (which names a task may resolve) and
//! `tcp_create_socket.rs` (sockets counted against the handle budgets).

pub(crate) mod filesystem;
pub(crate) mod ip_name_lookup;
pub(crate) mod log;
pub(crate) mod tcp_create_socket;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::grants::CallGrants;
use super::limits::MemoryLimiter;

wasmtime::component::bindgen!({
    path: "../wit",
    world: "task",
    exports: { default: async },
});

pub(crate) use sandstep::task::types::Context as WitContext;

/// Everything one call's `Store` owns; dropped with the store when the call ends.
pub(crate) struct CallState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub limiter: MemoryLimiter,
    pub log: log::LogSink,
    /// Write quotas, the network allow-list and secret redaction.
    pub grants: CallGrants,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl sandstep::task::types::Host for CallState {}

/// Adds everything a task may import: WASI preview 2 (denied by default
/// through the per-call `WasiCtx`) and Sandstep's `log`.
pub(crate) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    use wasmtime_wasi::p2::bindings::{filesystem as fs, sockets};
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    // Replace four of wasmtime-wasi's interfaces with wrappers that delegate
    // to it and enforce quotas, handle budgets and the network allow-list.
    linker.allow_shadowing(true);
    fs::types::add_to_linker::<CallState, filesystem::QuotaFs>(linker, filesystem::view)?;
    fs::preopens::add_to_linker::<CallState, filesystem::QuotaFs>(linker, filesystem::view)?;
    sockets::ip_name_lookup::add_to_linker::<CallState, ip_name_lookup::GatedLookup>(
        linker,
        ip_name_lookup::view,
    )?;
    sockets::tcp_create_socket::add_to_linker::<CallState, tcp_create_socket::CountedSockets>(
        linker,
        tcp_create_socket::view,
    )?;
    linker.allow_shadowing(false);
    Task::add_to_linker::<CallState, HasSelf<CallState>>(linker, |state| state)?;
    Ok(())
}
