//! Choice rules of JSONPath mode: the 42 comparison operators, `And`, `Or`,
//! `Not`. The caller reads the rule's `Next` (and `Assign`); this module
//! only decides whether the rule matches.
//!
//! AWS semantics: a type mismatch is simply false; strings order by Java's
//! UTF-16 code units; numbers compare as binary64; timestamps compare as
//! instants; `IsPresent` on an absent path is false, any other operator on
//! an absent path is a `States.Runtime` failure.

use std::cmp::Ordering;

use serde_json::Value;
use time::OffsetDateTime;

use super::jsonpath::java_cmp;
pub use super::timestamp::parse_timestamp;
use super::{JsonPath, Scope, TemplateProblem, pointer_token};
use crate::errors::AslError;

/// A compiled Choice rule (without its `Next`).
#[derive(Debug, Clone)]
pub struct ChoiceRule {
    rule: Rule,
}

#[derive(Debug, Clone)]
enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Test {
        variable: JsonPath,
        op: Op,
        operand: Operand,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Gt,
    Le,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Compare(Kind, Cmp),
    Matches,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

#[derive(Debug, Clone)]
enum Operand {
    /// A literal of the operator's kind (already checked at parse time).
    Value(Value),
    Time(OffsetDateTime),
    Pattern(Vec<Glob>),
    Flag(bool),
    Path(JsonPath),
}

#[derive(Debug, Clone, PartialEq)]
enum Glob {
    Text(String),
    Star,
}

/// Fields a rule may carry besides its test; `Next`/`Assign` only at the top.
const TOP_ONLY: [&str; 2] = ["Next", "Assign"];

impl ChoiceRule {
    /// Compiles one element of `Choices`. Problems carry JSON pointers
    /// relative to the rule (e.g. `/And/1/Variable`).
    pub fn parse(v: &Value) -> Result<ChoiceRule, Vec<TemplateProblem>> {
        let mut problems = Vec::new();
        let rule = compile(v, true, &mut String::new(), &mut problems);
        match rule {
            Some(rule) if problems.is_empty() => Ok(ChoiceRule { rule }),
            _ => Err(problems),
        }
    }

    /// Whether the rule matches. Only an absent `Variable` (or `…Path`
    /// operand) is an error: `States.Runtime` with AWS's "Invalid path" text.
    pub fn eval(&self, scope: &Scope<'_>) -> Result<bool, AslError> {
        eval(&self.rule, scope)
    }

    /// A short human reading of the rule for a graph's edge label, e.g.
    /// `$.n > 5 and not ($.s matches "*.csv")`. Not parseable back.
    pub fn describe(&self) -> String {
        describe(&self.rule)
    }
}

fn describe(rule: &Rule) -> String {
    let join = |rules: &[Rule], word: &str| {
        let parts: Vec<String> = rules
            .iter()
            .map(|r| match r {
                Rule::Test { .. } | Rule::Not(_) => describe(r),
                _ => format!("({})", describe(r)),
            })
            .collect();
        parts.join(word)
    };
    match rule {
        Rule::And(rules) => join(rules, " and "),
        Rule::Or(rules) => join(rules, " or "),
        Rule::Not(inner) => format!("not ({})", describe(inner)),
        Rule::Test {
            variable,
            op,
            operand,
        } => {
            let value = match operand {
                Operand::Value(v) => v.to_string(),
                Operand::Time(t) => t
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default(),
                Operand::Pattern(globs) => {
                    let text: String = globs
                        .iter()
                        .map(|g| match g {
                            Glob::Text(t) => t.replace('*', "\\*"),
                            Glob::Star => "*".to_owned(),
                        })
                        .collect();
                    Value::String(text).to_string()
                }
                Operand::Flag(flag) => flag.to_string(),
                Operand::Path(path) => path.to_string(),
            };
            let test = match op {
                Op::Compare(_, Cmp::Eq) => "==",
                Op::Compare(_, Cmp::Lt) => "<",
                Op::Compare(_, Cmp::Gt) => ">",
                Op::Compare(_, Cmp::Le) => "<=",
                Op::Compare(_, Cmp::Ge) => ">=",
                Op::Matches => "matches",
                Op::IsNull => "is null",
                Op::IsPresent => "is present",
                Op::IsNumeric => "is numeric",
                Op::IsString => "is string",
                Op::IsBoolean => "is boolean",
                Op::IsTimestamp => "is timestamp",
            };
            match (op, operand) {
                (Op::Compare(..) | Op::Matches, _) => format!("{variable} {test} {value}"),
                (_, Operand::Flag(false)) => format!("not ({variable} {test})"),
                _ => format!("{variable} {test}"),
            }
        }
    }
}

fn operator(name: &str) -> Option<(Op, bool)> {
    let (base, path) = match name.strip_suffix("Path") {
        Some(b) if b != "Is" => (b, true),
        _ => (name, false),
    };
    let cmp_of = |rest: &str| match rest {
        "Equals" => Some(Cmp::Eq),
        "LessThan" => Some(Cmp::Lt),
        "GreaterThan" => Some(Cmp::Gt),
        "LessThanEquals" => Some(Cmp::Le),
        "GreaterThanEquals" => Some(Cmp::Ge),
        _ => None,
    };
    let op = if let Some(rest) = base.strip_prefix("String") {
        if rest == "Matches" {
            if path {
                return None;
            }
            Op::Matches
        } else {
            Op::Compare(Kind::String, cmp_of(rest)?)
        }
    } else if let Some(rest) = base.strip_prefix("Numeric") {
        Op::Compare(Kind::Numeric, cmp_of(rest)?)
    } else if let Some(rest) = base.strip_prefix("Timestamp") {
        Op::Compare(Kind::Timestamp, cmp_of(rest)?)
    } else if base == "BooleanEquals" {
        Op::Compare(Kind::Boolean, Cmp::Eq)
    } else {
        if path {
            return None;
        }
        match name {
            "IsNull" => Op::IsNull,
            "IsPresent" => Op::IsPresent,
            "IsNumeric" => Op::IsNumeric,
            "IsString" => Op::IsString,
            "IsBoolean" => Op::IsBoolean,
            "IsTimestamp" => Op::IsTimestamp,
            _ => return None,
        }
    };
    Some((op, path))
}

fn compile(
    v: &Value,
    top: bool,
    at: &mut String,
    problems: &mut Vec<TemplateProblem>,
) -> Option<Rule> {
    let Value::Object(map) = v else {
        problems.push(TemplateProblem::new(
            at.as_str(),
            "a choice rule must be a JSON object",
        ));
        return None;
    };
    let mut variable = None;
    let mut test: Option<(&str, Op, bool, &Value)> = None;
    let mut combinator: Option<(&str, &Value)> = None;
    let mut ok = true;
    for (key, value) in map {
        let here = format!("{at}/{}", pointer_token(key));
        match key.as_str() {
            "Comment" => {}
            k if TOP_ONLY.contains(&k) => {
                if !top {
                    problems.push(TemplateProblem::new(
                        here,
                        format!("a nested choice rule cannot have '{k}'"),
                    ));
                    ok = false;
                }
            }
            "Variable" => variable = Some((here, value)),
            "And" | "Or" | "Not" => {
                if combinator.is_some() || test.is_some() {
                    problems.push(TemplateProblem::new(
                        here,
                        "a choice rule has exactly one operator",
                    ));
                    ok = false;
                }
                combinator = Some((key, value));
            }
            k => match operator(k) {
                Some((op, path)) => {
                    if combinator.is_some() || test.is_some() {
                        problems.push(TemplateProblem::new(
                            here,
                            "a choice rule has exactly one operator",
                        ));
                        ok = false;
                    }
                    test = Some((key, op, path, value));
                }
                None => {
                    problems.push(TemplateProblem::new(
                        here,
                        format!("'{k}' is not a choice rule field or comparison operator"),
                    ));
                    ok = false;
                }
            },
        }
    }
    if let Some((name, value)) = combinator {
        if let Some((here, _)) = &variable {
            problems.push(TemplateProblem::new(
                here.as_str(),
                format!("a rule using '{name}' cannot have 'Variable'"),
            ));
            ok = false;
        }
        let len = at.len();
        at.push('/');
        at.push_str(name);
        let rule = combine(name, value, at, problems);
        at.truncate(len);
        return rule.filter(|_| ok);
    }
    let Some((name, op, is_path, value)) = test else {
        problems.push(TemplateProblem::new(
            at.as_str(),
            "a choice rule needs a comparison operator, or And, Or or Not",
        ));
        return None;
    };
    let Some((var_at, var)) = variable else {
        problems.push(TemplateProblem::new(
            at.as_str(),
            format!("a rule using '{name}' needs a 'Variable'"),
        ));
        return None;
    };
    let variable = match reference_path(var) {
        Ok(p) => Some(p),
        Err(message) => {
            problems.push(TemplateProblem::new(var_at, message));
            None
        }
    };
    let op_at = format!("{at}/{}", pointer_token(name));
    let operand = operand(name, op, is_path, value, &op_at, problems);
    match (variable, operand) {
        (Some(variable), Some(operand)) if ok => Some(Rule::Test {
            variable,
            op,
            operand,
        }),
        _ => None,
    }
}

fn combine(
    name: &str,
    value: &Value,
    at: &mut String,
    problems: &mut Vec<TemplateProblem>,
) -> Option<Rule> {
    if name == "Not" {
        return compile(value, false, at, problems).map(|r| Rule::Not(Box::new(r)));
    }
    let items = match value.as_array() {
        Some(items) if !items.is_empty() => items,
        _ => {
            problems.push(TemplateProblem::new(
                at.as_str(),
                format!("'{name}' must be a non-empty array of choice rules"),
            ));
            return None;
        }
    };
    let mut rules = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let len = at.len();
        at.push_str(&format!("/{i}"));
        let rule = compile(item, false, at, problems);
        at.truncate(len);
        rules.extend(rule);
    }
    if rules.len() != items.len() {
        return None;
    }
    Some(if name == "And" {
        Rule::And(rules)
    } else {
        Rule::Or(rules)
    })
}

