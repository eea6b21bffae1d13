//! Fails on purpose with its own error name, as a task reporting bad data would.

wit_bindgen::generate!({ path: "../../../wit", world: "task" });

struct Task;

export!(Task);

impl Guest for Task {
    fn run(input: String, _ctx: Context) -> Result<String, TaskError> {
        Err(TaskError {
            error: "Orders.InvalidRow".into(),
            cause: format!("row has no id: {input}"),
        })
    }
}
