//! Tries one file-system operation named by its input and reports what
//! happened, so a test can assert that the sandbox allowed or denied it.
//!
//! Input: `{"op": "read" | "write" | "list", "path": "...", "data": "..."}`.
//! Output: `{"ok": true, "content": ...}` or `{"ok": false, "error": "..."}`.

use serde_json::{Value, json};

wit_bindgen::generate!({ path: "../../../wit", world: "task" });

struct Task;

export!(Task);

impl Guest for Task {
    fn run(input: String, _ctx: Context) -> Result<String, TaskError> {
        let request: Value = serde_json::from_str(&input).map_err(|e| TaskError {
            error: "Probe.BadInput".into(),
            cause: e.to_string(),
        })?;
        let path = request["path"].as_str().unwrap_or_default();
        let outcome = match request["op"].as_str().unwrap_or_default() {
            "read" => std::fs::read_to_string(path).map(Value::from),
            "write" => std::fs::write(path, request["data"].as_str().unwrap_or_default())
                .map(|()| Value::Null),
            "list" => std::fs::read_dir(path).and_then(|entries| {
                let mut names = Vec::new();
                for entry in entries {
                    names.push(entry?.file_name().to_string_lossy().into_owned());
                }
                names.sort();
                Ok(Value::from(names))
            }),
            other => {
                return Err(TaskError {
                    error: "Probe.BadInput".into(),
                    cause: format!("unknown op {other:?}"),
                });
            }
        };
        let report = match outcome {
            Ok(content) => json!({ "ok": true, "content": content }),
            Err(e) => json!({ "ok": false, "error": e.to_string() }),
        };
        Ok(report.to_string())
    }
}
