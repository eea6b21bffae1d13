//! JSONata mode (checklist 1.13, 1.14): field values whose strings may be
//! `{% expression %}`, compiled once ([`JsonataValue::parse`]) and evaluated
//! many times against a [`JsonataEnv`] (`$states` and the workflow
//! variables), with AWS's added functions and AWS's error texts.
//!
//! The language itself is jlens-core's. This module owns what AWS puts around
//! it: the `{% %}` template walk, the `$states` object, the
//! `States.QueryEvaluationError` causes, the typed checks of scalar fields
//! (`Items`, `Condition`, `Seconds`, `Timestamp`, …, in [`fields`]) and the
//! syntax check the validator uses ([`check_expression`]). Not owned: which
//! field is evaluated when, the state's output and variable bookkeeping, and
//! the cause prefix naming the state (the engine's).
//!
//! Cost: an expression gets only the parts of `$states` and of the variables
//! that it can read (jlens' `Expression::reads`), so the context object is
//! built only for expressions that read `$states.context`, and an
//! expression reading `$states.input.id` copies one field of the input, not
//! all of it.

use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use jlens_core::reads::Read;
use jlens_core::{Expression, Options};
use serde_json::{Map, Value};

use super::{LazyContext, Scope, TemplateProblem, pointer_token};
use crate::errors::{AslError, names};

pub mod fields;
mod functions;
mod top_level;

/// Wall-clock limit of one evaluation; past it the evaluation fails with
/// jlens' `D1012`, a `States.QueryEvaluationError` like any other. AWS
/// publishes no limit; this one only stops runaway expressions
/// (`$f := function() { $f() }; $f()`).
pub const EVAL_TIMEOUT: Duration = Duration::from_secs(10);

/// Limits of one evaluation.
#[derive(Debug, Clone, Copy)]
pub struct EvalLimits {
    /// Wall-clock limit (`D1012` past it). Default [`EVAL_TIMEOUT`].
    pub timeout: Duration,
    /// Evaluation depth limit (`D1011` past it); `None` keeps jlens' default
    /// (50,000 levels, on a stack that grows as needed).
    pub max_depth: Option<usize>,
}

impl Default for EvalLimits {
    fn default() -> Self {
        EvalLimits {
            timeout: EVAL_TIMEOUT,
            max_depth: None,
        }
    }
}

impl EvalLimits {
    fn options(&self) -> Options {
        let options = Options::new().timeout(self.timeout);
        match self.max_depth {
            Some(depth) => options.max_depth(depth),
            None => options,
        }
    }
}

/// What an expression sees. `$states` is `{input, context, result?,
/// errorOutput?}`; each workflow variable `name` is `$name`.
#[derive(Clone, Copy)]
pub struct JsonataEnv<'a> {
    /// `$states.input`: the state's raw input.
    pub input: &'a Value,
    /// `$states.context`, built only if an expression reads it.
    pub context: &'a LazyContext<'a>,
    /// The workflow variables visible to the state, as of state entry.
    pub variables: &'a Map<String, Value>,
    /// `$states.result`: only in `Output`/`Assign` after a Task, Parallel or
    /// Map produced one.
    pub result: Option<&'a Value>,
    /// `$states.errorOutput`: only in a Catcher's `Output`/`Assign`.
    pub error_output: Option<&'a Value>,
}

impl<'a> JsonataEnv<'a> {
    pub fn new(
        input: &'a Value,
        context: &'a LazyContext<'a>,
        variables: &'a Map<String, Value>,
    ) -> Self {
        JsonataEnv {
            input,
            context,
            variables,
            result: None,
            error_output: None,
        }
    }

    /// The same environment with `$states.result`.
    pub fn with_result(self, result: &'a Value) -> Self {
        JsonataEnv {
            result: Some(result),
            ..self
        }
    }

    /// The same environment with `$states.errorOutput`.
    pub fn with_error_output(self, error_output: &'a Value) -> Self {
        JsonataEnv {
            error_output: Some(error_output),
            ..self
        }
    }
}

impl<'a> From<&Scope<'a>> for JsonataEnv<'a> {
    fn from(scope: &Scope<'a>) -> Self {
        JsonataEnv::new(scope.input, scope.context, scope.variables)
    }
}

/// A failed evaluation: the ASL error (always
/// `States.QueryEvaluationError`, the cause without the engine's
/// "An error occurred while executing the state …" prefix) and where it
/// happened, for the `EvaluationFailed` event's `location` (`Output/result`,
/// `Items`, …; `None` where AWS gives none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonataError {
    pub error: AslError,
    pub location: Option<String>,
}

