//! The 18 intrinsic functions of JSONPath mode (`States.Format(...)` and
//! friends): parsing the call syntax (quoted strings with `\'`, `\{`, `\}`,
//! `\\` escapes, numbers, booleans, null, paths, nested calls) and evaluating
//! with AWS's argument rules. Failures on argument values are
//! `States.IntrinsicFailure`; a path argument that matches nothing is the
//! same `States.Runtime` miss as a plain `.$` path.

use crate::query::java_random::JavaRandom;
use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD as BASE64};
use serde_json::{Map, Value};

use super::jsonpath::compact;
use super::{JsonPath, QueryError, Scope};
use crate::errors::{AslError, names};

mod parse;
use parse::Parser;

/// AWS allows at most this many calls (nested included) in one field.
const MAX_CALLS: usize = 10;
/// Base64Encode/Decode and Hash refuse longer inputs.
const MAX_STRING_CHARS: usize = 10_000;
/// Java's basic decoder: padding accepted but not required.
const BASE64_DECODER: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
/// ArrayRange refuses to build more items than this.
const MAX_RANGE_ITEMS: i128 = 1000;

/// A compiled intrinsic function call.
#[derive(Debug, Clone)]
pub struct Intrinsic {
    src: String,
    call: Call,
}

#[derive(Debug, Clone)]
struct Call {
    func: Func,
    args: Vec<Arg>,
}

#[derive(Debug, Clone)]
enum Arg {
    Literal(Value),
    /// A quoted string with the positions of its unescaped `{}` pairs, which
    /// only `States.Format` cares about.
    Template(Vec<Piece>),
    Path(JsonPath),
    Call(Box<Call>),
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Hole,
}

macro_rules! funcs {
    ($($variant:ident = $name:literal, $min:literal ..= $max:expr;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Func { $($variant),* }

        impl Func {
            fn from_name(name: &str) -> Option<Func> {
                match name { $($name => Some(Func::$variant),)* _ => None }
            }
            fn name(self) -> &'static str {
                match self { $(Func::$variant => $name),* }
            }
            fn arity(self) -> (usize, usize) {
                match self { $(Func::$variant => ($min, $max)),* }
            }
        }
    };
}

funcs! {
    Format = "States.Format", 1..=usize::MAX;
    StringToJson = "States.StringToJson", 1..=1;
    JsonToString = "States.JsonToString", 1..=1;
    Array = "States.Array", 0..=usize::MAX;
    ArrayPartition = "States.ArrayPartition", 2..=2;
    ArrayContains = "States.ArrayContains", 2..=2;
    ArrayRange = "States.ArrayRange", 3..=3;
    ArrayGetItem = "States.ArrayGetItem", 2..=2;
    ArrayLength = "States.ArrayLength", 1..=1;
    ArrayUnique = "States.ArrayUnique", 1..=1;
    Base64Encode = "States.Base64Encode", 1..=1;
    Base64Decode = "States.Base64Decode", 1..=1;
    Hash = "States.Hash", 2..=2;
    JsonMerge = "States.JsonMerge", 3..=3;
    MathRandom = "States.MathRandom", 2..=3;
    MathAdd = "States.MathAdd", 2..=2;
    StringSplit = "States.StringSplit", 2..=2;
    Uuid = "States.UUID", 0..=0;
}

/// Why an evaluation failed: a path argument matched nothing (the caller
/// words it for its field), or an ASL error.
#[derive(Debug)]
pub(crate) enum EvalError<'p> {
    PathMiss(&'p JsonPath),
    Asl(AslError),
}

impl From<AslError> for EvalError<'_> {
    fn from(e: AslError) -> Self {
        EvalError::Asl(e)
    }
}

/// The `States.Runtime` cause AWS gives when a path of `field` misses.
pub(crate) fn path_miss(path: &JsonPath, field: &str, input: &Value) -> AslError {
    AslError::runtime(format!(
        "The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{}'",
        compact(input)
    ))
}

impl Intrinsic {
    /// True when `src` is meant as a call (`States.` prefix), so a caller can
    /// tell a malformed call from a malformed path.
    pub fn looks_like_call(src: &str) -> bool {
        src.trim_start().starts_with("States.")
    }

