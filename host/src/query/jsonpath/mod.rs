//! JSONPath as AWS Step Functions evaluates it in JSONPath mode, which is
//! Jayway JsonPath: roots `$` (input), `$$` (context object) and `$name`
//! (workflow variable); `.name`, `['name']`, `[n]`, `[-n]`, `[*]`, `.*`,
//! slices `[a:b]`, unions `[0,1]` / `['a','b']`, recursive descent `..`, and
//! filters `[?(...)]`. Also ResultPath assignment ([`JsonPath::assign`]).
//!
//! Deliberately not supported (AWS rejects them too): Jayway functions such
//! as `length()`, regex filters (`=~`) and the `in`/`nin`/`subsetof` family.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use serde_json::{Map, Value};

use super::{QueryError, Scope};

mod parse;
use parse::Parser;

/// Which document a path reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// `$`: the state input (or whatever document the caller applies it to).
    Input,
    /// `$$`: the context object.
    Context,
    /// `$name`: a workflow variable.
    Variable(String),
}

/// A compiled JSONPath expression.
#[derive(Debug, Clone)]
pub struct JsonPath {
    src: String,
    root: Root,
    steps: Vec<Step>,
    definite: bool,
    reference: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    /// `['a','b']`: iterates the names, or (as the last step) builds an
    /// object of the present ones, as Jayway does.
    Fields(Vec<String>),
    Index(i64),
    Indexes(Vec<i64>),
    Slice(Option<i64>, Option<i64>),
    Wildcard,
    Descend(Box<Step>),
    Filter(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Exists(Operand),
    Cmp(Operand, CmpOp, Operand),
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    /// `@...` (relative to the tested element) or `$...` (the document root).
    Path {
        current: bool,
        steps: Vec<Step>,
        definite: bool,
    },
    Literal(Value),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl JsonPath {
    /// Compiles `src`; never panics, whatever the input.
    pub fn parse(src: &str) -> Result<JsonPath, QueryError> {
        // Jayway trims trailing spaces before it compiles (AWS deploys
        // `"$.a "`); the path keeps its text as written for messages.
        let body = src.trim_end_matches(' ');
        let mut p = Parser {
            src: body,
            pos: 0,
            in_filter: false,
        };
        let root = p.root()?;
        let steps = p.steps()?;
        if p.pos < body.len() {
            return Err(p.err("unexpected character"));
        }
        let definite = steps_definite(&steps);
        let reference = steps
            .iter()
            .all(|s| matches!(s, Step::Field(_)) || matches!(s, Step::Index(i) if *i >= 0));
        Ok(JsonPath {
            src: src.to_owned(),
            root,
            steps,
            definite,
            reference,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.src
    }

    pub fn root(&self) -> &Root {
        &self.root
    }

    /// An ASL Reference Path: only `.name`, `['name']` and `[n]` steps, so it
    /// names at most one node.
    pub fn is_reference_path(&self) -> bool {
        self.reference
    }

    /// True when the path yields one value (or none) rather than a list.
    pub fn is_definite(&self) -> bool {
        self.definite
    }

    /// True for `$` alone (or `$$`, `$name` alone): the whole document.
    pub fn is_root_only(&self) -> bool {
        self.steps.is_empty()
    }

    /// Applies the path to `root`. A definite path yields its value (borrowed)
    /// or `None`; an indefinite one always yields an array of its matches
    /// (`[]` when none), as AWS does.
    pub fn select<'v>(&self, root: &'v Value) -> Option<Cow<'v, Value>> {
        if self.reference {
            return walk_reference(&self.steps, root).map(Cow::Borrowed);
        }
        select_steps(&self.steps, self.definite, root, root)
    }

    /// Applies the path to the document its root names in `scope`. `None`
    /// also when the variable does not exist.
    pub fn eval<'v>(&self, scope: &Scope<'v>) -> Option<Cow<'v, Value>> {
        let doc: &'v Value = match &self.root {
            Root::Input => scope.input,
            Root::Context => scope.context.get(),
            Root::Variable(name) => scope.variables.get(name)?,
        };
        self.select(doc)
    }

    /// Like [`JsonPath::select`], but a miss is AWS's InputPath/OutputPath
    /// message, e.g. `Invalid path '$.x' : No results for path: $['x']`.
    pub fn select_or_invalid<'v>(&self, root: &'v Value) -> Result<Cow<'v, Value>, String> {
        self.select(root)
            .ok_or_else(|| format!("Invalid path '{}' : {}", self.src, self.miss_reason(root)))
    }

    /// Like [`JsonPath::select_or_invalid`], but consumes `root`: a reference
    /// path moves its node out instead of copying it (`OutputPath` on a
    /// state's whole output).
    pub fn take_or_invalid(&self, mut root: Value) -> Result<Value, String> {
        if !self.reference {
            return self.select_or_invalid(&root).map(Cow::into_owned);
        }
        match take_reference(&self.steps, &mut root) {
            Some(node) => Ok(node),
            None => Err(format!(
                "Invalid path '{}' : {}",
                self.src,
                self.miss_reason(&root)
            )),
        }
    }

    /// Like [`JsonPath::eval`], but a miss is AWS's "Invalid path" text (also
    /// for a variable that was never assigned).
    pub fn eval_or_invalid<'v>(&self, scope: &Scope<'v>) -> Result<Cow<'v, Value>, String> {
        let doc: &'v Value = match &self.root {
            Root::Input => scope.input,
            Root::Context => scope.context.get(),
            Root::Variable(name) => match scope.variables.get(name) {
                Some(v) => v,
                None => {
                    return Err(format!(
                        "Invalid path '{}' : No results for path: {}",
                        self.src,
                        self.jayway_string()
                    ));
                }
            },
        };
        self.select_or_invalid(doc)
    }

    /// Jayway's explanation of why this definite path matches nothing in `root`.
    fn miss_reason(&self, root: &Value) -> String {
        let mut node = root;
        let mut at = String::from("$");
        for (i, step) in self.steps.iter().enumerate() {
            let leaf = i + 1 == self.steps.len();
            match step {
                Step::Field(name) => {
                    let Value::Object(map) = node else {
                        return format!(
                            "Expected to find an object with property ['{name}'] in path {at} but found '{}'. This is not a json object according to the JsonProvider: 'com.jayway.jsonpath.spi.json.JacksonJsonProvider'.",
                            java_class(node)
                        );
                    };
                    at.push_str(&format!("['{name}']"));
                    match map.get(name) {
                        Some(v) => node = v,
                        None if leaf => break,
                        None => return format!("Missing property in path {at}"),
                    }
                }
                Step::Index(idx) => {
                    let Value::Array(items) = node else {
                        return format!(
                            "Filter: [{idx}] can only be applied to arrays. Current context is: {}",
                            compact(node)
                        );
                    };
                    at.push_str(&format!("[{idx}]"));
                    match index_of(*idx, items.len()).and_then(|i| items.get(i)) {
                        Some(v) => node = v,
                        None => break,
                    }
                }
                _ => break,
            }
        }
        format!("No results for path: {}", self.jayway_string())
    }

    /// The path as Jayway prints it: `$['a'][0]`.
    fn jayway_string(&self) -> String {
        let mut s = String::from("$");
        for step in &self.steps {
            match step {
                Step::Field(n) => s.push_str(&format!("['{n}']")),
                Step::Index(i) => s.push_str(&format!("[{i}]")),
                _ => return self.src.clone(),
            }
        }
        s
    }

    /// ResultPath: puts `value` at this reference path inside `target`.
    /// `$` replaces the whole target; missing objects on the way are created;
    /// anything else on the way (or an index out of range) is a failure whose
    /// text is AWS's `States.ResultPathMatchFailure` cause.
    pub fn assign(&self, mut target: Value, value: Value) -> Result<Value, String> {
        if self.root != Root::Input || !self.reference {
            return Err(format!(
                "ResultPath '{}' is not a reference path into the state input",
                self.src
            ));
        }
        let Some((last, init)) = self.steps.split_last() else {
            return Ok(value);
        };
        if !self.can_assign(&target) {
            return Err(format!(
                "Unable to apply ReferencePath {} to input {}",
                self.src,
                compact(&target)
            ));
        }
        let mut node = &mut target;
        for step in init {
            node = match (step, node) {
                (Step::Field(name), Value::Object(map)) => map
                    .entry(name.clone())
                    .or_insert_with(|| Value::Object(Map::new())),
                (Step::Index(i), Value::Array(items)) => {
                    let len = items.len();
                    index_of(*i, len)
                        .and_then(|i| items.get_mut(i))
                        .expect("can_assign checked the index")
                }
                _ => unreachable!("can_assign checked every step"),
            };
        }
        match (last, node) {
            (Step::Field(name), Value::Object(map)) => {
                map.insert(name.clone(), value);
            }
            (Step::Index(i), Value::Array(items)) => {
                let len = items.len();
                *index_of(*i, len)
                    .and_then(|i| items.get_mut(i))
                    .expect("can_assign checked the index") = value;
            }
            _ => unreachable!("can_assign checked every step"),
        }
        Ok(target)
    }

    fn can_assign(&self, target: &Value) -> bool {
        let mut node = Some(target);
        for step in &self.steps {
            match (step, node) {
                // Below a created object only fields can follow.
                (Step::Field(_), None) => {}
                (Step::Field(name), Some(Value::Object(map))) => node = map.get(name),
                (Step::Index(i), Some(Value::Array(items))) => {
                    match index_of(*i, items.len()).and_then(|i| items.get(i)) {
                        Some(v) => node = Some(v),
                        None => return false,
                    }
                }
                _ => return false,
            }
        }
        true
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.src)
    }
}

