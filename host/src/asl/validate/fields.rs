//! Which fields exist on which state type (checklist 1.2) and in which query
//! language, and the fields most state types share: `Next`/`End`, the
//! JSONPath I/O fields, `Arguments`, `Output`, `Assign`.
//!
//! Each state type's own fields have their module ([`super::task`],
//! [`super::choice`], [`super::map`], ...); value types and ranges are
//! [`super::values`]; path and expression syntax is [`super::paths`].

use serde_json::Value;

use super::paths::{self, Roots};
use super::query_language::{self, Lang};
use super::values;
use super::{Checker, Loc, StateCx, StateNode, StateType};

/// In which query language a field exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Both,
    JsonPath,
    Jsonata,
}

use Mode::{Both as B, JsonPath as JP, Jsonata as JA};

/// Fields every state has.
const COMMON: [&str; 3] = ["Type", "Comment", "QueryLanguage"];

/// The fields of each state type beyond [`COMMON`], from the checklist's
/// matrix (1.2) and the per-state sections.
pub(crate) fn table(ty: StateType) -> &'static [(&'static str, Mode)] {
    match ty {
        StateType::Task => &[
            ("Next", B),
            ("End", B),
            ("InputPath", JP),
            ("OutputPath", JP),
            ("Parameters", JP),
            ("ResultSelector", JP),
            ("ResultPath", JP),
            ("Arguments", JA),
            ("Output", JA),
            ("Assign", B),
            ("Retry", B),
            ("Catch", B),
            ("Resource", B),
            ("TimeoutSeconds", B),
            ("TimeoutSecondsPath", JP),
            ("HeartbeatSeconds", B),
            ("HeartbeatSecondsPath", JP),
            ("Credentials", B),
        ],
        StateType::Pass => &[
            ("Next", B),
            ("End", B),
            ("InputPath", JP),
            ("OutputPath", JP),
            ("Parameters", JP),
            ("ResultPath", JP),
            ("Result", JP),
            ("Output", JA),
            ("Assign", B),
        ],
        StateType::Choice => &[
            ("Choices", B),
            ("Default", B),
            ("InputPath", JP),
            ("OutputPath", JP),
            ("Output", JA),
            ("Assign", B),
        ],
        StateType::Wait => &[
            ("Next", B),
            ("End", B),
            ("InputPath", JP),
            ("OutputPath", JP),
            ("Output", JA),
            ("Assign", B),
            ("Seconds", B),
            ("Timestamp", B),
            ("SecondsPath", JP),
            ("TimestampPath", JP),
        ],
        StateType::Succeed => &[("InputPath", JP), ("OutputPath", JP), ("Output", JA)],
        StateType::Fail => &[
            ("Error", B),
            ("Cause", B),
            ("ErrorPath", JP),
            ("CausePath", JP),
        ],
        StateType::Parallel => &[
            ("Next", B),
            ("End", B),
            ("InputPath", JP),
            ("OutputPath", JP),
            ("Parameters", JP),
            ("ResultSelector", JP),
            ("ResultPath", JP),
            ("Arguments", JA),
            ("Output", JA),
            ("Assign", B),
            ("Retry", B),
            ("Catch", B),
            ("Branches", B),
        ],
        StateType::Map => &[
            ("Next", B),
            ("End", B),
            ("InputPath", JP),
            ("OutputPath", JP),
            ("Parameters", JP),
            ("ResultSelector", JP),
            ("ResultPath", JP),
            ("ItemsPath", JP),
            ("Items", JA),
            ("ItemSelector", B),
            ("Output", JA),
            ("Assign", B),
            ("Retry", B),
            ("Catch", B),
            ("ItemProcessor", B),
            ("Iterator", B),
            ("ItemReader", B),
            ("ItemBatcher", B),
            ("ResultWriter", B),
            ("MaxConcurrency", B),
            ("MaxConcurrencyPath", JP),
            ("ToleratedFailureCount", B),
            ("ToleratedFailureCountPath", JP),
            ("ToleratedFailurePercentage", B),
            ("ToleratedFailurePercentagePath", JP),
            ("Label", B),
        ],
    }
}

/// Refuses fields the state's type does not have, and fields of the other
/// query language; each is reported once, at the state (AWS's location).
pub(crate) fn check_fields(ch: &mut Checker, cx: &mut StateCx<'_>, suppress_mixing: bool) {
    let fields = table(cx.ty);
    for key in cx.obj.keys() {
        if COMMON.contains(&key.as_str()) {
            continue;
        }
        match fields.iter().find(|(name, _)| name == key) {
            Some((_, mode)) => {
                let wrong = matches!((mode, cx.lang), (JP, Lang::Jsonata) | (JA, Lang::JsonPath));
                if wrong {
                    cx.refused.push(key);
                    if !suppress_mixing {
                        ch.schema(&cx.loc, query_language::wrong_language(cx.lang, key));
                    }
                }
            }
            None => {
                cx.refused.push(key);
                let message = not_on_this_type(key, cx.ty);
                ch.schema(&cx.loc, message);
            }
        }
    }
}

