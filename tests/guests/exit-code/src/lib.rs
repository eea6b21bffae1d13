//! Calls `std::process::exit` with the status in its input instead of returning.

wit_bindgen::generate!({ path: "../../../wit", world: "task" });

struct Task;

export!(Task);

impl Guest for Task {
    fn run(input: String, _ctx: Context) -> Result<String, TaskError> {
        let status: i32 = input.trim().parse().unwrap_or(3);
        eprintln!("leaving with status {status}");
        std::process::exit(status);
    }
}
