//! Task, Parallel and Map under Retry and Catch: each attempt, the
//! intervals between them on the execution's timeline, and the Task call
//! itself (its timeout and heartbeat bounded, its result recorded before it
//! is acted on, a recorded result replayed instead of invoked).

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};

use super::callback::Limits;
use super::task_events::TaskEvents;
use super::{Failure, MAX_SECONDS, Run, StateEnv, Step, Vars, io, later, matches, parse_text};
use super::{retry_delay, until};
use crate::asl::model::*;
use crate::engine::TaskCall;
use crate::engine::callbacks::{Waiting, is_activity};
use crate::engine::history::{Phase, state_event};
use crate::engine::journal::EventKey;
use crate::errors::{AslError, names};
use crate::query::jsonata::fields as jsonata_fields;

impl Run<'_> {
    /// Task, Parallel and Map: attempts under the state's retriers, then its catchers.
    pub(super) async fn retrying(
        &self,
        env: &mut StateEnv<'_>,
        input: Value,
        cursor: &mut u64,
        vars: &Vars,
    ) -> Result<Step, Failure> {
        let state = env.state;
        let mut attempts = vec![0u32; state.retry.len()];
        loop {
            let outcome = self.attempt(env, &input, cursor, vars).await;
            let error = match outcome {
                Ok(result) => return self.finish(env, input, result, vars, Self::next(state)),
                Err(failure) => match self.settle(env, cursor, failure) {
                    Failure::Error(error) => error,
                    other => return Err(other),
                },
            };
            if error.error == names::RUNTIME {
                return Err(error.into());
            }
            // The first retrier that matches decides; an exhausted one does
            // not fall through to later retriers (ASL spec, "Retrying after error").
            if let Some(i) = state
                .retry
                .iter()
                .position(|r| matches(&r.error_equals, &error.error))
            {
                let retrier = &state.retry[i];
                if attempts[i] < retrier.max_attempts {
                    let mut delay = retry_delay(retrier, attempts[i]);
                    // Replayed: the interval counts from the recorded failure.
                    let replayed_at = *env.replayed_at.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(failed_at) = replayed_at {
                        delay = until(self.engine.clock.now(), later(failed_at, delay));
                    }
                    attempts[i] += 1;
                    env.retry_count = env.retry_count.saturating_add(1);
                    self.durable().await?;
                    self.sleep(delay).await?;
                    continue;
                }
            }
            // Map and Parallel report their own failure once no retry follows.
            if matches!(state.kind, StateKind::Map(_) | StateKind::Parallel { .. }) {
                *cursor = self.emit(
                    env,
                    *cursor,
                    state_event(state.type_name(), Phase::Failed),
                    || None,
                );
            }
            let Some(catcher) = state
                .catch
                .iter()
                .find(|c| matches(&c.error_equals, &error.error))
            else {
                return Err(error.into());
            };
            return self.caught(env, catcher, input, &error, vars);
        }
    }

    /// A caught error's ending: the catcher's `Assign`, then its `Output`
    /// (JSONata) or `ResultPath` (JSONPath) over `{Error, Cause}`.
    pub(super) fn caught(
        &self,
        env: &StateEnv<'_>,
        catcher: &Catcher,
        input: Value,
        error: &AslError,
        vars: &Vars,
    ) -> Result<Step, Failure> {
        let error_output = json!({"Error": error.error, "Cause": error.cause});
        let assigned = self.assign_jsonata(
            env,
            catcher.assign.as_ref(),
            &input,
            None,
            Some(&error_output),
            vars,
        )?;
        let output = if env.jsonata() {
            match &catcher.output {
                Some(output) => {
                    self.with_jsonata(env, &input, vars, None, None, Some(&error_output), |j| {
                        output.eval("Output", j)
                    })?
                }
                None => error_output,
            }
        } else {
            io::merge_result(&catcher.result_path, input, error_output)?
        };
        Ok(Step {
            output,
            next: Some(catcher.next),
            assigned,
        })
    }

    pub(super) async fn attempt(
        &self,
        env: &StateEnv<'_>,
        input: &Value,
        cursor: &mut u64,
        vars: &Vars,
    ) -> Result<Value, Failure> {
        // A callback's token exists before its Parameters are built, which
        // read it as `$$.Task.Token`.
        let waiting = match &env.state.kind {
            StateKind::Task(task) if self.is_callback(env, task) => {
                Some(self.open_token(env, None).await?)
            }
            _ => None,
        };
        let set_token = |token: Option<Arc<str>>| {
            *env.task_token.lock().unwrap_or_else(|e| e.into_inner()) = token;
        };
        // A mocked callback answers at once, with a token made up for its
        // Parameters, as Step Functions Local does (checklist LOCAL-03).
        let made_up = match &env.state.kind {
            StateKind::Task(task) if waiting.is_none() && is_callback(&task.resource) => {
                Some(Arc::from(format!("mock{}", uuid::Uuid::new_v4().simple())))
            }
            _ => None,
        };
        set_token(
            waiting
                .as_ref()
                .map(|w| Arc::from(w.token.as_str()))
                .or(made_up),
        );
        let effective = self.effective_input(env, input, vars);
        set_token(None);
        let effective = effective?;
        match &env.state.kind {
            StateKind::Task(task) => {
                self.task(env, task, &effective, input, cursor, vars, waiting)
                    .await
            }
            StateKind::Parallel { branches } => {
                self.parallel(env, branches, &effective, cursor, vars).await
            }
            StateKind::Map(spec) => self.map(env, spec, &effective, cursor, vars).await,
            _ => Err(AslError::runtime("only Task, Parallel and Map states are retried").into()),
        }
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "the attempt's parts, as `attempt` has them"
    )]
    async fn task(
        &self,
        env: &StateEnv<'_>,
        task: &TaskSpec,
        input: &Value,
        states_input: &Value,
        cursor: &mut u64,
        vars: &Vars,
        waiting: Option<Waiting>,
    ) -> Result<Value, Failure> {
        let timeout = match &task.timeout {
            Some(field) => {
                Some(self.task_seconds(env, field, "TimeoutSeconds", states_input, vars)?)
            }
            None => None,
        };
        let heartbeat = match &task.heartbeat {
            Some(field) => {
                Some(self.task_seconds(env, field, "HeartbeatSeconds", states_input, vars)?)
            }
            None => None,
        };
        let events = TaskEvents::for_resource(&task.resource);
        let limits = Limits { timeout, heartbeat };
        if let Some(waiting) = waiting {
            return self
                .callback_task(env, task, &events, input, waiting, limits, cursor)
                .await;
        }
        if is_activity(&task.resource) && !self.engine.tasks.answers_itself(&env.state.name) {
            return self
                .activity_task(env, &events, input, limits, cursor)
                .await;
        }
        let scheduled = self.emit(env, *cursor, events.scheduled, || {
            events.scheduled_details(input, timeout, heartbeat)
        });
        let started = self.emit(env, scheduled, events.started, || events.started_details());
        *cursor = started;
        // A result an earlier run recorded is final: that attempt is never
        // invoked again.
        if let Some((id, result)) = self.recorded_result(env, &events) {
            *cursor = id;
            return result.map_err(Failure::Error);
        }
        // A task whose events could not be recorded is not run.
        self.check_history()?;
        // The key of the result event this attempt will record, and the
        // run (a redrive runs a failed step again, as a new attempt).
        let attempt = format!(
            "{}@{}.{}#{}",
            env.frame,
            env.visit,
            env.seq.load(Ordering::Relaxed),
            self.info.redrive_count
        );
        let call = TaskCall {
            resource: &task.resource,
            input,
            execution_id: &self.info.arn,
            state_name: &env.state.name,
            attempt: &attempt,
            retry_count: env.retry_count,
            timeout: timeout.map(Duration::from_secs),
            // The root frame runs one state at a time.
            concurrent: self.engine.shared_task || !env.frame.is_empty(),
            payload_limit: self.engine.payload_limit,
        };
        let outcome = self.engine.tasks.invoke(call).await;
        let usage = outcome.usage;
        if let (Some(observer), Some(meta)) = (&self.engine.observer, &self.meta) {
            observer.task_ended(
                meta,
                &crate::engine::TaskReport {
                    state: &env.state.name,
                    resource: &task.resource,
                    usage,
                    tenant: outcome.tenant.as_deref(),
                    logs: &outcome.logs,
                    error: outcome.result.as_ref().err().map(|e| e.error.as_str()),
                },
            );
        }
        // What a task returns as its error is bounded before it is recorded.
        match outcome.result.map_err(AslError::bounded) {
            Ok(output) => {
                if !io::fits(&output, self.engine.payload_limit) {
                    let error = result_too_large(&task.resource);
                    *cursor = self.emit(env, *cursor, events.failed, || {
                        events.error_details(events.failed, &error, usage)
                    });
                    self.durable().await?;
                    return Err(error.into());
                }
                *cursor = self.emit(env, *cursor, events.succeeded, || {
                    events.succeeded_details(&output, usage)
                });
                self.durable().await?;
                Ok(output)
            }
            Err(error) => {
                // No task may raise a `States.` error of its own (the sandbox
                // refuses them), so this one is a runner's size check: worded
                // as AWS words it, naming the resource.
                let error = match error.error == names::DATA_LIMIT_EXCEEDED {
                    true => result_too_large(&task.resource),
                    false => error,
                };
                let kind = if error.error == names::TIMEOUT {
                    events.timed_out
                } else {
                    events.failed
                };
                *cursor = self.emit(env, *cursor, kind, || {
                    events.error_details(kind, &error, usage)
                });
                self.durable().await?;
                Err(error.into())
            }
        }
    }

    /// A Task's `TimeoutSeconds` or `HeartbeatSeconds` (`name`): a positive
    /// integer of at most 99,999,999, literal, from a path or JSONata.
    /// Both read the state's input, not the `Parameters`/`Arguments` built
    /// from it (as AWS records: a JSONata field sees it as `$states.input`,
    /// a `...Path` selects from it).
    fn task_seconds(
        &self,
        env: &StateEnv<'_>,
        field: &SecondsField,
        name: &str,
        states_input: &Value,
        vars: &Vars,
    ) -> Result<u64, Failure> {
        match field {
            SecondsField::Literal(seconds) => Ok((*seconds).clamp(1, MAX_SECONDS)),
            SecondsField::Jsonata(seconds) => {
                let seconds =
                    self.with_jsonata(env, states_input, vars, None, None, None, |j| {
                        seconds.eval_integer(name, j, jsonata_fields::TIMEOUT_SECONDS)
                    })?;
                Ok(u64::try_from(seconds).unwrap_or(1).clamp(1, MAX_SECONDS))
            }
            SecondsField::Path(path) => {
                let value = self.with_scope(env, states_input, vars, None, |scope| {
                    path.eval(scope).map(Cow::into_owned)
                });
                match value.as_ref().and_then(Value::as_u64) {
                    Some(seconds @ 1..=MAX_SECONDS) => Ok(seconds),
                    Some(seconds) if seconds > MAX_SECONDS => Err(AslError::runtime(format!(
                        "The {name}Path parameter references {seconds}, more than the {MAX_SECONDS} seconds a task may be given: {path}"
                    ))
                    .into()),
                    _ => Err(AslError::runtime(format!(
                        "The {name}Path parameter does not reference a positive integer: {path}"
                    ))
                    .into()),
                }
            }
        }
    }

    /// The outcome an earlier run recorded for the attempt about to be
    /// invoked, with the id of its event.
    pub(super) fn recorded_result(
        &self,
        env: &StateEnv<'_>,
        events: &TaskEvents<'_>,
    ) -> Option<(u64, Result<Value, AslError>)> {
        if self.journal.is_empty() {
            return None;
        }
        let recorded = self.journal.get(&EventKey {
            frame: env.frame.clone(),
            visit: env.visit,
            seq: env.seq.load(Ordering::Relaxed),
        })?;
        let details = recorded.details.as_ref().map(|(_, details)| details);
        let result = if recorded.kind == events.succeeded {
            Ok(details.and_then(|d| d.get("output")).and_then(parse_text)?)
        } else if recorded.kind == events.failed || recorded.kind == events.timed_out {
            let text = |field: &str| {
                details
                    .and_then(|d| d.get(field))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            Err(AslError {
                error: text("error"),
                cause: text("cause"),
            }
            .bounded())
        } else {
            return None;
        };
        env.seq.fetch_add(1, Ordering::Relaxed);
        *env.replayed_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(recorded.timestamp);
        Some((recorded.id, result))
    }

    async fn parallel(
        &self,
        env: &StateEnv<'_>,
        branches: &[Arc<StateMachine>],
        input: &Value,
        cursor: &mut u64,
        vars: &Vars,
    ) -> Result<Value, Failure> {
        let started = self.emit(env, *cursor, "ParallelStateStarted", || None);
        let runs: Vec<_> = branches
            .iter()
            .enumerate()
            .map(|(i, branch)| {
                let mut branch_vars = vars.clone();
                let input = input.clone();
                let frame = env.child_frame('b', i);
                // Every branch is runnable from the start, before any is polled.
                let busy = self.timeline.frame();
                async move {
                    let _busy = busy;
                    let mut branch_cursor = started;
                    let result = self
                        .run_machine(branch, frame, input, &mut branch_cursor, &mut branch_vars)
                        .await;
                    result
                        .map(|v| (v, branch_cursor))
                        .map_err(|e| (e, branch_cursor))
                }
            })
            .collect();
        let idle = self.timeline.idle();
        let joined = futures::future::try_join_all(runs).await;
        drop(idle);
        match joined {
            Ok(results) => {
                let last = results.iter().map(|(_, c)| *c).max().unwrap_or(started);
                let outputs: Vec<Value> = results.into_iter().map(|(v, _)| v).collect();
                self.emit(env, last, "ParallelStateSucceeded", || None);
                *cursor = last;
                Ok(Value::Array(outputs))
            }
            Err((failure, last)) => {
                *cursor = last;
                Err(failure)
            }
        }
    }
}

/// AWS's error for a task result past the payload limit. It names the
/// resource: the function ARN of a Lambda `Resource`, the service of an
/// integration (`lambda` for `arn:aws:states:::lambda:invoke`).
pub(super) fn result_too_large(resource: &str) -> AslError {
    let subject = match resource.split(':').collect::<Vec<_>>().as_slice() {
        ["arn", _partition, "states", "", "", service, ..] => service.to_string(),
        _ => resource.to_owned(),
    };
    AslError::new(
        names::DATA_LIMIT_EXCEEDED,
        format!(
            "The state/task '{subject}' returned a result with a size exceeding the maximum number of bytes service limit."
        ),
    )
}

/// A `.waitForTaskToken` resource.
fn is_callback(resource: &str) -> bool {
    crate::engine::callbacks::callback_integration(resource).is_some()
}
