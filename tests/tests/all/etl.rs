//! The ETL example (`examples/etl/`) run end to end: its pipeline and manifest as shipped, the
//! example tasks as built by `build.rs`, small generated data in a temporary directory. The
//! summary must count exactly what the generator injected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sandstep_host::engine::{Engine, Execution, ExecutionRequest, Status};
use sandstep_host::taskbuild::Language;
use sandstep_tests::{polyglot, tasks};
use serde_json::{Value, json};

/// The repository's `examples/etl/`.
fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/etl")
}

/// A temporary copy of the example: generated data under `data/`, and the shipped manifest
/// with each component path pointing at the component `build.rs` built.
struct Example {
    dir: tempfile::TempDir,
    injected: etl_datagen::Injected,
    pipeline: &'static str,
}

/// The polyglot variant's two steps, each in one language.
struct Polyglot {
    validate: Language,
    notify: Language,
}

impl Example {
    fn new(rows: usize) -> Self {
        Self::variant(rows, None)
    }

    /// `pipeline.polyglot.json` with `sandstep.polyglot.toml`, its Python and JavaScript steps
    /// built by `host task build` from example-tasks/python/etl and example-tasks/js/etl.
    fn polyglot(rows: usize, validate: Language, notify: Language) -> Self {
        Self::variant(rows, Some(Polyglot { validate, notify }))
    }

    fn variant(rows: usize, polyglot: Option<Polyglot>) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let config = etl_datagen::Config {
            rows,
            customers: 200,
            ..etl_datagen::Config::default()
        };
        let injected =
            etl_datagen::generate(&dir.path().join("data"), &config).expect("sample data");
        let (manifest_file, pipeline) = match polyglot {
            None => ("sandstep.toml", "pipeline.json"),
            Some(_) => ("sandstep.polyglot.toml", "pipeline.polyglot.json"),
        };
        let shipped = std::fs::read_to_string(example_dir().join(manifest_file))
            .expect("the example's manifest");
        let mut manifest: toml::Table =
            toml::from_str(&shipped).expect("the example's manifest is TOML");
        let built: BTreeMap<&str, &str> = tasks::ALL.iter().copied().collect();
        let entries = manifest
            .get_mut("tasks")
            .and_then(|t| t.as_table_mut())
            .expect("a [tasks] table");
        for (name, entry) in entries.iter_mut() {
            let path = match (&polyglot, name.as_str()) {
                (Some(p), "validate-schema-polyglot") => polyglot_etl(p.validate),
                (Some(p), "notify-failure-polyglot") => polyglot_etl(p.notify),
                _ => PathBuf::from(
                    built
                        .get(name.replace('-', "_").as_str())
                        .unwrap_or_else(|| panic!("no component built for task {name:?}")),
                ),
            };
            entry.as_table_mut().expect("a task table").insert(
                "component".into(),
                toml::Value::from(path.to_str().expect("a UTF-8 path")),
            );
        }
        std::fs::write(
            dir.path().join("sandstep.toml"),
            toml::to_string(&manifest).expect("TOML encodes"),
        )
        .expect("manifest written");
        Example {
            dir,
            injected,
            pipeline,
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, input: Value) -> Execution {
        let text = std::fs::read_to_string(example_dir().join(self.pipeline))
            .expect("the example's pipeline");
        let machine = sandstep_host::asl::parse_text(&text)
            .unwrap_or_else(|problems| panic!("the example pipeline is invalid: {problems:?}"));
        let tasks = sandstep_host::resources::load_runner(&self.dir.path().join("sandstep.toml"))
            .expect("the manifest loads");
        let engine = Engine::new(tasks);
        let unknown = engine.check_resources(&machine);
        assert!(unknown.is_empty(), "{unknown:?}");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        runtime.block_on(engine.execute(&machine, ExecutionRequest::new("etl", input)))
    }
}

/// The component holding both ETL steps in `language`.
fn polyglot_etl(language: Language) -> PathBuf {
    let dir = match language {
        Language::Python => "python/etl",
        Language::JavaScript => "js/etl",
    };
    polyglot::component(
        &polyglot::example_tasks().join(dir),
        "validate_schema.handler",
        language,
    )
}

#[test]
fn summary_counts_what_the_generator_injected() {
    summary_matches_the_injected_data(&Example::new(5_000));
}

#[test]
fn the_polyglot_variant_gives_the_same_summary() {
    let example = Example::polyglot(5_000, Language::Python, Language::JavaScript);
    summary_matches_the_injected_data(&example);
    let example = Example::polyglot(2_000, Language::JavaScript, Language::Python);
    summary_matches_the_injected_data(&example);
}

