//! Map states (checklist MAP-01..08, DMAP-01..09): the item processor
//! (`ItemProcessor` xor legacy `Iterator`), where items come from
//! (`ItemsPath`/`Items`, `ItemReader`), how they are shaped (`ItemSelector`,
//! `ItemBatcher`), concurrency, tolerated failures and `ResultWriter`.
//!
//! What an `ItemReader`/`ResultWriter` `Resource` names is the engine's
//! business, like a Task's.

use serde_json::{Map, Value};

use super::fields;
use super::paths::{self, Roots};
use super::query_language::{self, Lang};
use super::values;
use super::{Checker, Loc, StateCx};

pub(crate) fn check(ch: &mut Checker, cx: &StateCx<'_>) {
    values::exclusive(ch, cx, &["Parameters", "ItemSelector"]);
    values::exclusive(ch, cx, &["MaxConcurrency", "MaxConcurrencyPath"]);
    values::exclusive(
        ch,
        cx,
        &["ToleratedFailureCount", "ToleratedFailureCountPath"],
    );
    values::exclusive(
        ch,
        cx,
        &[
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
        ],
    );
    for (key, value) in cx.obj {
        if cx.get(key).is_none() {
            continue;
        }
        let loc = cx.at(key);
        match key.as_str() {
            // ItemsPath may read the context object (checklist MAP-02) but
            // is never null (statelint's "map-with-null-itemspath").
            "ItemsPath" => values::reference_path_field(ch, &loc, key, value, Roots::ANY),
            "Items" => match value {
                // An object iterates its key/value pairs (checklist MAP-02).
                Value::Array(_) | Value::Object(_) => {
                    query_language::jsonata_template(ch, &loc, value)
                }
                Value::String(s) if query_language::expression(s).is_some() => {
                    query_language::jsonata_string(ch, &loc, s)
                }
                _ => ch.schema(
                    &loc,
                    format!(
                        "Field 'Items' is {}; expected an array, an object or a JSONata expression \
                         \"{{% ... %}}\"",
                        values::show(value)
                    ),
                ),
            },
            "ItemSelector" => template(ch, cx.lang, &loc, value),
            "MaxConcurrency" => {
                values::integer_or_expression(ch, cx, &loc, key, value, 0, i64::MAX);
            }
            "ToleratedFailureCount" => {
                values::integer_or_expression(ch, cx, &loc, key, value, 0, i64::MAX);
            }
            "ToleratedFailurePercentage" => {
                values::number_or_expression(ch, cx, &loc, key, value, 0.0, 100.0)
            }
            "MaxConcurrencyPath"
            | "ToleratedFailureCountPath"
            | "ToleratedFailurePercentagePath" => {
                values::reference_path_field(ch, &loc, key, value, Roots::NO_CONTEXT)
            }
            "Label" => {
                values::string(ch, &loc, key, value);
            }
            "ItemReader" => item_reader(ch, cx, &loc, value),
            "ItemBatcher" => item_batcher(ch, cx, &loc, value),
            "ResultWriter" => result_writer(ch, cx, &loc, value),
            _ => {}
        }
    }
    // Last, so the Map's own problems come before those of its states.
    processor(ch, cx);
}

/// A JSONPath payload template or a JSONata template, by language.
fn template(ch: &mut Checker, lang: Lang, loc: &Loc, value: &Value) {
    match lang {
        Lang::JsonPath => paths::jsonpath_template(ch, loc, value),
        Lang::Jsonata => query_language::jsonata_template(ch, loc, value),
    }
}

/// `ItemProcessor` (with `ProcessorConfig`) xor the legacy `Iterator`.
fn processor(ch: &mut Checker, cx: &StateCx<'_>) {
    let count = values::exclusive(ch, cx, &["ItemProcessor", "Iterator"]);
    if count == 0 {
        ch.schema(
            &cx.loc,
            "The field 'ItemProcessor' is required but was missing: it holds the StartAt and \
             States run for each item ('Iterator' in older definitions)",
        );
    }
    for key in ["ItemProcessor", "Iterator"] {
        let Some(value) = cx.get(key) else { continue };
        let loc = cx.at(key);
        let Some(obj) = values::object(ch, &loc, key, value) else {
            continue;
        };
        // AWS accepts ProcessorConfig in the legacy Iterator too (recorded:
        // the engine cases test_map_state_legacy_config_*).
        if let Some(config) = obj.get("ProcessorConfig") {
            processor_config(ch, &loc.key("ProcessorConfig"), config);
        }
        let what = if key == "ItemProcessor" {
            "an ItemProcessor"
        } else {
            "an Iterator"
        };
        ch.sub_machine(obj, &loc, what, &["Comment", "ProcessorConfig"]);
    }
}

