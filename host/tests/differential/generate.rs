//! Definitions and inputs generated from a seed.

use super::*;

/// SplitMix64: small, seedable, the same sequence on every platform.
pub(crate) struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("below n")
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

pub(crate) struct Case {
    pub(crate) id: usize,
    pub(crate) family: &'static str,
    pub(crate) label: String,
    pub(crate) definition: Value,
    pub(crate) input: Value,
}

pub(crate) fn numbers() -> Vec<Value> {
    vec![
        json!(0),
        json!(-0.0),
        json!(1),
        json!(-1),
        json!(2),
        json!(3),
        json!(0.5),
        json!(-0.5),
        json!(1.5),
        json!(-1.5),
        json!(2.5),
        json!(-2.5),
        json!(1.49),
        json!(-7),
        json!(10),
        json!(999),
        json!(1000),
        json!(1e20),
        json!(12_345_678_901_i64),
        json!(0.1),
    ]
}

pub(crate) fn strings() -> Vec<Value> {
    vec![
        json!(""),
        json!(" "),
        json!("a"),
        json!("abc"),
        json!("a,b,,c"),
        json!("5"),
        json!("-0"),
        json!("1.5"),
        json!("null"),
        json!("true"),
        json!("[1, 2]"),
        json!("{\"a\": 1}"),
        json!("{\"a\": [1, {\"b\": null}]}"),
        json!("1 2"),
        json!("{"),
        json!("é✓ unicode"),
        json!("SGVsbG8gV29ybGQ="),
        json!("SGk"),
        json!("%%"),
        json!("MD5"),
        json!("SHA-256"),
        json!("SHA-3"),
        json!("{} and {}"),
        json!("x{}y"),
        json!("2020-01-01T00:00:00Z"),
    ]
}

pub(crate) fn arrays() -> Vec<Value> {
    vec![
        json!([]),
        json!([1]),
        json!([1, 2, 2, 3, 1]),
        json!([1, "1", 1.0, null, true, [1], {"a": 1}, {"a": 1}]),
        json!(["a", "b", "c", "d", "e"]),
        json!([[1, 2], [1, 2], [2, 1]]),
        json!([0, -0.0, 0.0]),
    ]
}

pub(crate) fn others() -> Vec<Value> {
    vec![
        json!(null),
        json!(true),
        json!(false),
        json!({}),
        json!({"a": 1, "b": {"c": 2}}),
        json!({"a": 2, "d": [1]}),
    ]
}

pub(crate) fn any_value(rng: &mut Rng) -> Value {
    match rng.below(4) {
        0 => rng.pick(&numbers()).clone(),
        1 => rng.pick(&strings()).clone(),
        2 => rng.pick(&arrays()).clone(),
        _ => rng.pick(&others()).clone(),
    }
}

#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Num,
    Str,
    Arr,
    Obj,
    Any,
}

pub(crate) fn value_of(rng: &mut Rng, kind: Kind) -> Value {
    if rng.chance(15) {
        return any_value(rng);
    }
    match kind {
        Kind::Num => rng.pick(&numbers()).clone(),
        Kind::Str => rng.pick(&strings()).clone(),
        Kind::Arr => rng.pick(&arrays()).clone(),
        Kind::Obj => rng.pick(&others()[3..]).clone(),
        Kind::Any => any_value(rng),
    }
}

pub(crate) fn pass_with(parameters: Value) -> Value {
    json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": parameters, "End": true}}})
}

