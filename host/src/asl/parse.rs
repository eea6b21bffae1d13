//! From a JSON definition to the typed [`model`](super::model).
//!
//! [`parse`] runs static validation first and builds the model only for a
//! document without problems; the builder still reports, never panics, if
//! something slipped past validation.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::Diagnostic;
use super::model::*;
use super::validate::MachineType;
use crate::query::choice::ChoiceRule;
use crate::query::intrinsics::Intrinsic;
use crate::query::jsonata::{JsonataExpr, JsonataValue};
use crate::query::jsonpath::JsonPath;
use crate::query::payload::Template;
use crate::query::pointer_token;

/// Validates `definition` (as a Standard machine) and compiles it into a [`StateMachine`].
pub fn parse(definition: &Value) -> Result<StateMachine, Vec<Diagnostic>> {
    parse_as(definition, MachineType::Standard)
}

/// Validates `definition` for a machine of type `ty` and compiles it.
pub fn parse_as(definition: &Value, ty: MachineType) -> Result<StateMachine, Vec<Diagnostic>> {
    let problems = super::validate::validate_as(definition, ty);
    if !problems.is_empty() {
        return Err(problems);
    }
    build(definition)
}

/// Parses definition text (as read from a file), validates it for a machine
/// of type `ty` (duplicate keys included) and compiles it.
pub fn parse_text_as(text: &str, ty: MachineType) -> Result<StateMachine, Vec<Diagnostic>> {
    let problems = super::validate::validate_text_as(text, ty);
    if !problems.is_empty() {
        return Err(problems);
    }
    let value: Value = serde_json::from_str(text).map_err(|e| {
        vec![Diagnostic {
            code: Diagnostic::INVALID_JSON_DESCRIPTION,
            message: e.to_string(),
            location: None,
        }]
    })?;
    build(&value)
}

/// Parses definition text as a Standard machine.
pub fn parse_text(text: &str) -> Result<StateMachine, Vec<Diagnostic>> {
    parse_text_as(text, MachineType::Standard)
}

/// Compiles a validated definition; still reports, never panics, if
/// something slipped past validation.
fn build(definition: &Value) -> Result<StateMachine, Vec<Diagnostic>> {
    let mut builder = Builder::default();
    let Some(object) = definition.as_object() else {
        return Err(vec![Diagnostic::schema(
            "/",
            "Definition must be a valid JSON object",
        )]);
    };
    let top_language = match object.get("QueryLanguage").and_then(Value::as_str) {
        Some("JSONata") => QueryLanguage::JsonAta,
        _ => QueryLanguage::JsonPath,
    };
    let machine = builder.machine(object, "", top_language);
    if builder.problems.is_empty() {
        Ok(machine)
    } else {
        Err(builder.problems)
    }
}

/// Whether `value` holds an expression that may read the context object:
/// a JSONPath or intrinsic argument starting `$$`, or JSONata that reads
/// `$states.context` (or every binding, through `$eval`). Errs towards yes.
fn reads_context(value: &Value) -> bool {
    match value {
        Value::String(s) => {
            let trimmed = s.trim();
            match trimmed
                .strip_prefix("{%")
                .and_then(|rest| rest.strip_suffix("%}"))
            {
                Some(src) => JsonataExpr::compile(src).map_or(true, |e| e.reads_context()),
                None => s.contains("$$"),
            }
        }
        Value::Array(items) => items.iter().any(reads_context),
        Value::Object(fields) => fields.values().any(reads_context),
        _ => false,
    }
}

#[derive(Default)]
struct Builder {
    problems: Vec<Diagnostic>,
}

impl Builder {
    fn problem(&mut self, location: String, message: impl Into<String>) {
        self.problems.push(Diagnostic::schema(location, message));
    }

