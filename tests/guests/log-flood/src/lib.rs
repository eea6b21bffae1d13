//! Logs as many 1 KiB lines through `sandstep:task/log` as its input says,
//! then succeeds. A JSON string as input is logged once as it is (to see
//! what the host does with a line that holds newlines or escape sequences);
//! `{"empty": N}` logs N empty lines.

wit_bindgen::generate!({ path: "../../../wit", world: "task" });

struct Task;

export!(Task);

use sandstep::task::log::{Level, log};

impl Guest for Task {
    fn run(input: String, _ctx: Context) -> Result<String, TaskError> {
        let input = input.trim();
        if let Some(text) = input.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            // Unescape the few escapes a test needs: \n, \r, \u001b.
            let text = text
                .replace("\\n", "\n")
                .replace("\\r", "\r")
                .replace("\\u001b", "\u{1b}");
            log(Level::Warn, &text);
            return Ok("{\"logged\":1}".into());
        }
        if let Some(n) = input
            .strip_prefix("{\"empty\":")
            .and_then(|rest| rest.strip_suffix('}'))
        {
            let lines: u64 = n.trim().parse().unwrap_or(0);
            for _ in 0..lines {
                log(Level::Info, "");
            }
            return Ok(format!("{{\"logged\":{lines}}}"));
        }
        let lines: u64 = input.parse().unwrap_or(100_000);
        let line = "y".repeat(1024);
        for i in 0..lines {
            log(Level::Info, &format!("{i:08} {line}"));
        }
        Ok(format!("{{\"logged\":{lines}}}"))
    }
}
