//! Turning the end of a call into the ASL error a Retry/Catch can match
//! (the table in DESIGN.md): fuel or deadline → `States.Timeout`, memory →
//! `Sandbox.MemoryLimitExceeded`, `exit(n)` → `Sandbox.Exit` with the
//! status, any other trap → `Sandbox.Trap` with the
//! guest's panic message, a handle past a budget →
//! `Sandbox.ResourceLimitExceeded`, a `task-error` → its own name, output
//! that is not JSON → `Sandbox.InvalidOutput`, output longer than the
//! payload limit → `States.DataLimitExceeded` (measured on the raw text,
//! which is dropped before anything parses it). Never panics,
//! whatever the guest did.

use std::time::Duration;

use serde_json::Value;
use wasmtime::Trap;
use wasmtime::component::ResourceTableError;

use super::handles::HandleLimitHit;
use super::host::TaskError;
use super::limits::{MemoryLimitHit, mib};
use super::tenants::ExecutionFuel;
use crate::errors::{AslError, names};

/// Where a call's deadline came from, for the cause.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DeadlineSource {
    /// The state's `TimeoutSeconds`.
    State,
    /// The task's `timeout_seconds` (or the default).
    Task,
}

/// What a timeout cause needs to know about the call.
pub(crate) struct Budget<'a> {
    pub task: &'a str,
    pub fuel: Option<u64>,
    pub memory_bytes: u64,
    pub timeout: Duration,
    pub source: DeadlineSource,
}

impl Budget<'_> {
    /// The state's `TimeoutSeconds` running out is `States.Timeout` with no
    /// cause, as AWS reports it (the detail goes to the log); the task's own
    /// limit says which one ran out.
    pub fn deadline_error(&self) -> AslError {
        if let DeadlineSource::State = self.source {
            tracing::info!(
                target: "sandstep::task",
                task = self.task,
                timeout_s = self.timeout.as_secs_f64(),
                "task ran past the state's TimeoutSeconds"
            );
            return AslError::new(names::TIMEOUT, "");
        }
        AslError::new(
            names::TIMEOUT,
            format!(
                "task \"{}\" ran past its deadline of {} (the task's timeout_seconds)",
                self.task,
                seconds(self.timeout)
            ),
        )
    }

    fn fuel_error(&self) -> AslError {
        let budget = self
            .fuel
            .map_or_else(|| "unlimited".to_owned(), |f| f.to_string());
        AslError::new(
            names::TIMEOUT,
            format!(
                "task \"{}\" ran out of fuel: it used its whole fuel budget of {budget} units \
                 (raise `fuel` for the task in sandstep.toml, or set `fuel = false` to rely on the deadline)",
                self.task
            ),
        )
    }

    /// The ASL error for a call that ended with `error` instead of
    /// returning; `pool` is the execution's fuel budget, when it has one
    /// (fuel running out is then blamed on whichever budget is spent).
    pub fn failure(
        &self,
        error: &wasmtime::Error,
        stderr: &str,
        pool: Option<&ExecutionFuel>,
    ) -> AslError {
        let root = error.root_cause();
        let pool_spent = pool.filter(|p| p.left() == 0);
        if let Some(hit) = root.downcast_ref::<MemoryLimitHit>() {
            return AslError::new(
                names::SANDBOX_MEMORY_LIMIT_EXCEEDED,
                format!(
                    "task \"{}\" exceeded its memory limit of {}: {hit} (raise `memory_mib` for the task in sandstep.toml)",
                    self.task,
                    mib(self.memory_bytes)
                ),
            );
        }
        if let Some(hit) = root.downcast_ref::<HandleLimitHit>() {
            return AslError::new(
                names::SANDBOX_RESOURCE_LIMIT_EXCEEDED,
                format!("task \"{}\" was stopped: {hit}", self.task),
            );
        }
        if let Some(ResourceTableError::Full) = root.downcast_ref::<ResourceTableError>() {
            return AslError::new(
                names::SANDBOX_RESOURCE_LIMIT_EXCEEDED,
                format!(
                    "task \"{}\" was stopped: it held more handles (streams, pollables, \
                     descriptors) at once than one call may (drop what it no longer needs)",
                    self.task
                ),
            );
        }
        if let Some(exit) = root.downcast_ref::<wasmtime_wasi::I32Exit>() {
            return AslError::new(
                names::SANDBOX_EXIT,
                with_stderr(
                    format!(
                        "task \"{}\" called exit with status {} instead of returning a result \
                         (WASI preview 2 reports only success, 0, or failure, 1)",
                        self.task, exit.0
                    ),
                    stderr,
                ),
            );
        }
        let trap = root
            .downcast_ref::<Trap>()
            .or_else(|| error.downcast_ref::<Trap>());
        match trap {
            Some(Trap::OutOfFuel) => match pool_spent {
                Some(pool) => pool.exhausted(self.task),
                None => self.fuel_error(),
            },
            Some(Trap::Interrupt) => self.deadline_error(),
            Some(trap) => AslError::new(
                names::SANDBOX_TRAP,
                with_stderr(format!("task \"{}\" trapped: {trap}", self.task), stderr),
            ),
            // Not a wasm trap: a host function refused the guest (for example
            // a resource the guest misused); still the guest's failure.
            None => AslError::new(
                names::SANDBOX_TRAP,
                with_stderr(format!("task \"{}\" failed: {error:#}", self.task), stderr),
            ),
        }
    }
}

