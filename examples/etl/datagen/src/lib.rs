//! Deterministic sample data for the ETL example (`examples/etl/`).
//!
//! [`generate`] writes, under one directory, the layout the example's manifest grants to its
//! tasks:
//!
//! ```text
//! input/transactions.csv             a day's transactions, with defects mixed in
//! input/transactions-bad-header.csv  a file whose header is wrong (the failure branch)
//! reference/customers.csv            the customer reference data `enrich` joins
//! work/ out/ notifications/          empty directories the tasks write to
//! injected.json                      the [`Injected`] report: what the pipeline should find
//! ```
//!
//! The same [`Config`] always gives the same bytes: a small xorshift generator stands in for a
//! random-number crate. Each transaction row is exactly one of: good, a duplicate (an exact
//! copy of an earlier good row), malformed (one defect of a known kind, with a fresh id), or
//! well-formed with a customer that is not in the reference data. The report counts each kind,
//! so tests can compare the pipeline's summary with what was put in.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;

/// The columns of a transactions file, in order.
pub const TRANSACTION_COLUMNS: [&str; 6] = [
    "transaction_id",
    "customer_id",
    "date",
    "amount",
    "currency",
    "channel",
];

/// The columns of the customers reference file, in order.
pub const CUSTOMER_COLUMNS: [&str; 4] = ["customer_id", "name", "segment", "country"];

/// The dates transactions fall on: mostly the last one, with late arrivals from the days before.
pub const DATES: [&str; 5] = [
    "2026-10-28",
    "2026-10-29",
    "2026-10-30",
    "2026-10-31",
    "2026-11-01",
];

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Data rows in `input/transactions.csv` (the header not counted).
    pub rows: usize,
    /// Rows in `reference/customers.csv`.
    pub customers: usize,
    /// Seed of the generator; the same seed gives the same files.
    pub seed: u64,
    /// Share of rows that repeat an earlier row's transaction id.
    pub duplicate_rate: f64,
    /// Share of rows with a defect that makes them unreadable.
    pub malformed_rate: f64,
    /// Share of rows naming a customer missing from the reference data.
    pub unknown_customer_rate: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            rows: 300_000,
            customers: 5_000,
            seed: 20_261_101,
            duplicate_rate: 0.02,
            malformed_rate: 0.01,
            unknown_customer_rate: 0.01,
        }
    }
}

/// The kinds of malformed row, by the reason name the pipeline reports.
pub const MALFORMED_REASONS: [&str; 3] = ["wrong_field_count", "bad_amount", "bad_date"];

/// What [`generate`] put in the data: what a correct pipeline reports back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Injected {
    /// Data rows in `input/transactions.csv`.
    pub rows: usize,
    /// Rows that repeat an earlier good row's transaction id.
    pub duplicates: usize,
    /// Malformed rows by reason (every reason in [`MALFORMED_REASONS`] is present).
    pub malformed: BTreeMap<String, usize>,
    /// Well-formed, unique rows whose customer is not in the reference data.
    pub unknown_customers: usize,
    /// Good rows: what should reach the output.
    pub rows_out: usize,
    /// Good rows per date: the partitions the output should have.
    pub partitions: BTreeMap<String, usize>,
    /// Data rows in `input/transactions-bad-header.csv`.
    pub bad_header_rows: usize,
}

/// Writes the sample data under `dir` (created if missing) and returns what it injected.
pub fn generate(dir: &Path, config: &Config) -> anyhow::Result<Injected> {
    for sub in ["input", "reference", "work", "out", "notifications"] {
        let path = dir.join(sub);
        fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
    }
    let mut rng = XorShift::new(config.seed);
    write_file(&dir.join("reference/customers.csv"), |w| {
        write_customers(w, config, &mut rng)
    })?;
    let mut injected = Injected::default();
    write_file(&dir.join("input/transactions.csv"), |w| {
        injected = write_transactions(w, config, &mut rng)?;
        Ok(())
    })?;
    injected.bad_header_rows = config.rows.clamp(1, 100);
    write_file(&dir.join("input/transactions-bad-header.csv"), |w| {
        write_bad_header(w, injected.bad_header_rows, config, &mut rng)
    })?;
    let report = serde_json::to_string_pretty(&injected).context("encoding the report")?;
    let path = dir.join("injected.json");
    fs::write(&path, report + "\n").with_context(|| format!("writing {}", path.display()))?;
    Ok(injected)
}