impl JsonataError {
    pub(crate) fn new(cause: String, location: Option<String>) -> Self {
        JsonataError {
            error: AslError::new(names::QUERY_EVALUATION_ERROR, cause),
            location,
        }
    }
}

impl From<JsonataError> for AslError {
    fn from(e: JsonataError) -> AslError {
        e.error
    }
}

impl fmt::Display for JsonataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for JsonataError {}

/// A JSONata error: its code (`T1006`; empty for AWS's own functions) and
/// message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationError {
    pub code: String,
    pub message: String,
}

impl fmt::Display for EvaluationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.code.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

impl From<jlens_core::Error> for EvaluationError {
    fn from(e: jlens_core::Error) -> Self {
        EvaluationError {
            code: e.code().to_owned(),
            message: e.message(),
        }
    }
}

/// The expression inside a `{% ... %}` string, if the string is one: it
/// starts with `{%` and ends with `%}`, nothing around them (checklist
/// JSONATA-02). Any other string is a literal.
pub fn expression_text(s: &str) -> Option<&str> {
    if s.len() >= 4 && s.starts_with("{%") && s.ends_with("%}") {
        s.get(2..s.len() - 2)
    } else {
        None
    }
}

/// Checks the syntax of an expression (the text inside `{% %}`); the error
/// is the parser's message, as AWS reports it after
/// `INVALID_JSONATA_EXPRESSION: `.
pub fn check_expression(src: &str) -> Result<(), String> {
    Expression::compile(src).map(drop).map_err(|e| e.message())
}

/// What a syntactically valid expression reads from its top level (field
/// names, `$` for the context item), each of which AWS refuses at create
/// time as `UNSUPPORTED_JSONATA_EXPRESSION` (see `top_level`). Empty when
/// the expression does not compile: its syntax error is reported instead.
pub fn top_level_references(src: &str) -> Vec<String> {
    Expression::compile(src)
        .map(|e| top_level::references(&e.ast().root))
        .unwrap_or_default()
}

/// One compiled expression, with what it reads of `$states` and of the
/// workflow variables.
#[derive(Debug, Clone)]
pub struct JsonataExpr {
    /// The text inside `{% %}`, trimmed: how AWS quotes it in causes.
    source: String,
    compiled: Expression,
    /// `$eval` can read any binding: bind everything whole.
    reads_everything: bool,
    /// What it reads of `$states`.
    states: Option<Read>,
    /// The other bindings it reads (workflow variables, if defined).
    variables: Vec<(String, Read)>,
    /// What it reads of its input (`$`), which ASL fields never provide.
    input: Option<Read>,
    /// Set when the expression is a plain path such as `$states.input.a.b`
    /// or `$var.x`: it is then resolved without the evaluator.
    plain_path: Option<PlainPath>,
    /// Set when the expression is a plain path, an arithmetic operator and
    /// a number (`$states.input.n + 1`, `$count * 2`): the commonest
    /// computed field, done without the evaluator when both sides are numbers.
    arithmetic: Option<(PlainPath, char, f64)>,
}

/// `<plain path> <op> <number>`, with `op` one of `+ - * /`.
fn parse_arithmetic(src: &str) -> Option<(PlainPath, char, f64)> {
    let src = src.trim();
    let (at, op) = src
        .char_indices()
        .find(|(_, c)| matches!(c, '+' | '-' | '*' | '/'))?;
    let path = PlainPath::parse(&src[..at])?;
    let literal = src[at + 1..].trim();
    let number: f64 = literal.parse().ok()?;
    let plain_number = !literal.is_empty()
        && literal.chars().all(|c| c.is_ascii_digit() || c == '.')
        && number.is_finite();
    plain_number.then_some((path, op, number))
}

/// JSONata's result for a number: integral values print without a fraction.
fn number_value(n: f64) -> Option<Value> {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Some(Value::from(n as i64))
    } else {
        serde_json::Number::from_f64(n).map(Value::Number)
    }
}

/// A path of plain field names from `$states.<part>` or a variable. JSONata
/// maps a path over arrays; these only walk objects and fall back to the
/// evaluator as soon as they meet anything else.
#[derive(Debug, Clone)]
enum PlainPath {
    States(String, Vec<String>),
    Variable(String, Vec<String>),
}

