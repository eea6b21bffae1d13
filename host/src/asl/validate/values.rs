//! Typed values in a definition: the type and range checks every part of
//! the validator shares, and the wording of their problems (AWS's
//! `Expected value of type [STRING]`, `Field 'X' is not supported`, plus
//! what would be valid).

use serde_json::{Map, Value};

use super::paths::{self, Roots};
use super::query_language::{self, Lang};
use super::{Checker, Loc, StateCx};

/// The largest number of seconds ASL accepts (99,999,999).
pub(crate) const MAX_SECONDS: i64 = 99_999_999;

/// "Field 'X' is not supported" plus the closest valid name, or the list of
/// valid names when none is close.
pub(crate) fn unknown_field_message(key: &str, allowed: &[&str], what: &str) -> String {
    match closest(key, allowed) {
        Some(best) => format!("Field '{key}' is not supported; did you mean '{best}'?"),
        None => format!(
            "Field '{key}' is not supported; {what} accepts: {}",
            allowed.join(", ")
        ),
    }
}

/// The name in `candidates` a typo of `word` most likely meant.
pub(crate) fn closest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let lower = word.to_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let cand_lower = candidate.to_lowercase();
        let distance = if cand_lower == lower {
            0
        } else if candidate.len() >= 4 && lower.contains(&cand_lower) {
            1
        } else {
            levenshtein(&lower, &cand_lower)
        };
        let limit = (candidate.chars().count() / 3).max(1);
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, name)| name)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(row[j + 1])
            };
            prev = current;
        }
    }
    row[b.len()]
}

/// "A", "A and B", "A, B and C".
pub(crate) fn join_words(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// A JSON value as users wrote it, shortened for messages.
pub(crate) fn show(value: &Value) -> String {
    let text = serde_json::to_string(value).unwrap_or_default();
    const MAX: usize = 60;
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}...")
    } else {
        text
    }
}

fn type_error(ch: &mut Checker, loc: &Loc, field: &str, expected: &str, value: &Value) {
    ch.schema(
        loc,
        format!(
            "Expected value of type [{expected}] for field '{field}', got {}",
            show(value)
        ),
    );
}

pub(crate) fn string<'v>(
    ch: &mut Checker,
    loc: &Loc,
    field: &str,
    value: &'v Value,
) -> Option<&'v str> {
    let s = value.as_str();
    if s.is_none() {
        type_error(ch, loc, field, "STRING", value);
    }
    s
}

pub(crate) fn object<'v>(
    ch: &mut Checker,
    loc: &Loc,
    field: &str,
    value: &'v Value,
) -> Option<&'v Map<String, Value>> {
    let o = value.as_object();
    if o.is_none() {
        type_error(ch, loc, field, "OBJECT", value);
    }
    o
}

pub(crate) fn array<'v>(
    ch: &mut Checker,
    loc: &Loc,
    field: &str,
    value: &'v Value,
) -> Option<&'v Vec<Value>> {
    let a = value.as_array();
    if a.is_none() {
        type_error(ch, loc, field, "ARRAY", value);
    }
    a
}

pub(crate) fn boolean(ch: &mut Checker, loc: &Loc, field: &str, value: &Value) -> Option<bool> {
    let b = value.as_bool();
    if b.is_none() {
        type_error(ch, loc, field, "BOOLEAN", value);
    }
    b
}

/// An integer literal in `min..=max`.
pub(crate) fn integer(
    ch: &mut Checker,
    loc: &Loc,
    field: &str,
    value: &Value,
    min: i64,
    max: i64,
) -> Option<i64> {
    let n = match value {
        Value::Number(n) if n.is_i64() || n.is_u64() => n.as_i64().unwrap_or(i64::MAX),
        _ => {
            type_error(ch, loc, field, "INTEGER", value);
            return None;
        }
    };
    if n < min || n > max {
        let range = if max == i64::MAX {
            format!("minimum value is {min}")
        } else {
            format!("value should be an integer from {min} to {max}")
        };
        ch.schema(loc, format!("Field '{field}' is {n}; {range}"));
        return None;
    }
    Some(n)
}

