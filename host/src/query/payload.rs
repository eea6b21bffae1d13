//! Payload templates of JSONPath mode: `Parameters`, `ResultSelector`,
//! `ItemSelector`, the legacy Map `Parameters`, and JSONPath-mode `Assign`.
//! A key ending in `.$` takes a path (`$…`, `$$…`, `$var…`) or an intrinsic
//! call and loses its `.$` in the output; everything else is copied as is.
//!
//! Static parts are built once at parse time, so evaluating costs one clone
//! of them plus the dynamic values.

use serde_json::{Map, Value};

use super::intrinsics::path_miss;
use super::{Intrinsic, JsonPath, Scope, TemplateProblem, pointer_token};
use crate::errors::AslError;

/// A compiled payload template.
#[derive(Debug, Clone)]
pub struct Template {
    node: Node,
}

#[derive(Debug, Clone)]
enum Node {
    Static(Value),
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    /// `"key.$": "$.path"`; `field` is the key as written (`key.$`).
    Path {
        path: JsonPath,
        field: String,
    },
    Call {
        call: Intrinsic,
        field: String,
    },
}

impl Template {
    /// Compiles a template; every problem found is reported with the JSON
    /// pointer of its field inside `v` (e.g. `/a/b.$`).
    pub fn parse(v: &Value) -> Result<Template, Vec<TemplateProblem>> {
        let mut problems = Vec::new();
        let node = compile(v, &mut String::new(), &mut problems);
        if problems.is_empty() {
            Ok(Template { node })
        } else {
            Err(problems)
        }
    }

    /// True when the template has no `.$` field at all.
    pub fn is_static(&self) -> bool {
        matches!(self.node, Node::Static(_))
    }

    /// Builds the payload. A path that matches nothing fails with AWS's
    /// `States.Runtime` cause; intrinsic failures are `States.IntrinsicFailure`.
    pub fn eval(&self, scope: &Scope<'_>) -> Result<Value, AslError> {
        eval_node(&self.node, scope)
    }

    /// Every path the template reads, intrinsic arguments included.
    pub fn paths(&self) -> Vec<&JsonPath> {
        fn walk<'a>(n: &'a Node, out: &mut Vec<&'a JsonPath>) {
            match n {
                Node::Static(_) => {}
                Node::Object(entries) => entries.iter().for_each(|(_, n)| walk(n, out)),
                Node::Array(items) => items.iter().for_each(|n| walk(n, out)),
                Node::Path { path, .. } => out.push(path),
                Node::Call { call, .. } => out.extend(call.paths()),
            }
        }
        let mut out = Vec::new();
        walk(&self.node, &mut out);
        out
    }
}

fn compile(v: &Value, at: &mut String, problems: &mut Vec<TemplateProblem>) -> Node {
    match v {
        Value::Object(map) => {
            let mut entries = Vec::with_capacity(map.len());
            let mut dynamic = false;
            for (key, child) in map {
                let len = at.len();
                at.push('/');
                at.push_str(&pointer_token(key));
                let node = match key.strip_suffix(".$") {
                    Some(name) => {
                        dynamic = true;
                        (name.to_owned(), dynamic_field(key, child, at, problems))
                    }
                    None => {
                        let node = compile(child, at, problems);
                        dynamic |= !matches!(node, Node::Static(_));
                        (key.clone(), node)
                    }
                };
                entries.push(node);
                at.truncate(len);
            }
            if dynamic {
                Node::Object(entries)
            } else {
                Node::Static(v.clone())
            }
        }
        Value::Array(items) => {
            let nodes: Vec<Node> = items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let len = at.len();
                    at.push_str(&format!("/{i}"));
                    let node = compile(item, at, problems);
                    at.truncate(len);
                    node
                })
                .collect();
            if nodes.iter().all(|n| matches!(n, Node::Static(_))) {
                Node::Static(v.clone())
            } else {
                Node::Array(nodes)
            }
        }
        other => Node::Static(other.clone()),
    }
}

fn dynamic_field(key: &str, v: &Value, at: &str, problems: &mut Vec<TemplateProblem>) -> Node {
    let invalid = |detail: Option<String>| {
        let mut message = format!(
            "The value for the field '{key}' must be a valid JSONPath or a valid intrinsic function call"
        );
        if let Some(d) = detail {
            message.push_str(&format!(" ({d})"));
        }
        TemplateProblem::new(at, message)
    };
    let field = key.to_owned();
    let parsed = match v {
        Value::String(s) if s.starts_with('$') => JsonPath::parse(s)
            .map(|path| Node::Path { path, field })
            .map_err(|e| Some(e.to_string())),
        Value::String(s) if s.starts_with("States.") => Intrinsic::parse(s)
            .map(|call| Node::Call { call, field })
            .map_err(|e| Some(e.to_string())),
        _ => Err(None),
    };
    parsed.unwrap_or_else(|detail| {
        problems.push(invalid(detail));
        Node::Static(Value::Null)
    })
}

