//! The divergences from LocalStack the engine keeps on purpose, each with its reason.

use super::*;

/// A divergence the engine keeps on purpose, with the reason the engine is
/// right: AWS's recorded cases win, then AWS's documentation and what AWS's
/// Java libraries (Jayway JsonPath, Jackson) do.
pub(crate) struct Accepted {
    pub(crate) why: &'static str,
    pub(crate) applies: fn(&Case, &Outcome, &Outcome) -> bool,
}

pub(crate) fn failed_with(o: &Outcome, error: &str) -> bool {
    o.status == "FAILED" && o.error.as_deref() == Some(error)
}

pub(crate) fn cause_has(o: &Outcome, text: &str) -> bool {
    o.cause.as_deref().is_some_and(|c| c.contains(text))
}

pub(crate) fn starts(case: &Case, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| case.label.starts_with(p))
}

pub(crate) const ACCEPTED: &[Accepted] = &[
    Accepted {
        why: "AWS documents a failed intrinsic call as States.IntrinsicFailure; LocalStack \
              reports the Python exception as States.Runtime",
        applies: |c, ours, theirs| {
            c.family == "intrinsic"
                && failed_with(ours, "States.IntrinsicFailure")
                && failed_with(theirs, "States.Runtime")
        },
    },
    Accepted {
        why: "random by definition (MathRandom: LocalStack draws from Python's random, AWS \
              from java.util.Random, which the engine reproduces for a seed)",
        applies: |c, ours, theirs| {
            starts(c, &["States.MathRandom", "States.UUID"]) && ours.status == theirs.status
        },
    },
    Accepted {
        why: "non-integral arguments round as Java's Math.round (AWS records 2.5 -> 3, \
              -2.5 -> -2 for MathAdd); LocalStack rounds half to even or refuses them",
        applies: |c, _, _| {
            starts(
                c,
                &[
                    "States.ArrayRange",
                    "States.ArrayGetItem",
                    "States.ArrayPartition",
                ],
            ) && has_fraction(&c.input)
        },
    },
    Accepted {
        why: "beyond Java's long AWS cannot take an integer argument exactly; the engine \
              refuses it (LocalStack computes with Python's unbounded ints)",
        applies: |c, ours, _| {
            c.family == "intrinsic" && cause_has(ours, "out of the integer range")
        },
    },
    Accepted {
        why: "AWS writes numbers with Jackson (1.0E20); LocalStack with Python (1e+20)",
        applies: |c, _, _| {
            starts(c, &["States.JsonToString", "States.Format"]) && has_float(&c.input)
        },
    },
    Accepted {
        why: "ArrayUnique/ArrayContains compare Jackson nodes: 0 vs -0.0 vs 0.0 and 1 vs 1.0 \
              differ; Python's == makes them equal (and False == 0)",
        applies: |c, _, _| {
            starts(c, &["States.ArrayUnique", "States.ArrayContains"])
                && (has_fraction(&c.input) || has_bool(&c.input))
        },
    },
    Accepted {
        why: "States.Format needs as many values as placeholders (AWS's documentation); \
              Python's str.format ignores extra values",
        applies: |c, ours, _| c.family == "intrinsic" && cause_has(ours, "placeholders"),
    },
    Accepted {
        why: "Java's Base64 decoder refuses characters outside the alphabet; Python's \
              discards them",
        applies: |c, ours, _| starts(c, &["States.Base64Decode"]) && cause_has(ours, "base64"),
    },
    Accepted {
        why: "AWS's Jackson readTree reads the first value and ignores what follows a blank \
              (\"1 2\" is 1); Python's json.loads refuses trailing data",
        applies: |c, ours, theirs| {
            starts(c, &["States.StringToJson"])
                && ours.status == "SUCCEEDED"
                && cause_has(theirs, "Extra data")
        },
    },
    Accepted {
        why: "Jayway: an indefinite path (filter, slice, union, wildcard, '..') always yields \
              a list, [] when nothing matches; LocalStack unwraps one match and fails on none",
        applies: |c, ours, theirs| {
            let r = |o: &Outcome| o.output.as_ref().and_then(|v| v.get("r")).cloned();
            c.family == "jsonpath"
                && r(ours).is_some_and(|v| v.is_array())
                && ((theirs.status == "FAILED" && cause_has(theirs, "could not be found"))
                    || r(ours) == r(theirs).map(|v| json!([v])))
        },
    },
    Accepted {
        why: "Jayway's filters compare a numeric string and a number by value (\"5\" == 5, as \
              its ValueNode.StringNode/NumberNode equality does); Python does not",
        applies: |c, ours, theirs| {
            c.family == "jsonpath"
                && c.label.contains("?(")
                && ours.status == theirs.status
                && has_numeric_string(&c.input)
        },
    },
    Accepted {
        why: "Jayway: ['k1','k2'] as the last step builds an object of the present keys",
        applies: |c, _, _| c.label.contains("['k1','k2']"),
    },
    Accepted {
        why: "a Choice rule whose Variable is absent fails the execution (AWS's documentation; \
              its IsPresent-then-IsNumeric guard pattern relies on it), worded as AWS words an \
              absent path (\"Invalid path '$.v' : No results for path: $['v']\", recorded for \
              OutputPath); LocalStack takes the rule as false",
        applies: |c, ours, _| {
            c.family.starts_with("choice") && cause_has(ours, "No results for path")
        },
    },
    Accepted {
        why: "a comparison of mismatched types is false on AWS (Default taken); LocalStack \
              raises a Python TypeError",
        applies: |c, ours, theirs| {
            c.family == "choice" && ours.status == "SUCCEEDED" && cause_has(theirs, "Error(")
        },
    },
    Accepted {
        why: "equal timestamps satisfy TimestampGreaterThanEquals/LessThanEquals; LocalStack \
              compares them as unequal",
        applies: |c, _, _| {
            starts(
                c,
                &["TimestampGreaterThanEquals", "TimestampLessThanEquals"],
            )
        },
    },
    Accepted {
        why: "LocalStack refuses a States.* error raised by a Fail state in a branch \
              (\"Custom Error Names MUST NOT begin with the prefix 'States.'\"); AWS propagates it",
        applies: |c, _, theirs| {
            c.family == "retry-catch" && cause_has(theirs, "MUST NOT begin with the prefix")
        },
    },
    Accepted {
        why: "a Map over a non-array fails with States.Runtime in JSONPath mode, which no \
              Catch sees (States.QueryEvaluationError is JSONata's)",
        applies: |c, ours, _| c.family == "map" && cause_has(ours, "must be an array"),
    },
    Accepted {
        why: "MathRandom is java.util.Random.nextInt(end - start) + start on AWS: the start \
              must be below the end and the span an int; LocalStack's randint takes equal \
              bounds and any span",
        applies: |c, ours, _| {
            starts(c, &["States.MathRandom"]) && failed_with(ours, "States.IntrinsicFailure")
        },
    },
    Accepted {
        why: "a Fail state without Error: AWS leaves the error out, the engine still records \
              an empty string (DescribeExecution's absent fields, fixed on the engine's \
              branch for issue #23)",
        applies: |_, ours, theirs| ours.error.as_deref() == Some("") && theirs.error.is_none(),
    },
    Accepted {
        why: "an ISO-8601 timestamp with an offset (+01:00) is a valid TimestampPath value \
              (AWS's documentation: extended offset date-time); LocalStack wants 'Z'",
        applies: |c, ours, _| {
            c.family == "wait" && ours.status == "SUCCEEDED" && c.label.contains("+01:00")
        },
    },
    Accepted {
        why: "Jayway reads double-quoted strings in filters (@.s == \"abc\"); LocalStack's \
              jsonpath-ng does not parse them",
        applies: |c, _, theirs| c.family == "jsonpath" && cause_has(theirs, "JsonPathParserError"),
    },
    Accepted {
        why: "Jackson nodes of arrays compare by value; Python cannot hash a list",
        applies: |c, _, theirs| {
            starts(c, &["States.ArrayUnique"]) && cause_has(theirs, "unhashable")
        },
    },
    Accepted {
        why: "Java's basic Base64 decoder does not require padding ('SGk' is 'Hi'); Python's \
              does",
        applies: |c, _, theirs| starts(c, &["States.Base64Decode"]) && cause_has(theirs, "padding"),
    },
    Accepted {
        why: "AWS encodes a string's UTF-8 bytes; LocalStack encodes ASCII only",
        applies: |c, _, theirs| {
            starts(
                c,
                &["States.Base64Encode", "States.Base64Decode", "States.Hash"],
            ) && cause_has(theirs, "codec can't")
        },
    },
    Accepted {
        why: "Timestamp operators compare instants (2020-01-01T01:00:00+01:00 equals \
              2020-01-01T00:00:00Z, .000Z equals Z), as AWS's recorded timestamp cases show; \
              LocalStack compares the offset-free text",
        applies: |c, _, _| {
            c.family == "choice"
                && (c.label.starts_with("Timestamp") || c.label.starts_with("IsTimestamp"))
        },
    },
    Accepted {
        why: "StringSplit splits on each delimiter character and drops empty tokens, as AWS \
              records (java.util.StringTokenizer); with no delimiter the string is one token, \
              where LocalStack's regex split cuts between every character",
        applies: |c, _, _| starts(c, &["States.StringSplit"]) && c.label.contains("\"a1\":\"\""),
    },
    Accepted {
        why: "ArrayRange takes a negative step (AWS documents only that it is non-zero); \
              LocalStack refuses any step below 1",
        applies: |c, _, theirs| {
            starts(c, &["States.ArrayRange"]) && cause_has(theirs, "non negative")
        },
    },
    Accepted {
        why: "a boolean is not a number (Jackson's BooleanNode); Python's True is 1",
        applies: |c, ours, _| {
            c.family == "intrinsic" && has_bool(&c.input) && cause_has(ours, "expected an integer")
        },
    },
    Accepted {
        why: "a Numeric comparison with a boolean is a type mismatch, so false (AWS's \
              documentation); Python compares False as 0",
        applies: |c, ours, _| {
            c.family.starts_with("choice")
                && c.label.starts_with("Numeric")
                && has_bool(&c.input)
                && ours.status == "SUCCEEDED"
        },
    },
    Accepted {
        why: "a negative index is out of bounds for Java's List.get; Python counts from the end",
        applies: |c, ours, _| starts(c, &["States.ArrayGetItem"]) && cause_has(ours, "index -"),
    },
    Accepted {
        why: "StringToJson takes a string (AWS's documentation: an escaped JSON string); \
              LocalStack turns null into null",
        applies: |c, ours, _| {
            starts(c, &["States.StringToJson"]) && cause_has(ours, "expected a string but got null")
        },
    },
    Accepted {
        why: "a ResultPath that runs through a value that is not an object fails with \
              States.ResultPathMatchFailure ('Unable to apply ReferencePath ... to input ...'); \
              LocalStack overwrites the value or raises a Python TypeError",
        applies: |c, ours, _| {
            c.family == "io" && failed_with(ours, "States.ResultPathMatchFailure")
        },
    },
    Accepted {
        why: "Jackson writes non-ASCII characters as they are; Python's json.dumps escapes them \
              (\\u00e9)",
        applies: |c, _, theirs| {
            starts(c, &["States.JsonToString"])
                && theirs
                    .output
                    .as_ref()
                    .is_some_and(|o| o.to_string().contains("\\\\u"))
        },
    },
    Accepted {
        why: "a Wait's SecondsPath must point at a number; LocalStack takes Python's True as 1",
        applies: |c, ours, _| {
            c.family == "wait" && failed_with(ours, "States.Runtime") && c.label.contains("true")
        },
    },
];

pub(crate) fn has_fraction(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(a) => a.iter().any(has_fraction),
        Value::Object(o) => o.values().any(has_fraction),
        _ => false,
    }
}

pub(crate) fn has_float(v: &Value) -> bool {
    has_fraction(v)
}

pub(crate) fn has_numeric_string(v: &Value) -> bool {
    match v {
        Value::String(s) => s.parse::<f64>().is_ok(),
        Value::Array(a) => a.iter().any(has_numeric_string),
        Value::Object(o) => o.values().any(has_numeric_string),
        _ => false,
    }
}

pub(crate) fn has_bool(v: &Value) -> bool {
    match v {
        Value::Bool(_) => true,
        Value::Array(a) => a.iter().any(has_bool),
        Value::Object(o) => o.values().any(has_bool),
        _ => false,
    }
}

/// Outputs that are random: only status and error are compared.
pub(crate) const STATUS_ONLY: &[&str] = &["States.MathRandom", "States.UUID"];
