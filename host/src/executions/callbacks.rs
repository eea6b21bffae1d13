//! Task tokens over the store: the engine's [`Callbacks`], and the answers
//! the API and the CLI give (`SendTask*`, `GetActivityTask`).
//!
//! Answers reach a waiting execution two ways, like stop requests: one
//! poller per process asks the store what changed since it last looked
//! (`CallbackStore::token_changes`), so an answer another process wrote
//! (the CLI's `host task success`, a second `host serve`) arrives within
//! [`TOKEN_POLL`]; an answer this process wrote wakes the waiter at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::{Notify, OnceCell, watch};

use crate::engine::callbacks::{
    CallbackFuture, Callbacks, OpenTask, Waiting, activity_arn, activity_name,
};
use crate::errors::AslError;
use crate::store::{Store, StoreError, TaskToken, TokenAnswer, TokenRefusal, TokenStatus};

/// How often the poller asks the store for changed tokens.
const TOKEN_POLL: Duration = Duration::from_millis(250);

/// How long `GetActivityTask` holds a poll without a task: AWS's 60 s.
pub const ACTIVITY_POLL: Duration = Duration::from_secs(60);

/// How often a held `GetActivityTask` looks in the store for a task another
/// process scheduled (this process's own wake it at once).
const ACTIVITY_RECHECK: Duration = Duration::from_secs(1);

/// The prefix of every token this host makes; anything else is `InvalidToken`.
const TOKEN_PREFIX: &str = "sst1";

