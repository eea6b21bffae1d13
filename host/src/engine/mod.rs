//! Executions: the state interpreter, input/output processing, Retry/Catch,
//! Parallel and Map, Wait on a clock, the context object, history events.
//!
//! **Invariant:** the engine reaches tasks only through [`TaskRunner`].

mod task;
pub use task::{TaskCall, TaskFuture, TaskRunner};
