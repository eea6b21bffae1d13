//! Each example task run alone through the host's task runner, in the sandbox, on small inputs
//! written for the case. `foreach_task!` makes a task without a test here fail to compile.

use std::path::Path;

use sandstep_host::engine::TaskCall;
use sandstep_host::errors::AslError;
use sandstep_tests::{foreach_task, tasks};
use serde_json::{Value, json};

macro_rules! assert_test_exists {
    ($name:ident) => {
        #[allow(unused_imports, reason = "the import only proves the test exists")]
        use self::$name as _;
    };
}
foreach_task!(assert_test_exists);

/// A temporary directory whose subdirectories the one task under test is granted.
struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    /// `dirs`: (guest path, mode) pairs; each is backed by a subdirectory of the same name.
    fn new(dirs: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        for (guest, _) in dirs {
            std::fs::create_dir_all(dir.path().join(guest.trim_start_matches('/')))
                .expect("a grant directory");
        }
        Sandbox { dir }
    }

    fn path(&self, guest: &str) -> std::path::PathBuf {
        self.dir.path().join(guest.trim_start_matches('/'))
    }

    fn write(&self, guest: &str, text: &str) {
        std::fs::write(self.path(guest), text).expect("an input file");
    }

    fn read(&self, guest: &str) -> String {
        std::fs::read_to_string(self.path(guest)).unwrap_or_else(|e| panic!("{guest}: {e}"))
    }

    /// Runs `component` once with `input`, granting it `dirs`.
    fn call(
        &self,
        component: &str,
        dirs: &[(&str, &str)],
        input: Value,
    ) -> Result<Value, AslError> {
        let grants: Vec<String> = dirs
            .iter()
            .map(|(guest, mode)| {
                format!(
                    "{{ guest = {guest:?}, host = {:?}, mode = {mode:?} }}",
                    guest.trim_start_matches('/')
                )
            })
            .collect();
        let manifest = format!(
            "[tasks.t]\ncomponent = {component:?}\nfuel = 1_000_000_000\nmemory_mib = 64\ndirs = [{}]\n",
            grants.join(", ")
        );
        let path = self.dir.path().join("sandstep.toml");
        std::fs::write(&path, manifest).expect("a manifest");
        let runner = sandstep_host::resources::load_runner(&path).expect("the manifest loads");
        let call = TaskCall {
            resource: "wasm:t",
            input: &input,
            execution_id: "arn:aws:states:local:000000000000:execution:test:run-1",
            state_name: "Under test",
            attempt: "",
            retry_count: 0,
            timeout: None,
            concurrent: true,
            payload_limit: sandstep_host::engine::DEFAULT_PAYLOAD_LIMIT,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        runtime.block_on(runner.invoke(call)).result
    }
}

fn assert_error(result: Result<Value, AslError>, name: &str, cause_contains: &str) {
    let error = result.expect_err("the task fails");
    assert_eq!(error.error, name, "{error:?}");
    assert!(
        error.cause.contains(cause_contains),
        "expected {cause_contains:?} in {:?}",
        error.cause
    );
}

const HEADER: &str = "transaction_id,customer_id,date,amount,currency,channel";

#[test]
fn filter() {
    // Benchmark W4's rule: active and score over 50, as {id, score}, scores kept as written.
    let records: Vec<Value> = (0..40)
        .map(|i| json!({ "id": i, "active": i % 3 != 0, "score": (i * 37) % 100, "name": format!("rec-{i}") }))
        .chain([json!({ "id": 100, "active": true, "score": 50 }), json!({ "id": 101, "active": true, "score": 50.5 })])
        .collect();
    let expected: Vec<Value> = records
        .iter()
        .filter(|r| r["active"] == true && r["score"].as_f64().is_some_and(|s| s > 50.0))
        .map(|r| json!({ "id": r["id"], "score": r["score"] }))
        .collect();
    assert!(expected.len() > 5 && expected.len() < records.len());
    let sandbox = Sandbox::new(&[]);
    let out = sandbox
        .call(tasks::FILTER, &[], json!({ "records": records }))
        .expect("filters");
    assert_eq!(out, json!({ "count": expected.len(), "kept": expected }));
    assert_eq!(
        out["kept"].as_array().and_then(|k| k.last()),
        Some(&json!({ "id": 101, "score": 50.5 }))
    );

    let bad = sandbox.call(tasks::FILTER, &[], json!({ "records": [{ "id": 1, "active": true, "score": 9 }, { "id": 2, "active": "yes", "score": 9 }] }));
    assert_error(
        bad,
        "Task.InvalidInput",
        "field \"records[1].active\" does not match `Input`: invalid type: string \"yes\", expected a boolean",
    );
}

