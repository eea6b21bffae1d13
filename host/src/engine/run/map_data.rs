//! A Distributed Map's data settings, evaluated for one visit: what the
//! `ItemReader` reads, how `ItemBatcher` groups items, where `ResultWriter`
//! exports, and the execution records it writes. The reading and writing
//! themselves are `objects::reader` and `objects::writer`.

use futures::StreamExt as _;
use futures::stream::BoxStream;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::{Failure, Run, StateEnv, Vars};
use crate::asl::model::*;
use crate::engine::history::format_timestamp;
use crate::engine::io;
use crate::errors::AslError;
use crate::objects::reader::{self, InputType, Source};

/// Why the items stopped coming: the reader failed (the Map Run fails,
/// `States.ItemReaderFailed`), or the execution must stop.
pub(super) enum Ended {
    Reader(AslError),
    Failure(Failure),
}

/// The `ItemReader`'s request, evaluated.
pub(super) struct ReaderRequest {
    pub source: Source,
    pub input_type: Option<InputType>,
    pub max_items: u64,
}

/// The `ItemBatcher`'s limits, evaluated.
#[derive(Clone)]
pub(super) struct Batching {
    max_items: Option<usize>,
    max_bytes: Option<usize>,
    batch_input: Option<Value>,
}

/// A definition's text as a message quotes it: at most 256 characters.
fn cut(text: &str) -> String {
    text.chars().take(256).collect()
}

/// AWS's ceiling on `MaxInputBytesPerBatch` (DMAP-06).
const MAX_BATCH_BYTES: u64 = 256 * 1024;

impl Run<'_> {
    /// `Parameters` (JSONPath) or `Arguments` (JSONata) of a reader or writer.
    fn request(
        &self,
        env: &StateEnv<'_>,
        selector: Option<&Selector>,
        field: &str,
        input: &Value,
        vars: &Vars,
    ) -> Result<Value, Failure> {
        Ok(match selector {
            Some(Selector::Path(template)) => {
                self.with_scope(env, input, vars, None, |scope| template.eval(scope))?
            }
            Some(Selector::Jsonata(value)) => {
                self.with_jsonata(env, input, vars, None, None, None, |j| value.eval(field, j))?
            }
            None => Value::Object(Map::new()),
        })
    }

    pub(super) fn reader_request(
        &self,
        env: &StateEnv<'_>,
        spec: &ItemReaderSpec,
        input: &Value,
        vars: &Vars,
    ) -> Result<ReaderRequest, Failure> {
        let field = if env.jsonata() {
            "Arguments"
        } else {
            "Parameters"
        };
        let request = self.request(env, spec.parameters.as_ref(), field, input, vars)?;
        let text = |name: &str| request.get(name).and_then(Value::as_str).map(str::to_owned);
        let bucket = text("Bucket").ok_or_else(|| {
            reader::failed(format!(
                "the ItemReader's {field} need \"Bucket\" (a string)"
            ))
        })?;
        let source = match spec.resource.rsplit(':').next() {
            Some("getObject") => Source::Object {
                bucket,
                key: text("Key").ok_or_else(|| {
                    reader::failed(format!("the ItemReader's {field} need \"Key\" (a string)"))
                })?,
            },
            Some("listObjectsV2") => Source::Listing {
                bucket,
                prefix: text("Prefix").unwrap_or_default(),
            },
            _ => {
                return Err(reader::failed(format!(
                    "the ItemReader Resource {:?} is not one Sandstep reads: use arn:aws:states:::s3:getObject or arn:aws:states:::s3:listObjectsV2",
                    cut(&spec.resource)
                ))
                .into());
            }
        };
        let input_type = match spec.input_type.as_deref() {
            None => None,
            Some("JSON") => Some(InputType::Json),
            Some("JSONL") => Some(InputType::Jsonl),
            Some("CSV") => Some(InputType::Csv {
                headers: spec.csv_headers.clone(),
                delimiter: spec.csv_delimiter,
            }),
            Some(other) => {
                return Err(reader::failed(format!(
                    "ReaderConfig InputType {:?} is not supported by Sandstep yet (JSON, JSONL and CSV are)",
                    cut(other)
                ))
                .into());
            }
        };
        let max_items = match &spec.max_items {
            Some(field) => self.count(env, field, "MaxItems", input, vars)?,
            None => 0,
        };
        if max_items > reader::MAX_ITEMS {
            return Err(
                reader::failed(format!("MaxItems must be at most {}", reader::MAX_ITEMS)).into(),
            );
        }
        Ok(ReaderRequest {
            source,
            input_type,
            max_items,
        })
    }

    pub(super) fn batching(
        &self,
        env: &StateEnv<'_>,
        spec: &ItemBatcherSpec,
        input: &Value,
        vars: &Vars,
    ) -> Result<Batching, Failure> {
        let count = |field: &Option<CountField>, name: &str| -> Result<Option<u64>, Failure> {
            match field {
                Some(field) => Ok(Some(self.count(env, field, name, input, vars)?)),
                None => Ok(None),
            }
        };
        let max_items = count(&spec.max_items_per_batch, "MaxItemsPerBatch")?;
        let max_bytes = count(&spec.max_input_bytes_per_batch, "MaxInputBytesPerBatch")?
            .map(|n| n.min(MAX_BATCH_BYTES));
        let batch_input = match &spec.batch_input {
            Some(selector) => Some(self.request(env, Some(selector), "BatchInput", input, vars)?),
            None => None,
        };
        let size = |n: Option<u64>| {
            n.filter(|n| *n > 0)
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
        };
        Ok(Batching {
            max_items: size(max_items),
            max_bytes: size(max_bytes),
            batch_input,
        })
    }

    /// The `ResultWriter`'s bucket and prefix.
    pub(super) fn writer_request(
        &self,
        env: &StateEnv<'_>,
        spec: &ResultWriterSpec,
        input: &Value,
        vars: &Vars,
    ) -> Result<(String, String), Failure> {
        let field = if env.jsonata() {
            "Arguments"
        } else {
            "Parameters"
        };
        let request = self.request(env, spec.parameters.as_ref(), field, input, vars)?;
        let bucket = request
            .get("Bucket")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                AslError::new(
                    crate::errors::names::RESULT_WRITER_FAILED,
                    format!("the ResultWriter's {field} need \"Bucket\" (a string)"),
                )
            })?;
        let prefix = request.get("Prefix").and_then(Value::as_str).unwrap_or("");
        Ok((bucket.to_owned(), prefix.to_owned()))
    }
}

