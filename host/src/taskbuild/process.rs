//! Running the toolchains' commands: output captured, and shown (its end) when they fail.

use std::path::PathBuf;
use std::process::{Command, Output};

use anyhow::{Context as _, bail};

/// How much of a failed command's output an error keeps.
const KEPT_OUTPUT: usize = 4000;

/// Runs `command`; on failure, the error says `doing`, the command's own words and `hint`.
pub fn run_checked(command: &mut Command, doing: &str, hint: &str) -> anyhow::Result<Output> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = command
        .output()
        .with_context(|| format!("{doing}: cannot start {program}"))?;
    if !output.status.success() {
        bail!(
            "{doing} failed ({}):\n{}\n{hint}",
            output.status,
            tail(&output)
        );
    }
    Ok(output)
}

/// The end of what a command printed, stderr then stdout.
pub fn tail(output: &Output) -> String {
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !stdout.trim().is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&stdout);
    }
    let text = text.trim();
    let mut start = text.len().saturating_sub(KEPT_OUTPUT);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let kept = &text[start..];
    if start > 0 {
        format!("...\n{kept}")
    } else {
        kept.to_owned()
    }
}

/// `name` as found on PATH.
pub fn found_on_path(name: &str) -> Option<PathBuf> {
    found_in(name, &std::env::var_os("PATH")?)
}

/// `name` as found in the directories of `path` (a PATH value).
pub fn found_in(name: &str, path: &std::ffi::OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
