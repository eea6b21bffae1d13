//! A Distributed Map's `ItemReader` (checklist DMAP-03..05, DMAP-13): the
//! items of one object (`s3:getObject` with `InputType` `JSON`, `JSONL` or
//! `CSV`) or of a listing (`s3:listObjectsV2`, each object an item), as a
//! stream. An object is never held whole: a blocking thread parses it
//! from the store's byte stream and hands items over a small channel, so a
//! CSV row is read when the Map is ready to start its iteration, and memory
//! stays flat however large the file.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt as _;
use futures::stream::BoxStream;
use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde_json::{Map, Value, json};

use super::{Buckets, MAX_ITEM_BYTES};
use crate::errors::{AslError, names};

/// Items, each a child execution's input (or part of a batch).
pub type ItemStream = BoxStream<'static, Result<Value, AslError>>;

/// What `ReaderConfig.InputType` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputType {
    Json,
    Jsonl,
    Csv {
        /// `CSVHeaderLocation: GIVEN` with `CSVHeaders`; else the first row.
        headers: Option<Vec<String>>,
        delimiter: u8,
    },
}

/// Where the items come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Object { bucket: String, key: String },
    Listing { bucket: String, prefix: String },
}

/// AWS's ceiling on `MaxItems`.
pub const MAX_ITEMS: u64 = 100_000_000;

/// Items parsed ahead of the Map: a few, so memory stays flat.
const READ_AHEAD: usize = 64;

/// The largest CSV header row AWS reads (10 KiB).
const MAX_CSV_HEADER_BYTES: usize = 10 * 1024;

pub fn failed(cause: impl Into<String>) -> AslError {
    AslError::new(names::ITEM_READER_FAILED, cause)
}

/// The items `source` holds, at most `max_items` of them (0: all).
pub async fn items(
    buckets: &Buckets,
    source: Source,
    input_type: Option<InputType>,
    max_items: u64,
) -> Result<ItemStream, AslError> {
    let stream = match source {
        Source::Listing { bucket, prefix } => buckets
            .list(&bucket, &prefix)
            .await
            .map_err(|e| failed(e.to_asl().cause))?
            .map(|info| {
                let info = info.map_err(|e| failed(e.to_asl().cause))?;
                // The item shape AWS gives each object of a listing.
                Ok(json!({
                    "Etag": info.e_tag,
                    "Key": info.key,
                    "LastModified": info.last_modified.unix_timestamp(),
                    "Size": info.size,
                    "StorageClass": "STANDARD",
                }))
            })
            .boxed(),
        Source::Object { bucket, key } => {
            let bytes = buckets
                .stream(&bucket, &key)
                .await
                .map_err(|e| failed(e.to_asl().cause))?;
            let input_type = input_type.unwrap_or(InputType::Json);
            parse_in_thread(bytes, input_type)
        }
    };
    Ok(match max_items {
        0 => stream,
        n => stream
            .take(usize::try_from(n.min(MAX_ITEMS)).unwrap_or(usize::MAX))
            .boxed(),
    })
}

/// Parses the byte stream on a blocking thread; items come back over a
/// channel of [`READ_AHEAD`]. Dropping the stream stops the thread at its
/// next item.
fn parse_in_thread(
    bytes: BoxStream<'static, std::io::Result<bytes::Bytes>>,
    input_type: InputType,
) -> ItemStream {
    let (sender, receiver) = tokio::sync::mpsc::channel(READ_AHEAD);
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(bytes));
    let consumed = Arc::new(AtomicUsize::new(0));
    let bounded = Bounded {
        inner: reader,
        since_item: consumed.clone(),
    };
    tokio::task::spawn_blocking(move || {
        let send = |item: Result<Value, AslError>| {
            consumed.store(0, Ordering::Relaxed);
            sender.blocking_send(item).is_ok()
        };
        let outcome = match input_type {
            InputType::Csv { headers, delimiter } => csv_rows(bounded, headers, delimiter, &send),
            // serde_json reads byte by byte: buffer in front of the bound.
            InputType::Jsonl => json_lines(std::io::BufReader::new(bounded), &send),
            InputType::Json => json_array(std::io::BufReader::new(bounded), &send),
        };
        if let Err(error) = outcome {
            send(Err(error));
        }
    });
    futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
    .boxed()
}