pub(crate) fn intrinsic_case(rng: &mut Rng) -> (String, Value, Value) {
    use Kind::*;
    let functions: &[(&str, &[Kind])] = &[
        ("States.MathAdd", &[Num, Num]),
        ("States.MathRandom", &[Num, Num]),
        ("States.MathRandom", &[Num, Num, Num]),
        ("States.ArrayRange", &[Num, Num, Num]),
        ("States.ArrayGetItem", &[Arr, Num]),
        ("States.ArrayPartition", &[Arr, Num]),
        ("States.ArrayLength", &[Arr]),
        ("States.ArrayUnique", &[Arr]),
        ("States.ArrayContains", &[Arr, Any]),
        ("States.Array", &[Any, Any]),
        ("States.StringSplit", &[Str, Str]),
        ("States.StringToJson", &[Str]),
        ("States.JsonToString", &[Any]),
        ("States.Base64Encode", &[Str]),
        ("States.Base64Decode", &[Str]),
        ("States.Hash", &[Str, Str]),
        ("States.JsonMerge", &[Obj, Obj]),
        ("States.Format", &[Str, Any, Any]),
        ("States.UUID", &[]),
    ];
    let (name, kinds) = *rng.pick(functions);
    let mut input = serde_json::Map::new();
    let mut args = Vec::new();
    for (i, kind) in kinds.iter().enumerate() {
        let value = value_of(rng, *kind);
        let key = format!("a{i}");
        args.push(format!("$.{key}"));
        input.insert(key, value);
    }
    if name == "States.JsonMerge" {
        args.push("false".to_owned());
    }
    // A literal template makes Format's placeholders count at parse time.
    if name == "States.Format" && rng.chance(50) {
        args[0] = "'{} and {}'".to_owned();
    }
    // Sometimes a path into nothing, to compare the miss.
    if !args.is_empty() && rng.chance(5) {
        args[0] = "$.missing".to_owned();
    }
    let call = format!("{name}({})", args.join(", "));
    (
        format!("{name} {}", Value::Object(input.clone())),
        pass_with(json!({"r.$": call})),
        Value::Object(input),
    )
}

pub(crate) fn jsonpath_case(rng: &mut Rng) -> (String, Value, Value) {
    let items: Vec<Value> = (0..rng.below(6))
        .map(|i| {
            let n = rng.pick(&numbers()).clone();
            let mut item = json!({"id": i, "n": n, "s": rng.pick(&strings()).clone()});
            if rng.chance(20) {
                item.as_object_mut().expect("object").remove("n");
            }
            item
        })
        .collect();
    let input = json!({"items": items, "obj": {"k1": 1, "k2": [2], "k 3": 3}, "x": 5});
    let lits = [
        "0", "1", "2", "1.5", "-1", "'a'", "\"abc\"", "true", "null", "'5'", "$.x",
    ];
    let ops = ["==", "!=", "<", "<=", ">", ">="];
    let idx = ["0", "1", "-1", "-2", "5", "-9"];
    let path = match rng.below(12) {
        0 => format!("$.items[?(@.n {} {})].id", rng.pick(&ops), rng.pick(&lits)),
        1 => format!("$.items[?(@.s {} {})].id", rng.pick(&ops), rng.pick(&lits)),
        2 => "$.items[?(@.n)].id".to_owned(),
        3 => format!(
            "$.items[{}:{}].id",
            rng.pick(&["", "0", "1", "-1", "-3", "9"]),
            rng.pick(&["", "0", "2", "-1", "9"])
        ),
        4 => format!("$.items[{}].id", rng.pick(&idx)),
        5 => format!(
            "$.items[{},{}].id",
            rng.pick(&idx[..3]),
            rng.pick(&idx[..3])
        ),
        6 => "$.items[*].n".to_owned(),
        7 => "$..n".to_owned(),
        8 => "$.obj['k1','k2']".to_owned(),
        9 => format!("$.items.[{}].s", rng.pick(&idx[..3])),
        10 => format!(
            "$.items[?(@.n {} 1 && @.id {} 2)].id",
            rng.pick(&ops),
            rng.pick(&ops)
        ),
        _ => "$.obj['k 3']".to_owned(),
    };
    (path.clone(), pass_with(json!({"r.$": path})), input)
}