    pub fn parse(src: &str) -> Result<Intrinsic, QueryError> {
        let mut p = Parser { src, pos: 0 };
        p.skip_ws();
        let call = p.call()?;
        p.skip_ws();
        if p.pos < src.len() {
            return Err(p.err("unexpected text after the call"));
        }
        if count_calls(&call) > MAX_CALLS {
            return Err(QueryError::new(
                src,
                0,
                format!("at most {MAX_CALLS} intrinsic function calls are allowed in one field"),
            ));
        }
        Ok(Intrinsic {
            src: src.to_owned(),
            call,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.src
    }

    /// Evaluates the call; a path miss is worded for the field `field`
    /// (e.g. `name.$`, `CausePath`).
    pub fn eval_field(&self, scope: &Scope<'_>, field: &str) -> Result<Value, AslError> {
        self.eval_inner(scope).map_err(|e| match e {
            EvalError::PathMiss(p) => path_miss(p, field, scope.input),
            EvalError::Asl(e) => e,
        })
    }

    /// Evaluates the call; a path miss names the call itself as the field.
    pub fn eval(&self, scope: &Scope<'_>) -> Result<Value, AslError> {
        self.eval_field(scope, &self.src)
    }

    pub(crate) fn eval_inner<'p>(&'p self, scope: &Scope<'_>) -> Result<Value, EvalError<'p>> {
        eval_call(&self.call, scope)
    }

    /// All paths the call reads (for validation and variable analysis).
    pub fn paths(&self) -> Vec<&JsonPath> {
        fn walk<'a>(c: &'a Call, out: &mut Vec<&'a JsonPath>) {
            for a in &c.args {
                match a {
                    Arg::Path(p) => out.push(p),
                    Arg::Call(c) => walk(c, out),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.call, &mut out);
        out
    }
}

impl fmt::Display for Intrinsic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.src)
    }
}

fn count_calls(c: &Call) -> usize {
    1 + c
        .args
        .iter()
        .map(|a| match a {
            Arg::Call(c) => count_calls(c),
            _ => 0,
        })
        .sum::<usize>()
}

fn fail(func: Func, msg: impl fmt::Display) -> AslError {
    AslError::new(
        names::INTRINSIC_FAILURE,
        format!("Invalid arguments in {}: {msg}", func.name()),
    )
}

fn eval_arg<'x, 'c: 'x, 'v: 'x>(
    arg: &'c Arg,
    scope: &Scope<'v>,
) -> Result<Cow<'x, Value>, EvalError<'c>> {
    match arg {
        Arg::Literal(v) => Ok(Cow::Borrowed(v)),
        Arg::Template(pieces) => Ok(Cow::Owned(Value::String(join_pieces(pieces)))),
        Arg::Path(p) => p.eval(scope).ok_or(EvalError::PathMiss(p)),
        Arg::Call(c) => eval_call(c, scope).map(Cow::Owned),
    }
}

fn join_pieces(pieces: &[Piece]) -> String {
    pieces
        .iter()
        .map(|p| match p {
            Piece::Text(t) => t.as_str(),
            Piece::Hole => "{}",
        })
        .collect()
}