fn processor_config(ch: &mut Checker, loc: &Loc, value: &Value) {
    let Some(obj) = values::object(ch, loc, "ProcessorConfig", value) else {
        return;
    };
    // "You must provide this field if you specified DISTRIBUTED for the Mode
    // sub-field" (Developer Guide, Distributed Map).
    if obj.get("Mode").and_then(Value::as_str) == Some("DISTRIBUTED")
        && !obj.contains_key("ExecutionType")
    {
        ch.schema(
            loc,
            "The field 'ExecutionType' is required but was missing: a DISTRIBUTED Map runs \
             each item as a STANDARD or EXPRESS child execution",
        );
    }
    for (key, value) in obj {
        let field_loc = loc.key(key);
        match key.as_str() {
            "Mode" => values::one_of(ch, &field_loc, key, value, &["INLINE", "DISTRIBUTED"]),
            "ExecutionType" => values::one_of(ch, &field_loc, key, value, &["STANDARD", "EXPRESS"]),
            _ => ch.schema(
                loc,
                values::unknown_field_message(key, &["Mode", "ExecutionType"], "ProcessorConfig"),
            ),
        }
    }
}

/// `Parameters` (JSONPath) or `Arguments` (JSONata) of a reader or writer.
fn resource_arguments(ch: &mut Checker, cx: &StateCx<'_>, loc: &Loc, obj: &Map<String, Value>) {
    for key in ["Parameters", "Arguments"] {
        let Some(value) = obj.get(key) else { continue };
        let wrong = matches!(
            (key, cx.lang),
            ("Parameters", Lang::Jsonata) | ("Arguments", Lang::JsonPath)
        );
        let field_loc = loc.key(key);
        if wrong {
            ch.schema(&field_loc, query_language::wrong_language(cx.lang, key));
        } else if key == "Parameters" {
            paths::jsonpath_template(ch, &field_loc, value);
        } else {
            fields::arguments(ch, &field_loc, value);
        }
    }
}

fn item_reader(ch: &mut Checker, cx: &StateCx<'_>, loc: &Loc, value: &Value) {
    let Some(obj) = values::object(ch, loc, "ItemReader", value) else {
        return;
    };
    match obj.get("Resource") {
        None => ch.schema(loc, "The field 'Resource' is required but was missing"),
        Some(resource) => {
            values::string(ch, &loc.key("Resource"), "Resource", resource);
        }
    }
    resource_arguments(ch, cx, loc, obj);
    const FIELDS: [&str; 4] = ["Resource", "ReaderConfig", "Parameters", "Arguments"];
    for (key, value) in obj {
        if key == "ReaderConfig" {
            reader_config(ch, cx, &loc.key(key), value);
        } else if !FIELDS.contains(&key.as_str()) {
            ch.schema(
                loc,
                values::unknown_field_message(key, &FIELDS, "an ItemReader"),
            );
        }
    }
}

fn reader_config(ch: &mut Checker, cx: &StateCx<'_>, loc: &Loc, value: &Value) {
    let Some(obj) = values::object(ch, loc, "ReaderConfig", value) else {
        return;
    };
    if obj.contains_key("MaxItems") && obj.contains_key("MaxItemsPath") {
        ch.schema(
            &loc.key("MaxItems"),
            "Fields 'MaxItems' and 'MaxItemsPath' can not be used together: a ReaderConfig may \
             have only one of [MaxItems, MaxItemsPath]",
        );
    }
    const FIELDS: [&str; 10] = [
        "InputType",
        "CSVHeaderLocation",
        "CSVHeaders",
        "CSVDelimiter",
        "MaxItems",
        "MaxItemsPath",
        "ManifestType",
        "Transformation",
        "ItemsPointer",
        "Comment",
    ];
    for (key, value) in obj {
        let field_loc = loc.key(key);
        match key.as_str() {
            "InputType" => values::one_of(
                ch,
                &field_loc,
                key,
                value,
                &["CSV", "JSON", "JSONL", "PARQUET", "MANIFEST"],
            ),
            "CSVHeaderLocation" => {
                values::one_of(ch, &field_loc, key, value, &["FIRST_ROW", "GIVEN"])
            }
            "CSVDelimiter" => values::one_of(
                ch,
                &field_loc,
                key,
                value,
                &["COMMA", "PIPE", "SEMICOLON", "SPACE", "TAB"],
            ),
            "ManifestType" => {
                values::one_of(ch, &field_loc, key, value, &["ATHENA_DATA", "S3_INVENTORY"])
            }
            "Transformation" => {
                values::one_of(ch, &field_loc, key, value, &["NONE", "LOAD_AND_FLATTEN"])
            }
            "CSVHeaders" => {
                if let Some(headers) = values::array(ch, &field_loc, key, value) {
                    for (i, header) in headers.iter().enumerate() {
                        values::string(ch, &field_loc.index(i), key, header);
                    }
                }
            }
            "MaxItems" => {
                values::integer_or_expression(ch, cx, &field_loc, key, value, 0, 100_000_000);
            }
            "MaxItemsPath" => {
                if cx.lang == Lang::Jsonata {
                    ch.schema(loc, query_language::wrong_language(cx.lang, key));
                } else {
                    values::reference_path_field(ch, &field_loc, key, value, Roots::NO_CONTEXT);
                }
            }
            "ItemsPointer" | "Comment" => {
                values::string(ch, &field_loc, key, value);
            }
            _ => ch.schema(
                loc,
                values::unknown_field_message(key, &FIELDS, "a ReaderConfig"),
            ),
        }
    }
}

