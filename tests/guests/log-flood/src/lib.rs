//! Logs as many 1 KiB lines through `sandstep:task/log` as its input says, then succeeds.

wit_bindgen::generate!({ path: "../../../wit", world: "task" });

struct Task;

export!(Task);

impl Guest for Task {
    fn run(input: String, _ctx: Context) -> Result<String, TaskError> {
        let lines: u64 = input.trim().parse().unwrap_or(100_000);
        let line = "y".repeat(1024);
        for i in 0..lines {
            sandstep::task::log::log(sandstep::task::log::Level::Info, &format!("{i:08} {line}"));
        }
        Ok(format!("{{\"logged\":{lines}}}"))
    }
}