fn eval_call<'a>(call: &'a Call, scope: &Scope<'_>) -> Result<Value, EvalError<'a>> {
    let f = call.func;
    if f == Func::Format {
        return format(call, scope);
    }
    let args = call
        .args
        .iter()
        .map(|a| eval_arg(a, scope))
        .collect::<Result<Vec<_>, _>>()?;
    let arg = |i: usize| -> &Value { &args[i] };
    let v = match f {
        Func::Format => unreachable!("handled above"),
        Func::StringToJson => string_to_json(f, string(f, arg(0))?)?,
        Func::JsonToString => Value::String(compact(arg(0))),
        Func::Array => Value::Array(args.into_iter().map(Cow::into_owned).collect()),
        Func::ArrayPartition => {
            let items = array(f, arg(0))?;
            let size = integer(f, arg(1))?;
            if size <= 0 {
                return Err(fail(f, format!("the chunk size {size} must be positive")).into());
            }
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            Value::Array(
                items
                    .chunks(size)
                    .map(|c| Value::Array(c.to_vec()))
                    .collect(),
            )
        }
        Func::ArrayContains => {
            Value::Bool(array(f, arg(0))?.iter().any(|v| java_equals(v, arg(1))))
        }
        Func::ArrayRange => {
            let (start, end, step) = (
                integer(f, arg(0))?,
                integer(f, arg(1))?,
                integer(f, arg(2))?,
            );
            if step == 0 {
                return Err(fail(f, "the step must not be 0").into());
            }
            // i128: the span of two i64 bounds cannot overflow.
            let (start, end, step) = (i128::from(start), i128::from(end), i128::from(step));
            let count = if (step > 0 && end >= start) || (step < 0 && end <= start) {
                (end - start) / step + 1
            } else {
                0
            };
            if count > MAX_RANGE_ITEMS {
                return Err(fail(
                    f,
                    format!("the range has {count} items, more than the {MAX_RANGE_ITEMS} allowed"),
                )
                .into());
            }
            let items: Option<Vec<Value>> = (0..count)
                .map(|i| i64::try_from(start + i * step).ok().map(Value::from))
                .collect();
            Value::Array(items.expect("items lie between two i64 bounds"))
        }
        Func::ArrayGetItem => {
            let items = array(f, arg(0))?;
            let index = integer(f, arg(1))?;
            usize::try_from(index)
                .ok()
                .and_then(|i| items.get(i))
                .cloned()
                .ok_or_else(|| {
                    fail(
                        f,
                        format!(
                            "index {index} is out of bounds for an array of {} items",
                            items.len()
                        ),
                    )
                })?
        }
        Func::ArrayLength => Value::from(array(f, arg(0))?.len()),
        Func::ArrayUnique => {
            let mut out: Vec<Value> = Vec::new();
            for v in array(f, arg(0))? {
                if !out.iter().any(|seen| java_equals(seen, v)) {
                    out.push(v.clone());
                }
            }
            Value::Array(out)
        }
        Func::Base64Encode => {
            let s = limited(f, arg(0))?;
            Value::String(BASE64.encode(s))
        }
        Func::Base64Decode => {
            let s = limited(f, arg(0))?;
            let shown = || compact(&bounded(arg(0)));
            let bytes = BASE64_DECODER
                .decode(s)
                .map_err(|_| fail(f, format!("{} is not valid base64", shown())))?;
            Value::String(
                String::from_utf8(bytes)
                    .map_err(|_| fail(f, format!("{} does not decode to UTF-8 text", shown())))?,
            )
        }
        Func::Hash => {
            let data = limited(f, arg(0))?;
            let alg = string(f, arg(1))?;
            Value::String(hash(alg, data.as_bytes()).ok_or_else(|| {
                fail(
                    f,
                    format!(
                        "unsupported algorithm {}; use MD5, SHA-1, SHA-256, SHA-384 or SHA-512",
                        compact(&bounded(arg(1)))
                    ),
                )
            })?)
        }
        Func::JsonMerge => {
            let (Value::Object(a), Value::Object(b)) = (arg(0), arg(1)) else {
                return Err(fail(f, "the first two arguments must be JSON objects").into());
            };
            if arg(2) != &Value::Bool(false) {
                return Err(fail(
                    f,
                    "deep merge is not supported; the third argument must be false",
                )
                .into());
            }
            let mut merged: Map<String, Value> = a.clone();
            merged.extend(b.iter().map(|(k, v)| (k.clone(), v.clone())));
            Value::Object(merged)
        }
        Func::MathRandom => {
            let (lo, hi) = (integer(f, arg(0))?, integer(f, arg(1))?);
            if lo >= hi {
                return Err(
                    fail(f, format!("the start {lo} must be less than the end {hi}")).into(),
                );
            }
            let seed = match args.get(2) {
                Some(s) => integer(f, s)?,
                None => random_seed(),
            };
            // Java's `new Random(seed).nextInt(bound)`, start inclusive, end exclusive.
            let bound = i32::try_from(i128::from(hi) - i128::from(lo))
                .map_err(|_| fail(f, format!("the range {lo}..{hi} is too large")))?;
            Value::from(lo + i64::from(JavaRandom::new(seed).next_int(bound)))
        }
        Func::MathAdd => {
            let sum = integer(f, arg(0))?.checked_add(integer(f, arg(1))?);
            Value::from(sum.ok_or_else(|| fail(f, "the sum is out of range"))?)
        }
        Func::StringSplit => {
            let s = string(f, arg(0))?;
            let delims = string(f, arg(1))?;
            Value::Array(
                s.split(|c| delims.contains(c))
                    .filter(|t| !t.is_empty())
                    .map(|t| Value::String(t.to_owned()))
                    .collect(),
            )
        }
        Func::Uuid => Value::String(uuid::Uuid::new_v4().to_string()),
    };
    Ok(v)
}

