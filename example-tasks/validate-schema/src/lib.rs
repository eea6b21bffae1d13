//! ETL example, first step: checks that a transactions file has the expected columns, in order,
//! and counts its data rows. A wrong header is a finding (`valid: false` with the problems), not
//! an error, so the pipeline's Choice can route it; an unreadable file is an error.

use std::time::Instant;

use serde::{Deserialize, Serialize};

/// The columns a transactions file must have, in this order.
const COLUMNS: [&str; 6] = [
    "transaction_id",
    "customer_id",
    "date",
    "amount",
    "currency",
    "channel",
];

/// The state's input.
#[derive(Deserialize)]
pub struct Input {
    /// The CSV file to check, as the task sees it (e.g. `/input/transactions.csv`).
    file: String,
}

/// What the task found.
#[derive(Serialize)]
pub struct Output {
    valid: bool,
    /// Data rows, the header not counted.
    rows: u64,
    columns: Vec<String>,
    problems: Vec<String>,
    elapsed_ms: f64,
}

/// Checks the header and counts the rows.
#[sandstep::task]
pub fn run(input: Input, _ctx: &sandstep::Context) -> Result<Output, sandstep::Error> {
    let started = Instant::now();
    let reading = || format!("reading \"{}\"", input.file);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(&input.file)
        .map_err(|e| csv_error(e).context(reading()))?;
    let mut record = csv::ByteRecord::new();
    let columns: Vec<String> = if reader
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(e).context(reading()))?
    {
        record
            .iter()
            .map(|c| String::from_utf8_lossy(c).trim().to_owned())
            .collect()
    } else {
        Vec::new()
    };
    let mut rows = 0u64;
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| csv_error(e).context(reading()))?
    {
        rows += 1;
    }
    let problems = header_problems(&columns);
    sandstep::log::info!("{}: {rows} rows, {} problems", input.file, problems.len());
    Ok(Output {
        valid: problems.is_empty(),
        rows,
        columns,
        problems,
        elapsed_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

/// Every way `columns` differs from [`COLUMNS`], worded for the failure notice.
fn header_problems(columns: &[String]) -> Vec<String> {
    if columns.is_empty() {
        return vec![format!(
            "the file is empty; expected the header \"{}\"",
            COLUMNS.join(",")
        )];
    }
    let mut problems: Vec<String> = COLUMNS
        .iter()
        .filter(|c| !columns.iter().any(|have| have == *c))
        .map(|c| format!("missing column \"{c}\""))
        .collect();
    problems.extend(
        columns
            .iter()
            .filter(|have| !COLUMNS.contains(&have.as_str()))
            .map(|c| format!("unexpected column \"{c}\"")),
    );
    if problems.is_empty() && columns != COLUMNS {
        problems.push(format!(
            "columns are in the order \"{}\"; expected \"{}\"",
            columns.join(","),
            COLUMNS.join(",")
        ));
    }
    problems
}

fn csv_error(e: csv::Error) -> sandstep::Error {
    let text = e.to_string();
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io.into(),
        _ => sandstep::Error::new("Csv.Unreadable", text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(header: &str) -> Vec<String> {
        header_problems(&header.split(',').map(str::to_owned).collect::<Vec<_>>())
    }

    #[test]
    fn expected_header_has_no_problems() {
        assert!(problems(&COLUMNS.join(",")).is_empty());
    }

    #[test]
    fn renamed_and_missing_columns_are_each_named() {
        assert_eq!(
            problems("txn_id,customer_id,date,amount,channel"),
            [
                "missing column \"transaction_id\"",
                "missing column \"currency\"",
                "unexpected column \"txn_id\""
            ]
        );
    }

    #[test]
    fn reordered_columns_are_a_problem() {
        let p = problems("customer_id,transaction_id,date,amount,currency,channel");
        assert_eq!(p.len(), 1);
        assert!(p[0].starts_with("columns are in the order"), "{p:?}");
    }
}