/// A reader that refuses to read far past one item without the parser
/// handing an item over: a single row or value cannot fill the memory.
struct Bounded<R> {
    inner: R,
    since_item: Arc<AtomicUsize>,
}

/// Slack for the parser's own read-ahead buffer.
const READ_BUFFER: usize = 64 * 1024;

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.since_item.load(Ordering::Relaxed) > MAX_ITEM_BYTES + READ_BUFFER {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("an item is longer than {MAX_ITEM_BYTES} bytes"),
            ));
        }
        let n = self.inner.read(buf)?;
        self.since_item.fetch_add(n, Ordering::Relaxed);
        Ok(n)
    }
}

/// Sends one item; false when the Map no longer wants any.
type Send<'a> = dyn Fn(Result<Value, AslError>) -> bool + 'a;

/// CSV as AWS reads it (DMAP-05): every field a string, a row's missing
/// trailing fields `""`, fields past the headers dropped, quotes optional.
fn csv_rows(
    reader: impl Read,
    headers: Option<Vec<String>>,
    delimiter: u8,
    send: &Send<'_>,
) -> Result<(), AslError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(reader);
    let mut record = csv::StringRecord::new();
    let read = |csv: &mut csv::Reader<_>, record: &mut csv::StringRecord| {
        csv.read_record(record)
            .map_err(|e| failed(format!("the CSV file cannot be read: {e}")))
    };
    let headers = match headers {
        Some(headers) => headers,
        None => {
            if !read(&mut csv, &mut record)? {
                return Ok(());
            }
            if record.as_slice().len() > MAX_CSV_HEADER_BYTES {
                return Err(failed("CSV headers cannot exceed 10 KiB."));
            }
            record.iter().map(str::to_owned).collect()
        }
    };
    let mut seen = std::collections::HashSet::new();
    if !headers.iter().all(|h| seen.insert(h)) {
        return Err(failed("CSV headers cannot contain duplicates."));
    }
    while read(&mut csv, &mut record)? {
        let row: Map<String, Value> = headers
            .iter()
            .enumerate()
            .map(|(i, header)| {
                let field = record.get(i).unwrap_or("");
                (header.clone(), Value::String(field.to_owned()))
            })
            .collect();
        if !send(Ok(Value::Object(row))) {
            return Ok(());
        }
    }
    Ok(())
}

/// JSON Lines: one value per line (blank lines skipped).
fn json_lines(reader: impl Read, send: &Send<'_>) -> Result<(), AslError> {
    let values = serde_json::Deserializer::from_reader(reader).into_iter::<Value>();
    for value in values {
        let value = value.map_err(|e| failed(format!("the JSONL file cannot be read: {e}")))?;
        if !send(Ok(value)) {
            return Ok(());
        }
    }
    Ok(())
}

/// A JSON file holding an array, read element by element.
fn json_array(reader: impl Read, send: &Send<'_>) -> Result<(), AslError> {
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    match (Elements { send }).deserialize(&mut deserializer) {
        Ok(()) => Ok(()),
        Err(e) if e.is_data() => Err(failed("Attempting to map over non-iterable node.")),
        Err(e) => Err(failed(format!("the JSON file cannot be read: {e}"))),
    }
}

/// Sends each element of an array as it is parsed.
struct Elements<'s, 'a> {
    send: &'s Send<'a>,
}

