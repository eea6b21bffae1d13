//! The host side of the `task` world (wit/task.wit): the generated
//! bindings, the state each call's `Store` carries, and one file per
//! imported interface (`log.rs`). WASI itself comes from wasmtime-wasi;
//! which of it a task may use is decided by the `WasiCtx` built per call.

pub(crate) mod log;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

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
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    Task::add_to_linker::<CallState, HasSelf<CallState>>(linker, |state| state)?;
    Ok(())
}
