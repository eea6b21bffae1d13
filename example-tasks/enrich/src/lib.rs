//! ETL example, join step: adds each transaction's customer name, segment and country from the
//! read-only reference file; transactions whose customer is unknown are rejected and counted.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// The state's input.
#[derive(Deserialize)]
pub struct Input {
    /// The cleaned transactions (dedupe's output).
    file: String,
    /// The customer reference file, e.g. `/ref/customers.csv`.
    customers: String,
    /// Where to write the result, e.g. `/work`.
    output_dir: String,
}

/// What the task did.
#[derive(Serialize)]
pub struct Output {
    /// The file holding the enriched rows.
    output: String,
    /// Customers in the reference file.
    customers: u64,
    rows_in: u64,
    rows_out: u64,
    /// Rejected rows by reason.
    rejected: BTreeMap<&'static str, u64>,
    elapsed_ms: f64,
}

/// The reference columns copied onto each transaction, in output order.
const ADDED: [&str; 3] = ["name", "segment", "country"];

/// Joins the reference data.
#[sandstep::task]
pub fn run(input: Input, ctx: &sandstep::Context) -> Result<Output, sandstep::Error> {
    let started = Instant::now();
    let customers = load_customers(&input.customers)?;
    let output = format!(
        "{}/enriched-{}.csv",
        input.output_dir,
        etl_files::execution_file_name(&ctx.execution_id)
    );
    let mut reader = csv::Reader::from_path(&input.file)
        .map_err(|e| etl_files::csv_error(e, "reading", &input.file))?;
    let mut writer = csv::Writer::from_path(&output)
        .map_err(|e| etl_files::csv_error(e, "creating", &output))?;
    let mut header = reader
        .byte_headers()
        .map_err(|e| etl_files::csv_error(e, "reading", &input.file))?
        .clone();
    let customer_at = column(&header, "customer_id", &input.file)?;
    for added in ["customer_name", "segment", "country"] {
        header.push_field(added.as_bytes());
    }
    writer
        .write_byte_record(&header)
        .map_err(|e| etl_files::csv_error(e, "writing", &output))?;

    let (mut rows_in, mut rows_out, mut unknown) = (0, 0, 0);
    let mut record = csv::ByteRecord::new();
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| etl_files::csv_error(e, "reading", &input.file))?
    {
        rows_in += 1;
        let Some(extra) = record.get(customer_at).and_then(|id| customers.get(id)) else {
            unknown += 1;
            continue;
        };
        for field in extra {
            record.push_field(field);
        }
        writer
            .write_byte_record(&record)
            .map_err(|e| etl_files::csv_error(e, "writing", &output))?;
        rows_out += 1;
    }
    writer
        .flush()
        .map_err(|e| sandstep::Error::from(e).context(format!("writing \"{output}\"")))?;
    let rejected = if unknown > 0 {
        BTreeMap::from([("unknown_customer", unknown)])
    } else {
        BTreeMap::new()
    };
    sandstep::log::info!(
        "{rows_in} rows in, {rows_out} enriched, {unknown} with unknown customers"
    );
    Ok(Output {
        output,
        customers: customers.len() as u64,
        rows_in,
        rows_out,
        rejected,
        elapsed_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

/// Customer id → the [`ADDED`] fields.
fn load_customers(path: &str) -> Result<HashMap<Vec<u8>, [Vec<u8>; 3]>, sandstep::Error> {
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| etl_files::csv_error(e, "reading", path))?;
    let header = reader
        .byte_headers()
        .map_err(|e| etl_files::csv_error(e, "reading", path))?
        .clone();
    let id_at = column(&header, "customer_id", path)?;
    let added_at = [
        column(&header, ADDED[0], path)?,
        column(&header, ADDED[1], path)?,
        column(&header, ADDED[2], path)?,
    ];
    let mut customers = HashMap::new();
    let mut record = csv::ByteRecord::new();
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| etl_files::csv_error(e, "reading", path))?
    {
        let field = |at: usize| record.get(at).unwrap_or_default().to_vec();
        customers.insert(field(id_at), added_at.map(field));
    }
    Ok(customers)
}

/// The index of the column named `name`.
fn column(header: &csv::ByteRecord, name: &str, path: &str) -> Result<usize, sandstep::Error> {
    header
        .iter()
        .position(|c| c == name.as_bytes())
        .ok_or_else(|| {
            sandstep::Error::new(
                "Csv.MissingColumn",
                format!("\"{path}\" has no column \"{name}\""),
            )
        })
}
