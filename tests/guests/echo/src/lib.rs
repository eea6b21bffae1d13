//! Benign: logs one line through the host and returns its input unchanged.

wit_bindgen::generate!({ path: "../../../wit", world: "task" });

struct Task;

export!(Task);

impl Guest for Task {
    fn run(input: String, ctx: Context) -> Result<String, TaskError> {
        sandstep::task::log::log(
            sandstep::task::log::Level::Info,
            &format!("echo in state {:?}: {} bytes", ctx.state_name, input.len()),
        );
        Ok(input)
    }
}