fn operand(
    name: &str,
    op: Op,
    is_path: bool,
    value: &Value,
    at: &str,
    problems: &mut Vec<TemplateProblem>,
) -> Option<Operand> {
    let mut bad = |want: &str| {
        problems.push(TemplateProblem::new(at, format!("'{name}' must be {want}")));
        None
    };
    if is_path {
        return match reference_path(value) {
            Ok(p) => Some(Operand::Path(p)),
            Err(message) => {
                problems.push(TemplateProblem::new(at, message));
                None
            }
        };
    }
    match op {
        Op::Compare(Kind::String, _) if value.is_string() => Some(Operand::Value(value.clone())),
        Op::Compare(Kind::String, _) => bad("a string"),
        Op::Compare(Kind::Numeric, _) if value.is_number() => Some(Operand::Value(value.clone())),
        Op::Compare(Kind::Numeric, _) => bad("a number"),
        Op::Compare(Kind::Boolean, _) if value.is_boolean() => Some(Operand::Value(value.clone())),
        Op::Compare(Kind::Boolean, _) => bad("true or false"),
        Op::Compare(Kind::Timestamp, _) => match value.as_str().and_then(parse_timestamp) {
            Some(t) => Some(Operand::Time(t)),
            None => bad("an ISO-8601 timestamp string such as 2016-03-14T01:59:00Z"),
        },
        Op::Matches => match value.as_str() {
            Some(s) => Some(Operand::Pattern(glob(s))),
            None => bad("a string pattern"),
        },
        _ => match value.as_bool() {
            Some(b) => Some(Operand::Flag(b)),
            None => bad("true or false"),
        },
    }
}