#[test]
fn validate_schema() {
    let dirs = [("/input", "ro")];
    let sandbox = Sandbox::new(&dirs);
    sandbox.write(
        "/input/good.csv",
        &format!("{HEADER}\nT1,C1,2026-11-01,1.00,EUR,web\nT2,C1,2026-11-01\n"),
    );
    let out = sandbox
        .call(
            tasks::VALIDATE_SCHEMA,
            &dirs,
            json!({ "file": "/input/good.csv" }),
        )
        .expect("checks");
    assert_eq!(
        (
            out["valid"].clone(),
            out["rows"].clone(),
            out["problems"].clone()
        ),
        (json!(true), json!(2), json!([]))
    );

    sandbox.write(
        "/input/reordered.csv",
        "customer_id,transaction_id,date,amount,currency,channel\n",
    );
    let out = sandbox
        .call(
            tasks::VALIDATE_SCHEMA,
            &dirs,
            json!({ "file": "/input/reordered.csv" }),
        )
        .expect("checks");
    assert_eq!(out["valid"], false);
    assert_eq!(out["rows"], 0);
    assert!(
        out["problems"][0]
            .as_str()
            .is_some_and(|p| p.starts_with("columns are in the order")),
        "{out}"
    );

    sandbox.write("/input/empty.csv", "");
    let out = sandbox
        .call(
            tasks::VALIDATE_SCHEMA,
            &dirs,
            json!({ "file": "/input/empty.csv" }),
        )
        .expect("checks");
    assert_eq!(out["valid"], false);
    assert!(
        out["problems"][0]
            .as_str()
            .is_some_and(|p| p.starts_with("the file is empty")),
        "{out}"
    );

    let missing = sandbox.call(
        tasks::VALIDATE_SCHEMA,
        &dirs,
        json!({ "file": "/input/missing.csv" }),
    );
    assert_error(missing, "Task.IoError", "reading \"/input/missing.csv\"");
    // Nothing outside the grant is reachable.
    let outside = sandbox.call(
        tasks::VALIDATE_SCHEMA,
        &dirs,
        json!({ "file": "/etc/passwd" }),
    );
    assert_error(outside, "Task.IoError", "reading \"/etc/passwd\"");
}

#[test]
fn dedupe() {
    let dirs = [("/input", "ro"), ("/work", "rw")];
    let sandbox = Sandbox::new(&dirs);
    let rows = [
        "T1,C1,2026-11-01,1.00,EUR,web",
        "T2,C2,2026-10-31,2.50,USD,app",
        "T1,C9,2026-11-01,9.99,EUR,web", // a repeated id: the first row wins
        "T3,C1,2026-11-01,3.00,EUR",     // five fields
        "T4,C1,2026-02-30,4.00,EUR,web", // no such day
        "T5,C1,2026-11-01,\"4,00\",EUR,web",
        "T6,C1,2026-11-01,n/a,EUR,web",
        "T7,C3,2026-11-02,7,GBP,store",
    ];
    sandbox.write(
        "/input/day.csv",
        &format!("{HEADER}\n{}\n", rows.join("\n")),
    );
    let out = sandbox
        .call(
            tasks::DEDUPE,
            &dirs,
            json!({ "file": "/input/day.csv", "output_dir": "/work" }),
        )
        .expect("dedupes");
    assert_eq!(out["output"], "/work/deduped-run-1.csv");
    assert_eq!(
        (
            out["rows_in"].clone(),
            out["rows_out"].clone(),
            out["duplicates"].clone()
        ),
        (json!(8), json!(3), json!(1))
    );
    assert_eq!(
        out["rejected"],
        json!({ "bad_amount": 2, "bad_date": 1, "wrong_field_count": 1 })
    );
    let kept = sandbox.read("/work/deduped-run-1.csv");
    assert_eq!(
        kept,
        format!("{HEADER}\n{}\n{}\n{}\n", rows[0], rows[1], rows[7])
    );
}

