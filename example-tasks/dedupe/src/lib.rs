//! ETL example, cleaning step: drops malformed rows (counted as rejected, by reason) and rows
//! whose transaction id was already seen (the first one wins), and writes the rest to the work
//! directory. Checks the values the later steps rely on: the field count, the date (it becomes
//! a directory name) and the amount.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Number of columns in a transactions file (`transaction_id,customer_id,date,amount,currency,channel`).
const FIELDS: usize = 6;
const ID: usize = 0;
const DATE: usize = 2;
const AMOUNT: usize = 3;

/// The state's input.
#[derive(Deserialize)]
pub struct Input {
    /// The transactions file (its header already checked by validate-schema).
    file: String,
    /// Where to write the result, e.g. `/work`.
    output_dir: String,
}

/// What the task did.
#[derive(Serialize)]
pub struct Output {
    /// The file holding the kept rows.
    output: String,
    rows_in: u64,
    rows_out: u64,
    duplicates: u64,
    /// Malformed rows by reason; reasons that did not occur are left out.
    rejected: BTreeMap<&'static str, u64>,
    elapsed_ms: f64,
}

/// Filters the file.
#[sandstep::task]
pub fn run(input: Input, ctx: &sandstep::Context) -> Result<Output, sandstep::Error> {
    let started = Instant::now();
    let output = format!(
        "{}/deduped-{}.csv",
        input.output_dir,
        etl_files::execution_file_name(&ctx.execution_id)
    );
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(&input.file)
        .map_err(|e| etl_files::csv_error(e, "reading", &input.file))?;
    let mut writer = csv::Writer::from_path(&output)
        .map_err(|e| etl_files::csv_error(e, "creating", &output))?;
    let header = reader
        .byte_headers()
        .map_err(|e| etl_files::csv_error(e, "reading", &input.file))?
        .clone();
    writer
        .write_byte_record(&header)
        .map_err(|e| etl_files::csv_error(e, "writing", &output))?;

    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let (mut rows_in, mut rows_out, mut duplicates) = (0, 0, 0);
    let mut rejected = BTreeMap::new();
    let mut record = csv::ByteRecord::new();
    while reader
        .read_byte_record(&mut record)
        .map_err(|e| etl_files::csv_error(e, "reading", &input.file))?
    {
        rows_in += 1;
        if let Some(reason) = defect(&record) {
            *rejected.entry(reason).or_insert(0) += 1;
        } else if !seen.insert(record[ID].to_vec()) {
            duplicates += 1;
        } else {
            writer
                .write_byte_record(&record)
                .map_err(|e| etl_files::csv_error(e, "writing", &output))?;
            rows_out += 1;
        }
    }
    writer
        .flush()
        .map_err(|e| sandstep::Error::from(e).context(format!("writing \"{output}\"")))?;
    sandstep::log::info!(
        "{rows_in} rows in, {rows_out} kept, {duplicates} duplicates, rejected {rejected:?}"
    );
    Ok(Output {
        output,
        rows_in,
        rows_out,
        duplicates,
        rejected,
        elapsed_ms: started.elapsed().as_secs_f64() * 1e3,
    })
}

/// Why a row cannot be used, if it cannot.
fn defect(record: &csv::ByteRecord) -> Option<&'static str> {
    if record.len() != FIELDS {
        Some("wrong_field_count")
    } else if record[ID].is_empty() {
        Some("missing_id")
    } else if !is_date(&record[DATE]) {
        Some("bad_date")
    } else if !is_amount(&record[AMOUNT]) {
        Some("bad_amount")
    } else {
        None
    }
}

/// `YYYY-MM-DD` naming a real day.
fn is_date(s: &[u8]) -> bool {
    let digits = |r: &[u8]| -> Option<u32> {
        r.iter().try_fold(0u32, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
        })
    };
    if s.len() != 10 || s[4] != b'-' || s[7] != b'-' {
        return false;
    }
    let (Some(year), Some(month), Some(day)) = (digits(&s[..4]), digits(&s[5..7]), digits(&s[8..]))
    else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// A non-negative decimal with at most two fraction digits, such as `12` or `12.50`.
fn is_amount(s: &[u8]) -> bool {
    let (whole, fraction) = match s.iter().position(|&b| b == b'.') {
        Some(dot) => (&s[..dot], Some(&s[dot + 1..])),
        None => (s, None),
    };
    let all_digits = |r: &[u8]| r.iter().all(u8::is_ascii_digit);
    !whole.is_empty()
        && all_digits(whole)
        && fraction.is_none_or(|f| (1..=2).contains(&f.len()) && all_digits(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_must_be_real_days() {
        for good in ["2026-11-01", "2024-02-29", "2026-12-31"] {
            assert!(is_date(good.as_bytes()), "{good}");
        }
        for bad in [
            "2026-13-01",
            "2026-11-32",
            "2025-02-29",
            "01/11/2026",
            "",
            "2026-1-01",
            "2026-00-10",
        ] {
            assert!(!is_date(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn amounts_are_plain_decimals() {
        for good in ["12", "12.5", "12.50", "0.01"] {
            assert!(is_amount(good.as_bytes()), "{good}");
        }
        for bad in ["", "n/a", "12,50", "1e", "12.", "12.505", "-3", ".5"] {
            assert!(!is_amount(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn defects_are_checked_in_order() {
        let row = |s: &str| csv::ByteRecord::from(s.split(',').collect::<Vec<_>>());
        assert_eq!(defect(&row("T1,C1,2026-11-01,1.00,EUR,web")), None);
        assert_eq!(
            defect(&row("T1,C1,2026-11-01,1.00,EUR")),
            Some("wrong_field_count")
        );
        assert_eq!(
            defect(&row("T1,C1,2026-13-01,n/a,EUR,web")),
            Some("bad_date")
        );
        assert_eq!(
            defect(&row("T1,C1,2026-11-01,n/a,EUR,web")),
            Some("bad_amount")
        );
    }
}