/// `Variable` and `…Path` operands are reference paths; the message
/// starts as AWS's does.
fn reference_path(v: &Value) -> Result<JsonPath, String> {
    let Some(src) = v.as_str() else {
        return Err(format!(
            "Value is not a Reference Path: expected a string such as \"$.field\", got {v}"
        ));
    };
    if !src.starts_with('$') {
        return Err(
            "Value is not a Reference Path: Reference path didn't start with '$'".to_owned(),
        );
    }
    match JsonPath::parse(src) {
        Ok(p) if p.is_reference_path() => Ok(p),
        Ok(_) => Err(format!(
            "Value is not a Reference Path: '{src}' may use only .name, ['name'] and [index] steps"
        )),
        Err(e) => Err(format!("Value is not a Reference Path: {e}")),
    }
}

/// `*` matches any run of characters; `\` makes the next character literal.
fn glob(s: &str) -> Vec<Glob> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => text.push(chars.next().unwrap_or('\\')),
            '*' => {
                if !text.is_empty() {
                    out.push(Glob::Text(std::mem::take(&mut text)));
                }
                if out.last() != Some(&Glob::Star) {
                    out.push(Glob::Star);
                }
            }
            c => text.push(c),
        }
    }
    if !text.is_empty() {
        out.push(Glob::Text(text));
    }
    out
}

