//! What a Task `Resource` names: a task declared in the manifest
//! (`sandstep.toml`), reached as `wasm:NAME` or through a Lambda ARN.
