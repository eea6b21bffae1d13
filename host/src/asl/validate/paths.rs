//! Syntax of the expressions inside a definition: JSONPath, reference paths,
//! intrinsic calls, payload templates (`.$` keys) and JSONata.
//!
//! One small function per kind, each a thin wrapper over the parser in
//! `crate::query` that the engine uses too, so the validator accepts
//! exactly what the engine can run. This module owns only the wording of
//! the problems and the walk over templates.

use serde_json::Value;

use super::{Checker, Loc, fields};
use crate::query::{JsonPath, QueryError, Root};

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
    interim::intrinsic(s)
}

/// A JSONata expression (the text inside `{% ... %}`).
pub(crate) fn jsonata(expr: &str) -> Result<(), String> {
    if expr.trim().is_empty() {
        return Err("Unexpected end of expression".to_owned());
    }
    Ok(())
}

/// `ErrorPath` / `CausePath`: a reference path or an intrinsic call.
pub(crate) fn reference_path_or_intrinsic(s: &str) -> Result<(), String> {
    if s.starts_with("States.") {
        intrinsic(s)
    } else {
        reference_path(s, Roots::ANY)
    }
}

/// The value of a `.$` key: a path (`$`, `$$`, `$var`) or an intrinsic call.
fn path_or_intrinsic(s: &str) -> Result<(), String> {
    if s.starts_with('$') {
        json_path(s)
    } else if s.starts_with("States.") {
        intrinsic(s)
    } else {
        Err("it must start with '$' (a path) or 'States.' (an intrinsic function)".to_owned())
    }
}

/// Walks a JSONPath payload template (Parameters, ResultSelector,
/// ItemSelector, Credentials, JSONPath Assign): every `.$` key holds a path
/// or an intrinsic call, and no two keys produce the same output field.
pub(crate) fn jsonpath_template(ch: &mut Checker, loc: &Loc, value: &Value) {
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                jsonpath_template(ch, &loc.index(i), item);
            }
        }
        Value::Object(obj) => {
            for (key, item) in obj {
                let item_loc = loc.key(key);
                if let Some(plain) = key.strip_suffix(".$") {
                    if obj.contains_key(plain) {
                        ch.schema(
                            &item_loc,
                            format!(
                                "Fields '{plain}' and '{key}' both produce the field '{plain}': \
                                 keep only one of them"
                            ),
                        );
                    }
                    let problem = match item.as_str() {
                        None => Some("it is not a string".to_owned()),
                        Some(s) => path_or_intrinsic(s).err(),
                    };
                    if let Some(reason) = problem {
                        ch.schema(
                            &item_loc,
                            format!(
                                "The value of field '{key}' is {}, which is not a JSONPath or \
                                 intrinsic function expression: {reason}",
                                fields::show(item)
                            ),
                        );
                    }
                } else {
                    jsonpath_template(ch, &item_loc, item);
                }
            }
        }
        _ => {}
    }
}

/// Stand-in check until `crate::query::intrinsics` lands; kept deliberately
/// small.
mod interim {
    pub(super) fn intrinsic(s: &str) -> Result<(), String> {
        const NAMES: [&str; 18] = [
            "Format",
            "StringToJson",
            "JsonToString",
            "Array",
            "ArrayPartition",
            "ArrayContains",
            "ArrayRange",
            "ArrayGetItem",
            "ArrayLength",
            "ArrayUnique",
            "Base64Encode",
            "Base64Decode",
            "Hash",
            "JsonMerge",
            "MathRandom",
            "MathAdd",
            "StringSplit",
            "UUID",
        ];
        let Some(rest) = s.strip_prefix("States.") else {
            return Err("an intrinsic call starts with 'States.'".to_owned());
        };
        let Some(open) = rest.find('(') else {
            return Err("missing '('".to_owned());
        };
        let name = &rest[..open];
        if !NAMES.contains(&name) {
            return Err(format!("'States.{name}' is not an intrinsic function"));
        }
        if !rest.ends_with(')') {
            return Err("missing ')' at the end".to_owned());
        }
        Ok(())
    }
}
