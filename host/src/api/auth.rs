//! Who sent a request: AWS Signature Version 4, checked against a
//! credentials file that maps access key ids to secret keys and tenants
//! (checklist API-01: signing name `states`).
//!
//! The signature is recomputed with the AWS SDK's own signer (`aws-sigv4`)
//! over exactly the headers the client says it signed, and compared in
//! constant time. Failures get the errors AWS gives:
//! `MissingAuthenticationTokenException` (no `Authorization`),
//! `IncompleteSignatureException` (a malformed one),
//! `UnrecognizedClientException` (an unknown key) and
//! `InvalidSignatureException` (a wrong signature, scope, or a clock more
//! than 5 minutes off).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use axum::http::{HeaderMap, Method, Uri};
use serde::Deserialize;
use time::OffsetDateTime;
use time::macros::format_description;

use super::protocol::{ApiError, echo};
use crate::resources::SecretSource;

/// The signing name of Step Functions.
const SERVICE: &str = "states";
/// How far a request's `X-Amz-Date` may be from the host's clock, as on AWS.
const SKEW: Duration = Duration::from_secs(5 * 60);

/// The access keys `host serve --credentials FILE` accepts.
pub struct Keys {
    by_id: HashMap<String, Key>,
}

struct Key {
    secret: String,
    tenant: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: BTreeMap<&str, &str> = self
            .by_id
            .iter()
            .map(|(id, key)| (id.as_str(), key.tenant.as_str()))
            .collect();
        f.debug_struct("Keys")
            .field("tenants_by_key", &ids)
            .finish()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    keys: BTreeMap<String, RawKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    /// Where the secret access key is: `{ env = "VAR" }` or `{ file = "path" }`.
    secret: SecretSource,
    tenant: String,
}

impl Keys {
    /// Reads a credentials file:
    ///
    /// ```toml
    /// [keys.AKIAEXAMPLETEAMA]
    /// secret = { env = "TEAM_A_SECRET" }   # or { file = "team-a.secret" }
    /// tenant = "team-a"
    /// ```
    pub fn load(path: &Path) -> anyhow::Result<Keys> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the credentials file {}", path.display()))?;
        let raw: RawFile = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid credentials file", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut by_id = HashMap::new();
        for (id, key) in raw.keys {
            if !valid_key_id(&id) {
                anyhow::bail!(
                    "{}: the access key id {id:?} must be 16 to 128 letters and digits",
                    path.display()
                );
            }
            if !valid_tenant(&key.tenant) {
                anyhow::bail!(
                    "{}: key {id}: the tenant {:?} must be 1 to 64 letters, digits, '-' or '_'",
                    path.display(),
                    key.tenant
                );
            }
            let secret = key
                .secret
                .resolve(base)
                .with_context(|| format!("{}: the secret of key {id}", path.display()))?;
            if secret.is_empty() {
                anyhow::bail!("{}: the secret of key {id} is empty", path.display());
            }
            by_id.insert(
                id,
                Key {
                    secret,
                    tenant: key.tenant,
                },
            );
        }
        if by_id.is_empty() {
            anyhow::bail!("{} declares no [keys.<ACCESS_KEY_ID>]", path.display());
        }
        Ok(Keys { by_id })
    }

    /// The tenants the keys name, each once, sorted.
    pub fn tenants(&self) -> Vec<String> {
        let mut tenants: Vec<String> = self.by_id.values().map(|k| k.tenant.clone()).collect();
        tenants.sort();
        tenants.dedup();
        tenants
    }

    /// The tenant that signed this request, or AWS's error for why the
    /// signature does not hold.
    pub fn verify(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<&str, ApiError> {
        let Some(authorization) = headers.get("authorization") else {
            return Err(ApiError::coral(
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            ));
        };
        let authorization = authorization
            .to_str()
            .map_err(|_| incomplete("is not text"))?;
        let parts = Authorization::parse(authorization)?;
        let key = self.by_id.get(parts.key_id).ok_or_else(|| {
            ApiError::coral(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        })?;
        if parts.service != SERVICE {
            return Err(invalid_signature(format!(
                "Credential should be scoped to correct service: '{SERVICE}'. "
            )));
        }
        let signed: Vec<&str> = parts.signed_headers.split(';').collect();
        for required in ["host", "x-amz-date"] {
            if !signed.contains(&required) {
                return Err(incomplete(&format!(
                    "must sign the '{required}' header (SignedHeaders={})",
                    echo(parts.signed_headers)
                )));
            }
        }
        let date_text = headers
            .get("x-amz-date")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| incomplete("needs an X-Amz-Date header"))?;
        let date = parse_amz_date(date_text).ok_or_else(|| {
            invalid_signature(format!(
                "X-Amz-Date must be in the ISO8601 basic format yyyyMMdd'T'HHmmss'Z', not '{}'",
                echo(date_text)
            ))
        })?;
        if !date_text.starts_with(parts.date) {
            return Err(invalid_signature(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
                echo(parts.date),
                echo(&date_text[..8]),
                echo(date_text)
            )));
        }
        check_skew(date, now)?;

        let mut signed_values = Vec::new();
        for name in &signed {
            let values: Vec<&str> = headers
                .get_all(*name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            if values.is_empty() {
                return Err(invalid_signature(format!(
                    "the signed header '{}' is not in the request",
                    echo(name)
                )));
            }
            for value in values {
                signed_values.push((*name, value));
            }
        }
        let host = headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let request = SignableRequest::new(
            method.as_str(),
            format!("http://{host}{path}"),
            signed_values.into_iter(),
            SignableBody::Bytes(body),
        )
        .map_err(|_| mismatch())?;
        let identity = aws_credential_types::Credentials::new(
            parts.key_id,
            key.secret.clone(),
            None,
            None,
            "sandstep-credentials-file",
        )
        .into();
        let mut settings = SigningSettings::default();
        // Exactly the headers the client listed are given to the signer.
        settings.excluded_headers = None;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(parts.region)
            .name(SERVICE)
            .time(date)
            .settings(settings)
            .build()
            .map_err(|_| mismatch())?
            .into();
        let expected = sign(request, &params).map_err(|_| mismatch())?;
        if constant_time_eq(expected.signature().as_bytes(), parts.signature.as_bytes()) {
            Ok(&key.tenant)
        } else {
            Err(mismatch())
        }
    }
}

