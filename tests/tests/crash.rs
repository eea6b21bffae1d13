//! Durable Standard executions survive `kill -9` at any instant.
//!
//! Several executions of a pipeline whose Tasks record every invocation in a
//! granted directory run as separate `host` processes sharing one database;
//! each process is killed with SIGKILL after a random delay, then
//! `host resume` (itself killed at random, round after round) continues them
//! until all end. Checked: every execution ends SUCCEEDED with the output of
//! an uninterrupted run; its history has the same events, none lost or
//! repeated; and no Task whose success was recorded before a kill ran again.
//!
//! Then an execution whose resume kills the host every time (the host is
//! killed whenever it reaches the same step, as a crash its data triggers
//! would) is failed after a few resumes, and another execution beside it
//! still ends well.
//!
//! This test binary is also the `host` it kills: run with
//! `SANDSTEP_CRASH_TEST_AS_HOST` set, it is the host's command line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use sandstep_host::engine::journal::EventKey;
use sandstep_host::store::{ExecutionStatus, SqliteStore, Store, StoredEvent};
use serde_json::{Value, json};

const AS_HOST: &str = "SANDSTEP_CRASH_TEST_AS_HOST";
/// Executions in flight at once.
const IN_FLIGHT: usize = 3;
/// Kills across the test (the issue asks for at least 50).
const KILL_POINTS: usize = 60;

const PIPELINE: &str = r#"{
  "Comment": "each item through two recorded steps, then one recorded summary step",
  "StartAt": "Prepare",
  "States": {
    "Prepare": {"Type": "Pass", "Parameters": {"items.$": "$.items"}, "Next": "Each"},
    "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 3,
      "ItemProcessor": {"StartAt": "First", "States": {
        "First": {"Type": "Task", "Resource": "wasm:ledger",
          "Parameters": {"label.$": "States.Format('first-{}', $)", "n.$": "$"}, "Next": "Second"},
        "Second": {"Type": "Task", "Resource": "wasm:ledger",
          "Parameters": {"label.$": "States.Format('second-{}', $.n)", "n.$": "$.n"}, "End": true}}},
      "Next": "Summary"},
    "Summary": {"Type": "Task", "Resource": "wasm:ledger",
      "Parameters": {"label": "summary", "n.$": "States.ArrayLength($)"}, "End": true}
  }
}"#;