pub(crate) fn choice_case(rng: &mut Rng) -> (String, Value, Value) {
    let timestamps = [
        "2020-01-01T00:00:00Z",
        "2020-01-01T00:00:00.000Z",
        "2020-01-01T01:00:00+01:00",
        "2020-01-01T00:00:00.5Z",
        "2019-12-31T23:59:59Z",
        "2020-01-01 00:00:00Z",
        "2020-02-30T00:00:00Z",
        "2020-01-01T00:00:00",
    ];
    let (op, literal): (&str, Value) = match rng.below(6) {
        0 => (
            *rng.pick(&[
                "StringEquals",
                "StringLessThan",
                "StringGreaterThan",
                "StringLessThanEquals",
                "StringGreaterThanEquals",
                "StringMatches",
            ]),
            json!(*rng.pick(&["a", "abc", "", "A", "a*", "*c", "\\*", "5", "é"])),
        ),
        1 => (
            *rng.pick(&[
                "NumericEquals",
                "NumericLessThan",
                "NumericGreaterThan",
                "NumericLessThanEquals",
                "NumericGreaterThanEquals",
            ]),
            rng.pick(&numbers()).clone(),
        ),
        2 => ("BooleanEquals", json!(rng.chance(50))),
        3 => (
            *rng.pick(&[
                "TimestampEquals",
                "TimestampLessThan",
                "TimestampGreaterThan",
                "TimestampLessThanEquals",
                "TimestampGreaterThanEquals",
            ]),
            json!(*rng.pick(&timestamps[..5])),
        ),
        4 => (
            *rng.pick(&[
                "IsNull",
                "IsPresent",
                "IsNumeric",
                "IsString",
                "IsBoolean",
                "IsTimestamp",
            ]),
            json!(rng.chance(70)),
        ),
        _ => (
            *rng.pick(&[
                "StringEqualsPath",
                "StringLessThanPath",
                "NumericEqualsPath",
                "NumericGreaterThanPath",
                "BooleanEqualsPath",
                "TimestampEqualsPath",
                "TimestampLessThanPath",
                "StringGreaterThanEqualsPath",
                "NumericLessThanEqualsPath",
            ]),
            json!("$.w"),
        ),
    };
    let mixed = |rng: &mut Rng| -> Value {
        if rng.chance(25) {
            json!(*rng.pick(&timestamps))
        } else {
            any_value(rng)
        }
    };
    let mut input = serde_json::Map::new();
    if !rng.chance(8) {
        input.insert("v".into(), mixed(rng));
    }
    if !rng.chance(8) {
        input.insert("w".into(), mixed(rng));
    }
    let definition = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.v", op: literal, "Next": "Y"}], "Default": "N"},
        "Y": {"Type": "Pass", "Result": "yes", "End": true},
        "N": {"Type": "Pass", "Result": "no", "End": true}}});
    (format!("{op} {literal}"), definition, Value::Object(input))
}

pub(crate) fn wait_case(rng: &mut Rng) -> (String, Value, Value) {
    // Only waits that end at once on a real clock: LocalStack sleeps for real.
    let seconds = [
        json!(0),
        json!(-1),
        json!(-0.0),
        json!(0.0),
        json!("0"),
        json!(null),
        json!(true),
        json!(-1e20),
    ];
    let stamps = [
        json!("2020-01-01T00:00:00Z"),
        json!("2020-01-01T00:00:00.123456789Z"),
        json!("2020-01-01T00:00:00+01:00"),
        json!("2020-01-01T00:00:00"),
        json!("2020-01-01 00:00:00Z"),
        json!("2020-02-30T00:00:00Z"),
        json!("not a date"),
        json!(5),
        json!(""),
    ];
    let (field, value) = if rng.chance(50) {
        ("SecondsPath", rng.pick(&seconds).clone())
    } else {
        ("TimestampPath", rng.pick(&stamps).clone())
    };
    let definition = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", field: "$.t", "Next": "D"},
        "D": {"Type": "Pass", "End": true}}});
    (format!("{field} {value}"), definition, json!({"t": value}))
}