/// `2s`, `0.25s`.
fn seconds(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

/// The most telling part of the guest's stderr: from Rust's last
/// `panicked at` on, else the last few lines.
fn guest_message(stderr: &str) -> Option<String> {
    const MAX: usize = 2048;
    let start = stderr.rfind("panicked at ").unwrap_or_else(|| {
        let trimmed = stderr.trim_end();
        let mut start = trimmed.len().saturating_sub(MAX);
        while !trimmed.is_char_boundary(start) {
            start += 1;
        }
        start
    });
    let message: Vec<&str> = stderr[start..]
        .lines()
        .filter(|line| !line.starts_with("note: run with `RUST_BACKTRACE=1`"))
        .collect();
    let message = message.join("\n").trim().to_owned();
    let mut end = message.len().min(MAX);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    (!message.is_empty()).then(|| message[..end].to_owned())
}

fn with_stderr(mut cause: String, stderr: &str) -> String {
    if let Some(message) = guest_message(stderr) {
        cause.push_str("; guest stderr: ");
        cause.push_str(&message);
    }
    cause
}

/// The most bytes of a task-error's name the host keeps: AWS keeps 256
/// characters, four bytes at most each.
const ERROR_KEPT_BYTES: usize = 1024 + 4;
/// The most bytes of a task-error's cause the host keeps: AWS keeps 32,768
/// characters, four bytes at most each.
const CAUSE_KEPT_BYTES: usize = 4 * 32_768 + 4;

/// What a guest's `run` returned, as wasmtime copies it out of the guest's
/// memory (at most that memory, and only for an instant: wasmtime 48 runs
/// the guest's post-return, which frees the strings, before the call
/// returns, so they cannot be measured where they lie).
pub(crate) type RawReturn = Result<String, TaskError>;

/// What a guest returned, within bounds.
#[derive(Debug)]
pub(crate) enum Returned {
    /// The output text, at most the call's output limit.
    Output(String),
    /// The output was longer than the limit; it was dropped unparsed.
    TooLarge,
    /// A task-error, its name and cause cut to what AWS would keep.
    Failed { error: String, cause: String },
}

impl Returned {
    /// Keeps what the guest returned within bounds: the output only when it
    /// is at most `output_limit` bytes (else it is dropped before anything
    /// parses it), the error name and cause only as far as AWS's limits.
    pub fn bounded(raw: RawReturn, output_limit: Option<usize>) -> Returned {
        match raw {
            Ok(text) => match output_limit {
                Some(limit) if text.len() > limit => Returned::TooLarge,
                _ => Returned::Output(text),
            },
            Err(e) => Returned::Failed {
                error: cut(e.error, ERROR_KEPT_BYTES),
                cause: cut(e.cause, CAUSE_KEPT_BYTES),
            },
        }
    }
}

/// `text` cut to at most `max` bytes, its memory given back.
fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        text.truncate(prefix(&text, max).len());
        text.shrink_to_fit();
    }
    text
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The ASL result of a call that returned.
pub(crate) fn returned(task: &str, state: &str, returned: Returned) -> Result<Value, AslError> {
    let result = match returned {
        Returned::Output(text) => Ok(text),
        Returned::TooLarge => {
            return Err(AslError::new(
                names::DATA_LIMIT_EXCEEDED,
                format!(
                    "The state/task '{state}' returned a result with a size exceeding the maximum number of bytes service limit."
                ),
            ));
        }
        Returned::Failed { error, cause } => Err((error, cause)),
    };
    match result {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            AslError::new(
                names::SANDBOX_INVALID_OUTPUT,
                format!(
                    "task \"{task}\" returned output that is not JSON ({e}): {:?}",
                    preview(&text)
                ),
            )
        }),
        Err((error, cause)) if is_reserved(&error) => Err(AslError::new(
            names::SANDBOX_INVALID_OUTPUT,
            format!(
                "task \"{task}\" returned the error name {error:?}, which is reserved for the host \
                 (names starting with \"States.\" or \"Sandbox.\", or empty); its cause was: {cause}"
            ),
        )),
        Err((error, cause)) => Err(AslError::new(error, cause)),
    }
}

