//! Choice states: `Choices` and `Default`, and the shape of each rule
//! (checklist CHOICE-01, 03, 04, CHOP-01..07): exactly one comparison (or
//! `And`/`Or`/`Not`), `Variable` with every comparison, `Next` on top-level
//! rules only, `Condition` in JSONata.

use serde_json::{Map, Value};

use super::fields;
use super::paths::{self, Roots};
use super::query_language::{self, Lang};
use super::values;
use super::{Checker, Loc, StateCx, StateNode};
use crate::query::ChoiceRule;

/// How an operator's operand is checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Operand {
    String,
    Number,
    Boolean,
    Timestamp,
    Path,
    /// `Is*`: `true` or `false`.
    Test,
}

/// The 42 comparison operators of JSONPath mode (checklist CHOP-06).
fn operator(name: &str) -> Option<Operand> {
    if name.ends_with("Path") {
        let base = name.strip_suffix("Path").unwrap_or(name);
        return operator(base)
            .filter(|_| base != "StringMatches" && !base.starts_with("Is"))
            .map(|_| Operand::Path);
    }
    let comparisons = [
        "Equals",
        "LessThan",
        "GreaterThan",
        "LessThanEquals",
        "GreaterThanEquals",
    ];
    let compares = |prefix: &str| {
        name.strip_prefix(prefix)
            .is_some_and(|rest| comparisons.contains(&rest))
    };
    if compares("String") || name == "StringMatches" {
        Some(Operand::String)
    } else if compares("Numeric") {
        Some(Operand::Number)
    } else if compares("Timestamp") {
        Some(Operand::Timestamp)
    } else if name == "BooleanEquals" {
        Some(Operand::Boolean)
    } else if [
        "IsNull",
        "IsPresent",
        "IsNumeric",
        "IsString",
        "IsBoolean",
        "IsTimestamp",
    ]
    .contains(&name)
    {
        Some(Operand::Test)
    } else {
        None
    }
}

const COMBINATORS: [&str; 3] = ["And", "Or", "Not"];

pub(crate) fn check(ch: &mut Checker, cx: &StateCx<'_>, node: &mut StateNode) {
    if let Some(value) = cx.get("Default") {
        let loc = cx.at("Default");
        if let Some(target) = values::string(ch, &loc, "Default", value) {
            node.targets.push((target.to_owned(), loc));
        }
    }
    let Some(value) = cx.get("Choices") else {
        ch.schema(
            &cx.loc,
            "The field 'Choices' is required but was missing: a Choice state lists its rules there",
        );
        return;
    };
    let loc = cx.at("Choices");
    let Some(rules) = values::array(ch, &loc, "Choices", value) else {
        return;
    };
    if rules.is_empty() {
        ch.schema(
            &loc,
            "Field 'Choices' is empty; a Choice state needs at least one rule",
        );
    }
    for (i, rule) in rules.iter().enumerate() {
        let rule_loc = loc.index(i);
        let Some(obj) = values::object(ch, &rule_loc, "Choices", rule) else {
            continue;
        };
        match cx.lang {
            Lang::JsonPath => {
                let before = ch.diagnostics.len();
                jsonpath_rule(ch, &rule_loc, obj, Some(node));
                // The engine compiles the rule with its own parser; whatever
                // it refuses must not pass validation, even if the checks
                // above missed it.
                if ch.diagnostics.len() == before
                    && let Err(problems) = ChoiceRule::parse(rule)
                {
                    for problem in problems {
                        let at = paths::at_pointer(&rule_loc, rule, &problem.pointer);
                        ch.schema(&at, problem.message);
                    }
                }
            }
            Lang::Jsonata => jsonata_rule(ch, &rule_loc, obj, node),
        }
    }
}