fn eval_node(node: &Node, scope: &Scope<'_>) -> Result<Value, AslError> {
    Ok(match node {
        Node::Static(v) => v.clone(),
        Node::Object(entries) => {
            let mut map = Map::with_capacity(entries.len());
            for (k, n) in entries {
                map.insert(k.clone(), eval_node(n, scope)?);
            }
            Value::Object(map)
        }
        Node::Array(items) => Value::Array(
            items
                .iter()
                .map(|n| eval_node(n, scope))
                .collect::<Result<_, _>>()?,
        ),
        Node::Path { path, field } => path
            .eval(scope)
            .ok_or_else(|| path_miss(path, field, scope.input))?
            .into_owned(),
        Node::Call { call, field } => call.eval_field(scope, field)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::names;
    use crate::query::LazyContext;
    use serde_json::json;

    /// Evaluates `template` with `input` as `$`, `{"Id": "x"}` as `$$` and
    /// `{"v": 7}` as variables.
    fn check(template: Value, input: Value) -> Result<Value, AslError> {
        let t = Template::parse(&template).unwrap_or_else(|p| panic!("{template}: {p:?}"));
        let ctx = LazyContext::ready(json!({"Id": "x"}));
        let mut vars = Map::new();
        vars.insert("v".into(), json!(7));
        let scope = Scope {
            input: &input,
            context: &ctx,
            variables: &vars,
        };
        t.eval(&scope)
    }

    #[test]
    fn fills_dynamic_fields_and_keeps_static_ones() {
        let out = check(
            json!({
                "lit": "$.not_a_path",
                "a.$": "$.a",
                "nested": {"ctx.$": "$$.Id", "list": [1, {"v.$": "$v"}]},
                "all.$": "$",
                "n.$": "States.ArrayLength($.l)",
                "keep": [{"x": 1}]
            }),
            json!({"a": [1, 2], "l": [0]}),
        );
        assert_eq!(
            out,
            Ok(json!({
                "lit": "$.not_a_path",
                "a": [1, 2],
                "nested": {"ctx": "x", "list": [1, {"v": 7}]},
                "all": {"a": [1, 2], "l": [0]},
                "n": 1,
                "keep": [{"x": 1}]
            }))
        );
    }

    #[test]
    fn static_templates_are_prebuilt() {
        let t = Template::parse(&json!({"a": [1, {"b": "$.x"}]})).expect("valid");
        assert!(t.is_static());
        assert!(
            !Template::parse(&json!({"a": [{"b.$": "$"}]}))
                .expect("valid")
                .is_static()
        );
        assert_eq!(check(json!("text"), json!(null)), Ok(json!("text")));
    }

    #[test]
    fn misses_are_runtime_errors_naming_the_field() {
        let e = check(json!({"value.$": "$.no_such_jsonpath"}), json!({"a": 1})).expect_err("miss");
        assert_eq!(e.error, names::RUNTIME);
        assert_eq!(
            e.cause,
            "The JSONPath '$.no_such_jsonpath' specified for the field 'value.$' could not be found in the input '{\"a\":1}'"
        );
        let e = check(json!({"x": {"v.$": "$nope"}}), json!({})).expect_err("miss");
        assert!(
            e.cause
                .starts_with("The JSONPath '$nope' specified for the field 'v.$'")
        );
        assert_eq!(
            check(json!({"i.$": "$.l[*].x"}), json!({})),
            Ok(json!({"i": []}))
        );
    }

    #[test]
    fn reports_every_bad_field_with_its_pointer() {
        let problems = Template::parse(&json!({
            "f0": 1,
            "good1.$": "$.g1",
            "bad1.$": 23,
            "bad2.$": "23",
            "f3": {"bad3.$": [1], "good2.$": "$.b[23]", "f5": ["f6", {"f7": {"bad4.$": {"f9": 1}}}]},
            "good4.$": "$$",
            "bad5.$": "$$23",
            "a/b.$": " States.Array()",
            "bad6.$": "States.Xyz($.a)"
        }))
        .expect_err("invalid");
        let pointers: Vec<&str> = problems.iter().map(|p| p.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/bad1.$",
                "/bad2.$",
                "/f3/bad3.$",
                "/f3/f5/1/f7/bad4.$",
                "/bad5.$",
                "/a~1b.$",
                "/bad6.$"
            ]
        );
        assert!(problems[0].message.contains("'bad1.$'"));
    }
}
