//! Text that a guest, an execution's data or a request controls, made safe
//! for a terminal or a log: every print path that shows such text (an
//! error, a cause, an output, a state or execution name) goes through
//! [`escaped`], so a newline cannot forge a line of the host's own and an
//! escape sequence cannot reach the terminal.

use std::borrow::Cow;

/// `text` with every control character (C0, DEL, C1) and every Unicode
/// bidirectional override written as a visible escape: `\n`, `\r`, `\t`,
/// else `\u{1b}`-style. Text without any is returned as is.
pub fn escaped(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    // The bidi controls reorder what follows them on screen ("Trojan
    // source"); the rest are the C0 and C1 controls and DEL.
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::escaped;

    #[test]
    fn control_characters_never_pass_raw() {
        assert_eq!(escaped("plain ünïcode"), "plain ünïcode");
        assert_eq!(
            escaped("line\nhost: forged\r\t\u{1b}[31mred\u{7}\u{9b}\u{202e}"),
            "line\\nhost: forged\\r\\t\\u{1b}[31mred\\u{7}\\u{9b}\\u{202e}"
        );
        for c in (0u32..0x110000).filter_map(char::from_u32) {
            let shown = escaped(&c.to_string()).into_owned();
            assert!(
                !shown.chars().any(|s| s.is_control()),
                "U+{:04X} reached the terminal raw",
                u32::from(c)
            );
        }
    }
}
