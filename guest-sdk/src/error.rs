//! The failure a task reports on purpose, which becomes the Task state's ASL error.

use std::fmt;

/// A failure the task reports on purpose.
///
/// It becomes the ASL error of the Task state: [`name`](Error::name) is what `Retry` and `Catch`
/// match in `ErrorEquals` (for example `"Orders.InvalidRow"`), [`cause`](Error::cause) the
/// human-readable detail. Names that start with `States.` or `Sandbox.` are reserved for the
/// host; pick a prefix of your own, as the `Task.` names this crate uses do.
///
/// Conversions from common errors make `?` work in a task function:
///
/// | from | name |
/// | --- | --- |
/// | [`std::io::Error`] | `Task.IoError` |
/// | [`serde_json::Error`] | `Task.JsonError` |
/// | [`std::num::ParseIntError`], [`std::num::ParseFloatError`] | `Task.ParseError` |
/// | [`String`], `&str` | `Task.Failed` (the text is the cause) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    name: String,
    cause: String,
}

impl Error {
    /// Name of the error for input that does not match the task function's parameter.
    pub const INVALID_INPUT: &'static str = "Task.InvalidInput";
    /// Name of the error for a result that cannot be encoded as JSON.
    pub const INVALID_OUTPUT: &'static str = "Task.InvalidOutput";
    /// Name of the error converted from [`std::io::Error`].
    pub const IO_ERROR: &'static str = "Task.IoError";
    /// Name of the error converted from [`serde_json::Error`].
    pub const JSON_ERROR: &'static str = "Task.JsonError";
    /// Name of the error converted from number-parsing errors.
    pub const PARSE_ERROR: &'static str = "Task.ParseError";
    /// Name of the error converted from a bare message.
    pub const FAILED: &'static str = "Task.Failed";

    /// An error with the given ASL error name and cause.
    pub fn new(name: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            cause: cause.into(),
        }
    }

    /// The ASL error name, matched by `ErrorEquals`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The human-readable detail.
    pub fn cause(&self) -> &str {
        &self.cause
    }

    /// Returns a copy whose cause starts with `context`, for saying where a failure happened:
    /// `Error::from(e).context("reading \"/in/day.csv\"")` gives the cause
    /// `reading "/in/day.csv": <cause>`.
    #[must_use]
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.cause = format!("{context}: {}", self.cause);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.cause)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Self::new(Self::IO_ERROR, e.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Self::new(Self::JSON_ERROR, e.to_string())
    }
}

impl From<std::num::ParseIntError> for Error {
    fn from(e: std::num::ParseIntError) -> Self {
        Self::new(Self::PARSE_ERROR, e.to_string())
    }
}

impl From<std::num::ParseFloatError> for Error {
    fn from(e: std::num::ParseFloatError) -> Self {
        Self::new(Self::PARSE_ERROR, e.to_string())
    }
}

impl From<String> for Error {
    fn from(cause: String) -> Self {
        Self::new(Self::FAILED, cause)
    }
}

impl From<&str> for Error {
    fn from(cause: &str) -> Self {
        Self::new(Self::FAILED, cause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_convert_with_their_message() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = Error::from(io).context("reading \"/in/x.csv\"");
        assert_eq!(e.name(), "Task.IoError");
        assert_eq!(e.cause(), "reading \"/in/x.csv\": no such file");
        assert_eq!(
            e.to_string(),
            "Task.IoError: reading \"/in/x.csv\": no such file"
        );
    }

    #[test]
    fn question_mark_converts_parse_errors() {
        fn parse(s: &str) -> crate::Result<u32> {
            Ok(s.parse::<u32>()?)
        }
        let e = parse("x1").expect_err("\"x1\" is not a number");
        assert_eq!(e.name(), "Task.ParseError");
        assert!(e.cause().contains("invalid digit"), "{}", e.cause());
    }
}
