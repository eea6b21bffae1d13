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

mod callback;
mod map;
mod map_data;
mod retry;
mod states;
mod task_events;
mod test_state;

pub(crate) use test_state::test_state;

use super::Engine;
use super::clock::Timeline;
use super::context::{self, ExecutionInfo, MapItem};
use super::history::{self, History, HistoryEvent, Phase, format_timestamp, state_event};
use super::io;
use super::journal::{EventKey, Journal};
use crate::asl::model::*;
use crate::errors::{AslError, names};
use crate::query::jsonata::{JsonataEnv, JsonataError, JsonataValue};
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
    /// The execution as the engine's observer sees it (none for TestState).
    pub meta: Option<Arc<super::ExecutionMeta>>,
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
    /// The current attempt's task token, for a callback Task: `$$.Task.Token`.
    task_token: Mutex<Option<Arc<str>>>,
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
            task_token: Mutex::new(None),
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
            let token = env
                .task_token
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
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
                token.as_deref(),
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
/// handle; `States.TaskFailed` every one but `States.Timeout` and
/// `States.DataLimitExceeded` (a task result past the limit: AWS catches it
/// by its name or `States.ALL`, as recorded in lambda/ conformance).
pub(crate) fn matches(error_equals: &[String], error: &str) -> bool {
    if error == names::RUNTIME {
        return false;
    }
    // A missed heartbeat is a timeout too: `States.Timeout` matches it
    // (AWS's error-handling guide), and `States.TaskFailed` does not.
    let heartbeat = error == names::HEARTBEAT_TIMEOUT;
    error_equals.iter().any(|e| {
        e == error
            || e == names::ALL
            || (heartbeat && e == names::TIMEOUT)
            || (e == names::TASK_FAILED
                && error != names::TIMEOUT
                && !heartbeat
                && error != names::DATA_LIMIT_EXCEEDED)
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

/// A value recorded as JSON text in event details.
fn parse_text(text: &Value) -> Option<Value> {
    serde_json::from_str(text.as_str()?).ok()
}
