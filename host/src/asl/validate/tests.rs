//! Golden tests: the exact text users see for common mistakes, one `check`
//! helper that is the only caller of the API.

use serde_json::json;

use super::{MachineType, validate_as, validate_text};

/// Validates `def` and compares every diagnostic, one per line.
fn check(def: serde_json::Value, expected: &str) {
    check_as(def, MachineType::Standard, expected);
}

fn check_as(def: serde_json::Value, ty: MachineType, expected: &str) {
    let actual: Vec<String> = validate_as(&def, ty)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(actual.join("\n"), expected.trim());
}

fn check_text(text: &str, expected: &str) {
    let actual: Vec<String> = validate_text(text)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(actual.join("\n"), expected.trim());
}

fn pass_end() -> serde_json::Value {
    json!({"Type": "Pass", "End": true})
}

#[test]
fn a_valid_machine_has_no_diagnostics() {
    check(json!({"StartAt": "A", "States": {"A": pass_end()}}), "");
}

#[test]
fn unknown_field_suggests_the_near_name() {
    check(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "bugInputPath": "$.a", "End": true}}}),
        "SCHEMA_VALIDATION_FAILED: Field 'bugInputPath' is not supported; did you mean 'InputPath'? at /States/P",
    );
}

#[test]
fn field_of_another_state_type_names_its_owners() {
    check(
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": true,
            "TimeoutSeconds": 5, "Retry": [{"ErrorEquals": ["States.ALL"]}]}}}),
        "
SCHEMA_VALIDATION_FAILED: Field 'TimeoutSeconds' is not supported; only Task states accept it at /States/W
SCHEMA_VALIDATION_FAILED: Field 'Retry' is not supported; only Task, Parallel and Map states accept it at /States/W",
    );
}

#[test]
fn nested_states_get_their_real_location() {
    check(
        json!({"StartAt": "Map", "States": {"Map": {"Type": "Map", "End": true,
            "ItemProcessor": {"StartAt": "Inner", "States": {
                "Inner": {"Type": "Pass", "Next": "Innerr"}, "Last": pass_end()}}}}}),
        "
MISSING_TRANSITION_TARGET: Missing 'Next' target: Innerr; did you mean 'Inner'? at /States/Map/ItemProcessor/States/Inner/Next
MISSING_TRANSITION_TARGET: State \"Last\" is not reachable. at /States/Map/ItemProcessor/States/Last",
    );
}

#[test]
fn transitions_can_not_leave_their_branch() {
    check(
        json!({"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "Next": "Done", "Branches": [
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "Next": "Done"}}}]},
            "Done": {"Type": "Succeed"}}}),
        "MISSING_TRANSITION_TARGET: Missing 'Next' target: Done; that state is defined in another \
         block (/States), and a transition can only name a state of its own block at \
         /States/P/Branches[0]/States/B/Next",
    );
}

#[test]
fn no_terminal_state_hides_unreachable_states() {
    check(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Next": "B"},
            "B": {"Type": "Pass", "Next": "A"},
            "C": {"Type": "Pass", "Next": "A"}}}),
        "MISSING_END_STATE: Workflow has no terminal state",
    );
}

#[test]
fn retry_fields_name_their_valid_range() {
    check(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r", "End": true,
            "Retry": [
                {"ErrorEquals": ["States.ALL"], "BackoffRate": 0.5, "MaxAttempts": -1},
                {"ErrorEquals": [], "JitterStrategy": "PARTIAL", "IntervalSeconds": 0}]}}}),
        "
