//! Typed JSONata fields: the scalar fields that take an expression
//! (checklist JSONATA-03) evaluated and checked, with AWS's causes where the
//! conformance cases record them (`Items`, `Timestamp`, the Map input).
//!
//! Texts AWS has not been seen to print (an integer out of range, a
//! non-integral number) follow the shape of the recorded ones. Not owned:
//! which field uses which range beyond the constants here (the engine
//! decides), and the engine's cause prefix.

use std::ops::RangeInclusive;

use serde_json::Value;
use time::OffsetDateTime;

use super::{JsonataEnv, JsonataError, JsonataValue};
use crate::query::parse_timestamp;

/// Wait `Seconds`: 0 to 99,999,999.
pub const SECONDS: RangeInclusive<i64> = 0..=99_999_999;
/// Task `TimeoutSeconds` and `HeartbeatSeconds`: 1 to 99,999,999.
pub const TIMEOUT_SECONDS: RangeInclusive<i64> = 1..=99_999_999;
/// `MaxConcurrency` (0 = no limit), `ToleratedFailureCount`, `MaxItems`.
pub const NON_NEGATIVE: RangeInclusive<i64> = 0..=i64::MAX;
/// `MaxItemsPerBatch`, `MaxInputBytesPerBatch`.
pub const POSITIVE: RangeInclusive<i64> = 1..=i64::MAX;
/// `ToleratedFailurePercentage`: a number from 0 to 100.
pub const PERCENTAGE: RangeInclusive<f64> = 0.0..=100.0;

/// The JSON type name AWS prints (JavaScript's, plus `null` and `array`).
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Compact JSON, as AWS prints values in causes.
fn compact(v: &Value) -> String {
    v.to_string()
}

impl JsonataValue {
    /// How a cause names the value: the expression, or the field's literal.
    fn subject(&self, field: &str) -> String {
        match self.as_expression() {
            Some(e) => format!(
                "The JSONata expression '{}' specified for the field '{field}'",
                e.source()
            ),
            None => format!("The value specified for the field '{field}'"),
        }
    }

    fn unexpected_type(&self, field: &str, expected: &str, got: &Value) -> JsonataError {
        JsonataError::new(
            format!(
                "{} returned an unexpected result type. Expected '{expected}', but was '{}' for \
                 value: {}",
                self.subject(field),
                type_name(got),
                compact(got)
            ),
            Some(field.to_owned()),
        )
    }

    /// Map `Items`: an array.
    pub fn eval_array(
        &self,
        field: &str,
        env: &JsonataEnv<'_>,
    ) -> Result<Vec<Value>, JsonataError> {
        match self.eval(field, env)? {
            Value::Array(items) => Ok(items),
            other => Err(self.unexpected_type(field, "array", &other)),
        }
    }

    /// Choice `Condition` (`true`, `false` or an expression): a boolean.
    pub fn eval_condition(&self, field: &str, env: &JsonataEnv<'_>) -> Result<bool, JsonataError> {
        match self.eval(field, env)? {
            Value::Bool(b) => Ok(b),
            other => Err(self.unexpected_type(field, "boolean", &other)),
        }
    }

    /// Fail `Error`/`Cause`, `Credentials.RoleArn`: a string.
    pub fn eval_string(&self, field: &str, env: &JsonataEnv<'_>) -> Result<String, JsonataError> {
        match self.eval(field, env)? {
            Value::String(s) => Ok(s),
            other => Err(self.unexpected_type(field, "string", &other)),
        }
    }

    /// An integer field (`Seconds`, `TimeoutSeconds`, `MaxConcurrency`, …)
    /// within `range` (see the constants of this module).
    pub fn eval_integer(
        &self,
        field: &str,
        env: &JsonataEnv<'_>,
        range: RangeInclusive<i64>,
    ) -> Result<i64, JsonataError> {
        let v = self.eval(field, env)?;
        let Some(n) = v.as_f64() else {
            return Err(self.unexpected_type(field, "number", &v));
        };
        let integral = v
            .as_i64()
            .or_else(|| (n.fract() == 0.0 && n.abs() < 9.2e18).then_some(n as i64));
        let Some(i) = integral else {
            return Err(self.unexpected_type(field, "integer", &v));
        };
        if !range.contains(&i) {
            return Err(JsonataError::new(
                format!(
                    "{} returned {i}, which is out of range: expected an integer from {} to {}.",
                    self.subject(field),
                    range.start(),
                    range.end()
                ),
                Some(field.to_owned()),
            ));
        }
        Ok(i)
    }

    /// A number field within `range` (`ToleratedFailurePercentage`).
    pub fn eval_number(
        &self,
        field: &str,
        env: &JsonataEnv<'_>,
        range: RangeInclusive<f64>,
    ) -> Result<f64, JsonataError> {
        let v = self.eval(field, env)?;
        let Some(n) = v.as_f64() else {
            return Err(self.unexpected_type(field, "number", &v));
        };
        if !range.contains(&n) {
            return Err(JsonataError::new(
                format!(
                    "{} returned {}, which is out of range: expected a number from {} to {}.",
                    self.subject(field),
                    compact(&v),
                    range.start(),
                    range.end()
                ),
                Some(field.to_owned()),
            ));
        }
        Ok(n)
    }

    /// Wait `Timestamp`: an ISO-8601 extended offset date-time string.
    pub fn eval_timestamp(
        &self,
        field: &str,
        env: &JsonataEnv<'_>,
    ) -> Result<OffsetDateTime, JsonataError> {
        let v = self.eval(field, env)?;
        let parsed = v.as_str().and_then(parse_timestamp);
        parsed.ok_or_else(|| {
            let shown = v.as_str().map_or_else(|| compact(&v), str::to_owned);
            JsonataError::new(
                format!(
                    "The {field} field cannot be parsed as an ISO-8601 extended offset date-time \
                     format string: {shown}"
                ),
                Some(field.to_owned()),
            )
        })
    }
}

/// A JSONata Map without `Items` iterates its input, which must be an array.
pub fn map_input_array(input: &Value) -> Result<&Vec<Value>, JsonataError> {
    input.as_array().ok_or_else(|| {
        JsonataError::new(
            format!(
                "Map state input must be an array but was: {}",
                compact(input)
            ),
            None,
        )
    })
}