impl PartialEq for JsonPath {
    fn eq(&self, other: &Self) -> bool {
        self.src == other.src
    }
}

/// Compact JSON text, as AWS (Jackson) writes values in its messages and
/// `States.JsonToString`: Java's spelling of doubles (`1.0E20`).
pub(crate) fn compact(v: &Value) -> String {
    super::java_text::to_json(v)
}

fn java_class(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "java.lang.Boolean",
        Value::Number(n) if n.is_f64() => "java.lang.Double",
        Value::Number(_) => "java.lang.Integer",
        Value::String(_) => "java.lang.String",
        Value::Array(_) => "java.util.ArrayList",
        Value::Object(_) => "java.util.LinkedHashMap",
    }
}

fn steps_definite(steps: &[Step]) -> bool {
    steps.iter().enumerate().all(|(i, s)| match s {
        Step::Field(_) | Step::Index(_) => true,
        Step::Fields(_) => i + 1 == steps.len(),
        _ => false,
    })
}

/// Jayway index: negative counts from the end.
fn index_of(idx: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let i = if idx < 0 { len + idx } else { idx };
    if (0..len).contains(&i) {
        usize::try_from(i).ok()
    } else {
        None
    }
}

fn walk_reference<'v>(steps: &[Step], mut node: &'v Value) -> Option<&'v Value> {
    for step in steps {
        node = match (step, node) {
            (Step::Field(name), Value::Object(map)) => map.get(name)?,
            (Step::Index(i), Value::Array(items)) => items.get(index_of(*i, items.len())?)?,
            _ => return None,
        };
    }
    Some(node)
}