SCHEMA_VALIDATION_FAILED: The entry with 'States.ALL' must be the last one in 'Retry': entries after it can never match at /States/T/Retry[0]/ErrorEquals
SCHEMA_VALIDATION_FAILED: Field 'BackoffRate' is 0.5; minimum value is 1 at /States/T/Retry[0]/BackoffRate
SCHEMA_VALIDATION_FAILED: Field 'MaxAttempts' is -1; value should be an integer from 0 to 99999999 at /States/T/Retry[0]/MaxAttempts
SCHEMA_VALIDATION_FAILED: Field 'ErrorEquals' is empty; it needs at least one error name, e.g. [\"States.ALL\"] at /States/T/Retry[1]/ErrorEquals
SCHEMA_VALIDATION_FAILED: Field 'JitterStrategy' is \"PARTIAL\"; value should be one of the following: [FULL, NONE] at /States/T/Retry[1]/JitterStrategy
SCHEMA_VALIDATION_FAILED: Field 'IntervalSeconds' is 0; value should be an integer from 1 to 99999999 at /States/T/Retry[1]/IntervalSeconds",
    );
}

#[test]
fn choice_rules_need_one_operator_and_a_variable() {
    check(
        json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Default": "D", "Choices": [
                {"StringEquals": "x", "Next": "D"},
                {"Variable": "$.a", "IsPresent": true, "IsNull": false, "Next": "D"},
                {"Not": {"Variable": "$.a", "IsPresent": true, "Next": "D"}, "Next": "D"}]},
            "D": {"Type": "Succeed"}}}),
        "
SCHEMA_VALIDATION_FAILED: The field 'Variable' is required but was missing: 'StringEquals' compares the value at that path at /States/C/Choices[0]
SCHEMA_VALIDATION_FAILED: A Choice rule may have only one comparison operator or combinator, found 'IsPresent' and 'IsNull' at /States/C/Choices[1]
SCHEMA_VALIDATION_FAILED: Field 'Next' is not supported in a nested Choice rule: only the rules directly in 'Choices' name a state at /States/C/Choices[2]/Not",
    );
}

#[test]
fn query_language_mixing_follows_aws() {
    check(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Output": {"a": 1}, "End": true}}}),
        "SCHEMA_VALIDATION_FAILED: The QueryLanguage is set to 'JSONPath', but field 'Output' is \
         only supported for the 'JSONata' QueryLanguage at /States/P",
    );
    check(
        json!({"QueryLanguage": "JSONata", "StartAt": "P",
            "States": {"P": {"Type": "Pass", "QueryLanguage": "JSONPath", "Output": 1, "End": true}}}),
        "SCHEMA_VALIDATION_FAILED: 'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for \
         whole state machine at /States/P",
    );
}

#[test]
fn paths_are_checked_by_kind() {
    check(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r", "End": true,
            "InputPath": "bug$.a", "ResultPath": "$.items[*]", "Parameters": {"x.$": 23, "y.$": "$.ok"}}}}),
        "
SCHEMA_VALIDATION_FAILED: Field 'InputPath' is \"bug$.a\", which is not a valid JSONPath: a path must start with '$' (at character 0) at /States/T/InputPath
SCHEMA_VALIDATION_FAILED: Value is not a Reference Path: field 'ResultPath' is \"$.items[*]\"; a reference path names one node with '.name', ['name'] and [n] steps only; '..', '*', slices, unions and filters are not allowed at /States/T/ResultPath
SCHEMA_VALIDATION_FAILED: The value for the field 'x.$' must be a valid JSONPath or a valid intrinsic function call at /States/T/Parameters/x.$",
    );
}

#[test]
fn wait_takes_exactly_one_duration() {
    check(
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": true}}}),
        "SCHEMA_VALIDATION_FAILED: Fields 'Seconds' and 'SecondsPath' can not be used together: a \
         state may have only one of [Seconds, Timestamp, SecondsPath, TimestampPath] at /States/W/Seconds",
    );
}

#[test]
fn express_machines_refuse_callbacks_and_activities() {
    check_as(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync", "Next": "B"},
            "B": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:1:activity:x", "End": true}}}),
        MachineType::Express,
        "
SCHEMA_VALIDATION_FAILED: Express state machine does not support '.sync' service integration  at /States/A/Resource
SCHEMA_VALIDATION_FAILED: Express state machine does not support Activity ARN at /States/B/Resource",
    );
}

