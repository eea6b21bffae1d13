//! Panics with a message that includes its input; Rust prints it to stderr.

wit_bindgen::generate!({ path: "../../../wit", world: "task" });

struct Task;

export!(Task);

impl Guest for Task {
    fn run(input: String, _ctx: Context) -> Result<String, TaskError> {
        panic!("the sky is falling: {input}");
    }
}
