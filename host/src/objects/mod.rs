//! Buckets: the data plane's object stores. A bucket is a name a pipeline
//! uses (`"Bucket": "raw"`) bound, by the manifest's `[buckets.NAME]`, to a
//! local directory (the default) or to an S3-compatible endpoint; both are
//! reached through the Arrow project's `object_store` crate, so the S3
//! integrations (`s3_tasks.rs`), Distributed Map's `ItemReader`
//! (`reader.rs`) and `ResultWriter` (`writer.rs`) are written once.
//!
//! Everything a pipeline controls is bounded before it reaches a store: a
//! key is at most 1,024 bytes (S3's limit) of path segments without `.`/`..`
//! or control characters, a body read whole at most the caller's limit, and
//! an item streamed from an object at most [`MAX_ITEM_BYTES`].

pub mod config;
pub mod reader;
pub mod s3_tasks;
pub mod writer;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt as _;
use futures::stream::BoxStream;
use object_store::path::Path as StorePath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt as _, PutPayload};
use time::OffsetDateTime;

use crate::errors::AslError;

pub use config::{BucketDecl, BucketSource};

/// S3's longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// The longest single item (a CSV row, a JSON value) an `ItemReader`
/// streams out of an object: AWS's 256 KiB payload limit applies to each
/// child execution's input anyway.
pub const MAX_ITEM_BYTES: usize = 256 * 1024;

/// Every bucket a manifest declares, by name.
#[derive(Clone, Default)]
pub struct Buckets {
    buckets: BTreeMap<String, Bucket>,
}

/// One bucket: its store and, for a local one, its directory.
#[derive(Clone)]
pub struct Bucket {
    pub store: Arc<dyn ObjectStore>,
    pub local: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for Buckets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.buckets.keys()).finish()
    }
}

/// What failed, as S3 names it: the error code decides the ASL error name
/// (`S3.<Code>Exception`), the message its cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Error {
    pub code: &'static str,
    pub status: u16,
    pub message: String,
}

impl S3Error {
    pub fn no_such_bucket() -> Self {
        S3Error {
            code: "NoSuchBucket",
            status: 404,
            message: "The specified bucket does not exist.".into(),
        }
    }

    pub fn no_such_key() -> Self {
        S3Error {
            code: "NoSuchKey",
            status: 404,
            message: "The specified key does not exist.".into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        S3Error {
            code: "InvalidRequest",
            status: 400,
            message: message.into(),
        }
    }

    /// The error an aws-sdk Task fails with, as AWS's Java SDK reports it:
    /// `S3.NoSuchKeyException`, cause "The specified key does not exist.
    /// (Service: S3, Status Code: 404, Request ID: ..., Extended Request ID: ...)".
    pub fn to_asl(&self) -> AslError {
        let name = match self.code {
            "NoSuchKey" | "NoSuchBucket" => format!("S3.{}Exception", self.code),
            _ => "S3.S3Exception".to_owned(),
        };
        let request_id = uuid::Uuid::new_v4().simple().to_string()[..16].to_uppercase();
        AslError::new(
            name,
            format!(
                "{} (Service: S3, Status Code: {}, Request ID: {request_id}, Extended Request ID: {request_id})",
                self.message, self.status
            ),
        )
    }

    fn from_store(error: object_store::Error) -> Self {
        match error {
            object_store::Error::NotFound { .. } => S3Error::no_such_key(),
            object_store::Error::InvalidPath { .. } => S3Error::invalid("The key is not valid."),
            other => S3Error {
                code: "InternalError",
                status: 500,
                // The store's own text may carry a local path: keep it out
                // of the execution, log it for the operator.
                message: {
                    tracing::warn!(error = %crate::sandbox::escape_for_log(&other.to_string(), crate::sandbox::LOGGED_CHARS), "object store request failed");
                    "We encountered an internal error. Please try again.".into()
                },
            },
        }
    }
}

/// An object's description, as S3's HeadObject and ListObjectsV2 give it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    pub last_modified: OffsetDateTime,
    /// Quoted, as S3 writes it.
    pub e_tag: String,
}

impl ObjectInfo {
    fn from_meta(meta: ObjectMeta) -> Self {
        let last_modified = OffsetDateTime::from_unix_timestamp(meta.last_modified.timestamp())
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let tag = meta.e_tag.unwrap_or_default();
        let e_tag = if tag.starts_with('"') {
            tag
        } else {
            format!("\"{tag}\"")
        };
        ObjectInfo {
            key: meta.location.to_string(),
            size: meta.size,
            last_modified,
            e_tag,
        }
    }
}

/// The quoted MD5 of `body`: S3's ETag of an object put in one request.
pub fn md5_e_tag(body: &[u8]) -> String {
    use md5::Digest as _;
    let digest = md5::Md5::digest(body);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// `key` as a store path, or why S3 would refuse it here.
pub fn object_path(key: &str) -> Result<StorePath, S3Error> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(S3Error::invalid(format!(
            "A key must be 1 to {MAX_KEY_BYTES} bytes long."
        )));
    }
    if key.chars().any(char::is_control) {
        return Err(S3Error::invalid("A key cannot contain control characters."));
    }
    let segments: Vec<&str> = key.split('/').collect();
    if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return Err(S3Error::invalid(
            "A key's '/'-separated parts cannot be empty, '.' or '..' here.",
        ));
    }
    StorePath::parse(key).map_err(|_| S3Error::invalid("The key is not valid."))
}