/// `States.StringToJson` as Jackson's `ObjectMapper.readTree` reads a
/// string: an empty or blank string is `null` (AWS records both), leading
/// blanks are skipped, and whatever follows the first complete value after
/// a blank is ignored (Jackson does not fail on trailing tokens by default).
fn string_to_json(f: Func, s: &str) -> Result<Value, AslError> {
    let text = s.trim_start_matches(JACKSON_BLANK);
    if text.is_empty() {
        return Ok(Value::Null);
    }
    let text = integer_minus_zero_as_zero(text);
    let mut values = serde_json::Deserializer::from_str(&text).into_iter::<Value>();
    match values.next() {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(fail(
            f,
            format!(
                "{} is not valid JSON ({})",
                compact(&bounded(&Value::String(s.to_owned()))),
                e
            ),
        )),
        None => Ok(Value::Null),
    }
}

/// Jackson reads the integer `-0` as the integer 0 (AWS records `"-0"` →
/// `0`); serde_json reads it as the double -0.0. Rewrites each `-0` number
/// token with no fraction or exponent (outside strings) to `0`.
fn integer_minus_zero_as_zero(text: &str) -> Cow<'_, str> {
    if !text.contains("-0") {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut i, mut copied, mut in_string) = (0, 0, false);
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            b'-' if !in_string
                && bytes.get(i + 1) == Some(&b'0')
                && !bytes
                    .get(i + 2)
                    .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E')) =>
            {
                out.push_str(&text[copied..i]);
                copied = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// The blanks Jackson skips between tokens.
const JACKSON_BLANK: [char; 4] = [' ', '\t', '\n', '\r'];

fn format<'a>(call: &'a Call, scope: &Scope<'_>) -> Result<Value, EvalError<'a>> {
    let f = Func::Format;
    let owned;
    let pieces: &[Piece] = match &call.args[0] {
        Arg::Template(p) => p,
        other => {
            let v = eval_arg(other, scope)?;
            let s = string(f, &v)?;
            owned = split_holes(s);
            &owned
        }
    };
    let holes = pieces.iter().filter(|p| **p == Piece::Hole).count();
    let values = &call.args[1..];
    if holes != values.len() {
        return Err(fail(
            f,
            format!(
                "the template has {holes} placeholders but {} values were given",
                values.len()
            ),
        )
        .into());
    }
    let mut out = String::new();
    let mut next = values.iter();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Hole => {
                let arg = next.next().expect("placeholders were counted");
                let v = eval_arg(arg, scope)?;
                render_java(&v, true, &mut out);
            }
        }
    }
    Ok(Value::String(out))
}

/// A template read from the input: `{}` pairs are placeholders.
fn split_holes(s: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("{}") {
        pieces.push(Piece::Text(rest[..i].to_owned()));
        pieces.push(Piece::Hole);
        rest = &rest[i + 2..];
    }
    pieces.push(Piece::Text(rest.to_owned()));
    pieces
}

/// How AWS (Java) prints a value into a Format string: strings bare, objects
/// as `{a=1, b=[x, y]}`, arrays as `[1, 2]`.
fn render_java(v: &Value, _top: bool, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_java(item, false, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                render_java(item, false, out);
            }
            out.push('}');
        }
        other => out.push_str(&compact(other)),
    }
}

fn string(f: Func, v: &Value) -> Result<&str, AslError> {
    v.as_str().ok_or_else(|| {
        fail(
            f,
            format!("expected a string but got {}", compact(&bounded(v))),
        )
    })
}

fn limited(f: Func, v: &Value) -> Result<&str, AslError> {
    let s = string(f, v)?;
    // Java's `String.length()`: UTF-16 code units.
    if s.encode_utf16().count() > MAX_STRING_CHARS {
        return Err(fail(
            f,
            format!("the string is longer than {MAX_STRING_CHARS} characters"),
        ));
    }
    Ok(s)
}

