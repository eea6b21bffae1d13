//! The state interpreter: one execution, state by state.
//!
//! A [`Run`] owns the history of one execution. Each state goes through
//! `Entered → (its work) → Exited`; Task, Parallel and Map go through
//! Retry/Catch; Parallel branches and Map iterations are sub-machines run on
//! the same `Run`, each with its own `previousEventId` cursor.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::clock::Timeline;
use super::context::{self, ExecutionInfo, MapItem};
use super::history::{self, History, HistoryEvent, Phase, format_timestamp, state_event};
use super::io;
use super::journal::{EventKey, Journal};
use super::{Engine, TaskCall, Usage};
use crate::asl::model::*;
use crate::errors::{AslError, names};
use crate::query::jsonata::{JsonataEnv, JsonataError, JsonataValue, fields as jsonata_fields};
use crate::query::jsonpath::Root;
use crate::query::{LazyContext, Scope};

/// How many iterations of an inline Map with `MaxConcurrency` 0 run at once:
/// AWS runs at most 40. Starting all of a large Map's iterations at once
/// only holds their state in memory while they wait for a task slot (a
/// 100,000-item Map of wasm Tasks: about 2x slower).
const INLINE_MAP_CONCURRENCY: usize = 40;

/// How many states an execution enters between yields to the runtime: a
/// few milliseconds of Pass and Choice states. A yield costs about 15 µs
/// (the task may move to another worker), so once every 1,024 states made a
/// 10,000-item Map of Pass states 2% slower; tokio's `consume_budget`
/// (every 128 polls) 20%.
const YIELD_EVERY: u64 = 8192;

/// The most seconds ASL accepts for a duration (Wait, task timeout,
/// heartbeat, retry interval).
const MAX_SECONDS: u64 = 99_999_999;

/// The most iterations of a distributed Map that run at once on AWS.
const DISTRIBUTED_MAP_CONCURRENCY: usize = 10_000;

/// Why a state (and so, unless caught, the execution) stopped.
#[derive(Debug)]
pub(crate) enum Failure {
    /// An ASL error: Retry/Catch may handle it, per its name.
    Error(AslError),
    /// The execution's own `TimeoutSeconds` ran out: nothing catches this.
    TimedOut,
    /// The history reached AWS's event cap: nothing catches this either.
    HistoryFull,
    /// A JSONata expression failed; becomes an `EvaluationFailed` event and
    /// then an ASL error (`States.QueryEvaluationError`).
    Evaluation(JsonataError),
}

impl From<JsonataError> for Failure {
    fn from(error: JsonataError) -> Self {
        Failure::Evaluation(error)
    }
}

impl From<AslError> for Failure {
    fn from(error: AslError) -> Self {
        Failure::Error(error)
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
type Vars = Map<String, Value>;

/// What a state's own work produced.
struct Step {
    output: Value,
    next: Option<usize>,
    assigned: Option<Vars>,
}

pub(crate) struct Run<'e> {
    pub engine: &'e Engine,
    pub info: ExecutionInfo,
    pub history: History,
    /// What an earlier run of this execution recorded (empty for a new one).
    pub journal: Arc<Journal>,
    /// `TimeoutSeconds` from the start, within the type's longest run.
    pub deadline: OffsetDateTime,
    /// States entered so far, Map iterations and Parallel branches included.
    pub transitions: std::sync::atomic::AtomicU64,
    /// The execution's sleepers on the engine's clock.
    pub timeline: Timeline,
}

/// Where in the execution a state runs: for `$$` and error texts.
struct StateEnv<'a> {
    state: &'a State,
    entered_id: u64,
    /// The event the Entered event points at: `EvaluationFailed` points there too.
    entered_prev: u64,
    entered_time: OffsetDateTime,
    retry_count: u32,
    /// The frame (sub-machine run) and the visit within it: with `seq`,
    /// the key of each event this visit emits.
    frame: &'a Arc<str>,
    visit: u32,
    seq: AtomicU32,
    /// The Entered event was replayed from the journal.
    entered_replayed: bool,
    /// When this visit's latest event was recorded, if it was replayed from
    /// the journal: a retry interval then counts from there.
    replayed_at: Mutex<Option<OffsetDateTime>>,
}

impl StateEnv<'_> {
    fn jsonata(&self) -> bool {
        self.state.query_language == QueryLanguage::JsonAta
    }

    /// The frame of a Parallel branch (`kind` `b`) or Map iteration (`m`)
    /// this visit runs: a retried state runs its children in new frames.
    fn child_frame(&self, kind: char, index: usize) -> Arc<str> {
        format!(
            "{}/{}.{}{kind}{index}",
            self.frame, self.visit, self.retry_count
        )
        .into()
    }
}

