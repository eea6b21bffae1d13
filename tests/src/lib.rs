//! Paths to the wasm artifacts the build script made (placeholder).
