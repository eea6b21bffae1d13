//! The typed model of a state machine: what the engine interprets.
//!
//! Every path, template, intrinsic call and Choice rule is compiled here, once
//! per definition; transitions are resolved to indices, so the engine never
//! looks a state up by name while running.

use std::sync::Arc;

use serde_json::Value;

use crate::query::choice::ChoiceRule;
use crate::query::jsonata::JsonataValue;
use crate::query::jsonpath::JsonPath;
use crate::query::payload::Template;

/// A state machine, or the body of a Parallel branch or a Map iteration.
#[derive(Debug)]
pub struct StateMachine {
    pub states: Vec<State>,
    /// Index into `states` of `StartAt`.
    pub start_at: usize,
    /// Top-level `TimeoutSeconds`: the execution ends `TIMED_OUT` past it.
    pub timeout_seconds: Option<u64>,
    pub query_language: QueryLanguage,
    /// Whether any expression of this machine (its branches and iterations
    /// included) may read the context object (`$$`, `$states.context`):
    /// only then does the engine keep a copy of the execution's input.
    pub reads_context: bool,
}

impl StateMachine {
    pub fn state(&self, name: &str) -> Option<&State> {
        self.states.iter().find(|s| s.name == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueryLanguage {
    #[default]
    JsonPath,
    JsonAta,
}

#[derive(Debug)]
pub struct State {
    pub name: String,
    pub kind: StateKind,
    pub query_language: QueryLanguage,
    pub io: IoProcessing,
    pub transition: Transition,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    /// `Assign`: new workflow variables, evaluated with the values at state entry.
    pub assign: Option<Assign>,
    /// JSONata `Output`: the state output; absent means the result (or the input).
    pub output: Option<JsonataValue>,
    /// JSONata `Arguments`: the input of a Task or of Parallel branches.
    pub arguments: Option<JsonataValue>,
}

/// `Assign` in either query language.
#[derive(Debug)]
pub enum Assign {
    /// JSONPath: a payload template whose `$` is the state result.
    Path(Template),
    /// JSONata: an object of expressions over `$states`.
    Jsonata(JsonataValue),
}

impl State {
    /// The prefix of this state's history event types: `Pass`, `Task`, ...
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            StateKind::Pass { .. } => "Pass",
            StateKind::Task(_) => "Task",
            StateKind::Choice { .. } => "Choice",
            StateKind::Wait(_) => "Wait",
            StateKind::Succeed => "Succeed",
            StateKind::Fail { .. } => "Fail",
            StateKind::Parallel { .. } => "Parallel",
            StateKind::Map(_) => "Map",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Next(usize),
    End,
}

#[derive(Debug)]
pub enum StateKind {
    Pass {
        result: Option<Value>,
    },
    Task(TaskSpec),
    Choice {
        choices: Vec<ChoiceBranch>,
        default: Option<usize>,
    },
    Wait(WaitSpec),
    Succeed,
    Fail {
        error: FailField,
        cause: FailField,
    },
    Parallel {
        branches: Vec<Arc<StateMachine>>,
    },
    Map(Box<MapSpec>),
}

/// One rule of a Choice state, with where it leads and what it assigns.
#[derive(Debug)]
pub struct ChoiceBranch {
    pub condition: Condition,
    pub next: usize,
    pub assign: Option<Assign>,
    pub output: Option<JsonataValue>,
}

#[derive(Debug)]
pub enum Condition {
    /// A JSONPath comparison rule (with And/Or/Not).
    Rule(ChoiceRule),
    /// A JSONata `Condition`: `true`, `false` or an expression.
    Jsonata(JsonataValue),
}

/// `InputPath`, `Parameters`, `ResultSelector`, `ResultPath`, `OutputPath`
/// (JSONPath mode), applied in AWS's order by the engine.
#[derive(Debug, Default)]
pub struct IoProcessing {
    pub input_path: PathField,
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub result_path: PathField,
    pub output_path: PathField,
}

/// A path field that may be absent (meaning `$`), `null`, or a path.
#[derive(Debug, Default)]
pub enum PathField {
    #[default]
    Default,
    Null,
    Path(JsonPath),
}

#[derive(Debug)]
pub struct TaskSpec {
    pub resource: String,
    pub timeout: Option<SecondsField>,
    pub heartbeat: Option<SecondsField>,
}

/// A duration in whole seconds, literal or read from the input.
#[derive(Debug)]
pub enum SecondsField {
    Literal(u64),
    Path(JsonPath),
    Jsonata(JsonataValue),
}

#[derive(Debug)]
pub enum WaitSpec {
    Seconds(u64),
    SecondsPath(JsonPath),
    Timestamp(String),
    TimestampPath(JsonPath),
    /// JSONata `Seconds`.
    SecondsExpr(JsonataValue),
    /// JSONata `Timestamp`.
    TimestampExpr(JsonataValue),
}

/// `Error`/`ErrorPath` or `Cause`/`CausePath` of a Fail state.
#[derive(Debug)]
pub enum FailField {
    Absent,
    Literal(String),
    Path(JsonPath),
    Intrinsic(crate::query::intrinsics::Intrinsic),
    Jsonata(JsonataValue),
}

#[derive(Debug)]
pub struct MapSpec {
    pub processor: Arc<StateMachine>,
    pub distributed: bool,
    pub items_path: PathField,
    /// JSONata `Items`; absent means the state input.
    pub items: Option<JsonataValue>,
    /// `ItemSelector`, or the legacy Map `Parameters`.
    pub item_selector: Option<Selector>,
    pub max_concurrency: CountField,
    pub tolerated_failure_count: Option<CountField>,
    pub tolerated_failure_percentage: Option<PercentField>,
    pub label: Option<String>,
    /// A Distributed Map's `ItemReader`: items read from a bucket.
    pub item_reader: Option<ItemReaderSpec>,
    pub item_batcher: Option<ItemBatcherSpec>,
    pub result_writer: Option<ResultWriterSpec>,
}

/// `ItemReader` (checklist DMAP-03/04).
#[derive(Debug)]
pub struct ItemReaderSpec {
    pub resource: String,
    /// `Parameters` (JSONPath) or `Arguments` (JSONata): `Bucket`, `Key` | `Prefix`.
    pub parameters: Option<Selector>,
    /// `ReaderConfig.InputType`, as written.
    pub input_type: Option<String>,
    /// `CSVHeaders`, when `CSVHeaderLocation` is `GIVEN`.
    pub csv_headers: Option<Vec<String>>,
    /// `CSVDelimiter` as a byte (`COMMA` by default).
    pub csv_delimiter: u8,
    pub max_items: Option<CountField>,
}

/// `ItemBatcher` (DMAP-06).
#[derive(Debug)]
pub struct ItemBatcherSpec {
    pub max_items_per_batch: Option<CountField>,
    pub max_input_bytes_per_batch: Option<CountField>,
    pub batch_input: Option<Selector>,
}

/// `ResultWriter` (DMAP-07).
#[derive(Debug)]
pub struct ResultWriterSpec {
    /// `Parameters` / `Arguments`: `Bucket`, `Prefix`.
    pub parameters: Option<Selector>,
}

/// A Map's `ItemSelector` in either query language.
#[derive(Debug)]
pub enum Selector {
    Path(Template),
    Jsonata(JsonataValue),
}

/// An integer setting, literal or read from the input by a reference path.
#[derive(Debug)]
pub enum CountField {
    Literal(u64),
    Path(JsonPath),
    Jsonata(JsonataValue),
}

#[derive(Debug)]
pub enum PercentField {
    Literal(f64),
    Path(JsonPath),
    Jsonata(JsonataValue),
}

#[derive(Debug)]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: u64,
    pub max_attempts: u32,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<u64>,
    pub jitter: Jitter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    None,
    Full,
}

#[derive(Debug)]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub next: usize,
    pub result_path: PathField,
    pub assign: Option<Assign>,
    /// JSONata `Output`; absent means `$states.errorOutput`.
    pub output: Option<JsonataValue>,
}