fn array(f: Func, v: &Value) -> Result<&Vec<Value>, AslError> {
    v.as_array().ok_or_else(|| {
        fail(
            f,
            format!("expected an array but got {}", compact(&bounded(v))),
        )
    })
}

/// An integer argument. A non-integral number is rounded as Java's
/// `Math.round` does (half up, towards positive infinity: 2.5 → 3, -2.5 → -2,
/// -0.5 → 0), which is what AWS records for `States.MathAdd`. A string, even
/// a numeric one, is refused.
fn integer(f: Func, v: &Value) -> Result<i64, AslError> {
    let n = v.as_number().ok_or_else(|| {
        fail(
            f,
            format!("expected an integer but got {}", compact(&bounded(v))),
        )
    })?;
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    n.as_f64()
        .and_then(java_round)
        .ok_or_else(|| fail(f, format!("{n} is out of the integer range")))
}

/// Java's `Math.round(double)`: floor(x + 0.5) without the rounding error
/// of the addition; `None` outside the range an `i64` holds exactly.
pub(crate) fn java_round(x: f64) -> Option<i64> {
    if !x.is_finite() || x.abs() >= 9.0e18 {
        return None;
    }
    let floor = x.floor();
    let rounded = if x - floor >= 0.5 { floor + 1.0 } else { floor };
    // In range by the check above, and integral: the cast is exact.
    Some(rounded as i64)
}

/// A value as quoted in a cause: long strings and documents are cut, so a
/// huge input cannot make a huge error.
fn bounded(v: &Value) -> Cow<'_, Value> {
    const MAX: usize = 200;
    match v {
        Value::String(s) if s.chars().count() > MAX => Cow::Owned(Value::String(
            s.chars().take(MAX).collect::<String>() + "...",
        )),
        Value::Array(_) | Value::Object(_) if compact(v).len() > MAX => Cow::Owned(Value::String(
            format!("{}...", compact(v).chars().take(MAX).collect::<String>()),
        )),
        _ => Cow::Borrowed(v),
    }
}

/// Equality of Jackson's `JsonNode`s, which `ArrayContains` and
/// `ArrayUnique` use on AWS: an integer never equals a double (`1` vs
/// `1.0`), doubles compare as `Double.compare` does (`0.0` vs `-0.0`
/// differ), objects ignore key order.
fn java_equals(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            _ if x.is_f64() != y.is_f64() => false,
            (Some(p), Some(q)) if x.is_f64() => p.to_bits() == q.to_bits(),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| java_equals(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| java_equals(v, w)))
        }
        _ => a == b,
    }
}

fn hash(alg: &str, data: &[u8]) -> Option<String> {
    use sha2::Digest;
    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
    Some(match alg {
        "MD5" => hex(&md5::Md5::digest(data)),
        "SHA-1" => hex(&sha1::Sha1::digest(data)),
        "SHA-256" => hex(&sha2::Sha256::digest(data)),
        "SHA-384" => hex(&sha2::Sha384::digest(data)),
        "SHA-512" => hex(&sha2::Sha512::digest(data)),
        _ => return None,
    })
}