fn main() -> ExitCode {
    if std::env::var_os(AS_HOST).is_some() {
        return sandstep_host::cli::main();
    }
    let seed = std::env::var("SANDSTEP_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    // `SANDSTEP_CRASH_ONLY=loop` (or `kill`) runs one of the two.
    let only = std::env::var("SANDSTEP_CRASH_ONLY").unwrap_or_default();
    if only != "loop" {
        println!("crash test: seed {seed} (set SANDSTEP_CRASH_SEED to repeat)");
        crash_test(seed);
        println!("crash test: ok");
    }
    if only != "kill" {
        crash_loop_test();
        println!("crash loop test: ok");
    }
    ExitCode::SUCCESS
}

/// A pipeline, its manifest and its ledger directory.
struct Setup {
    dir: PathBuf,
    db: PathBuf,
}

impl Setup {
    fn new(dir: PathBuf) -> Self {
        let ledger = dir.join("ledger");
        std::fs::create_dir_all(&ledger).expect("a ledger directory");
        std::fs::write(dir.join("pipeline.json"), PIPELINE).expect("the pipeline");
        let items: Vec<u32> = (1..=6).collect();
        std::fs::write(dir.join("input.json"), json!({"items": items}).to_string())
            .expect("the input");
        let manifest = format!(
            "[tasks.ledger]\ncomponent = {:?}\ntimeout_seconds = 30\ndirs = [{{ guest = \"/ledger\", host = {:?}, mode = \"rw\" }}]\n",
            sandstep_tests::guests::LEDGER,
            ledger.display().to_string()
        );
        std::fs::write(dir.join("sandstep.toml"), manifest).expect("the manifest");
        let db = dir.join("executions.db");
        Setup { dir, db }
    }

    fn host(&self, args: &[&str]) -> Command {
        let mut command = Command::new(std::env::current_exe().expect("this test binary"));
        command
            .env(AS_HOST, "1")
            .env_remove("SANDSTEP_DB")
            .current_dir(&self.dir)
            .args(args)
            .arg("--db")
            .arg(&self.db)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    fn run(&self, name: &str) -> Command {
        self.host(&[
            "run",
            "pipeline.json",
            "--input",
            "input.json",
            "--name",
            name,
        ])
    }

    fn ledger(&self) -> BTreeSet<String> {
        std::fs::read_dir(self.dir.join("ledger"))
            .expect("the ledger")
            .map(|entry| {
                entry
                    .expect("a ledger entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    fn store(&self) -> SqliteStore {
        SqliteStore::open(&self.db).expect("the executions database opens")
    }
}

/// `execution.label` of a ledger entry `execution.label.nanos`.
fn step_of(entry: &str) -> &str {
    entry.rsplit_once('.').map_or(entry, |(step, _)| step)
}

/// The steps whose Task success is recorded, as `execution.label`.
fn recorded_successes(store: &SqliteStore) -> BTreeSet<String> {
    let mut steps = BTreeSet::new();
    for record in store.list(None).expect("the executions") {
        for stored in store.events(&record.arn).expect("the events") {
            let event = &stored.event.event;
            if event.kind != "TaskSucceeded" {
                continue;
            }
            let output = event
                .details
                .as_ref()
                .and_then(|(_, d)| d.get("output"))
                .and_then(Value::as_str)
                .and_then(|text| serde_json::from_str::<Value>(text).ok());
            if let Some(label) = output.as_ref().and_then(|o| o["label"].as_str()) {
                steps.insert(format!("{}.{label}", record.name));
            }
        }
    }
    steps
}

/// The events as they must agree between runs: by key, type and details
/// (without what the task measured, which varies).
fn shape(events: &[StoredEvent]) -> BTreeMap<EventKey, (String, Option<Value>)> {
    events
        .iter()
        .filter(|e| !e.superseded)
        .map(|e| {
            let mut details = e.event.event.details.as_ref().map(|(_, d)| d.clone());
            if let Some(Value::Object(d)) = &mut details {
                d.remove("usage");
            }
            (
                e.event.key.clone(),
                (e.event.event.kind.to_string(), details),
            )
        })
        .collect()
}

struct Random(u64);

impl Random {
    /// xorshift64*: enough to spread kill instants.
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// Kills `child` after `delay` unless it ended first; true when it was killed.
fn kill_after(mut child: Child, delay: Duration) -> bool {
    let deadline = Instant::now() + delay;
    while Instant::now() < deadline {
        if child.try_wait().expect("the child's status").is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let killed = child.kill().is_ok();
    let _ = child.wait();
    killed
}

fn crash_test(seed: u64) {
    let root = tempfile::tempdir().expect("a temporary directory");

    // The reference: one execution, never interrupted.
    let clean = Setup::new(root.path().join("clean"));
    let started = Instant::now();
    let out = clean.run("reference").output().expect("host runs");
    // Kill instants spread over a little more than a whole run.
    let span = (started.elapsed().as_millis() as u64 * 5 / 4).max(50);
    assert!(
        out.status.success(),
        "the reference run fails: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = clean.store();
    let reference = store.get("reference").expect("the reference execution");
    let reference_shape = shape(&store.events(&reference.arn).expect("its events"));
    assert!(reference.output.is_some());

    let crash = Setup::new(root.path().join("crash"));
    let mut names: Vec<String> = Vec::new();
    let mut random = Random(seed | 1);
    let mut kills = 0;
    // After each kill: the steps recorded as succeeded, and the ledger then.
    let mut snapshots: Vec<(BTreeSet<String>, BTreeSet<String>)> = Vec::new();
    for round in 0.. {
        assert!(
            round < 400,
            "the executions did not finish after {round} rounds"
        );
        let known: BTreeMap<String, ExecutionStatus> = if crash.db.exists() {
            crash
                .store()
                .list(None)
                .expect("the executions")
                .into_iter()
                .map(|r| (r.name, r.status))
                .collect()
        } else {
            BTreeMap::new()
        };
        let finishing = kills >= KILL_POINTS;
        let unfinished = names
            .iter()
            .filter(|name| {
                known
                    .get(*name)
                    .is_none_or(|s| *s == ExecutionStatus::Running)
            })
            .count();
        if finishing && unfinished == 0 {
            break;
        }
        if !finishing {
            for _ in unfinished..IN_FLIGHT {
                names.push(format!("exec-{}", names.len()));
            }
        }
        let mut children: Vec<Child> = names
            .iter()
            .filter(|name| !known.contains_key(*name))
            .map(|name| crash.run(name).spawn().expect("host starts"))
            .collect();
        if known.values().any(|s| *s == ExecutionStatus::Running) {
            children.push(crash.host(&["resume"]).spawn().expect("host starts"));
        }
        if finishing {
            for child in children {
                let out = child.wait_with_output().expect("host ends");
                assert!(
                    out.status.code().is_some_and(|c| c <= 1),
                    "host failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            continue;
        }
        let delays: Vec<u64> = children.iter().map(|_| random.below(span)).collect();
        let killed: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = children
                .into_iter()
                .zip(delays)
                .map(|(child, ms)| {
                    scope.spawn(move || kill_after(child, Duration::from_millis(ms)))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| usize::from(h.join().expect("the killer thread")))
                .sum()
        });
        if killed > 0 && crash.db.exists() {
            kills += killed;
            snapshots.push((recorded_successes(&crash.store()), crash.ledger()));
        }
    }
    assert!(kills >= KILL_POINTS, "only {kills} kill points");

    let store = crash.store();
    let ledger = crash.ledger();
    for name in &names {
        let record = store.get(name).expect("the execution exists");
        assert_eq!(
            record.status,
            ExecutionStatus::Succeeded,
            "{name}: {record:?}"
        );
        assert_eq!(
            record.output, reference.output,
            "{name}: the output of an uninterrupted run"
        );
        let events = store.events(&record.arn).expect("its events");
        let ids: Vec<u64> = events.iter().map(|e| e.event.event.id).collect();
        assert_eq!(
            ids,
            (1..=events.len() as u64).collect::<Vec<_>>(),
            "{name}: event ids run 1..n with no gap or repeat"
        );
        assert_eq!(
            shape(&events),
            reference_shape,
            "{name}: the same events as an uninterrupted run"
        );
    }
    for (recorded, before) in &snapshots {
        for entry in ledger.difference(before) {
            assert!(
                !recorded.contains(step_of(entry)),
                "step {} ran again after its success was recorded",
                step_of(entry)
            );
        }
    }
    println!(
        "crash test: {kills} kill points, {} ledger entries for {} executions",
        ledger.len(),
        names.len()
    );
}

/// Two steps: `First`, then `Step` with the input's label, taking `ms`.
const LOOP_PIPELINE: &str = r#"{
  "StartAt": "First",
  "States": {
    "First": {"Type": "Task", "Resource": "wasm:ledger",
      "Parameters": {"label": "first", "ms": 1}, "ResultPath": null, "Next": "Step"},
    "Step": {"Type": "Task", "Resource": "wasm:ledger",
      "Parameters": {"label.$": "$.label", "ms.$": "$.ms"}, "End": true}
  }
}"#;

/// How many ledger entries start with `prefix`.
fn entries(setup: &Setup, prefix: &str) -> usize {
    setup
        .ledger()
        .iter()
        .filter(|e| e.starts_with(prefix))
        .count()
}

/// Waits until every `(prefix, count)` has more than `count` ledger
/// entries, then kills `children`; true when they were killed, false when
/// they all ended first.
fn kill_when(setup: &Setup, children: Vec<Child>, wanted: &[(&str, usize)]) -> bool {
    let mut children = children;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "no host reached {wanted:?}");
        if wanted.iter().all(|(prefix, n)| entries(setup, prefix) > *n) {
            for child in &mut children {
                let _ = child.kill();
                let _ = child.wait();
            }
            return true;
        }
        let mut ended = 0;
        for child in &mut children {
            ended += usize::from(child.try_wait().expect("the child's status").is_some());
        }
        if ended == children.len() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn crash_loop_test() {
    let root = tempfile::tempdir().expect("a temporary directory");
    let setup = Setup::new(root.path().join("loop"));
    std::fs::write(setup.dir.join("loop.json"), LOOP_PIPELINE).expect("the pipeline");
    let input = |name: &str, label: &str, ms: u64| {
        let path = format!("{name}.json");
        std::fs::write(
            setup.dir.join(&path),
            json!({"label": label, "ms": ms}).to_string(),
        )
        .expect("an input");
        path
    };
    let looping = input("looping", "trap", 600_000);
    let benign = input("benign", "fine", 2_000);
    let run = |input: &str, name: &str| {
        setup
            .host(&["run", "loop.json", "--input", input, "--name", name])
            .spawn()
            .expect("host starts")
    };
    // Both start; the host dies once each is in its second step.
    let started = vec![run(&looping, "looping"), run(&benign, "benign")];
    assert!(kill_when(
        &setup,
        started,
        &[("looping.trap.", 0), ("benign.fine.", 0)]
    ));
    // Every resume that reaches the trap dies there, until the host gives up on it.
    let mut kills = 0;
    for round in 0.. {
        assert!(round < 10, "still resuming after {round} rounds");
        let resume = setup.host(&["resume"]).spawn().expect("host starts");
        let traps = entries(&setup, "looping.trap.");
        if !kill_when(&setup, vec![resume], &[("looping.trap.", traps)]) {
            break;
        }
        kills += 1;
    }
    assert_eq!(
        kills, 5,
        "the resumes that died before the execution was failed"
    );
    let store = setup.store();
    let failed = store.get("looping").expect("the looping execution");
    assert_eq!(failed.status, ExecutionStatus::Failed, "{failed:?}");
    assert_eq!(failed.error.as_deref(), Some("States.Runtime"));
    let cause = failed.cause.as_deref().unwrap_or_default();
    assert!(cause.contains("5 times in a row"), "{cause}");
    let events = store.events(&failed.arn).expect("its events");
    assert_eq!(
        events.last().map(|e| e.event.event.kind.as_ref()),
        Some("ExecutionFailed")
    );
    let fine = store.get("benign").expect("the benign execution");
    assert_eq!(fine.status, ExecutionStatus::Succeeded, "{fine:?}");
    assert_eq!(
        entries(&setup, "looping.trap."),
        6,
        "one run and five resumes"
    );
}
