//! Which fields exist on which state type (checklist 1.2), in which query
//! language, and the type and range of each field's value; plus the checks
//! of the simple state types (Task, Pass, Wait, Fail).
//!
//! Choice rules, Map and Retry/Catch have their own modules; path and
//! expression syntax is [`super::paths`]' business.

use serde_json::{Map, Value};

use super::paths::{self, Roots};
use super::query_language::{self, Lang};
use super::{Checker, Loc, MachineType, StateCx, StateNode, StateType};

/// The largest number of seconds ASL accepts (99,999,999).
pub(crate) const MAX_SECONDS: i64 = 99_999_999;

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
        unknown_field_message(key, &allowed, &format!("a {} state", ty.name()))
    } else {
        format!(
            "Field '{key}' is not supported; only {} states accept it",
            join_words(&owners)
        )
    }
}

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
                "Field '{field}' is {}, which is not a valid reference path: {reason}",
                show(value)
            ),
        );
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
                string(ch, &loc, key, value);
            }
            "InputPath" | "OutputPath" => {
                if let Some(s) = nullable_string(ch, &loc, key, value)
                    && let Err(reason) = paths::json_path(s)
                {
                    ch.schema(
                        &loc,
                        format!(
                            "Field '{key}' is {}, which is not a valid JSONPath: {reason}",
                            show(value)
                        ),
                    );
                }
            }
            "ResultPath" if !value.is_null() => {
                reference_path_field(ch, &loc, key, value, Roots::INPUT)
            }
            "Parameters" => paths::jsonpath_template(ch, &loc, value),
            "ResultSelector" if object(ch, &loc, key, value).is_some() => {
                paths::jsonpath_template(ch, &loc, value)
            }
            "Arguments" => arguments(ch, &loc, value),
            "Output" => query_language::jsonata_template(ch, &loc, value),
            "Assign" => assign(ch, cx.lang, &loc, value),
            _ => {}
        }
    }
}

/// `null` or a string; `None` for null or a reported type error.
fn nullable_string<'v>(
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

/// `Next` xor `End: true` on a state that is not terminal by type.
fn next_or_end(ch: &mut Checker, cx: &StateCx<'_>, node: &mut StateNode) {
    let next = cx.get("Next");
    if let Some(value) = next
        && let Some(target) = string(ch, &cx.at("Next"), "Next", value)
    {
        node.targets.push((target.to_owned(), cx.at("Next")));
    }
    let end = match cx.get("End") {
        Some(value) => boolean(ch, &cx.at("End"), "End", value),
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
                show(value)
            ),
        ),
    }
}

/// The longest variable name AWS accepts (checklist VAR-04).
const MAX_VARIABLE_NAME: usize = 80;