/// A failure inside a Parallel branch, caught or retried by a random list.
pub(crate) fn retry_catch_case(rng: &mut Rng) -> (String, Value, Value) {
    // Mostly custom errors: LocalStack refuses States.* names from a Fail
    // state in a branch (an accepted divergence that would hide the rest).
    let failures = [
        json!({"Type": "Fail", "Error": "Custom.Error", "Cause": "boom"}),
        json!({"Type": "Fail", "Error": "Custom.Error"}),
        json!({"Type": "Fail", "Error": "Other.Error", "Cause": "other"}),
        json!({"Type": "Fail", "Error": "Other.Error", "Cause": "other"}),
        json!({"Type": "Fail", "Error": "States.TaskFailed", "Cause": "t"}),
        json!({"Type": "Fail", "Error": "States.Timeout"}),
        json!({"Type": "Fail"}),
        json!({"Type": "Pass", "Parameters": {"r.$": "States.ArrayGetItem($.l, 9)"}, "End": true}),
        json!({"Type": "Pass", "InputPath": "$.missing", "End": true}),
        json!({"Type": "Pass", "End": true}),
    ];
    let errors = [
        "States.ALL",
        "Other.Error",
        "States.TaskFailed",
        "States.Runtime",
        "States.IntrinsicFailure",
        "Custom.Error",
        "States.Timeout",
        "States.BranchFailed",
    ];
    let mut failing = rng.pick(&failures).clone();
    if failing["Type"] == "Fail" {
        failing.as_object_mut().expect("object").remove("End");
    }
    let mut parallel = json!({"Type": "Parallel", "Next": "Done",
        "Branches": [{"StartAt": "F", "States": {"F": failing}}]});
    let catchers: Vec<Value> = (0..rng.below(3))
        .map(|_| {
            let mut equals: Vec<&str> = vec![*rng.pick(&errors)];
            if rng.chance(30) {
                equals.push(*rng.pick(&errors[1..]));
                equals.dedup();
            }
            if equals.contains(&"States.ALL") {
                equals = vec!["States.ALL"];
            }
            let mut c = json!({"ErrorEquals": equals, "Next": "Caught"});
            match rng.below(3) {
                0 => c["ResultPath"] = json!("$.err"),
                1 => c["ResultPath"] = json!(null),
                _ => {}
            }
            c
        })
        .collect();
    let mut catchers = catchers;
    // States.ALL must be last (validation); keep it so.
    catchers.sort_by_key(|c| c["ErrorEquals"][0] == "States.ALL");
    catchers.dedup_by(|a, b| {
        a["ErrorEquals"][0] == "States.ALL" && b["ErrorEquals"][0] == "States.ALL"
    });
    if !catchers.is_empty() {
        parallel["Catch"] = Value::Array(catchers);
    }
    if rng.chance(30) {
        parallel["Retry"] = json!([{"ErrorEquals": [*rng.pick(&errors[1..])], "MaxAttempts": 0}]);
    }
    let mut definition = json!({"StartAt": "Par", "States": {
        "Par": parallel,
        "Caught": {"Type": "Pass", "End": true},
        "Done": {"Type": "Pass", "End": true}}});
    if definition["States"]["Par"].get("Catch").is_none() {
        definition["States"]
            .as_object_mut()
            .expect("object")
            .remove("Caught");
    }
    (
        format!("{}", definition["States"]["Par"]),
        definition,
        json!({"l": [1, 2], "k": "v"}),
    )
}

/// Map iterations that fail on some items, and Parallel branches.
pub(crate) fn map_case(rng: &mut Rng) -> (String, Value, Value) {
    let items = [
        json!([1, 2, 3]),
        json!([]),
        json!([1, "x", 3]),
        json!(["x"]),
        json!([{"k": 1}, {"k": "v"}]),
        json!([null, true, 2.5]),
        json!(["a", "b"]),
        json!({"a": 1}),
        json!("x"),
        json!(null),
    ];
    let input = json!({"items": rng.pick(&items).clone()});
    // `$$.Map.Item` is for ItemSelector only (AWS's documentation).
    let processor = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.v", "IsString": true, "Next": "Bad"}], "Default": "Ok"},
        "Bad": {"Type": "Fail", "Error": "Item.Bad", "Cause": "a string item"},
        "Ok": {"Type": "Pass", "Parameters": {"v.$": "$.v", "i.$": "$.i"}, "End": true}}});
    let mut map = json!({"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": processor,
        "ItemSelector": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
        "MaxConcurrency": *rng.pick(&[0, 1, 2]), "End": true});
    if rng.chance(40) {
        map["Catch"] = json!([{"ErrorEquals": [*rng.pick(&["Item.Bad", "States.ALL", "States.Runtime"])],
            "ResultPath": "$.err", "Next": "Caught"}]);
        map.as_object_mut().expect("object").remove("End");
        map["Next"] = json!("Caught");
    }
    if rng.chance(30) {
        map["ResultSelector"] = json!({"n.$": "States.ArrayLength($)"});
    }
    let mut definition = json!({"StartAt": "M", "States": {
        "M": map, "Caught": {"Type": "Pass", "End": true}}});
    if definition["States"]["M"].get("Catch").is_none() {
        definition["States"]
            .as_object_mut()
            .expect("object")
            .remove("Caught");
    }
    (format!("{}", input), definition, input)
}

