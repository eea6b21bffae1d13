//! Resume attempts, counted beside the store so that an execution whose
//! replay kills the host (a bug its data reaches: a stack overflow, an
//! abort) cannot crash-loop every later `host run` or `host resume`.
//!
//! A resume marks the execution before it replays (`<dir>/resumes/<hash>`
//! holds the number of resumes in a row that died early) and clears the
//! mark once the execution reaches its first durable point (the engine
//! awaits durability after a Task's result and before every sleep) or
//! ends. A host that dies in between leaves the mark: after
//! [`RESUME_ATTEMPTS`] such resumes the execution is failed instead of
//! resumed again. Executions with a mark are resumed first and alone, each
//! until its first durable point, so a crash is blamed on the one execution
//! that was replaying when the host died; a Wait, even a long one, is such
//! a point, so a waiting execution does not hold up the others.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::engine::journal::{EventSink, KeyedEvent, SinkFuture};

/// How many resumes in a row may end with the host dead before the
/// execution reached a durable point, before it is failed instead.
/// Five, not fewer: a host killed for reasons of its own (an operator, the
/// OOM killer, a power cut) while a suspect replays alone at start-up is
/// counted against it too, and the crash test's random kills showed three
/// such deaths in a row happen.
pub const RESUME_ATTEMPTS: u32 = 5;

/// The marks of one store's executions.
#[derive(Debug, Clone)]
pub struct ResumeAttempts {
    dir: PathBuf,
}

impl ResumeAttempts {
    pub fn new(store_dir: &Path) -> Self {
        ResumeAttempts {
            dir: store_dir.join("resumes"),
        }
    }

    fn path(&self, arn: &str) -> PathBuf {
        self.dir.join(format!("{:016x}", fnv1a(arn.as_bytes())))
    }

    /// Resumes of `arn` in a row that ended with the host dead.
    pub fn count(&self, arn: &str) -> u32 {
        std::fs::read_to_string(self.path(arn))
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Records that a resume of `arn` is about to replay, durably.
    pub fn mark(&self, arn: &str, count: u32) -> std::io::Result<()> {
        use std::io::Write as _;
        std::fs::create_dir_all(&self.dir)?;
        let mut file = std::fs::File::create(self.path(arn))?;
        file.write_all(format!("{count}\n").as_bytes())?;
        file.sync_all()
    }

    /// The execution made progress or ended: its count starts again.
    pub fn clear(&self, arn: &str) {
        // Absent already is fine; a mark that cannot be removed only makes
        // a later resume more suspicious, never wrong.
        let _ = std::fs::remove_file(self.path(arn));
    }
}

/// FNV-1a: a stable file name for an ARN (any bytes, any length).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Whether a resumed execution has recorded something new (or ended).
#[derive(Debug, Default)]
pub struct Progress {
    made: AtomicBool,
    notify: tokio::sync::Notify,
}

impl Progress {
    pub fn made(&self) {
        self.made.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    /// Resolves once [`made`](Self::made) was called.
    pub async fn wait(&self) {
        loop {
            // Registered before the check, so no call in between is missed.
            let notified = self.notify.notified();
            if self.made.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

/// Calls [`Progress::made`] when dropped: every way out of a resume counts.
pub struct MadeOnDrop(pub Arc<Progress>);

impl Drop for MadeOnDrop {
    fn drop(&mut self) {
        self.0.made();
    }
}

/// A resumed execution's sink: its first durable point clears its mark and
/// reports progress.
pub struct WatchedSink {
    pub inner: Arc<dyn EventSink>,
    pub attempts: ResumeAttempts,
    pub arn: String,
    pub progress: Arc<Progress>,
    pub cleared: AtomicBool,
}

impl EventSink for WatchedSink {
    fn record(&self, event: KeyedEvent) {
        self.inner.record(event);
    }

    fn durable(&self) -> SinkFuture<'_> {
        Box::pin(async move {
            self.inner.durable().await?;
            if !self.cleared.swap(true, Ordering::AcqRel) {
                self.attempts.clear(&self.arn);
                self.progress.made();
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_count_and_clear_per_execution() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let attempts = ResumeAttempts::new(dir.path());
        assert_eq!(attempts.count("arn:a"), 0);
        attempts.mark("arn:a", 2).expect("marked");
        assert_eq!(attempts.count("arn:a"), 2);
        assert_eq!(attempts.count("arn:b"), 0);
        attempts.clear("arn:a");
        assert_eq!(attempts.count("arn:a"), 0);
    }
}
