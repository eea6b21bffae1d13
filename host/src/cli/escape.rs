//! Text that a guest, an execution's data or a request controls, made safe
//! for a terminal or a log: every print path that shows such text (an
//! error, a cause, an output, a state or execution name) goes through
//! [`escaped`], so a newline cannot forge a line of the host's own and an
//! escape sequence cannot reach the terminal. The host's log goes through
//! [`EscapedStderr`], so a task's log line cannot forge one either.

use std::borrow::Cow;
use std::io::Write;

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

/// Standard error for the host's log: each record (one write) is escaped
/// but for its final newline, so it stays exactly one line whatever a
/// guest put in its fields.
pub struct EscapedStderr;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for EscapedStderr {
    type Writer = EscapedWriter<std::io::Stderr>;

    fn make_writer(&'a self) -> Self::Writer {
        EscapedWriter(std::io::stderr())
    }
}

/// Writes each buffer escaped, keeping one trailing newline.
pub struct EscapedWriter<W>(pub W);

impl<W: Write> Write for EscapedWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let (body, newline) = match text.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (text.as_ref(), ""),
        };
        let line = format!("{}{newline}", escaped(body));
        self.0.write_all(line.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
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
    fn a_log_record_stays_one_line() {
        use std::io::Write as _;
        let mut writer = super::EscapedWriter(Vec::new());
        writer
            .write_all(b"WARN task: line\nWARN forged \x1b[2J\n")
            .expect("written");
        assert_eq!(
            String::from_utf8_lossy(&writer.0),
            "WARN task: line\\nWARN forged \\u{1b}[2J\n"
        );
    }

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
