//! Express executions kept readable after they end (checklist PAIN-05).
//!
//! AWS keeps nothing of an Express execution but its logs: Describe and
//! GetExecutionHistory refuse its ARN. Users ask for exactly that, so the
//! host keeps the latest ones in memory, bounded in count and in age
//! (`host serve --express-keep N --express-keep-for SECONDS`); they are gone
//! with the process, as Express executions are not durable on AWS either.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::engine::Execution;

/// One Express execution, running (`outcome` empty) or ended.
#[derive(Debug)]
pub struct ExpressRun {
    pub arn: String,
    pub name: String,
    pub machine_name: String,
    pub version_arn: Option<String>,
    pub alias_arn: Option<String>,
    /// The input as the request gave it (JSON text).
    pub input: String,
    pub start_date: OffsetDateTime,
    /// The ended execution, with its history.
    pub outcome: Option<Execution>,
}

/// The latest Express executions.
pub struct Recent {
    keep: usize,
    keep_for: Duration,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// ARNs in the order they were first kept, with when.
    order: VecDeque<(String, Instant)>,
    runs: HashMap<String, Arc<ExpressRun>>,
}

impl Recent {
    pub fn new(keep: usize, keep_for: Duration) -> Self {
        Recent {
            keep,
            keep_for,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Whether anything is kept at all (else histories need not be recorded).
    pub fn enabled(&self) -> bool {
        self.keep > 0 && !self.keep_for.is_zero()
    }

    /// Keeps `run`, replacing the run of the same ARN, and forgets the
    /// oldest past the count or age bound.
    pub fn put(&self, run: Arc<ExpressRun>) {
        if !self.enabled() {
            return;
        }
        let now = Instant::now();
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let arn = run.arn.clone();
        if inner.runs.insert(arn.clone(), run).is_none() {
            inner.order.push_back((arn, now));
        }
        while let Some((oldest, at)) = inner.order.front() {
            let expired = now.duration_since(*at) > self.keep_for;
            if inner.order.len() <= self.keep && !expired {
                break;
            }
            let oldest = oldest.clone();
            inner.runs.remove(&oldest);
            inner.order.pop_front();
        }
    }

    pub fn get(&self, arn: &str) -> Option<Arc<ExpressRun>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (_, at) = inner.order.iter().find(|(a, _)| a == arn)?;
        if at.elapsed() > self.keep_for {
            return None;
        }
        inner.runs.get(arn).cloned()
    }

    /// The kept runs of state machine `machine`, newest first.
    pub fn of_machine(&self, machine: &str) -> Vec<Arc<ExpressRun>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .order
            .iter()
            .rev()
            .filter(|(_, at)| at.elapsed() <= self.keep_for)
            .filter_map(|(arn, _)| inner.runs.get(arn))
            .filter(|run| run.machine_name == machine)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(arn: &str) -> ExpressRun {
        ExpressRun {
            arn: arn.into(),
            name: arn.into(),
            machine_name: "m".into(),
            version_arn: None,
            alias_arn: None,
            input: "{}".into(),
            start_date: OffsetDateTime::UNIX_EPOCH,
            outcome: None,
        }
    }

    #[test]
    fn keeps_the_latest_within_the_count() {
        let recent = Recent::new(2, Duration::from_secs(60));
        for arn in ["a", "b", "c"] {
            recent.put(Arc::new(run(arn)));
        }
        assert!(recent.get("a").is_none());
        assert!(recent.get("c").is_some());
        recent.put(Arc::new(run("b")));
        let names: Vec<String> = recent
            .of_machine("m")
            .iter()
            .map(|r| r.arn.clone())
            .collect();
        assert_eq!(names, ["c", "b"]);
    }

    #[test]
    fn keeps_nothing_when_disabled() {
        let recent = Recent::new(0, Duration::from_secs(60));
        recent.put(Arc::new(run("a")));
        assert!(recent.get("a").is_none());
    }
}
