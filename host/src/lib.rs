//! Sandstep's runtime: runs Amazon States Language (ASL) workflows whose Task
//! states are WebAssembly components confined in a wasmtime sandbox.
//!
//! Layers, each depending only on those below it:
//! `cli → engine → {asl, query, resources} → sandbox`. See ARCHITECTURE.md.

pub mod api;
pub mod asl;
pub mod cli;
pub mod console;
pub mod engine;
pub mod errors;
pub mod executions;
pub mod graph;
pub mod mocks;
pub mod nested;
pub mod objects;
pub mod ops;
pub mod query;
pub mod resources;
pub mod sandbox;
pub mod store;
pub mod taskbuild;
