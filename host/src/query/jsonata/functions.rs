//! The functions AWS adds to JSONata (checklist JSONATA-07): `$partition`,
//! `$range`, `$hash`, `$random` (with an optional seed), `$uuid` and
//! `$parse`, bound once as jlens host functions.
//!
//! Semantics follow the intrinsics they replace (`States.ArrayPartition`,
//! `States.ArrayRange`, `States.Hash`, `States.MathRandom`, `States.UUID`,
//! `States.StringToJson`) and the AWS conformance cases. Not owned here: the
//! built-in JSONata library (jlens). `$eval`, which AWS does not offer, is
//! shadowed by a null binding where ASL fields are evaluated.

use crate::query::java_random::JavaRandom;
use std::sync::OnceLock;

use jlens_core::{Bindings, Error, HostFunction};
use serde_json::Value;

/// AWS bounds what one evaluation may hold: `$range` past this many items
/// fails on AWS's memory limit (AWS accepts `[1..873782]` and refuses one
/// item more; there is no 1000-item cap as on `States.ArrayRange`).
const MAX_RANGE_ITEMS: i128 = 873_782;
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
            .function("partition", define("<xn?:a>", partition))
            .function("range", define("<nnn?:a>", range))
            .function("hash", define("<ss?:s>", hash))
            .function("random", define("<n?:n>", random))
            .function("uuid", define("<:s>", uuid))
            .function("parse", define("<s:j>", parse))
    })
}

/// The names of the AWS functions, which a workflow variable of the same
/// name shadows (as jsonata-js bindings do).
pub(super) const NAMES: [&str; 6] = ["partition", "range", "hash", "random", "uuid", "parse"];

/// A failure of one of these functions, in AWS's words: a JSONata-style
/// code (`D3137` for a bad value, as AWS's `$error`-like failures carry)
/// and the message. The texts are AWS's as measured against the service
/// (published with Floci's emulator, floci-io/floci PR #2676).
fn fail(code: &str, message: String) -> Error {
    Error::new(code).with("message", message)
}

/// JSONata's signature mismatch (`T0410`) for argument `index` of `function`.
fn signature(function: &str, index: usize) -> Error {
    Error::new("T0410")
        .with("index", index)
        .with("token", function)
}

/// A numeric argument truncated towards zero, as AWS does (`$range(-1.7,
/// 2, 1)` is `[-1, 0, 1, 2]`); anything else is a signature mismatch.
fn truncated(function: &str, index: usize, v: Option<&Value>) -> Result<i64, Error> {
    match v.and_then(Value::as_f64) {
        // `as` saturates at the i64 bounds, like Java's cast to long.
        Some(n) if n.is_finite() => Ok(n.trunc() as i64),
        _ => Err(signature(function, index)),
    }
}

