//! Tries one file-system operation named by its input and reports what
//! happened, so a test can assert that the sandbox allowed or denied it.
//!
//! Input: `{"op": ..., "path": "...", ...}` with op one of
//! - `read`, `list`: the file's text, the directory's sorted entries;
//! - `write`: `data` to `path` (created or truncated);
//! - `fill`: `size` bytes to `path` in 64 KiB writes, reporting `written`;
//! - `set_len`: create `path` and set its length to `size`;
//! - `write_at`: create `path` and write `data` at offset `size`;
//! - `touch`: create `count` empty files named `path/0`, `path/1`, ...;
//! - `link`, `rename`: a hard link to / a rename of `path` at `to`.
//!
//! Output: `{"ok": true, "content": ...}` or `{"ok": false, "error": "..."}`;
//! `fill` and `touch` add how far they got (`written`, `created`).

use std::io::Write;

use serde_json::{Value, json};

wit_bindgen::generate!({ path: "../../../wit", world: "task" });

struct Task;

export!(Task);

impl Guest for Task {
    fn run(input: String, _ctx: Context) -> Result<String, TaskError> {
        let request: Value = serde_json::from_str(&input).map_err(|e| TaskError {
            error: "Probe.BadInput".into(),
            cause: e.to_string(),
        })?;
        let path = request["path"].as_str().unwrap_or_default();
        let to = request["to"].as_str().unwrap_or_default();
        let size = request["size"].as_u64().unwrap_or(0);
        let mut progress = 0u64;
        let outcome = match request["op"].as_str().unwrap_or_default() {
            "read" => std::fs::read_to_string(path).map(Value::from),
            "write" => std::fs::write(path, request["data"].as_str().unwrap_or_default())
                .map(|()| Value::Null),
            "list" => std::fs::read_dir(path).and_then(|entries| {
                let mut names = Vec::new();
                for entry in entries {
                    names.push(entry?.file_name().to_string_lossy().into_owned());
                }
                names.sort();
                Ok(Value::from(names))
            }),
            "fill" => std::fs::File::create(path).and_then(|mut file| {
                let chunk = vec![b'q'; 64 * 1024];
                while progress < size {
                    let n = (size - progress).min(chunk.len() as u64) as usize;
                    file.write_all(&chunk[..n])?;
                    progress += n as u64;
                }
                file.flush().map(|()| Value::Null)
            }),
            "write_at" => std::fs::File::create(path)
                .and_then(|mut file| {
                    use std::io::{Seek, SeekFrom};
                    file.seek(SeekFrom::Start(size))?;
                    file.write_all(request["data"].as_str().unwrap_or("x").as_bytes())
                })
                .map(|()| Value::Null),
            "set_len" => std::fs::File::create(path)
                .and_then(|file| file.set_len(size))
                .map(|()| Value::Null),
            "touch" => (|| {
                for i in 0..request["count"].as_u64().unwrap_or(1) {
                    std::fs::File::create(format!("{path}/{i}"))?;
                    progress += 1;
                }
                Ok(Value::Null)
            })(),
            "link" => std::fs::hard_link(path, to).map(|()| Value::Null),
            "rename" => std::fs::rename(path, to).map(|()| Value::Null),
            other => {
                return Err(TaskError {
                    error: "Probe.BadInput".into(),
                    cause: format!("unknown op {other:?}"),
                });
            }
        };
        let mut report = match outcome {
            Ok(content) => json!({ "ok": true, "content": content }),
            Err(e) => {
                eprintln!("{} failed: {e}", request["op"].as_str().unwrap_or_default());
                json!({ "ok": false, "error": e.to_string() })
            }
        };
        match request["op"].as_str() {
            Some("fill") => report["written"] = json!(progress),
            Some("touch") => report["created"] = json!(progress),
            _ => {}
        }
        Ok(report.to_string())
    }
}