#[test]
fn names_are_unique_and_short() {
    let long = "N".repeat(81);
    check(
        json!({"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "Next": long.clone(), "Branches": [
                {"StartAt": "X", "States": {"X": pass_end()}}]},
            long.clone(): {"Type": "Pass", "Next": "X"},
            "X": pass_end()}}),
        &format!(
            "
SCHEMA_VALIDATION_FAILED: State name '{long}' is 81 characters long; the maximum is 80 at /States/{long}
SCHEMA_VALIDATION_FAILED: Duplicate State name: 'X' is already defined at /States/P/Branches[0]/States/X; state names must be unique across the whole state machine, nested states included at /States/X"
        ),
    );
}

#[test]
fn raw_text_problems() {
    check_text(
        "not a definition",
        "INVALID_JSON_DESCRIPTION: Unrecognized token 'not': was expecting (JSON String, Number, \
         Array, Object or token 'null', 'true' or 'false')\n at [Source: (String)\"not a \
         definition\"; line: 1, column: 4] at [Source: (String)\"not a definition\"; line: 1, column: 4]",
    );
    check_text(
        "[1]",
        "SCHEMA_VALIDATION_FAILED: Definition must be a valid JSON object",
    );
    check_text(
        r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "End": true}}}"#,
        "SCHEMA_VALIDATION_FAILED: Duplicate field 'End': an object may name a field only once, \
         and only the last value would count; keep one at /States/A",
    );
}

#[test]
fn dangling_start_at_reports_the_states_it_leaves_behind() {
    check(
        json!({"StartAt": "Nope", "States": {"A": pass_end()}}),
        "
MISSING_TRANSITION_TARGET: Missing 'Next' target: Nope at /StartAt
MISSING_TRANSITION_TARGET: State \"A\" is not reachable. at /States/A",
    );
}

#[test]
fn map_fields_are_checked_in_place() {
    check(
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "MaxConcurrency": -1, "ToleratedFailurePercentage": 105,
            "ItemProcessor": {"QueryLanguage": "JSONata",
                "ProcessorConfig": {"Mode": "PARALLEL"},
                "Comment": 5,
                "StartAt": "P", "States": {"P": pass_end()}}}}}),
        "
SCHEMA_VALIDATION_FAILED: Field 'MaxConcurrency' is -1; minimum value is 0 at /States/M/MaxConcurrency
SCHEMA_VALIDATION_FAILED: Field 'ToleratedFailurePercentage' is 105; value should be a number from 0 to 100 at /States/M/ToleratedFailurePercentage
SCHEMA_VALIDATION_FAILED: Field 'Mode' is \"PARALLEL\"; value should be one of the following: [INLINE, DISTRIBUTED] at /States/M/ItemProcessor/ProcessorConfig/Mode
SCHEMA_VALIDATION_FAILED: Field 'QueryLanguage' is not supported; set it on the states inside an ItemProcessor or on the state machine at /States/M/ItemProcessor
SCHEMA_VALIDATION_FAILED: Expected value of type [STRING] for field 'Comment', got 5 at /States/M/ItemProcessor/Comment",
    );
}

#[test]
fn jsonata_choice_rules_take_a_condition() {
    check(
        json!({"QueryLanguage": "JSONata", "StartAt": "C", "States": {
            "C": {"Type": "Choice", "Default": "D", "Choices": [
                {"Condition": "{% $states.input.ok %}", "Next": "D"},
                {"Variable": "$.a", "IsPresent": true, "Next": "D"}]},
            "D": {"Type": "Succeed"}}}),
        "
SCHEMA_VALIDATION_FAILED: The field 'Condition' is required but was missing: a JSONata Choice rule holds true, false or a \"{% ... %}\" expression there at /States/C/Choices[1]
SCHEMA_VALIDATION_FAILED: The QueryLanguage is set to 'JSONata', but field 'Variable' is only supported for the 'JSONPath' QueryLanguage at /States/C/Choices[1]
SCHEMA_VALIDATION_FAILED: The QueryLanguage is set to 'JSONata', but field 'IsPresent' is only supported for the 'JSONPath' QueryLanguage at /States/C/Choices[1]",
    );
}