#[test]
fn enrich() {
    let dirs = [("/ref", "ro"), ("/work", "rw")];
    let sandbox = Sandbox::new(&dirs);
    sandbox.write(
        "/ref/customers.csv",
        "customer_id,name,segment,country\nC1,Ada Okafor,retail,DE\nC2,Bo Silva,premium,BR\n",
    );
    sandbox.write("/work/in.csv", &format!("{HEADER}\nT1,C1,2026-11-01,1.00,EUR,web\nT2,C7,2026-11-01,2.00,EUR,web\nT3,C2,2026-10-31,3.00,USD,app\n"));
    let input =
        json!({ "file": "/work/in.csv", "customers": "/ref/customers.csv", "output_dir": "/work" });
    let out = sandbox
        .call(tasks::ENRICH, &dirs, input.clone())
        .expect("enriches");
    assert_eq!(out["output"], "/work/enriched-run-1.csv");
    assert_eq!(
        (
            out["customers"].clone(),
            out["rows_in"].clone(),
            out["rows_out"].clone()
        ),
        (json!(2), json!(3), json!(2))
    );
    assert_eq!(out["rejected"], json!({ "unknown_customer": 1 }));
    assert_eq!(
        sandbox.read("/work/enriched-run-1.csv"),
        format!(
            "{HEADER},customer_name,segment,country\nT1,C1,2026-11-01,1.00,EUR,web,Ada Okafor,retail,DE\nT3,C2,2026-10-31,3.00,USD,app,Bo Silva,premium,BR\n"
        )
    );

    sandbox.write(
        "/ref/customers.csv",
        "customer_id,name,country\nC1,Ada,DE\n",
    );
    assert_error(
        sandbox.call(tasks::ENRICH, &dirs, input),
        "Csv.MissingColumn",
        "\"/ref/customers.csv\" has no column \"segment\"",
    );
    // The reference directory is read-only to the task.
    let write_ref =
        json!({ "file": "/work/in.csv", "customers": "/ref/customers.csv", "output_dir": "/ref" });
    sandbox.write(
        "/ref/customers.csv",
        "customer_id,name,segment,country\nC1,Ada Okafor,retail,DE\n",
    );
    assert_error(
        sandbox.call(tasks::ENRICH, &dirs, write_ref),
        "Task.IoError",
        "creating \"/ref/enriched-run-1.csv\"",
    );
}

#[test]
fn partition() {
    let dirs = [("/work", "ro"), ("/out", "rw")];
    let sandbox = Sandbox::new(&dirs);
    let header = "transaction_id,customer_id,date,amount";
    sandbox.write(
        "/work/in.csv",
        &format!("{header}\nT1,C1,2026-11-01,1\nT2,C1,2026-10-31,2\nT3,C2,2026-11-01,3\n"),
    );
    let input =
        json!({ "file": "/work/in.csv", "source": "/input/day-1.csv", "output_dir": "/out" });
    let out = sandbox
        .call(tasks::PARTITION, &dirs, input)
        .expect("partitions");
    assert_eq!(out["rows"], 3);
    assert_eq!(
        out["partitions"],
        json!([
            { "date": "2026-10-31", "rows": 1, "path": "/out/date=2026-10-31/part-day-1.csv" },
            { "date": "2026-11-01", "rows": 2, "path": "/out/date=2026-11-01/part-day-1.csv" },
        ])
    );
    assert_eq!(
        sandbox.read("/out/date=2026-11-01/part-day-1.csv"),
        format!("{header}\nT1,C1,2026-11-01,1\nT3,C2,2026-11-01,3\n")
    );

    // A date is never allowed to shape a path.
    sandbox.write("/work/evil.csv", &format!("{header}\nT1,C1,../../x,1\n"));
    let evil =
        json!({ "file": "/work/evil.csv", "source": "/input/evil.csv", "output_dir": "/out" });
    assert_error(
        sandbox.call(tasks::PARTITION, &dirs, evil),
        "Partition.BadDate",
        "row 1 has the date \"../../x\"",
    );
    assert!(
        !Path::new(&sandbox.path("/out"))
            .join("date=../../x")
            .exists()
    );
}