fn random_seed() -> i64 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[..8]);
    i64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::LazyContext;
    use serde_json::json;

    /// Evaluates `src` with `input` as `$`, `{"Name": "sm"}` as `$$` and
    /// `{"v": [1, 2]}` as variables.
    fn check(src: &str, input: Value) -> Result<Value, AslError> {
        let f = Intrinsic::parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        let ctx = LazyContext::ready(json!({"Name": "my-state-machine"}));
        let mut vars = Map::new();
        vars.insert("v".into(), json!([1, 2]));
        let scope = Scope {
            input: &input,
            context: &ctx,
            variables: &vars,
        };
        f.eval_field(&scope, "r.$")
    }

    fn ok(src: &str, input: Value) -> Value {
        check(src, input).unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    fn failure(src: &str, input: Value) -> String {
        let e = check(src, input).expect_err(src);
        assert_eq!(e.error, names::INTRINSIC_FAILURE, "{e}");
        e.cause
    }

    #[test]
    fn format_renders_like_java() {
        assert_eq!(
            ok("States.Format('a {} b {}', $.x, 2)", json!({"x": "s"})),
            json!("a s b 2")
        );
        assert_eq!(
            ok("States.Format('{}', $.x)", json!({"x": null})),
            json!("null")
        );
        assert_eq!(
            ok("States.Format('{}', $.x)", json!({"x": 1.1})),
            json!("1.1")
        );
        assert_eq!(
            ok(
                "States.Format('{}', $.x)",
                json!({"x": {"Arg1": 1, "Arg2": [], "s": ["a", true]}})
            ),
            json!("{Arg1=1, Arg2=[], s=[a, true]}")
        );
        assert_eq!(
            ok(r"States.Format('\{\} {} it\'s \\', 1)", json!({})),
            json!(r"{} 1 it's \")
        );
        assert_eq!(
            ok("States.Format($.t, 'x')", json!({"t": "<{}>"})),
            json!("<x>")
        );
        assert!(failure("States.Format($.t, 'x')", json!({"t": "none"})).contains("placeholders"));
        assert!(Intrinsic::parse("States.Format('{} {}', 1)").is_err());
        assert!(Intrinsic::parse("States.Format(1)").is_err());
    }

    #[test]
    fn json_and_arrays() {
        assert_eq!(
            ok("States.StringToJson($.s)", json!({"s": "{\"a\": [1]}"})),
            json!({"a": [1]})
        );
        assert!(failure("States.StringToJson('{')", json!({})).contains("not valid JSON"));
        assert_eq!(
            ok("States.JsonToString($)", json!({"a": [1, "x"]})),
            json!("{\"a\":[1,\"x\"]}")
        );
        assert_eq!(ok("States.Array()", json!({})), json!([]));
        assert_eq!(
            ok("States.Array('a', 1, true, null, $v)", json!({})),
            json!(["a", 1, true, null, [1, 2]])
        );
        assert_eq!(
            ok("States.ArrayPartition($, 2)", json!([1, 2, 3])),
            json!([[1, 2], [3]])
        );
        assert!(failure("States.ArrayPartition($, 0)", json!([1])).contains("positive"));
        assert_eq!(
            ok("States.ArrayContains($, $[0])", json!([[1], 2])),
            json!(true)
        );
        assert_eq!(
            ok("States.ArrayContains($, 3)", json!([[1], 2])),
            json!(false)
        );
        assert_eq!(
            ok("States.ArrayRange(1, 9, 2)", json!({})),
            json!([1, 3, 5, 7, 9])
        );
        assert_eq!(
            ok("States.ArrayRange(0, 10, 3)", json!({})),
            json!([0, 3, 6, 9])
        );
        assert_eq!(
            ok("States.ArrayRange(5, 1, -2)", json!({})),
            json!([5, 3, 1])
        );
        assert!(failure("States.ArrayRange(0, 1000, 1)", json!({})).contains("1000"));
        assert_eq!(ok("States.ArrayGetItem($, 1)", json!([4, 5])), json!(5));
        assert!(failure("States.ArrayGetItem($, 2)", json!([4, 5])).contains("out of bounds"));
        assert_eq!(ok("States.ArrayLength($v)", json!({})), json!(2));
        assert_eq!(
            ok("States.ArrayUnique($)", json!([1, 2, 1, 3, 2])),
            json!([1, 2, 3])
        );
        assert!(
            failure("States.ArrayLength($.a)", json!({"a": "x"})).contains("expected an array")
        );
    }

    #[test]
    fn strings_hashes_math() {
        assert_eq!(
            ok("States.Base64Encode('Hello World')", json!({})),
            json!("SGVsbG8gV29ybGQ=")
        );
        assert_eq!(
            ok("States.Base64Decode('SGVsbG8gV29ybGQ=')", json!({})),
            json!("Hello World")
        );
        assert_eq!(ok("States.Base64Decode('SGk')", json!({})), json!("Hi"));
        assert!(failure("States.Base64Decode('%%')", json!({})).contains("base64"));
        assert_eq!(
            ok("States.Hash('abc', 'SHA-256')", json!({})),
            json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(
            ok("States.Hash('abc', 'MD5')", json!({})),
            json!("900150983cd24fb0d6963f7d28e17f72")
        );
        assert_eq!(
            ok("States.Hash('abc', 'SHA-1')", json!({})),
            json!("a9993e364706816aba3e25717850c26c9cd0d89d")
        );
        assert!(failure("States.Hash('abc', 'SHA-3')", json!({})).contains("unsupported"));
        assert_eq!(
            ok(
                "States.JsonMerge($.a, $.b, false)",
                json!({"a": {"x": {"p": 1}, "y": 1}, "b": {"x": {"q": 2}}})
            ),
            json!({"x": {"q": 2}, "y": 1})
        );
        assert!(
            failure(
                "States.JsonMerge($.a, $.a, $.t)",
                json!({"a": {}, "t": true})
            )
            .contains("deep merge")
        );
        assert_eq!(
            ok("States.MathAdd(States.MathAdd(1, -3), 1.5)", json!({})),
            json!(0)
        );
        assert_eq!(
            ok("States.StringSplit('a.b+c,,d', '.+,')", json!({})),
            json!(["a", "b", "c", "d"])
        );
        assert_eq!(
            ok(
                "States.ArrayGetItem(States.StringSplit($$.Name, '-'), 2)",
                json!({})
            ),
            json!("machine")
        );
        let r = ok("States.MathRandom(1, 10)", json!({}));
        assert!((1..10).contains(&r.as_i64().expect("integer")));
        assert_eq!(
            ok("States.MathRandom(0, 100, 7)", json!({})),
            ok("States.MathRandom(0, 100, 7)", json!({}))
        );
        let u = ok("States.UUID()", json!({}));
        assert_eq!(u.as_str().map(str::len), Some(36));
    }

    /// AWS rounds non-integral arguments as Java's `Math.round` does; the
    /// MathAdd results are the ones AWS recorded (LocalStack's snapshot
    /// `test_math_add`).
    #[test]
    fn integer_arguments_round_like_java() {
        for (a, b, sum) in [
            (1.49, 1.5, 3),
            (1.5, 1.51, 4),
            (-1.49, -1.5, -2),
            (-1.5, -1.51, -3),
            (0.5, 0.0, 1),
            (2.5, 0.0, 3),
            (-0.5, 0.5, 1),
            (-0.5, 0.0, 0),
            (-2.5, 0.0, -2),
            (-3.5, 0.0, -3),
            (-0.0, 0.0, 0),
        ] {
            let input = json!({"a": a, "b": b});
            assert_eq!(
                ok("States.MathAdd($.a, $.b)", input),
                json!(sum),
                "{a} + {b}"
            );
        }
        assert_eq!(java_round(0.499_999_999_999_999_94), Some(0));
        assert_eq!(java_round(-0.499_999_999_999_999_94), Some(0));
        assert_eq!(
            ok("States.ArrayRange($.a, 4.5, 1.5)", json!({"a": 0.5})),
            json!([1, 3, 5])
        );
        assert_eq!(ok("States.ArrayGetItem($, 0.5)", json!([4, 5])), json!(5));
        assert_eq!(
            ok("States.ArrayPartition($, 1.5)", json!([1, 2, 3])),
            json!([[1, 2], [3]])
        );
        assert!(
            failure("States.MathAdd($.a, 1)", json!({"a": 1e20}))
                .contains("out of the integer range")
        );
        assert!(
            failure("States.MathAdd($.a, 1)", json!({"a": "5"})).contains("expected an integer")
        );
        assert!(failure("States.ArrayPartition($, 0.4)", json!([1])).contains("positive"));
    }

    /// Jackson's `readTree`: blank is null (AWS records "" and " "), leading
    /// blanks skipped, text after the first value and a blank ignored.
    #[test]
    fn string_to_json_reads_like_jackson() {
        for (s, want) in [
            ("", json!(null)),
            (" ", json!(null)),
            ("\n\t ", json!(null)),
            ("null", json!(null)),
            ("-0", json!(0)),
            ("1.1", json!(1.1)),
            (" [1, 2] ", json!([1, 2])),
            ("{} trailing", json!({})),
            ("1 2", json!(1)),
            ("\"HelloWorld\"", json!("HelloWorld")),
        ] {
            assert_eq!(
                ok("States.StringToJson($.s)", json!({"s": s})),
                want,
                "{s:?}"
            );
        }
        for s in ["{", "1x", "nul", "\u{feff}{}", "'a'"] {
            let cause = failure("States.StringToJson($.s)", json!({"s": s}));
            assert!(cause.contains("is not valid JSON"), "{s:?}: {cause}");
        }
        let long = "x".repeat(5000);
        let cause = failure("States.StringToJson($.s)", json!({"s": long}));
        assert!(
            cause.len() < 600,
            "the cause quotes a bounded excerpt: {cause}"
        );
    }

    /// Jackson's node equality: 1 is not 1.0, 0.0 is not -0.0.
    #[test]
    fn arrays_compare_items_as_jackson_does() {
        let input = json!({"l": [0, -0.0, 0.0, 1, 1.0, {"a": 1, "b": 2}, {"b": 2, "a": 1}]});
        assert_eq!(
            ok("States.ArrayUnique($.l)", input.clone()),
            json!([0, -0.0, 0.0, 1, 1.0, {"a": 1, "b": 2}])
        );
        assert_eq!(
            ok("States.ArrayContains($.l, $.l[4])", input.clone()),
            json!(true)
        );
        assert_eq!(
            ok("States.ArrayContains($.l, 2)", input.clone()),
            json!(false)
        );
        assert_eq!(
            ok(
                "States.ArrayContains($.x, $.y)",
                json!({"x": [0.0], "y": -0.0})
            ),
            json!(false)
        );
    }

    /// Doubles are written as Java writes them (Jackson / `Double.toString`).
    #[test]
    fn numbers_are_written_the_java_way() {
        let input = json!({"big": 1e20, "small": 1.5e-7, "n": 3, "f": 100.0});
        assert_eq!(
            ok("States.JsonToString($)", input.clone()),
            json!(r#"{"big":1.0E20,"small":1.5E-7,"n":3,"f":100.0}"#)
        );
        assert_eq!(
            ok("States.Format('{} {} {}', $.big, $.n, $.f)", input),
            json!("1.0E20 3 100.0")
        );
    }

    #[test]
    fn java_random_matches_the_jdk() {
        // Values printed by OpenJDK for the same seeds and bounds.
        let mut r = JavaRandom::new(42);
        assert_eq!(r.next_int(100), 30);
        assert_eq!(r.next_int(10), 3);
        let mut r = JavaRandom::new(-7);
        assert_eq!(r.next_int(16), 4);
        assert_eq!(r.next_int(1000), 297);
    }

    #[test]
    fn path_arguments_and_misses() {
        assert_eq!(
            ok(
                "States.Array($['a,b'], $.l[1])",
                json!({"a,b": 1, "l": [0, 2]})
            ),
            json!([1, 2])
        );
        // Jayway's '.' before a bracket, inside arguments too.
        assert_eq!(
            ok("States.Array($.l.[1], $.[?(@ == 0)])", json!({"l": [0, 2]})),
            json!([2, []])
        );
        let e = check("States.Array($.nope)", json!({"a": 1})).expect_err("miss");
        assert_eq!(e.error, names::RUNTIME);
        assert_eq!(
            e.cause,
            "The JSONPath '$.nope' specified for the field 'r.$' could not be found in the input '{\"a\":1}'"
        );
    }

    #[test]
    fn parse_never_panics() {
        for s in crate::query::jsonpath::tests::short_strings() {
            for src in [
                format!("States.Array({s}"),
                format!("States.Format('{s}"),
                format!("States.Format({s})"),
            ] {
                let _ = Intrinsic::parse(&src);
            }
        }
    }

    #[test]
    fn rejects_bad_calls() {
        for src in [
            "States.Nope()",
            "States.UUID(1)",
            "States.MathAdd(1)",
            "States.Array(",
            "States.Array('x)",
            "States.Array(x)",
            "States.MathAdd(1, '-1')",
            "States.JsonToString('x')",
            "States.JsonMerge($.a, $.b, true)",
            "States.Array() x",
            "States.Array($.a b)",
        ] {
            assert!(Intrinsic::parse(src).is_err(), "{src}");
        }
        let deep = "States.Array(".repeat(11) + &")".repeat(11);
        assert!(Intrinsic::parse(&deep).is_err());
        let ten = "States.Array(".repeat(10) + &")".repeat(10);
        assert!(Intrinsic::parse(&ten).is_ok());
    }
}