/// A token: the prefix and 256 random bits (two v4 UUIDs' worth), hex.
fn new_token() -> String {
    format!(
        "{TOKEN_PREFIX}{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Whether `token` has the shape of a token this host makes.
pub fn well_formed(token: &str) -> bool {
    token
        .strip_prefix(TOKEN_PREFIX)
        .is_some_and(|rest| rest.len() == 64 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The task tokens of one store, as this process sees them. Cheap to clone.
#[derive(Clone)]
pub struct TaskTokens {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    /// Waiters by token; the value is the latest version seen.
    watchers: Mutex<HashMap<String, watch::Sender<u64>>>,
    /// The store's token version when the poller started.
    polling_from: OnceCell<()>,
    poller: Mutex<Option<tokio::task::JoinHandle<()>>>,
    last_version: Mutex<u64>,
    /// An activity task was scheduled here: held `GetActivityTask`s look.
    scheduled: Notify,
}

impl TaskTokens {
    pub fn new(store: Arc<dyn Store>) -> TaskTokens {
        TaskTokens {
            inner: Arc::new(Inner {
                store,
                watchers: Mutex::new(HashMap::new()),
                polling_from: OnceCell::new(),
                poller: Mutex::new(None),
                last_version: Mutex::new(0),
                scheduled: Notify::new(),
            }),
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, String> {
        let store = self.inner.store.clone();
        match tokio::task::spawn_blocking(move || f(store.as_ref())).await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(e) => Err(format!("a store call failed: {e}")),
        }
    }

    /// Wakes this process's waiter of `token`, if any.
    fn wake(&self, token: &TaskToken) {
        let watchers = self
            .inner
            .watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = watchers.get(&token.token) {
            sender.send_replace(token.version);
        }
    }

    /// `SendTaskSuccess`, `SendTaskFailure` or `SendTaskHeartbeat`.
    pub async fn answer(
        &self,
        token: &str,
        answer: TokenAnswer,
    ) -> Result<Result<TaskToken, TokenRefusal>, String> {
        let owned = token.to_owned();
        let answered = self
            .blocking(move |s| s.answer_token(&owned, &answer, OffsetDateTime::now_utc()))
            .await?;
        if let Ok(token) = &answered {
            self.wake(token);
        }
        Ok(answered)
    }

    /// `GetActivityTask`: the oldest waiting task of the activity, waiting
    /// up to `hold` for one to be scheduled.
    pub async fn take_activity_task(
        &self,
        activity_arn: &str,
        worker_name: Option<&str>,
        hold: Duration,
    ) -> Result<Option<TaskToken>, String> {
        let until = tokio::time::Instant::now() + hold;
        loop {
            let scheduled = self.inner.scheduled.notified();
            tokio::pin!(scheduled);
            scheduled.as_mut().enable();
            let (arn, worker) = (activity_arn.to_owned(), worker_name.map(str::to_owned));
            let taken = self
                .blocking(move |s| s.take_activity_task(&arn, worker.as_deref()))
                .await?;
            if let Some(task) = taken {
                self.wake(&task);
                return Ok(Some(task));
            }
            let now = tokio::time::Instant::now();
            if now >= until {
                return Ok(None);
            }
            let recheck = (until - now).min(ACTIVITY_RECHECK);
            tokio::select! {
                () = scheduled => {}
                () = tokio::time::sleep(recheck) => {}
            }
        }
    }

    /// Starts the poller unless it runs, from the store's current version.
    async fn ensure_polling(&self) -> Result<(), String> {
        self.inner
            .polling_from
            .get_or_try_init(|| async {
                let version = self.blocking(|s| s.token_version()).await?;
                *self
                    .inner
                    .last_version
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = version;
                Ok::<(), String>(())
            })
            .await?;
        let mut poller = self.inner.poller.lock().unwrap_or_else(|e| e.into_inner());
        if poller.as_ref().is_some_and(|t| !t.is_finished()) {
            return Ok(());
        }
        let tokens = self.clone();
        *poller = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(TOKEN_POLL).await;
                tokens.poll_once().await;
            }
        }));
        Ok(())
    }

    async fn poll_once(&self) {
        let wanted = {
            let mut watchers = self
                .inner
                .watchers
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            // Waiters that gave up no longer listen.
            watchers.retain(|_, sender| sender.receiver_count() > 0);
            !watchers.is_empty()
        };
        if !wanted {
            return;
        }
        loop {
            let after = *self
                .inner
                .last_version
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let Ok(changed) = self.blocking(move |s| s.token_changes(after, 1000)).await else {
                return;
            };
            let full = changed.len() == 1000;
            if let Some(last) = changed.last() {
                let mut version = self
                    .inner
                    .last_version
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                *version = (*version).max(last.version);
            }
            for token in &changed {
                self.wake(token);
            }
            if !full {
                return;
            }
        }
    }
}

/// What the engine knows of a stored token.
fn waiting_of(token: &TaskToken) -> Waiting {
    let outcome = match token.status {
        TokenStatus::Succeeded => Some(
            token
                .output
                .as_deref()
                .and_then(|text| serde_json::from_str::<Value>(text).ok())
                .ok_or_else(|| {
                    AslError::runtime("the stored answer of a task token is unreadable")
                }),
        ),
        TokenStatus::Failed => Some(Err(AslError::new(
            token.error.clone().unwrap_or_default(),
            token.cause.clone().unwrap_or_default(),
        ))),
        TokenStatus::Waiting | TokenStatus::Started | TokenStatus::Closed => None,
    };
    Waiting {
        token: token.token.clone(),
        version: token.version,
        started_by: (token.status != TokenStatus::Waiting).then(|| token.worker_name.clone()),
        heartbeat: token.heartbeat,
        outcome,
    }
}

impl Callbacks for TaskTokens {
    fn open<'a>(&'a self, task: OpenTask<'a>) -> CallbackFuture<'a, Result<Waiting, String>> {
        Box::pin(async move {
            let mut token = TaskToken::new(
                new_token(),
                task.execution_arn,
                task.key,
                OffsetDateTime::now_utc(),
            );
            // Kept in the host's form, which `GetActivityTask` asks for.
            token.activity_arn = task
                .activity_arn
                .map(|arn| activity_arn(activity_name(arn).unwrap_or(arn)));
            token.input = task.input.map(crate::engine::history::text);
            let activity = token.activity_arn.is_some();
            let stored = self.blocking(move |s| s.open_token(&token)).await?;
            if activity {
                self.inner.scheduled.notify_waiters();
            }
            Ok(waiting_of(&stored))
        })
    }

    fn changed<'a>(
        &'a self,
        token: &'a str,
        version: u64,
    ) -> CallbackFuture<'a, Result<Waiting, String>> {
        Box::pin(async move {
            // Subscribed before the store is read, so no change is missed.
            let mut receiver = {
                let mut watchers = self
                    .inner
                    .watchers
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                watchers
                    .entry(token.to_owned())
                    .or_insert_with(|| watch::channel(0).0)
                    .subscribe()
            };
            self.ensure_polling().await?;
            loop {
                let owned = token.to_owned();
                let stored = self
                    .blocking(move |s| s.token(&owned))
                    .await?
                    .ok_or_else(|| format!("task token {token} is no longer in the store"))?;
                if stored.version > version {
                    return Ok(waiting_of(&stored));
                }
                if receiver.changed().await.is_err() {
                    // The sender went with its entry: subscribe again.
                    receiver = {
                        let mut watchers = self
                            .inner
                            .watchers
                            .lock()
                            .unwrap_or_else(|e| e.into_inner());
                        watchers
                            .entry(token.to_owned())
                            .or_insert_with(|| watch::channel(0).0)
                            .subscribe()
                    };
                }
            }
        })
    }

    fn close<'a>(&'a self, token: &'a str) -> CallbackFuture<'a, ()> {
        Box::pin(async move {
            let owned = token.to_owned();
            if let Err(e) = self.blocking(move |s| s.close_token(&owned)).await {
                tracing::warn!(error = %e.escape_debug(), "a timed-out task token could not be closed");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_recognised_by_shape() {
        let token = new_token();
        assert!(well_formed(&token));
        assert_ne!(token, new_token());
        assert!(!well_formed("sst1abc"));
        assert!(!well_formed(&token.replacen("sst1", "sst2", 1)));
        assert!(!well_formed(&format!("{token}0")));
    }
}
