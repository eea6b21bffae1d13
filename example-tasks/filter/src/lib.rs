//! Benchmark W4's task (see shared bench/README.md): from `{records: [...]}` keep the records
//! that are active and score over 50, as `{id, score}`, and return `{count, kept}`.

use serde::{Deserialize, Serialize};

/// The state's input.
#[derive(Deserialize)]
pub struct Input {
    records: Vec<Record>,
}

/// One record; fields other than these (such as `name`) are ignored.
#[derive(Deserialize)]
struct Record {
    id: u64,
    active: bool,
    /// Kept as written (`74` stays `74`, not `74.0`).
    score: serde_json::Number,
}

/// What the task returns.
#[derive(Serialize)]
pub struct Output {
    count: usize,
    kept: Vec<Kept>,
}

#[derive(Serialize)]
struct Kept {
    id: u64,
    score: serde_json::Number,
}

/// Filters the records.
#[sandstep::task]
pub fn run(input: Input, _ctx: &sandstep::Context) -> Result<Output, sandstep::Error> {
    let kept: Vec<Kept> = input
        .records
        .into_iter()
        .filter(|r| r.active && r.score.as_f64().is_some_and(|s| s > 50.0))
        .map(|r| Kept {
            id: r.id,
            score: r.score,
        })
        .collect();
    Ok(Output {
        count: kept.len(),
        kept,
    })
}
