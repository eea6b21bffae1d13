//! Spins forever without calling the host: only fuel or the deadline stops it.

wit_bindgen::generate!({ path: "../../../wit", world: "task" });

struct Task;

export!(Task);

impl Guest for Task {
    fn run(_input: String, _ctx: Context) -> Result<String, TaskError> {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}