impl<'de> DeserializeSeed<'de> for Elements<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Elements<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<Value>()? {
            if !(self.send)(Ok(item)) {
                // The Map stopped: skip the rest unread.
                return Err(serde::de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(text: &str, input_type: InputType, max: u64) -> Vec<Result<Value, AslError>> {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("b")).expect("mkdir");
        std::fs::write(dir.path().join("b/f"), text).expect("write");
        let buckets = Buckets::local([("b".to_owned(), dir.path().join("b"))]).expect("bucket");
        let source = Source::Object {
            bucket: "b".into(),
            key: "f".into(),
        };
        match items(&buckets, source, Some(input_type), max).await {
            Ok(stream) => stream.collect().await,
            Err(e) => vec![Err(e)],
        }
    }

    fn csv(headers: Option<&[&str]>) -> InputType {
        InputType::Csv {
            headers: headers.map(|h| h.iter().map(|s| (*s).to_owned()).collect()),
            delimiter: b',',
        }
    }

    #[tokio::test]
    async fn csv_rows_follow_aws_rules() {
        let rows = read("a,b\n1,\"x,y\"\n2\n3,4,5\n\"q\"\"uote\",\n", csv(None), 0).await;
        let rows: Vec<Value> = rows.into_iter().map(|r| r.expect("row")).collect();
        assert_eq!(
            rows,
            vec![
                json!({"a": "1", "b": "x,y"}),
                json!({"a": "2", "b": ""}),
                json!({"a": "3", "b": "4"}),
                json!({"a": "q\"uote", "b": ""}),
            ]
        );
        let rows = read("1,2\n3,4\n", csv(Some(&["x", "y"])), 1).await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].as_ref().expect("row"), &json!({"x": "1", "y": "2"}));
        let rows = read("1,2\n", csv(Some(&["x", "x"])), 0).await;
        let error = rows[0].as_ref().expect_err("duplicates");
        assert_eq!(error.error, "States.ItemReaderFailed");
        assert_eq!(error.cause, "CSV headers cannot contain duplicates.");
    }

    #[tokio::test]
    async fn json_arrays_and_lines_stream_their_items() {
        let items = read("[1, {\"a\": [2]}, \"s\"]", InputType::Json, 0).await;
        let items: Vec<Value> = items.into_iter().map(|r| r.expect("item")).collect();
        assert_eq!(items, vec![json!(1), json!({"a": [2]}), json!("s")]);
        let items = read("{\"a\":1}\n\n{\"a\":2}\n", InputType::Jsonl, 0).await;
        assert_eq!(items.len(), 2);
        let items = read("{\"a\": 1}", InputType::Json, 0).await;
        let error = items[0].as_ref().expect_err("not an array");
        assert_eq!(error.cause, "Attempting to map over non-iterable node.");
        let items = read("[1, 2", InputType::Json, 0).await;
        assert!(items.last().expect("an outcome").is_err());
    }

    #[tokio::test]
    async fn one_huge_item_is_refused_not_loaded() {
        let huge = format!("a\n\"{}\"\n", "x".repeat(2 * MAX_ITEM_BYTES));
        let rows = read(&huge, csv(None), 0).await;
        let error = rows
            .last()
            .expect("an outcome")
            .as_ref()
            .expect_err("too long");
        assert!(error.cause.contains("longer than"), "{}", error.cause);
    }

    #[tokio::test]
    async fn a_missing_object_or_bucket_fails_the_reader() {
        let items = read("[]", InputType::Json, 0).await;
        assert!(items.is_empty());
        let buckets = Buckets::default();
        let source = Source::Object {
            bucket: "none".into(),
            key: "k".into(),
        };
        let error = items_error(&buckets, source).await;
        assert_eq!(error.error, "States.ItemReaderFailed");
        assert!(
            error
                .cause
                .starts_with("The specified bucket does not exist.")
        );
    }

    async fn items_error(buckets: &Buckets, source: Source) -> AslError {
        match items(buckets, source, None, 0).await {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }
}
