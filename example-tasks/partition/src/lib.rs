//! ETL example, output step: splits the enriched transactions into one file per date, as
//! `<output_dir>/date=YYYY-MM-DD/part-<source>.csv`, the layout query engines read as a
//! partitioned table. Rewriting the same source replaces its files, so a retry is harmless.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// The state's input.
#[derive(Deserialize)]
pub struct Input {
    /// The enriched transactions.
    file: String,
    /// The original input file; its name names the part files.
    source: String,
    /// The root of the partitioned output, e.g. `/out`.
    output_dir: String,
}

/// What the task wrote.
#[derive(Serialize)]
pub struct Output {
    rows: u64,
    partitions: Vec<Partition>,
    elapsed_ms: f64,
}

#[derive(Serialize)]
struct Partition {
    date: String,
    rows: u64,
    path: String,
}

struct Open {
    path: String,
    rows: u64,
    writer: csv::Writer<std::fs::File>,
}

/// Writes the partitions.
#[sandstep::task]
pub fn run(input: Input, _ctx: &sandstep::Context) -> Result<Output, sandstep::Error> {
    let started = Instant::now();
    let part = format!("part-{}.csv", file_stem(&input.source));
    let mut reader = csv::Reader::from_path(&input.file)
        .map_err(|e| etl_files::csv_error(e, "reading", &input.file))?;
    let header = reader
        .byte_headers()
        .map_err(|e| etl_files::csv_error(e, "reading", &input.file))?
        .clone();
    let date_at = header.iter().position(|c| c == b"date").ok_or_else(|| {
        sandstep::Error::new(
            "Csv.MissingColumn",
            format!("\"{}\" has no column \"date\"", input.file),
        )
    })?;

    let mut open: BTreeMap<String, Open> = BTreeMap::new();
    let mut rows = 0;
    let mut record = csv::ByteRecord::new();
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| etl_files::csv_error(e, "reading", &input.file))?
    {
        let date = record.get(date_at).unwrap_or_default();
        // The date becomes a directory name: never let a value shape a path.
        let date = std::str::from_utf8(date)
            .ok()
            .filter(|d| d.len() == 10 && d.bytes().all(|b| b.is_ascii_digit() || b == b'-'))
            .ok_or_else(|| {
                sandstep::Error::new(
                    "Partition.BadDate",
                    format!(
                        "row {} has the date \"{}\"; expected YYYY-MM-DD",
                        rows + 1,
                        String::from_utf8_lossy(date)
                    ),
                )
            })?;
        let out = match open.entry(date.to_owned()) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => {
                let dir = format!("{}/date={date}", input.output_dir);
                std::fs::create_dir_all(&dir)
                    .map_err(|e| sandstep::Error::from(e).context(format!("creating \"{dir}\"")))?;
                let path = format!("{dir}/{part}");
                let mut writer = csv::Writer::from_path(&path)
                    .map_err(|e| etl_files::csv_error(e, "creating", &path))?;
                writer
                    .write_byte_record(&header)
                    .map_err(|e| etl_files::csv_error(e, "writing", &path))?;
                v.insert(Open {
                    path,
                    rows: 0,
                    writer,
                })
            }
        };
        out.writer
            .write_byte_record(&record)
            .map_err(|e| etl_files::csv_error(e, "writing", &out.path))?;
        out.rows += 1;
        rows += 1;
    }
    let mut partitions = Vec::with_capacity(open.len());
    for (date, mut out) in open {
        out.writer
            .flush()
            .map_err(|e| sandstep::Error::from(e).context(format!("writing \"{}\"", out.path)))?;
        partitions.push(Partition {
            date,
            rows: out.rows,
            path: out.path,
        });
    }
    sandstep::log::info!("{rows} rows into {} partitions", partitions.len());
    Ok(Output {
        rows,
        partitions,
        elapsed_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

/// `/input/transactions.csv` → `transactions`, kept to characters safe in a file name.
fn file_stem(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    etl_files::file_safe(name.strip_suffix(".csv").unwrap_or(name), "input")
}
