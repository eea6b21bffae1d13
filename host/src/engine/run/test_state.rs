//! TestState on the interpreter: one visit of one state, its data recorded
//! after each processing step, and Retry/Catch decided rather than
//! carried out (a matching retrier gives `RETRIABLE`, a catcher
//! `CAUGHT_ERROR` and the state it leads to).

use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::{Failure, Run, StateEnv, Step, Vars, io, matches, retry_delay};
use crate::asl::model::*;
use crate::engine::Engine;
use crate::engine::context::ExecutionInfo;
use crate::engine::history::{self, History};
use crate::engine::test_state::{
    ErrorDetails, InspectionData, InspectionLevel, Prepared, TestStateResponse, TestStatus,
};
use crate::errors::{AslError, names};

/// AWS's cause when a Map's failed iterations pass its tolerance.
const THRESHOLD_CAUSE: &str = "The specified tolerated failure threshold was exceeded";

/// The longest a TestState call runs on AWS.
const TEST_STATE_LIMIT: time::Duration = time::Duration::minutes(5);

/// How the visit ended.
enum Ended {
    Done(Step),
    Retriable(AslError),
    Caught(Step, AslError),
    Failed(AslError),
}

pub(crate) async fn test_state(
    engine: &Engine,
    info: ExecutionInfo,
    prepared: Prepared,
) -> TestStateResponse {
    let run = Run {
        engine,
        meta: None,
        info,
        history: History::new(false),
        journal: Default::default(),
        deadline: engine.now() + TEST_STATE_LIMIT,
        transitions: Default::default(),
        timeline: engine.clock.timeline(),
    };
    let _frame = run.timeline.frame();
    let machine = &prepared.machine;
    let state = &machine.states[prepared.state];
    let root: Arc<str> = Arc::from("");
    let env = StateEnv {
        state,
        entered_id: 0,
        entered_prev: 0,
        entered_time: engine.now(),
        retry_count: prepared.config.retrier_retry_count.unwrap_or(0),
        frame: &root,
        visit: 0,
        seq: AtomicU32::new(1),
        entered_replayed: false,
        replayed_at: Mutex::new(None),
        task_token: Mutex::new(None),
    };
    let mut data = InspectionData {
        input: Some(history::text(&prepared.input)),
        ..Default::default()
    };
    let input = prepared.input.clone();
    let mut vars = prepared.variables.clone();
    let ended = run.visit(&env, input, &vars, &prepared, &mut data).await;
    let mut response = TestStateResponse::default();
    let name_of = |index: Option<usize>| index.map(|i| machine.states[i].name.clone());
    let mut finish = |step: Step, response: &mut TestStateResponse| {
        response.output = Some(history::text(&step.output));
        response.next_state = name_of(step.next);
        if let Some(assigned) = step.assigned {
            vars.extend(assigned);
            data.variables = Some(history::text(&Value::Object(vars.clone())));
        }
    };
    match ended {
        Ended::Done(step) => {
            response.status = TestStatus::Succeeded;
            finish(step, &mut response);
        }
        Ended::Caught(step, error) => {
            response.status = TestStatus::CaughtError;
            finish(step, &mut response);
            set_error(&mut response, error);
        }
        Ended::Retriable(error) => {
            response.status = TestStatus::Retriable;
            set_error(&mut response, error);
        }
        Ended::Failed(error) => {
            response.status = TestStatus::Failed;
            set_error(&mut response, error);
        }
    }
    if prepared.level != InspectionLevel::Info {
        response.inspection_data = Some(data);
    }
    response
}

fn set_error(response: &mut TestStateResponse, error: AslError) {
    let error = error.bounded();
    response.error = Some(error.error).filter(|e| !e.is_empty());
    response.cause = Some(error.cause).filter(|c| !c.is_empty());
}

fn text(value: &Value) -> Option<String> {
    Some(history::text(value))
}

