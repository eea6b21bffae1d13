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