/// InputPath, Parameters, ResultSelector, ResultPath and OutputPath around
/// a Pass state, with paths that hit, miss, or land on non-objects.
pub(crate) fn io_case(rng: &mut Rng) -> (String, Value, Value) {
    let input = rng
        .pick(&[
            json!({"a": {"b": 1, "c": [1, 2]}, "s": "x", "n": 2}),
            json!({"a": [1, 2, 3], "s": null}),
            json!({"a": "text"}),
            json!([1, {"a": 2}]),
            json!("plain"),
        ])
        .clone();
    let paths = [
        "$",
        "$.a",
        "$.a.b",
        "$.a.c",
        "$.s",
        "$.missing",
        "$[0]",
        "$[1].a",
        "$.a[0]",
        "$.a.c[1]",
    ];
    let mut pass = json!({"Type": "Pass", "End": true});
    if rng.chance(40) {
        pass["InputPath"] = json!(*rng.pick(&paths));
    }
    match rng.below(3) {
        0 => pass["Result"] = rng.pick(&others()).clone(),
        1 => {
            pass["Parameters"] = json!({"k.$": *rng.pick(&paths), "lit": [1, {"x.$": "$"}],
                "nested": {"v.$": *rng.pick(&paths)}});
        }
        _ => {}
    }
    if rng.chance(40) {
        pass["ResultPath"] = match rng.below(5) {
            0 => json!(null),
            1 => json!("$"),
            2 => json!("$.r"),
            3 => json!("$.a.new"),
            _ => json!("$.s.deeper"),
        };
    }
    if rng.chance(40) {
        pass["OutputPath"] = json!(*rng.pick(&paths));
    }
    let definition = json!({"StartAt": "P", "States": {"P": pass}});
    (format!("{}", definition["States"]["P"]), definition, input)
}

/// Choice rules combined with And, Or and Not.
pub(crate) fn choice_logic_case(rng: &mut Rng) -> (String, Value, Value) {
    fn rule(rng: &mut Rng, depth: usize) -> Value {
        if depth > 0 && rng.chance(40) {
            return match rng.below(3) {
                0 => json!({"And": [rule(rng, depth - 1), rule(rng, depth - 1)]}),
                1 => json!({"Or": [rule(rng, depth - 1), rule(rng, depth - 1)]}),
                _ => json!({"Not": rule(rng, depth - 1)}),
            };
        }
        match rng.below(4) {
            0 => json!({"Variable": "$.n", "NumericGreaterThan": 1}),
            1 => json!({"Variable": "$.s", "StringEquals": "x"}),
            2 => json!({"Variable": "$.b", "IsPresent": true}),
            _ => json!({"Variable": "$.n", "IsNumeric": true}),
        }
    }
    let mut top = rule(rng, 2);
    top["Next"] = json!("Y");
    let mut input = serde_json::Map::new();
    for (key, value) in [("n", json!(2)), ("s", json!("x")), ("b", json!(false))] {
        if rng.chance(70) {
            input.insert(
                key.into(),
                if rng.chance(80) {
                    value
                } else {
                    any_value(rng)
                },
            );
        }
    }
    let definition = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [top], "Default": "N"},
        "Y": {"Type": "Pass", "Result": "yes", "End": true},
        "N": {"Type": "Pass", "Result": "no", "End": true}}});
    (
        format!("{}", definition["States"]["C"]["Choices"][0]),
        definition,
        Value::Object(input),
    )
}

pub(crate) fn generate(seed: u64, count: usize) -> Vec<Case> {
    let mut rng = Rng(seed);
    (0..count)
        .map(|id| {
            let (family, (label, definition, input)) = match rng.below(24) {
                0..=7 => ("intrinsic", intrinsic_case(&mut rng)),
                8..=10 => ("jsonpath", jsonpath_case(&mut rng)),
                11..=13 => ("choice", choice_case(&mut rng)),
                14 => ("choice-logic", choice_logic_case(&mut rng)),
                15..=17 => ("io", io_case(&mut rng)),
                18 | 19 => ("wait", wait_case(&mut rng)),
                20 | 21 => ("retry-catch", retry_catch_case(&mut rng)),
                _ => ("map", map_case(&mut rng)),
            };
            Case {
                id,
                family,
                label,
                definition,
                input,
            }
        })
        .collect()
}