/// A JSONPath rule; `node` is `Some` for a top-level rule (which names the
/// next state) and `None` inside `And`/`Or`/`Not`.
fn jsonpath_rule(
    ch: &mut Checker,
    loc: &Loc,
    obj: &Map<String, Value>,
    node: Option<&mut StateNode>,
) {
    let top = node.is_some();
    let kinds: Vec<&str> = obj
        .keys()
        .map(String::as_str)
        .filter(|k| operator(k).is_some() || COMBINATORS.contains(k))
        .collect();
    match kinds.len() {
        0 => ch.schema(
            loc,
            "A Choice rule needs exactly one comparison operator (such as 'StringEquals' or \
             'IsPresent') together with 'Variable', or one of 'And', 'Or', 'Not'",
        ),
        1 => {}
        _ => ch.schema(
            loc,
            format!(
                "A Choice rule may have only one comparison operator or combinator, found {}",
                values::quoted(&kinds)
            ),
        ),
    }
    let compares = kinds.iter().any(|k| operator(k).is_some());
    match obj.get("Variable") {
        Some(value) => {
            let var_loc = loc.key("Variable");
            if !compares && !kinds.is_empty() {
                ch.schema(
                    loc,
                    format!(
                        "Field 'Variable' is not supported next to {}: put it in the nested rules",
                        values::quoted(&kinds)
                    ),
                );
            }
            values::reference_path_field(ch, &var_loc, "Variable", value, Roots::ANY);
        }
        None if compares => ch.schema(
            loc,
            format!(
                "The field 'Variable' is required but was missing: {} compares the value at \
                 that path",
                values::quoted(&kinds[..1])
            ),
        ),
        None => {}
    }
    match (obj.get("Next"), node) {
        (Some(value), Some(node)) => {
            let next_loc = loc.key("Next");
            if let Some(target) = values::string(ch, &next_loc, "Next", value) {
                node.targets.push((target.to_owned(), next_loc));
            }
        }
        (None, Some(_)) => ch.schema(
            loc,
            "The field 'Next' is required but was missing: a top-level Choice rule names the \
             state to run when it matches",
        ),
        (Some(_), None) => ch.schema(
            loc,
            "Field 'Next' is not supported in a nested Choice rule: only the rules directly in \
             'Choices' name a state",
        ),
        (None, None) => {}
    }
    for (key, value) in obj {
        let field_loc = loc.key(key);
        match key.as_str() {
            "Variable" | "Next" => {}
            "Comment" => {
                values::string(ch, &field_loc, key, value);
            }
            "Assign" if top => fields::assign(ch, Lang::JsonPath, &field_loc, value),
            "Output" | "Condition" if top => {
                ch.schema(loc, query_language::wrong_language(Lang::JsonPath, key))
            }
            "And" | "Or" => {
                if let Some(rules) = values::array(ch, &field_loc, key, value) {
                    if rules.is_empty() {
                        ch.schema(
                            &field_loc,
                            format!("Field '{key}' is empty; it needs at least one rule"),
                        );
                    }
                    for (i, rule) in rules.iter().enumerate() {
                        let rule_loc = field_loc.index(i);
                        if let Some(obj) = values::object(ch, &rule_loc, key, rule) {
                            jsonpath_rule(ch, &rule_loc, obj, None);
                        }
                    }
                }
            }
            "Not" => {
                if let Some(obj) = values::object(ch, &field_loc, key, value) {
                    jsonpath_rule(ch, &field_loc, obj, None);
                }
            }
            _ => match operator(key) {
                Some(operand) => check_operand(ch, &field_loc, key, value, operand),
                None => {
                    let mut allowed = vec!["Variable", "And", "Or", "Not", "Comment"];
                    if top {
                        allowed.extend(["Next", "Assign"]);
                    }
                    let message = if let Some(best) = values::closest(key, &OPERATOR_NAMES) {
                        format!("Field '{key}' is not supported; did you mean '{best}'?")
                    } else {
                        values::unknown_field_message(key, &allowed, "a Choice rule")
                    };
                    ch.schema(loc, message);
                }
            },
        }
    }
}

/// Operator names, for suggestions.
const OPERATOR_NAMES: [&str; 12] = [
    "StringEquals",
    "StringMatches",
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThan",
    "BooleanEquals",
    "TimestampEquals",
    "IsNull",
    "IsPresent",
    "IsNumeric",
    "IsString",
    "IsTimestamp",
];

fn check_operand(ch: &mut Checker, loc: &Loc, key: &str, value: &Value, operand: Operand) {
    match operand {
        Operand::String => {
            values::string(ch, loc, key, value);
        }
        Operand::Number => {
            if !value.is_number() {
                ch.schema(
                    loc,
                    format!(
                        "Expected value of type [NUMBER] for field '{key}', got {}",
                        values::show(value)
                    ),
                );
            }
        }
        Operand::Boolean | Operand::Test => {
            values::boolean(ch, loc, key, value);
        }
        Operand::Timestamp => {
            if let Some(s) = values::string(ch, loc, key, value)
                && !values::is_timestamp(s)
            {
                ch.schema(
                    loc,
                    format!(
                        "Field '{key}' is {}, which is not an ISO-8601 timestamp such as \
                         \"2016-03-14T01:59:00Z\"",
                        values::show(value)
                    ),
                );
            }
        }
        Operand::Path => values::reference_path_field(ch, loc, key, value, Roots::ANY),
    }
}

/// A JSONata rule: `Condition` and `Next`, with optional Assign and Output.
fn jsonata_rule(ch: &mut Checker, loc: &Loc, obj: &Map<String, Value>, node: &mut StateNode) {
    match obj.get("Condition") {
        None => ch.schema(
            loc,
            "The field 'Condition' is required but was missing: a JSONata Choice rule holds \
             true, false or a \"{% ... %}\" expression there",
        ),
        Some(Value::Bool(_)) => {}
        Some(Value::String(s)) if query_language::expression(s).is_some() => {
            query_language::jsonata_string(ch, &loc.key("Condition"), s)
        }
        Some(other) => ch.schema(
            &loc.key("Condition"),
            format!(
                "Field 'Condition' is {}; expected true, false or a JSONata expression \
                 \"{{% ... %}}\"",
                values::show(other)
            ),
        ),
    }
    match obj.get("Next") {
        None => ch.schema(
            loc,
            "The field 'Next' is required but was missing: a Choice rule names the state to \
             run when it matches",
        ),
        Some(value) => {
            let next_loc = loc.key("Next");
            if let Some(target) = values::string(ch, &next_loc, "Next", value) {
                node.targets.push((target.to_owned(), next_loc));
            }
        }
    }
    for (key, value) in obj {
        let field_loc = loc.key(key);
        match key.as_str() {
            "Condition" | "Next" => {}
            "Comment" => {
                values::string(ch, &field_loc, key, value);
            }
            "Assign" => fields::assign(ch, Lang::Jsonata, &field_loc, value),
            "Output" => query_language::jsonata_template(ch, &field_loc, value),
            k if k == "Variable" || COMBINATORS.contains(&k) || operator(k).is_some() => {
                ch.schema(loc, query_language::wrong_language(Lang::Jsonata, key))
            }
            _ => ch.schema(
                loc,
                values::unknown_field_message(
                    key,
                    &["Condition", "Next", "Assign", "Output", "Comment"],
                    "a JSONata Choice rule",
                ),
            ),
        }
    }
}
