//! Write Sandstep tasks (placeholder, being written).
