//! Write Sandstep tasks in Rust.
//!
//! A task is a WebAssembly component that a Task state of an Amazon States Language pipeline
//! runs. This crate turns an ordinary function over serde types into such a component:
//!
//! ```no_run
//! # fn main() {}
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize)]
//! struct Order { id: String, amount_cents: u64 }
//!
//! #[derive(Serialize)]
//! struct Checked { id: String, large: bool }
//!
//! #[sandstep::task]
//! fn run(order: Order, ctx: &sandstep::Context) -> Result<Checked, sandstep::Error> {
//!     sandstep::log::info!("checking {} (attempt {})", order.id, ctx.retry_count);
//!     Ok(Checked { large: order.amount_cents > 100_000, id: order.id })
//! }
//! ```
//!
//! Built as a `cdylib` with `cargo build --release --target wasm32-wasip2`, the crate is a
//! component of the `sandstep:task/task` world (`wit/task.wit`); the guide in this crate's
//! README.md walks from `cargo new --lib` to a run with `host run`.
//!
//! What the crate owns: decoding the state's input into the function's parameter, encoding its
//! result, mapping failures to the `task-error` the host turns into the state's ASL error, and
//! logging through the host. What it deliberately does not do: it knows nothing of the host's
//! internals, and offers no wrappers over WASI; files, clocks and environment variables are
//! reached through `std` as usual, limited to what the task's manifest entry grants.

#![deny(missing_docs)]

// Lets the generated bindings and the macros name this crate as `::sandstep` from inside it too.
extern crate self as sandstep;

mod context;
mod error;
pub mod log;

#[doc(hidden)]
pub mod __private;

pub use context::Context;
pub use error::Error;

/// `Result` with [`Error`] as the failure, for task functions and their helpers.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Turns a function into the task this component exports.
///
/// The function takes the state's input as any type that implements
/// [`serde::Deserialize`], and a [`&Context`](Context); it returns
/// `Result<T, sandstep::Error>` where `T` implements [`serde::Serialize`]:
///
/// ```no_run
/// # fn main() {}
/// # #[derive(serde::Deserialize)] struct MyInput;
/// # #[derive(serde::Serialize)] struct MyOutput;
/// #[sandstep::task]
/// fn run(input: MyInput, ctx: &sandstep::Context) -> Result<MyOutput, sandstep::Error> {
///     # todo!()
/// }
/// ```
///
/// - Input that does not match the parameter's type fails the state with the error
///   `Task.InvalidInput`; its cause names the field path and what was expected.
/// - An output that cannot be encoded as JSON fails it with `Task.InvalidOutput`.
/// - `Err(e)` fails it with `e`'s name and cause, which `Retry` and `Catch` can match.
/// - A panic traps the instance; the host reports it as `Sandbox.Trap`.
///
/// One crate holds one task: the attribute may appear once per component.
pub use sandstep_macro::task;
