//! `Retry` and `Catch` on Task, Parallel and Map (checklist RETRY-01..04,
//! CATCH-01): their fields, ranges, `ErrorEquals` rules, and each catcher's
//! `Next` as a transition of the state.

use serde_json::{Map, Value};

use super::fields;
use super::paths::Roots;
use super::query_language::{self, Lang};
use super::values::{self, MAX_SECONDS};
use super::{Checker, Loc, StateCx, StateNode};
use crate::errors::names;

/// The longest `MaxDelaySeconds` AWS accepts (366 days).
const MAX_DELAY_SECONDS: i64 = 31_622_400;

pub(crate) fn check(ch: &mut Checker, cx: &StateCx<'_>, node: &mut StateNode) {
    if let Some(value) = cx.get("Retry") {
        let loc = cx.at("Retry");
        if let Some(retriers) = values::array(ch, &loc, "Retry", value) {
            for (i, retrier) in retriers.iter().enumerate() {
                let last = i + 1 == retriers.len();
                retry(ch, &loc.index(i), retrier, last);
            }
        }
    }
    if let Some(value) = cx.get("Catch") {
        let loc = cx.at("Catch");
        if let Some(catchers) = values::array(ch, &loc, "Catch", value) {
            for (i, catcher) in catchers.iter().enumerate() {
                let last = i + 1 == catchers.len();
                catch(ch, cx.lang, &loc.index(i), catcher, last, node);
            }
        }
    }
}

const RETRY_FIELDS: [&str; 7] = [
    "ErrorEquals",
    "IntervalSeconds",
    "MaxAttempts",
    "BackoffRate",
    "MaxDelaySeconds",
    "JitterStrategy",
    "Comment",
];

fn retry(ch: &mut Checker, loc: &Loc, value: &Value, last: bool) {
    let Some(obj) = values::object(ch, loc, "Retry", value) else {
        return;
    };
    error_equals(ch, loc, obj, "Retry", last);
    for (key, value) in obj {
        let field_loc = loc.key(key);
        match key.as_str() {
            "ErrorEquals" => {}
            "Comment" => {
                values::string(ch, &field_loc, key, value);
            }
            "IntervalSeconds" => {
                values::integer(ch, &field_loc, key, value, 1, MAX_SECONDS);
            }
            "MaxAttempts" => {
                values::integer(ch, &field_loc, key, value, 0, MAX_SECONDS);
            }
            "BackoffRate" => {
                values::number(ch, &field_loc, key, value, 1.0, f64::MAX);
            }
            "MaxDelaySeconds" => {
                values::integer(ch, &field_loc, key, value, 1, MAX_DELAY_SECONDS);
            }
            "JitterStrategy" => values::one_of(ch, &field_loc, key, value, &["FULL", "NONE"]),
            _ => ch.schema(
                loc,
                values::unknown_field_message(key, &RETRY_FIELDS, "a retrier"),
            ),
        }
    }
}

fn catch(ch: &mut Checker, lang: Lang, loc: &Loc, value: &Value, last: bool, node: &mut StateNode) {
    let Some(obj) = values::object(ch, loc, "Catch", value) else {
        return;
    };
    error_equals(ch, loc, obj, "Catch", last);
    match obj.get("Next") {
        None => ch.schema(loc, "The field 'Next' is required but was missing: a catcher names the state to run when it matches"),
        Some(next) => {
            if let Some(target) = values::string(ch, &loc.key("Next"), "Next", next) {
                node.targets.push((target.to_owned(), loc.key("Next")));
            }
        }
    }
    const FIELDS: [&str; 6] = [
        "ErrorEquals",
        "Next",
        "ResultPath",
        "Output",
        "Assign",
        "Comment",
    ];
    for (key, value) in obj {
        let field_loc = loc.key(key);
        match key.as_str() {
            "ErrorEquals" | "Next" => {}
            "Comment" => {
                values::string(ch, &field_loc, key, value);
            }
            "ResultPath" if lang == Lang::Jsonata => {
                ch.schema(loc, query_language::wrong_language(lang, key))
            }
            "Output" if lang == Lang::JsonPath => {
                ch.schema(loc, query_language::wrong_language(lang, key))
            }
            "ResultPath" => {
                if !value.is_null() {
                    values::reference_path_field(ch, &field_loc, key, value, Roots::INPUT);
                }
            }
            "Output" | "Assign" => {
                ch.in_catcher = true;
                if key == "Output" {
                    query_language::jsonata_template(ch, &field_loc, value);
                } else {
                    fields::assign(ch, lang, &field_loc, value);
                }
                ch.in_catcher = false;
            }
            _ => ch.schema(
                loc,
                values::unknown_field_message(key, &FIELDS, "a catcher"),
            ),
        }
    }
}

/// `ErrorEquals`: a non-empty array of error names; `States.ALL` alone and
/// only in the last retrier or catcher (checklist RETRY-04).
fn error_equals(ch: &mut Checker, loc: &Loc, obj: &Map<String, Value>, what: &str, last: bool) {
    let Some(value) = obj.get("ErrorEquals") else {
        ch.schema(loc, "The field 'ErrorEquals' is required but was missing");
        return;
    };
    let eq_loc = loc.key("ErrorEquals");
    let Some(errors) = values::array(ch, &eq_loc, "ErrorEquals", value) else {
        return;
    };
    if errors.is_empty() {
        ch.schema(
            &eq_loc,
            "Field 'ErrorEquals' is empty; it needs at least one error name, e.g. [\"States.ALL\"]",
        );
        return;
    }
    let mut has_all = false;
    for (i, error) in errors.iter().enumerate() {
        if let Some(name) = values::string(ch, &eq_loc.index(i), "ErrorEquals", error) {
            has_all |= name == names::ALL;
        }
    }
    if has_all && errors.len() > 1 {
        ch.schema(
            &eq_loc,
            "'States.ALL' must appear alone in 'ErrorEquals': it already matches every error",
        );
    }
    if has_all && !last {
        ch.schema(
            &eq_loc,
            format!(
                "The entry with 'States.ALL' must be the last one in '{what}': entries after \
                 it can never match"
            ),
        );
    }
}
