//! Recurses without end. Input `"wasm"`: small frames, so the engine's wasm
//! call stack runs out first. Input `"shadow"`: 64 KiB frames on Rust's
//! shadow stack in linear memory, which runs out first.

wit_bindgen::generate!({ path: "../../../wit", world: "task" });

struct Task;

export!(Task);

#[inline(never)]
#[allow(unconditional_recursion, reason = "the point of this guest")]
fn deep(n: u64) -> u64 {
    std::hint::black_box(deep(std::hint::black_box(n + 1))) + 1
}

#[inline(never)]
#[allow(unconditional_recursion, reason = "the point of this guest")]
fn wide(n: usize) -> u8 {
    let mut frame = [0u8; 64 * 1024];
    frame[n % frame.len()] = n as u8;
    std::hint::black_box(&mut frame);
    frame[(n * 7) % frame.len()].wrapping_add(wide(std::hint::black_box(n + 1)))
}

impl Guest for Task {
    fn run(input: String, _ctx: Context) -> Result<String, TaskError> {
        let result = if input.contains("shadow") {
            u64::from(wide(0))
        } else {
            deep(0)
        };
        Ok(result.to_string())
    }
}
