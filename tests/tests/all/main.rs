//! End-to-end tests: one binary, one module per area (as wasmtime's `tests/all/`).

mod etl;
mod hostile;
mod lambda_invoke;
mod sandbox;
mod tasks;
mod tenants;