/// A number literal in `min..=max`.
pub(crate) fn number(
    ch: &mut Checker,
    loc: &Loc,
    field: &str,
    value: &Value,
    min: f64,
    max: f64,
) -> Option<f64> {
    let Some(n) = value.as_f64() else {
        type_error(ch, loc, field, "NUMBER", value);
        return None;
    };
    if n < min || n > max {
        let range = if max == f64::MAX {
            format!("minimum value is {min}")
        } else {
            format!("value should be a number from {min} to {max}")
        };
        ch.schema(loc, format!("Field '{field}' is {}; {range}", show(value)));
        return None;
    }
    Some(n)
}

/// A string that must be one of `allowed`.
pub(crate) fn one_of(ch: &mut Checker, loc: &Loc, field: &str, value: &Value, allowed: &[&str]) {
    if let Some(s) = string(ch, loc, field, value)
        && !allowed.contains(&s)
    {
        ch.schema(
            loc,
            format!(
                "Field '{field}' is {}; value should be one of the following: [{}]",
                show(value),
                allowed.join(", ")
            ),
        );
    }
}

/// An integer field that a JSONata state may also give as an expression
/// (checklist JSONATA-03).
pub(crate) fn integer_or_expression(
    ch: &mut Checker,
    cx: &StateCx<'_>,
    loc: &Loc,
    field: &str,
    value: &Value,
    min: i64,
    max: i64,
) -> Option<i64> {
    if cx.lang == Lang::Jsonata
        && let Some(s) = value.as_str()
    {
        if query_language::expression(s).is_some() {
            query_language::jsonata_string(ch, loc, s);
        } else {
            ch.schema(
                loc,
                format!(
                    "Field '{field}' is {}; expected an integer from {min} to {max} \
                     or a JSONata expression \"{{% ... %}}\"",
                    show(value)
                ),
            );
        }
        return None;
    }
    integer(ch, loc, field, value, min, max)
}

/// A number field that a JSONata state may also give as an expression.
pub(crate) fn number_or_expression(
    ch: &mut Checker,
    cx: &StateCx<'_>,
    loc: &Loc,
    field: &str,
    value: &Value,
    min: f64,
    max: f64,
) {
    if cx.lang == Lang::Jsonata
        && let Some(s) = value.as_str()
    {
        if query_language::expression(s).is_some() {
            query_language::jsonata_string(ch, loc, s);
        } else {
            ch.schema(
                loc,
                format!(
                    "Field '{field}' is {}; expected a number from {min} to {max} \
                     or a JSONata expression \"{{% ... %}}\"",
                    show(value)
                ),
            );
        }
        return;
    }
    number(ch, loc, field, value, min, max);
}

/// At most one of `names` may be present; reported at the first one.
pub(crate) fn exclusive(ch: &mut Checker, cx: &StateCx<'_>, names: &[&str]) -> usize {
    let present: Vec<&str> = names.iter().copied().filter(|n| cx.has(n)).collect();
    if present.len() > 1 {
        ch.schema(
            &cx.at(present[0]),
            format!(
                "Fields {} can not be used together: a state may have only one of [{}]",
                quoted(&present),
                names.join(", ")
            ),
        );
    }
    present.len()
}

/// `'A' and 'B'`.
pub(crate) fn quoted(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    let refs: Vec<&str> = quoted.iter().map(String::as_str).collect();
    join_words(&refs)
}

/// A reference-path field (`ResultPath`, `*Path` numbers, ...).
pub(crate) fn reference_path_field(
    ch: &mut Checker,
    loc: &Loc,
    field: &str,
    value: &Value,
    roots: Roots,
) {
    if let Some(s) = string(ch, loc, field, value)
        && let Err(reason) = paths::reference_path(s, roots)
    {
        ch.schema(
            loc,
            format!(
                "Value is not a Reference Path: field '{field}' is {}; {reason}",
                show(value)
            ),
        );
    }
}

/// `null` or a string; `None` for null or a reported type error.
pub(crate) fn nullable_string<'v>(
    ch: &mut Checker,
    loc: &Loc,
    field: &str,
    value: &'v Value,
) -> Option<&'v str> {
    if value.is_null() {
        return None;
    }
    string(ch, loc, field, value)
}

/// An ISO-8601 extended offset date-time, as the engine (and AWS, with
/// Java's `ISO_OFFSET_DATE_TIME`) reads it.
pub(crate) fn is_timestamp(s: &str) -> bool {
    crate::query::parse_timestamp(s).is_some()
}
