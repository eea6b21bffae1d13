//! The raw document: JSON syntax (reported like AWS, whose parser is
//! Jackson) and duplicate keys, which `serde_json::Value` would silently
//! collapse to the last one.

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{Loc, not_an_object};
use crate::asl::Diagnostic;

pub(crate) struct Parsed {
    pub(crate) value: Value,
    /// One problem per repeated key.
    pub(crate) duplicates: Vec<Diagnostic>,
}

/// Parses `text`, or returns the single problem that stops validation.
pub(crate) fn parse(text: &str) -> Result<Parsed, Diagnostic> {
    // AWS answers an empty (or blank) definition as "not an object" rather
    // than as a syntax error (recorded: the EMPTY_STRING case).
    if text.trim().is_empty() {
        return Err(not_an_object());
    }
    let duplicates = RefCell::new(Vec::new());
    let mut de = serde_json::Deserializer::from_str(text);
    let seed = Node {
        loc: Loc::root(),
        duplicates: &duplicates,
    };
    let value = seed
        .deserialize(&mut de)
        .and_then(|value| de.end().map(|()| value))
        .map_err(|e| syntax_error(text, &e))?;
    Ok(Parsed {
        value,
        duplicates: duplicates.into_inner(),
    })
}

/// Deserializes one JSON value, noting repeated keys with their location.
struct Node<'a> {
    loc: Loc,
    duplicates: &'a RefCell<Vec<Diagnostic>>,
}

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Node {
            loc: self.loc.index(items.len()),
            duplicates: self.duplicates,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut obj = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Node {
                loc: self.loc.key(&key),
                duplicates: self.duplicates,
            })?;
            if obj.contains_key(&key) {
                self.duplicates.borrow_mut().push(Diagnostic::schema(
                    self.loc.text(),
                    format!(
                        "Duplicate field '{key}': an object may name a field only once, and \
                         only the last value would count; keep one"
                    ),
                ));
            }
            obj.insert(key, value);
        }
        Ok(Value::Object(obj))
    }
}

/// How much of the document Jackson quotes in its messages.
const SOURCE_QUOTE: usize = 500;

/// AWS's `INVALID_JSON_DESCRIPTION`, in Jackson's words where we know them:
/// `Unrecognized token 'not': was expecting (...)\n at [Source: ...]`, with
/// the `[Source: ...]` part as the location.
fn syntax_error(text: &str, error: &serde_json::Error) -> Diagnostic {
    let offset = offset_of(text, error.line(), error.column());
    let full = error.to_string();
    let bare_word = full.starts_with("expected value") || full.starts_with("expected ident");
    let token = if bare_word {
        unrecognized_token(text, offset)
    } else {
        None
    };
    let (message, line, column) = match token {
        Some((token, end)) => (
            format!(
                "Unrecognized token '{token}': was expecting (JSON String, Number, Array, \
                 Object or token 'null', 'true' or 'false')"
            ),
            error.line(),
            column_of(text, end),
        ),
        None => {
            let suffix = format!(" at line {} column {}", error.line(), error.column());
            let serde_message = full.strip_suffix(&suffix).unwrap_or(&full);
            let found = text.get(offset..).and_then(|rest| rest.chars().next());
            let previous = text
                .get(..offset)
                .and_then(|before| before.chars().next_back());
            match jackson_words(serde_message, found, previous) {
                // Jackson points just past the character it refused.
                Some(message) if found.is_some() => (message, error.line(), error.column() + 1),
                Some(message) => (message, error.line(), error.column()),
                None => (serde_message.to_owned(), error.line(), error.column()),
            }
        }
    };
    let location = format!(
        "[Source: (String)\"{}\"{}; line: {line}, column: {column}]",
        text.chars().take(SOURCE_QUOTE).collect::<String>(),
        match text.chars().count().checked_sub(SOURCE_QUOTE) {
            Some(extra) if extra > 0 => format!("[truncated {extra} chars]"),
            _ => String::new(),
        }
    );
    Diagnostic {
        code: Diagnostic::INVALID_JSON_DESCRIPTION,
        message: format!("{message}\n at {location}"),
        location: Some(location),
    }
}

/// Jackson's wording for the syntax errors people make most, from
/// serde_json's message and the character found there.
fn jackson_words(
    serde_message: &str,
    found: Option<char>,
    previous: Option<char>,
) -> Option<String> {
    let unexpected = |expecting: &str| {
        found.map(|c| {
            format!(
                "Unexpected character ('{c}' (code {})): {expecting}",
                u32::from(c)
            )
        })
    };
    match serde_message {
        "EOF while parsing an object" => {
            Some("Unexpected end-of-input: expected close marker for Object".to_owned())
        }
        "EOF while parsing a list" => {
            Some("Unexpected end-of-input: expected close marker for Array".to_owned())
        }
        "EOF while parsing a string" => Some(
            "Unexpected end-of-input: was expecting closing quote for a String value".to_owned(),
        ),
        "EOF while parsing a value" => Some("No content to map due to end-of-input".to_owned()),
        "trailing comma" if found == Some('}') => {
            unexpected("was expecting double-quote to start field name")
        }
        "trailing comma" => unexpected("expected a value"),
        "key must be a string" => unexpected("was expecting double-quote to start field name"),
        "expected `:`" => unexpected("was expecting a colon to separate field name and value"),
        "expected `,` or `}`" => unexpected("was expecting comma to separate Object entries"),
        "expected `,` or `]`" => unexpected("was expecting comma to separate Array entries"),
        // serde_json stops just after the control character.
        "control character (\\u0000-\\u001F) found while parsing a string" => Some(format!(
            "Illegal unquoted character ((CTRL-CHAR, code {})): has to be escaped using \
             backslash to be included in string value",
            previous.map_or(0, u32::from)
        )),
        _ => None,
    }
}

/// The byte offset of serde_json's 1-based line and column.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (line_start + column.saturating_sub(1)).min(text.len())
}

/// Jackson's 1-based column just after byte `offset` on its line.
fn column_of(text: &str, offset: usize) -> usize {
    let before = text.get(..offset).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    before[line_start..].chars().count() + 1
}

/// A bare word where a value was expected (Jackson reads Java identifier
/// characters): the word and the byte offset just after it.
fn unrecognized_token(text: &str, offset: usize) -> Option<(&str, usize)> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let before = text.get(..offset)?;
    let start = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| is_word(*c))
        .last()
        .map_or(offset, |(i, _)| i);
    let after = text.get(start..)?;
    let len = after.find(|c: char| !is_word(c)).unwrap_or(after.len());
    let token = &after[..len];
    let starts_like_number = token.starts_with(|c: char| c.is_ascii_digit());
    if token.is_empty() || starts_like_number || matches!(token, "true" | "false" | "null") {
        return None;
    }
    Some((token, start + len))
}
