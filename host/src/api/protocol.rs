//! AWS JSON 1.0 as Step Functions speaks it (checklist API-01..05): the
//! error shapes and AWS's texts, reading request members with AWS's
//! validation messages, epoch-second timestamps and pagination tokens.

use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// The longest a value from a request is echoed in an error message.
const ECHO_LIMIT: usize = 256;

/// An error as AWS returns it: `{"__type": ..., "message": ...}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    /// The namespaced type, e.g. `com.amazonaws.swf.service.v2.model#InvalidArn`.
    pub kind: String,
    pub message: String,
}

impl ApiError {
    /// One of Step Functions' own exceptions (`InvalidArn`, ...).
    pub fn service(name: &str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: format!("com.amazonaws.swf.service.v2.model#{name}"),
            message: message.into(),
        }
    }

    /// What the protocol layer refuses before any operation runs.
    pub fn coral(name: &str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: format!("com.amazon.coral.service#{name}"),
            message: message.into(),
        }
    }

    /// `ValidationException` with AWS's "N validation error(s) detected: ..." text.
    pub fn validation(problems: &[String]) -> Self {
        let n = problems.len();
        let plural = if n == 1 { "error" } else { "errors" };
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: "com.amazon.coral.validate#ValidationException".into(),
            message: format!("{n} validation {plural} detected: {}", problems.join("; ")),
        }
    }

    /// A `ValidationException` whose text is not a constraint list.
    pub fn validation_text(message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: "com.amazon.coral.validate#ValidationException".into(),
            message: message.into(),
        }
    }

    /// A failure of the host itself: the store, the runtime. Not the caller's fault.
    pub fn internal(what: &anyhow::Error) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: "com.amazonaws.swf.service.v2.model#InternalFailure".into(),
            message: format!("{what:#}"),
        }
    }

    pub fn invalid_arn(arn: &str, why: &str) -> Self {
        ApiError::service("InvalidArn", format!("Invalid Arn: '{why}: {}'", echo(arn)))
    }

    pub fn invalid_name(name: &str) -> Self {
        ApiError::service("InvalidName", format!("Invalid Name: '{}'", echo(name)))
    }

    pub fn invalid_token(token: &str) -> Self {
        ApiError::service("InvalidToken", format!("Invalid Token: '{}'", echo(token)))
    }

    pub fn machine_does_not_exist(arn: &str) -> Self {
        ApiError::service(
            "StateMachineDoesNotExist",
            format!("State Machine Does Not Exist: '{}'", echo(arn)),
        )
    }

    pub fn execution_does_not_exist(arn: &str) -> Self {
        ApiError::service(
            "ExecutionDoesNotExist",
            format!("Execution Does Not Exist: '{}'", echo(arn)),
        )
    }

    pub fn resource_not_found(arn: &str) -> Self {
        ApiError::service(
            "ResourceNotFound",
            format!("Resource not found: '{}'", echo(arn)),
        )
    }

    /// The JSON body of the response.
    pub fn body(&self) -> Value {
        serde_json::json!({"__type": self.kind, "message": self.message})
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::internal(&anyhow::Error::new(e))
    }
}

/// `value` as it may appear in a message: at most [`ECHO_LIMIT`] characters.
/// (JSON encoding of the response escapes the rest.)
pub fn echo(value: &str) -> String {
    if value.chars().count() <= ECHO_LIMIT {
        return value.to_owned();
    }
    let mut cut: String = value.chars().take(ECHO_LIMIT).collect();
    cut.push_str("...");
    cut
}

/// Epoch seconds with milliseconds, as AWS JSON 1.0 sends timestamps.
pub fn epoch(t: OffsetDateTime) -> Value {
    let millis = t.unix_timestamp_nanos() / 1_000_000;
    // Millisecond counts of real dates fit an f64 exactly.
    serde_json::Number::from_f64(millis as f64 / 1000.0).map_or(Value::Null, Value::Number)
}

/// The members of a request body, read with AWS's checks. Problems with
/// constraints are collected so one `ValidationException` lists them all,
/// as AWS does; a member of the wrong JSON type is a
/// `SerializationException` at once.
pub struct Request {
    members: Map<String, Value>,
    problems: Vec<String>,
}

