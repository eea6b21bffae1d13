//! Execution logs: the log events Step Functions sends to CloudWatch Logs
//! under a state machine's `loggingConfiguration`, as JSON lines.
//!
//! One line per history event the level lets through (AWS's "Log levels"
//! page of the Step Functions developer guide): `ALL` every event, `ERROR`
//! the failures (`*Failed`, `*TimedOut`, `*Aborted`, `FailStateEntered`),
//! `FATAL` only the execution's own failures (`ExecutionFailed`,
//! `ExecutionTimedOut`, `ExecutionAborted`), `OFF` none. The line has AWS's
//! members: `id`, `type`, `details`, `previous_event_id`,
//! `event_timestamp` (epoch milliseconds), `execution_arn`,
//! `redrive_count`, numbers as strings as AWS writes them. Without
//! `includeExecutionData` the details lose `input`, `output`, `parameters`
//! and `assignedVariables`. A task's own log lines (`sandstep:task/log`)
//! come as `{"type": "TaskLog", "execution_arn", "state_name", "level",
//! "message", ...}` lines, at `ALL` (and their `error` lines at `ERROR`).
//!
//! As on AWS, publishing never slows an execution: lines go through a
//! bounded queue to one writer thread; past the bound they are counted and
//! one `LogLinesDropped` line says how many. Each line is one line: JSON
//! escapes control characters, and the writer also escapes line separators
//! and bidirectional overrides (`\uXXXX`, still valid JSON), so a value
//! cannot forge a line or reorder a terminal.

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use serde_json::{Map, Value, json};

use crate::engine::{ExecutionMeta, HistoryEvent, TaskReport};

/// Lines waiting for the writer before new ones are dropped.
pub const QUEUE_LINES: usize = 65_536;
/// The longest task log message written, in characters.
pub const MESSAGE_CHARS: usize = 8_192;

/// `loggingConfiguration.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogLevel {
    All,
    Error,
    Fatal,
    #[default]
    Off,
}

impl LogLevel {
    pub fn parse(text: &str) -> Option<LogLevel> {
        match text {
            "ALL" => Some(LogLevel::All),
            "ERROR" => Some(LogLevel::Error),
            "FATAL" => Some(LogLevel::Fatal),
            "OFF" => Some(LogLevel::Off),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::All => "ALL",
            LogLevel::Error => "ERROR",
            LogLevel::Fatal => "FATAL",
            LogLevel::Off => "OFF",
        }
    }

    /// Whether an event of type `kind` is logged at this level.
    pub fn logs(self, kind: &str) -> bool {
        let fatal = matches!(
            kind,
            "ExecutionFailed" | "ExecutionTimedOut" | "ExecutionAborted"
        );
        let error = fatal
            || kind == "FailStateEntered"
            || kind.ends_with("Failed")
            || kind.ends_with("TimedOut")
            || kind.ends_with("Aborted");
        match self {
            LogLevel::All => true,
            LogLevel::Error => error,
            LogLevel::Fatal => fatal,
            LogLevel::Off => false,
        }
    }
}

/// A state machine's `loggingConfiguration`, as far as it matters here
/// (its `destinations` name CloudWatch log groups; this host writes to the
/// one `--execution-log` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogConfig {
    pub level: LogLevel,
    pub include_execution_data: bool,
}

impl LogConfig {
    /// From the API's `loggingConfiguration` member; absent or unknown
    /// members mean AWS's defaults (`OFF`, no data).
    pub fn from_json(value: &Value) -> LogConfig {
        LogConfig {
            level: value
                .get("level")
                .and_then(Value::as_str)
                .and_then(LogLevel::parse)
                .unwrap_or_default(),
            include_execution_data: value
                .get("includeExecutionData")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }
    }

    pub fn to_json(self) -> Value {
        json!({"level": self.level.as_str(), "includeExecutionData": self.include_execution_data})
    }
}

/// The details members that carry execution data.
const DATA_MEMBERS: [&str; 4] = ["input", "output", "parameters", "assignedVariables"];