/// `$partition(array, size)`: consecutive chunks of `size` items, the last
/// one possibly shorter. As AWS: no array, an empty one or a size that
/// truncates to 0 is undefined; no size is the array as one chunk; a
/// negative size fails.
fn partition(args: &[Option<Value>]) -> Result<Option<Value>, Error> {
    let Some(items) = args[0].as_ref() else {
        return Ok(None);
    };
    // AWS refuses anything but an array (JSONata's `a` would wrap it).
    let Value::Array(items) = items else {
        return Err(Error::new("T0412")
            .with("index", 1)
            .with("token", "partition"));
    };
    if items.is_empty() {
        return Ok(None);
    }
    let Some(size) = args.get(1).and_then(Option::as_ref) else {
        return Ok(Some(Value::Array(vec![Value::Array(items.to_vec())])));
    };
    let size = truncated("partition", 2, Some(size))?;
    if size < 0 {
        return Err(fail(
            "D3137",
            "Second argument must be zero or greater".to_owned(),
        ));
    }
    if size == 0 {
        return Ok(None);
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    Ok(Some(Value::Array(
        items
            .chunks(size)
            .map(|c| Value::Array(c.to_vec()))
            .collect(),
    )))
}

/// `$range(start, end, step)`: `start`, `start + step`, … up to `end`
/// inclusive, arguments truncated towards zero. The result is a JSONata
/// sequence, as AWS returns it: one item stands alone (`$range(1, 9, 9)` is
/// `1`); no step, a zero step or one pointing away from `end` is undefined.
fn range(args: &[Option<Value>]) -> Result<Option<Value>, Error> {
    let start = i128::from(truncated("range", 1, args[0].as_ref())?);
    let end = i128::from(truncated("range", 2, args[1].as_ref())?);
    let Some(step) = args.get(2).and_then(Option::as_ref) else {
        return Ok(None);
    };
    let step = i128::from(truncated("range", 3, Some(step))?);
    if step == 0 || (step > 0 && start > end) || (step < 0 && start < end) {
        return Ok(None);
    }
    let count = (end - start) / step + 1;
    if count > MAX_RANGE_ITEMS {
        return Err(fail(
            "",
            "Expression evaluation memory limit exceeded: Check for excessive memory usage"
                .to_owned(),
        ));
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

/// `$hash(data, algorithm)`: the lowercase hex digest of the UTF-8 text. As
/// AWS: no algorithm is undefined, a wrong type a signature mismatch, an
/// unknown name a `D3137`.
fn hash(args: &[Option<Value>]) -> Result<Option<Value>, Error> {
    use sha2::Digest;
    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
    let Some(Value::String(data)) = &args[0] else {
        return Err(signature("hash", 1));
    };
    let algorithm = match args.get(1).and_then(Option::as_ref) {
        None => return Ok(None),
        Some(Value::String(a)) => a,
        Some(_) => return Err(signature("hash", 2)),
    };
    let data = data.as_bytes();
    let digest = match algorithm.as_str() {
        "MD5" => hex(&md5::Md5::digest(data)),
        "SHA-1" => hex(&sha1::Sha1::digest(data)),
        "SHA-256" => hex(&sha2::Sha256::digest(data)),
        "SHA-384" => hex(&sha2::Sha384::digest(data)),
        "SHA-512" => hex(&sha2::Sha512::digest(data)),
        other => {
            return Err(fail(
                "D3137",
                format!(
                    "Hash algorithm '{other}' must be one of SHA-1, SHA-384, SHA-256, SHA-512, MD5"
                ),
            ));
        }
    };
    Ok(Some(Value::String(digest)))
}

/// `$random()` / `$random(seed)`: a number in [0, 1). A seed makes it
/// reproducible (Java's `new Random(seed).nextDouble()`, the generator
/// `States.MathRandom` uses).
fn random(args: &[Option<Value>]) -> Result<Option<Value>, Error> {
    let seed = match &args[0] {
        Some(_) => truncated("random", 1, args[0].as_ref())?,
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

/// `$parse(text)`: the JSON value the text holds. AWS reads it strictly:
/// an empty string, text after the value or a repeated key is
/// `D3137: Invalid JSON`.
fn parse(args: &[Option<Value>]) -> Result<Option<Value>, Error> {
    let Some(Value::String(text)) = &args[0] else {
        return Ok(None);
    };
    let invalid = || fail("D3137", "Invalid JSON".to_owned());
    let value: Value = serde_json::from_str(text).map_err(|_| invalid())?;
    if has_repeated_key(text) {
        return Err(invalid());
    }
    Ok(Some(value))
}

/// Whether some object in valid JSON `text` names a key twice (serde_json
/// keeps the last one; AWS's reader refuses the document).
fn has_repeated_key(text: &str) -> bool {
    use serde::de::{Deserializer as _, MapAccess, SeqAccess, Visitor};
    use std::collections::HashSet;
    struct Check;
    impl<'de> Visitor<'de> for Check {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            let mut seen = HashSet::new();
            let mut repeated = false;
            while let Some(key) = map.next_key::<String>()? {
                repeated |= !seen.insert(key);
                repeated |= map.next_value::<Nested>()?.0;
            }
            Ok(repeated)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
            let mut repeated = false;
            while let Some(item) = seq.next_element::<Nested>()? {
                repeated |= item.0;
            }
            Ok(repeated)
        }
        fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_str<E>(self, _: &str) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_unit<E>(self) -> Result<bool, E> {
            Ok(false)
        }
    }
    struct Nested(bool);
    impl<'de> serde::Deserialize<'de> for Nested {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(Check).map(Nested)
        }
    }
    serde_json::Deserializer::from_str(text)
        .deserialize_any(Check)
        .unwrap_or(false)
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
