//! `[buckets.NAME]` in `sandstep.toml`: a local directory (`path`, relative
//! to the manifest; created if absent) or an S3-compatible endpoint
//! (`s3_bucket`, `endpoint`, `region`) whose credentials are named by
//! reference, as task secrets are (`access_key_id = { env = "VAR" }`), never
//! written in the manifest.
//!
//! ```toml
//! [buckets.raw]
//! path = "data/raw"
//!
//! [buckets.lake]
//! s3_bucket = "company-lake"
//! endpoint = "http://127.0.0.1:9000"   # absent: AWS itself
//! region = "us-east-1"
//! access_key_id = { env = "LAKE_KEY_ID" }
//! secret_access_key = { file = "secrets/lake" }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use serde::Deserialize;

use super::Bucket;
use crate::resources::manifest::{RawSecret, resolve_secret};
use crate::sandbox::SecretValue;

/// One bucket as the manifest declares it, paths resolved, secrets read.
#[derive(Debug, Clone)]
pub struct BucketDecl {
    pub name: String,
    pub source: BucketSource,
}

#[derive(Debug, Clone)]
pub enum BucketSource {
    Local {
        path: PathBuf,
    },
    S3 {
        bucket: String,
        endpoint: Option<String>,
        region: String,
        access_key_id: Option<SecretValue>,
        secret_access_key: Option<SecretValue>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBucket {
    path: Option<PathBuf>,
    s3_bucket: Option<String>,
    endpoint: Option<String>,
    region: Option<String>,
    access_key_id: Option<RawSecret>,
    secret_access_key: Option<RawSecret>,
}

/// S3's bucket-name rules, which a declared name also follows so that a
/// definition written for AWS runs unchanged.
fn valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Checks the manifest's `[buckets.*]` tables.
pub fn check_buckets(
    raw: BTreeMap<String, toml::Value>,
    base: &Path,
) -> anyhow::Result<BTreeMap<String, BucketDecl>> {
    let mut buckets = BTreeMap::new();
    for (name, value) in raw {
        let decl = check_bucket(&name, value, base).with_context(|| format!("bucket {name:?}"))?;
        buckets.insert(name, decl);
    }
    Ok(buckets)
}

fn check_bucket(name: &str, value: toml::Value, base: &Path) -> anyhow::Result<BucketDecl> {
    if !valid_bucket_name(name) {
        bail!(
            "a bucket name is 3 to 63 lowercase letters, digits, '-' or '.', starting and ending with a letter or digit, as on S3"
        );
    }
    let raw: RawBucket = value.try_into().context("not a valid bucket declaration")?;
    let source = match (raw.path, raw.s3_bucket) {
        (Some(path), None) => {
            if raw.endpoint.is_some()
                || raw.region.is_some()
                || raw.access_key_id.is_some()
                || raw.secret_access_key.is_some()
            {
                bail!("a local bucket (`path`) takes no endpoint, region or credentials");
            }
            BucketSource::Local {
                path: base.join(path),
            }
        }
        (None, Some(bucket)) => {
            let secret = |raw: Option<RawSecret>, what: &str| {
                raw.map(|raw| resolve_secret(&raw, base).map(SecretValue::new))
                    .transpose()
                    .with_context(|| what.to_owned())
            };
            let access_key_id = secret(raw.access_key_id, "access_key_id")?;
            let secret_access_key = secret(raw.secret_access_key, "secret_access_key")?;
            if access_key_id.is_some() != secret_access_key.is_some() {
                bail!("give both access_key_id and secret_access_key, or neither");
            }
            BucketSource::S3 {
                bucket,
                endpoint: raw.endpoint,
                region: raw.region.unwrap_or_else(|| "us-east-1".into()),
                access_key_id,
                secret_access_key,
            }
        }
        _ => bail!(
            "give exactly one of `path = \"dir\"` (a local directory) or `s3_bucket = \"name\"` (an S3-compatible store)"
        ),
    };
    Ok(BucketDecl {
        name: name.to_owned(),
        source,
    })
}

/// A bucket over the directory `dir`, created if absent.
pub fn local_bucket(dir: &Path) -> anyhow::Result<Bucket> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the bucket directory {:?}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("cannot resolve the bucket directory {:?}", dir.display()))?;
    let store = object_store::local::LocalFileSystem::new_with_prefix(&dir)
        .with_context(|| format!("cannot open the bucket directory {:?}", dir.display()))?
        .with_automatic_cleanup(true);
    Ok(Bucket {
        store: Arc::new(store),
        local: Some(dir),
    })
}