impl<'e> Run<'e> {
    /// Emits the event at `key` unless the journal already holds it, in
    /// which case the recorded event stands in for it.
    fn emit_keyed(
        &self,
        key: (&Arc<str>, u32, u32),
        previous_event_id: u64,
        kind: &'static str,
        details: impl FnOnce() -> Option<(&'static str, Value)>,
    ) -> (u64, Option<&HistoryEvent>) {
        let (frame, visit, seq) = key;
        let key = || EventKey {
            frame: frame.clone(),
            visit,
            seq,
        };
        if !self.journal.is_empty()
            && let Some(recorded) = self.journal.get(&key())
            && recorded.kind == kind
        {
            return (recorded.id, Some(recorded));
        }
        let id = self.history.emit(
            key,
            previous_event_id,
            kind,
            || self.engine.clock.now(),
            details,
        );
        (id, None)
    }

    /// Emits an event of a frame itself (not of a state in it).
    pub fn emit_frame(
        &self,
        frame: &Arc<str>,
        seq: u32,
        previous_event_id: u64,
        kind: &'static str,
        details: impl FnOnce() -> Option<(&'static str, Value)>,
    ) -> u64 {
        self.emit_keyed(
            (frame, EventKey::FRAME, seq),
            previous_event_id,
            kind,
            details,
        )
        .0
    }

    /// Emits the next event of a state visit.
    fn emit_in<'r>(
        &'r self,
        env: &StateEnv<'_>,
        previous_event_id: u64,
        kind: &'static str,
        details: impl FnOnce() -> Option<(&'static str, Value)>,
    ) -> (u64, Option<&'r HistoryEvent>) {
        let seq = env.seq.fetch_add(1, Ordering::Relaxed);
        let emitted = self.emit_keyed(
            (env.frame, env.visit, seq),
            previous_event_id,
            kind,
            details,
        );
        // Only a replay ever sets it: a new execution skips the lock.
        if !self.journal.is_empty() {
            *env.replayed_at.lock().unwrap_or_else(|e| e.into_inner()) =
                emitted.1.map(|recorded| recorded.timestamp);
        }
        emitted
    }

    fn emit(
        &self,
        env: &StateEnv<'_>,
        previous_event_id: u64,
        kind: &'static str,
        details: impl FnOnce() -> Option<(&'static str, Value)>,
    ) -> u64 {
        self.emit_in(env, previous_event_id, kind, details).0
    }

    /// Waits until every event so far is durable, for a durable execution:
    /// before the engine acts on a Task's result and before it sleeps.
    async fn durable(&self) -> Result<(), Failure> {
        match self.history.sink() {
            Some(sink) => sink.durable().await.map_err(|e| {
                Failure::Error(AslError::runtime(format!(
                    "the execution's history could not be recorded: {e:#}"
                )))
            }),
            None => Ok(()),
        }
    }

    /// On the virtual clock, ends a run past its deadline. On the real one
    /// a timer does (see `Engine::execute`), so no state reads the clock.
    fn check_deadline(&self) -> Result<(), Failure> {
        let clock = &self.engine.clock;
        match clock.is_virtual() && clock.now() >= self.deadline {
            true => Err(Failure::TimedOut),
            false => Ok(()),
        }
    }

    /// Stops a run whose history refused an event at the cap.
    fn check_history(&self) -> Result<(), Failure> {
        match self.history.is_full() {
            true => Err(Failure::HistoryFull),
            false => Ok(()),
        }
    }

    /// Sleeps on the engine's clock, cut short by the execution deadline:
    /// a Wait or retry interval past it is not an error, the execution just
    /// times out when its time is up (unless another frame ends it first).
    async fn sleep(&self, duration: Duration) -> Result<(), Failure> {
        self.check_history()?;
        let left = until(self.engine.clock.now(), self.deadline);
        if left <= duration {
            self.timeline.sleep(left).await;
            return Err(Failure::TimedOut);
        }
        self.timeline.sleep(duration).await;
        Ok(())
    }

    /// Runs a (sub-)machine from its `StartAt` to a terminal state.
    pub fn run_machine<'a>(
        &'a self,
        machine: &'a StateMachine,
        frame: Arc<str>,
        input: Value,
        cursor: &'a mut u64,
        vars: &'a mut Vars,
    ) -> BoxFuture<'a, Result<Value, Failure>> {
        Box::pin(async move {
            let mut index = machine.start_at;
            let mut input = input;
            for visit in 0..u32::MAX {
                self.check_deadline()?;
                self.check_history()?;
                // A loop of Pass and Choice states never waits: now and
                // then, let the other tasks on this thread run.
                if self.transitions.load(Ordering::Relaxed) % YIELD_EVERY == YIELD_EVERY - 1 {
                    tokio::task::yield_now().await;
                }
                let state = machine.states.get(index).ok_or_else(|| {
                    AslError::runtime(format!(
                        "no state at index {index}: the definition is inconsistent"
                    ))
                })?;
                let (output, next) = self
                    .run_state(state, input, cursor, vars, &frame, visit)
                    .await?;
                match self
                    .replayed_next(machine, &frame, visit.saturating_add(1))
                    .or(next)
                {
                    Some(next) => {
                        index = next;
                        input = output;
                    }
                    None => return Ok(output),
                }
            }
            Err(AslError::runtime("too many states entered in one branch").into())
        })
    }

    /// The state an earlier run of this execution entered at `visit`: a
    /// replay follows the recorded path even where a choice read the clock.
    fn replayed_next(&self, machine: &StateMachine, frame: &Arc<str>, visit: u32) -> Option<usize> {
        if self.journal.is_empty() {
            return None;
        }
        let name = self.journal.entered(frame, visit)?;
        machine.states.iter().position(|state| state.name == name)
    }

    async fn run_state(
        &self,
        state: &State,
        input: Value,
        cursor: &mut u64,
        vars: &mut Vars,
        frame: &Arc<str>,
        visit: u32,
    ) -> Result<(Value, Option<usize>), Failure> {
        let type_name = state.type_name();
        self.transitions.fetch_add(1, Ordering::Relaxed);
        let now = self.engine.clock.now();
        let entered_prev = *cursor;
        let (entered_id, replayed) = self.emit_keyed(
            (frame, visit, 0),
            *cursor,
            state_event(type_name, Phase::Entered),
            || history::state_entered(&state.name, &input),
        );
        *cursor = entered_id;
        let entered_time = replayed.map_or(now, |recorded| recorded.timestamp);
        let mut env = StateEnv {
            state,
            entered_id,
            entered_prev,
            entered_time,
            retry_count: 0,
            frame,
            visit,
            seq: AtomicU32::new(1),
            entered_replayed: replayed.is_some(),
            replayed_at: Mutex::new(replayed.map(|recorded| recorded.timestamp)),
        };
        let step = match &state.kind {
            StateKind::Pass { result } => self.pass(&env, result.as_ref(), input, vars),
            StateKind::Choice { choices, default } => {
                self.choice(&env, choices, *default, input, vars)
            }
            StateKind::Wait(spec) => self.wait(&env, spec, input, vars).await,
            StateKind::Succeed => self.succeed(&env, input, vars),
            StateKind::Fail { error, cause } => {
                let failure = self.fail(&env, error, cause, &input, vars);
                return Err(self.settle(&env, cursor, failure));
            }
            StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_) => {
                self.retrying(&mut env, input, cursor, vars).await
            }
        };
        let step = step.map_err(|failure| self.settle(&env, cursor, failure))?;
        let limit = self.engine.payload_limit;
        if !io::fits(&step.output, limit) {
            return Err(Failure::Error(AslError::new(
                names::DATA_LIMIT_EXCEEDED,
                format!(
                    "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                    state.name
                ),
            )));
        }
        if let Some(assigned) = &step.assigned {
            check_assigned(state, assigned, vars)?;
        }
        let (exited_id, replayed) =
            self.emit_in(&env, *cursor, state_event(type_name, Phase::Exited), || {
                history::state_exited(&state.name, &step.output, step.assigned.as_ref())
            });
        *cursor = exited_id;
        // What a replayed state handed on is what its recorded event says,
        // even if recomputing it (a UUID, the clock) gave something else.
        let mut step = step;
        if let Some(recorded) = replayed.and_then(|event| event.details.as_ref()) {
            let details = &recorded.1;
            if let Some(output) = details.get("output").and_then(parse_text) {
                step.output = output;
            }
            if let Some(Value::Object(assigned)) = details.get("assignedVariables") {
                step.assigned = Some(
                    assigned
                        .iter()
                        .filter_map(|(name, text)| Some((name.clone(), parse_text(text)?)))
                        .collect(),
                );
            }
        }
        if let Some(assigned) = step.assigned {
            vars.extend(assigned);
        }
        Ok((step.output, step.next))
    }

