//! Syntax of the expressions inside a definition: JSONPath, reference paths,
//! intrinsic calls, payload templates (`.$` keys) and JSONata.
//!
//! One small function per kind, each a thin wrapper over the parser in
//! `crate::query` that the engine uses too, so the validator accepts
//! exactly what the engine can run. This module owns only the wording of
//! the problems and the walk over templates.

use serde_json::Value;

use super::{Checker, Loc};
use crate::query::{Intrinsic, JsonPath, QueryError, Root, Template};

/// Which roots a reference path may start from besides `$` (the input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Roots {
    /// `$$`, the context object.
    pub(crate) context: bool,
    /// `$name`, a workflow variable.
    pub(crate) variables: bool,
}

impl Roots {
    /// `ResultPath`: it writes into the input, so only `$`.
    pub(crate) const INPUT: Roots = Roots {
        context: false,
        variables: false,
    };
    /// `*Path` numbers and durations: the input or a variable, never `$$`
    /// (checklist IO-05).
    pub(crate) const NO_CONTEXT: Roots = Roots {
        context: false,
        variables: true,
    };
    /// `ItemsPath`, Choice `Variable`, `ErrorPath`: any root.
    pub(crate) const ANY: Roots = Roots {
        context: true,
        variables: true,
    };
}

/// A general JSONPath (`InputPath`, `OutputPath`, `.$` values): `$`, `$$`
/// or a variable, followed by Jayway-style steps.
pub(crate) fn json_path(s: &str) -> Result<(), String> {
    JsonPath::parse(s).map(drop).map_err(|e| describe(&e))
}

/// A reference path: one node, dot and bracket steps only (checklist IO-05),
/// starting from one of `roots`.
pub(crate) fn reference_path(s: &str, roots: Roots) -> Result<(), String> {
    let path = JsonPath::parse(s).map_err(|e| describe(&e))?;
    match path.root() {
        Root::Context if !roots.context => {
            return Err("the context object ($$) can not be used here".to_owned());
        }
        Root::Variable(name) if !roots.variables => {
            return Err(format!(
                "a variable (${name}) can not be used here; start with '$'"
            ));
        }
        _ => {}
    }
    if !path.is_reference_path() {
        return Err(
            "a reference path names one node with '.name', ['name'] and [n] steps only; \
             '..', '*', slices, unions and filters are not allowed"
                .to_owned(),
        );
    }
    Ok(())
}

/// A query-layer error in the validator's words: what is wrong and where.
fn describe(error: &QueryError) -> String {
    format!("{} (at character {})", error.message, error.position)
}

/// An intrinsic function call, e.g. `States.Format('{}', $.a)`.
pub(crate) fn intrinsic(s: &str) -> Result<(), String> {
    Intrinsic::parse(s).map(drop).map_err(|e| describe(&e))
}

/// A JSONata expression (the text inside `{% ... %}`), parsed by the
/// engine's JSONata compiler; the error is the parser's message.
pub(crate) fn jsonata(expr: &str) -> Result<(), String> {
    crate::query::jsonata::check_expression(expr)
}

/// Intrinsics whose result is a string, the only ones `ErrorPath` and
/// `CausePath` accept (checklist FAIL-01).
const STRING_INTRINSICS: [&str; 7] = [
    "States.Format",
    "States.JsonToString",
    "States.ArrayGetItem",
    "States.Base64Encode",
    "States.Base64Decode",
    "States.Hash",
    "States.UUID",
];

/// `ErrorPath` / `CausePath`: a reference path or a string intrinsic call.
pub(crate) fn reference_path_or_intrinsic(s: &str) -> Result<(), String> {
    if !s.starts_with("States.") {
        return reference_path(s, Roots::ANY);
    }
    intrinsic(s)?;
    let name = s.split('(').next().unwrap_or(s).trim_end();
    if !STRING_INTRINSICS.contains(&name) {
        return Err(format!(
            "'{name}' does not return a string; use one of {}",
            STRING_INTRINSICS.join(", ")
        ));
    }
    Ok(())
}

/// Checks a JSONPath payload template (Parameters, ResultSelector,
/// ItemSelector, Credentials, JSONPath Assign) with the engine's own
/// compiler (every `.$` key holds a path or an intrinsic call), and that no
/// two keys produce the same output field.
pub(crate) fn jsonpath_template(ch: &mut Checker, loc: &Loc, value: &Value) {
    if let Err(problems) = Template::parse(value) {
        for problem in problems {
            ch.schema(&at_pointer(loc, value, &problem.pointer), problem.message);
        }
    }
    conflicts(ch, loc, value);
}

/// `"x"` next to `"x.$"` in one object: both would write `x`.
fn conflicts(ch: &mut Checker, loc: &Loc, value: &Value) {
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                conflicts(ch, &loc.index(i), item);
            }
        }
        Value::Object(obj) => {
            for (key, item) in obj {
                match key.strip_suffix(".$") {
                    Some(plain) if obj.contains_key(plain) => ch.schema(
                        &loc.key(key),
                        format!(
                            "Fields '{plain}' and '{key}' both produce the field '{plain}': \
                             keep only one of them"
                        ),
                    ),
                    Some(_) => {}
                    None => conflicts(ch, &loc.key(key), item),
                }
            }
        }
        _ => {}
    }
}

/// The location of a query-layer JSON pointer (relative to `value`, which
/// sits at `loc`), in the validator's `Field[0]` style.
pub(crate) fn at_pointer(loc: &Loc, value: &Value, pointer: &str) -> Loc {
    let mut loc = loc.clone();
    let mut current = Some(value);
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        let index = token.parse::<usize>().ok();
        match (current, index) {
            (Some(Value::Array(items)), Some(i)) => {
                loc = loc.index(i);
                current = items.get(i);
            }
            (Some(Value::Object(obj)), _) => {
                loc = loc.key(&token);
                current = obj.get(&token);
            }
            _ => {
                loc = loc.key(&token);
                current = None;
            }
        }
    }
    loc
}