/// A definition using every state type and most fields, for the sweep below.
fn everything() -> serde_json::Value {
    json!({
        "Comment": "c", "StartAt": "T", "TimeoutSeconds": 10, "Version": "1.0",
        "States": {
            "T": {"Type": "Task", "Resource": "r", "Next": "C", "TimeoutSeconds": 5,
                "HeartbeatSeconds": 2, "Parameters": {"a.$": "$.a", "b": [1, {"c.$": "States.UUID()"}]},
                "ResultSelector": {"x.$": "$"}, "ResultPath": "$.r", "Credentials": {"RoleArn": "x"},
                "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 1, "BackoffRate": 2, "JitterStrategy": "FULL"}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "F", "ResultPath": null}]},
            "C": {"Type": "Choice", "Default": "W", "Choices": [
                {"And": [{"Variable": "$.a", "NumericEquals": 1}, {"Not": {"Variable": "$$.b", "IsNull": true}}], "Next": "P"}]},
            "W": {"Type": "Wait", "Timestamp": "2016-03-14T01:59:00Z", "Next": "P"},
            "P": {"Type": "Parallel", "Next": "M", "Branches": [
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": 1, "End": true}}}]},
            "M": {"Type": "Map", "Next": "S", "ItemsPath": "$.items", "MaxConcurrency": 2,
                "ItemSelector": {"v.$": "$$.Map.Item.Value"},
                "ItemReader": {"Resource": "r", "ReaderConfig": {"InputType": "CSV", "MaxItems": 3}, "Parameters": {}},
                "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"k": 1}},
                "ResultWriter": {"Resource": "w", "Parameters": {"Bucket": "b"}},
                "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}},
            "S": {"Type": "Succeed"},
            "F": {"Type": "Fail", "Error": "E", "CausePath": "$.c"}
        }
    })
}

#[test]
fn the_sweep_definition_is_valid() {
    check(everything(), "");
}

/// Replaces every node of a valid definition with values of every other
/// shape: validation must report problems, never panic.
#[test]
fn never_panics_whatever_a_field_holds() {
    fn pointers(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(obj) => {
                for (k, child) in obj {
                    pointers(
                        child,
                        format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                        out,
                    );
                }
            }
            serde_json::Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    pointers(child, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
        out.push(at);
    }
    let base = everything();
    let mut all = Vec::new();
    pointers(&base, String::new(), &mut all);
    let replacements = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1.5),
        json!(""),
        json!("$$..x[?("),
        json!("{% %}"),
        json!([]),
        json!([{}]),
        json!({}),
    ];
    let mut reported = 0;
    for pointer in all.iter().filter(|p| !p.is_empty()) {
        for replacement in &replacements {
            let mut def = base.clone();
            if let Some(slot) = def.pointer_mut(pointer) {
                *slot = replacement.clone();
            }
            for ty in [MachineType::Standard, MachineType::Express] {
                if !validate_as(&def, ty).is_empty() {
                    reported += 1;
                }
            }
        }
    }
    // Most replacements break something, and each break is reported.
    assert!(
        reported > all.len() * replacements.len(),
        "only {reported} mutations were reported"
    );
}

#[test]
fn json_syntax_errors_read_like_jackson() {
    check_text(
        r#"{"a": [1,]}"#,
        "INVALID_JSON_DESCRIPTION: Unexpected character (']' (code 93)): expected a value\n at \
         [Source: (String)\"{\"a\": [1,]}\"; line: 1, column: 11] at [Source: (String)\"{\"a\": \
         [1,]}\"; line: 1, column: 11]",
    );
}

#[test]
fn jsonata_references_aws_refuses() {
    check(
        json!({"QueryLanguage": "JSONata", "StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": "r", "End": true,
                "Output": {"a": "{% $$ %}", "b": "{% $states.errorOutput %}", "c": "{% '$$' & $states.input %}"},
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H",
                    "Output": "{% $states.errorOutput %}"}]},
            "H": {"Type": "Pass", "End": true, "Output": "{% %}"}}}),
        "
UNSUPPORTED_JSONATA_EXPRESSION: Reference to '$$' is not supported. at /States/T/Output/a
UNSUPPORTED_JSONATA_EXPRESSION: Field '$states.errorOutput' does not exist. It is only available in the Output and Assign of a catcher at /States/T/Output/b
INVALID_JSONATA_EXPRESSION: Unexpected end of expression at /States/H/Output",
    );
}

