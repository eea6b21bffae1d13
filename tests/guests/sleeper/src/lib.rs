//! Blocks in a host call (a WASI sleep) for the number of milliseconds in its input.

wit_bindgen::generate!({ path: "../../../wit", world: "task" });

struct Task;

export!(Task);

impl Guest for Task {
    fn run(input: String, _ctx: Context) -> Result<String, TaskError> {
        let ms: u64 = input.trim().parse().unwrap_or(60_000);
        std::thread::sleep(std::time::Duration::from_millis(ms));
        Ok("{\"slept\":true}".into())
    }
}
