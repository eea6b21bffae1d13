//! Tries file-system operations named by its input and reports what
//! happened, so a test can assert that the sandbox allowed or denied them.
//!
//! Input: `{"op": ..., "path": "...", ...}` with op one of
//! - `read`, `list`, `stat`: the file's text, the directory's sorted
//!   entries, the entry's length;
//! - `write`: `data` to `path` (created or truncated);
//! - `fill`: `size` bytes to `path` in 64 KiB writes, reporting `written`;
//! - `write_n`: `size` bytes to `path` (created or truncated) in writes of
//!   `chunk` bytes, reporting `written`;
//! - `set_len`: create `path` and set its length to `size`;
//! - `resize`: set the length of the existing `path` to `size`;
//! - `write_at`: create `path` and write `data` at offset `size`;
//! - `create`: open `path` for writing, creating it if missing (no truncation);
//! - `touch`: create `count` empty files named `path/0`, `path/1`, ...;
//! - `link`, `rename`: a hard link to / a rename of `path` at `to`;
//! - `symlink`: a symbolic link at `path` whose target is `to`;
//! - `readlink`: the target of the link at `path`;
//! - `unlink`, `mkdir`: remove a file / make a directory;
//! - `utimes`: set `path`'s times to now;
//! - `hold`: open `path` (or with `"each": true`, create `path/0`, `path/1`,
//!   ...) `count` times and keep every handle, then sleep `sleep_ms`;
//!   reports `opened`;
//! - `churn`: create `path`, then `count` times write `size` bytes and
//!   shrink the file back to nothing through the same handle (each write
//!   lands further out, past the end: a hole); reports `written` rounds;
//! - `listings`: open `count` listings of directory `path` and keep them;
//!   reports `opened`;
//! - `script`: run each request of `steps` in order and report each (the
//!   report is also printed on stdout).
//!
//! Output: `{"ok": true, "content": ...}` or `{"ok": false, "error": "..."}`;
//! counting ops add how far they got (`written`, `created`, `opened`), and
//! `script` returns `{"steps": [report, ...]}`. The report is also printed
//! (stdout for `script`, a `report: ` line on stderr otherwise), since a call
//! that ends with a host error (a refused write) keeps only what it printed.

use std::ffi::{CString, c_char, c_int};
use std::io::Write;

use serde_json::{Value, json};

wit_bindgen::generate!({ path: "../../../wit", world: "task" });

struct Task;

export!(Task);

// wasi-libc's own functions, for what std offers on wasip2 only unstably.
unsafe extern "C" {
    fn symlink(target: *const c_char, path: *const c_char) -> c_int;
    fn utimensat(dir: c_int, path: *const c_char, times: *const u8, flags: c_int) -> c_int;
}

const AT_FDCWD: c_int = -2;

fn c_path(path: &str) -> std::io::Result<CString> {
    CString::new(path).map_err(|_| std::io::Error::other("NUL in path"))
}