impl PlainPath {
    fn parse(src: &str) -> Option<PlainPath> {
        let rest = src.trim().strip_prefix('$')?;
        let mut parts = rest.split('.');
        let head = parts.next()?;
        let steps: Vec<String> = parts.map(str::to_owned).collect();
        let plain = |s: &str| {
            !s.is_empty()
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !s.starts_with(|c: char| c.is_ascii_digit())
        };
        if !plain(head) || !steps.iter().all(|s| plain(s)) {
            return None;
        }
        if head == "states" {
            let (part, steps) = steps.split_first()?;
            matches!(part.as_str(), "input" | "result" | "errorOutput")
                .then(|| PlainPath::States(part.clone(), steps.to_vec()))
        } else if shadows_function(head) {
            None
        } else {
            Some(PlainPath::Variable(head.to_owned(), steps))
        }
    }

    /// `Some(result)` when the walk stayed on objects; `None` to fall back.
    fn resolve(&self, env: &JsonataEnv<'_>) -> Option<Option<Value>> {
        let (root, steps) = match self {
            PlainPath::States(part, steps) => {
                let root = match part.as_str() {
                    "input" => Some(env.input),
                    "result" => env.result,
                    _ => env.error_output,
                };
                (root, steps)
            }
            PlainPath::Variable(name, steps) => (env.variables.get(name), steps),
        };
        let Some(mut node) = root else {
            return Some(None);
        };
        for step in steps {
            match node {
                Value::Object(map) => match map.get(step) {
                    Some(next) => node = next,
                    None => return Some(None),
                },
                _ => return None,
            }
        }
        // A sequence result (an array) has JSONata-specific flattening rules
        // at the end of a path only when the path mapped over arrays, which
        // this walk never does: the value is returned as it is.
        Some(Some(node.clone()))
    }
}

impl JsonataExpr {
    /// Compiles the text inside `{% %}`.
    pub fn compile(src: &str) -> Result<JsonataExpr, EvaluationError> {
        let compiled = Expression::compile(src)?;
        let reads = compiled.reads_with(functions::aws_functions());
        let states = reads.binding("states").cloned();
        let variables = reads
            .bindings()
            .iter()
            // AWS's functions show up as bindings read; a variable of the
            // same name is bound in `evaluate_in`.
            .filter(|(name, _)| {
                name.as_str() != "states" && !functions::NAMES.contains(&name.as_str())
            })
            .map(|(name, read)| (name.clone(), read.clone()))
            .collect();
        Ok(JsonataExpr {
            source: src.trim().to_owned(),
            plain_path: PlainPath::parse(src),
            arithmetic: parse_arithmetic(src),
            compiled,
            reads_everything: reads.every_binding(),
            states,
            variables,
            input: reads.input().cloned(),
        })
    }

