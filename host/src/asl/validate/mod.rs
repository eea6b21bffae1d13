//! Static validation of a state-machine definition, as AWS's
//! `CreateStateMachine` / `ValidateStateMachineDefinition` does it.
//!
//! [`validate_text`] takes the raw document (JSON syntax, duplicate keys, "not
//! an object"); [`validate`] takes parsed JSON. Both report *every* problem as
//! a [`Diagnostic`] with AWS's code, AWS's words where they are known, and the
//! location AWS uses: a slash path whose array steps read `Catch[0]`, e.g.
//! `/States/Map/ItemProcessor/States/Inner/Next` or `/States/T/Catch[0]/Next`.
//!
//! The work is split by concern: `fields` (which fields a state type has,
//! in which query language, and the shared ones), `values` (types, ranges
//! and their wording), `query_language` (JSONPath vs JSONata mixing),
//! `paths` (path, intrinsic, template and JSONata syntax, delegated to
//! `crate::query`), one module per state type with fields of its own
//! (`task`, `choice`, `wait`, `fail`, `map`; Parallel is here),
//! `retry_catch`, `graph` (transitions, reachability, terminal states)
//! and `json_text` (the raw document).
//!
//! Deliberately not checked here: what a Task `Resource` names (the engine
//! checks it against the task manifest); only its Express-compatibility is.
//!
//! **Invariant:** never panics on any JSON; no I/O.

mod choice;
mod fail;
mod fields;
mod graph;
mod json_text;
mod map;
mod paths;
mod query_language;
mod retry_catch;
mod task;
mod values;
mod wait;

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::asl::Diagnostic;
use query_language::Lang;

/// AWS's code for a transition naming no state, or a state nothing reaches.
pub const MISSING_TRANSITION_TARGET: &str = "MISSING_TRANSITION_TARGET";
/// AWS's code for a state machine without any terminal state.
pub const MISSING_END_STATE: &str = "MISSING_END_STATE";
/// AWS's code for a JSONata expression that does not parse.
pub const INVALID_JSONATA_EXPRESSION: &str = "INVALID_JSONATA_EXPRESSION";
/// AWS's code for a JSONata expression reading what AWS does not offer
/// there (`$$`, `$states.errorOutput` outside a catcher).
pub const UNSUPPORTED_JSONATA_EXPRESSION: &str = "UNSUPPORTED_JSONATA_EXPRESSION";

/// The kind of state machine a definition is validated for; Express machines
/// refuse `.sync`, `.waitForTaskToken` and activities (checklist TASK-12).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MachineType {
    #[default]
    Standard,
    Express,
}

/// Validates the raw text of a definition for a Standard state machine.
pub fn validate_text(text: &str) -> Vec<Diagnostic> {
    validate_text_as(text, MachineType::Standard)
}

/// Validates the raw text of a definition for a state machine of type `ty`.
pub fn validate_text_as(text: &str, ty: MachineType) -> Vec<Diagnostic> {
    let parsed = match json_text::parse(text) {
        Ok(parsed) => parsed,
        Err(diagnostic) => return vec![diagnostic],
    };
    let mut diagnostics = parsed.duplicates;
    diagnostics.extend(validate_as(&parsed.value, ty));
    diagnostics
}

/// Validates a parsed definition for a Standard state machine.
pub fn validate(def: &Value) -> Vec<Diagnostic> {
    validate_as(def, MachineType::Standard)
}

/// Validates a parsed definition for a state machine of type `ty`.
pub fn validate_as(def: &Value, ty: MachineType) -> Vec<Diagnostic> {
    let Some(root) = def.as_object() else {
        return vec![not_an_object()];
    };
    let mut checker = Checker {
        diagnostics: Vec::new(),
        machine_type: ty,
        machine_lang: Lang::JsonPath,
        names: HashMap::new(),
        scopes: Vec::new(),
        in_catcher: false,
    };
    checker.machine_lang = query_language::machine_lang(&mut checker, root);
    checker.root(root);
    let mut diagnostics = checker.diagnostics;
    diagnostics.extend(graph::check(&checker.scopes));
    diagnostics
}

/// AWS's answer for a document that is not a JSON object (or is empty).
fn not_an_object() -> Diagnostic {
    Diagnostic {
        code: Diagnostic::SCHEMA_VALIDATION_FAILED,
        message: "Definition must be a valid JSON object".to_owned(),
        location: None,
    }
}