#[test]
fn summarize() {
    let step = |rows_in: u64, rows_out: u64, rejected: Value| json!({ "rows_in": rows_in, "rows_out": rows_out, "duplicates": rows_in - rows_out - rejected.as_object().map_or(0, |r| r.values().filter_map(Value::as_u64).sum()), "rejected": rejected, "elapsed_ms": 1.25 });
    let input = json!({
        "file": "/input/day.csv",
        "validation": { "valid": true, "rows": 10, "problems": [], "elapsed_ms": 0.5 },
        "dedupe": step(10, 7, json!({ "bad_date": 1 })),
        "enrich": step(7, 5, json!({ "unknown_customer": 2 })),
        "partition": { "rows": 5, "partitions": [{ "date": "2026-11-01", "rows": 5, "path": "/out/x.csv" }], "elapsed_ms": 2.0 },
    });
    let sandbox = Sandbox::new(&[]);
    let out = sandbox
        .call(tasks::SUMMARIZE, &[], input.clone())
        .expect("summarizes");
    assert_eq!(out["rows_in"], 10);
    assert_eq!(out["duplicates_dropped"], 2);
    assert_eq!(
        out["rejected"],
        json!({ "bad_date": 1, "unknown_customer": 2 })
    );
    assert_eq!(out["rejected_total"], 3);
    assert_eq!(out["rows_out"], 5);
    assert_eq!(out["timings_ms"]["dedupe"], 1.25);

    let mut lost = input;
    lost["partition"]["rows"] = json!(4);
    assert_error(
        sandbox.call(tasks::SUMMARIZE, &[], lost),
        "Summary.Inconsistent",
        "enrich.rows_out is 5 but partition.rows is 4",
    );
}

#[test]
fn notify_failure() {
    let dirs = [("/notifications", "rw")];
    let sandbox = Sandbox::new(&dirs);
    let caught = json!({ "file": "/input/day.csv", "error": { "Error": "Task.IoError", "Cause": "reading \"/input/day.csv\": not found" } });
    let out = sandbox
        .call(tasks::NOTIFY_FAILURE, &dirs, caught)
        .expect("notifies");
    assert_eq!(out["path"], "/notifications/failure-run-1.json");
    assert_eq!(out["reason"], "step failed with Task.IoError");
    let written: Value = serde_json::from_str(&sandbox.read("/notifications/failure-run-1.json"))
        .expect("the notice is JSON");
    assert_eq!(written, out);

    let invalid = json!({ "file": "/input/day.csv", "validation": { "valid": false, "rows": 0, "problems": ["missing column \"date\""] } });
    let out = sandbox
        .call(tasks::NOTIFY_FAILURE, &dirs, invalid)
        .expect("notifies");
    assert_eq!(
        (out["reason"].clone(), out["details"].clone()),
        (
            json!("the file failed the schema check"),
            json!(["missing column \"date\""])
        )
    );
    // Without the grant there is nowhere to write.
    assert_error(
        sandbox.call(tasks::NOTIFY_FAILURE, &[], json!({})),
        "Task.IoError",
        "creating \"/notifications/failure-run-1.json\"",
    );
}
