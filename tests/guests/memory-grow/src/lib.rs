//! Grows its linear memory with raw `memory.grow`, 16 pages (1 MiB) at a
//! time, bypassing the allocator, until the host says no.

wit_bindgen::generate!({ path: "../../../wit", world: "task" });

struct Task;

export!(Task);

impl Guest for Task {
    fn run(_input: String, _ctx: Context) -> Result<String, TaskError> {
        let mut pages = 0usize;
        loop {
            let before = core::arch::wasm32::memory_grow(0, 16);
            if before == usize::MAX {
                // Refused without a trap: report it, so a test can tell.
                return Ok(format!("{{\"refused_after_pages\":{pages}}}"));
            }
            pages += 16;
        }
    }
}
