//! Errors of the query layer's compile step: a malformed expression
//! ([`QueryError`]) and a problem found at a place inside a definition
//! ([`TemplateProblem`]). Runtime failures are [`crate::errors::AslError`]s.

use std::fmt;

/// An expression that cannot be compiled: which one, where in it, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid expression '{expr}' at character {position}: {message}")]
pub struct QueryError {
    /// The expression as written.
    pub expr: String,
    /// Character offset (0-based) of the problem inside `expr`.
    pub position: usize,
    /// What is wrong there, lowercase, no final period.
    pub message: String,
}

impl QueryError {
    pub fn new(expr: &str, position: usize, message: impl Into<String>) -> Self {
        QueryError {
            expr: expr.to_owned(),
            position,
            message: message.into(),
        }
    }
}

/// A problem at a place inside a definition fragment (a payload template or
/// a Choice rule): `pointer` is a JSON pointer relative to that fragment,
/// e.g. `/foo.$`, so a validator can prefix it with `/States/X/Parameters`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateProblem {
    pub pointer: String,
    pub message: String,
}

impl TemplateProblem {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        TemplateProblem {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for TemplateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}", self.message, self.pointer)
    }
}

/// Escapes one JSON pointer reference token (RFC 6901).
pub fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