/// [`walk_reference`] by value: the node is moved out of `node`, which is
/// left as it was when there is no such node.
fn take_reference(steps: &[Step], mut node: &mut Value) -> Option<Value> {
    for step in steps {
        node = match (step, node) {
            (Step::Field(name), Value::Object(map)) => map.get_mut(name)?,
            (Step::Index(i), Value::Array(items)) => {
                let at = index_of(*i, items.len())?;
                items.get_mut(at)?
            }
            _ => return None,
        };
    }
    Some(std::mem::take(node))
}

fn select_steps<'v>(
    steps: &[Step],
    definite: bool,
    node: &'v Value,
    root: &'v Value,
) -> Option<Cow<'v, Value>> {
    let mut out = Vec::new();
    collect(steps, node, root, &mut out);
    if definite {
        out.into_iter().next()
    } else {
        Some(Cow::Owned(Value::Array(
            out.into_iter().map(Cow::into_owned).collect(),
        )))
    }
}

fn collect<'v>(steps: &[Step], node: &'v Value, root: &'v Value, out: &mut Vec<Cow<'v, Value>>) {
    match steps.split_first() {
        None => out.push(Cow::Borrowed(node)),
        Some((step, rest)) => apply(step, rest, node, root, out),
    }
}

/// Applies `step` at `node`, then `rest` to what it selects.
fn apply<'v>(
    step: &Step,
    rest: &[Step],
    node: &'v Value,
    root: &'v Value,
    out: &mut Vec<Cow<'v, Value>>,
) {
    match step {
        Step::Field(name) => {
            if let Some(v) = node.as_object().and_then(|m| m.get(name)) {
                collect(rest, v, root, out);
            }
        }
        Step::Fields(names) => {
            let Value::Object(map) = node else { return };
            if rest.is_empty() {
                let merged: Map<String, Value> = names
                    .iter()
                    .filter_map(|n| map.get(n).map(|v| (n.clone(), v.clone())))
                    .collect();
                out.push(Cow::Owned(Value::Object(merged)));
            } else {
                for v in names.iter().filter_map(|n| map.get(n)) {
                    collect(rest, v, root, out);
                }
            }
        }
        Step::Index(i) => {
            if let Value::Array(items) = node
                && let Some(v) = index_of(*i, items.len()).and_then(|i| items.get(i))
            {
                collect(rest, v, root, out);
            }
        }
        Step::Indexes(list) => {
            if let Value::Array(items) = node {
                for v in list
                    .iter()
                    .filter_map(|i| index_of(*i, items.len()).and_then(|i| items.get(i)))
                {
                    collect(rest, v, root, out);
                }
            }
        }
        Step::Slice(from, to) => {
            if let Value::Array(items) = node {
                let (a, b) = slice_bounds(*from, *to, items.len());
                for v in items.get(a..b).unwrap_or_default() {
                    collect(rest, v, root, out);
                }
            }
        }
        Step::Wildcard => match node {
            Value::Object(map) => map.values().for_each(|v| collect(rest, v, root, out)),
            Value::Array(items) => items.iter().for_each(|v| collect(rest, v, root, out)),
            _ => {}
        },
        Step::Filter(expr) => match node {
            Value::Array(items) => {
                for v in items.iter().filter(|v| test(expr, v, root)) {
                    collect(rest, v, root, out);
                }
            }
            Value::Object(_) if test(expr, node, root) => collect(rest, node, root, out),
            _ => {}
        },
        Step::Descend(inner) => descend(inner, rest, node, root, out),
    }
}