/// A location in the definition, AWS style: `/States/T/Catch[0]/Next`.
/// The root is the empty string and displays as `/`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Loc(String);

impl Loc {
    pub(crate) fn root() -> Self {
        Loc(String::new())
    }

    /// The location of field `key` inside this object.
    pub(crate) fn key(&self, key: &str) -> Self {
        Loc(format!("{}/{key}", self.0))
    }

    /// The location of element `index` of the array at this location.
    pub(crate) fn index(&self, index: usize) -> Self {
        Loc(format!("{}[{index}]", self.0))
    }

    pub(crate) fn text(&self) -> String {
        if self.0.is_empty() {
            "/".to_owned()
        } else {
            self.0.clone()
        }
    }
}

/// One `States` block: the machine itself, a Parallel branch or a Map's
/// ItemProcessor/Iterator. Collected during the walk, checked by [`graph`].
pub(crate) struct Scope {
    /// Where the block's `StartAt` and `States` live.
    pub(crate) loc: Loc,
    /// `StartAt`, when it is a string.
    pub(crate) start_at: Option<String>,
    /// Whether this is the machine's top level (terminal states are required
    /// there only, as AWS does).
    pub(crate) top: bool,
    pub(crate) states: Vec<StateNode>,
}

/// What [`graph`] needs to know about one state.
pub(crate) struct StateNode {
    pub(crate) name: String,
    pub(crate) loc: Loc,
    /// Every state this one can move to, with the location of the field
    /// naming it.
    pub(crate) targets: Vec<(String, Loc)>,
    /// `End: true`, Succeed or Fail.
    pub(crate) terminal: bool,
}

/// The state types of ASL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StateType {
    Task,
    Pass,
    Choice,
    Wait,
    Succeed,
    Fail,
    Parallel,
    Map,
}

impl StateType {
    /// In AWS's order, as its message lists them.
    pub(crate) const ALL: [StateType; 8] = [
        StateType::Task,
        StateType::Wait,
        StateType::Pass,
        StateType::Succeed,
        StateType::Fail,
        StateType::Choice,
        StateType::Parallel,
        StateType::Map,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            StateType::Task => "Task",
            StateType::Pass => "Pass",
            StateType::Choice => "Choice",
            StateType::Wait => "Wait",
            StateType::Succeed => "Succeed",
            StateType::Fail => "Fail",
            StateType::Parallel => "Parallel",
            StateType::Map => "Map",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == s)
    }
}

/// The longest state name AWS accepts (API shape `StateName`, spec 1-80).
const MAX_STATE_NAME: usize = 80;

/// One state being checked: its object, where it is, its type and language,
/// and which of its fields were refused (so they are reported only once).
pub(crate) struct StateCx<'a> {
    pub(crate) obj: &'a Map<String, Value>,
    pub(crate) loc: Loc,
    pub(crate) ty: StateType,
    pub(crate) lang: Lang,
    pub(crate) refused: Vec<&'a str>,
}

impl<'a> StateCx<'a> {
    /// Field `key`, unless absent or already refused for this state.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        if self.refused.contains(&key) {
            return None;
        }
        self.obj.get(key)
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub(crate) fn at(&self, key: &str) -> Loc {
        self.loc.key(key)
    }
}

/// Walks the definition and collects diagnostics and scopes.
pub(crate) struct Checker {
    pub(crate) diagnostics: Vec<Diagnostic>,
    pub(crate) machine_type: MachineType,
    /// The machine's top-level QueryLanguage, which every state inherits,
    /// nested ones included (checklist TOP-07).
    pub(crate) machine_lang: Lang,
    /// State name to the location of its first definition.
    names: HashMap<String, Loc>,
    pub(crate) scopes: Vec<Scope>,
    /// Inside a catcher's `Output`/`Assign`, where `$states.errorOutput`
    /// exists.
    pub(crate) in_catcher: bool,
}

