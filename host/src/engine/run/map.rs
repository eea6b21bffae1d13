//! The Map state: items, concurrency, tolerated failures, iterations run
//! as sub-machines (inline) or as child runs (distributed).

use std::borrow::Cow;

use futures::StreamExt as _;
use futures::stream::BoxStream;
use serde_json::{Value, json};

use super::map_data::{Ended, batches, execution_record};

use super::{DISTRIBUTED_MAP_CONCURRENCY, INLINE_MAP_CONCURRENCY, shown};
use super::{Failure, Run, StateEnv, Vars};
use crate::asl::model::*;
use crate::engine::context::MapItem;
use crate::engine::history::{self, History};
use crate::engine::io;
use crate::errors::{AslError, names};
use crate::objects::reader;
use crate::objects::writer::ResultWriter;
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
        // With an ItemReader the items come from a bucket and ItemsPath is
        // not applied (recorded on AWS: an ItemsPath that matches nothing
        // still maps over the object's items).
        let reading = match &spec.item_reader {
            Some(reader) => Some(self.reader_request(env, reader, input, vars)?),
            None => None,
        };
        let items: Option<Cow<'_, Value>> = match (&reading, &spec.items) {
            (Some(_), _) => None,
            (None, Some(items)) => Some(Cow::Owned(Value::Array(self.with_jsonata(
                env,
                input,
                vars,
                None,
                None,
                None,
                |j| items.eval_array("Items", j),
            )?))),
            (None, None) if env.jsonata() => {
                jsonata_fields::map_input_array(input)?;
                Some(Cow::Borrowed(input))
            }
            (None, None) => Some(self.select(env, &spec.items_path, input, vars)?),
        };
        let in_memory = match items.as_deref() {
            None => None,
            Some(Value::Array(items)) => Some(items),
            Some(other) => {
                return Err(AslError::runtime(format!(
                    "Map state input must be an array but was: {}",
                    history::text(other)
                ))
                .into());
            }
        };
        let concurrency = self.count(env, &spec.max_concurrency, "MaxConcurrency", input, vars)?;
        // Items read from a bucket are not counted up front (AWS records 0).
        let length = in_memory.map_or(0, Vec::len);
        let started = self.emit(env, *cursor, "MapStateStarted", || {
            Some(("mapStateStartedEventDetails", json!({"length": length})))
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
        let batching = match &spec.item_batcher {
            Some(batcher) => Some(self.batching(env, batcher, input, vars)?),
            None => None,
        };
        let writing = match (&spec.result_writer, spec.distributed) {
            (Some(writer), true) => Some(self.writer_request(env, writer, input, vars)?),
            _ => None,
        };
        // A distributed Map runs each item as a child execution with a
        // history of its own: the parent records only the Map Run.
        let label = spec.label.as_deref().unwrap_or(&env.state.name);
        let map_run_arn = spec.distributed.then(|| {
            format!(
                "arn:aws:states:local:000000000000:mapRun:{}/{label}:{}",
                self.info.state_machine_name,
                uuid::Uuid::new_v4()
            )
        });
        let map_run = map_run_arn.as_ref().map(|arn| {
            self.emit(env, started, "MapRunStarted", || {
                Some(("mapRunStartedEventDetails", json!({"mapRunArn": arn})))
            })
        });
        let run_failed = |cursor: &mut u64, run_started: u64, error: AslError| {
            *cursor = self.emit(env, run_started, "MapRunFailed", || {
                history::error_details("mapRunFailedEventDetails", &error.error, &error.cause)
            });
            Err(Failure::from(error))
        };
        let buckets = self.engine.tasks.buckets();
        let no_buckets = || {
            AslError::new(
                names::ITEM_READER_FAILED,
                "no bucket is declared: add [buckets.NAME] to the task manifest (sandstep.toml)",
            )
        };
        let source: BoxStream<'_, Result<Cow<'_, Value>, AslError>> = match (reading, in_memory) {
            (Some(request), _) => {
                let opened = match buckets {
                    Some(buckets) => {
                        reader::items(
                            buckets,
                            request.source,
                            request.input_type,
                            request.max_items,
                        )
                        .await
                    }
                    None => Err(no_buckets()),
                };
                match opened {
                    Ok(items) => items.map(|item| item.map(Cow::Owned)).boxed(),
                    Err(error) => return run_failed(cursor, map_run.unwrap_or(started), error),
                }
            }
            (None, Some(items)) => {
                futures::stream::iter(items.iter().map(|v| Ok(Cow::Borrowed(v)))).boxed()
            }
            (None, None) => futures::stream::empty().boxed(),
        };
        let mut writer = match (writing, &map_run_arn, map_run) {
            (Some(request), Some(arn), Some(run_started)) => {
                let opened = match buckets {
                    Some(buckets) => ResultWriter::new(buckets, &request.0, &request.1, arn),
                    None => Err(AslError::new(
                        names::RESULT_WRITER_FAILED,
                        no_buckets().cause,
                    )),
                };
                match opened {
                    Ok(writer) => Some(writer),
                    Err(error) => return run_failed(cursor, run_started, error),
                }
            }
            _ => None,
        };
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
        // ItemSelector applies to each item before batching (DMAP-02).
        let inputs = source.enumerate().map(|(index, item)| {
            let item = item.map_err(Ended::Reader)?;
            self.select_item(env, spec, input, vars, item, index)
                .map_err(Ended::Failure)
        });
        let inputs: BoxStream<'_, Result<Value, Ended>> = match batching {
            Some(batching) => batches(inputs.boxed(), batching),
            None => inputs.boxed(),
        };
        let keep_input = writer.is_some();
        let clock = &self.engine.clock;
        let iterations = inputs.enumerate().map(|(index, iteration_input)| {
            // Runnable from when the Map starts it, before it is polled.
            let busy = self.timeline.frame();
            let map_cursor = &map_cursor;
            async move {
                let _busy = busy;
                let iteration_input = iteration_input?;
                let kept = keep_input.then(|| iteration_input.clone());
                let start_date = clock.now();
                let outcome = runner
                    .map_iteration(env, spec, vars, iteration_input, index, map_cursor)
                    .await
                    .map_err(Ended::Failure)?;
                Ok::<_, Ended>((outcome, kept, start_date))
            }
        });
        // Whatever MaxConcurrency asks, AWS runs at most 40 iterations of
        // an inline Map and 10,000 child executions of a distributed one.
        let most = match spec.distributed {
            true => DISTRIBUTED_MAP_CONCURRENCY,
            false => INLINE_MAP_CONCURRENCY,
        };
        let limit = match concurrency {
            0 => in_memory.map_or(most, Vec::len),
            n => usize::try_from(n).unwrap_or(usize::MAX),
        }
        .clamp(1, most);
        let observer = self.engine.observer.as_deref();
        if let Some(observer) = observer {
            observer.map_started(&env.state.name, length);
        }
        let idle = self.timeline.idle();
        let mut stream = iterations.buffered(limit);
        let mut outputs = Vec::with_capacity(length);
        // A distributed Map's results are counted as they arrive: past the
        // payload limit they are dropped, not held (the state fails anyway).
        let mut kept_bytes = 0usize;
        let mut too_large = false;
        let mut total = 0usize;
        let mut failures = 0usize;
        let mut last = map_run.unwrap_or(started);
        let mut failure = None;
        let exceeded = || {
            AslError::new(
                names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                "The specified tolerated failure threshold was exceeded",
            )
        };
        while let Some(outcome) = stream.next().await {
            if let Some(observer) = observer {
                observer.map_iteration_done(&env.state.name);
            }
            let (outcome, kept, start_date) = match outcome {
                Ok(done) => done,
                Err(Ended::Failure(stop)) => return Err(stop),
                Err(Ended::Reader(error)) => {
                    failure = Some((error, last));
                    break;
                }
            };
            total += 1;
            let record = |result: Result<&Value, &AslError>| {
                execution_record(
                    map_run_arn.as_deref().unwrap_or_default(),
                    kept.as_ref().unwrap_or(&Value::Null),
                    result,
                    start_date,
                    clock.now(),
                )
            };
            match outcome {
                Ok((output, id)) => {
                    if map_run.is_none() {
                        last = last.max(id);
                    }
                    if let Some(writer) = &mut writer {
                        if let Err(error) = writer.push(&record(Ok(&output))).await {
                            failure = Some((error, last));
                            break;
                        }
                    } else if spec.distributed && !too_large {
                        kept_bytes = kept_bytes.saturating_add(io::json_len(&output) + 1);
                        too_large = kept_bytes > self.engine.payload_limit;
                        outputs.push(output);
                        if too_large {
                            outputs = Vec::new();
                        }
                    } else if !too_large {
                        outputs.push(output);
                    }
                }
                Err((error, failed_cursor)) => {
                    failures += 1;
                    let tolerated = tolerated_count.is_some_and(|n| failures as u64 <= n)
                        || tolerated_percentage.is_some_and(|p| match in_memory {
                            Some(items) => (failures as f64) * 100.0 / (items.len() as f64) <= p,
                            // Streamed items: the share is known at the end.
                            None => true,
                        });
                    if !tolerated {
                        let error = if tolerated_count.is_some() || tolerated_percentage.is_some() {
                            exceeded()
                        } else {
                            error
                        };
                        failure = Some((error, failed_cursor));
                        break;
                    }
                    if let Some(writer) = &mut writer {
                        if let Err(error) = writer.push(&record(Err(&error))).await {
                            failure = Some((error, last));
                            break;
                        }
                    } else if !too_large {
                        outputs.push(json!({"Error": error.error, "Cause": error.cause}));
                    }
                }
            }
        }
        drop(stream);
        drop(idle);
        if failure.is_none()
            && in_memory.is_none()
            && failures > 0
            && tolerated_count.is_none_or(|n| failures as u64 > n)
            && tolerated_percentage
                .is_some_and(|p| (failures as f64) * 100.0 / (total.max(1) as f64) > p)
        {
            failure = Some((exceeded(), last));
        }
        if let Some(observer) = observer {
            observer.map_finished(&env.state.name);
        }
        if let Some(child) = &child_run {
            let counted = child.transitions.load(std::sync::atomic::Ordering::Relaxed);
            self.transitions
                .fetch_add(counted, std::sync::atomic::Ordering::Relaxed);
        }
        let output = match (failure, writer) {
            (Some(failure), _) => Err(failure),
            (None, Some(writer)) => writer.finish().await.map_err(|error| (error, last)),
            (None, None) if too_large => Err((
                AslError::new(
                    names::DATA_LIMIT_EXCEEDED,
                    format!(
                        "The state/task '{}' returned a result with a size exceeding the maximum number of bytes service limit.",
                        env.state.name
                    ),
                ),
                last,
            )),
            (None, None) => Ok(Value::Array(outputs)),
        };
        let output = match output {
            Ok(output) => output,
            Err((error, failed_cursor)) => {
                return match map_run {
                    Some(run_started) => run_failed(cursor, run_started, error),
                    None => {
                        *cursor = failed_cursor;
                        Err(error.into())
                    }
                };
            }
        };
        // Observed on AWS: the Exited event follows the Map Run's end, or the
        // last iteration's end; the Succeeded event is a side branch.
        if let Some(run_started) = map_run {
            last = self.emit(env, run_started, "MapRunSucceeded", || None);
        }
        self.emit(env, last, "MapStateSucceeded", || None);
        *cursor = last;
        Ok(output)
    }

    /// `ItemSelector` (or the item itself) for the item at `index`.
    fn select_item(
        &self,
        env: &StateEnv<'_>,
        spec: &MapSpec,
        input: &Value,
        vars: &Vars,
        item: Cow<'_, Value>,
        index: usize,
    ) -> Result<Value, Failure> {
        Ok(match &spec.item_selector {
            Some(Selector::Path(selector)) => {
                let item = Some(MapItem {
                    index,
                    value: &item,
                });
                self.with_scope(env, input, vars, item, |scope| selector.eval(scope))?
            }
            Some(Selector::Jsonata(selector)) => {
                let item = Some(MapItem {
                    index,
                    value: &item,
                });
                self.with_jsonata(env, input, vars, item, None, None, |j| {
                    selector.eval("ItemSelector", j)
                })?
            }
            None => item.into_owned(),
        })
    }

    /// One Map iteration: the processor on its own cursor and variable
    /// scope. `Ok(Err(..))` is a failed iteration the Map may tolerate;
    /// `Err(..)` ends the execution.
    async fn map_iteration(
        &self,
        env: &StateEnv<'_>,
        spec: &MapSpec,
        vars: &Vars,
        iteration_input: Value,
        index: usize,
        map_cursor: &std::sync::Mutex<u64>,
    ) -> Result<Result<(Value, u64), (AslError, u64)>, Failure> {
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
