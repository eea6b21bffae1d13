//! `sandstep:task/log`: a task's log lines, recorded with the task's name
//! and execution id as `tracing` events (target `sandstep::task`) and kept
//! for the call's outcome. Bounded per call (each line costs its bytes plus
//! [`LINE_COST`], so empty lines are not free); past the bound lines are
//! counted, not kept. Secret values are redacted before a line is
//! recorded, and the `tracing` event carries the line escaped
//! (`refusals::escape_for_log`): a newline in it cannot forge a host log
//! line. The kept line is the task's own text. Logging never fails and
//! never traps.

use super::super::refusals::escape_for_log;
use super::CallState;
use super::sandstep::task::log::{Host, Level};

/// The level of a task's log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// One line a task logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
}

/// What a kept line costs besides its message: its share of the host's
/// bookkeeping, so a flood of empty lines is bounded too.
pub(crate) const LINE_COST: usize = 64;

/// The log lines of one call, bounded by the bytes of their messages.
pub(crate) struct LogSink {
    task: String,
    execution_id: String,
    budget: usize,
    pub lines: Vec<LogLine>,
    pub dropped: u64,
}

impl LogSink {
    pub fn new(task: &str, execution_id: &str, budget: usize) -> Self {
        LogSink {
            task: task.to_owned(),
            execution_id: execution_id.to_owned(),
            budget,
            lines: Vec::new(),
            dropped: 0,
        }
    }

    fn record(&mut self, level: LogLevel, message: String) {
        let cost = message.len().saturating_add(LINE_COST);
        if cost > self.budget {
            self.dropped += 1;
            return;
        }
        self.budget -= cost;
        let (task, execution) = (&self.task, &self.execution_id);
        // The whole line (it was bounded above), escaped.
        let shown = escape_for_log(&message, usize::MAX);
        match level {
            LogLevel::Debug => {
                tracing::debug!(target: "sandstep::task", task, execution, "{shown}")
            }
            LogLevel::Info => {
                tracing::info!(target: "sandstep::task", task, execution, "{shown}")
            }
            LogLevel::Warn => {
                tracing::warn!(target: "sandstep::task", task, execution, "{shown}")
            }
            LogLevel::Error => {
                tracing::error!(target: "sandstep::task", task, execution, "{shown}")
            }
        }
        self.lines.push(LogLine { level, message });
    }
}

impl Host for CallState {
    fn log(&mut self, level: Level, message: String) {
        let level = match level {
            Level::Debug => LogLevel::Debug,
            Level::Info => LogLevel::Info,
            Level::Warn => LogLevel::Warn,
            Level::Error => LogLevel::Error,
        };
        let message = match self.grants.secrets.redact(&message) {
            std::borrow::Cow::Borrowed(_) => message,
            std::borrow::Cow::Owned(clean) => clean,
        };
        self.log.record(level, message);
    }
}