/// The members of `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
struct Authorization<'a> {
    key_id: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

impl<'a> Authorization<'a> {
    fn parse(header: &'a str) -> Result<Self, ApiError> {
        let rest = header
            .strip_prefix("AWS4-HMAC-SHA256 ")
            .ok_or_else(|| incomplete("must use the algorithm AWS4-HMAC-SHA256"))?;
        let mut credential = None;
        let mut signed_headers = None;
        let mut signature = None;
        for member in rest.split(',') {
            let Some((name, value)) = member.trim().split_once('=') else {
                continue;
            };
            match name {
                "Credential" => credential = Some(value),
                "SignedHeaders" => signed_headers = Some(value),
                "Signature" => signature = Some(value),
                _ => {}
            }
        }
        let missing = |what: &str| {
            incomplete(&format!(
                "requires '{what}' parameter. Authorization={}",
                echo(header)
            ))
        };
        let credential = credential.ok_or_else(|| missing("Credential"))?;
        let signed_headers = signed_headers.ok_or_else(|| missing("SignedHeaders"))?;
        let signature = signature.ok_or_else(|| missing("Signature"))?;
        let scope: Vec<&str> = credential.split('/').collect();
        let [key_id, date, region, service, "aws4_request"] = scope.as_slice() else {
            return Err(incomplete(&format!(
                "Credential must have the form <key id>/<YYYYMMDD>/<region>/{SERVICE}/aws4_request, not '{}'",
                echo(credential)
            )));
        };
        if date.len() != 8 || region.is_empty() {
            return Err(incomplete(&format!(
                "Credential has a malformed scope: '{}'",
                echo(credential)
            )));
        }
        Ok(Authorization {
            key_id,
            date,
            region,
            service,
            signed_headers,
            signature,
        })
    }
}

fn parse_amz_date(text: &str) -> Option<SystemTime> {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    let parsed = time::PrimitiveDateTime::parse(text, &format).ok()?;
    Some(parsed.assume_utc().into())
}

fn amz_date(t: SystemTime) -> String {
    let format = format_description!("[year][month][day]T[hour][minute][second]Z");
    OffsetDateTime::from(t)
        .format(&format)
        .unwrap_or_else(|_| "(unrepresentable)".into())
}

fn check_skew(date: SystemTime, now: SystemTime) -> Result<(), ApiError> {
    if date + SKEW < now {
        return Err(invalid_signature(format!(
            "Signature expired: {} is now earlier than {} ({} - 5 min.)",
            amz_date(date),
            amz_date(now - SKEW),
            amz_date(now)
        )));
    }
    if date > now + SKEW {
        return Err(invalid_signature(format!(
            "Signature not yet current: {} is still later than {} ({} + 5 min.)",
            amz_date(date),
            amz_date(now + SKEW),
            amz_date(now)
        )));
    }
    Ok(())
}

fn incomplete(why: &str) -> ApiError {
    ApiError::coral(
        "IncompleteSignatureException",
        format!("Authorization header {why}"),
    )
}

