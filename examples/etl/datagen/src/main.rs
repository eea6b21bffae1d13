//! `etl-datagen [--rows N] [--customers N] [--seed N] DIR`: writes the ETL example's sample data
//! under DIR and prints what it injected as JSON.

use std::path::PathBuf;

use anyhow::{Context as _, bail};

fn main() -> anyhow::Result<()> {
    let mut config = etl_datagen::Config::default();
    let mut dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> anyhow::Result<u64> {
            let value = args
                .next()
                .with_context(|| format!("{name} needs a number"))?;
            value
                .replace('_', "")
                .parse()
                .with_context(|| format!("{name} \"{value}\" is not a number"))
        };
        match arg.as_str() {
            "--rows" => config.rows = usize::try_from(number("--rows")?)?,
            "--customers" => config.customers = usize::try_from(number("--customers")?)?.max(1),
            "--seed" => config.seed = number("--seed")?,
            "-h" | "--help" => {
                println!("usage: etl-datagen [--rows N] [--customers N] [--seed N] DIR");
                return Ok(());
            }
            flag if flag.starts_with('-') => bail!("unknown option \"{flag}\"; try --help"),
            path if dir.is_none() => dir = Some(PathBuf::from(path)),
            extra => bail!("unexpected argument \"{extra}\": only one directory is taken"),
        }
    }
    let dir = dir.context("missing the output directory; usage: etl-datagen [--rows N] DIR")?;
    let injected = etl_datagen::generate(&dir, &config)
        .with_context(|| format!("generating sample data in {}", dir.display()))?;
    println!("{}", serde_json::to_string_pretty(&injected)?);
    Ok(())
}
