//! One problem found in a state-machine definition.

use std::fmt;

/// A problem in a definition, shaped like one entry of AWS's
/// `ValidateStateMachineDefinition` diagnostics.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// AWS's code: `SCHEMA_VALIDATION_FAILED`, `INVALID_JSON_DESCRIPTION`, ...
    pub code: &'static str,
    /// What is wrong, in AWS's words where AWS has them.
    pub message: String,
    /// JSON pointer to the offending field, e.g. `/States/ChargeCard/Retry/0`;
    /// `None` when the document as a whole is at fault (not JSON at all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

impl Diagnostic {
    pub const SCHEMA_VALIDATION_FAILED: &'static str = "SCHEMA_VALIDATION_FAILED";
    pub const INVALID_JSON_DESCRIPTION: &'static str = "INVALID_JSON_DESCRIPTION";

    /// A `SCHEMA_VALIDATION_FAILED` problem at `location` (a JSON pointer).
    pub fn schema(location: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            code: Self::SCHEMA_VALIDATION_FAILED,
            message: message.into(),
            location: Some(location.into()),
        }
    }
}

impl fmt::Display for Diagnostic {
    /// `SCHEMA_VALIDATION_FAILED: <message> at /States/Name/Field`, the text
    /// AWS puts in an `InvalidDefinition` error.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(location) = &self.location {
            write!(f, " at {location}")?;
        }
        Ok(())
    }
}

/// The result of validating a definition, serialized like AWS's
/// `ValidateStateMachineDefinition` response.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ValidationReport {
    /// `OK` or `FAIL`.
    pub result: &'static str,
    pub diagnostics: Vec<Diagnostic>,
    pub truncated: bool,
}

impl ValidationReport {
    pub fn new(diagnostics: Vec<Diagnostic>) -> Self {
        ValidationReport {
            result: if diagnostics.is_empty() { "OK" } else { "FAIL" },
            diagnostics,
            truncated: false,
        }
    }
}