    /// The expression as AWS quotes it (trimmed).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The workflow variables the expression may read (`$name`, `states`
    /// excluded), e.g. for `variableReferences`. Under `$eval` any variable
    /// may be read, which this cannot list.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.variables.iter().map(|(name, _)| name.as_str())
    }

    /// The fields the expression reads from its top level (`phone` in
    /// `{% phone %}`), or `$` when it reads the context whole (`$`, `$$`,
    /// `$string()`): AWS refuses both at create time (checklist JSONATA-10),
    /// since an ASL field gives an expression no input. A read of no field
    /// at all (`[1, 2].($ + 1)`) is not one.
    pub fn top_level_reads(&self) -> Vec<String> {
        match &self.input {
            None => Vec::new(),
            Some(Read::Whole) => vec!["$".to_owned()],
            Some(Read::Fields(fields)) => fields.keys().cloned().collect(),
        }
    }

    /// Whether the expression reads `$states.context` (so the context object
    /// has to be built).
    pub fn reads_context(&self) -> bool {
        self.reads_everything
            || self
                .states
                .as_ref()
                .is_some_and(|r| r.fields().is_none_or(|f| f.contains_key("context")))
    }

    /// Evaluates against `input` (JSONata's `$`; `None` is undefined) with
    /// every entry of `variables` bound as `$name`, and AWS's functions.
    /// `Ok(None)` is an undefined result. For the JSONata language as such
    /// (the reference suite); ASL fields go through [`JsonataValue`].
    pub fn evaluate(
        &self,
        input: Option<&Value>,
        variables: &Map<String, Value>,
        limits: &EvalLimits,
    ) -> Result<Option<Value>, EvaluationError> {
        let mut bindings = functions::aws_functions().clone();
        for (name, value) in variables {
            bindings = bindings.var(name.clone(), value.clone());
        }
        Ok(self
            .compiled
            .evaluate_with(input, &bindings, &limits.options())?)
    }

    /// Evaluates for an ASL field: no input (AWS refuses top-level paths),
    /// `$states` and the variables cut to what the expression reads.
    fn evaluate_in(&self, env: &JsonataEnv<'_>) -> Result<Option<Value>, EvaluationError> {
        if let Some(resolved) = self.plain_path.as_ref().and_then(|p| p.resolve(env)) {
            return Ok(resolved);
        }
        if let Some((path, op, right)) = &self.arithmetic {
            // Anything but two numbers (undefined, a string, an overflow) is
            // left to the evaluator, which knows JSONata's errors for it.
            let left = path.resolve(env).flatten().and_then(|v| v.as_f64());
            let result = left.map(|left| match op {
                '+' => left + right,
                '-' => left - right,
                '*' => left * right,
                _ => left / right,
            });
            if let Some(value) = result.filter(|r| r.is_finite()).and_then(number_value) {
                return Ok(Some(value));
            }
        }
        static WHOLE: Read = Read::Whole;
        let mut bindings = functions::aws_functions().clone();
        // AWS offers no `$eval` (measured: calling it is T1006, "Attempted to
        // invoke a non-function"); a null binding shadows jlens' builtin.
        bindings = bindings.var("eval", Value::Null);
        // A variable named like a function shadows it, as in jsonata-js; the
        // analysis counts such a name as the function, so bind it whole.
        for (name, value) in env.variables {
            if shadows_function(name) && self.source.contains(&format!("${name}")) {
                bindings = bindings.var(name.clone(), value.clone());
            }
        }
        if self.reads_everything {
            for (name, value) in env.variables {
                bindings = bindings.var(name.clone(), value.clone());
            }
        } else {
            for (name, read) in &self.variables {
                if let Some(value) = env.variables.get(name) {
                    bindings = bindings.var(name.clone(), cut(read, value));
                }
            }
        }
        let states = if self.reads_everything {
            Some(&WHOLE)
        } else {
            self.states.as_ref()
        };
        if let Some(read) = states {
            bindings = bindings.var("states", states_value(read, env));
        }
        Ok(self
            .compiled
            .evaluate_with(None, &bindings, &EvalLimits::default().options())?)
    }

    /// Evaluates for the field at `location`, turning undefined and errors
    /// into AWS's causes.
    fn eval_field(&self, location: &str, env: &JsonataEnv<'_>) -> Result<Value, JsonataError> {
        match self.evaluate_in(env) {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(JsonataError::new(
                format!(
                    "The JSONata expression '{}' specified for the field '{location}' returned \
                     nothing (undefined).",
                    self.source
                ),
                Some(location.to_owned()),
            )),
            // AWS ends its sentence before a coded message (`. T1006: ...`)
            // and runs on into a bare one (`: Expression evaluation ...`).
            Err(e) => Err(JsonataError::new(
                format!(
                    "The JSONata expression '{}' specified for the field '{location}' threw an \
                     error during evaluation{} {e}",
                    self.source,
                    if e.code.is_empty() { ":" } else { "." }
                ),
                Some(location.to_owned()),
            )),
        }
    }
}

/// Whether a variable of this name hides a function of the same name.
fn shadows_function(name: &str) -> bool {
    static BUILTINS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    functions::NAMES.contains(&name)
        || BUILTINS
            .get_or_init(|| {
                jlens_core::function_catalog()
                    .into_iter()
                    .map(|f| f.name)
                    .collect()
            })
            .contains(name)
}

fn cut(read: &Read, value: &Value) -> Value {
    if read.is_whole() {
        value.clone()
    } else {
        read.cut(value)
    }
}

/// `$states`, holding only what `read` asks for.
fn states_value(read: &Read, env: &JsonataEnv<'_>) -> Value {
    static WHOLE: Read = Read::Whole;
    let wanted = |name: &str| match read.fields() {
        None => Some(&WHOLE),
        Some(fields) => fields.get(name),
    };
    let mut states = Map::new();
    if let Some(r) = wanted("input") {
        states.insert("input".to_owned(), cut(r, env.input));
    }
    if let Some(r) = wanted("context") {
        states.insert("context".to_owned(), cut(r, env.context.get()));
    }
    if let (Some(r), Some(v)) = (wanted("result"), env.result) {
        states.insert("result".to_owned(), cut(r, v));
    }
    if let (Some(r), Some(v)) = (wanted("errorOutput"), env.error_output) {
        states.insert("errorOutput".to_owned(), cut(r, v));
    }
    Value::Object(states)
}

/// A field value of a JSONata state: literals, `{% %}` expressions, and
/// objects and arrays of them at any depth (keys stay literal).
#[derive(Debug, Clone)]
pub struct JsonataValue {
    node: Node,
}