/// `..step rest`: applies `step rest` at `node` and at every node below it,
/// parents before children (Jayway's scan order).
fn descend<'v>(
    inner: &Step,
    rest: &[Step],
    node: &'v Value,
    root: &'v Value,
    out: &mut Vec<Cow<'v, Value>>,
) {
    match inner {
        // A filter scan tests each object once, not once as an array element
        // and once as a node.
        Step::Filter(expr) => {
            if node.is_object() && test(expr, node, root) {
                collect(rest, node, root, out);
            }
        }
        // `..*` lists every descendant depth first, each before its children.
        Step::Wildcard => {
            let children: Box<dyn Iterator<Item = &'v Value>> = match node {
                Value::Object(map) => Box::new(map.values()),
                Value::Array(items) => Box::new(items.iter()),
                _ => return,
            };
            for child in children {
                collect(rest, child, root, out);
                descend(inner, rest, child, root, out);
            }
            return;
        }
        _ => apply(inner, rest, node, root, out),
    }
    match node {
        Value::Object(map) => map
            .values()
            .for_each(|v| descend(inner, rest, v, root, out)),
        Value::Array(items) => items
            .iter()
            .for_each(|v| descend(inner, rest, v, root, out)),
        _ => {}
    }
}

/// Jayway's slice rules: negative bounds count from the end, then clamp.
fn slice_bounds(from: Option<i64>, to: Option<i64>, len: usize) -> (usize, usize) {
    let n = i64::try_from(len).unwrap_or(i64::MAX);
    let norm = |i: i64| if i < 0 { (n + i).max(0) } else { i.min(n) };
    let a = from.map_or(0, norm);
    let b = to.map_or(n, norm);
    let a = usize::try_from(a).unwrap_or(0);
    let b = usize::try_from(b).unwrap_or(0);
    (a, b.max(a))
}

