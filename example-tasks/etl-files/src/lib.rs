//! Helpers the ETL example tasks share: names safe to use in a file name,
//! and CSV failures as task errors.

/// `text` kept to characters safe in a file name (others become `_`), at
/// most 80 of them, or `fallback` when nothing is left.
pub fn file_safe(text: &str, fallback: &str) -> String {
    let safe: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    if safe.is_empty() {
        fallback.to_owned()
    } else {
        safe
    }
}

/// The execution's name (the last part of its id), safe in a file name.
pub fn execution_file_name(execution_id: &str) -> String {
    file_safe(
        execution_id.rsplit(':').next().unwrap_or(execution_id),
        "execution",
    )
}

/// A CSV failure while `doing` something to `path`: I/O errors keep their
/// `Task.IoError` name (so a Retry can match them), bad CSV is `Csv.Unreadable`.
pub fn csv_error(e: csv::Error, doing: &str, path: &str) -> sandstep::Error {
    let text = e.to_string();
    let e = match e.into_kind() {
        csv::ErrorKind::Io(io) => sandstep::Error::from(io),
        _ => sandstep::Error::new("Csv.Unreadable", text),
    };
    e.context(format!("{doing} \"{path}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_in_file_names() {
        assert_eq!(
            execution_file_name("arn:sandstep:states:local:execution:etl:4f1c"),
            "4f1c"
        );
        assert_eq!(execution_file_name("../../etc/passwd"), "______etc_passwd");
        assert_eq!(execution_file_name(""), "execution");
        assert_eq!(file_safe("a b.csv", "x"), "a_b_csv");
    }
}
