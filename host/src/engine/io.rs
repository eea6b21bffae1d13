//! JSONPath-mode input and output processing, in AWS's order:
//! `InputPath → Parameters → (state work) → ResultSelector → ResultPath
//! (merged into the raw state input) → OutputPath`.

use std::io;

use serde_json::Value;

use crate::asl::model::PathField;
use crate::errors::{AslError, names};

/// `ResultPath`: place `result` into the raw state input.
/// Absent means the result replaces the input; `null` discards the result.
pub fn merge_result(field: &PathField, raw_input: Value, result: Value) -> Result<Value, AslError> {
    match field {
        PathField::Default => Ok(result),
        PathField::Null => Ok(raw_input),
        PathField::Path(path) => path
            .assign(raw_input, result)
            .map_err(|cause| AslError::new(names::RESULT_PATH_MATCH_FAILURE, cause)),
    }
}

/// Whether `value` as compact JSON text is at most `limit` bytes. A cheap
/// upper bound settles it for most payloads (far under the limit); only a
/// value near the limit is measured exactly.
pub fn fits(value: &Value, limit: usize) -> bool {
    upper_bound(value, limit) <= limit || json_len(value) <= limit
}

/// An upper bound of `json_len(value)`: every string byte escaped as
/// `\u00XX`, every number at its longest. Stops counting past `limit`.
fn upper_bound(value: &Value, limit: usize) -> usize {
    const NUMBER: usize = 24;
    match value {
        Value::Null | Value::Bool(_) => 5,
        Value::Number(_) => NUMBER,
        Value::String(s) => 2 + 6 * s.len(),
        Value::Array(items) => {
            let mut total = 2 + items.len();
            for item in items {
                total += upper_bound(item, limit);
                if total > limit {
                    break;
                }
            }
            total
        }
        Value::Object(fields) => {
            let mut total = 2 + 2 * fields.len();
            for (key, item) in fields {
                total += 2 + 6 * key.len() + upper_bound(item, limit);
                if total > limit {
                    break;
                }
            }
            total
        }
    }
}

/// The size of a value as compact JSON text, without building the text.
pub fn json_len(value: &Value) -> usize {
    struct Counter(usize);
    impl io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fits_agrees_with_the_exact_length() {
        let values = [
            json!(null),
            json!(-1.7976931348623157e308),
            json!("tab\t quote\" control\u{1} é ✓"),
            json!({"a": [1, 2.5, "x"], "b\n": {"c": null, "d": true}}),
            Value::Array(vec![json!("\u{0}\u{0}\u{0}"); 40]),
        ];
        for value in values {
            let exact = json_len(&value);
            assert!(upper_bound(&value, usize::MAX) >= exact, "{value}");
            for limit in [0, 1, exact.saturating_sub(1), exact, exact + 1, 10 * exact] {
                assert_eq!(fits(&value, limit), exact <= limit, "{value} at {limit}");
            }
        }
    }
}