fn write_file(
    path: &Path,
    body: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let file = fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = BufWriter::new(file);
    body(&mut w)
        .and_then(|()| w.flush())
        .with_context(|| format!("writing {}", path.display()))
}

const FIRST_NAMES: [&str; 8] = [
    "Ada", "Bo", "Chen", "Dara", "Emil", "Fatima", "Goran", "Hana",
];
const LAST_NAMES: [&str; 8] = [
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Tanaka",
    "Silva",
    "Novak",
    "Haddad",
    "Kowalski",
];
const SEGMENTS: [&str; 3] = ["retail", "business", "premium"];
const COUNTRIES: [&str; 6] = ["DE", "FR", "JP", "BR", "US", "PL"];
const CURRENCIES: [&str; 3] = ["EUR", "USD", "GBP"];
const CHANNELS: [&str; 3] = ["web", "store", "app"];

fn customer_id(n: usize) -> String {
    format!("C{n:06}")
}

fn write_customers(w: &mut dyn Write, config: &Config, rng: &mut XorShift) -> std::io::Result<()> {
    writeln!(w, "{}", CUSTOMER_COLUMNS.join(","))?;
    for n in 0..config.customers {
        writeln!(
            w,
            "{},{} {},{},{}",
            customer_id(n),
            rng.pick(&FIRST_NAMES),
            rng.pick(&LAST_NAMES),
            rng.pick(&SEGMENTS),
            rng.pick(&COUNTRIES),
        )?;
    }
    Ok(())
}

fn write_transactions(
    w: &mut dyn Write,
    config: &Config,
    rng: &mut XorShift,
) -> std::io::Result<Injected> {
    let mut injected = Injected {
        rows: config.rows,
        malformed: MALFORMED_REASONS
            .iter()
            .map(|r| (r.to_string(), 0))
            .collect(),
        ..Injected::default()
    };
    writeln!(w, "{}", TRANSACTION_COLUMNS.join(","))?;
    let mut good: Vec<String> = Vec::new();
    let mut next_id = 0u64;
    for _ in 0..config.rows {
        let roll = rng.unit();
        let mut fresh = || {
            next_id += 1;
            format!("T{next_id:09}")
        };
        if roll < config.duplicate_rate && !good.is_empty() {
            let line = &good[rng.below(good.len())];
            writeln!(w, "{line}")?;
            injected.duplicates += 1;
        } else if roll < config.duplicate_rate + config.malformed_rate {
            let reason = rng.below(MALFORMED_REASONS.len());
            let mut fields = row_fields(fresh(), customer_id(rng.below(config.customers)), rng);
            match MALFORMED_REASONS[reason] {
                "wrong_field_count" => {
                    fields.pop();
                }
                // A decimal comma needs quotes in CSV; the row still has six fields.
                "bad_amount" => fields[3] = rng.pick(&["n/a", "\"12,50\"", "", "1e"]).to_string(),
                _ => {
                    fields[2] = rng
                        .pick(&["2026-13-01", "01/11/2026", "2026-11-32", ""])
                        .to_string()
                }
            }
            writeln!(w, "{}", fields.join(","))?;
            *injected
                .malformed
                .entry(MALFORMED_REASONS[reason].to_string())
                .or_default() += 1;
        } else if roll
            < config.duplicate_rate + config.malformed_rate + config.unknown_customer_rate
        {
            let unknown = customer_id(config.customers + rng.below(1_000));
            writeln!(w, "{}", row_fields(fresh(), unknown, rng).join(","))?;
            injected.unknown_customers += 1;
        } else {
            let fields = row_fields(fresh(), customer_id(rng.below(config.customers)), rng);
            *injected.partitions.entry(fields[2].clone()).or_default() += 1;
            let line = fields.join(",");
            writeln!(w, "{line}")?;
            good.push(line);
            injected.rows_out += 1;
        }
    }
    Ok(injected)
}

