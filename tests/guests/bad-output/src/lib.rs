//! Returns text that is not JSON.

wit_bindgen::generate!({ path: "../../../wit", world: "task" });

struct Task;

export!(Task);

impl Guest for Task {
    fn run(_input: String, _ctx: Context) -> Result<String, TaskError> {
        Ok("this is {not json".into())
    }
}