#[test]
fn the_polyglot_variant_notifies_a_bad_header_in_either_language() {
    for (validate, notify) in [
        (Language::Python, Language::JavaScript),
        (Language::JavaScript, Language::Python),
    ] {
        let example = Example::polyglot(200, validate, notify);
        let execution = example.run(json!({ "file": "/input/transactions-bad-header.csv" }));
        assert_eq!(
            execution.error.as_deref(),
            Some("ETL.Failed"),
            "{validate} then {notify}"
        );
        let notice = only_notice(&example);
        assert_eq!(notice["reason"], "the file failed the schema check");
        assert_eq!(
            notice["details"],
            json!([
                "missing column \"transaction_id\"",
                "missing column \"currency\"",
                "unexpected column \"txn_id\""
            ]),
            "{validate} then {notify}"
        );
        assert_eq!(notice["file"], "/input/transactions-bad-header.csv");
        assert!(
            notice["execution_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("arn:")),
            "{notice}"
        );
    }
}

#[test]
fn the_polyglot_variant_notifies_an_unreadable_file() {
    let example = Example::polyglot(200, Language::Python, Language::JavaScript);
    let execution = example.run(json!({ "file": "/input/no-such-file.csv" }));
    assert_eq!(execution.error.as_deref(), Some("ETL.Failed"));
    let notice = only_notice(&example);
    // Python's own exception, as Lambda reports it: the class name is the error.
    assert_eq!(notice["reason"], "step failed with FileNotFoundError");
    let cause: Value = serde_json::from_str(notice["details"][0].as_str().expect("a cause"))
        .expect("a Lambda error's cause is JSON");
    assert_eq!(cause["errorType"], "FileNotFoundError");
    assert!(
        cause["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("/input/no-such-file.csv")),
        "{cause}"
    );
    assert!(
        cause["stackTrace"][0]
            .as_str()
            .is_some_and(|f| f.contains("validate_schema.py") && f.contains("in handler")),
        "{cause}"
    );
}

fn summary_matches_the_injected_data(example: &Example) {
    let injected = &example.injected;
    let execution = example.run(json!({ "file": "/input/transactions.csv" }));
    assert_eq!(
        execution.status,
        Status::Succeeded,
        "{:?}: {:?}",
        execution.error,
        execution.cause
    );
    let summary = execution.output.expect("a succeeded execution has output");

    assert_eq!(summary["rows_in"], injected.rows);
    assert_eq!(summary["duplicates_dropped"], injected.duplicates);
    assert_eq!(summary["rows_out"], injected.rows_out);
    let mut rejected: BTreeMap<String, usize> = injected.malformed.clone();
    rejected.insert("unknown_customer".into(), injected.unknown_customers);
    rejected.retain(|_, n| *n > 0);
    assert_eq!(summary["rejected"], json!(rejected));

    // One file per date, holding that date's good rows under the header.
    let partitions = summary["partitions"]
        .as_array()
        .expect("partitions is an array");
    let found: BTreeMap<&str, u64> = partitions
        .iter()
        .map(|p| {
            (
                p["date"].as_str().expect("a date"),
                p["rows"].as_u64().expect("a count"),
            )
        })
        .collect();
    let expected: BTreeMap<&str, u64> = injected
        .partitions
        .iter()
        .map(|(d, n)| (d.as_str(), *n as u64))
        .collect();
    assert_eq!(found, expected);
    for (date, rows) in &expected {
        let file = example
            .data()
            .join(format!("out/date={date}/part-transactions.csv"));
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_eq!(text.lines().count() as u64, rows + 1, "{}", file.display());
        assert!(
            text.lines()
                .skip(1)
                .all(|l| l.split(',').nth(2) == Some(*date)),
            "{}",
            file.display()
        );
    }
    for step in ["validate", "dedupe", "enrich", "partition", "summarize"] {
        assert!(
            summary["timings_ms"][step]
                .as_f64()
                .is_some_and(|ms| ms >= 0.0),
            "{step}: {summary}"
        );
    }
    assert!(
        std::fs::read_dir(example.data().join("notifications"))
            .expect("exists")
            .next()
            .is_none()
    );
}

#[test]
fn a_bad_header_takes_the_failure_branch() {
    let example = Example::new(200);
    let execution = example.run(json!({ "file": "/input/transactions-bad-header.csv" }));
    assert_eq!(execution.status, Status::Failed);
    assert_eq!(execution.error.as_deref(), Some("ETL.Failed"));
    let notice = only_notice(&example);
    assert_eq!(notice["reason"], "the file failed the schema check");
    assert_eq!(
        notice["details"],
        json!([
            "missing column \"transaction_id\"",
            "missing column \"currency\"",
            "unexpected column \"txn_id\""
        ])
    );
    assert_eq!(notice["file"], "/input/transactions-bad-header.csv");
    assert!(
        std::fs::read_dir(example.data().join("out"))
            .expect("exists")
            .next()
            .is_none(),
        "nothing was written"
    );
}

#[test]
fn a_task_error_is_caught_and_notified() {
    let example = Example::new(200);
    let execution = example.run(json!({ "file": "/input/no-such-file.csv" }));
    assert_eq!(execution.status, Status::Failed);
    assert_eq!(execution.error.as_deref(), Some("ETL.Failed"));
    let notice = only_notice(&example);
    assert_eq!(notice["reason"], "step failed with Task.IoError");
    let cause = notice["details"][0].as_str().expect("the caught cause");
    assert!(
        cause.starts_with("reading \"/input/no-such-file.csv\""),
        "{cause}"
    );
}

/// The one notice in `notifications/`, parsed.
fn only_notice(example: &Example) -> Value {
    let notices: Vec<PathBuf> = std::fs::read_dir(example.data().join("notifications"))
        .expect("the notifications directory exists")
        .map(|e| e.expect("a readable entry").path())
        .collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
    let text = std::fs::read_to_string(&notices[0]).expect("the notice is readable");
    serde_json::from_str(&text).expect("the notice is JSON")
}
