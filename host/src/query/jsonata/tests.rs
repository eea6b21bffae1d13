use serde_json::{Map, Value, json};

use super::fields::{self, SECONDS, TIMEOUT_SECONDS};
use super::*;

/// Variables every check sees.
fn variables() -> Map<String, Value> {
    let mut vars = Map::new();
    vars.insert("items".into(), json!([1, 2, 3]));
    vars.insert("name".into(), json!("ada"));
    vars.insert("sum".into(), json!(5));
    vars
}

fn context() -> Value {
    json!({"Execution": {"Id": "arn:x"}, "Map": {"Item": {"Value": "v", "Index": 0}}})
}

/// Evaluates `field` (a field value of a JSONata state) as the field
/// `Output` against `input`: the compact JSON result, or the cause.
fn check(field: Value, input: Value) -> String {
    let value = JsonataValue::parse(&field).unwrap_or_else(|p| panic!("{field}: {p:?}"));
    let vars = variables();
    let ctx = LazyContext::ready(context());
    let env = JsonataEnv::new(&input, &ctx, &vars);
    match value.eval("Output", &env) {
        Ok(v) => v.to_string(),
        Err(e) => format!("{}: {}", e.error.error, e.error.cause),
    }
}

fn problems(field: Value) -> Vec<String> {
    match JsonataValue::parse(&field) {
        Ok(_) => Vec::new(),
        Err(p) => p.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn literals_and_expressions_at_any_depth() {
    assert_eq!(
        check(
            json!({"a": "{% $states.input.x + 1 %}", "b": ["lit", "{% $name %}"], "c": 3}),
            json!({"x": 41})
        ),
        r#"{"a":42,"b":["lit","ada"],"c":3}"#
    );
    // Only the exact `{%`…`%}` shape is an expression.
    assert_eq!(
        check(json!([" {% 1 %}", "{% 1 %} ", "{% 1 %", "$.x"]), json!({})),
        r#"[" {% 1 %}","{% 1 %} ","{% 1 %","$.x"]"#
    );
    assert_eq!(check(json!(true), json!({})), "true");
    let v = JsonataValue::parse(&json!({"k": [1, {"z": null}]})).expect("static");
    assert_eq!(v.as_static(), Some(&json!({"k": [1, {"z": null}]})));
}

#[test]
fn states_holds_input_context_result_and_error_output() {
    assert_eq!(
        check(json!("{% $states.input %}"), json!({"a": [1]})),
        r#"{"a":[1]}"#
    );
    assert_eq!(
        check(json!("{% $states.context.Map.Item.Value %}"), json!({})),
        r#""v""#
    );
    assert_eq!(
        check(json!("{% $keys($states) %}"), json!({})),
        r#"["input","context"]"#
    );
    let input = json!({"in": 1});
    let result = json!({"r": 2});
    let error = json!({"Error": "E", "Cause": "c"});
    let vars = Map::new();
    let ctx = LazyContext::ready(json!({}));
    let env = JsonataEnv::new(&input, &ctx, &vars)
        .with_result(&result)
        .with_error_output(&error);
    let v = JsonataValue::parse(&json!(
        "{% [$states.input.in, $states.result.r, $states.errorOutput.Error] %}"
    ))
    .expect("parses");
    assert_eq!(v.eval("Output", &env), Ok(json!([1, 2, "E"])));
}

#[test]
fn the_context_is_built_only_when_read() {
    let built = std::cell::Cell::new(0);
    let build = || {
        built.set(built.get() + 1);
        context()
    };
    let ctx = LazyContext::new(&build);
    let input = json!({"x": 1});
    let vars = variables();
    let env = JsonataEnv::new(&input, &ctx, &vars);
    let reads_input = JsonataValue::parse(&json!("{% $states.input.x %}")).expect("parses");
    assert!(!reads_input.reads_context());
    assert_eq!(reads_input.eval("Output", &env), Ok(json!(1)));
    assert_eq!(built.get(), 0);
    let reads_context =
        JsonataValue::parse(&json!("{% $states.context.Execution.Id %}")).expect("parses");
    assert!(reads_context.reads_context());
    assert_eq!(reads_context.eval("Output", &env), Ok(json!("arn:x")));
    assert_eq!(built.get(), 1);
}

/// Evaluating with `$states` and the variables cut to what the expression
/// reads gives what evaluating with them whole gives.
#[test]
fn cut_bindings_give_the_same_results() {
    let input = json!({
        "items": [{"p": 5, "n": "a", "tags": ["x"]}, {"p": 20, "n": "b", "deep": {"n": "c"}}],
        "other": 1, "s": "{\"k\": [1, 2]}", "nested": {"a": {"b": [1, 2, {"c": 3}]}}
    });
    let result = json!({"Payload": {"id": 7, "rows": [1, 2]}, "StatusCode": 200});
    let mut vars = variables();
    vars.insert("obj".into(), json!({"a": 1, "b": {"c": [1, 2]}}));
    let ctx = LazyContext::ready(context());
    let env = JsonataEnv::new(&input, &ctx, &vars).with_result(&result);
    let mut whole = vars.clone();
    whole.insert(
        "states".into(),
        json!({"input": input.clone(), "context": context(), "result": result.clone()}),
    );
    let sources = [
        "$states.input.items[p > 10].n",
        "$count($states.input.items)",
        "$states.input.items[0]",
        "$states.input.items[-1].deep",
        "$string($states.input)",
        "$states.input.*",
        "$states.input.**.n",
        "$states.input.nested.a.b[2].c",
        "$keys($states.input)",
        "$lookup($states.input, 'other')",
        "$each($states.input.nested, function($v, $k) { $k })",
        "$states.input ~> $sift(function($v) { $type($v) = 'number' })",
        "$spread($states.input.nested)",
        "$states.input.items.tags",
        "$states.input.items{n: p}",
        "$states.input.items^(>p).n",
        "$parse($states.input.s).k",
        "$partition($states.input.items, 1)",
        "$hash($string($states.input.nested), 'MD5')",
        "$states.result.Payload.id + $obj.b.c[1]",
        "$merge([$states.result, {'x': $obj}])",
        "$states.context.Map.Item.Value & $name",
        "$states.input.items.(p + $states.input.other)",
        "($s := $states; $s.input.other)",
        "($f := function($x) { $x.input.other }; $f($states))",
        "$lookup($obj, 'a') + $sum",
        "$exists($states.errorOutput)",
        "$obj.*",
        "$type($obj)",
        "$states.input.items[n = 'a'] ~> |$|{'p': 0}|",
        // Plain paths, resolved without the evaluator (or falling back to it).
        "$states.input.other",
        "$states.input.nested.a",
        "$states.input.nested.a.b",
        "$states.input.items",
        "$states.input.items.n",
        "$states.result.Payload",
        "$states.result.Payload.rows",
        "$obj",
        "$obj.b.c",
        // Path-and-number arithmetic, done without the evaluator.
        "$states.input.other + 1",
        "$states.input.other - 0.5",
        "$states.input.other * 2.5",
        "$states.input.other / 3",
        "$obj.a + 41",
        "$states.result.StatusCode / 100",
    ];
    for src in sources {
        let expr = JsonataExpr::compile(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        let cut = expr.evaluate_in(&env);
        assert!(matches!(cut, Ok(Some(_))), "{src}: {cut:?}");
        assert_eq!(
            cut,
            expr.evaluate(None, &whole, &EvalLimits::default()),
            "{src}"
        );
    }
}

#[test]
fn workflow_variables_and_shadowing() {
    assert_eq!(check(json!("{% $items[1] %}"), json!({})), "2");
    // A variable named like a built-in hides it, as in jsonata-js.
    assert_eq!(check(json!("{% $sum %}"), json!({})), "5");
    assert!(check(json!("{% $sum([1]) %}"), json!({})).contains("T1006"));
    // So does one named like an AWS function.
    let (input, ctx) = (json!({}), LazyContext::ready(json!({})));
    let mut vars = Map::new();
    vars.insert("uuid".into(), json!("mine"));
    let v = JsonataValue::parse(&json!("{% $uuid %}")).expect("parses");
    assert_eq!(
        v.eval("Output", &JsonataEnv::new(&input, &ctx, &vars)),
        Ok(json!("mine"))
    );
    // A local assignment hides `$states`.
    assert_eq!(
        check(json!("{% ($states := 2; $states) %}"), json!({})),
        "2"
    );
}

#[test]
fn undefined_results_and_errors_name_the_field() {
    assert_eq!(
        check(json!("{% $doesNotExist %}"), json!({})),
        "States.QueryEvaluationError: The JSONata expression '$doesNotExist' specified for the \
         field 'Output' returned nothing (undefined)."
    );
    assert_eq!(
        check(json!({"result": "{%  $doesNotExist %}"}), json!({})),
        "States.QueryEvaluationError: The JSONata expression '$doesNotExist' specified for the \
         field 'Output/result' returned nothing (undefined)."
    );
    assert_eq!(
        check(json!({"a": [0, "{% $x() %}"]}), json!({})),
        "States.QueryEvaluationError: The JSONata expression '$x()' specified for the field \
         'Output/a/1' threw an error during evaluation. T1006: Attempted to invoke a non-function"
    );
    let v = JsonataValue::parse(&json!({"result": "{% $nope %}"})).expect("parses");
    let (input, vars, ctx) = (json!({}), Map::new(), LazyContext::ready(json!({})));
    let e = v
        .eval("Assign", &JsonataEnv::new(&input, &ctx, &vars))
        .expect_err("undefined");
    assert_eq!(e.location.as_deref(), Some("Assign/result"));
    assert_eq!(AslError::from(e).error, names::QUERY_EVALUATION_ERROR);
}

#[test]
fn syntax_errors_are_reported_with_pointers() {
    assert_eq!(
        problems(json!({"a": "{% %}", "b": ["{% 1 + %}"], "c/d": "{% ( %}", "ok": "{% 1 %}"})),
        vec![
            "Unexpected end of expression at /a",
            "Unexpected end of expression at /b/0",
            r#"Expected ")" before end of expression at /c~1d"#,
        ]
    );
    assert_eq!(
        problems(json!("{% $sum($states.input.items.numbers %}")),
        vec![r#"Expected ")" before end of expression at "#]
    );
    assert_eq!(check_expression(" 10 + 2 "), Ok(()));
    assert!(check_expression(" $.store.book[?(@.price < 10)].title ").is_err());
}

#[test]
fn aws_partition() {
    assert_eq!(
        check(json!("{% $partition([1,2,3,4,5], 2) %}"), json!({})),
        "[[1,2],[3,4],[5]]"
    );
    assert_eq!(check(json!("{% $partition([0], 1) %}"), json!({})), "[[0]]");
    assert_eq!(
        check(json!("{% $partition([0, 1], 5) %}"), json!({})),
        "[[0,1]]"
    );
    // AWS's answers (measured, floci-io/floci PR #2676): sizes truncate,
    // nothing to split or a size of 0 is undefined, a negative size fails.
    assert_eq!(
        check(json!("{% $partition([1, 2, 3], 1.9) %}"), json!({})),
        "[[1],[2],[3]]"
    );
    assert_eq!(
        check(json!("{% $partition([1, 2]) %}"), json!({})),
        "[[1,2]]"
    );
    for undefined in [
        "$partition([], 1)",
        "$partition([1], 0)",
        "$partition([1], -0.5)",
    ] {
        assert!(
            check(json!(format!("{{% {undefined} %}}")), json!({})).ends_with("undefined)."),
            "{undefined}"
        );
    }
    assert_eq!(
        check(json!("{% $partition([1], -2) %}"), json!({})),
        "States.QueryEvaluationError: The JSONata expression '$partition([1], -2)' specified \
         for the field 'Output' threw an error during evaluation. D3137: Second argument must \
         be zero or greater"
    );
    assert!(check(json!("{% $partition([1], 'a') %}"), json!({})).contains("T0410"));
    // AWS has no $eval (floci-io/floci issue #2737, measured).
    assert!(
        check(json!("{% $eval('1+1') %}"), json!({}))
            .ends_with("T1006: Attempted to invoke a non-function")
    );
    assert!(
        check(json!("{% $partition('abc', 1) %}"), json!({})).ends_with(
            "threw an error during evaluation. T0412: Argument 1 of function \"partition\" \
             must be an array of undefined"
        )
    );
}

#[test]
fn aws_range() {
    assert_eq!(
        check(json!("{% $range(0, 10, 2) %}"), json!({})),
        "[0,2,4,6,8,10]"
    );
    assert_eq!(
        check(json!("{% $range(0, 9, 3) %}"), json!({})),
        "[0,3,6,9]"
    );
    assert_eq!(check(json!("{% $range(5, 1, -2) %}"), json!({})), "[5,3,1]");
    // A single item stands alone, as AWS returns it.
    assert_eq!(check(json!("{% $range(1, 9, 9) %}"), json!({})), "1");
    // AWS truncates towards zero: $range(-1.7, 2, 1) is [-1, 0, 1, 2].
    assert_eq!(
        check(json!("{% $range(-1.7, 2, 1.9) %}"), json!({})),
        "[-1,0,1,2]"
    );
    for undefined in ["$range(5, 1, 1)", "$range(0, 1, 0)", "$range(0, 1)"] {
        assert!(
            check(json!(format!("{{% {undefined} %}}")), json!({})).ends_with("undefined)."),
            "{undefined}"
        );
    }
    // No 1000-item cap (that is States.ArrayRange's); AWS's memory bound.
    assert_eq!(
        check(json!("{% $count($range(1, 200000, 1)) %}"), json!({})),
        "200000"
    );
    assert_eq!(
        check(json!("{% $range(0, 900000, 1) %}"), json!({})),
        "States.QueryEvaluationError: The JSONata expression '$range(0, 900000, 1)' specified \
         for the field 'Output' threw an error during evaluation: Expression evaluation memory \
         limit exceeded: Check for excessive memory usage"
    );
}

#[test]
fn aws_hash_random_uuid_parse() {
    assert_eq!(
        check(json!("{% $hash('abc', 'SHA-256') %}"), json!({})),
        r#""ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad""#
    );
    assert_eq!(
        check(json!("{% $hash('abc', 'MD5') %}"), json!({})),
        r#""900150983cd24fb0d6963f7d28e17f72""#
    );
    assert_eq!(
        check(json!("{% $hash('abc', 'SHA-1') %}"), json!({})),
        r#""a9993e364706816aba3e25717850c26c9cd0d89d""#
    );
    assert_eq!(
        check(json!("{% $length($hash('abc', 'SHA-384')) %}"), json!({})),
        "96"
    );
    assert_eq!(
        check(json!("{% $length($hash('abc', 'SHA-512')) %}"), json!({})),
        "128"
    );
    assert!(
        check(json!("{% $hash('abc', 'SHA-3') %}"), json!({})).ends_with(
            "threw an error during evaluation. D3137: Hash algorithm 'SHA-3' must be one of \
             SHA-1, SHA-384, SHA-256, SHA-512, MD5"
        )
    );
    assert!(check(json!("{% $hash('abc') %}"), json!({})).ends_with("undefined)."));
    assert!(
        check(json!("{% $hash(1, 'MD5') %}"), json!({}))
            .contains("T0410: Argument 1 of function \"hash\" does not match function signature")
    );
    assert_eq!(
        check(json!("{% $random(42) = $random(42) %}"), json!({})),
        "true"
    );
    assert_eq!(
        check(json!("{% $random(42) %}"), json!({})),
        "0.7275636800328681"
    );
    assert_eq!(
        check(json!("{% $random() < 1 and $random() >= 0 %}"), json!({})),
        "true"
    );
    let id = check(json!("{% $uuid() %}"), json!({}));
    assert_eq!(id.len(), 38, "{id}");
    assert_eq!(&id[15..16], "4", "{id}");
    assert_ne!(id, check(json!("{% $uuid() %}"), json!({})));
    assert_eq!(
        check(
            json!("{% $parse($states.input.s).a[1] %}"),
            json!({"s": "{\"a\": [1, 2]}"})
        ),
        "2"
    );
    for bad in ["'nope'", "''", "'1 2'", "'{\"a\": 1, \"a\": 2}'"] {
        assert!(
            check(json!(format!("{{% $parse({bad}) %}}")), json!({}))
                .ends_with("threw an error during evaluation. D3137: Invalid JSON"),
            "{bad}"
        );
    }
    assert_eq!(
        check(json!("{% $parse('{\"a\": {\"a\": 1}}') %}"), json!({})),
        r#"{"a":{"a":1}}"#
    );
}

#[test]
fn items_condition_and_strings_are_type_checked() {
    let (input, vars, ctx) = (json!({"n": 1}), variables(), LazyContext::ready(json!({})));
    let env = JsonataEnv::new(&input, &ctx, &vars);
    let parse = |v: Value| JsonataValue::parse(&v).expect("parses");
    assert_eq!(
        parse(json!("{% $items %}")).eval_array("Items", &env),
        Ok(vec![json!(1), json!(2), json!(3)])
    );
    let e = parse(json!("{% {'foo': 'bar'} %}"))
        .eval_array("Items", &env)
        .expect_err("object");
    assert_eq!(
        e.error.cause,
        "The JSONata expression '{'foo': 'bar'}' specified for the field 'Items' returned an \
         unexpected result type. Expected 'array', but was 'object' for value: {\"foo\":\"bar\"}"
    );
    assert_eq!(e.location.as_deref(), Some("Items"));
    let e = parse(json!("{% 'string' %}"))
        .eval_array("Items", &env)
        .expect_err("string");
    assert!(
        e.error
            .cause
            .ends_with("but was 'string' for value: \"string\"")
    );
    assert_eq!(
        parse(json!(true)).eval_condition("Condition", &env),
        Ok(true)
    );
    assert_eq!(
        parse(json!("{% $states.input.n = 1 %}")).eval_condition("Condition", &env),
        Ok(true)
    );
    let e = parse(json!("{% $states.input.n %}"))
        .eval_condition("Condition", &env)
        .expect_err("number");
    assert!(
        e.error
            .cause
            .contains("Expected 'boolean', but was 'number' for value: 1")
    );
    assert_eq!(
        parse(json!("{% $name %}")).eval_string("Cause", &env),
        Ok("ada".to_owned())
    );
    assert!(parse(json!("{% 1 %}")).eval_string("Error", &env).is_err());
}

#[test]
fn integers_and_numbers_are_range_checked() {
    let (input, vars, ctx) = (json!({}), variables(), LazyContext::ready(json!({})));
    let env = JsonataEnv::new(&input, &ctx, &vars);
    let int = |src: &str, range| {
        JsonataValue::parse(&json!(src))
            .expect("parses")
            .eval_integer("Seconds", &env, range)
            .map_err(|e| e.error.cause)
    };
    assert_eq!(int("{% 0 %}", SECONDS), Ok(0));
    assert_eq!(int("{% 2 * 1.5 %}", SECONDS), Ok(3));
    assert!(
        int("{% 0 %}", TIMEOUT_SECONDS)
            .expect_err("zero")
            .contains("out of range")
    );
    assert!(
        int("{% 1.5 %}", SECONDS)
            .expect_err("fraction")
            .contains("Expected 'integer'")
    );
    assert!(
        int("{% '1' %}", SECONDS)
            .expect_err("string")
            .contains("Expected 'number'")
    );
    assert!(
        int("{% -1 %}", SECONDS)
            .expect_err("negative")
            .contains("from 0 to 99999999")
    );
    let pct = JsonataValue::parse(&json!("{% 12.5 %}")).expect("parses");
    assert_eq!(
        pct.eval_number("ToleratedFailurePercentage", &env, fields::PERCENTAGE),
        Ok(12.5)
    );
}

#[test]
fn timestamps_are_parsed_as_aws_does() {
    let (vars, ctx) = (variables(), LazyContext::ready(json!({})));
    let ts = |s: &str| {
        let input = json!({"t": s});
        let env = JsonataEnv::new(&input, &ctx, &vars);
        JsonataValue::parse(&json!("{% $states.input.t %}"))
            .expect("parses")
            .eval_timestamp("Timestamp", &env)
            .map_err(|e| e.error.cause)
    };
    assert!(ts("2016-03-05T21:29:29.243167252Z").is_ok());
    assert_eq!(
        ts("2016-12-05 21:29:29Z"),
        Err(
            "The Timestamp field cannot be parsed as an ISO-8601 extended offset date-time \
             format string: 2016-12-05 21:29:29Z"
                .to_owned()
        )
    );
}

#[test]
fn map_input_must_be_an_array() {
    assert!(fields::map_input_array(&json!([1])).is_ok());
    let e = fields::map_input_array(&json!({"foo": "bar"})).expect_err("object");
    assert_eq!(
        e.error.cause,
        "Map state input must be an array but was: {\"foo\":\"bar\"}"
    );
    assert_eq!(e.location, None);
}

#[test]
fn runaway_expressions_stop() {
    let e = JsonataExpr::compile("($f := function() { $f() }; $f())").expect("compiles");
    let limits = EvalLimits {
        timeout: Duration::from_millis(200),
        max_depth: None,
    };
    let err = e.evaluate(None, &Map::new(), &limits).expect_err("stops");
    assert!(
        ["D1011", "D1012", "U1001"].contains(&err.code.as_str()),
        "{err}"
    );
}

#[test]
fn variables_read_are_listed() {
    let v = JsonataValue::parse(&json!({"a": "{% $x.y & $states.input.z %}", "b": "{% $w %}"}))
        .expect("parses");
    let mut read: Vec<&str> = v.expressions().iter().flat_map(|e| e.variables()).collect();
    read.sort_unstable();
    assert_eq!(read, ["w", "x"]);
    let e = JsonataExpr::compile("$uuid() & $range(1, 2, 1)[0] & $v").expect("compiles");
    assert_eq!(e.variables().collect::<Vec<_>>(), ["v"]);
}

#[test]
fn top_level_reads_are_found() {
    let reads = |src: &str| {
        JsonataExpr::compile(src)
            .expect("compiles")
            .top_level_reads()
    };
    assert_eq!(reads("phone"), ["phone"]);
    assert_eq!(reads("a.b & $exists(c)"), ["a", "c"]);
    assert_eq!(reads("$"), ["$"]);
    assert_eq!(reads("$$"), ["$"]);
    assert!(reads("$states.input.items[$.price > 10]").is_empty());
    assert!(reads("$uuid() & $name.first").is_empty());
    assert!(reads("[1, 2].($ + 1)").is_empty());
}

/// A plain path that finds nothing is undefined, with or without the evaluator.
#[test]
fn plain_paths_to_nothing_are_undefined() {
    let input = json!({"a": {"b": 1}, "n": 5});
    let vars = variables();
    let ctx = LazyContext::ready(context());
    let env = JsonataEnv::new(&input, &ctx, &vars);
    for src in [
        "$states.input.missing",
        "$states.input.a.missing",
        "$states.result",
        "$nosuchvar.x",
        "$states.input.n.x",
    ] {
        let expr = JsonataExpr::compile(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        let mut whole = vars.clone();
        whole.insert(
            "states".into(),
            json!({"input": input.clone(), "context": context()}),
        );
        assert_eq!(expr.evaluate_in(&env), Ok(None), "{src}");
        assert_eq!(
            expr.evaluate(None, &whole, &EvalLimits::default()),
            Ok(None),
            "{src}"
        );
    }
}

/// Arithmetic on something that is not a number falls back to the evaluator
/// and its error, as if there were no shortcut.
#[test]
fn arithmetic_on_a_non_number_keeps_jsonatas_error() {
    let input = json!({"items": [1, 2], "s": "5"});
    let vars = variables();
    let ctx = LazyContext::ready(context());
    let env = JsonataEnv::new(&input, &ctx, &vars);
    let mut whole = vars.clone();
    whole.insert(
        "states".into(),
        json!({"input": input.clone(), "context": context()}),
    );
    for src in [
        "$states.input.items + 1",
        "$states.input.s * 2",
        "$states.input.missing + 1",
    ] {
        let expr = JsonataExpr::compile(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert_eq!(
            expr.evaluate_in(&env),
            expr.evaluate(None, &whole, &EvalLimits::default()),
            "{src}"
        );
    }
}
