//! QueryLanguage: which language each state speaks, the mixing rules AWS
//! enforces (checklist TOP-07, JSONATA-06), and the walk over JSONata
//! templates (`{% ... %}` strings at any depth).
//!
//! Whether a JSONata expression parses is asked of [`super::paths`].

use serde_json::{Map, Value};

use super::values;
use super::{Checker, Loc, paths};

/// The query language of one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    JsonPath,
    Jsonata,
}

impl Lang {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Lang::JsonPath => "JSONPath",
            Lang::Jsonata => "JSONata",
        }
    }

    fn other(self) -> Lang {
        match self {
            Lang::JsonPath => Lang::Jsonata,
            Lang::Jsonata => Lang::JsonPath,
        }
    }
}

/// The machine's language. As measured on AWS (FLOCI PR #2786), only the
/// exact string `"JSONPath"` (or no field) means JSONPath; any other value is
/// reported and then treated as JSONata.
pub(crate) fn machine_lang(ch: &mut Checker, root: &Map<String, Value>) -> Lang {
    match root.get("QueryLanguage") {
        None => Lang::JsonPath,
        Some(value) => {
            if let Some(d) = value_problem(&Loc::root().key("QueryLanguage"), value) {
                ch.diagnostics.push(d);
            }
            resolve(value)
        }
    }
}

/// How one state's language was resolved.
pub(crate) struct StateLang {
    pub(crate) lang: Lang,
    /// The state said JSONPath under a JSONata machine: that is the whole
    /// answer, so fields of the other language are not reported on top.
    pub(crate) suppress_mixing: bool,
    /// A bad `QueryLanguage` value, reported after the field checks (AWS's
    /// order).
    pub(crate) late: Option<crate::asl::Diagnostic>,
}

/// A state's language: its own `QueryLanguage`, else the machine's (never
/// the enclosing Parallel's or Map's, TOP-07).
pub(crate) fn state_lang(ch: &mut Checker, obj: &Map<String, Value>, loc: &Loc) -> StateLang {
    let Some(value) = obj.get("QueryLanguage") else {
        return StateLang {
            lang: ch.machine_lang,
            suppress_mixing: false,
            late: None,
        };
    };
    let lang = resolve(value);
    let mut suppress_mixing = false;
    if lang == Lang::JsonPath && ch.machine_lang == Lang::Jsonata {
        ch.schema(
            loc,
            "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
        );
        suppress_mixing = true;
    }
    StateLang {
        lang,
        suppress_mixing,
        late: value_problem(&loc.key("QueryLanguage"), value),
    }
}

fn resolve(value: &Value) -> Lang {
    if value.as_str() == Some("JSONPath") {
        Lang::JsonPath
    } else {
        Lang::Jsonata
    }
}

fn value_problem(loc: &Loc, value: &Value) -> Option<crate::asl::Diagnostic> {
    let message = match value.as_str() {
        None => format!(
            "Expected value of type [STRING] for field 'QueryLanguage', got {}",
            values::show(value)
        ),
        Some("JSONPath" | "JSONata") => return None,
        Some(_) => format!(
            "Field 'QueryLanguage' is {}; value should be one of the following: [JSONPath, JSONata]",
            values::show(value)
        ),
    };
    Some(crate::asl::Diagnostic::schema(loc.text(), message))
}

/// AWS's message for a field of the other language, located at the state.
pub(crate) fn wrong_language(lang: Lang, field: &str) -> String {
    format!(
        "The QueryLanguage is set to '{}', but field '{field}' is only supported for the '{}' QueryLanguage",
        lang.name(),
        lang.other().name()
    )
}

/// The expression inside a `{% ... %}` string, if the string is one.
/// Any other string is a literal (checklist JSONATA-02).
pub(crate) fn expression(s: &str) -> Option<&str> {
    if s.len() >= 4 && s.starts_with("{%") && s.ends_with("%}") {
        s.get(2..s.len() - 2)
    } else {
        None
    }
}

/// Checks one string that may hold a JSONata expression.
pub(crate) fn jsonata_string(ch: &mut Checker, loc: &Loc, s: &str) {
    let Some(expr) = expression(s) else {
        return;
    };
    if let Err(message) = paths::jsonata(expr) {
        ch.report(super::INVALID_JSONATA_EXPRESSION, loc, message);
        return;
    }
    for name in crate::query::jsonata::top_level_references(expr) {
        ch.report(
            super::UNSUPPORTED_JSONATA_EXPRESSION,
            loc,
            format!("Reference to '{name}' at the top level is not supported."),
        );
    }
    for message in unsupported_references(expr, ch.in_catcher) {
        ch.report(super::UNSUPPORTED_JSONATA_EXPRESSION, loc, message);
    }
}

/// References AWS refuses at create time (checklist JSONATA-10, measured in
/// FLOCI PR #2786): `$$`, and `$states.errorOutput` outside a catcher's own
/// `Output`/`Assign`. String literals and comments are skipped.
fn unsupported_references(expr: &str, in_catcher: bool) -> Vec<String> {
    let mut found = Vec::new();
    let mut chars = expr.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' | '\'' => {
                // Skip the string literal, escapes included.
                while let Some((_, d)) = chars.next() {
                    if d == '\\' {
                        chars.next();
                    } else if d == c {
                        break;
                    }
                }
            }
            '/' if expr[i..].starts_with("/*") => {
                let end = expr[i + 2..]
                    .find("*/")
                    .map_or(expr.len(), |e| i + 2 + e + 2);
                while chars.peek().is_some_and(|(j, _)| *j < end) {
                    chars.next();
                }
            }
            '$' => {
                let rest = &expr[i..];
                let word_after = |n: usize| {
                    rest[n..]
                        .chars()
                        .next()
                        .is_some_and(|d| d.is_alphanumeric() || d == '_')
                };
                if rest.starts_with("$$") && !word_after(2) {
                    found.push("Reference to '$$' is not supported.".to_owned());
                    chars.next();
                } else if rest.starts_with("$states.errorOutput")
                    && !word_after("$states.errorOutput".len())
                    && !in_catcher
                {
                    found.push(
                        "Field '$states.errorOutput' does not exist. It is only available in \
                         the Output and Assign of a catcher"
                            .to_owned(),
                    );
                }
            }
            _ => {}
        }
    }
    found.dedup();
    found
}

/// Walks a JSONata template (Output, Arguments, Assign values, ItemSelector,
/// Items, ...) and checks every expression in it.
pub(crate) fn jsonata_template(ch: &mut Checker, loc: &Loc, value: &Value) {
    match value {
        Value::String(s) => jsonata_string(ch, loc, s),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                jsonata_template(ch, &loc.index(i), item);
            }
        }
        Value::Object(obj) => {
            for (key, item) in obj {
                jsonata_template(ch, &loc.key(key), item);
            }
        }
        _ => {}
    }
}