/// A prefix as a store path: empty means the whole bucket.
fn prefix_path(prefix: &str) -> Result<Option<StorePath>, S3Error> {
    let trimmed = prefix.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(None);
    }
    object_path(trimmed).map(Some)
}

impl Buckets {
    pub fn new(buckets: BTreeMap<String, Bucket>) -> Self {
        Buckets { buckets }
    }

    /// A bucket per directory: `name → dir`, created if absent (tests, examples).
    pub fn local(
        dirs: impl IntoIterator<Item = (String, std::path::PathBuf)>,
    ) -> anyhow::Result<Self> {
        let mut buckets = BTreeMap::new();
        for (name, dir) in dirs {
            buckets.insert(name, config::local_bucket(&dir)?);
        }
        Ok(Buckets { buckets })
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.buckets.keys().map(String::as_str)
    }

    pub fn bucket(&self, name: &str) -> Result<&Bucket, S3Error> {
        self.buckets.get(name).ok_or_else(S3Error::no_such_bucket)
    }

    /// The whole object, refused past `limit` bytes (checked before reading).
    pub async fn get(
        &self,
        bucket: &str,
        key: &str,
        limit: usize,
    ) -> Result<(ObjectInfo, Bytes), S3Error> {
        let store = &self.bucket(bucket)?.store;
        let result = store
            .get(&object_path(key)?)
            .await
            .map_err(S3Error::from_store)?;
        let mut info = ObjectInfo::from_meta(result.meta.clone());
        if info.size > limit as u64 {
            return Err(S3Error {
                code: "EntityTooLarge",
                status: 400,
                message: format!(
                    "The object is {} bytes, more than the {limit} bytes a state's payload can hold.",
                    info.size
                ),
            });
        }
        let body = result.bytes().await.map_err(S3Error::from_store)?;
        info.e_tag = md5_e_tag(&body);
        Ok((info, body))
    }

    /// The object as a stream of chunks, for readers that never hold it whole.
    pub async fn stream(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<BoxStream<'static, std::io::Result<Bytes>>, S3Error> {
        let store = &self.bucket(bucket)?.store;
        let result = store
            .get(&object_path(key)?)
            .await
            .map_err(S3Error::from_store)?;
        Ok(result
            .into_stream()
            .map(|chunk| chunk.map_err(std::io::Error::other))
            .boxed())
    }

    pub async fn put(&self, bucket: &str, key: &str, body: Bytes) -> Result<String, S3Error> {
        let store = &self.bucket(bucket)?.store;
        let e_tag = md5_e_tag(&body);
        store
            .put(&object_path(key)?, PutPayload::from_bytes(body))
            .await
            .map_err(S3Error::from_store)?;
        Ok(e_tag)
    }

    pub async fn head(&self, bucket: &str, key: &str) -> Result<ObjectInfo, S3Error> {
        let store = &self.bucket(bucket)?.store;
        let meta = store
            .head(&object_path(key)?)
            .await
            .map_err(S3Error::from_store)?;
        Ok(ObjectInfo::from_meta(meta))
    }

    pub async fn copy(
        &self,
        from_bucket: &str,
        from_key: &str,
        to_bucket: &str,
        to_key: &str,
    ) -> Result<ObjectInfo, S3Error> {
        let from = object_path(from_key)?;
        let to = object_path(to_key)?;
        if from_bucket == to_bucket {
            let store = &self.bucket(to_bucket)?.store;
            store.copy(&from, &to).await.map_err(S3Error::from_store)?;
        } else {
            // Across stores: bounded by what one request may carry.
            let (_, body) = self.get(from_bucket, from_key, MAX_COPY_BYTES).await?;
            let store = &self.bucket(to_bucket)?.store;
            store
                .put(&to, PutPayload::from_bytes(body))
                .await
                .map_err(S3Error::from_store)?;
        }
        self.head(to_bucket, to_key).await
    }

    /// Deletes `key`; deleting what is not there succeeds, as on S3.
    pub async fn delete(&self, bucket: &str, key: &str) -> Result<(), S3Error> {
        let store = &self.bucket(bucket)?.store;
        match store.delete(&object_path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(other) => Err(S3Error::from_store(other)),
        }
    }

    /// The objects whose keys start with `prefix`, in key order, as S3 lists them.
    pub async fn list(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<BoxStream<'static, Result<ObjectInfo, S3Error>>, S3Error> {
        let store = self.bucket(bucket)?.store.clone();
        // A prefix may end inside a path segment ("logs/2024-"): list its
        // directory and keep what starts with it.
        let dir = match prefix.rfind('/') {
            Some(at) => &prefix[..at],
            None => "",
        };
        let dir = prefix_path(dir)?;
        let prefix = prefix.to_owned();
        let mut listed: Vec<ObjectInfo> = Vec::new();
        let mut stream = store.list(dir.as_ref());
        while let Some(meta) = stream.next().await {
            let info = ObjectInfo::from_meta(meta.map_err(S3Error::from_store)?);
            if info.key.starts_with(&prefix) {
                listed.push(info);
                if listed.len() > MAX_LISTED {
                    return Err(S3Error::invalid(format!(
                        "More than {MAX_LISTED} objects under the prefix: narrow it."
                    )));
                }
            }
        }
        // A local store lists in directory order; S3 in UTF-8 key order.
        listed.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(futures::stream::iter(listed.into_iter().map(Ok)).boxed())
    }
}

/// The most bytes a copy between two stores reads into memory.
const MAX_COPY_BYTES: usize = 64 * 1024 * 1024;

/// The most objects one listing holds (each is a short description; a
/// million of them is about 200 MB).
const MAX_LISTED: usize = 1_000_000;
