//! Writes its input's number of bytes to stdout and a tenth of it to stderr,
//! far more than the host keeps, then succeeds.

use std::io::Write;

wit_bindgen::generate!({ path: "../../../wit", world: "task" });

struct Task;

export!(Task);

impl Guest for Task {
    fn run(input: String, _ctx: Context) -> Result<String, TaskError> {
        let total: usize = input.trim().parse().unwrap_or(10 << 20);
        let line = [b'x'; 1023];
        let mut written = 0;
        while written < total {
            let mut out = std::io::stdout().lock();
            out.write_all(&line).ok();
            out.write_all(b"\n").ok();
            written += 1024;
            if written % 2048 == 0 {
                eprintln!("flooding stderr too, {written} bytes so far");
            }
        }
        println!("last line");
        Ok(format!("{{\"written\":{written}}}"))
    }
}
