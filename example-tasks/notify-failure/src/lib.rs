//! ETL example, failure branch: writes a notice saying why a file was not processed to the
//! granted `/notifications` directory, and returns it. Its input is the whole state, which holds
//! either the schema check's findings (`validation`) or an error a Catch recorded (`error`).

use std::io::Write as _;

use serde::{Deserialize, Serialize};

/// The directory notices go to; the manifest grants it read-write.
const NOTIFICATIONS: &str = "/notifications";

/// The state at the point of failure; every part is optional because two routes lead here.
#[derive(Deserialize)]
pub struct Input {
    file: Option<String>,
    validation: Option<Validation>,
    error: Option<Caught>,
}

/// What ValidateSchema found.
#[derive(Deserialize)]
struct Validation {
    #[serde(default)]
    problems: Vec<String>,
}

/// What a Catch with `ResultPath: "$.error"` recorded.
#[derive(Deserialize)]
struct Caught {
    #[serde(rename = "Error")]
    error: String,
    #[serde(rename = "Cause", default)]
    cause: String,
}

/// The notice, as written to the file.
#[derive(Serialize)]
pub struct Notice {
    /// Where the notice was written.
    path: String,
    execution_id: String,
    file: Option<String>,
    reason: String,
    details: Vec<String>,
}

/// Writes the notice.
#[sandstep::task]
pub fn run(input: Input, ctx: &sandstep::Context) -> Result<Notice, sandstep::Error> {
    let (reason, details) = match (input.error, input.validation) {
        (Some(caught), _) => (
            format!("step failed with {}", caught.error),
            vec![caught.cause],
        ),
        (None, Some(validation)) => (
            "the file failed the schema check".to_owned(),
            validation.problems,
        ),
        (None, None) => (
            "the pipeline failed for an unknown reason".to_owned(),
            Vec::new(),
        ),
    };
    let path = format!(
        "{NOTIFICATIONS}/failure-{}.json",
        etl_files::execution_file_name(&ctx.execution_id)
    );
    let notice = Notice {
        path,
        execution_id: ctx.execution_id.clone(),
        file: input.file,
        reason,
        details,
    };
    let text = serde_json::to_string_pretty(&notice)?;
    let mut out = std::fs::File::create(&notice.path)
        .map_err(|e| sandstep::Error::from(e).context(format!("creating \"{}\"", notice.path)))?;
    out.write_all(text.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .map_err(|e| sandstep::Error::from(e).context(format!("writing \"{}\"", notice.path)))?;
    sandstep::log::warn!("{}: {}", notice.path, notice.reason);
    Ok(notice)
}
