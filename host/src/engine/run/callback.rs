//! Tasks that wait for an answer from outside: `.waitForTaskToken`
//! integrations and activities (checklist TASK-04, TASK-08, TASK-10/11).
//!
//! A callback task is `TaskScheduled → TaskStarted → (the integration runs
//! with the token in `$$.Task.Token`) → TaskSubmitted{its answer} →
//! TaskSucceeded | TaskFailed | TaskTimedOut`; an activity task is
//! `ActivityScheduled → ActivityStarted{workerName} (a worker took it) →
//! ActivitySucceeded | ActivityFailed | ActivityTimedOut`. The token is in
//! the store under the attempt's event key, so a replay waits again on the
//! same token and finds an answer given while the host was down.
//!
//! Timers: `TimeoutSeconds` counts from `TaskStarted` for a callback and
//! from `ActivityScheduled` for an activity (its `timeoutInSeconds` is "the
//! maximum allowed duration of the activity task", waiting for a worker
//! included); `HeartbeatSeconds` from `TaskStarted`, or `ActivityStarted`,
//! and from each `SendTaskHeartbeat` since. On a replay they count from the
//! recorded events, so a restart does not extend them.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;

use super::retry::result_too_large;
use super::task_events::TaskEvents;
use super::{Failure, Run, StateEnv, io, later, until};
use crate::asl::model::TaskSpec;
use crate::engine::TaskCall;
use crate::engine::callbacks::{OpenTask, Waiting, callback_integration};
use crate::engine::journal::EventKey;
use crate::errors::{AslError, names};

/// A Task's `TimeoutSeconds` and `HeartbeatSeconds`, as evaluated.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub timeout: Option<u64>,
    pub heartbeat: Option<u64>,
}