fn libc_result(status: c_int) -> std::io::Result<Value> {
    if status == 0 {
        Ok(Value::Null)
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Runs one request; `progress` counts how far a counting op got.
fn run_op(request: &Value, progress: &mut u64) -> std::io::Result<Value> {
    let path = request["path"].as_str().unwrap_or_default();
    let to = request["to"].as_str().unwrap_or_default();
    let size = request["size"].as_u64().unwrap_or(0);
    let count = request["count"].as_u64().unwrap_or(1);
    match request["op"].as_str().unwrap_or_default() {
        "read" => std::fs::read_to_string(path).map(Value::from),
        "stat" => std::fs::metadata(path).map(|m| Value::from(m.len())),
        "write" => {
            std::fs::write(path, request["data"].as_str().unwrap_or_default()).map(|()| Value::Null)
        }
        "list" => std::fs::read_dir(path).and_then(|entries| {
            let mut names = Vec::new();
            for entry in entries {
                names.push(entry?.file_name().to_string_lossy().into_owned());
            }
            names.sort();
            Ok(Value::from(names))
        }),
        "fill" | "write_n" => std::fs::File::create(path).and_then(|mut file| {
            let chunk = request["chunk"].as_u64().unwrap_or(64 * 1024).max(1) as usize;
            let data = vec![b'q'; chunk];
            while *progress < size {
                let n = (size - *progress).min(chunk as u64) as usize;
                let written = file.write(&data[..n])?;
                if written == 0 {
                    return Err(std::io::Error::other("wrote nothing"));
                }
                *progress += written as u64;
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
        "resize" => std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|file| file.set_len(size))
            .map(|()| Value::Null),
        "create" => std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map(|_| Value::Null),
        "touch" => {
            for i in 0..count {
                std::fs::File::create(format!("{path}/{i}"))?;
                *progress += 1;
            }
            Ok(Value::Null)
        }
        "link" => std::fs::hard_link(path, to).map(|()| Value::Null),
        "rename" => std::fs::rename(path, to).map(|()| Value::Null),
        "symlink" => {
            let (target, link) = (c_path(to)?, c_path(path)?);
            libc_result(unsafe { symlink(target.as_ptr(), link.as_ptr()) })
        }
        "readlink" => std::fs::read_link(path).map(|t| Value::from(t.to_string_lossy())),
        "unlink" => std::fs::remove_file(path).map(|()| Value::Null),
        "mkdir" => std::fs::create_dir(path).map(|()| Value::Null),
        "utimes" => {
            let link = c_path(path)?;
            libc_result(unsafe { utimensat(AT_FDCWD, link.as_ptr(), std::ptr::null(), 0) })
        }
        "hold" => {
            let mut held = Vec::new();
            let each = request["each"].as_bool().unwrap_or(false);
            for i in 0..count {
                let file = if each {
                    std::fs::File::create(format!("{path}/{i}"))?
                } else {
                    std::fs::File::open(path)?
                };
                held.push(file);
                *progress += 1;
            }
            std::thread::sleep(std::time::Duration::from_millis(
                request["sleep_ms"].as_u64().unwrap_or(0),
            ));
            Ok(Value::from(held.len()))
        }
        "churn" => {
            let mut file = std::fs::File::create(path)?;
            let data = vec![b'c'; size as usize];
            for _ in 0..count {
                file.write_all(&data)?;
                file.set_len(0)?;
                *progress += 1;
            }
            Ok(Value::Null)
        }
        "listings" => {
            let mut held = Vec::new();
            for _ in 0..count {
                held.push(std::fs::read_dir(path)?);
                *progress += 1;
            }
            Ok(Value::from(held.len()))
        }
        other => Err(std::io::Error::other(format!("unknown op {other:?}"))),
    }
}

fn report(request: &Value) -> Value {
    let mut progress = 0u64;
    let mut report = match run_op(request, &mut progress) {
        Ok(content) => json!({ "ok": true, "content": content }),
        Err(e) => {
            eprintln!(
                "{} failed: {e}",
                request["op"].as_str().unwrap_or_default()
            );
            json!({ "ok": false, "error": e.to_string() })
        }
    };
    match request["op"].as_str() {
        Some("fill" | "write_n" | "churn") => report["written"] = json!(progress),
        Some("touch") => report["created"] = json!(progress),
        Some("hold" | "listings") => report["opened"] = json!(progress),
        _ => {}
    }
    report
}

impl Guest for Task {
    fn run(input: String, _ctx: Context) -> Result<String, TaskError> {
        let request: Value = serde_json::from_str(&input).map_err(|e| TaskError {
            error: "Probe.BadInput".into(),
            cause: e.to_string(),
        })?;
        let report = match request["op"].as_str() {
            Some("script") => {
                let steps = request["steps"].as_array().cloned().unwrap_or_default();
                let report = json!({ "steps": steps.iter().map(report).collect::<Vec<_>>() });
                // Also on stdout: a call that ends with a host error (a
                // refused write) keeps its captured output, not its result.
                println!("{report}");
                report
            }
            _ => {
                let report = report(&request);
                // On stderr too, for a call that ends with a host error.
                eprintln!("report: {report}");
                report
            }
        };
        Ok(report.to_string())
    }
}