/// Paths as definitions deployed on AWS write them (issue #23): a '.' before
/// a bracket and trailing spaces, which Jayway's compiler accepts, in every
/// kind of path field and inside intrinsic arguments.
#[test]
fn jayway_path_spellings_deployed_on_aws_are_accepted() {
    check(
        json!({"StartAt": "P", "States": {
            "P": {"Type": "Pass", "InputPath": "$.[0]", "OutputPath": "$.Items.[0].State ",
                "Parameters": {"a.$": "$.[?(@.n > 0)]", "b.$": "States.Array($.Items.[0], $.x )",
                    "c.$": "$.Items[0]State"},
                "ResultPath": "$.r ", "Next": "C"},
            "C": {"Type": "Choice", "Choices": [
                {"Variable": "$.Items.[0].State", "StringEquals": "ok", "Next": "M"}],
                "Default": "M"},
            "M": {"Type": "Map", "ItemsPath": "$.[1].Items ", "End": true,
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}}}}}),
        "",
    );
}

/// A JSONata field has no context item, so AWS refuses what reads one at
/// the top level: a bare name, `$`, an object key; one diagnostic per name.
/// Names evaluated against a value (later steps, predicates) are fine.
#[test]
fn jsonata_top_level_references_are_refused() {
    check(
        json!({"QueryLanguage": "JSONata", "StartAt": "E", "States": {
            "E": {"Type": "Pass", "End": true, "Output": {
                "v": "{% phone %}",
                "w": "{% $.a & phone & phone %}",
                "x": "{% {aaa: 1} %}",
                "y": "{% $map($states.input.l, function($x){ b }) %}",
                "ok": "{% $states.input.items[$.price > 10].name %}",
                "ok2": "{% $count($states.input.items[price > 10]) %}",
                "ok3": "{% ($x := 5; $x + 1) %}"}}}}),
        "
UNSUPPORTED_JSONATA_EXPRESSION: Reference to 'phone' at the top level is not supported. at /States/E/Output/v
UNSUPPORTED_JSONATA_EXPRESSION: Reference to '$' at the top level is not supported. at /States/E/Output/w
UNSUPPORTED_JSONATA_EXPRESSION: Reference to 'phone' at the top level is not supported. at /States/E/Output/w
UNSUPPORTED_JSONATA_EXPRESSION: Reference to 'aaa' at the top level is not supported. at /States/E/Output/x
UNSUPPORTED_JSONATA_EXPRESSION: Reference to 'b' at the top level is not supported. at /States/E/Output/y",
    );
}

/// Every truncation of a definition (multi-byte characters included) is
/// reported as a syntax error, never a panic.
#[test]
fn never_panics_on_truncated_text() {
    let text = r#"{"Comment": "é ✓ 𝄞", "StartAt": "A", "States": {"A": {"Type": "Pass", "Result": [1, 2.5, true, null], "End": true}}}"#;
    check_text(text, "");
    for (end, _) in text.char_indices().skip(1) {
        let diagnostics = validate_text(&text[..end]);
        assert!(
            diagnostics
                .iter()
                .any(|d| d.code == crate::asl::Diagnostic::INVALID_JSON_DESCRIPTION),
            "no syntax error for {:?}: {diagnostics:?}",
            &text[..end]
        );
    }
}

#[test]
fn distributed_maps_name_their_execution_type() {
    check(
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"},
                "StartAt": "P", "States": {"P": pass_end()}}}}}),
        "SCHEMA_VALIDATION_FAILED: The field 'ExecutionType' is required but was missing: a \
         DISTRIBUTED Map runs each item as a STANDARD or EXPRESS child execution at \
         /States/M/ItemProcessor/ProcessorConfig",
    );
}
