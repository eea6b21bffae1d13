//! The Map state: items, concurrency, tolerated failures, iterations run
//! as sub-machines (inline) or as child runs (distributed).

use std::borrow::Cow;

use serde_json::{Value, json};

use super::{DISTRIBUTED_MAP_CONCURRENCY, INLINE_MAP_CONCURRENCY, shown};
use super::{Failure, Run, StateEnv, Vars};
use crate::asl::model::*;
use crate::engine::context::MapItem;
use crate::engine::history::{self, History};
use crate::errors::{AslError, names};
use crate::query::jsonata::{JsonataError, fields as jsonata_fields};

impl Run<'_> {
    pub(super) async fn map(
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
            meta: self.meta.clone(),
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
    pub(super) fn count(
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

    pub(super) fn percentage(
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