fn test(expr: &Expr, current: &Value, root: &Value) -> bool {
    match expr {
        Expr::Or(a, b) => test(a, current, root) || test(b, current, root),
        Expr::And(a, b) => test(a, current, root) && test(b, current, root),
        Expr::Not(e) => !test(e, current, root),
        Expr::Exists(op) => match operand(op, current, root) {
            Some(Cow::Owned(Value::Array(a))) => !a.is_empty(),
            Some(_) => true,
            None => false,
        },
        Expr::Cmp(l, op, r) => {
            let l = operand(l, current, root);
            let r = operand(r, current, root);
            match op {
                CmpOp::Eq => loose_eq(l.as_deref(), r.as_deref()),
                CmpOp::Ne => !loose_eq(l.as_deref(), r.as_deref()),
                _ => match order(l.as_deref(), r.as_deref()) {
                    Some(o) => match op {
                        CmpOp::Lt => o == Ordering::Less,
                        CmpOp::Le => o != Ordering::Greater,
                        CmpOp::Gt => o == Ordering::Greater,
                        _ => o != Ordering::Less,
                    },
                    None => false,
                },
            }
        }
    }
}

fn operand<'v>(op: &'v Operand, current: &'v Value, root: &'v Value) -> Option<Cow<'v, Value>> {
    match op {
        Operand::Literal(v) => Some(Cow::Borrowed(v)),
        Operand::Path {
            current: is_current,
            steps,
            definite,
        } => {
            let start = if *is_current { current } else { root };
            select_steps(steps, *definite, start, root)
        }
    }
}