impl Run<'_> {
    async fn visit(
        &self,
        env: &StateEnv<'_>,
        input: Value,
        vars: &Vars,
        prepared: &Prepared,
        data: &mut InspectionData,
    ) -> Ended {
        let mut cursor = 0;
        let state = env.state;
        let outcome = match &state.kind {
            StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_) => {
                return self.visit_retrying(env, input, vars, prepared, data).await;
            }
            StateKind::Pass { result } => self.traced_pass(env, result.as_ref(), input, vars, data),
            StateKind::Choice { choices, default } => {
                if !env.jsonata() {
                    match self.select(env, &state.io.input_path, &input, vars) {
                        Ok(selected) => data.after_input_path = text(&selected),
                        Err(error) => return self.failed(env, error.into()),
                    }
                }
                self.choice(env, choices, *default, input, vars)
            }
            // The state's input and output only: TestState does not wait.
            StateKind::Succeed | StateKind::Wait(_) => {
                self.traced_passthrough(env, input, vars, Self::next(state), data)
            }
            StateKind::Fail { error, cause } => {
                if !env.jsonata() {
                    data.after_input_path = text(&input);
                }
                Err(self.fail(env, error, cause, &input, vars))
            }
        };
        let _ = &mut cursor;
        match outcome {
            Ok(step) => Ended::Done(step),
            Err(failure) => self.failed(env, failure),
        }
    }

    fn failed(&self, env: &StateEnv<'_>, failure: Failure) -> Ended {
        let mut cursor = 0;
        match self.settle(env, &mut cursor, failure) {
            Failure::Error(error) => Ended::Failed(error),
            Failure::TimedOut => Ended::Failed(AslError::new(
                names::TIMEOUT,
                "The state did not finish within the TestState time limit.",
            )),
            _ => Ended::Failed(AslError::runtime("The state could not be run.")),
        }
    }

    /// Succeed and Wait: `InputPath` then `OutputPath` (JSONPath), `Output` (JSONata).
    fn traced_passthrough(
        &self,
        env: &StateEnv<'_>,
        input: Value,
        vars: &Vars,
        next: Option<usize>,
        data: &mut InspectionData,
    ) -> Result<Step, Failure> {
        if env.jsonata() {
            return self.finish_jsonata(env, input, None, vars, next);
        }
        let selected = self
            .select(env, &env.state.io.input_path, &input, vars)?
            .into_owned();
        data.after_input_path = text(&selected);
        let assigned = self.assign_path(env, env.state.assign.as_ref(), &selected, vars)?;
        let output = self.output_path(env, selected, vars)?;
        Ok(Step {
            output,
            next,
            assigned,
        })
    }

    fn traced_pass(
        &self,
        env: &StateEnv<'_>,
        result: Option<&Value>,
        input: Value,
        vars: &Vars,
        data: &mut InspectionData,
    ) -> Result<Step, Failure> {
        if env.jsonata() {
            return self.finish_jsonata(env, input, None, vars, Self::next(env.state));
        }
        let result = match result {
            // As on AWS: with `Result`, the steps before it are not shown.
            Some(result) => {
                self.effective_input(env, &input, vars)?;
                data.result = text(result);
                result.clone()
            }
            None => self.traced_effective_input(env, &input, vars, true, true, data)?,
        };
        self.traced_finish(env, input, result, vars, data)
    }

    /// `InputPath` and `Parameters`, or JSONata `Arguments`, each recorded
    /// where AWS shows it.
    fn traced_effective_input(
        &self,
        env: &StateEnv<'_>,
        input: &Value,
        vars: &Vars,
        show_input_path: bool,
        show_parameters: bool,
        data: &mut InspectionData,
    ) -> Result<Value, Failure> {
        if env.jsonata() {
            return Ok(match &env.state.arguments {
                Some(arguments) => {
                    let value = self.with_jsonata(env, input, vars, None, None, None, |j| {
                        arguments.eval("Arguments", j)
                    })?;
                    if show_parameters {
                        data.after_arguments = text(&value);
                    }
                    value
                }
                None => input.clone(),
            });
        }
        let selected = self
            .select(env, &env.state.io.input_path, input, vars)?
            .into_owned();
        if show_input_path {
            data.after_input_path = text(&selected);
        }
        let parameters = match &env.state.io.parameters {
            Some(template) => {
                self.with_scope(env, &selected, vars, None, |scope| template.eval(scope))?
            }
            None => selected,
        };
        if show_parameters {
            data.after_parameters = text(&parameters);
        }
        Ok(parameters)
    }

    /// JSONPath: `ResultSelector`, `ResultPath`, `OutputPath` and `Assign`,
    /// each step recorded; JSONata: `Assign` and `Output`.
    fn traced_finish(
        &self,
        env: &StateEnv<'_>,
        input: Value,
        result: Value,
        vars: &Vars,
        data: &mut InspectionData,
    ) -> Result<Step, Failure> {
        let next = Self::next(env.state);
        if env.jsonata() {
            return self.finish_jsonata(env, input, Some(result), vars, next);
        }
        let io_spec = &env.state.io;
        let result = match &io_spec.result_selector {
            Some(selector) => {
                self.with_scope(env, &result, vars, None, |scope| selector.eval(scope))?
            }
            None => result,
        };
        data.after_result_selector = text(&result);
        let assigned = self.assign_path(env, env.state.assign.as_ref(), &result, vars)?;
        let merged = io::merge_result(&io_spec.result_path, input, result)?;
        data.after_result_path = text(&merged);
        let output = self.output_path(env, merged, vars)?;
        Ok(Step {
            output,
            next,
            assigned,
        })
    }

    /// Task, Parallel and Map: the work (or its mock), then Retry and Catch
    /// decided as the state's retriers and catchers say.
    async fn visit_retrying(
        &self,
        env: &StateEnv<'_>,
        input: Value,
        vars: &Vars,
        prepared: &Prepared,
        data: &mut InspectionData,
    ) -> Ended {
        let outcome = match self.traced_work(env, &input, vars, prepared, data).await {
            Ok(outcome) => outcome,
            Err(error) => return Ended::Failed(error),
        };
        let error = match outcome {
            Ok(result) => {
                if matches!(env.state.kind, StateKind::Task(_)) {
                    data.result = text(&result);
                }
                return match self.traced_finish(env, input, result, vars, data) {
                    Ok(step) => Ended::Done(step),
                    Err(failure) => self.failed(env, failure),
                };
            }
            Err(failure) => match self.failed(env, failure) {
                Ended::Failed(error) => error,
                other => return other,
            },
        };
        if error.error == names::RUNTIME {
            return Ended::Failed(error);
        }
        let state = env.state;
        let mut details = ErrorDetails::default();
        let mut ended = None;
        if let Some(i) = state
            .retry
            .iter()
            .position(|r| matches(&r.error_equals, &error.error))
        {
            details.retry_index = Some(i);
            let retrier = &state.retry[i];
            let done = prepared.config.retrier_retry_count.unwrap_or(0);
            if done < retrier.max_attempts {
                details.retry_backoff_interval_seconds = Some(retry_delay(retrier, done).as_secs());
                ended = Some(Ended::Retriable(error.clone()));
            }
        }
        let ended = match ended {
            Some(ended) => ended,
            None => match state
                .catch
                .iter()
                .position(|c| matches(&c.error_equals, &error.error))
            {
                Some(j) => {
                    details.catch_index = Some(j);
                    match self.caught(env, &state.catch[j], input, &error, vars) {
                        Ok(step) => Ended::Caught(step, error),
                        Err(failure) => self.failed(env, failure),
                    }
                }
                None => Ended::Failed(error),
            },
        };
        if details != ErrorDetails::default() {
            data.error_details = Some(details);
        }
        ended
    }

    /// The state's effective input and work: the mock's result or error, or
    /// the real work. A Map's settings are recorded, and its failed
    /// iterations (`mapIterationFailureCount`) checked against its tolerance.
    /// The outer `Err` is an error AWS reports as it is, before any mock.
    async fn traced_work(
        &self,
        env: &StateEnv<'_>,
        input: &Value,
        vars: &Vars,
        prepared: &Prepared,
        data: &mut InspectionData,
    ) -> Result<Result<Value, Failure>, AslError> {
        // A JSONPath Map's items must be an array, mocked or not; AWS names
        // the path (a context path with one `$`) and adds no prefix.
        if let StateKind::Map(spec) = &env.state.kind
            && let PathField::Path(path) = &spec.items_path
            && !env.jsonata()
            && let Ok(effective) = self.effective_input(env, input, vars)
            && let Ok(items) = self.select(env, &spec.items_path, &effective, vars)
            && !items.is_array()
        {
            data.after_input_path = text(&effective);
            let shown = path.to_string();
            let shown = shown
                .strip_prefix('$')
                .filter(|s| s.starts_with('$'))
                .unwrap_or(&shown);
            return Err(AslError::runtime(format!(
                "Reference path \"{shown}\" must point to array."
            )));
        }
        Ok(self
            .traced_work_inner(env, input, vars, prepared, data)
            .await)
    }

    async fn traced_work_inner(
        &self,
        env: &StateEnv<'_>,
        input: &Value,
        vars: &Vars,
        prepared: &Prepared,
        data: &mut InspectionData,
    ) -> Result<Value, Failure> {
        let state = env.state;
        let (show_input_path, show_parameters) = match state.kind {
            StateKind::Task(_) => (true, true),
            StateKind::Map(_) => (true, false),
            _ => (false, false),
        };
        let effective =
            self.traced_effective_input(env, input, vars, show_input_path, show_parameters, data)?;
        let mut tolerance = None;
        if let StateKind::Map(spec) = &state.kind {
            let items_len = if env.jsonata() {
                None
            } else {
                let items = self.select(env, &spec.items_path, &effective, vars)?;
                data.after_items_path = text(&items);
                items.as_array().map(Vec::len)
            };
            data.max_concurrency = Some(self.count(
                env,
                &spec.max_concurrency,
                "MaxConcurrency",
                &effective,
                vars,
            )?);
            if let Some(field) = &spec.tolerated_failure_count {
                let count = self.count(env, field, "ToleratedFailureCount", &effective, vars)?;
                data.tolerated_failure_count = Some(count);
                tolerance = Some((Some(count), None));
            }
            if let Some(field) = &spec.tolerated_failure_percentage {
                let percentage = self.percentage(env, field, &effective, vars)?;
                data.tolerated_failure_percentage = Some(percentage);
                let count = tolerance.and_then(|(count, _)| count);
                tolerance = Some((count, Some((percentage, items_len))));
            }
        }
        let result = match &prepared.mock {
            Some(Ok(result)) => result.clone(),
            Some(Err(error)) => return Err(error.clone().into()),
            None => {
                let mut cursor = 0;
                self.attempt(env, input, &mut cursor, vars).await?
            }
        };
        if let (Some(failures), Some((count, percentage))) =
            (prepared.config.map_iteration_failure_count, tolerance)
        {
            let over_count = count.is_some_and(|count| failures > count);
            let over_percentage = percentage.is_some_and(|(percentage, items)| {
                let total = items
                    .or_else(|| result.as_array().map(Vec::len))
                    .unwrap_or(0);
                total > 0 && failures as f64 * 100.0 / total as f64 > percentage
            });
            if over_count || over_percentage {
                return Err(AslError::new(
                    names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                    THRESHOLD_CAUSE,
                )
                .into());
            }
        }
        Ok(result)
    }
}
