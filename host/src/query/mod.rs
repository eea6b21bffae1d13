//! The expression languages of ASL: JSONPath and reference paths, payload
//! templates (`Parameters`, `ResultSelector`, `ItemSelector`), intrinsic
//! functions, and Choice rules.
//!
//! Everything here is compiled once per definition (`parse`) and evaluated
//! many times (`eval`) against a [`Scope`].
//!
//! **Invariant:** no I/O, no wasm, no knowledge of the engine's state; parsing
//! never panics on any input.

use std::cell::OnceCell;

use serde_json::{Map, Value};

/// What an expression can see while it is evaluated.
pub struct Scope<'a> {
    /// `$`: the state's (effective) input.
    pub input: &'a Value,
    /// `$$`: the context object, built only when an expression asks for it.
    pub context: &'a LazyContext<'a>,
    /// Workflow variables visible to the state (`$name` in JSONPath mode).
    pub variables: &'a Map<String, Value>,
}

/// The context object (`$$`), built on first use: most states never read
/// it, and building it costs a copy of the execution input.
pub struct LazyContext<'a> {
    value: OnceCell<Value>,
    build: &'a (dyn Fn() -> Value + 'a),
}

impl<'a> LazyContext<'a> {
    pub fn new(build: &'a (dyn Fn() -> Value + 'a)) -> Self {
        LazyContext {
            value: OnceCell::new(),
            build,
        }
    }

    /// A context that is already built.
    pub fn ready(value: Value) -> LazyContext<'static> {
        LazyContext {
            value: OnceCell::from(value),
            build: &|| Value::Null,
        }
    }

    pub fn get(&self) -> &Value {
        self.value.get_or_init(|| (self.build)())
    }
}

pub mod choice;
mod error;
pub mod intrinsics;
mod java_random;
mod java_text;
pub mod jsonata;
pub mod jsonpath;
pub mod payload;
mod timestamp;

pub use choice::{ChoiceRule, parse_timestamp};
pub use error::{QueryError, TemplateProblem, pointer_token};
pub use intrinsics::Intrinsic;
pub use jsonpath::{JsonPath, Root};
pub use payload::Template;