/// `Assign`: an object of variable names; its values follow the state's
/// language (a `.$` template in JSONPath, `{% %}` strings in JSONata).
pub(crate) fn assign(ch: &mut Checker, lang: Lang, loc: &Loc, value: &Value) {
    let Some(obj) = object(ch, loc, "Assign", value) else {
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
        } else if name.contains(['.', '[', ']', '$', ' ']) {
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

/// Task: `Resource`, timeouts, heartbeats, credentials.
pub(crate) fn task(ch: &mut Checker, cx: &StateCx<'_>) {
    match cx.get("Resource") {
        None if !cx.refused.contains(&"Resource") => {
            ch.schema(&cx.loc, "The field 'Resource' is required but was missing")
        }
        None => {}
        Some(value) => {
            if let Some(resource) = string(ch, &cx.at("Resource"), "Resource", value)
                && ch.machine_type == MachineType::Express
            {
                express_resource(ch, &cx.at("Resource"), resource);
            }
        }
    }
    let mut timeout = None;
    let mut heartbeat = None;
    exclusive(ch, cx, &["TimeoutSeconds", "TimeoutSecondsPath"]);
    exclusive(ch, cx, &["HeartbeatSeconds", "HeartbeatSecondsPath"]);
    for key in [
        "TimeoutSeconds",
        "HeartbeatSeconds",
        "TimeoutSecondsPath",
        "HeartbeatSecondsPath",
    ] {
        let Some(value) = cx.get(key) else { continue };
        let loc = cx.at(key);
        match key {
            "TimeoutSeconds" => {
                timeout = integer_or_expression(ch, cx, &loc, key, value, 1, MAX_SECONDS)
            }
            "HeartbeatSeconds" => {
                heartbeat = integer_or_expression(ch, cx, &loc, key, value, 1, MAX_SECONDS)
            }
            _ => reference_path_field(ch, &loc, key, value, Roots::NO_CONTEXT),
        }
    }
    if let (Some(timeout), Some(heartbeat)) = (timeout, heartbeat)
        && heartbeat >= timeout
    {
        ch.schema(
            &cx.at("HeartbeatSeconds"),
            format!(
                "Field 'HeartbeatSeconds' is {heartbeat}; it must be smaller than \
                 'TimeoutSeconds' ({timeout})"
            ),
        );
    }
    if let Some(value) = cx.get("Credentials") {
        credentials(ch, cx, &cx.at("Credentials"), value);
    }
}

/// Express machines refuse the callback and run-a-job patterns and
/// activities (checklist TASK-12; AWS's words, trailing space included).
fn express_resource(ch: &mut Checker, loc: &Loc, resource: &str) {
    let message = if resource.ends_with(".waitForTaskToken") {
        Some("Express state machine does not support '.waitForTaskToken' service integration ")
    } else if resource.ends_with(".sync") || resource.contains(".sync:") {
        Some("Express state machine does not support '.sync' service integration ")
    } else if resource.starts_with("arn:") && resource.contains(":activity:") {
        Some("Express state machine does not support Activity ARN")
    } else {
        None
    };
    if let Some(message) = message {
        ch.schema(loc, message);
    }
}

/// `Credentials`: an object naming the role to assume (checklist TASK-13).
fn credentials(ch: &mut Checker, cx: &StateCx<'_>, loc: &Loc, value: &Value) {
    let Some(obj) = object(ch, loc, "Credentials", value) else {
        return;
    };
    match cx.lang {
        Lang::JsonPath => {
            if !obj.contains_key("RoleArn") && !obj.contains_key("RoleArn.$") {
                ch.schema(loc, "The field 'RoleArn' is required but was missing");
            }
            paths::jsonpath_template(ch, loc, value);
        }
        Lang::Jsonata => match obj.get("RoleArn") {
            None => ch.schema(loc, "The field 'RoleArn' is required but was missing"),
            Some(role) => {
                if let Some(s) = string(ch, &loc.key("RoleArn"), "RoleArn", role) {
                    query_language::jsonata_string(ch, &loc.key("RoleArn"), s);
                }
            }
        },
    }
}

/// Wait: exactly one of its four duration fields.
pub(crate) fn wait(ch: &mut Checker, cx: &StateCx<'_>) {
    const DURATIONS: [&str; 4] = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"];
    let count = exclusive(ch, cx, &DURATIONS);
    if count == 0 {
        let usable: Vec<&str> = DURATIONS
            .into_iter()
            .filter(|f| cx.lang == Lang::JsonPath || !f.ends_with("Path"))
            .collect();
        ch.schema(
            &cx.loc,
            format!(
                "A Wait state needs exactly one of [{}]: say how long, or until when, to wait",
                usable.join(", ")
            ),
        );
    }
    for key in DURATIONS {
        let Some(value) = cx.get(key) else { continue };
        let loc = cx.at(key);
        match key {
            "Seconds" => {
                integer_or_expression(ch, cx, &loc, key, value, 0, MAX_SECONDS);
            }
            "Timestamp" => {
                if let Some(s) = string(ch, &loc, key, value) {
                    if cx.lang == Lang::Jsonata && query_language::expression(s).is_some() {
                        query_language::jsonata_string(ch, &loc, s);
                    } else if !is_timestamp(s) {
                        ch.schema(
                            &loc,
                            format!(
                                "Field 'Timestamp' is {}, which is not an ISO-8601 \
                                 timestamp such as \"2016-03-14T01:59:00Z\"",
                                show(value)
                            ),
                        );
                    }
                }
            }
            _ => reference_path_field(ch, &loc, key, value, Roots::NO_CONTEXT),
        }
    }
}

/// An ISO-8601 extended offset date-time, as the engine (and AWS, with
/// Java's `ISO_OFFSET_DATE_TIME`) reads it.
pub(crate) fn is_timestamp(s: &str) -> bool {
    crate::query::parse_timestamp(s).is_some()
}

/// Fail: `Error` xor `ErrorPath`, `Cause` xor `CausePath`.
pub(crate) fn fail(ch: &mut Checker, cx: &StateCx<'_>) {
    exclusive(ch, cx, &["Error", "ErrorPath"]);
    exclusive(ch, cx, &["Cause", "CausePath"]);
    for key in ["Error", "Cause", "ErrorPath", "CausePath"] {
        let Some(value) = cx.get(key) else { continue };
        let loc = cx.at(key);
        let Some(s) = string(ch, &loc, key, value) else {
            continue;
        };
        if key.ends_with("Path") {
            if let Err(reason) = paths::reference_path_or_intrinsic(s) {
                ch.schema(
                    &loc,
                    format!(
                        "Field '{key}' is {}, which is neither a reference path nor an \
                         intrinsic function call: {reason}",
                        show(value)
                    ),
                );
            }
        } else if cx.lang == Lang::Jsonata {
            query_language::jsonata_string(ch, &loc, s);
        }
    }
}