impl Request {
    /// Parses a body; an empty one is `{}`.
    pub fn parse(body: &[u8]) -> Result<Request, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Request {
                members: Map::new(),
                problems: Vec::new(),
            });
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(members)) => Ok(Request {
                members,
                problems: Vec::new(),
            }),
            Ok(_) => Err(ApiError::coral(
                "SerializationException",
                "Start of structure or map found where not expected: the request body must be a JSON object",
            )),
            Err(e) => Err(ApiError::coral(
                "SerializationException",
                format!("the request body is not valid JSON: {e}"),
            )),
        }
    }

    fn wrong_type(member: &str, expected: &str) -> ApiError {
        ApiError::coral(
            "SerializationException",
            format!("member '{member}' must be {expected}"),
        )
    }

    /// An optional string member, with its length bounds checked.
    pub fn string(
        &mut self,
        member: &str,
        min: usize,
        max: usize,
    ) -> Result<Option<String>, ApiError> {
        let value = match self.members.remove(member) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::String(s)) => s,
            Some(_) => return Err(Self::wrong_type(member, "a string")),
        };
        let len = value.chars().count();
        if len < min {
            self.problems.push(format!(
                "Value '{}' at '{member}' failed to satisfy constraint: Member must have length greater than or equal to {min}",
                echo(&value)
            ));
        } else if len > max {
            self.problems.push(format!(
                "Value '{}' at '{member}' failed to satisfy constraint: Member must have length less than or equal to {max}",
                echo(&value)
            ));
        }
        Ok(Some(value))
    }

    /// A required string member: absent is a validation problem (and "").
    pub fn required(&mut self, member: &str, min: usize, max: usize) -> Result<String, ApiError> {
        match self.string(member, min, max)? {
            Some(value) => Ok(value),
            None => {
                self.problems.push(format!(
                    "Value null at '{member}' failed to satisfy constraint: Member must not be null"
                ));
                Ok(String::new())
            }
        }
    }

    pub fn boolean(&mut self, member: &str) -> Result<Option<bool>, ApiError> {
        match self.members.remove(member) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(_) => Err(Self::wrong_type(member, "a boolean")),
        }
    }

    /// An optional integer member within `min..=max`.
    pub fn integer(&mut self, member: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        let n = match self.members.remove(member) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .ok_or_else(|| Self::wrong_type(member, "an integer"))?,
            Some(_) => return Err(Self::wrong_type(member, "an integer")),
        };
        if n < min {
            self.problems.push(format!(
                "Value '{n}' at '{member}' failed to satisfy constraint: Member must have value greater than or equal to {min}"
            ));
        } else if n > max {
            self.problems.push(format!(
                "Value '{n}' at '{member}' failed to satisfy constraint: Member must have value less than or equal to {max}"
            ));
        }
        Ok(Some(n))
    }

    /// An optional member that must be one of `allowed`.
    pub fn one_of(&mut self, member: &str, allowed: &[&str]) -> Result<Option<String>, ApiError> {
        let value = self.string(member, 0, usize::MAX)?;
        if let Some(v) = &value
            && !allowed.contains(&v.as_str())
        {
            self.problems.push(format!(
                "Value '{}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
                echo(v),
                allowed.join(", ")
            ));
        }
        Ok(value)
    }

    /// An optional member of any JSON shape, for the caller to check.
    pub fn raw(&mut self, member: &str) -> Option<Value> {
        self.members.remove(member).filter(|v| !v.is_null())
    }

    /// An optional list of strings.
    pub fn strings(&mut self, member: &str) -> Result<Option<Vec<String>>, ApiError> {
        match self.raw(member) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s),
                    _ => Err(Self::wrong_type(member, "a list of strings")),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(_) => Err(Self::wrong_type(member, "a list of strings")),
        }
    }

    /// Records a constraint problem found by the operation itself.
    pub fn problem(&mut self, text: String) {
        self.problems.push(text);
    }

    /// Ends reading: the collected problems as one `ValidationException`.
    /// The members as an operation's typed request (serde); a member of
    /// the wrong type is AWS's `SerializationException` naming it.
    pub fn into_typed<T: serde::de::DeserializeOwned>(self) -> Result<T, ApiError> {
        serde_json::from_value(Value::Object(self.members)).map_err(|e| {
            ApiError::coral(
                "SerializationException",
                format!(
                    "the request does not fit the operation: {}",
                    echo(&e.to_string())
                ),
            )
        })
    }

    /// Members the operation does not read are ignored, as AWS ignores
    /// members it does not know.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(&self.problems))
        }
    }

    /// `maxResults` (0 means the default, 100) and `nextToken`.
    pub fn page(&mut self, max: i64) -> Result<Page, ApiError> {
        let limit = self.integer("maxResults", 0, max)?.unwrap_or(0);
        let token = self.string("nextToken", 1, 3096)?;
        Ok(Page {
            limit: match usize::try_from(limit) {
                Ok(0) | Err(_) => 100.min(max as usize),
                Ok(n) => n,
            },
            token,
        })
    }
}

/// What a list operation was asked for.
#[derive(Debug, Clone)]
pub struct Page {
    pub limit: usize,
    pub token: Option<String>,
}

