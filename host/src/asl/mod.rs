//! The Amazon States Language: the typed model of a state machine, its
//! parsing from JSON, and static validation.
//!
//! Parsing is two-stage, like ripgrep's low/high args: [`validate`] checks the
//! raw JSON document and reports *every* problem; only a document without
//! problems is turned into the typed [`model`] the engine trusts.
//!
//! **Invariant:** no I/O and no wasm here; parsing never panics on any JSON.

mod diagnostic;
pub mod model;
mod parse;
pub mod validate;

pub use diagnostic::{Diagnostic, ValidationReport};
pub use parse::{parse, parse_as, parse_text, parse_text_as};
pub use validate::{MachineType, validate, validate_text};