/// Jayway equality: numbers by value, a string against a number by its
/// numeric reading, everything else structurally; undefined equals nothing.
fn loose_eq(l: Option<&Value>, r: Option<&Value>) -> bool {
    match (l, r) {
        (Some(Value::Number(a)), Some(Value::Number(b))) => a.as_f64() == b.as_f64(),
        (Some(Value::Number(a)), Some(Value::String(s)))
        | (Some(Value::String(s)), Some(Value::Number(a))) => {
            s.trim().parse::<f64>().ok() == a.as_f64()
        }
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn order(l: Option<&Value>, r: Option<&Value>) -> Option<Ordering> {
    match (l?, r?) {
        (Value::Number(a), Value::Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Value::String(a), Value::String(b)) => Some(java_cmp(a, b)),
        _ => None,
    }
}

/// Java's `String.compareTo`: UTF-16 code-unit order.
pub(crate) fn java_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    /// Selects `path` from `doc`; `None` when a definite path misses.
    fn check(path: &str, doc: Value) -> Option<Value> {
        let p = JsonPath::parse(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        p.select(&doc).map(Cow::into_owned)
    }

    fn store() -> Value {
        json!({
            "book": [
                {"title": "a", "price": 8, "isbn": "1"},
                {"title": "b", "price": 12},
                {"title": "c", "price": 22.5, "isbn": "3"}
            ],
            "bike": {"price": 19},
            "a b": 1,
            "k'q": 2
        })
    }

    #[test]
    fn take_moves_the_node_out_and_misses_like_select() {
        let take = |path: &str, doc: Value| {
            JsonPath::parse(path)
                .unwrap_or_else(|e| panic!("{path}: {e}"))
                .take_or_invalid(doc)
        };
        assert_eq!(take("$.bike", store()), Ok(json!({"price": 19})));
        assert_eq!(take("$.book[-1].isbn", store()), Ok(json!("3")));
        assert_eq!(take("$", json!([1])), Ok(json!([1])));
        // Not a reference path: selected as `select` does.
        assert_eq!(take("$.book[*].price", store()), Ok(json!([8, 12, 22.5])));
        let missing = JsonPath::parse("$.bike.wheels").expect("parses");
        assert_eq!(
            missing.take_or_invalid(store()),
            missing.select_or_invalid(&store()).map(Cow::into_owned)
        );
        assert!(take("$.bike.price.x", store()).is_err());
    }

    #[test]
    fn definite_paths_borrow_values() {
        assert_eq!(check("$", json!(5)), Some(json!(5)));
        assert_eq!(check("$.bike.price", store()), Some(json!(19)));
        assert_eq!(check("$['a b']", store()), Some(json!(1)));
        assert_eq!(check("$['k\\'q']", store()), Some(json!(2)));
        assert_eq!(check("$.book[1].title", store()), Some(json!("b")));
        assert_eq!(check("$.book[-1].title", store()), Some(json!("c")));
        assert_eq!(check("$.book[3]", store()), None);
        assert_eq!(check("$.nope", store()), None);
        assert_eq!(check("$.bike.price.x", store()), None);
        assert_eq!(
            check("$.delivery-partner", json!({"delivery-partner": 1})),
            Some(json!(1))
        );
        assert_eq!(check("$['a\\\"b']", json!({"a\\\"b": 3})), Some(json!(3)));
        let doc = store();
        let p = JsonPath::parse("$.bike").expect("valid");
        assert!(matches!(p.select(&doc), Some(Cow::Borrowed(_))));
    }

    #[test]
    fn indefinite_paths_yield_arrays() {
        assert_eq!(
            check("$.book[*].title", store()),
            Some(json!(["a", "b", "c"]))
        );
        assert_eq!(check("$.bike.*", store()), Some(json!([19])));
        assert_eq!(check("$.book[0,2].price", store()), Some(json!([8, 22.5])));
        assert_eq!(check("$.book[1:].title", store()), Some(json!(["b", "c"])));
        assert_eq!(check("$.book[:1].title", store()), Some(json!(["a"])));
        assert_eq!(check("$.book[-2:].title", store()), Some(json!(["b", "c"])));
        assert_eq!(check("$.book[1:9].title", store()), Some(json!(["b", "c"])));
        assert_eq!(check("$.book[*].isbn", store()), Some(json!(["1", "3"])));
        assert_eq!(check("$..price", store()), Some(json!([8, 12, 22.5, 19])));
        assert_eq!(
            check("$..*", json!({"a": {"b": 1}, "c": [2]})),
            Some(json!([{"b": 1}, 1, [2], 2]))
        );
        assert_eq!(
            check("$..[1]", json!({"a": [0, [5, 6]]})),
            Some(json!([[5, 6], 6]))
        );
        assert_eq!(check("$.item.items[*]", json!({})), Some(json!([])));
        assert_eq!(check("$[*]", json!({})), Some(json!([])));
        assert_eq!(check("$.items[1:5].v", json!({})), Some(json!([])));
        assert_eq!(
            check("$.book[1]['title','price']", store()),
            Some(json!({"title": "b", "price": 12}))
        );
    }

    #[test]
    fn filters() {
        assert_eq!(
            check("$.book[?(@.price > 10)].title", store()),
            Some(json!(["b", "c"]))
        );
        assert_eq!(
            check("$.book[?(@.isbn)].title", store()),
            Some(json!(["a", "c"]))
        );
        assert_eq!(
            check("$.book[?(!@.isbn)].title", store()),
            Some(json!(["b"]))
        );
        assert_eq!(
            check("$.book[?(@.price >= 12 && @.title != 'c')].title", store()),
            Some(json!(["b"]))
        );
        assert_eq!(
            check(
                "$.book[?(@.title == 'a' || @.price == 22.5)].title",
                store()
            ),
            Some(json!(["a", "c"]))
        );
        assert_eq!(
            check("$.book[?(@.price < $.bike.price)].title", store()),
            Some(json!(["a", "b"]))
        );
        assert_eq!(
            check("$..[?(@.price == 19)]", store()),
            Some(json!([{"price": 19}]))
        );
    }

    #[test]
    fn roots_and_classification() {
        let p = JsonPath::parse("$$.Execution.Id").expect("valid");
        assert_eq!(p.root(), &Root::Context);
        let p = JsonPath::parse("$answer.x[0]").expect("valid");
        assert_eq!(p.root(), &Root::Variable("answer".into()));
        assert!(p.is_reference_path() && p.is_definite());
        let p = JsonPath::parse("$.a[*]").expect("valid");
        assert!(!p.is_reference_path() && !p.is_definite());
        assert!(
            !JsonPath::parse("$.a[-1]")
                .expect("valid")
                .is_reference_path()
        );
        assert_eq!(p.to_string(), "$.a[*]");
    }

    #[test]
    fn rejects_bad_syntax_with_position() {
        for (src, pos) in [
            ("a.b", 0),
            ("$.", 2),
            ("$.a b", 3),
            ("$.a[", 4),
            ("$['a", 2),
            ("$.a.length()", 10),
            ("$[1:2:3]", 2),
            ("$[x]", 2),
            ("$[?(@.a =~ /x/)]", 8),
        ] {
            let e = JsonPath::parse(src).expect_err(src);
            assert_eq!((e.expr.as_str(), e.position), (src, pos), "{e}");
        }
    }

    /// What Jayway's PathCompiler accepts beyond the textbook syntax, seen in
    /// definitions deployed on AWS: a '.' before a bracket (the token after a
    /// '.' is read afresh), trailing spaces (trimmed before compiling), a
    /// name straight after `]`, and a tab inside a dot name.
    #[test]
    fn accepts_what_jayway_accepts() {
        let doc = json!({"Items": [{"State": "ok", "n": 2}, {"State": "no", "n": 0}], "a\tb": 7});
        for (src, want) in [
            ("$.Items.[0].State", json!("ok")),
            ("$.Items.[1]['State']", json!("no")),
            ("$.Items.[?(@.n > 0)].State", json!(["ok"])),
            ("$.Items[0]State", json!("ok")),
            ("$.Items.*n", json!([2, 0])),
            ("$.Items[0].State  ", json!("ok")),
            ("$.a\tb", json!(7)),
        ] {
            let p = JsonPath::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
            let got = p.select(&doc).map(std::borrow::Cow::into_owned);
            assert_eq!(got, Some(want), "{src}");
            assert_eq!(p.as_str(), src, "the path keeps its text as written");
        }
        let p = JsonPath::parse("$.[0]").expect("valid");
        assert!(p.is_reference_path(), "$.[0] names one node");
        assert_eq!(
            p.select(&json!([5, 6])).map(std::borrow::Cow::into_owned),
            Some(json!(5))
        );
        assert!(JsonPath::parse("$.[?(@.n > 0)]").is_ok());
        for src in ["$..", "$.a.", "$.[", "$. a", "$.a b "] {
            assert!(JsonPath::parse(src).is_err(), "{src}");
        }
    }

    /// Every string of up to three characters from an alphabet of the
    /// syntax's special characters (multi-byte ones included).
    pub(crate) fn short_strings() -> Vec<String> {
        let alphabet: Vec<char> = "$.[]'*?()@a1:,\u{3000}é-\\".chars().collect();
        let mut all = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..3 {
            last = last
                .iter()
                .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
                .collect();
            all.extend(last.iter().cloned());
        }
        all
    }

    #[test]
    fn parse_never_panics() {
        let doc = json!({"a": [1, {"a": 2}], "1": "x"});
        for s in short_strings() {
            for src in [s.clone(), format!("$.a{s}"), format!("$[?(@.a{s})]")] {
                if let Ok(p) = JsonPath::parse(&src) {
                    let _ = p.select(&doc);
                }
            }
        }
    }

    #[test]
    fn eval_picks_the_root() {
        let input = json!({"a": 1});
        let ctx = super::super::LazyContext::ready(json!({"Execution": {"Id": "x"}}));
        let mut vars = Map::new();
        vars.insert("v".into(), json!({"b": [1, 2]}));
        let scope = Scope {
            input: &input,
            context: &ctx,
            variables: &vars,
        };
        let get = |p: &str| {
            JsonPath::parse(p)
                .expect("valid")
                .eval(&scope)
                .map(Cow::into_owned)
        };
        assert_eq!(get("$.a"), Some(json!(1)));
        assert_eq!(get("$$.Execution.Id"), Some(json!("x")));
        assert_eq!(get("$v.b[1]"), Some(json!(2)));
        assert_eq!(get("$w"), None);
    }

    #[test]
    fn result_path_assignment() {
        let set = |p: &str, t: Value, v: Value| JsonPath::parse(p).expect("valid").assign(t, v);
        assert_eq!(set("$", json!({"a": 1}), json!(2)), Ok(json!(2)));
        assert_eq!(
            set("$.r", json!({"a": 1}), json!(2)),
            Ok(json!({"a": 1, "r": 2}))
        );
        assert_eq!(set("$.a", json!({"a": 1}), json!(2)), Ok(json!({"a": 2})));
        assert_eq!(
            set("$.x.y.z", json!({}), json!(2)),
            Ok(json!({"x": {"y": {"z": 2}}}))
        );
        assert_eq!(
            set("$.l[1]", json!({"l": [0, 1]}), json!(9)),
            Ok(json!({"l": [0, 9]}))
        );
        assert_eq!(
            set("$.a.b", json!({"a": "s"}), json!(2)),
            Err("Unable to apply ReferencePath $.a.b to input {\"a\":\"s\"}".into())
        );
        assert!(set("$.r", json!("text"), json!(2)).is_err());
        assert!(set("$.l[5]", json!({"l": []}), json!(2)).is_err());
        assert!(set("$.n[0]", json!({}), json!(2)).is_err());
    }

    #[test]
    fn io_miss_messages() {
        let miss = |p: &str, doc: Value| {
            JsonPath::parse(p)
                .expect("valid")
                .select_or_invalid(&doc)
                .map(Cow::into_owned)
        };
        assert_eq!(
            miss("$.NoSuchOutputPath", json!({})),
            Err(
                "Invalid path '$.NoSuchOutputPath' : No results for path: $['NoSuchOutputPath']"
                    .into()
            )
        );
        assert_eq!(
            miss("$.no.such.result.path", json!({})),
            Err("Invalid path '$.no.such.result.path' : Missing property in path $['no']".into())
        );
        assert_eq!(miss("$.a", json!({"a": null})), Ok(Value::Null));
    }

    #[test]
    fn java_string_order() {
        assert_eq!(java_cmp("\u{FFFF}", "\u{10000}"), Ordering::Greater);
        assert_eq!(java_cmp("a", "b"), Ordering::Less);
    }
}