impl Page {
    /// The key after which this page starts, from a token `make_token`
    /// made for the same `list` kind; an unknown token is `InvalidToken`.
    pub fn after(&self, list: &str) -> Result<Option<String>, ApiError> {
        let Some(token) = &self.token else {
            return Ok(None);
        };
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        match decoded.as_deref().and_then(|t| t.split_once('\n')) {
            Some((kind, key)) if kind == list => Ok(Some(key.to_owned())),
            _ => Err(ApiError::invalid_token(token)),
        }
    }

    /// Takes one page from `items`, sorted by `key`, starting after the
    /// token's key; returns it and the token of the next page, if any.
    pub fn take<T>(
        &self,
        list: &str,
        items: impl IntoIterator<Item = T>,
        key: impl Fn(&T) -> String,
        after_key: impl Fn(&str, &str) -> bool,
    ) -> Result<(Vec<T>, Option<String>), ApiError> {
        let after = self.after(list)?;
        let mut page = Vec::new();
        let mut more = false;
        for item in items {
            if let Some(after) = &after
                && !after_key(&key(&item), after)
            {
                continue;
            }
            if page.len() == self.limit {
                more = true;
                break;
            }
            page.push(item);
        }
        let next = match (more, page.last()) {
            (true, Some(last)) => Some(make_token(list, &key(last))),
            _ => None,
        };
        Ok((page, next))
    }
}

/// An opaque `nextToken` for list `list` that resumes after `key`.
pub fn make_token(list: &str, key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{list}\n{key}"))
}

/// AWS's name rules (checklist EXE-10): 1-80 characters, none of
/// whitespace, `< > { } [ ] ? * " # % \ ^ | ~ $ & , ; : /` or the
/// backtick, no control characters.
pub fn valid_name(name: &str) -> bool {
    let len = name.chars().count();
    (1..=80).contains(&len)
        && name.chars().all(|c| {
            !c.is_whitespace()
                && !"<>{}[]?*\"#%\\^|~$&,;:/`".contains(c)
                && !c.is_control()
                && !matches!(c, '\u{FFFE}' | '\u{FFFF}')
        })
}

/// Alias names (checklist VER-02): letters, digits, `- _ .`, at least one
/// character that is not a digit, 1-80 characters.
pub fn valid_alias_name(name: &str) -> bool {
    (1..=80).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.chars().any(|c| !c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_texts_are_aws_shaped() {
        let mut request = Request::parse(br#"{"maxResults": 1001}"#).expect("object");
        let page = request.page(1000).expect("integers");
        assert_eq!(page.limit, 1001);
        let e = request.finish().expect_err("out of range");
        assert_eq!(
            e.message,
            "1 validation error detected: Value '1001' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 1000"
        );
        assert_eq!(e.kind, "com.amazon.coral.validate#ValidationException");
    }

    #[test]
    fn wrong_types_and_bad_json_are_serialization_errors() {
        for body in [&b"{"[..], b"[1]", b"\"x\""] {
            let e = Request::parse(body).err().expect("refused");
            assert!(e.kind.ends_with("#SerializationException"), "{e:?}");
        }
        let mut request = Request::parse(br#"{"name": 5}"#).expect("object");
        let e = request.string("name", 1, 80).expect_err("not a string");
        assert!(e.kind.ends_with("#SerializationException"));
    }

    #[test]
    fn tokens_resume_after_their_key_and_refuse_others() {
        let page = Page {
            limit: 2,
            token: None,
        };
        let items = vec!["a", "b", "c", "d", "e"];
        let by_name = |item: &&str| item.to_string();
        let after = |key: &str, after: &str| key > after;
        let (first, next) = page
            .take("names", items.clone(), by_name, after)
            .expect("no token");
        assert_eq!(first, ["a", "b"]);
        let next = Page {
            limit: 2,
            token: next,
        };
        let (second, _) = next.take("names", items, by_name, after).expect("ours");
        assert_eq!(second, ["c", "d"]);
        let other = Page {
            limit: 2,
            token: Some(make_token("events", "1")),
        };
        assert!(other.after("names").is_err());
        let garbage = Page {
            limit: 2,
            token: Some("%%%".into()),
        };
        assert!(garbage.after("names").is_err());
    }

    #[test]
    fn names_follow_aws_rules() {
        assert!(valid_name("etl-nightly_2"));
        for bad in ["", "a b", "a:b", "a/b", "a\u{1}b", &"x".repeat(81)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        assert!(valid_alias_name("prod"));
        assert!(!valid_alias_name("123"));
        assert!(!valid_alias_name("a:b"));
    }
}