fn invalid_signature(message: String) -> ApiError {
    ApiError::coral("InvalidSignatureException", message)
}

fn mismatch() -> ApiError {
    invalid_signature(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
            .into(),
    )
}

/// Compares without leaving the position of the first difference in the
/// time taken, so a signature cannot be guessed byte by byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn valid_key_id(id: &str) -> bool {
    (16..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A tenant's name is also a directory name (its store), so it is kept plain.
pub fn valid_tenant(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_ID: &str = "AKIDEXAMPLETENANTA";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn keys() -> Keys {
        let mut by_id = HashMap::new();
        by_id.insert(
            KEY_ID.to_owned(),
            Key {
                secret: SECRET.to_owned(),
                tenant: "team-a".to_owned(),
            },
        );
        Keys { by_id }
    }

    /// Signs a request as an AWS SDK does, with the SDK's signer.
    fn signed(secret: &str, at: SystemTime, body: &[u8]) -> HeaderMap {
        let date = amz_date(at);
        let base = [
            ("host", "localhost:8083"),
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", "AWSStepFunctions.ListStateMachines"),
        ];
        let identity =
            aws_credential_types::Credentials::new(KEY_ID, secret, None, None, "test").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name(SERVICE)
            .time(at)
            .settings(SigningSettings::default())
            .build()
            .expect("params")
            .into();
        let request = SignableRequest::new(
            "POST",
            "http://localhost:8083/",
            base.iter().copied(),
            SignableBody::Bytes(body),
        )
        .expect("signable");
        let (instructions, _) = sign(request, &params).expect("signs").into_parts();
        let mut headers = HeaderMap::new();
        for (name, value) in base {
            headers.insert(name, value.parse().expect("header"));
        }
        for (name, value) in instructions.headers() {
            let name: axum::http::HeaderName = name.parse().expect("header name");
            headers.insert(name, value.parse().expect("header"));
        }
        assert_eq!(headers["x-amz-date"], date.as_str());
        headers
    }

    fn verify(headers: &HeaderMap, body: &[u8], now: SystemTime) -> Result<String, ApiError> {
        keys()
            .verify(&Method::POST, &Uri::from_static("/"), headers, body, now)
            .map(str::to_owned)
    }

    #[test]
    fn a_request_signed_by_a_known_key_names_its_tenant() {
        let now = SystemTime::now();
        let headers = signed(SECRET, now, b"{}");
        assert_eq!(verify(&headers, b"{}", now).expect("verifies"), "team-a");
    }

    #[test]
    fn a_changed_body_header_or_secret_breaks_the_signature() {
        let now = SystemTime::now();
        let headers = signed(SECRET, now, b"{}");
        let e = verify(&headers, b"{\"maxResults\":1}", now).expect_err("body changed");
        assert!(e.kind.ends_with("#InvalidSignatureException"), "{e:?}");

        let mut changed = headers.clone();
        changed.insert(
            "x-amz-target",
            "AWSStepFunctions.DeleteStateMachine".parse().expect("hv"),
        );
        let e = verify(&changed, b"{}", now).expect_err("target changed");
        assert!(e.message.contains("does not match"), "{e:?}");

        let wrong = signed("another-secret", now, b"{}");
        assert!(verify(&wrong, b"{}", now).is_err());
    }

    #[test]
    fn missing_unknown_and_stale_signatures_get_aws_errors() {
        let now = SystemTime::now();
        let e = verify(&HeaderMap::new(), b"{}", now).expect_err("unsigned");
        assert!(e.kind.ends_with("#MissingAuthenticationTokenException"));

        let mut unknown = signed(SECRET, now, b"{}");
        let auth = unknown["authorization"]
            .to_str()
            .expect("text")
            .replace(KEY_ID, "AKIDSOMEBODYELSE1");
        unknown.insert("authorization", auth.parse().expect("hv"));
        let e = verify(&unknown, b"{}", now).expect_err("unknown key");
        assert!(e.kind.ends_with("#UnrecognizedClientException"));

        let old = signed(SECRET, now - Duration::from_secs(600), b"{}");
        let e = verify(&old, b"{}", now).expect_err("stale");
        assert!(e.message.starts_with("Signature expired: "), "{e:?}");

        let mut garbled = signed(SECRET, now, b"{}");
        garbled.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Nonsense".parse().expect("hv"),
        );
        let e = verify(&garbled, b"{}", now).expect_err("malformed");
        assert!(e.kind.ends_with("#IncompleteSignatureException"), "{e:?}");
    }

    #[test]
    fn tenant_names_are_plain() {
        assert!(valid_tenant("team-a_1"));
        assert!(!valid_tenant("../etc"));
        assert!(!valid_tenant(""));
    }
}