fn glob_match(pattern: &[Glob], s: &str) -> bool {
    match pattern.split_first() {
        None => s.is_empty(),
        Some((Glob::Text(t), rest)) => s
            .strip_prefix(t.as_str())
            .is_some_and(|r| glob_match(rest, r)),
        Some((Glob::Star, rest)) => {
            if rest.is_empty() {
                return true;
            }
            s.char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(s.len()))
                .any(|i| glob_match(rest, &s[i..]))
        }
    }
}

fn eval(rule: &Rule, scope: &Scope<'_>) -> Result<bool, AslError> {
    match rule {
        Rule::And(rules) => {
            for r in rules {
                if !eval(r, scope)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Rule::Or(rules) => {
            for r in rules {
                if eval(r, scope)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Rule::Not(r) => Ok(!eval(r, scope)?),
        Rule::Test {
            variable,
            op,
            operand,
        } => {
            if *op == Op::IsPresent {
                let flag = matches!(operand, Operand::Flag(true));
                return Ok(variable.eval(scope).is_some() == flag);
            }
            let value = variable.eval_or_invalid(scope).map_err(AslError::runtime)?;
            test(*op, &value, operand, scope)
        }
    }
}

fn test(op: Op, v: &Value, operand: &Operand, scope: &Scope<'_>) -> Result<bool, AslError> {
    let flag = |f: &Operand| matches!(f, Operand::Flag(true));
    Ok(match op {
        Op::IsNull => v.is_null() == flag(operand),
        Op::IsNumeric => v.is_number() == flag(operand),
        Op::IsString => v.is_string() == flag(operand),
        Op::IsBoolean => v.is_boolean() == flag(operand),
        Op::IsTimestamp => v.as_str().and_then(parse_timestamp).is_some() == flag(operand),
        Op::IsPresent => unreachable!("handled before the value is read"),
        Op::Matches => match (v.as_str(), operand) {
            (Some(s), Operand::Pattern(p)) => glob_match(p, s),
            _ => false,
        },
        Op::Compare(kind, cmp) => {
            let order = match operand {
                Operand::Time(t) => v.as_str().and_then(parse_timestamp).map(|x| x.cmp(t)),
                Operand::Value(b) => compare(kind, v, b),
                Operand::Path(p) => {
                    let b = p.eval_or_invalid(scope).map_err(AslError::runtime)?;
                    compare(kind, v, &b)
                }
                Operand::Pattern(_) | Operand::Flag(_) => None,
            };
            order.is_some_and(|o| match cmp {
                Cmp::Eq => o == Ordering::Equal,
                Cmp::Lt => o == Ordering::Less,
                Cmp::Gt => o == Ordering::Greater,
                Cmp::Le => o != Ordering::Greater,
                Cmp::Ge => o != Ordering::Less,
            })
        }
    })
}

/// Orders two values of `kind`; `None` when either is not of that kind.
fn compare(kind: Kind, a: &Value, b: &Value) -> Option<Ordering> {
    match (kind, a, b) {
        (Kind::String, Value::String(a), Value::String(b)) => Some(java_cmp(a, b)),
        (Kind::Numeric, Value::Number(a), Value::Number(b)) => {
            a.as_f64()?.partial_cmp(&b.as_f64()?)
        }
        (Kind::Boolean, Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Kind::Timestamp, Value::String(a), Value::String(b)) => {
            Some(parse_timestamp(a)?.cmp(&parse_timestamp(b)?))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::names;
    use crate::query::LazyContext;
    use serde_json::{Map, json};

    /// Evaluates `rule` with `input` as `$` and `{"v": 5}` as variables.
    fn check(rule: Value, input: Value) -> Result<bool, AslError> {
        let r = ChoiceRule::parse(&rule).unwrap_or_else(|p| panic!("{rule}: {p:?}"));
        let ctx = LazyContext::ready(json!({"State": {"Name": "S"}}));
        let mut vars = Map::new();
        vars.insert("v".into(), json!(5));
        let scope = Scope {
            input: &input,
            context: &ctx,
            variables: &vars,
        };
        r.eval(&scope)
    }

    fn is(rule: Value, input: Value) -> bool {
        check(rule.clone(), input).unwrap_or_else(|e| panic!("{rule}: {e}"))
    }

    #[test]
    fn comparisons_and_type_mismatch() {
        let x = |op: &str, lit: Value, v: Value| {
            is(
                json!({"Variable": "$.x", op: lit, "Next": "N"}),
                json!({"x": v}),
            )
        };
        assert!(x("NumericEquals", json!(1), json!(1.0)));
        assert!(!x("NumericEquals", json!(1), json!("1")));
        assert!(x("NumericLessThan", json!(2), json!(1.5)));
        assert!(x("NumericGreaterThanEquals", json!(2), json!(2)));
        assert!(!x("NumericGreaterThan", json!(2), json!(null)));
        assert!(x("StringEquals", json!("a"), json!("a")));
        assert!(!x("StringEquals", json!("1"), json!(1)));
        assert!(x("StringLessThan", json!("AB"), json!("A")));
        // Java orders the surrogate pair of U+10000 before U+FFFF.
        assert!(x("StringLessThan", json!("\u{FFFF}"), json!("\u{10000}")));
        assert!(x("StringLessThanEquals", json!(""), json!("")));
        assert!(x("BooleanEquals", json!(false), json!(false)));
        assert!(!x("BooleanEquals", json!(false), json!(0)));
        assert!(x(
            "TimestampEquals",
            json!("2012-10-09T19:00:55Z"),
            json!("2012-10-09T20:00:55+01:00")
        ));
        assert!(x(
            "TimestampGreaterThan",
            json!("2012-10-09T19:00:55Z"),
            json!("2012-10-09T19:00:56Z")
        ));
        assert!(!x(
            "TimestampEquals",
            json!("2012-10-09T19:00:55Z"),
            json!("2023-02-24 12:15:56.832957")
        ));
    }

    #[test]
    fn path_operands() {
        let input = json!({"x": 3, "y": 3, "s": "b", "t": "a"});
        assert!(is(
            json!({"Variable": "$.x", "NumericEqualsPath": "$.y"}),
            input.clone()
        ));
        assert!(is(
            json!({"Variable": "$.s", "StringGreaterThanPath": "$.t"}),
            input.clone()
        ));
        assert!(is(
            json!({"Variable": "$v", "NumericGreaterThanPath": "$.x"}),
            input.clone()
        ));
        assert!(!is(
            json!({"Variable": "$.x", "StringEqualsPath": "$.y"}),
            input.clone()
        ));
        let e = check(
            json!({"Variable": "$.x", "NumericEqualsPath": "$.nope"}),
            input,
        )
        .expect_err("miss");
        assert_eq!(e.error, names::RUNTIME);
    }

    #[test]
    fn type_tests_and_presence() {
        let t =
            |op: &str, flag: bool, input: Value| is(json!({"Variable": "$.x", op: flag}), input);
        assert!(t("IsNull", true, json!({"x": null})));
        assert!(t("IsNull", false, json!({"x": ""})));
        assert!(t("IsNumeric", true, json!({"x": 1.1})));
        assert!(t("IsString", true, json!({"x": ""})));
        assert!(t("IsBoolean", false, json!({"x": 0})));
        assert!(t("IsTimestamp", true, json!({"x": "2016-03-14T01:59:00Z"})));
        assert!(t("IsTimestamp", false, json!({"x": "2016-03-14"})));
        assert!(t("IsPresent", true, json!({"x": null})));
        assert!(!t("IsPresent", true, json!({})));
        assert!(t("IsPresent", false, json!({})));
        let e = check(json!({"Variable": "$.x", "IsNull": true}), json!({})).expect_err("absent");
        assert_eq!(
            (e.error.as_str(), e.cause.as_str()),
            (
                names::RUNTIME,
                "Invalid path '$.x' : No results for path: $['x']"
            )
        );
        assert!(check(json!({"Variable": "$nope", "IsNull": true}), json!({})).is_err());
    }

    #[test]
    fn string_matches() {
        let m = |p: &str, s: &str| is(json!({"Variable": "$", "StringMatches": p}), json!(s));
        assert!(m("log-*.txt", "log-2024.txt"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "aXbYbc"));
        assert!(!m("a*b", "ab-"));
        assert!(m("\\*x", "*x"));
        assert!(!m("\\*x", "ax"));
        assert!(m("é*", "été"));
    }

    #[test]
    fn combinators() {
        let input = json!({"a": 1, "b": "x"});
        let and = json!({"And": [{"Variable": "$.a", "IsPresent": true}, {"Variable": "$.a", "NumericEquals": 1}], "Next": "N"});
        assert!(is(and, input.clone()));
        // And stops before the failing test, so a guarded absent path is fine.
        let guard = json!({"And": [{"Variable": "$.z", "IsPresent": true}, {"Variable": "$.z", "NumericEquals": 1}]});
        assert!(!is(guard, input.clone()));
        let or = json!({"Or": [{"Variable": "$.b", "StringEquals": "y"}, {"Not": {"Variable": "$.a", "NumericEquals": 2}}]});
        assert!(is(or, input));
    }

    #[test]
    fn reports_problems_with_pointers() {
        let p = |rule: Value| {
            ChoiceRule::parse(&rule)
                .expect_err("invalid")
                .into_iter()
                .map(|p| p.pointer)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            p(json!({"Variable": "$.a", "NumericEquals": "1"})),
            ["/NumericEquals"]
        );
        assert_eq!(p(json!({"Variable": "a", "IsNull": true})), ["/Variable"]);
        assert_eq!(
            p(json!({"Variable": "$.a[*]", "IsNull": true})),
            ["/Variable"]
        );
        assert_eq!(
            p(json!({"Variable": "$.a", "NumericEqualsPath": "$..b"})),
            ["/NumericEqualsPath"]
        );
        let e =
            ChoiceRule::parse(&json!({"Variable": "Test", "IsNull": true})).expect_err("invalid");
        assert_eq!(
            e[0].message,
            "Value is not a Reference Path: Reference path didn't start with '$'"
        );
        assert_eq!(p(json!({"NumericEquals": 1})), [""]);
        assert_eq!(p(json!({"Variable": "$.a", "Foo": 1})), ["/Foo", ""]);
        assert_eq!(p(json!({"And": []})), ["/And"]);
        assert_eq!(
            p(json!({"And": [{"Variable": "$.a", "IsNull": 1, "Next": "X"}]})),
            ["/And/0/Next", "/And/0/IsNull"]
        );
        assert_eq!(
            p(json!({"Not": {"Variable": "$.a", "TimestampEquals": "2016-03-14"}})),
            ["/Not/TimestampEquals"]
        );
        assert_eq!(
            p(json!({"Variable": "$.a", "StringMatchesPath": "$.b"})),
            ["/StringMatchesPath", ""]
        );
        assert_eq!(
            p(json!({"Variable": "$.a", "IsNull": true, "IsString": true})),
            ["/IsString"]
        );
    }

    #[test]
    fn knows_all_42_operators() {
        let kinds = ["String", "Numeric", "Timestamp"];
        let cmps = [
            "Equals",
            "LessThan",
            "GreaterThan",
            "LessThanEquals",
            "GreaterThanEquals",
        ];
        let mut names: Vec<String> = kinds
            .iter()
            .flat_map(|k| {
                cmps.iter()
                    .flat_map(move |c| [format!("{k}{c}"), format!("{k}{c}Path")])
            })
            .collect();
        names.extend(
            [
                "BooleanEquals",
                "BooleanEqualsPath",
                "StringMatches",
                "IsNull",
                "IsPresent",
                "IsNumeric",
                "IsString",
                "IsBoolean",
                "IsTimestamp",
            ]
            .map(String::from),
        );
        assert_eq!(names.len(), 39);
        assert!(names.iter().all(|n| operator(n).is_some()), "{names:?}");
        for bad in [
            "StringMatchesPath",
            "IsNullPath",
            "BooleanLessThan",
            "NumericEqual",
        ] {
            assert!(operator(bad).is_none(), "{bad}");
        }
    }
}