fn item_batcher(ch: &mut Checker, cx: &StateCx<'_>, loc: &Loc, value: &Value) {
    let Some(obj) = values::object(ch, loc, "ItemBatcher", value) else {
        return;
    };
    for pair in [
        ["MaxItemsPerBatch", "MaxItemsPerBatchPath"],
        ["MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath"],
    ] {
        if obj.contains_key(pair[0]) && obj.contains_key(pair[1]) {
            ch.schema(
                &loc.key(pair[0]),
                format!(
                    "Fields '{}' and '{}' can not be used together: an ItemBatcher may have \
                     only one of [{}]",
                    pair[0],
                    pair[1],
                    pair.join(", ")
                ),
            );
        }
    }
    const LIMITS: [&str; 4] = [
        "MaxItemsPerBatch",
        "MaxItemsPerBatchPath",
        "MaxInputBytesPerBatch",
        "MaxInputBytesPerBatchPath",
    ];
    if !LIMITS.iter().any(|k| obj.contains_key(*k)) {
        ch.schema(
            loc,
            "An ItemBatcher needs at least one of [MaxItemsPerBatch, MaxItemsPerBatchPath, \
             MaxInputBytesPerBatch, MaxInputBytesPerBatchPath]",
        );
    }
    for (key, value) in obj {
        let field_loc = loc.key(key);
        match key.as_str() {
            "MaxItemsPerBatch" => {
                values::integer_or_expression(ch, cx, &field_loc, key, value, 1, i64::MAX);
            }
            "MaxInputBytesPerBatch" => {
                values::integer_or_expression(ch, cx, &field_loc, key, value, 1, 262_144);
            }
            "MaxItemsPerBatchPath" | "MaxInputBytesPerBatchPath" => {
                if cx.lang == Lang::Jsonata {
                    ch.schema(loc, query_language::wrong_language(cx.lang, key));
                } else {
                    values::reference_path_field(ch, &field_loc, key, value, Roots::NO_CONTEXT);
                }
            }
            "BatchInput" => template(ch, cx.lang, &field_loc, value),
            _ => {
                let mut allowed = LIMITS.to_vec();
                allowed.push("BatchInput");
                ch.schema(
                    loc,
                    values::unknown_field_message(key, &allowed, "an ItemBatcher"),
                );
            }
        }
    }
}

fn result_writer(ch: &mut Checker, cx: &StateCx<'_>, loc: &Loc, value: &Value) {
    let Some(obj) = values::object(ch, loc, "ResultWriter", value) else {
        return;
    };
    let has_arguments = obj.contains_key("Parameters") || obj.contains_key("Arguments");
    match obj.get("Resource") {
        Some(resource) => {
            values::string(ch, &loc.key("Resource"), "Resource", resource);
            if !has_arguments {
                ch.schema(
                    loc,
                    format!(
                        "The field '{}' is required but was missing: it names the Bucket and \
                         Prefix the results are written to",
                        if cx.lang == Lang::Jsonata {
                            "Arguments"
                        } else {
                            "Parameters"
                        }
                    ),
                );
            }
        }
        None if !obj.contains_key("WriterConfig") => ch.schema(
            loc,
            "A ResultWriter needs 'Resource' with its destination, or 'WriterConfig', or both",
        ),
        None => {}
    }
    resource_arguments(ch, cx, loc, obj);
    const FIELDS: [&str; 4] = ["Resource", "Parameters", "Arguments", "WriterConfig"];
    for (key, value) in obj {
        if key == "WriterConfig" {
            writer_config(ch, &loc.key(key), value);
        } else if !FIELDS.contains(&key.as_str()) {
            ch.schema(
                loc,
                values::unknown_field_message(key, &FIELDS, "a ResultWriter"),
            );
        }
    }
}

fn writer_config(ch: &mut Checker, loc: &Loc, value: &Value) {
    let Some(obj) = values::object(ch, loc, "WriterConfig", value) else {
        return;
    };
    let types_ok = ["OutputType", "Transformation"]
        .iter()
        .all(|k| obj.get(*k).is_some_and(Value::is_string));
    if !types_ok {
        ch.schema(
            loc,
            "A WriterConfig needs both 'OutputType' (JSON or JSONL) and 'Transformation' \
             (NONE, COMPACT or FLATTEN), as strings",
        );
    }
    for (key, value) in obj {
        let field_loc = loc.key(key);
        match (key.as_str(), value.as_str()) {
            ("OutputType", Some(_)) => {
                values::one_of(ch, &field_loc, key, value, &["JSON", "JSONL"])
            }
            ("Transformation", Some(_)) => {
                values::one_of(ch, &field_loc, key, value, &["NONE", "COMPACT", "FLATTEN"])
            }
            ("OutputType" | "Transformation", None) => {}
            _ => ch.schema(
                loc,
                values::unknown_field_message(
                    key,
                    &["OutputType", "Transformation"],
                    "a WriterConfig",
                ),
            ),
        }
    }
}
