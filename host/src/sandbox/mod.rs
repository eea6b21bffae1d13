//! wasmtime, narrowed to what Sandstep needs: one engine, compiled
//! components cached on disk, a fresh store per call, fuel / epoch / memory
//! bounds, deny-by-default WASI, and traps mapped to ASL errors.