/// One event's log line.
pub fn event_line(execution: &ExecutionMeta, event: &HistoryEvent, with_data: bool) -> Value {
    let details = match &event.details {
        Some((_, Value::Object(details))) if !with_data => {
            let kept: Map<String, Value> = details
                .iter()
                .filter(|(k, _)| !DATA_MEMBERS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Value::Object(kept)
        }
        Some((_, details)) => details.clone(),
        None => json!({}),
    };
    json!({
        "id": event.id.to_string(),
        "type": event.kind,
        "details": details,
        "previous_event_id": event.previous_event_id.to_string(),
        "event_timestamp": millis(event.timestamp).to_string(),
        "execution_arn": execution.arn,
        "redrive_count": execution.redrive_count.to_string(),
    })
}

fn millis(t: time::OffsetDateTime) -> i128 {
    t.unix_timestamp_nanos() / 1_000_000
}

/// Where the lines go, written by one thread.
pub struct ExecutionLog {
    sender: Mutex<Option<SyncSender<String>>>,
    dropped: std::sync::Arc<AtomicU64>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl ExecutionLog {
    /// Writes to `out` (a file, standard output, a buffer in tests).
    pub fn new(out: Box<dyn Write + Send>) -> ExecutionLog {
        let (sender, receiver) = sync_channel(QUEUE_LINES);
        let dropped = std::sync::Arc::new(AtomicU64::new(0));
        let writer = {
            let dropped = dropped.clone();
            std::thread::Builder::new()
                .name("sandstep-execution-log".into())
                .spawn(move || write_lines(receiver, out, &dropped))
                .ok()
        };
        ExecutionLog {
            sender: Mutex::new(Some(sender)),
            dropped,
            writer: Mutex::new(writer),
        }
    }

    /// Opens `path` for appending, or standard output for `-`.
    pub fn open(path: &std::path::Path) -> anyhow::Result<ExecutionLog> {
        if path.as_os_str() == "-" {
            return Ok(ExecutionLog::new(Box::new(std::io::stdout())));
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot open the execution log {}: {e}; pass a writable file or `-` for standard output",
                    path.display()
                )
            })?;
        Ok(ExecutionLog::new(Box::new(std::io::BufWriter::new(file))))
    }

    /// Queues one line; drops it (counted) when the writer is behind.
    fn send(&self, line: &Value) {
        let sender = self.sender.lock().unwrap_or_else(|e| e.into_inner());
        let Some(sender) = sender.as_ref() else {
            return;
        };
        match sender.try_send(one_line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    pub fn event(&self, config: LogConfig, execution: &ExecutionMeta, event: &HistoryEvent) {
        if config.level.logs(&event.kind) {
            self.send(&event_line(execution, event, config.include_execution_data));
        }
    }

    pub fn task_ended(&self, config: LogConfig, execution: &ExecutionMeta, task: &TaskReport<'_>) {
        let now = millis(time::OffsetDateTime::now_utc()).to_string();
        for line in task.logs {
            let wanted = match config.level {
                LogLevel::All => true,
                LogLevel::Error => line.level == "error",
                LogLevel::Fatal | LogLevel::Off => false,
            };
            if !wanted {
                continue;
            }
            let message: String = line.message.chars().take(MESSAGE_CHARS).collect();
            self.send(&json!({
                "type": "TaskLog",
                "execution_arn": execution.arn,
                "state_name": task.state,
                "resource": task.resource,
                "level": line.level,
                "message": message,
                "event_timestamp": now,
                "redrive_count": execution.redrive_count.to_string(),
            }));
        }
    }

    /// Writes everything queued and stops the writer.
    pub fn close(&self) {
        self.sender.lock().unwrap_or_else(|e| e.into_inner()).take();
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(writer) = writer {
            let _ = writer.join();
        }
    }
}

impl Drop for ExecutionLog {
    fn drop(&mut self) {
        self.close();
    }
}

/// `line` as one line of JSON text with line separators and bidirectional
/// controls escaped too (they can only occur inside strings).
fn one_line(line: &Value) -> String {
    let text = line.to_string();
    if !text.chars().any(crate::sandbox::needs_escape) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if crate::sandbox::needs_escape(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

fn write_lines(receiver: Receiver<String>, mut out: Box<dyn Write + Send>, dropped: &AtomicU64) {
    while let Ok(line) = receiver.recv() {
        let mut batch = vec![line];
        batch.extend(receiver.try_iter());
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            batch.push(json!({"type": "LogLinesDropped", "count": lost.to_string()}).to_string());
        }
        for line in batch {
            if writeln!(out, "{line}").is_err() {
                return;
            }
        }
        let _ = out.flush();
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn meta() -> ExecutionMeta {
        ExecutionMeta {
            arn: "arn:aws:states:local:000000000000:execution:m:e".into(),
            state_machine_name: "m".into(),
            kind: crate::engine::ExecutionType::Standard,
            redrive_count: 0,
            start_date: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn event(id: u64, kind: &'static str, details: Value) -> HistoryEvent {
        HistoryEvent {
            id,
            previous_event_id: id - 1,
            timestamp: time::OffsetDateTime::UNIX_EPOCH + time::Duration::milliseconds(1500),
            kind: Cow::Borrowed(kind),
            details: Some((Cow::Borrowed("d"), details)),
        }
    }

    fn lines(config: LogConfig, events: &[HistoryEvent]) -> Vec<Value> {
        let out = Shared::default();
        let log = ExecutionLog::new(Box::new(out.clone()));
        for e in events {
            log.event(config, &meta(), e);
        }
        log.close();
        let text = String::from_utf8(out.0.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .unwrap_or_default();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or(Value::Null))
            .collect()
    }

    fn run() -> Vec<HistoryEvent> {
        vec![
            event(
                1,
                "ExecutionStarted",
                json!({"input": "{\"secret\":1}", "roleArn": "r"}),
            ),
            event(2, "PassStateEntered", json!({"name": "P", "input": "{}"})),
            event(3, "TaskFailed", json!({"error": "E", "cause": "c"})),
            event(4, "ExecutionFailed", json!({"error": "E"})),
        ]
    }

    fn types(lines: &[Value]) -> Vec<&str> {
        lines.iter().filter_map(|l| l["type"].as_str()).collect()
    }

    #[test]
    fn each_level_logs_what_aws_logs_at_it() {
        let at = |level| LogConfig {
            level,
            include_execution_data: true,
        };
        assert_eq!(types(&lines(at(LogLevel::All), &run())).len(), 4);
        assert_eq!(
            types(&lines(at(LogLevel::Error), &run())),
            ["TaskFailed", "ExecutionFailed"]
        );
        assert_eq!(
            types(&lines(at(LogLevel::Fatal), &run())),
            ["ExecutionFailed"]
        );
        assert!(lines(at(LogLevel::Off), &run()).is_empty());
    }

    #[test]
    fn a_line_has_aws_members_and_leaves_data_out_unless_asked() {
        let config = LogConfig {
            level: LogLevel::All,
            include_execution_data: false,
        };
        let first = &lines(config, &run())[0];
        assert_eq!(first["id"], "1");
        assert_eq!(first["previous_event_id"], "0");
        assert_eq!(first["event_timestamp"], "1500");
        assert_eq!(first["redrive_count"], "0");
        assert_eq!(first["execution_arn"], meta().arn);
        assert_eq!(first["details"], json!({"roleArn": "r"}));
        let with = lines(
            LogConfig {
                include_execution_data: true,
                ..config
            },
            &run(),
        );
        assert_eq!(with[0]["details"]["input"], "{\"secret\":1}");
    }

    #[test]
    fn a_value_cannot_break_a_line_or_reorder_a_terminal() {
        let config = LogConfig {
            level: LogLevel::All,
            include_execution_data: true,
        };
        let nasty = event(
            1,
            "ExecutionStarted",
            json!({"input": "a\nb\u{2028}c\u{202e}d\u{1b}[31m"}),
        );
        let out = Shared::default();
        let log = ExecutionLog::new(Box::new(out.clone()));
        log.event(config, &meta(), &nasty);
        log.close();
        let text = String::from_utf8(out.0.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .unwrap_or_default();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            !text
                .chars()
                .any(|c| c != '\n' && crate::sandbox::needs_escape(c))
        );
        let parsed: Value = serde_json::from_str(text.trim_end()).unwrap_or(Value::Null);
        assert_eq!(
            parsed["details"]["input"],
            "a\nb\u{2028}c\u{202e}d\u{1b}[31m"
        );
    }
}