impl Run<'_> {
    /// The Task waits for a token's answer: a `.waitForTaskToken` resource
    /// the runner does not answer itself (a mock does, at once).
    pub(super) fn is_callback(&self, env: &StateEnv<'_>, task: &TaskSpec) -> bool {
        callback_integration(&task.resource).is_some()
            && !self.engine.tasks.answers_itself(&env.state.name)
    }

    /// Creates the token of the attempt about to start (or finds the one
    /// an earlier run had), keyed by the event the attempt emits next.
    pub(super) async fn open_token(
        &self,
        env: &StateEnv<'_>,
        activity: Option<(&str, &Value)>,
    ) -> Result<Waiting, Failure> {
        let Some(callbacks) = &self.engine.callbacks else {
            return Err(AslError::runtime(format!(
                "state '{}' waits for a task token, which only a durable execution can: run it with `host run` on a store or through `host serve`",
                env.state.name
            ))
            .into());
        };
        let key = format!(
            "{}|{}|{}",
            env.frame,
            env.visit,
            env.seq.load(Ordering::Relaxed)
        );
        let open = OpenTask {
            execution_arn: &self.info.arn,
            key,
            activity_arn: activity.map(|(arn, _)| arn),
            input: activity.map(|(_, input)| input),
        };
        callbacks.open(open).await.map_err(|e| {
            AslError::runtime(format!("the task token could not be stored: {e}")).into()
        })
    }

    /// A `.waitForTaskToken` task: its integration runs, then the state
    /// waits for `SendTaskSuccess`/`SendTaskFailure` on the token.
    #[allow(clippy::too_many_arguments, reason = "the attempt's parts")]
    pub(super) async fn callback_task(
        &self,
        env: &StateEnv<'_>,
        task: &TaskSpec,
        events: &TaskEvents<'_>,
        input: &Value,
        waiting: Waiting,
        limits: Limits,
        cursor: &mut u64,
    ) -> Result<Value, Failure> {
        let scheduled = self.emit(env, *cursor, events.scheduled, || {
            events.scheduled_details(input, limits.timeout, limits.heartbeat)
        });
        let (started, replayed) =
            self.emit_in(env, scheduled, events.started, || events.started_details());
        let started_at = replayed.map_or_else(|| self.engine.clock.now(), |e| e.timestamp);
        *cursor = started;
        if let Some((id, result)) = self.recorded_result(env, events) {
            *cursor = id;
            return result.map_err(Failure::Error);
        }
        if self.recorded_kind(env).as_deref() == Some("TaskSubmitted") {
            // The integration ran before a restart: it is not invoked again.
            *cursor = self.emit(env, *cursor, "TaskSubmitted", || None);
        } else {
            self.check_history()?;
            let integration = callback_integration(&task.resource).unwrap_or(&task.resource);
            // As for any attempt: what the integration starts (a nested
            // execution) is named from it, so a replay finds it again.
            let attempt = format!(
                "{}@{}.{}#{}",
                env.frame,
                env.visit,
                env.seq.load(std::sync::atomic::Ordering::Relaxed),
                self.info.redrive_count
            );
            let call = TaskCall {
                resource: integration,
                input,
                execution_id: &self.info.arn,
                state_name: &env.state.name,
                attempt: &attempt,
                retry_count: env.retry_count,
                timeout: limits.timeout.map(Duration::from_secs),
                concurrent: self.engine.shared_task || !env.frame.is_empty(),
                payload_limit: self.engine.payload_limit,
            };
            let outcome = self.engine.tasks.invoke(call).await;
            match outcome.result.map_err(AslError::bounded) {
                Ok(output) => {
                    *cursor = self.emit(env, *cursor, "TaskSubmitted", || {
                        events.submitted_details(&output)
                    });
                    self.durable().await?;
                }
                Err(error) => {
                    self.close_token(&waiting.token).await;
                    return self.answered(env, events, Err(error), cursor).await;
                }
            }
        }
        let answer = self
            .await_answer(waiting, Some(started_at), Some(started_at), limits)
            .await?;
        self.answered(env, events, answer, cursor).await
    }

    /// An activity task: scheduled for a worker of the activity, which
    /// takes it with `GetActivityTask` and answers with its token.
    pub(super) async fn activity_task(
        &self,
        env: &StateEnv<'_>,
        events: &TaskEvents<'_>,
        input: &Value,
        limits: Limits,
        cursor: &mut u64,
    ) -> Result<Value, Failure> {
        let waiting = self
            .open_token(env, Some((events.resource(), input)))
            .await?;
        let (scheduled, replayed) = self.emit_in(env, *cursor, events.scheduled, || {
            events.scheduled_details(input, limits.timeout, limits.heartbeat)
        });
        let scheduled_at = replayed.map_or_else(|| self.engine.clock.now(), |e| e.timestamp);
        *cursor = scheduled;
        // Durable before a worker can see it, so a worker never holds a
        // task the history does not show.
        self.durable().await?;
        let mut waiting = waiting;
        let mut started_at = None;
        if let Some((id, result)) = self.recorded_result(env, events) {
            *cursor = id;
            return result.map_err(Failure::Error);
        }
        if self.recorded_kind(env).as_deref() == Some(events.started) {
            let (id, recorded) = self.emit_in(env, *cursor, events.started, || None);
            *cursor = id;
            started_at = recorded.map(|e| e.timestamp);
            if let Some((id, result)) = self.recorded_result(env, events) {
                *cursor = id;
                return result.map_err(Failure::Error);
            }
        }
        loop {
            if started_at.is_none()
                && let Some(worker) = waiting.started_by.clone()
            {
                *cursor = self.emit(env, *cursor, events.started, || {
                    events.activity_started_details(worker.as_deref())
                });
                self.durable().await?;
                started_at = Some(self.engine.clock.now());
            }
            if started_at.is_some() || waiting.outcome.is_some() {
                let answer = self
                    .await_answer(waiting, Some(scheduled_at), started_at, limits)
                    .await?;
                return self.answered(env, events, answer, cursor).await;
            }
            // Not taken yet: only the timeout runs (no heartbeat before a
            // worker has the task).
            let before_start = Limits {
                timeout: limits.timeout,
                heartbeat: None,
            };
            match self
                .next_change(&waiting, Some(scheduled_at), None, before_start)
                .await?
            {
                Ok(next) => waiting = next,
                Err(timed_out) => {
                    return self.answered(env, events, Err(timed_out), cursor).await;
                }
            }
        }
    }

    /// Waits for the answer, or for the timeout or a missed heartbeat.
    async fn await_answer(
        &self,
        mut waiting: Waiting,
        timeout_from: Option<OffsetDateTime>,
        heartbeat_from: Option<OffsetDateTime>,
        limits: Limits,
    ) -> Result<Result<Value, AslError>, Failure> {
        loop {
            if let Some(outcome) = waiting.outcome.take() {
                return Ok(outcome);
            }
            let beat = match (heartbeat_from, waiting.heartbeat) {
                (Some(from), Some(last)) => Some(from.max(last)),
                (from, last) => from.or(last),
            };
            match self
                .next_change(&waiting, timeout_from, beat, limits)
                .await?
            {
                Ok(next) => waiting = next,
                Err(timed_out) => return Ok(Err(timed_out)),
            }
        }
    }

    /// The token's next change, or the timeout (`States.Timeout`) or
    /// missed heartbeat (`States.HeartbeatTimeout`) that came first, in
    /// which case the token is closed: later answers are too late.
    async fn next_change(
        &self,
        waiting: &Waiting,
        timeout_from: Option<OffsetDateTime>,
        heartbeat_from: Option<OffsetDateTime>,
        limits: Limits,
    ) -> Result<Result<Waiting, AslError>, Failure> {
        let Some(callbacks) = &self.engine.callbacks else {
            return Err(AslError::runtime("no store to wait for a task token on").into());
        };
        let due = |from: Option<OffsetDateTime>, seconds: Option<u64>, error: &'static str| {
            Some((later(from?, Duration::from_secs(seconds?)), error))
        };
        let deadline = [
            due(timeout_from, limits.timeout, names::TIMEOUT),
            due(heartbeat_from, limits.heartbeat, names::HEARTBEAT_TIMEOUT),
        ]
        .into_iter()
        .flatten()
        .min_by_key(|(at, _)| *at);
        let changed = callbacks.changed(&waiting.token, waiting.version);
        let next = match deadline {
            None => changed.await,
            Some((at, error)) => {
                let wait = until(self.engine.clock.now(), at);
                tokio::select! {
                    next = changed => next,
                    slept = self.sleep(wait) => {
                        slept?;
                        self.close_token(&waiting.token).await;
                        // AWS names no cause for a task that timed out.
                        return Ok(Err(AslError::new(error, "")));
                    }
                }
            }
        };
        next.map(Ok)
            .map_err(|e| AslError::runtime(format!("the task token could not be read: {e}")).into())
    }

    async fn close_token(&self, token: &str) {
        if let Some(callbacks) = &self.engine.callbacks {
            callbacks.close(token).await;
        }
    }

    /// Records how a waiting task ended and hands its result on.
    async fn answered(
        &self,
        env: &StateEnv<'_>,
        events: &TaskEvents<'_>,
        answer: Result<Value, AslError>,
        cursor: &mut u64,
    ) -> Result<Value, Failure> {
        match answer.map_err(AslError::bounded) {
            Ok(output) if !io::fits(&output, self.engine.payload_limit) => {
                let error = result_too_large(events.resource());
                *cursor = self.emit(env, *cursor, events.failed, || {
                    events.error_details(events.failed, &error, None)
                });
                self.durable().await?;
                Err(error.into())
            }
            Ok(output) => {
                *cursor = self.emit(env, *cursor, events.succeeded, || {
                    events.succeeded_details(&output, None)
                });
                self.durable().await?;
                Ok(output)
            }
            Err(error) => {
                let timed_out =
                    error.error == names::TIMEOUT || error.error == names::HEARTBEAT_TIMEOUT;
                let kind = if timed_out {
                    events.timed_out
                } else {
                    events.failed
                };
                *cursor = self.emit(env, *cursor, kind, || {
                    events.error_details(kind, &error, None)
                });
                self.durable().await?;
                Err(error.into())
            }
        }
    }

    /// The kind of the event an earlier run recorded next in this visit.
    fn recorded_kind(&self, env: &StateEnv<'_>) -> Option<String> {
        if self.journal.is_empty() {
            return None;
        }
        let recorded = self.journal.get(&EventKey {
            frame: env.frame.clone(),
            visit: env.visit,
            seq: env.seq.load(Ordering::Relaxed),
        })?;
        Some(recorded.kind.to_string())
    }
}
