//! What the host logs about a call's refusals, and how guest text is made
//! safe to log.
//!
//! A refusal (a path outside a grant, a write past a quota, a socket outside
//! the allow-list) is logged as a `warn` line (target `sandstep::sandbox`),
//! but a guest can fail in a loop: each call logs the first
//! [`LOGGED_PER_KIND`] refusals of each kind in full, counts the rest, and
//! when the call ends logs one summary per kind, "and K more refusals of
//! this kind". So one call costs the log a bounded number of lines whatever
//! it does.
//!
//! Everything a guest controls (a path, a name, a log line, captured
//! output) goes through [`escape_for_log`] before it reaches a log line:
//! control characters are escaped (a newline cannot start a forged log
//! line, an escape sequence never reaches a terminal) and the text is cut
//! to a bounded length.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Refusals of one kind one call logs in full; later ones are counted.
pub const LOGGED_PER_KIND: u64 = 10;
/// The most characters of one guest-controlled value put in a log line.
pub const LOGGED_CHARS: usize = 256;

/// The refusals of one call, shared by everything that refuses on its
/// behalf (file system, sockets, name lookups). Logs its summary when the
/// call's last reference goes, however the call ended.
#[derive(Debug)]
pub(crate) struct RefusalLog {
    task: String,
    /// Kind → refusals seen.
    seen: Mutex<BTreeMap<String, u64>>,
}

impl RefusalLog {
    pub fn new(task: &str) -> Arc<RefusalLog> {
        Arc::new(RefusalLog {
            task: task.to_owned(),
            seen: Mutex::default(),
        })
    }

    /// The task's name, escaped for a log line.
    pub fn task(&self) -> Cow<'_, str> {
        escape_for_log(&self.task, LOGGED_CHARS)
    }

    /// Counts a refusal of `kind`; whether it should be logged in full.
    pub fn admit(&self, kind: &str) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let count = match seen.get_mut(kind) {
            Some(count) => count,
            None => seen.entry(kind.to_owned()).or_default(),
        };
        *count += 1;
        *count <= LOGGED_PER_KIND
    }

    /// Refusals counted so far, of every kind.
    #[cfg(test)]
    pub fn total(&self) -> u64 {
        let seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.values().sum()
    }
}

impl Drop for RefusalLog {
    fn drop(&mut self) {
        let seen = self.seen.get_mut().unwrap_or_else(PoisonError::into_inner);
        for (kind, count) in seen.iter() {
            if let Some(more) = count.checked_sub(LOGGED_PER_KIND).filter(|&m| m > 0) {
                tracing::warn!(
                    target: "sandstep::sandbox",
                    task = ?escape_for_log(&self.task, LOGGED_CHARS),
                    kind = kind.as_str(),
                    more,
                    "and {more} more refusals of this kind in this call (not logged one by one)"
                );
            }
        }
    }
}

/// `text` safe for one log line: backslashes doubled, control and
/// bidirectional-formatting characters written as `\n`, `\u{1b}` and so
/// on, and cut after `max_chars` characters with a note of how much more
/// there was. Borrows when nothing needs changing.
pub fn escape_for_log(text: &str, max_chars: usize) -> Cow<'_, str> {
    let clean = text.chars().all(|c| c != '\\' && !needs_escape(c));
    let (count, cut_at) = text
        .char_indices()
        .nth(max_chars)
        .map_or((0, None), |(at, _)| (text[at..].len(), Some(at)));
    if clean && cut_at.is_none() {
        return Cow::Borrowed(text);
    }
    let shown = &text[..cut_at.unwrap_or(text.len())];
    let mut out = String::with_capacity(shown.len() + 16);
    for c in shown.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    if cut_at.is_some() {
        out.push_str(&format!("... ({count} more bytes)"));
    }
    Cow::Owned(out)
}

/// Control characters (C0, DEL, C1), line and paragraph separators, and
/// the bidirectional overrides that reorder what a terminal shows.
pub(crate) fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_long_text_cut() {
        assert!(matches!(escape_for_log("plain ü", 10), Cow::Borrowed(_)));
        assert_eq!(
            escape_for_log("a\nINFO forged\r\x1b[31m\\", 100),
            "a\\nINFO forged\\r\\u{1b}[31m\\\\"
        );
        assert_eq!(escape_for_log("\u{202e}txt", 10), "\\u{202e}txt");
        assert_eq!(escape_for_log("\u{85}", 10), "\\u{85}");
        assert_eq!(escape_for_log("abcdef", 3), "abc... (3 more bytes)");
        assert_eq!(escape_for_log("ééé", 1), "é... (4 more bytes)");
    }

    #[test]
    fn the_first_refusals_of_each_kind_are_admitted_then_counted() {
        let log = RefusalLog::new("t");
        let admitted = (0..25).filter(|_| log.admit("stat not-permitted")).count();
        assert_eq!(admitted as u64, LOGGED_PER_KIND);
        assert!(log.admit("open access"), "another kind has its own count");
        assert_eq!(log.total(), 26);
    }
}