fn is_reserved(name: &str) -> bool {
    name.is_empty() || name.starts_with("States.") || name.starts_with("Sandbox.")
}

fn preview(text: &str) -> &str {
    prefix(text, 80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_panic_message_is_taken_from_the_last_panic() {
        let stderr = "starting\nthread '<unnamed>' panicked at src/lib.rs:9:9:\nthe sky is falling\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            guest_message(stderr).as_deref(),
            Some("panicked at src/lib.rs:9:9:\nthe sky is falling")
        );
        assert_eq!(guest_message("").as_deref(), None);
        assert_eq!(guest_message("oops\n").as_deref(), Some("oops"));
    }

    #[test]
    fn task_errors_keep_their_name_unless_reserved() {
        let failed = |error: &str, cause: &str| Returned::Failed {
            error: error.into(),
            cause: cause.into(),
        };
        let own = returned("t", "S", failed("Orders.InvalidRow", "row 3"));
        assert_eq!(own, Err(AslError::new("Orders.InvalidRow", "row 3")));
        let forged = returned("t", "S", failed("States.Timeout", "fake"));
        assert_eq!(
            forged.map_err(|e| e.error),
            Err(names::SANDBOX_INVALID_OUTPUT.to_owned())
        );
    }

    #[test]
    fn output_must_be_json() {
        let output = |text: &str| Returned::Output(text.into());
        assert_eq!(
            returned("t", "S", output("[1]")),
            Ok(serde_json::json!([1]))
        );
        let err = returned("t", "S", output("nope")).expect_err("not JSON");
        assert_eq!(err.error, names::SANDBOX_INVALID_OUTPUT);
        assert!(err.cause.contains("\"nope\""), "{}", err.cause);
        let err = returned("t", "Big", Returned::TooLarge).expect_err("too large");
        assert_eq!(err.error, names::DATA_LIMIT_EXCEEDED);
        assert!(err.cause.contains("'Big'"), "{}", err.cause);
        assert_eq!(prefix("ééé", 3), "é");
    }
}
