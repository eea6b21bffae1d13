//! End-to-end tests: one binary, one module per area (as wasmtime's `tests/all/`).

mod etl;
mod hardening;
mod hostile;
mod lambda_invoke;
mod ops;
mod polyglot;
mod quota_model;
mod sandbox;
mod tasks;
mod tenants;
