//! ETL example, last step: one report of what the pipeline did to a file — rows in, duplicates
//! dropped, rejected rows by reason, rows out, the partitions written, and how long each step
//! took as the steps measured it. Fails with `Summary.Inconsistent` if the steps' counts do not
//! add up, so a lost row cannot go unnoticed.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// The steps' results, as the pipeline kept them in its state.
#[derive(Deserialize)]
pub struct Input {
    file: String,
    validation: Step,
    dedupe: Step,
    enrich: Step,
    partition: Partitioned,
}

/// The fields every processing step reports; `rows` is validate-schema's count.
#[derive(Deserialize)]
struct Step {
    #[serde(default)]
    rows: Option<u64>,
    #[serde(default)]
    rows_in: Option<u64>,
    #[serde(default)]
    rows_out: Option<u64>,
    #[serde(default)]
    duplicates: u64,
    #[serde(default)]
    rejected: BTreeMap<String, u64>,
    elapsed_ms: f64,
}

#[derive(Deserialize)]
struct Partitioned {
    rows: u64,
    partitions: Vec<Partition>,
    elapsed_ms: f64,
}

#[derive(Deserialize, Serialize)]
struct Partition {
    date: String,
    rows: u64,
    path: String,
}

/// The report.
#[derive(Serialize)]
pub struct Summary {
    file: String,
    rows_in: u64,
    duplicates_dropped: u64,
    /// Rejected rows by reason, over all steps.
    rejected: BTreeMap<String, u64>,
    rejected_total: u64,
    rows_out: u64,
    partitions: Vec<Partition>,
    /// Milliseconds per step, as each step measured its own work.
    timings_ms: BTreeMap<&'static str, f64>,
}

/// Builds the report.
#[sandstep::task]
pub fn run(input: Input, _ctx: &sandstep::Context) -> Result<Summary, sandstep::Error> {
    let started = Instant::now();
    let rows_in = counted(input.validation.rows, "validation.rows")?;
    let mut rejected = BTreeMap::new();
    for (reason, n) in input.dedupe.rejected.iter().chain(&input.enrich.rejected) {
        *rejected.entry(reason.clone()).or_insert(0) += n;
    }
    let rejected_total: u64 = rejected.values().sum();
    let summary = Summary {
        file: input.file,
        rows_in,
        duplicates_dropped: input.dedupe.duplicates,
        rejected,
        rejected_total,
        rows_out: input.partition.rows,
        partitions: input.partition.partitions,
        timings_ms: BTreeMap::new(),
    };
    // Each step starts from what the one before it kept.
    let handoffs = [
        (
            "validation.rows",
            rows_in,
            "dedupe.rows_in",
            counted(input.dedupe.rows_in, "dedupe.rows_in")?,
        ),
        (
            "dedupe.rows_out",
            counted(input.dedupe.rows_out, "dedupe.rows_out")?,
            "enrich.rows_in",
            counted(input.enrich.rows_in, "enrich.rows_in")?,
        ),
        (
            "enrich.rows_out",
            counted(input.enrich.rows_out, "enrich.rows_out")?,
            "partition.rows",
            summary.rows_out,
        ),
        (
            "partition.rows",
            summary.rows_out,
            "the sum of the partitions' rows",
            summary.partitions.iter().map(|p| p.rows).sum(),
        ),
        (
            "rows in",
            rows_in,
            "rows out + duplicates + rejected",
            summary.rows_out + summary.duplicates_dropped + rejected_total,
        ),
    ];
    for (a, a_rows, b, b_rows) in handoffs {
        if a_rows != b_rows {
            return Err(sandstep::Error::new(
                "Summary.Inconsistent",
                format!(
                    "{a} is {a_rows} but {b} is {b_rows}; rows were lost or invented between steps"
                ),
            ));
        }
    }
    let mut summary = summary;
    // Microseconds are as fine as a report needs.
    let rounded = |ms: f64| (ms * 1e3).round() / 1e3;
    summary.timings_ms = BTreeMap::from([
        ("validate", rounded(input.validation.elapsed_ms)),
        ("dedupe", rounded(input.dedupe.elapsed_ms)),
        ("enrich", rounded(input.enrich.elapsed_ms)),
        ("partition", rounded(input.partition.elapsed_ms)),
        ("summarize", rounded(started.elapsed().as_secs_f64() * 1e3)),
    ]);
    Ok(summary)
}

fn counted(value: Option<u64>, field: &str) -> Result<u64, sandstep::Error> {
    value.ok_or_else(|| {
        sandstep::Error::new(
            sandstep::Error::INVALID_INPUT,
            format!("missing field \"{field}\""),
        )
    })
}