/// The store behind a declaration.
pub fn open(decl: &BucketDecl) -> anyhow::Result<Bucket> {
    match &decl.source {
        BucketSource::Local { path } => local_bucket(path),
        BucketSource::S3 {
            bucket,
            endpoint,
            region,
            access_key_id,
            secret_access_key,
        } => {
            let mut builder = object_store::aws::AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_region(region);
            if let Some(endpoint) = endpoint {
                builder = builder
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"))
                    .with_virtual_hosted_style_request(false);
            }
            if let (Some(id), Some(secret)) = (access_key_id, secret_access_key) {
                builder = builder
                    .with_access_key_id(id.expose())
                    .with_secret_access_key(secret.expose());
            }
            let store = builder.build().with_context(|| {
                format!("bucket {:?}: cannot configure the S3 client", decl.name)
            })?;
            Ok(Bucket {
                store: Arc::new(store),
                local: None,
            })
        }
    }
}

/// Opens every declared bucket.
pub fn open_all(decls: &BTreeMap<String, BucketDecl>) -> anyhow::Result<super::Buckets> {
    let mut buckets = BTreeMap::new();
    for (name, decl) in decls {
        buckets.insert(name.clone(), open(decl)?);
    }
    Ok(super::Buckets::new(buckets))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<BTreeMap<String, BucketDecl>> {
        let raw: BTreeMap<String, toml::Value> = toml::from_str(text)?;
        check_buckets(raw, Path::new("/srv/pipelines"))
    }

    #[test]
    fn a_local_bucket_resolves_against_the_manifest() {
        let buckets = parse("[raw]\npath = \"data/raw\"\n").expect("valid");
        match &buckets["raw"].source {
            BucketSource::Local { path } => {
                assert_eq!(path, Path::new("/srv/pipelines/data/raw"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_declarations_say_what_to_write() {
        let error = |text: &str| format!("{:#}", parse(text).expect_err(text));
        assert!(error("[Raw]\npath = \"x\"\n").contains("lowercase"));
        assert!(error("[raw]\n").contains("exactly one of"));
        assert!(error("[raw]\npath = \"x\"\ns3_bucket = \"y\"\n").contains("exactly one of"));
        assert!(error("[raw]\npath = \"x\"\nregion = \"y\"\n").contains("no endpoint"));
        assert!(error("[raw]\npth = \"x\"\n").contains("not a valid bucket"));
        assert!(
            error("[raw]\ns3_bucket = \"y\"\naccess_key_id = { env = \"SANDSTEP_SURELY_UNSET_VAR\" }\nsecret_access_key = { env = \"SANDSTEP_SURELY_UNSET_VAR\" }\n")
                .contains("is not set")
        );
        assert!(
            error("[raw]\ns3_bucket = \"y\"\naccess_key_id = { value = \"AKIA\" }\n")
                .contains("not a valid bucket")
        );
    }

    #[test]
    fn credentials_are_read_by_reference_and_hidden() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("id"), "AKIDEXAMPLE\n").expect("write");
        std::fs::write(dir.path().join("secret"), "wJalrXUtnFEMI\n").expect("write");
        let raw: BTreeMap<String, toml::Value> = toml::from_str(
            "[lake]\ns3_bucket = \"l\"\nendpoint = \"http://127.0.0.1:1\"\naccess_key_id = { file = \"id\" }\nsecret_access_key = { file = \"secret\" }\n",
        )
        .expect("toml");
        let decls = check_buckets(raw, dir.path()).expect("valid");
        let shown = format!("{:?}", decls["lake"]);
        assert!(!shown.contains("wJalrXUtnFEMI"), "{shown}");
        assert!(open_all(&decls).is_ok());
    }
}