fn write_bad_header(
    w: &mut dyn Write,
    rows: usize,
    config: &Config,
    rng: &mut XorShift,
) -> std::io::Result<()> {
    // An export from another system: a renamed column and no currency.
    writeln!(w, "txn_id,customer_id,date,amount,channel")?;
    for n in 0..rows {
        let mut fields = row_fields(
            format!("X{n:09}"),
            customer_id(rng.below(config.customers.max(1))),
            rng,
        );
        fields.remove(4);
        writeln!(w, "{}", fields.join(","))?;
    }
    Ok(())
}

/// A well-formed row: id, customer, date, amount, currency, channel.
fn row_fields(id: String, customer: String, rng: &mut XorShift) -> Vec<String> {
    // Nine in ten rows are from the day itself; the rest arrive late from the days before.
    let date = if rng.unit() < 0.9 {
        DATES[DATES.len() - 1]
    } else {
        rng.pick(&DATES[..DATES.len() - 1])
    };
    let cents = 100 + rng.below(50_000);
    vec![
        id,
        customer,
        date.to_string(),
        format!("{}.{:02}", cents / 100, cents % 100),
        rng.pick(&CURRENCIES).to_string(),
        rng.pick(&CHANNELS).to_string(),
    ]
}

/// xorshift64*: tiny, fast and good enough to scatter defects; not for anything secret.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        // Zero is the one state xorshift never leaves.
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n`; `n` must be positive.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Config {
        Config {
            rows: 2_000,
            customers: 50,
            ..Config::default()
        }
    }

    #[test]
    fn same_config_same_bytes() {
        let (a, b) = (
            tempfile::tempdir().expect("temp dir"),
            tempfile::tempdir().expect("temp dir"),
        );
        let ia = generate(a.path(), &small()).expect("generates");
        let ib = generate(b.path(), &small()).expect("generates");
        assert_eq!(ia, ib);
        for f in [
            "input/transactions.csv",
            "reference/customers.csv",
            "input/transactions-bad-header.csv",
        ] {
            let fa = fs::read(a.path().join(f)).expect("written");
            assert_eq!(fa, fs::read(b.path().join(f)).expect("written"), "{f}");
        }
    }

    #[test]
    fn report_matches_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let injected = generate(dir.path(), &small()).expect("generates");
        let text = fs::read_to_string(dir.path().join("input/transactions.csv")).expect("written");
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(TRANSACTION_COLUMNS.join(",").as_str()));
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), injected.rows);
        let malformed: usize = injected.malformed.values().sum();
        assert_eq!(
            injected.rows,
            injected.rows_out + injected.duplicates + malformed + injected.unknown_customers
        );
        assert_eq!(
            injected.partitions.values().sum::<usize>(),
            injected.rows_out
        );
        // Every kind of defect is present at this size, in roughly the configured share.
        assert!((20..=60).contains(&injected.duplicates), "{injected:?}");
        assert!(injected.malformed.values().all(|&n| n > 0), "{injected:?}");
        assert!(
            (5..=40).contains(&injected.unknown_customers),
            "{injected:?}"
        );
        let unique: std::collections::HashSet<&str> = rows
            .iter()
            .map(|r| r.split(',').next().unwrap_or(""))
            .collect();
        assert_eq!(unique.len(), injected.rows - injected.duplicates);
    }
}