#[derive(Debug, Clone)]
enum Node {
    Static(Value),
    Expr(Box<JsonataExpr>),
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
}

impl JsonataValue {
    /// Compiles a field value. Every expression that does not parse is
    /// reported, with its JSON pointer inside `v` (`""` for `v` itself) and
    /// the parser's message.
    pub fn parse(v: &Value) -> Result<JsonataValue, Vec<TemplateProblem>> {
        let mut problems = Vec::new();
        let node = compile(v, &mut String::new(), &mut problems);
        if problems.is_empty() {
            Ok(JsonataValue { node })
        } else {
            Err(problems)
        }
    }

    /// The value when it holds no expression at all.
    pub fn as_static(&self) -> Option<&Value> {
        match &self.node {
            Node::Static(v) => Some(v),
            _ => None,
        }
    }

    /// The expression when the whole value is one `{% %}` string.
    pub fn as_expression(&self) -> Option<&JsonataExpr> {
        match &self.node {
            Node::Expr(e) => Some(e),
            _ => None,
        }
    }

    /// Every expression in the value.
    pub fn expressions(&self) -> Vec<&JsonataExpr> {
        fn walk<'a>(n: &'a Node, out: &mut Vec<&'a JsonataExpr>) {
            match n {
                Node::Static(_) => {}
                Node::Expr(e) => out.push(e),
                Node::Object(entries) => entries.iter().for_each(|(_, n)| walk(n, out)),
                Node::Array(items) => items.iter().for_each(|n| walk(n, out)),
            }
        }
        let mut out = Vec::new();
        walk(&self.node, &mut out);
        out
    }

    /// Whether any expression reads `$states.context`.
    pub fn reads_context(&self) -> bool {
        self.expressions().iter().any(|e| e.reads_context())
    }

    /// Builds the value for the field `field` (`Output`, `Arguments`,
    /// `Assign`, `Items`, …). An expression that is undefined or throws
    /// fails with AWS's cause, naming the field and the path inside it
    /// (`Output/result`, `Assign/x`, `Items/1`).
    pub fn eval(&self, field: &str, env: &JsonataEnv<'_>) -> Result<Value, JsonataError> {
        let mut location = field.to_owned();
        eval_node(&self.node, &mut location, env)
    }
}

fn compile(v: &Value, at: &mut String, problems: &mut Vec<TemplateProblem>) -> Node {
    let mut child = |at: &mut String, token: &str, v: &Value| {
        let len = at.len();
        at.push('/');
        at.push_str(token);
        let node = compile(v, at, problems);
        at.truncate(len);
        node
    };
    match v {
        Value::String(s) => match expression_text(s) {
            Some(src) => match JsonataExpr::compile(src) {
                Ok(e) => Node::Expr(Box::new(e)),
                Err(e) => {
                    problems.push(TemplateProblem::new(at.clone(), e.message));
                    Node::Static(Value::Null)
                }
            },
            None => Node::Static(v.clone()),
        },
        Value::Object(map) => {
            let entries: Vec<(String, Node)> = map
                .iter()
                .map(|(k, item)| (k.clone(), child(at, &pointer_token(k), item)))
                .collect();
            if entries.iter().all(|(_, n)| matches!(n, Node::Static(_))) {
                Node::Static(v.clone())
            } else {
                Node::Object(entries)
            }
        }
        Value::Array(items) => {
            let nodes: Vec<Node> = items
                .iter()
                .enumerate()
                .map(|(i, item)| child(at, &i.to_string(), item))
                .collect();
            if nodes.iter().all(|n| matches!(n, Node::Static(_))) {
                Node::Static(v.clone())
            } else {
                Node::Array(nodes)
            }
        }
        _ => Node::Static(v.clone()),
    }
}

fn eval_node(
    node: &Node,
    location: &mut String,
    env: &JsonataEnv<'_>,
) -> Result<Value, JsonataError> {
    let child = |location: &mut String, step: &str, node: &Node| {
        let len = location.len();
        location.push('/');
        location.push_str(step);
        let v = eval_node(node, location, env);
        location.truncate(len);
        v
    };
    match node {
        Node::Static(v) => Ok(v.clone()),
        Node::Expr(e) => e.eval_field(location, env),
        Node::Object(entries) => {
            let mut out = Map::with_capacity(entries.len());
            for (key, node) in entries {
                out.insert(key.clone(), child(location, key, node)?);
            }
            Ok(Value::Object(out))
        }
        Node::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, node) in items.iter().enumerate() {
                out.push(child(location, &i.to_string(), node)?);
            }
            Ok(Value::Array(out))
        }
    }
}

#[cfg(test)]
mod tests;