/// Groups items into batches (`{"Items": [...], "BatchInput": ...}`) of at
/// most `max_items` items and `max_bytes` bytes of JSON; an item larger
/// than `max_bytes` alone is a batch of one.
pub(super) fn batches<'s>(
    inputs: BoxStream<'s, Result<Value, Ended>>,
    batching: Batching,
) -> BoxStream<'s, Result<Value, Ended>> {
    let base = io::json_len(&batch(Vec::new(), batching.batch_input.as_ref()));
    futures::stream::unfold(
        (inputs, None::<Value>, false, batching),
        move |(mut inputs, mut carry, done, batching)| async move {
            if done {
                return None;
            }
            let mut items = Vec::new();
            let mut bytes = base;
            if let Some(item) = carry.take() {
                bytes += io::json_len(&item) + 1;
                items.push(item);
            }
            let mut ended = false;
            loop {
                if batching.max_items.is_some_and(|most| items.len() >= most) {
                    break;
                }
                match inputs.next().await {
                    None => {
                        ended = true;
                        break;
                    }
                    Some(Err(stop)) => return Some((Err(stop), (inputs, None, true, batching))),
                    Some(Ok(item)) => {
                        let size = io::json_len(&item) + 1;
                        if !items.is_empty()
                            && batching.max_bytes.is_some_and(|most| bytes + size > most)
                        {
                            carry = Some(item);
                            break;
                        }
                        bytes += size;
                        items.push(item);
                    }
                }
            }
            if items.is_empty() {
                return None;
            }
            let value = batch(items, batching.batch_input.as_ref());
            Some((Ok(value), (inputs, carry, ended, batching)))
        },
    )
    .boxed()
}

fn batch(items: Vec<Value>, batch_input: Option<&Value>) -> Value {
    let mut batch = Map::new();
    if let Some(batch_input) = batch_input {
        batch.insert("BatchInput".into(), batch_input.clone());
    }
    batch.insert("Items".into(), Value::Array(items));
    Value::Object(batch)
}

/// One child execution as `ResultWriter` exports it (AWS's
/// `SUCCEEDED_n.json` / `FAILED_n.json` entries).
pub(super) fn execution_record(
    map_run_arn: &str,
    input: &Value,
    result: Result<&Value, &AslError>,
    start: OffsetDateTime,
    stop: OffsetDateTime,
) -> Value {
    // mapRun:MACHINE/LABEL:RUN → execution:MACHINE/LABEL:CHILD
    let (machine_and_label, _) = map_run_arn
        .split_once(":mapRun:")
        .map(|(_, rest)| rest.rsplit_once(':').unwrap_or((rest, "")))
        .unwrap_or_default();
    let name = uuid::Uuid::new_v4().to_string();
    let text = |v: &Value| serde_json::to_string(v).unwrap_or_default();
    let mut record = json!({
        "ExecutionArn": format!("arn:aws:states:local:000000000000:execution:{machine_and_label}:{name}"),
        "Input": text(input),
        "InputDetails": {"Included": true},
        "Name": name,
        "RedriveCount": 0,
        "StartDate": format_timestamp(start),
        "StateMachineArn": format!("arn:aws:states:local:000000000000:stateMachine:{machine_and_label}"),
        "StopDate": format_timestamp(stop),
    });
    match result {
        Ok(output) => {
            record["Output"] = text(output).into();
            record["OutputDetails"] = json!({"Included": true});
            record["RedriveStatus"] = "NOT_REDRIVABLE".into();
            record["RedriveStatusReason"] = "Execution is SUCCEEDED and cannot be redriven".into();
            record["Status"] = "SUCCEEDED".into();
        }
        Err(error) => {
            record["Error"] = error.error.clone().into();
            record["Cause"] = error.cause.clone().into();
            record["RedriveStatus"] = "REDRIVABLE".into();
            record["Status"] = "FAILED".into();
        }
    }
    record
}
