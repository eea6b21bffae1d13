//! Tries to leak the environment variable named in its input everywhere the
//! host records something: a log line, stdout, stderr, its output, and
//! (input `{"var": ..., "fail": true}`) the cause of its error.

use serde_json::{Value, json};

wit_bindgen::generate!({ path: "../../../wit", world: "task" });

struct Task;

export!(Task);

impl Guest for Task {
    fn run(input: String, _ctx: Context) -> Result<String, TaskError> {
        let request: Value = serde_json::from_str(&input).unwrap_or_default();
        let var = request["var"].as_str().unwrap_or("API_KEY");
        let value = std::env::var(var).ok();
        let shown = value.clone().unwrap_or_else(|| "<unset>".into());
        sandstep::task::log::log(
            sandstep::task::log::Level::Warn,
            &format!("the key is {shown}"),
        );
        println!("stdout: {shown}");
        eprintln!("stderr: {shown}");
        if request["fail"] == json!(true) {
            return Err(TaskError {
                error: "Leak.Attempt".into(),
                cause: format!("the key is {shown}"),
            });
        }
        let mut report = json!({ "found": value.is_some(), "value": shown });
        report[shown.as_str()] = json!("as a key");
        Ok(report.to_string())
    }
}
