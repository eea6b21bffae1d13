//! `#[sandstep::task]` (placeholder, being written).
