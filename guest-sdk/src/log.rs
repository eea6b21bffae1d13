//! Logging through the host's `log` interface.
//!
//! The host records each message with the task's name and execution id, bounds how much one call
//! may log and counts what it drops; logging never fails. Outside WebAssembly (a task's own unit
//! tests on the build machine) messages go to standard error instead.
//!
//! ```no_run
//! # let (rows, path) = (3, "/in/day.csv");
//! sandstep::log::info!("read {} rows from {path:?}", rows);
//! ```

/// How much a message matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Detail for debugging a task.
    Debug,
    /// Normal progress.
    Info,
    /// Something unexpected the task worked around.
    Warn,
    /// A failure.
    Error,
}

/// Sends one message to the host at `level`. The macros in this module call it.
pub fn write(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        use crate::__private::bindings::sandstep::task::log;
        let level = match level {
            Level::Debug => log::Level::Debug,
            Level::Info => log::Level::Info,
            Level::Warn => log::Level::Warn,
            Level::Error => log::Level::Error,
        };
        log::log(level, message);
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let name = match level {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        eprintln!("[{name}] {message}");
    }
}

/// Logs a `format!`-style message at [`Level::Debug`].
#[doc(hidden)]
#[macro_export]
macro_rules! __sandstep_log_debug {
    ($($arg:tt)+) => {
        $crate::log::write($crate::log::Level::Debug, &::std::format!($($arg)+))
    };
}

/// Logs a `format!`-style message at [`Level::Info`].
#[doc(hidden)]
#[macro_export]
macro_rules! __sandstep_log_info {
    ($($arg:tt)+) => {
        $crate::log::write($crate::log::Level::Info, &::std::format!($($arg)+))
    };
}

/// Logs a `format!`-style message at [`Level::Warn`].
#[doc(hidden)]
#[macro_export]
macro_rules! __sandstep_log_warn {
    ($($arg:tt)+) => {
        $crate::log::write($crate::log::Level::Warn, &::std::format!($($arg)+))
    };
}

/// Logs a `format!`-style message at [`Level::Error`].
#[doc(hidden)]
#[macro_export]
macro_rules! __sandstep_log_error {
    ($($arg:tt)+) => {
        $crate::log::write($crate::log::Level::Error, &::std::format!($($arg)+))
    };
}

#[doc(inline)]
pub use crate::__sandstep_log_debug as debug;
#[doc(inline)]
pub use crate::__sandstep_log_error as error;
#[doc(inline)]
pub use crate::__sandstep_log_info as info;
#[doc(inline)]
pub use crate::__sandstep_log_warn as warn;