    /// Turns a failure inside a state into what the execution sees: AWS's
    /// "An error occurred while executing the state ..." prefix on runtime
    /// and query errors, and an `EvaluationFailed` event for JSONata errors.
    ///
    /// Every failure of a state passes here, so here it is cut to AWS's
    /// limits (see [`AslError::bounded`]).
    fn settle(&self, env: &StateEnv<'_>, cursor: &mut u64, failure: Failure) -> Failure {
        match failure {
            Failure::Error(error) => Failure::Error(prefixed(env, error).bounded()),
            Failure::Evaluation(failed) => {
                let error = prefixed(env, failed.error).bounded();
                // As recorded on AWS: a Wait's failed expression follows its
                // Entered event; other states' point where Entered pointed.
                let prev = match env.state.kind {
                    StateKind::Wait(_) => env.entered_id,
                    _ => env.entered_prev,
                };
                *cursor = self.emit(env, prev, "EvaluationFailed", || {
                    let mut details = json!({
                        "error": error.error,
                        "cause": error.cause,
                        "state": env.state.name,
                    });
                    if let (Some(location), Some(object)) =
                        (&failed.location, details.as_object_mut())
                    {
                        object.insert("location".into(), json!(location));
                    }
                    Some(("evaluationFailedEventDetails", details))
                });
                Failure::Error(error)
            }
            stop @ (Failure::TimedOut | Failure::HistoryFull) => stop,
        }
    }

    /// Evaluates `f` in a scope whose `$` is `input` and whose `$$` is built on demand.
    fn with_scope<T>(
        &self,
        env: &StateEnv<'_>,
        input: &Value,
        vars: &Vars,
        map_item: Option<MapItem<'_>>,
        f: impl FnOnce(&Scope<'_>) -> T,
    ) -> T {
        let build = || {
            context::build(
                &self.info,
                &env.state.name,
                &format_timestamp(env.entered_time),
                matches!(
                    env.state.kind,
                    StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_)
                )
                .then_some(env.retry_count),
                map_item,
            )
        };
        let context = LazyContext::new(&build);
        let scope = Scope {
            input,
            context: &context,
            variables: vars,
        };
        f(&scope)
    }

