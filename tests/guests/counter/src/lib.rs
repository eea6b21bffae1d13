//! Counts its calls in a static: on a fresh instance per call it always says 1.

use std::sync::atomic::{AtomicU32, Ordering};

wit_bindgen::generate!({ path: "../../../wit", world: "task" });

struct Task;

export!(Task);

static CALLS: AtomicU32 = AtomicU32::new(0);

impl Guest for Task {
    fn run(_input: String, ctx: Context) -> Result<String, TaskError> {
        let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(format!(
            "{{\"calls\":{calls},\"execution\":{:?},\"state\":{:?},\"retry\":{}}}",
            ctx.execution_id, ctx.state_name, ctx.retry_count
        ))
    }
}
