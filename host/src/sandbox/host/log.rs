//! `sandstep:task/log`: a task's log lines, recorded with the task's name
//! and execution id as `tracing` events (target `sandstep::task`) and kept
//! for the call's outcome. Bounded per call; past the bound lines are
//! counted, not kept. Secret values are redacted before a line is
//! recorded. Logging never fails and never traps.

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

/// One line a task logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
}

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
        if message.len() > self.budget {
            self.dropped += 1;
            return;
        }
        self.budget -= message.len();
        let (task, execution) = (&self.task, &self.execution_id);
        match level {
            LogLevel::Debug => {
                tracing::debug!(target: "sandstep::task", task, execution, "{message}")
            }
            LogLevel::Info => {
                tracing::info!(target: "sandstep::task", task, execution, "{message}")
            }
            LogLevel::Warn => {
                tracing::warn!(target: "sandstep::task", task, execution, "{message}")
            }
            LogLevel::Error => {
                tracing::error!(target: "sandstep::task", task, execution, "{message}")
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