impl Checker {
    /// Records a `SCHEMA_VALIDATION_FAILED` problem at `loc`.
    pub(crate) fn schema(&mut self, loc: &Loc, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::schema(loc.text(), message));
    }

    /// Records a problem with another code.
    pub(crate) fn report(&mut self, code: &'static str, loc: &Loc, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic {
            code,
            message: message.into(),
            location: Some(loc.text()),
        });
    }

    /// The top level: its own fields, then the states.
    fn root(&mut self, root: &Map<String, Value>) {
        let missing: Vec<&str> = ["States", "StartAt"]
            .into_iter()
            .filter(|k| !root.contains_key(*k))
            .collect();
        if !missing.is_empty() {
            self.schema(
                &Loc::root(),
                format!("These fields are required: [{}]", missing.join(", ")),
            );
        }
        const TOP: [&str; 6] = [
            "Comment",
            "StartAt",
            "States",
            "Version",
            "TimeoutSeconds",
            "QueryLanguage",
        ];
        for (key, value) in root {
            let loc = Loc::root().key(key);
            match key.as_str() {
                "Comment" => {
                    values::string(self, &loc, key, value);
                }
                "Version" => {
                    if let Some(v) = values::string(self, &loc, key, value)
                        && v != "1.0"
                    {
                        self.schema(
                            &loc,
                            format!(
                                "Field 'Version' is {}; value should be one of the following: [1.0]",
                                values::show(value)
                            ),
                        );
                    }
                }
                "TimeoutSeconds" => {
                    values::integer(self, &loc, key, value, 0, values::MAX_SECONDS);
                }
                "StartAt" | "States" | "QueryLanguage" => {}
                _ => self.schema(
                    &Loc::root(),
                    values::unknown_field_message(key, &TOP, "the top level of a state machine"),
                ),
            }
        }
        self.block(root, &Loc::root(), true);
    }

    /// A `States` block with its `StartAt`: the machine, a branch or an
    /// ItemProcessor. `loc` is where `StartAt` and `States` live.
    pub(crate) fn block(&mut self, obj: &Map<String, Value>, loc: &Loc, top: bool) {
        let start_at = match obj.get("StartAt") {
            Some(v) => values::string(self, &loc.key("StartAt"), "StartAt", v).map(str::to_owned),
            None => None,
        };
        // Reserve the block's place first, so scopes stay in document order
        // (outer before inner) and diagnostics follow the document.
        let index = self.scopes.len();
        self.scopes.push(Scope {
            loc: loc.clone(),
            start_at: None,
            top,
            states: Vec::new(),
        });
        let mut scope = Scope {
            loc: loc.clone(),
            start_at,
            top,
            states: Vec::new(),
        };
        if let Some(states) = obj.get("States") {
            let states_loc = loc.key("States");
            if let Some(states) = values::object(self, &states_loc, "States", states) {
                for (name, state) in states {
                    let state_loc = states_loc.key(name);
                    scope.states.push(self.state(name, state, state_loc));
                }
            }
        }
        self.scopes[index] = scope;
    }

    /// One state: its name, type, fields, and what it transitions to.
    fn state(&mut self, name: &str, value: &Value, loc: Loc) -> StateNode {
        let mut node = StateNode {
            name: name.to_owned(),
            loc: loc.clone(),
            targets: Vec::new(),
            terminal: false,
        };
        self.state_name(name, &loc);
        let Some(obj) = value.as_object() else {
            self.schema(
                &loc,
                format!(
                    "Expected value of type [OBJECT] for state '{name}', got {}: a state is an \
                     object with at least a 'Type'",
                    values::show(value)
                ),
            );
            return node;
        };
        let Some(ty) = self.state_type(obj, &loc) else {
            // Without a type nothing else can be judged; still count the
            // transitions so the graph does not report phantom problems.
            node.targets = graph::targets_of_untyped(obj, &loc);
            node.terminal = obj.get("End") == Some(&Value::Bool(true));
            return node;
        };
        let resolved = query_language::state_lang(self, obj, &loc);
        let mut cx = StateCx {
            obj,
            loc,
            ty,
            lang: resolved.lang,
            refused: Vec::new(),
        };
        fields::check_fields(self, &mut cx, resolved.suppress_mixing);
        self.diagnostics.extend(resolved.late);
        fields::check_common(self, &cx, &mut node);
        match ty {
            StateType::Task => task::check(self, &cx),
            StateType::Pass => {}
            StateType::Choice => choice::check(self, &cx, &mut node),
            StateType::Wait => wait::check(self, &cx),
            StateType::Succeed => node.terminal = true,
            StateType::Fail => {
                node.terminal = true;
                fail::check(self, &cx);
            }
            StateType::Parallel => self.parallel(&cx),
            StateType::Map => map::check(self, &cx),
        }
        if matches!(ty, StateType::Task | StateType::Parallel | StateType::Map) {
            retry_catch::check(self, &cx, &mut node);
        }
        node
    }

    /// State names are 1-80 characters and unique across the whole machine.
    fn state_name(&mut self, name: &str, loc: &Loc) {
        let length = name.chars().count();
        if length == 0 {
            self.schema(loc, "State name must not be empty: use 1 to 80 characters");
        } else if length > MAX_STATE_NAME {
            self.schema(
                loc,
                format!(
                    "State name '{name}' is {length} characters long; \
                     the maximum is {MAX_STATE_NAME}"
                ),
            );
        }
        match self.names.get(name) {
            Some(first) => {
                let message = format!(
                    "Duplicate State name: '{name}' is already defined at {}; state names \
                     must be unique across the whole state machine, nested states included",
                    first.text()
                );
                self.schema(loc, message);
            }
            None => {
                self.names.insert(name.to_owned(), loc.clone());
            }
        }
    }

    /// The state's `Type`, reporting a missing or unknown one.
    fn state_type(&mut self, obj: &Map<String, Value>, loc: &Loc) -> Option<StateType> {
        let Some(value) = obj.get("Type") else {
            self.schema(loc, "The field 'Type' is required but was missing");
            return None;
        };
        let type_loc = loc.key("Type");
        let ty = value.as_str().and_then(StateType::parse);
        if ty.is_none() {
            let names: Vec<&str> = StateType::ALL.iter().map(|t| t.name()).collect();
            self.schema(
                &type_loc,
                format!(
                    "The field 'Type' should have one of these values: [{}], got {}",
                    names.join(", "),
                    values::show(value)
                ),
            );
        }
        ty
    }

    /// Parallel: `Branches`, each a `States` block of its own.
    fn parallel(&mut self, cx: &StateCx<'_>) {
        let Some(branches) = cx.get("Branches") else {
            self.schema(
                &cx.loc,
                "The field 'Branches' is required but was missing: a Parallel state lists the \
                 state machines it runs there",
            );
            return;
        };
        let loc = cx.at("Branches");
        let Some(branches) = values::array(self, &loc, "Branches", branches) else {
            return;
        };
        if branches.is_empty() {
            self.schema(
                &loc,
                "Field 'Branches' is empty; a Parallel state needs at least one branch",
            );
        }
        for (i, branch) in branches.iter().enumerate() {
            let branch_loc = loc.index(i);
            let Some(obj) = values::object(self, &branch_loc, "Branches", branch) else {
                continue;
            };
            self.sub_machine(obj, &branch_loc, "a Parallel branch", &["Comment"]);
        }
    }

    /// A nested `{StartAt, States, Comment, ...}` object: a branch or an
    /// ItemProcessor/Iterator. `extra` lists its allowed fields beyond
    /// StartAt and States.
    pub(crate) fn sub_machine(
        &mut self,
        obj: &Map<String, Value>,
        loc: &Loc,
        what: &str,
        extra: &[&str],
    ) {
        let mut missing = Vec::new();
        for key in ["StartAt", "States"] {
            if !obj.contains_key(key) {
                missing.push(key);
            }
        }
        for key in missing {
            self.schema(
                loc,
                format!("The field '{key}' is required but was missing"),
            );
        }
        let mut allowed = vec!["StartAt", "States"];
        allowed.extend_from_slice(extra);
        for (key, value) in obj {
            if key == "Comment" && allowed.contains(&"Comment") {
                values::string(self, &loc.key(key), key, value);
            } else if !allowed.contains(&key.as_str()) {
                let message = if key == "QueryLanguage" {
                    // AWS's words; the nested states take the machine's
                    // language, so the field would mislead (TOP-07).
                    format!(
                        "Field 'QueryLanguage' is not supported; set it on the states inside \
                         {what} or on the state machine"
                    )
                } else {
                    values::unknown_field_message(key, &allowed, what)
                };
                self.schema(loc, message);
            }
        }
        self.block(obj, loc, false);
    }
}

#[cfg(test)]
mod tests;
