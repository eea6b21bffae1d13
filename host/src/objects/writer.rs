//! A Distributed Map's `ResultWriter` (checklist DMAP-07): the child
//! executions' results exported to a bucket as AWS lays them out,
//! `PREFIX/RUN-ID/SUCCEEDED_n.json`, `FAILED_n.json`, `PENDING_n.json`
//! (each a JSON array of execution records) and `manifest.json` naming them.
//! Records are written out in parts as they arrive, so a run of millions
//! of items holds at most one part in memory; AWS cuts its files at 5 GB,
//! Sandstep at [`PART_BYTES`], which the manifest makes invisible to a
//! reader that follows it.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{Value, json};

use super::Buckets;
use crate::errors::{AslError, names};

/// The size at which a results file is closed and the next one begun.
pub const PART_BYTES: usize = 8 * 1024 * 1024;

const STATUSES: [&str; 3] = ["SUCCEEDED", "FAILED", "PENDING"];

fn failed(cause: impl Into<String>) -> AslError {
    AslError::new(names::RESULT_WRITER_FAILED, cause)
}

/// One open export.
pub struct ResultWriter {
    buckets: Buckets,
    bucket: String,
    /// `PREFIX/RUN-ID/`.
    dir: String,
    map_run_arn: String,
    /// Per status: the part being filled (JSON array text, open).
    open: BTreeMap<&'static str, Vec<u8>>,
    written: BTreeMap<&'static str, Vec<Value>>,
}

impl ResultWriter {
    /// Begins the export of the Map Run `map_run_arn` (whose id is its
    /// last `:` part) under `prefix` in `bucket`.
    pub fn new(
        buckets: &Buckets,
        bucket: &str,
        prefix: &str,
        map_run_arn: &str,
    ) -> Result<Self, AslError> {
        buckets
            .bucket(bucket)
            .map_err(|e| failed(e.to_asl().cause))?;
        let run_id = map_run_arn.rsplit(':').next().unwrap_or_default();
        let prefix = prefix.trim_end_matches('/');
        let dir = match prefix {
            "" => format!("{run_id}/"),
            prefix => format!("{prefix}/{run_id}/"),
        };
        super::object_path(&format!("{dir}manifest.json")).map_err(|e| {
            failed(format!(
                "the ResultWriter Prefix cannot be used: {}",
                e.message
            ))
        })?;
        Ok(ResultWriter {
            buckets: buckets.clone(),
            bucket: bucket.to_owned(),
            dir,
            map_run_arn: map_run_arn.to_owned(),
            open: BTreeMap::new(),
            written: STATUSES.iter().map(|s| (*s, Vec::new())).collect(),
        })
    }

    /// Adds one child execution's record (its `Status` decides the file).
    pub async fn push(&mut self, record: &Value) -> Result<(), AslError> {
        let status = match record["Status"].as_str() {
            Some("SUCCEEDED") => "SUCCEEDED",
            Some("PENDING") => "PENDING",
            _ => "FAILED",
        };
        let part = self.open.entry(status).or_default();
        part.push(if part.is_empty() { b'[' } else { b',' });
        serde_json::to_writer(&mut *part, record)
            .map_err(|e| failed(format!("a result could not be written: {e}")))?;
        if part.len() >= PART_BYTES {
            self.flush(status).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, status: &'static str) -> Result<(), AslError> {
        let Some(mut part) = self.open.remove(status) else {
            return Ok(());
        };
        part.push(b']');
        let written = self.written.entry(status).or_default();
        let key = format!("{}{status}_{}.json", self.dir, written.len());
        let size = part.len();
        self.buckets
            .put(&self.bucket, &key, Bytes::from(part))
            .await
            .map_err(|e| failed(e.to_asl().cause))?;
        written.push(json!({"Key": key, "Size": size}));
        Ok(())
    }

    /// Writes what is left and the manifest; the Map's output names it.
    pub async fn finish(mut self) -> Result<Value, AslError> {
        for status in STATUSES {
            self.flush(status).await?;
        }
        let manifest = json!({
            "DestinationBucket": self.bucket,
            "MapRunArn": self.map_run_arn,
            "ResultFiles": self.written,
        });
        let key = format!("{}manifest.json", self.dir);
        let text = serde_json::to_vec(&manifest).unwrap_or_default();
        self.buckets
            .put(&self.bucket, &key, Bytes::from(text))
            .await
            .map_err(|e| failed(e.to_asl().cause))?;
        Ok(json!({
            "MapRunArn": self.map_run_arn,
            "ResultWriterDetails": {"Bucket": self.bucket, "Key": key},
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn results_and_manifest_land_where_aws_puts_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let buckets = Buckets::local([("out".to_owned(), dir.path().join("out"))]).expect("bucket");
        let arn = "arn:aws:states:local:000000000000:mapRun:m/Map:1234-abcd";
        let mut writer = ResultWriter::new(&buckets, "out", "jobs/", arn).expect("writer");
        writer
            .push(&json!({"Status": "SUCCEEDED", "Output": "1"}))
            .await
            .expect("push");
        writer
            .push(&json!({"Status": "FAILED", "Error": "E"}))
            .await
            .expect("push");
        writer
            .push(&json!({"Status": "SUCCEEDED", "Output": "2"}))
            .await
            .expect("push");
        let output = writer.finish().await.expect("finish");
        assert_eq!(
            output["ResultWriterDetails"]["Key"],
            "jobs/1234-abcd/manifest.json"
        );
        let read = |key: &str| -> Value {
            serde_json::from_slice(&std::fs::read(dir.path().join("out").join(key)).expect(key))
                .expect("JSON")
        };
        let manifest = read("jobs/1234-abcd/manifest.json");
        assert_eq!(manifest["DestinationBucket"], "out");
        assert_eq!(manifest["MapRunArn"], arn);
        assert_eq!(
            manifest["ResultFiles"]["SUCCEEDED"][0]["Key"],
            "jobs/1234-abcd/SUCCEEDED_0.json"
        );
        assert_eq!(manifest["ResultFiles"]["PENDING"], json!([]));
        let succeeded = read("jobs/1234-abcd/SUCCEEDED_0.json");
        assert_eq!(succeeded.as_array().map(Vec::len), Some(2));
        let failed = read("jobs/1234-abcd/FAILED_0.json");
        assert_eq!(failed[0]["Error"], "E");
        assert!(ResultWriter::new(&buckets, "nope", "", arn).is_err());
        assert!(ResultWriter::new(&buckets, "out", "../x", arn).is_err());
    }
}
