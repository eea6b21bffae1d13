//! Paths to the WebAssembly components `build.rs` built, for the end-to-end tests.
//!
//! - [`tasks`]: the example tasks of `example-tasks/`, one constant per task, e.g.
//!   [`tasks::FILTER`], plus [`foreach_task!`] listing them all.
//! - [`guests`]: the sandbox's test guests of `tests/guests/`, likewise with [`foreach_guest!`].
//!
//! - [`polyglot`]: Python and JavaScript components built with `host task build`, cached.
//!
//! Each constant is the absolute path of a `.wasm` component built for `wasm32-wasip2` in
//! release. This crate holds no test logic; the tests are in `tests/all/`.

/// The example tasks (`example-tasks/`), by library name in upper case.
pub mod tasks {
    include!(concat!(env!("OUT_DIR"), "/tasks.rs"));
}

/// The sandbox's test guests (`tests/guests/`), by library name in upper case.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

pub mod polyglot;
