//! The functions AWS adds to JSONata (checklist JSONATA-07): `$partition`,
//! `$range`, `$hash`, `$random` (with an optional seed), `$uuid` and
//! `$parse`, bound once as jlens host functions.
//!
//! Semantics follow the intrinsics they replace (`States.ArrayPartition`,
//! `States.ArrayRange`, `States.Hash`, `States.MathRandom`, `States.UUID`,
//! `States.StringToJson`) and the AWS conformance cases. Not owned here: the
//! built-in JSONata library (jlens) and `$eval`, which AWS does not offer
//! but which is left as jlens provides it.

use crate::query::java_random::JavaRandom;
use std::sync::OnceLock;

use jlens_core::{Bindings, Error, HostFunction};
use serde_json::Value;

/// `$range` refuses to build more items than `States.ArrayRange` does.
const MAX_RANGE_ITEMS: i128 = 1000;

/// One AWS function: the arguments as the signature checked them.
type Implementation = fn(&[Option<Value>]) -> Result<Option<Value>, Error>;

/// The AWS functions as jlens bindings, built once. Cloning `Bindings` that
/// hold only functions shares them (an `Arc`), so each evaluation starts from
/// a clone of this.
pub(super) fn aws_functions() -> &'static Bindings {
    static FUNCTIONS: OnceLock<Bindings> = OnceLock::new();
    FUNCTIONS.get_or_init(|| {
        let define = |signature: &str, f: Implementation| {
            HostFunction::with_signature(signature, move |args, _| f(args))
                .expect("the AWS function signatures are valid")
                .without_input()
        };
        Bindings::new()
            .function("partition", define("<an:a>", partition))
            .function("range", define("<nnn:a>", range))
            .function("hash", define("<ss:s>", hash))
            .function("random", define("<n?:n>", random))
            .function("uuid", define("<:s>", uuid))
            .function("parse", define("<s:j>", parse))
    })
}

/// The names of the AWS functions, which a workflow variable of the same
/// name shadows (as jsonata-js bindings do).
pub(super) const NAMES: [&str; 6] = ["partition", "range", "hash", "random", "uuid", "parse"];

/// A failure of one of these functions. They have no JSONata error code, so
/// the message names the function.
fn fail(message: String) -> Error {
    Error::new("").with("message", message)
}

/// An integral argument; `what` names it in the error.
fn integer(function: &str, what: &str, v: Option<&Value>) -> Result<i64, Error> {
    let n = v.and_then(Value::as_f64).unwrap_or(f64::NAN);
    if n.fract() != 0.0 || !n.is_finite() || n.abs() >= 9.0e15 {
        let shown = v.map_or_else(|| "undefined".to_owned(), Value::to_string);
        return Err(fail(format!(
            "${function}: the {what} must be an integer, but was {shown}"
        )));
    }
    Ok(n as i64)
}

/// `$partition(array, size)`: consecutive chunks of `size` items, the last
/// one possibly shorter.
fn partition(args: &[Option<Value>]) -> Result<Option<Value>, Error> {
    let Some(items) = args[0].as_ref() else {
        return Ok(None);
    };
    let size = integer("partition", "chunk size", args[1].as_ref())?;
    if size <= 0 {
        return Err(fail(format!(
            "$partition: the chunk size must be positive, but was {size}"
        )));
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    let items = match items {
        Value::Array(items) => items.as_slice(),
        // The `a` signature wraps a single value; keep it that way.
        one => std::slice::from_ref(one),
    };
    Ok(Some(Value::Array(
        items
            .chunks(size)
            .map(|c| Value::Array(c.to_vec()))
            .collect(),
    )))
}

/// `$range(start, end, step)`: `start`, `start + step`, … up to `end`
/// inclusive. The result is a JSONata sequence, as AWS returns it: one item
/// stands alone (`$range(1, 9, 9)` is `1`) and none is undefined.
fn range(args: &[Option<Value>]) -> Result<Option<Value>, Error> {
    if args.iter().take(3).any(Option::is_none) {
        return Ok(None);
    }
    let start = i128::from(integer("range", "start", args[0].as_ref())?);
    let end = i128::from(integer("range", "end", args[1].as_ref())?);
    let step = i128::from(integer("range", "step", args[2].as_ref())?);
    if step == 0 {
        return Err(fail("$range: the step must not be 0".to_owned()));
    }
    let count = if (step > 0 && end >= start) || (step < 0 && end <= start) {
        (end - start) / step + 1
    } else {
        0
    };
    if count > MAX_RANGE_ITEMS {
        return Err(fail(format!(
            "$range: the range has {count} items, more than the {MAX_RANGE_ITEMS} allowed"
        )));
    }
    let mut items: Vec<Value> = (0..count)
        .map(|i| {
            let n = i64::try_from(start + i * step).expect("items lie between two i64 bounds");
            Value::from(n)
        })
        .collect();
    Ok(match items.len() {
        0 => None,
        1 => items.pop(),
        _ => Some(Value::Array(items)),
    })
}

/// `$hash(data, algorithm)`: the lowercase hex digest of the UTF-8 text.
fn hash(args: &[Option<Value>]) -> Result<Option<Value>, Error> {
    use sha2::Digest;
    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
    let (Some(Value::String(data)), Some(Value::String(algorithm))) = (&args[0], &args[1]) else {
        return Ok(None);
    };
    let data = data.as_bytes();
    let digest = match algorithm.as_str() {
        "MD5" => hex(&md5::Md5::digest(data)),
        "SHA-1" => hex(&sha1::Sha1::digest(data)),
        "SHA-256" => hex(&sha2::Sha256::digest(data)),
        "SHA-384" => hex(&sha2::Sha384::digest(data)),
        "SHA-512" => hex(&sha2::Sha512::digest(data)),
        other => {
            return Err(fail(format!(
                "$hash: unsupported algorithm '{other}'; use MD5, SHA-1, SHA-256, SHA-384 or SHA-512"
            )));
        }
    };
    Ok(Some(Value::String(digest)))
}

/// `$random()` / `$random(seed)`: a number in [0, 1). A seed makes it
/// reproducible (Java's `new Random(seed).nextDouble()`, the generator
/// `States.MathRandom` uses).
fn random(args: &[Option<Value>]) -> Result<Option<Value>, Error> {
    let seed = match &args[0] {
        Some(_) => integer("random", "seed", args[0].as_ref())?,
        None => {
            let bytes = uuid::Uuid::new_v4().into_bytes();
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[..8]);
            i64::from_le_bytes(b)
        }
    };
    Ok(Some(Value::from(JavaRandom::new(seed).next_double())))
}

/// `$uuid()`: a random (version 4) UUID.
fn uuid(_: &[Option<Value>]) -> Result<Option<Value>, Error> {
    Ok(Some(Value::String(uuid::Uuid::new_v4().to_string())))
}

/// `$parse(text)`: the JSON value the text holds.
fn parse(args: &[Option<Value>]) -> Result<Option<Value>, Error> {
    let Some(Value::String(text)) = &args[0] else {
        return Ok(None);
    };
    serde_json::from_str(text).map(Some).map_err(|e| {
        fail(format!(
            "$parse: the string {} is not valid JSON: {e}",
            Value::String(text.clone())
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_random_matches_java() {
        // `new java.util.Random(42).nextDouble()` in Java.
        assert_eq!(JavaRandom::new(42).next_double(), 0.7275636800328681);
        assert_eq!(JavaRandom::new(0).next_double(), 0.730967787376657);
    }
}