/// "Field 'X' is not supported" (AWS's words) plus what would be valid.
fn not_on_this_type(key: &str, ty: StateType) -> String {
    let owners: Vec<&str> = StateType::ALL
        .into_iter()
        .filter(|t| table(*t).iter().any(|(name, _)| *name == key))
        .map(StateType::name)
        .collect();
    if owners.is_empty() {
        let mut allowed: Vec<&str> = COMMON.to_vec();
        allowed.extend(table(ty).iter().map(|(name, _)| *name));
        values::unknown_field_message(key, &allowed, &format!("a {} state", ty.name()))
    } else {
        format!(
            "Field '{key}' is not supported; only {} states accept it",
            values::join_words(&owners)
        )
    }
}

/// Fields most state types share: transitions, I/O processing, Assign.
pub(crate) fn check_common(ch: &mut Checker, cx: &StateCx<'_>, node: &mut StateNode) {
    if matches!(
        cx.ty,
        StateType::Task | StateType::Pass | StateType::Wait | StateType::Parallel | StateType::Map
    ) {
        next_or_end(ch, cx, node);
    }
    for (key, value) in cx.obj {
        if cx.get(key).is_none() {
            continue;
        }
        let loc = cx.at(key);
        match key.as_str() {
            "Comment" => {
                values::string(ch, &loc, key, value);
            }
            "InputPath" | "OutputPath" => {
                if let Some(s) = values::nullable_string(ch, &loc, key, value)
                    && let Err(reason) = paths::json_path(s)
                {
                    ch.schema(
                        &loc,
                        format!(
                            "Field '{key}' is {}, which is not a valid JSONPath: {reason}",
                            values::show(value)
                        ),
                    );
                }
            }
            "ResultPath" if !value.is_null() => {
                values::reference_path_field(ch, &loc, key, value, Roots::INPUT)
            }
            "Parameters" => paths::jsonpath_template(ch, &loc, value),
            "ResultSelector" if values::object(ch, &loc, key, value).is_some() => {
                paths::jsonpath_template(ch, &loc, value)
            }
            "Arguments" => arguments(ch, &loc, value),
            "Output" => query_language::jsonata_template(ch, &loc, value),
            "Assign" => assign(ch, cx.lang, &loc, value),
            _ => {}
        }
    }
}

/// `Next` xor `End: true` on a state that is not terminal by type.
fn next_or_end(ch: &mut Checker, cx: &StateCx<'_>, node: &mut StateNode) {
    let next = cx.get("Next");
    if let Some(value) = next
        && let Some(target) = values::string(ch, &cx.at("Next"), "Next", value)
    {
        node.targets.push((target.to_owned(), cx.at("Next")));
    }
    let end = match cx.get("End") {
        Some(value) => values::boolean(ch, &cx.at("End"), "End", value),
        None => None,
    };
    node.terminal = end == Some(true);
    match (next.is_some(), end) {
        (true, Some(true)) => ch.schema(
            &cx.loc,
            "Fields 'Next' and 'End' can not both be set: keep 'Next' to continue with \
             another state, or 'End': true to stop here",
        ),
        (false, Some(true)) => {}
        (false, _) => ch.schema(
            &cx.loc,
            format!(
                "The field 'Next' is required but was missing: a {} state names the state \
                 to run next, or sets 'End': true",
                cx.ty.name()
            ),
        ),
        (true, _) => {}
    }
}

/// JSONata `Arguments`: an object or array template, or one expression.
pub(crate) fn arguments(ch: &mut Checker, loc: &Loc, value: &Value) {
    match value {
        Value::Object(_) | Value::Array(_) => query_language::jsonata_template(ch, loc, value),
        Value::String(s) if query_language::expression(s).is_some() => {
            query_language::jsonata_string(ch, loc, s)
        }
        _ => ch.schema(
            loc,
            format!(
                "Field 'Arguments' is {}; expected an object or a JSONata expression \"{{% ... %}}\"",
                values::show(value)
            ),
        ),
    }
}

/// The longest variable name AWS accepts (checklist VAR-04).
const MAX_VARIABLE_NAME: usize = 80;

/// `Assign`: an object of variable names; its values follow the state's
/// language (a `.$` template in JSONPath, `{% %}` strings in JSONata).
pub(crate) fn assign(ch: &mut Checker, lang: Lang, loc: &Loc, value: &Value) {
    let Some(obj) = values::object(ch, loc, "Assign", value) else {
        return;
    };
    for key in obj.keys() {
        let name = match lang {
            Lang::JsonPath => key.strip_suffix(".$").unwrap_or(key),
            Lang::Jsonata => key.as_str(),
        };
        let problem = if name.is_empty() {
            Some("is empty".to_owned())
        } else if name == "states" {
            Some("is reserved for the states variable".to_owned())
        } else if name.chars().count() > MAX_VARIABLE_NAME {
            Some(format!("is longer than {MAX_VARIABLE_NAME} characters"))
        } else if name.contains(['.', '[', ']']) {
            Some(
                "is not a plain name: Assign sets whole variables, not paths inside them"
                    .to_owned(),
            )
        } else {
            None
        };
        if let Some(problem) = problem {
            ch.schema(
                &loc.key(key),
                format!("Variable name '{name}' in field 'Assign' {problem}"),
            );
        }
    }
    match lang {
        Lang::JsonPath => paths::jsonpath_template(ch, loc, value),
        Lang::Jsonata => query_language::jsonata_template(ch, loc, value),
    }
}
