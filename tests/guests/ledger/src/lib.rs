//! Records each invocation as a file in its granted `/ledger` directory,
//! takes a little time (`ms`, default 20), and returns `n + 1` with its
//! `label`, so a crash test can tell which steps ran and how often.
//!
//! Input: `{"label": "...", "n": 1, "ms": 20}`. Output: `{"label": "...", "n": 2}`.

use serde_json::{Value, json};

wit_bindgen::generate!({ path: "../../../wit", world: "task" });

struct Task;

export!(Task);

impl Guest for Task {
    fn run(input: String, ctx: Context) -> Result<String, TaskError> {
        let input: Value = serde_json::from_str(&input).map_err(|e| TaskError {
            error: "Ledger.BadInput".into(),
            cause: e.to_string(),
        })?;
        let label = input["label"].as_str().unwrap_or("unlabelled");
        let n = input["n"].as_i64().unwrap_or(0);
        let execution = ctx.execution_id.rsplit(':').next().unwrap_or("execution");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let entry = format!("/ledger/{execution}.{label}.{nanos}");
        std::fs::write(&entry, format!("{}\n", ctx.retry_count)).map_err(|e| TaskError {
            error: "Ledger.WriteFailed".into(),
            cause: format!("{entry}: {e}"),
        })?;
        let ms = input["ms"].as_u64().unwrap_or(20);
        std::thread::sleep(std::time::Duration::from_millis(ms));
        Ok(json!({"label": label, "n": n + 1}).to_string())
    }
}