    /// Evaluates `f` with `$states.input` = `input` (plus `result` and
    /// `errorOutput` where given) and the variables as of state entry.
    #[allow(clippy::too_many_arguments, reason = "each is one part of `$states`")]
    fn with_jsonata<T>(
        &self,
        env: &StateEnv<'_>,
        input: &Value,
        vars: &Vars,
        map_item: Option<MapItem<'_>>,
        result: Option<&Value>,
        error_output: Option<&Value>,
        f: impl FnOnce(&JsonataEnv<'_>) -> T,
    ) -> T {
        self.with_scope(env, input, vars, map_item, |scope| {
            let mut jsonata = JsonataEnv::from(scope);
            jsonata.result = result;
            jsonata.error_output = error_output;
            f(&jsonata)
        })
    }

    /// `InputPath` or `OutputPath`: absent means `$`, `null` means `{}`.
    /// Input-rooted paths borrow from `value`; others (`$$`, `$var`) copy.
    fn select<'v>(
        &self,
        env: &StateEnv<'_>,
        field: &PathField,
        value: &'v Value,
        vars: &Vars,
    ) -> Result<Cow<'v, Value>, AslError> {
        let path = match field {
            PathField::Default => return Ok(Cow::Borrowed(value)),
            PathField::Null => return Ok(Cow::Owned(Value::Object(Map::new()))),
            PathField::Path(path) => path,
        };
        match path.root() {
            Root::Input => path.select_or_invalid(value).map_err(AslError::runtime),
            _ => self.with_scope(env, value, vars, None, |scope| {
                path.eval_or_invalid(scope)
                    .map(|v| Cow::Owned(v.into_owned()))
                    .map_err(AslError::runtime)
            }),
        }
    }

    /// `InputPath` then `Parameters`: the effective input.
    fn effective_input<'v>(
        &self,
        env: &StateEnv<'_>,
        raw: &'v Value,
        vars: &Vars,
    ) -> Result<Cow<'v, Value>, Failure> {
        if env.jsonata() {
            return match &env.state.arguments {
                Some(arguments) => {
                    let value = self.with_jsonata(env, raw, vars, None, None, None, |j| {
                        arguments.eval("Arguments", j)
                    })?;
                    Ok(Cow::Owned(value))
                }
                None => Ok(Cow::Borrowed(raw)),
            };
        }
        let selected = self.select(env, &env.state.io.input_path, raw, vars)?;
        match &env.state.io.parameters {
            None => Ok(selected),
            Some(template) => {
                let value =
                    self.with_scope(env, &selected, vars, None, |scope| template.eval(scope))?;
                Ok(Cow::Owned(value))
            }
        }
    }

    /// `ResultSelector`, `ResultPath`, `OutputPath` and `Assign` on a state result.
    fn finish(
        &self,
        env: &StateEnv<'_>,
        raw_input: Value,
        result: Value,
        vars: &Vars,
        next: Option<usize>,
    ) -> Result<Step, Failure> {
        if env.jsonata() {
            return self.finish_jsonata(env, raw_input, Some(result), vars, next);
        }
        let io_spec = &env.state.io;
        let result = match &io_spec.result_selector {
            Some(selector) => {
                self.with_scope(env, &result, vars, None, |scope| selector.eval(scope))?
            }
            None => result,
        };
        let assigned = self.assign_path(env, env.state.assign.as_ref(), &result, vars)?;
        let merged = io::merge_result(&io_spec.result_path, raw_input, result)?;
        let output = self.output_path(env, merged, vars)?;
        Ok(Step {
            output,
            next,
            assigned,
        })
    }

    fn output_path(
        &self,
        env: &StateEnv<'_>,
        value: Value,
        vars: &Vars,
    ) -> Result<Value, AslError> {
        match &env.state.io.output_path {
            PathField::Default => Ok(value),
            PathField::Path(path) if *path.root() == Root::Input => {
                path.take_or_invalid(value).map_err(AslError::runtime)
            }
            field => Ok(self.select(env, field, &value, vars)?.into_owned()),
        }
    }

    /// JSONPath-mode `Assign` (a template whose `$` is `value`); a JSONata
    /// one is evaluated by [`Run::assign_jsonata`].
    fn assign_path(
        &self,
        env: &StateEnv<'_>,
        assign: Option<&Assign>,
        value: &Value,
        vars: &Vars,
    ) -> Result<Option<Vars>, Failure> {
        match assign {
            None => Ok(None),
            Some(Assign::Path(template)) => {
                match self.with_scope(env, value, vars, None, |scope| template.eval(scope))? {
                    Value::Object(assigned) => Ok(Some(assigned)),
                    _ => Ok(None),
                }
            }
            Some(Assign::Jsonata(_)) => self.assign_jsonata(env, assign, value, None, None, vars),
        }
    }

    /// JSONata `Assign`: with `$states.input` and, where given, `result` or `errorOutput`.
    fn assign_jsonata(
        &self,
        env: &StateEnv<'_>,
        assign: Option<&Assign>,
        input: &Value,
        result: Option<&Value>,
        error_output: Option<&Value>,
        vars: &Vars,
    ) -> Result<Option<Vars>, Failure> {
        let assigned = match assign {
            None => return Ok(None),
            Some(Assign::Path(template)) => {
                let value = error_output.or(result).unwrap_or(input);
                self.with_scope(env, value, vars, None, |scope| template.eval(scope))?
            }
            Some(Assign::Jsonata(template)) => {
                self.with_jsonata(env, input, vars, None, result, error_output, |j| {
                    template.eval("Assign", j)
                })?
            }
        };
        match assigned {
            Value::Object(assigned) => Ok(Some(assigned)),
            _ => Ok(None),
        }
    }

    /// JSONata mode's end of a state: `Assign` and `Output` see `$states.input`
    /// and `$states.result` (where there is one); without `Output`, the
    /// output is the result, or the input.
    fn finish_jsonata(
        &self,
        env: &StateEnv<'_>,
        raw_input: Value,
        result: Option<Value>,
        vars: &Vars,
        next: Option<usize>,
    ) -> Result<Step, Failure> {
        self.finish_with(
            env,
            env.state.assign.as_ref(),
            env.state.output.as_ref(),
            raw_input,
            result,
            vars,
            next,
        )
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "a state's or a Choice rule's whole ending"
    )]
    fn finish_with(
        &self,
        env: &StateEnv<'_>,
        assign: Option<&Assign>,
        output: Option<&JsonataValue>,
        raw_input: Value,
        result: Option<Value>,
        vars: &Vars,
        next: Option<usize>,
    ) -> Result<Step, Failure> {
        let assigned = self.assign_jsonata(env, assign, &raw_input, result.as_ref(), None, vars)?;
        let output = match output {
            Some(output) => {
                self.with_jsonata(env, &raw_input, vars, None, result.as_ref(), None, |j| {
                    output.eval("Output", j)
                })?
            }
            None => result.unwrap_or(raw_input),
        };
        Ok(Step {
            output,
            next,
            assigned,
        })
    }

    fn next(state: &State) -> Option<usize> {
        match state.transition {
            Transition::Next(next) => Some(next),
            Transition::End => None,
        }
    }

    fn pass(
        &self,
        env: &StateEnv<'_>,
        result: Option<&Value>,
        input: Value,
        vars: &Vars,
    ) -> Result<Step, Failure> {
        if env.jsonata() {
            return self.finish_jsonata(env, input, None, vars, Self::next(env.state));
        }
        let io_spec = &env.state.io;
        let identity = result.is_none()
            && io_spec.parameters.is_none()
            && matches!(io_spec.input_path, PathField::Default)
            && matches!(io_spec.result_path, PathField::Default);
        if identity {
            // The input is the result: move it instead of copying it.
            let assigned = self.assign_path(env, env.state.assign.as_ref(), &input, vars)?;
            let output = self.output_path(env, input, vars)?;
            return Ok(Step {
                output,
                next: Self::next(env.state),
                assigned,
            });
        }
        let result = match result {
            Some(result) => {
                // `Result` replaces the effective input, but InputPath/Parameters
                // still run: their path errors surface as on AWS.
                self.effective_input(env, &input, vars)?;
                result.clone()
            }
            None => self.effective_input(env, &input, vars)?.into_owned(),
        };
        self.finish(env, input, result, vars, Self::next(env.state))
    }

    fn succeed(&self, env: &StateEnv<'_>, input: Value, vars: &Vars) -> Result<Step, Failure> {
        if env.jsonata() {
            return self.finish_jsonata(env, input, None, vars, None);
        }
        let effective = self.effective_input(env, &input, vars)?.into_owned();
        let output = self.output_path(env, effective, vars)?;
        Ok(Step {
            output,
            next: None,
            assigned: None,
        })
    }

    fn choice(
        &self,
        env: &StateEnv<'_>,
        choices: &[ChoiceBranch],
        default: Option<usize>,
        input: Value,
        vars: &Vars,
    ) -> Result<Step, Failure> {
        let effective = self.effective_input(env, &input, vars)?.into_owned();
        let mut chosen = None;
        for branch in choices {
            let matched = match &branch.condition {
                Condition::Rule(rule) => {
                    self.with_scope(env, &effective, vars, None, |scope| rule.eval(scope))?
                }
                Condition::Jsonata(condition) => {
                    self.with_jsonata(env, &effective, vars, None, None, None, |j| {
                        condition.eval_condition("Condition", j)
                    })?
                }
            };
            if matched {
                chosen = Some(branch);
                break;
            }
        }
        // A matching rule's Assign and Output replace the state's own.
        let (next, assign, output) = match chosen {
            Some(branch) => (branch.next, branch.assign.as_ref(), branch.output.as_ref()),
            None => {
                let Some(default) = default else {
                    return Err(AslError::new(
                        names::NO_CHOICE_MATCHED,
                        "No Choice Rule matched and no Default was specified",
                    )
                    .into());
                };
                (
                    default,
                    env.state.assign.as_ref(),
                    env.state.output.as_ref(),
                )
            }
        };
        if env.jsonata() {
            return self.finish_with(env, assign, output, effective, None, vars, Some(next));
        }
        let assigned = self.assign_path(env, assign, &effective, vars)?;
        let output = self.output_path(env, effective, vars)?;
        Ok(Step {
            output,
            next: Some(next),
            assigned,
        })
    }

    async fn wait(
        &self,
        env: &StateEnv<'_>,
        spec: &WaitSpec,
        input: Value,
        vars: &Vars,
    ) -> Result<Step, Failure> {
        let effective = self.effective_input(env, &input, vars)?.into_owned();
        let duration = match spec {
            WaitSpec::Seconds(seconds) => Duration::from_secs(*seconds),
            WaitSpec::SecondsPath(path) => {
                let value = self.with_scope(env, &effective, vars, None, |scope| {
                    path.eval(scope).map(Cow::into_owned)
                });
                let Some(value) = value else {
                    return Err(AslError::runtime(format!(
                        "The SecondsPath parameter does not reference an input value: {path}"
                    ))
                    .into());
                };
                seconds_value(path.as_str(), &value)?
            }
            WaitSpec::Timestamp(text) => until(self.engine.clock.now(), crate::query::parse_timestamp(text).ok_or_else(|| {
                AslError::runtime(format!(
                    "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time format string: {text}"
                ))
            })?),
            WaitSpec::SecondsExpr(seconds) => {
                let seconds = self.with_jsonata(env, &effective, vars, None, None, None, |j| {
                    seconds.eval_integer("Seconds", j, jsonata_fields::SECONDS)
                })?;
                Duration::from_secs(u64::try_from(seconds).unwrap_or_default())
            }
            WaitSpec::TimestampExpr(timestamp) => {
                let at = self.with_jsonata(env, &effective, vars, None, None, None, |j| {
                    timestamp.eval_timestamp("Timestamp", j)
                })?;
                until(self.engine.clock.now(), at)
            }
            WaitSpec::TimestampPath(path) => {
                let value = self.with_scope(env, &effective, vars, None, |scope| {
                    path.eval(scope).map(Cow::into_owned)
                });
                let parsed = value.as_ref().and_then(Value::as_str).and_then(crate::query::parse_timestamp);
                let Some(at) = parsed else {
                    let shown = match &value {
                        Some(Value::String(s)) => s.clone(),
                        Some(other) => history::text(other),
                        None => String::new(),
                    };
                    return Err(AslError::runtime(format!(
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {path} == {shown}"
                    ))
                    .into());
                };
                until(self.engine.clock.now(), at)
            }
        };
        // A replayed Wait sleeps only what is left since it was entered.
        let duration = match spec {
            WaitSpec::Seconds(_) | WaitSpec::SecondsPath(_) | WaitSpec::SecondsExpr(_)
                if env.entered_replayed =>
            {
                until(self.engine.clock.now(), later(env.entered_time, duration))
            }
            _ => duration,
        };
        self.durable().await?;
        self.sleep(duration).await?;
        if env.jsonata() {
            return self.finish_jsonata(env, effective, None, vars, Self::next(env.state));
        }
        let assigned = self.assign_path(env, env.state.assign.as_ref(), &effective, vars)?;
        let output = self.output_path(env, effective, vars)?;
        Ok(Step {
            output,
            next: Self::next(env.state),
            assigned,
        })
    }

    fn fail(
        &self,
        env: &StateEnv<'_>,
        error: &FailField,
        cause: &FailField,
        input: &Value,
        vars: &Vars,
    ) -> Failure {
        let resolve = |field: &FailField, name: &str| -> Result<Option<String>, Failure> {
            if let FailField::Jsonata(value) = field {
                let field_name = name.trim_end_matches("Path");
                return Ok(Some(self.with_jsonata(
                    env,
                    input,
                    vars,
                    None,
                    None,
                    None,
                    |j| value.eval_string(field_name, j),
                )?));
            }
            self.with_scope(env, input, vars, None, |scope| match field {
                FailField::Jsonata(_) => Ok(None),
                FailField::Absent => Ok(None),
                FailField::Literal(text) => Ok(Some(text.clone())),
                FailField::Path(path) => match path.eval(scope) {
                    Some(value) => Ok(Some(match value.as_ref() {
                        Value::String(s) => s.clone(),
                        other => history::text(other),
                    })),
                    None => Err(AslError::runtime(format!(
                        "The JSONPath '{path}' specified for the field '{name}' could not be found in the input '{}'",
                        history::text(input)
                    ))),
                },
                FailField::Intrinsic(call) => call.eval_field(scope, name).map(|value| match value {
                    Value::String(s) => Some(s),
                    other => Some(history::text(&other)),
                }),
            })
            .map_err(Failure::from)
        };
        let error = match resolve(error, "ErrorPath") {
            Ok(error) => error,
            Err(e) => return e,
        };
        let cause = match resolve(cause, "CausePath") {
            Ok(cause) => cause,
            Err(e) => return e,
        };
        Failure::Error(AslError {
            error: error.unwrap_or_default(),
            cause: cause.unwrap_or_default(),
        })
    }

    /// Task, Parallel and Map: attempts under the state's retriers, then its catchers.
    async fn retrying(
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
                    Some(output) => self.with_jsonata(
                        env,
                        &input,
                        vars,
                        None,
                        None,
                        Some(&error_output),
                        |j| output.eval("Output", j),
                    )?,
                    None => error_output,
                }
            } else {
                io::merge_result(&catcher.result_path, input, error_output)?
            };
            return Ok(Step {
                output,
                next: Some(catcher.next),
                assigned,
            });
        }
    }

    async fn attempt(
        &self,
        env: &StateEnv<'_>,
        input: &Value,
        cursor: &mut u64,
        vars: &Vars,
    ) -> Result<Value, Failure> {
        let effective = self.effective_input(env, input, vars)?;
        match &env.state.kind {
            StateKind::Task(task) => self.task(env, task, &effective, cursor, vars).await,
            StateKind::Parallel { branches } => {
                self.parallel(env, branches, &effective, cursor, vars).await
            }
            StateKind::Map(spec) => self.map(env, spec, &effective, cursor, vars).await,
            _ => Err(AslError::runtime("only Task, Parallel and Map states are retried").into()),
        }
    }

    async fn task(
        &self,
        env: &StateEnv<'_>,
        task: &TaskSpec,
        input: &Value,
        cursor: &mut u64,
        vars: &Vars,
    ) -> Result<Value, Failure> {
        let timeout = match &task.timeout {
            Some(field) => Some(self.task_seconds(env, field, "TimeoutSeconds", input, vars)?),
            None => None,
        };
        let heartbeat = match &task.heartbeat {
            Some(field) => Some(self.task_seconds(env, field, "HeartbeatSeconds", input, vars)?),
            None => None,
        };
        let events = TaskEvents::for_resource(&task.resource);
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
        let call = TaskCall {
            resource: &task.resource,
            input,
            execution_id: &self.info.arn,
            state_name: &env.state.name,
            retry_count: env.retry_count,
            timeout: timeout.map(Duration::from_secs),
            // The root frame runs one state at a time.
            concurrent: self.engine.shared_task || !env.frame.is_empty(),
        };
        let outcome = self.engine.tasks.invoke(call).await;
        let usage = outcome.usage;
        // What a task returns as its error is bounded before it is recorded.
        match outcome.result.map_err(AslError::bounded) {
            Ok(output) => {
                if !io::fits(&output, self.engine.payload_limit) {
                    let error = AslError::new(
                        names::DATA_LIMIT_EXCEEDED,
                        format!(
                            "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                            env.state.name
                        ),
                    );
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
    fn task_seconds(
        &self,
        env: &StateEnv<'_>,
        field: &SecondsField,
        name: &str,
        input: &Value,
        vars: &Vars,
    ) -> Result<u64, Failure> {
        match field {
            SecondsField::Literal(seconds) => Ok((*seconds).clamp(1, MAX_SECONDS)),
            SecondsField::Jsonata(seconds) => {
                let seconds = self.with_jsonata(env, input, vars, None, None, None, |j| {
                    seconds.eval_integer(name, j, jsonata_fields::TIMEOUT_SECONDS)
                })?;
                Ok(u64::try_from(seconds).unwrap_or(1).clamp(1, MAX_SECONDS))
            }
            SecondsField::Path(path) => {
                let value = self.with_scope(env, input, vars, None, |scope| {
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
    fn recorded_result(
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

    async fn map(
        &self,
        env: &StateEnv<'_>,
        spec: &MapSpec,
        input: &Value,
        cursor: &mut u64,
        vars: &Vars,
    ) -> Result<Value, Failure> {
        let items: Cow<'_, Value> = match &spec.items {
            Some(items) => Cow::Owned(Value::Array(self.with_jsonata(
                env,
                input,
                vars,
                None,
                None,
                None,
                |j| items.eval_array("Items", j),
            )?)),
            None if env.jsonata() => {
                jsonata_fields::map_input_array(input)?;
                Cow::Borrowed(input)
            }
            None => self.select(env, &spec.items_path, input, vars)?,
        };
        let Value::Array(items) = items.as_ref() else {
            return Err(AslError::runtime(format!(
                "Map state input must be an array but was: {}",
                history::text(&items)
            ))
            .into());
        };
        let concurrency = self.count(env, &spec.max_concurrency, "MaxConcurrency", input, vars)?;
        let started = self.emit(env, *cursor, "MapStateStarted", || {
            Some((
                "mapStateStartedEventDetails",
                json!({"length": items.len()}),
            ))
        });
        *cursor = started;
        let tolerated_count = match &spec.tolerated_failure_count {
            Some(field) => Some(self.count(env, field, "ToleratedFailureCount", input, vars)?),
            None => None,
        };
        let tolerated_percentage = match &spec.tolerated_failure_percentage {
            Some(field) => Some(self.percentage(env, field, input, vars)?),
            None => None,
        };
        // A distributed Map runs each item as a child execution with a
        // history of its own: the parent records only the Map Run.
        let map_run = spec.distributed.then(|| {
            let arn = format!(
                "arn:aws:states:local:000000000000:mapRun:{}/{}:{}",
                self.info.state_machine_name,
                spec.label.as_deref().unwrap_or(&env.state.name),
                uuid::Uuid::new_v4()
            );
            self.emit(env, started, "MapRunStarted", || {
                Some(("mapRunStartedEventDetails", json!({"mapRunArn": arn})))
            })
        });
        let child_run = map_run.map(|_| Run {
            engine: self.engine,
            info: self.info.clone(),
            history: History::new(false),
            journal: Default::default(),
            deadline: self.deadline,
            transitions: Default::default(),
            timeline: self.timeline.clone(),
        });
        let runner = child_run.as_ref().unwrap_or(self);
        let map_cursor = std::sync::Mutex::new(started);
        let iterations = (0..items.len()).map(|index| {
            // Runnable from when the Map starts it, before it is polled.
            let busy = self.timeline.frame();
            let iteration =
                runner.map_iteration(env, spec, input, vars, &items[index], index, &map_cursor);
            async move {
                let _busy = busy;
                iteration.await
            }
        });
        // Whatever MaxConcurrency asks, AWS runs at most 40 iterations of
        // an inline Map and 10,000 child executions of a distributed one.
        let most = match spec.distributed {
            true => DISTRIBUTED_MAP_CONCURRENCY,
            false => INLINE_MAP_CONCURRENCY,
        };
        let limit = match concurrency {
            0 => items.len(),
            n => usize::try_from(n).unwrap_or(usize::MAX),
        }
        .clamp(1, most);
        use futures::StreamExt;
        let observer = self.engine.observer.as_deref();
        if let Some(observer) = observer {
            observer.map_started(&env.state.name, items.len());
        }
        let idle = self.timeline.idle();
        let mut stream = futures::stream::iter(iterations).buffered(limit);
        let mut outputs = Vec::with_capacity(items.len());
        let mut failures = 0usize;
        let mut last = map_run.unwrap_or(started);
        let mut failure = None;
        while let Some(outcome) = stream.next().await {
            if let Some(observer) = observer {
                observer.map_iteration_done(&env.state.name);
            }
            match outcome? {
                Ok((output, id)) => {
                    if map_run.is_none() {
                        last = last.max(id);
                    }
                    outputs.push(output);
                }
                Err((error, failed_cursor)) => {
                    failures += 1;
                    let tolerated = tolerated_count.is_some_and(|n| failures as u64 <= n)
                        || tolerated_percentage
                            .is_some_and(|p| (failures as f64) * 100.0 / (items.len() as f64) <= p);
                    if !tolerated {
                        let error = if tolerated_count.is_some() || tolerated_percentage.is_some() {
                            AslError::new(
                                names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                                "The specified tolerated failure threshold was exceeded",
                            )
                        } else {
                            error
                        };
                        failure = Some((error, failed_cursor));
                        break;
                    }
                    outputs.push(json!({"Error": error.error, "Cause": error.cause}));
                }
            }
        }
        drop(stream);
        drop(idle);
        if let Some(observer) = observer {
            observer.map_finished(&env.state.name);
        }
        if let Some(child) = &child_run {
            let counted = child.transitions.load(std::sync::atomic::Ordering::Relaxed);
            self.transitions
                .fetch_add(counted, std::sync::atomic::Ordering::Relaxed);
        }
        if let Some((error, failed_cursor)) = failure {
            *cursor = match map_run {
                Some(run_started) => self.emit(env, run_started, "MapRunFailed", || {
                    history::error_details("mapRunFailedEventDetails", &error.error, &error.cause)
                }),
                None => failed_cursor,
            };
            return Err(error.into());
        }
        // Observed on AWS: the Exited event follows the Map Run's end, or the
        // last iteration's end; the Succeeded event is a side branch.
        if let Some(run_started) = map_run {
            last = self.emit(env, run_started, "MapRunSucceeded", || None);
        }
        self.emit(env, last, "MapStateSucceeded", || None);
        *cursor = last;
        Ok(Value::Array(outputs))
    }

    /// One Map iteration: `ItemSelector`, then the processor on its own
    /// cursor and variable scope. `Ok(Err(..))` is a failed iteration the
    /// Map may tolerate; `Err(..)` ends the execution.
    #[allow(
        clippy::too_many_arguments,
        reason = "the iteration's whole environment"
    )]
    async fn map_iteration(
        &self,
        env: &StateEnv<'_>,
        spec: &MapSpec,
        input: &Value,
        vars: &Vars,
        item: &Value,
        index: usize,
        map_cursor: &std::sync::Mutex<u64>,
    ) -> Result<Result<(Value, u64), (AslError, u64)>, Failure> {
        let iteration_input = match &spec.item_selector {
            Some(Selector::Path(selector)) => {
                let item = Some(MapItem { index, value: item });
                self.with_scope(env, input, vars, item, |scope| selector.eval(scope))?
            }
            Some(Selector::Jsonata(selector)) => {
                let item = Some(MapItem { index, value: item });
                self.with_jsonata(env, input, vars, item, None, None, |j| {
                    selector.eval("ItemSelector", j)
                })?
            }
            None => item.clone(),
        };
        let name = env.state.name.as_str();
        let details = |member| Some((member, json!({"index": index, "name": name})));
        let prev = *map_cursor.lock().unwrap_or_else(|e| e.into_inner());
        let frame = env.child_frame('m', index);
        let mut cursor = self.emit_frame(&frame, 0, prev, "MapIterationStarted", || {
            details("mapIterationStartedEventDetails")
        });
        let mut iteration_vars = vars.clone();
        let result = self
            .run_machine(
                &spec.processor,
                frame.clone(),
                iteration_input,
                &mut cursor,
                &mut iteration_vars,
            )
            .await;
        match result {
            Ok(output) => {
                *map_cursor.lock().unwrap_or_else(|e| e.into_inner()) = cursor;
                let id = self.emit_frame(&frame, 1, cursor, "MapIterationSucceeded", || {
                    details("mapIterationSucceededEventDetails")
                });
                Ok(Ok((output, id)))
            }
            Err(stop @ (Failure::TimedOut | Failure::HistoryFull)) => Err(stop),
            Err(Failure::Error(error)) | Err(Failure::Evaluation(JsonataError { error, .. })) => {
                self.emit_frame(&frame, 1, cursor, "MapIterationFailed", || {
                    details("mapIterationFailedEventDetails")
                });
                Ok(Err((error, cursor)))
            }
        }
    }

    /// An integer Map setting, literal or from a path, with AWS's error texts.
    fn count(
        &self,
        env: &StateEnv<'_>,
        field: &CountField,
        name: &str,
        input: &Value,
        vars: &Vars,
    ) -> Result<u64, Failure> {
        match field {
            CountField::Literal(n) => Ok(*n),
            CountField::Jsonata(value) => {
                let n = self.with_jsonata(env, input, vars, None, None, None, |j| {
                    value.eval_integer(name, j, jsonata_fields::NON_NEGATIVE)
                })?;
                Ok(u64::try_from(n).unwrap_or_default())
            }
            CountField::Path(path) => {
                let (value, number) = self.number_at(env, path, input, vars, Value::as_i64);
                match number {
                    Some(n) if n < 0 => {
                        Err(AslError::runtime(format!("{name} cannot be negative.")).into())
                    }
                    Some(n) => Ok(n as u64),
                    None => Err(AslError::runtime(format!(
                        "The {name}Path field refers to value \"{}\" which is not a valid integer: {path}",
                        shown(&value)
                    ))
                    .into()),
                }
            }
        }
    }

    /// The value at `path` (`null` when absent) and the number it holds.
    /// AWS also takes a number written as a string, e.g. from a variable.
    fn number_at<N: std::str::FromStr>(
        &self,
        env: &StateEnv<'_>,
        path: &crate::query::jsonpath::JsonPath,
        input: &Value,
        vars: &Vars,
        as_number: fn(&Value) -> Option<N>,
    ) -> (Value, Option<N>) {
        let value = self
            .with_scope(env, input, vars, None, |scope| {
                path.eval(scope).map(Cow::into_owned)
            })
            .unwrap_or(Value::Null);
        let number =
            as_number(&value).or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()));
        (value, number)
    }

    fn percentage(
        &self,
        env: &StateEnv<'_>,
        field: &PercentField,
        input: &Value,
        vars: &Vars,
    ) -> Result<f64, Failure> {
        let value = match field {
            PercentField::Literal(p) => *p,
            PercentField::Jsonata(value) => {
                self.with_jsonata(env, input, vars, None, None, None, |j| {
                    value.eval_number("ToleratedFailurePercentage", j, jsonata_fields::PERCENTAGE)
                })?
            }
            PercentField::Path(path) => {
                let (value, number) = self.number_at(env, path, input, vars, Value::as_f64);
                number.ok_or_else(|| {
                    AslError::runtime(format!(
                        "The ToleratedFailurePercentagePath field refers to value \"{}\" which is not a valid float: {path}",
                        shown(&value)
                    ))
                })?
            }
        };
        if !(0.0..=100.0).contains(&value) {
            return Err(Failure::from(AslError::runtime(
                "ToleratedFailurePercentage must be between 0 and 100.",
            )));
        }
        Ok(value)
    }
}

/// AWS's variable quotas: 256 KiB per variable, 256 KiB per Assign, 10 MiB
/// for all of an execution's variables in scope.
fn check_assigned(state: &State, assigned: &Vars, vars: &Vars) -> Result<(), Failure> {
    const PER_VARIABLE: usize = 256 * 1024;
    const PER_ASSIGN: usize = 256 * 1024;
    const TOTAL: usize = 10 * 1024 * 1024;
    let too_large = |what: String| {
        Failure::Error(AslError::new(
            names::DATA_LIMIT_EXCEEDED,
            format!("The state '{}' assigned {what}.", state.name),
        ))
    };
    let mut block = 0;
    for (name, value) in assigned {
        let size = io::json_len(value);
        if size > PER_VARIABLE {
            return Err(too_large(format!(
                "a value of {size} bytes to the variable '{name}', more than the {PER_VARIABLE} bytes a variable may hold"
            )));
        }
        block += size;
    }
    if block > PER_ASSIGN {
        return Err(too_large(format!(
            "{block} bytes of variables, more than the {PER_ASSIGN} bytes one Assign may hold"
        )));
    }
    let kept: usize = vars
        .iter()
        .filter(|(name, _)| !assigned.contains_key(*name))
        .map(|(_, value)| io::json_len(value))
        .sum();
    if kept + block > TOTAL {
        return Err(too_large(format!(
            "variables that bring the execution's total to {} bytes, more than {TOTAL}",
            kept + block
        )));
    }
    Ok(())
}

/// AWS's "An error occurred while executing the state ..." prefix, on the
/// runtime and query errors a state's own fields raise.
fn prefixed(env: &StateEnv<'_>, mut error: AslError) -> AslError {
    let wanted = matches!(
        error.error.as_str(),
        names::RUNTIME | names::QUERY_EVALUATION_ERROR
    ) && !error
        .cause
        .starts_with("An error occurred while executing the state");
    if wanted {
        error.cause = format!(
            "An error occurred while executing the state '{}' (entered at the event id #{}). {}",
            env.state.name, env.entered_id, error.cause
        );
    }
    error
}

/// A value as AWS quotes it in error texts: strings bare, the rest as JSON.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => history::text(other),
    }
}

/// `ErrorEquals` matching: `States.ALL` matches every error a workflow can
/// handle; `States.TaskFailed` every one but `States.Timeout`.
pub(crate) fn matches(error_equals: &[String], error: &str) -> bool {
    if error == names::RUNTIME
        || error == names::DATA_LIMIT_EXCEEDED && !error_equals.iter().any(|e| e == error)
    {
        return false;
    }
    error_equals.iter().any(|e| {
        e == error || e == names::ALL || (e == names::TASK_FAILED && error != names::TIMEOUT)
    })
}

/// `IntervalSeconds × BackoffRate^attempt`, capped by `MaxDelaySeconds`,
/// with `FULL` jitter drawn uniformly from `[0, delay]`.
///
/// A large `BackoffRate` overflows to infinity: the delay is then the cap
/// (`MaxDelaySeconds`, else the longest interval ASL allows), never NaN.
fn retry_delay(retrier: &Retrier, attempt: u32) -> Duration {
    const LONGEST: f64 = 99_999_999.0;
    let exponent = i32::try_from(attempt).unwrap_or(i32::MAX);
    let cap = retrier.max_delay_seconds.map_or(LONGEST, |max| max as f64);
    let mut seconds = (retrier.interval_seconds as f64 * retrier.backoff_rate.powi(exponent))
        .min(cap)
        .min(LONGEST);
    if retrier.jitter == Jitter::Full {
        let unit = (uuid::Uuid::new_v4().as_u128() >> 75) as f64 / (1u64 << 53) as f64;
        seconds *= unit;
    }
    if seconds.is_nan() {
        seconds = 0.0;
    }
    Duration::try_from_secs_f64(seconds.clamp(0.0, LONGEST)).unwrap_or_default()
}

fn seconds_value(path: &str, value: &Value) -> Result<Duration, AslError> {
    let text = shown(value);
    if let Some(n) = value.as_i64() {
        if n < 0 {
            return Err(AslError::runtime(format!(
                "The SecondsPath parameter references a negative value: {path} == {text}"
            )));
        }
        return Ok(Duration::from_secs(n as u64));
    }
    Err(AslError::runtime(format!(
        "The SecondsPath parameter cannot be parsed as a long value: {path} == {text}"
    )))
}

fn until(now: OffsetDateTime, at: OffsetDateTime) -> Duration {
    Duration::try_from(at - now).unwrap_or(Duration::ZERO)
}

/// `at + duration`, or the last representable instant: a duration from data
/// can be larger than any date.
fn later(at: OffsetDateTime, duration: Duration) -> OffsetDateTime {
    time::Duration::try_from(duration)
        .ok()
        .and_then(|d| at.checked_add(d))
        .unwrap_or_else(|| time::PrimitiveDateTime::MAX.assume_utc())
}

/// History event names and details for a Task's resource kind: a Lambda
/// ARN gets `LambdaFunction*` events as on AWS, anything else `Task*`.
struct TaskEvents<'r> {
    resource: &'r str,
    lambda: bool,
    scheduled: &'static str,
    started: &'static str,
    succeeded: &'static str,
    failed: &'static str,
    timed_out: &'static str,
}

impl<'r> TaskEvents<'r> {
    fn for_resource(resource: &'r str) -> Self {
        if resource.starts_with("arn:aws:lambda:") {
            TaskEvents {
                resource,
                lambda: true,
                scheduled: "LambdaFunctionScheduled",
                started: "LambdaFunctionStarted",
                succeeded: "LambdaFunctionSucceeded",
                failed: "LambdaFunctionFailed",
                timed_out: "LambdaFunctionTimedOut",
            }
        } else {
            TaskEvents {
                resource,
                lambda: false,
                scheduled: "TaskScheduled",
                started: "TaskStarted",
                succeeded: "TaskSucceeded",
                failed: "TaskFailed",
                timed_out: "TaskTimedOut",
            }
        }
    }

    /// `resourceType` and `resource` as AWS splits them: `wasm:enrich` → (`wasm`, `enrich`).
    fn resource_parts(&self) -> (&'r str, &'r str) {
        self.resource
            .split_once(':')
            .unwrap_or(("task", self.resource))
    }

    fn scheduled_details(
        &self,
        input: &Value,
        timeout: Option<u64>,
        heartbeat: Option<u64>,
    ) -> Option<(&'static str, Value)> {
        let mut details = if self.lambda {
            json!({"resource": self.resource, "input": history::text(input), "inputDetails": {"truncated": false}})
        } else {
            let (resource_type, resource) = self.resource_parts();
            json!({"resourceType": resource_type, "resource": resource, "region": "local", "parameters": history::text(input)})
        };
        if let (Some(timeout), Some(object)) = (timeout, details.as_object_mut()) {
            object.insert("timeoutInSeconds".into(), json!(timeout));
        }
        // Only a task (not a Lambda function) event has a heartbeat member.
        if let (Some(heartbeat), Some(object), false) =
            (heartbeat, details.as_object_mut(), self.lambda)
        {
            object.insert("heartbeatInSeconds".into(), json!(heartbeat));
        }
        let member = if self.lambda {
            "lambdaFunctionScheduledEventDetails"
        } else {
            "taskScheduledEventDetails"
        };
        Some((member, details))
    }

    fn started_details(&self) -> Option<(&'static str, Value)> {
        if self.lambda {
            return None;
        }
        let (resource_type, resource) = self.resource_parts();
        Some((
            "taskStartedEventDetails",
            json!({"resourceType": resource_type, "resource": resource}),
        ))
    }

    fn succeeded_details(
        &self,
        output: &Value,
        usage: Option<Usage>,
    ) -> Option<(&'static str, Value)> {
        let mut details =
            json!({"output": history::text(output), "outputDetails": {"truncated": false}});
        add_usage(&mut details, usage);
        let member = if self.lambda {
            "lambdaFunctionSucceededEventDetails"
        } else {
            self.add_resource(&mut details);
            "taskSucceededEventDetails"
        };
        Some((member, details))
    }

    fn error_details(
        &self,
        kind: &'static str,
        error: &AslError,
        usage: Option<Usage>,
    ) -> Option<(&'static str, Value)> {
        let mut details = history::error_object(&error.error, &error.cause);
        add_usage(&mut details, usage);
        if !self.lambda {
            self.add_resource(&mut details);
        }
        let member = match kind {
            "LambdaFunctionFailed" => "lambdaFunctionFailedEventDetails",
            "LambdaFunctionTimedOut" => "lambdaFunctionTimedOutEventDetails",
            "TaskTimedOut" => "taskTimedOutEventDetails",
            _ => "taskFailedEventDetails",
        };
        Some((member, details))
    }

    fn add_resource(&self, details: &mut Value) {
        let (resource_type, resource) = self.resource_parts();
        if let Some(object) = details.as_object_mut() {
            object.insert("resourceType".into(), json!(resource_type));
            object.insert("resource".into(), json!(resource));
        }
    }
}

/// Sandstep's own member of a Task event's details: what the attempt used.
fn add_usage(details: &mut Value, usage: Option<Usage>) {
    if let (Some(usage), Some(object)) = (usage, details.as_object_mut()) {
        object.insert("usage".into(), usage.to_json());
    }
}

/// A value recorded as JSON text in event details.
fn parse_text(text: &Value) -> Option<Value> {
    serde_json::from_str(text.as_str()?).ok()
}