    /// A machine or sub-machine (Parallel branch, Map processor) at `at`.
    fn machine(
        &mut self,
        object: &Map<String, Value>,
        at: &str,
        language: QueryLanguage,
    ) -> StateMachine {
        let empty = Map::new();
        let states_json = object
            .get("States")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let index: HashMap<&str, usize> = states_json
            .keys()
            .enumerate()
            .map(|(i, name)| (name.as_str(), i))
            .collect();
        let start_at = object
            .get("StartAt")
            .and_then(Value::as_str)
            .and_then(|name| index.get(name).copied());
        let start_at = start_at.unwrap_or_else(|| {
            self.problem(format!("{at}/StartAt"), "StartAt must name a state");
            0
        });
        let states = states_json
            .iter()
            .map(|(name, state)| {
                let location = format!("{at}/States/{}", pointer_token(name));
                let empty = Map::new();
                let fields = state.as_object().unwrap_or(&empty);
                self.state(name, fields, &location, &index, language)
            })
            .collect();
        StateMachine {
            states,
            start_at,
            timeout_seconds: object.get("TimeoutSeconds").and_then(Value::as_u64),
            query_language: language,
            reads_context: object.values().any(reads_context),
        }
    }

    fn state(
        &mut self,
        name: &str,
        f: &Map<String, Value>,
        at: &str,
        index: &HashMap<&str, usize>,
        machine_language: QueryLanguage,
    ) -> State {
        let language = match f.get("QueryLanguage").and_then(Value::as_str) {
            Some("JSONata") => QueryLanguage::JsonAta,
            Some(_) => QueryLanguage::JsonPath,
            None => machine_language,
        };
        let target = |this: &mut Self, field: &str, value: Option<&Value>| -> Option<usize> {
            let name = value?.as_str();
            match name.and_then(|n| index.get(n).copied()) {
                Some(i) => Some(i),
                None => {
                    this.problem(
                        format!("{at}/{field}"),
                        format!("Missing 'Next' target: {}", name.unwrap_or("?")),
                    );
                    None
                }
            }
        };
        let transition = match target(self, "Next", f.get("Next")) {
            Some(i) => Transition::Next(i),
            None => Transition::End,
        };
        let type_name = f.get("Type").and_then(Value::as_str).unwrap_or("");
        let kind = match type_name {
            "Pass" => StateKind::Pass {
                result: f.get("Result").cloned(),
            },
            "Task" => StateKind::Task(TaskSpec {
                resource: f
                    .get("Resource")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                timeout: self.seconds(f, "TimeoutSeconds", at, language),
                heartbeat: self.seconds(f, "HeartbeatSeconds", at, language),
            }),
            "Choice" => {
                let mut choices = Vec::new();
                for (i, rule) in f
                    .get("Choices")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                {
                    let rule_at = format!("{at}/Choices/{i}");
                    let next = target(self, &format!("Choices/{i}/Next"), rule.get("Next"));
                    let condition = if language == QueryLanguage::JsonAta {
                        self.jsonata(rule.get("Condition"), &format!("{rule_at}/Condition"))
                            .map(Condition::Jsonata)
                    } else {
                        match ChoiceRule::parse(rule) {
                            Ok(compiled) => Some(Condition::Rule(compiled)),
                            Err(problems) => {
                                for p in problems {
                                    self.problem(format!("{rule_at}{}", p.pointer), p.message);
                                }
                                None
                            }
                        }
                    };
                    let assign =
                        self.assign(rule.get("Assign"), &format!("{rule_at}/Assign"), language);
                    let output = self.jsonata(rule.get("Output"), &format!("{rule_at}/Output"));
                    if let (Some(condition), Some(next)) = (condition, next) {
                        choices.push(ChoiceBranch {
                            condition,
                            next,
                            assign,
                            output,
                        });
                    }
                }
                let default = target(self, "Default", f.get("Default"));
                StateKind::Choice { choices, default }
            }
            "Wait" => StateKind::Wait(self.wait(f, at, language)),
            "Succeed" => StateKind::Succeed,
            "Fail" => StateKind::Fail {
                error: self.fail_field(f, "Error", at, language),
                cause: self.fail_field(f, "Cause", at, language),
            },
            "Parallel" => {
                let branches = f
                    .get("Branches")
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default()
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        let empty = Map::new();
                        let body = b.as_object().unwrap_or(&empty);
                        Arc::new(self.machine(
                            body,
                            &format!("{at}/Branches/{i}"),
                            machine_language,
                        ))
                    })
                    .collect();
                StateKind::Parallel { branches }
            }
            "Map" => StateKind::Map(Box::new(self.map(f, at, machine_language, language))),
            other => {
                self.problem(
                    format!("{at}/Type"),
                    format!("unknown state type '{other}'"),
                );
                StateKind::Succeed
            }
        };
        let retry = self.retriers(f, at);
        let catch = f
            .get("Catch")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let next = target(self, &format!("Catch/{i}/Next"), c.get("Next"))?;
                Some(Catcher {
                    error_equals: strings(c.get("ErrorEquals")),
                    next,
                    result_path: self
                        .path_field(c.get("ResultPath"), &format!("{at}/Catch/{i}/ResultPath")),
                    assign: self.assign(
                        c.get("Assign"),
                        &format!("{at}/Catch/{i}/Assign"),
                        language,
                    ),
                    output: self.jsonata(c.get("Output"), &format!("{at}/Catch/{i}/Output")),
                })
            })
            .collect();
        let io = if language == QueryLanguage::JsonPath {
            IoProcessing {
                input_path: self.path_field(f.get("InputPath"), &format!("{at}/InputPath")),
                parameters: self.template(
                    f.get("Parameters").filter(|_| type_name != "Map"),
                    &format!("{at}/Parameters"),
                ),
                result_selector: self
                    .template(f.get("ResultSelector"), &format!("{at}/ResultSelector")),
                result_path: self.path_field(f.get("ResultPath"), &format!("{at}/ResultPath")),
                output_path: self.path_field(f.get("OutputPath"), &format!("{at}/OutputPath")),
            }
        } else {
            IoProcessing::default()
        };
        let assign = self.assign(f.get("Assign"), &format!("{at}/Assign"), language);
        let (output, arguments) = if language == QueryLanguage::JsonAta {
            (
                self.jsonata(f.get("Output"), &format!("{at}/Output")),
                self.jsonata(f.get("Arguments"), &format!("{at}/Arguments")),
            )
        } else {
            (None, None)
        };
        State {
            name: name.to_owned(),
            kind,
            query_language: language,
            io,
            transition,
            retry,
            catch,
            assign,
            output,
            arguments,
        }
    }

    /// A JSONata-mode field: `{% %}` expressions anywhere inside it.
    fn jsonata(&mut self, value: Option<&Value>, at: &str) -> Option<JsonataValue> {
        match JsonataValue::parse(value?) {
            Ok(compiled) => Some(compiled),
            Err(problems) => {
                for p in problems {
                    self.problem(format!("{at}{}", p.pointer), p.message);
                }
                None
            }
        }
    }

    fn assign(
        &mut self,
        value: Option<&Value>,
        at: &str,
        language: QueryLanguage,
    ) -> Option<Assign> {
        match language {
            QueryLanguage::JsonPath => self.template(value, at).map(Assign::Path),
            QueryLanguage::JsonAta => self.jsonata(value, at).map(Assign::Jsonata),
        }
    }

    fn path(&mut self, src: &str, at: &str) -> Option<JsonPath> {
        match JsonPath::parse(src) {
            Ok(path) => Some(path),
            Err(e) => {
                self.problem(at.to_owned(), e.to_string());
                None
            }
        }
    }

    fn path_field(&mut self, value: Option<&Value>, at: &str) -> PathField {
        match value {
            None => PathField::Default,
            Some(Value::Null) => PathField::Null,
            Some(Value::String(src)) => match self.path(src, at) {
                Some(path) => PathField::Path(path),
                None => PathField::Default,
            },
            Some(_) => {
                self.problem(at.to_owned(), "expected a path string or null");
                PathField::Default
            }
        }
    }

    fn template(&mut self, value: Option<&Value>, at: &str) -> Option<Template> {
        match Template::parse(value?) {
            Ok(template) => Some(template),
            Err(problems) => {
                for p in problems {
                    self.problem(format!("{at}{}", p.pointer), p.message);
                }
                None
            }
        }
    }

    fn seconds(
        &mut self,
        f: &Map<String, Value>,
        field: &str,
        at: &str,
        language: QueryLanguage,
    ) -> Option<SecondsField> {
        if language == QueryLanguage::JsonAta {
            return self
                .jsonata(f.get(field), &format!("{at}/{field}"))
                .map(SecondsField::Jsonata);
        }
        if let Some(n) = f.get(field).and_then(Value::as_u64) {
            return Some(SecondsField::Literal(n));
        }
        let path_field = format!("{field}Path");
        let src = f.get(&path_field)?.as_str()?;
        self.path(src, &format!("{at}/{path_field}"))
            .map(SecondsField::Path)
    }

    fn wait(&mut self, f: &Map<String, Value>, at: &str, language: QueryLanguage) -> WaitSpec {
        if language == QueryLanguage::JsonAta {
            if let Some(seconds) = self.jsonata(f.get("Seconds"), &format!("{at}/Seconds")) {
                return WaitSpec::SecondsExpr(seconds);
            }
            if let Some(timestamp) = self.jsonata(f.get("Timestamp"), &format!("{at}/Timestamp")) {
                return WaitSpec::TimestampExpr(timestamp);
            }
        }
        if let Some(n) = f.get("Seconds").and_then(Value::as_u64) {
            return WaitSpec::Seconds(n);
        }
        if let Some(ts) = f.get("Timestamp").and_then(Value::as_str) {
            return WaitSpec::Timestamp(ts.to_owned());
        }
        for (field, make) in [
            (
                "SecondsPath",
                WaitSpec::SecondsPath as fn(JsonPath) -> WaitSpec,
            ),
            ("TimestampPath", WaitSpec::TimestampPath),
        ] {
            if let Some(src) = f.get(field).and_then(Value::as_str)
                && let Some(path) = self.path(src, &format!("{at}/{field}"))
            {
                return make(path);
            }
        }
        self.problem(
            at.to_owned(),
            "a Wait state needs one of Seconds, Timestamp, SecondsPath, TimestampPath",
        );
        WaitSpec::Seconds(0)
    }

    fn fail_field(
        &mut self,
        f: &Map<String, Value>,
        field: &str,
        at: &str,
        language: QueryLanguage,
    ) -> FailField {
        if language == QueryLanguage::JsonAta {
            return self
                .jsonata(f.get(field), &format!("{at}/{field}"))
                .map_or(FailField::Absent, FailField::Jsonata);
        }
        if let Some(text) = f.get(field).and_then(Value::as_str) {
            return FailField::Literal(text.to_owned());
        }
        let path_field = format!("{field}Path");
        let Some(src) = f.get(&path_field).and_then(Value::as_str) else {
            return FailField::Absent;
        };
        let at = format!("{at}/{path_field}");
        if src.starts_with("States.") {
            match Intrinsic::parse(src) {
                Ok(call) => FailField::Intrinsic(call),
                Err(e) => {
                    self.problem(at, e.to_string());
                    FailField::Absent
                }
            }
        } else {
            self.path(src, &at)
                .map_or(FailField::Absent, FailField::Path)
        }
    }

    fn count(
        &mut self,
        f: &Map<String, Value>,
        field: &str,
        at: &str,
        language: QueryLanguage,
    ) -> Option<CountField> {
        if language == QueryLanguage::JsonAta {
            return self
                .jsonata(f.get(field), &format!("{at}/{field}"))
                .map(CountField::Jsonata);
        }
        if let Some(n) = f.get(field).and_then(Value::as_u64) {
            return Some(CountField::Literal(n));
        }
        let path_field = format!("{field}Path");
        let src = f.get(&path_field)?.as_str()?;
        self.path(src, &format!("{at}/{path_field}"))
            .map(CountField::Path)
    }

    fn map(
        &mut self,
        f: &Map<String, Value>,
        at: &str,
        machine_language: QueryLanguage,
        language: QueryLanguage,
    ) -> MapSpec {
        let (body_field, body) = match (f.get("ItemProcessor"), f.get("Iterator")) {
            (Some(body), _) => ("ItemProcessor", body),
            (None, Some(body)) => ("Iterator", body),
            (None, None) => {
                self.problem(at.to_owned(), "a Map state needs an ItemProcessor");
                ("ItemProcessor", &Value::Null)
            }
        };
        let empty = Map::new();
        let body = body.as_object().unwrap_or(&empty);
        let distributed = body
            .get("ProcessorConfig")
            .and_then(|c| c.get("Mode"))
            .and_then(Value::as_str)
            == Some("DISTRIBUTED");
        let processor =
            Arc::new(self.machine(body, &format!("{at}/{body_field}"), machine_language));
        let selector_field = if f.contains_key("ItemSelector") {
            "ItemSelector"
        } else {
            "Parameters"
        };
        let jsonata = language == QueryLanguage::JsonAta;
        let tolerated_failure_percentage = if jsonata {
            self.jsonata(
                f.get("ToleratedFailurePercentage"),
                &format!("{at}/ToleratedFailurePercentage"),
            )
            .map(PercentField::Jsonata)
        } else if let Some(p) = f.get("ToleratedFailurePercentage").and_then(Value::as_f64) {
            Some(PercentField::Literal(p))
        } else {
            f.get("ToleratedFailurePercentagePath")
                .and_then(Value::as_str)
                .and_then(|src| self.path(src, &format!("{at}/ToleratedFailurePercentagePath")))
                .map(PercentField::Path)
        };
        let selector_at = format!("{at}/{selector_field}");
        let item_selector = if jsonata {
            self.jsonata(f.get(selector_field), &selector_at)
                .map(Selector::Jsonata)
        } else {
            self.template(f.get(selector_field), &selector_at)
                .map(Selector::Path)
        };
        MapSpec {
            processor,
            distributed,
            items_path: self.path_field(f.get("ItemsPath"), &format!("{at}/ItemsPath")),
            items: self.jsonata(f.get("Items").filter(|_| jsonata), &format!("{at}/Items")),
            item_selector,
            max_concurrency: self
                .count(f, "MaxConcurrency", at, language)
                .unwrap_or(CountField::Literal(0)),
            tolerated_failure_count: self.count(f, "ToleratedFailureCount", at, language),
            tolerated_failure_percentage,
            label: f.get("Label").and_then(Value::as_str).map(str::to_owned),
            item_reader: self.item_reader(f, at, language),
            item_batcher: self.item_batcher(f, at, language),
            result_writer: self.result_writer(f, at, language),
        }
    }

    /// `Parameters` (JSONPath) or `Arguments` (JSONata) of a reader or writer.
    fn request(
        &mut self,
        f: &Map<String, Value>,
        at: &str,
        language: QueryLanguage,
    ) -> Option<Selector> {
        if language == QueryLanguage::JsonAta {
            self.jsonata(f.get("Arguments"), &format!("{at}/Arguments"))
                .map(Selector::Jsonata)
        } else {
            self.template(f.get("Parameters"), &format!("{at}/Parameters"))
                .map(Selector::Path)
        }
    }

    fn item_reader(
        &mut self,
        f: &Map<String, Value>,
        at: &str,
        language: QueryLanguage,
    ) -> Option<ItemReaderSpec> {
        let reader = f.get("ItemReader")?.as_object()?;
        let at = format!("{at}/ItemReader");
        let empty = Map::new();
        let config = reader
            .get("ReaderConfig")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let config_at = format!("{at}/ReaderConfig");
        let csv_headers = (config.get("CSVHeaderLocation").and_then(Value::as_str)
            == Some("GIVEN"))
        .then(|| strings(config.get("CSVHeaders")));
        let csv_delimiter = match config.get("CSVDelimiter").and_then(Value::as_str) {
            Some("PIPE") => b'|',
            Some("SEMICOLON") => b';',
            Some("SPACE") => b' ',
            Some("TAB") => b'\t',
            _ => b',',
        };
        Some(ItemReaderSpec {
            resource: reader
                .get("Resource")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            parameters: self.request(reader, &at, language),
            input_type: config
                .get("InputType")
                .and_then(Value::as_str)
                .map(str::to_owned),
            csv_headers,
            csv_delimiter,
            max_items: self.count(config, "MaxItems", &config_at, language),
        })
    }

    fn item_batcher(
        &mut self,
        f: &Map<String, Value>,
        at: &str,
        language: QueryLanguage,
    ) -> Option<ItemBatcherSpec> {
        let batcher = f.get("ItemBatcher")?.as_object()?;
        let at = format!("{at}/ItemBatcher");
        let batch_input = if language == QueryLanguage::JsonAta {
            self.jsonata(batcher.get("BatchInput"), &format!("{at}/BatchInput"))
                .map(Selector::Jsonata)
        } else {
            self.template(batcher.get("BatchInput"), &format!("{at}/BatchInput"))
                .map(Selector::Path)
        };
        Some(ItemBatcherSpec {
            max_items_per_batch: self.count(batcher, "MaxItemsPerBatch", &at, language),
            max_input_bytes_per_batch: self.count(batcher, "MaxInputBytesPerBatch", &at, language),
            batch_input,
        })
    }

    fn result_writer(
        &mut self,
        f: &Map<String, Value>,
        at: &str,
        language: QueryLanguage,
    ) -> Option<ResultWriterSpec> {
        let writer = f.get("ResultWriter")?.as_object()?;
        // WriterConfig alone (no Resource) only formats the output.
        writer.get("Resource")?;
        let at = format!("{at}/ResultWriter");
        Some(ResultWriterSpec {
            parameters: self.request(writer, &at, language),
        })
    }

    fn retriers(&mut self, f: &Map<String, Value>, _at: &str) -> Vec<Retrier> {
        f.get("Retry")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|r| Retrier {
                error_equals: strings(r.get("ErrorEquals")),
                interval_seconds: r
                    .get("IntervalSeconds")
                    .and_then(Value::as_u64)
                    .unwrap_or(1),
                max_attempts: r
                    .get("MaxAttempts")
                    .and_then(Value::as_u64)
                    .map_or(3, |n| u32::try_from(n).unwrap_or(u32::MAX)),
                backoff_rate: r.get("BackoffRate").and_then(Value::as_f64).unwrap_or(2.0),
                max_delay_seconds: r.get("MaxDelaySeconds").and_then(Value::as_u64),
                jitter: match r.get("JitterStrategy").and_then(Value::as_str) {
                    Some("FULL") => Jitter::Full,
                    _ => Jitter::None,
                },
            })
            .collect()
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    /// `reads_context` of a one-state machine whose only state is `state`.
    fn reads(state: serde_json::Value) -> bool {
        let definition = json!({"StartAt": "S", "States": {"S": state}});
        let machine = super::parse(&definition).unwrap_or_else(|p| panic!("{p:?}"));
        machine.reads_context
    }

    #[test]
    fn a_machine_reads_the_context_only_through_an_expression_that_can() {
        let pass = |fields: serde_json::Value| {
            let mut state = json!({"Type": "Pass", "End": true});
            if let (Some(state), Some(fields)) = (state.as_object_mut(), fields.as_object()) {
                state.extend(fields.clone());
            }
            state
        };
        // A literal that mentions `$$` errs towards yes.
        assert!(reads(pass(json!({"Result": {"note": "costs $$"}}))));
        assert!(!reads(pass(
            json!({"Parameters": {"a.$": "$.a"}, "ResultPath": "$.r"})
        )));
        assert!(reads(pass(
            json!({"Parameters": {"in.$": "$$.Execution.Input"}})
        )));
        assert!(reads(pass(
            json!({"Parameters": {"f.$": "States.Format('{}', $$.Execution.Id)"}})
        )));
        let map = json!({"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "I", "States": {
            "I": {"Type": "Pass", "Parameters": {"x.$": "$$.Execution.Input.x"}, "End": true}}}});
        assert!(reads(map));
        let jsonata = |output: &str| json!({"Type": "Pass", "QueryLanguage": "JSONata", "Output": output, "End": true});
        assert!(!reads(jsonata("{% $states.input.a %}")));
        assert!(reads(jsonata("{% $states.context.Execution.Input %}")));
        assert!(reads(jsonata("{% $lookup($states, 'context') %}")));
        assert!(reads(jsonata("{% $eval('$states.input') %}")));
    }
}
