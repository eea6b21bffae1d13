//! Secrets a task is given as environment variables, and the redaction of
//! their values from everything the host records about a call.
//!
//! Where a secret's value comes from (a host environment variable, a file)
//! is the manifest's business; here it is only a value that must not be
//! printed. [`SecretValue`]'s `Debug` hides it. After a call, every
//! occurrence of a secret's value is replaced with `[redacted NAME]` in: the
//! task's log lines (before they reach `tracing`), its captured stdout and
//! stderr, the error name and cause it ended with, and the strings (keys and
//! values) of its JSON output, so none reaches history or logs verbatim.
//!
//! Redaction finds the exact value only: a guest holding a secret can still
//! transform it (encode, split, reverse) and pass it on. It protects against
//! accidental echo, not against a task it was deliberately given to.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

/// A secret's value; `Debug` prints `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: String) -> Self {
        SecretValue(value)
    }

    /// The value itself, for the guest's environment.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A secret a task sees as the environment variable `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub name: String,
    pub value: SecretValue,
}

/// Replaces secret values in text a call produced. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    /// (name, value), longest value first so a secret containing another is
    /// replaced whole. `None` (no allocation per call) without secrets.
    secrets: Option<Arc<[(String, String)]>>,
}

impl Redactor {
    pub fn new(secrets: &[Secret]) -> Self {
        if secrets.is_empty() {
            return Redactor::default();
        }
        let mut pairs: Vec<(String, String)> = secrets
            .iter()
            .filter(|s| !s.value.0.is_empty())
            .map(|s| (s.name.clone(), s.value.0.clone()))
            .collect();
        pairs.sort_by_key(|(_, value)| std::cmp::Reverse(value.len()));
        Redactor {
            secrets: (!pairs.is_empty()).then(|| pairs.into()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_none()
    }

    /// `text` with every secret value replaced by `[redacted NAME]`.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for (name, value) in self.secrets.iter().flat_map(|s| s.iter()) {
            if out.contains(value.as_str()) {
                out = Cow::Owned(out.replace(value.as_str(), &format!("[redacted {name}]")));
            }
        }
        out
    }

    /// Redacts `text` in place; true when something was replaced.
    pub fn redact_string(&self, text: &mut String) -> bool {
        match self.redact(text) {
            Cow::Borrowed(_) => false,
            Cow::Owned(clean) => {
                *text = clean;
                true
            }
        }
    }

    /// Redacts every string and key of `value`; true when something was replaced.
    pub fn redact_json(&self, value: &mut Value) -> bool {
        match value {
            Value::String(s) => self.redact_string(s),
            Value::Array(items) => items
                .iter_mut()
                .fold(false, |hit, item| self.redact_json(item) | hit),
            Value::Object(map) => {
                let mut hit = false;
                if map.keys().any(|k| matches!(self.redact(k), Cow::Owned(_))) {
                    let entries = std::mem::take(map);
                    for (key, item) in entries {
                        map.insert(self.redact(&key).into_owned(), item);
                    }
                    hit = true;
                }
                map.values_mut()
                    .fold(hit, |hit, item| self.redact_json(item) | hit)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn redactor() -> Redactor {
        Redactor::new(&[
            Secret {
                name: "SHORT".into(),
                value: SecretValue::new("hunter2".into()),
            },
            Secret {
                name: "LONG".into(),
                value: SecretValue::new("xhunter2x".into()),
            },
        ])
    }

    #[test]
    fn values_are_replaced_longest_first() {
        let r = redactor();
        assert_eq!(
            r.redact("pw=hunter2 or xhunter2x"),
            "pw=[redacted SHORT] or [redacted LONG]"
        );
        assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_keys_and_values_are_redacted() {
        let r = redactor();
        let mut v = json!({"a": ["hunter2", 1], "hunter2": {"b": "x hunter2"}});
        assert!(r.redact_json(&mut v));
        assert_eq!(
            v,
            json!({"a": ["[redacted SHORT]", 1], "[redacted SHORT]": {"b": "x [redacted SHORT]"}})
        );
        assert!(!r.redact_json(&mut json!({"clean": true})));
    }

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret {
            name: "K".into(),
            value: SecretValue::new("hunter2".into()),
        };
        assert_eq!(format!("{s:?}"), "Secret { name: \"K\", value: *** }");
    }
}
