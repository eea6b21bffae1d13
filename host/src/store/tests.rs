//! The store contract, run against both stores, then what only SQLite has
//! (files) and the recorder's group commit.

use std::borrow::Cow;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;
use time::OffsetDateTime;
use time::macros::datetime;

use super::*;
use crate::engine::history::HistoryEvent;
use crate::engine::journal::EventKey;

const T0: OffsetDateTime = datetime!(2026-11-21 10:00:00.123456789 UTC);

fn arn(name: &str) -> String {
    format!("arn:aws:states:local:000000000000:execution:Demo:{name}")
}

fn record(name: &str, start: OffsetDateTime) -> ExecutionRecord {
    let mut record = ExecutionRecord::new_running(
        arn(name),
        name,
        "Demo",
        ExecutionType::Standard,
        r#"{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}"#,
        json!({"n": 1, "s": "é"}),
        start,
    );
    record.manifest = Some("examples/etl/sandstep.toml".into());
    record.options = json!({"payloadLimit": 1024});
    record.owner = Some("owner-1".into());
    record
}

fn event(id: u64, frame: &str, visit: u32, seq: u32, kind: &'static str) -> KeyedEvent {
    KeyedEvent {
        key: EventKey {
            frame: Arc::from(frame),
            visit,
            seq,
        },
        event: HistoryEvent {
            id,
            previous_event_id: id.saturating_sub(1),
            timestamp: T0 + time::Duration::milliseconds(id as i64),
            kind: Cow::Borrowed(kind),
            details: Some((
                Cow::Borrowed("stateEnteredEventDetails"),
                json!({"name": format!("S{id}"), "input": "{\"b\":1,\"a\":[1.5,null]}"}),
            )),
        },
    }
}

fn started() -> KeyedEvent {
    let mut e = event(1, "", EventKey::FRAME, 0, "ExecutionStarted");
    e.event.details = None;
    e
}

fn finish(name: &str, status: ExecutionStatus) -> Finish {
    Finish {
        arn: arn(name),
        status,
        output: (status == ExecutionStatus::Succeeded).then(|| json!({"done": true})),
        error: (status != ExecutionStatus::Succeeded).then(|| "States.TaskFailed".into()),
        cause: (status != ExecutionStatus::Succeeded).then(|| "boom".into()),
        stop_date: T0 + time::Duration::seconds(5),
    }
}

fn live(events: &[StoredEvent]) -> Vec<u64> {
    events
        .iter()
        .filter(|e| !e.superseded)
        .map(|e| e.event.event.id)
        .collect()
}

mod callbacks;
use callbacks::*;

/// Runs each contract test against a memory store and a fresh SQLite file.
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory_store {
            $(#[test] fn $name() { super::$name(&super::MemoryStore::new()); })*
        }
        mod sqlite_store {
            $(#[test] fn $name() {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = super::default_path(dir.path());
                super::$name(&super::SqliteStore::open(path).expect("open"));
            })*
        }
    };
}

both_stores!(
    round_trip,
    duplicate_names_are_refused,
    a_batch_is_all_or_nothing,
    the_first_final_status_wins,
    duplicate_events_are_refused,
    redrive_bookkeeping,
    claim_is_compare_and_set,
    stop_requests,
    lookup_by_name,
    list_filters_and_orders,
    tokens_are_opened_once_per_key,
    tokens_are_answered_once,
    token_changes_come_in_version_order,
    activity_tasks_go_to_one_worker_oldest_first,
    activities_are_created_once,
);

fn round_trip(store: &dyn Store) {
    let rec = record("run-1", T0);
    store.create(&rec, &[started()]).expect("create");
    let rec = ExecutionRecord {
        last_event_id: 1,
        ..rec
    };
    assert_eq!(store.get(&rec.arn).expect("get"), rec);
    let events = vec![
        event(2, "", 0, 0, "PassStateEntered"),
        event(3, "", 0, 1, "PassStateExited"),
    ];
    store
        .write(&[Write::Events {
            arn: rec.arn.clone(),
            events: events.clone(),
        }])
        .expect("write");
    let stored = store.events(&rec.arn).expect("events");
    let expected: Vec<StoredEvent> = [started()]
        .into_iter()
        .chain(events)
        .map(|event| StoredEvent {
            event,
            superseded: false,
        })
        .collect();
    assert_eq!(stored, expected);
    // Details keep their member order and number text.
    let details = stored[1].event.event.details.as_ref().expect("details");
    assert_eq!(
        serde_json::to_string(&details.1).expect("json"),
        r#"{"name":"S2","input":"{\"b\":1,\"a\":[1.5,null]}"}"#
    );

    store
        .write(&[Write::Finish(finish("run-1", ExecutionStatus::Succeeded))])
        .expect("finish");
    let done = store.get(&rec.arn).expect("get");
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(done.output, Some(json!({"done": true})));
    assert_eq!(done.stop_date, Some(T0 + time::Duration::seconds(5)));
    assert_eq!(done.owner, None, "a finished execution has no owner");
    assert_eq!(done.last_event_id, 3);
    assert_eq!(
        ExecutionRecord {
            status: ExecutionStatus::Running,
            output: None,
            error: None,
            cause: None,
            stop_date: None,
            owner: rec.owner.clone(),
            last_event_id: 1,
            ..done
        },
        rec
    );
}

fn duplicate_names_are_refused(store: &dyn Store) {
    store
        .create(&record("dup", T0), &[started()])
        .expect("create");
    let mut again = record("dup", T0 + time::Duration::seconds(1));
    again.input = json!("other");
    let err = store.create(&again, &[]).expect_err("duplicate");
    assert!(
        matches!(err, StoreError::ExecutionAlreadyExists { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("Execution Already Exists: '{}'", arn("dup"))
    );
    assert_eq!(err.aws_code(), Some("ExecutionAlreadyExists"));
    assert_eq!(
        store.get(&arn("dup")).expect("get").input,
        record("dup", T0).input
    );
    assert_eq!(store.events(&arn("dup")).expect("events").len(), 1);
}

fn a_batch_is_all_or_nothing(store: &dyn Store) {
    store
        .create(&record("a", T0), &[started()])
        .expect("create");
    store
        .create(&record("b", T0), &[started()])
        .expect("create");
    let batch = [
        Write::Events {
            arn: arn("a"),
            events: vec![event(2, "", EventKey::FRAME, 1, "ExecutionSucceeded")],
        },
        Write::Finish(finish("a", ExecutionStatus::Succeeded)),
        // Event 1 of b exists: the whole batch must fail.
        Write::Events {
            arn: arn("b"),
            events: vec![event(1, "", 0, 0, "PassStateEntered")],
        },
    ];
    let err = store.write(&batch).expect_err("duplicate id");
    assert!(
        matches!(err, StoreError::DuplicateEvent { id: 1, .. }),
        "{err:?}"
    );
    let a = store.get(&arn("a")).expect("get");
    assert_eq!((a.status, a.output), (ExecutionStatus::Running, None));
    assert_eq!(live(&store.events(&arn("a")).expect("events")), vec![1]);
    assert_eq!(a.last_event_id, 1, "the refused event 2 is not counted");

    // The same batch without the bad write commits the final event and status together.
    store.write(&batch[..2]).expect("write");
    let a = store.get(&arn("a")).expect("get");
    assert_eq!(a.status, ExecutionStatus::Succeeded);
    assert_eq!(a.output, Some(json!({"done": true})));
    assert_eq!(live(&store.events(&arn("a")).expect("events")), vec![1, 2]);
    assert_eq!(a.last_event_id, 2);

    let err = store
        .write(&[Write::Events {
            arn: arn("nope"),
            events: vec![started()],
        }])
        .expect_err("unknown execution");
    assert_eq!(
        err.to_string(),
        format!("Execution Does Not Exist: '{}'", arn("nope"))
    );
}

fn the_first_final_status_wins(store: &dyn Store) {
    store
        .create(&record("f", T0), &[started()])
        .expect("create");
    store
        .write(&[
            Write::Finish(finish("f", ExecutionStatus::Aborted)),
            Write::Finish(finish("f", ExecutionStatus::Succeeded)),
        ])
        .expect("write");
    store
        .write(&[Write::Finish(finish("f", ExecutionStatus::Failed))])
        .expect("write");
    let f = store.get(&arn("f")).expect("get");
    assert_eq!(f.status, ExecutionStatus::Aborted);
    assert_eq!(f.output, None);
    assert_eq!(f.error.as_deref(), Some("States.TaskFailed"));
}

fn duplicate_events_are_refused(store: &dyn Store) {
    store
        .create(&record("d", T0), &[started()])
        .expect("create");
    // Same key as event 1, new id.
    let same_key = KeyedEvent {
        event: event(2, "", 0, 0, "X").event,
        key: started().key,
    };
    let err = store
        .write(&[Write::Events {
            arn: arn("d"),
            events: vec![event(3, "b0", 0, 0, "PassStateEntered"), same_key],
        }])
        .expect_err("duplicate key");
    assert!(
        matches!(&err, StoreError::DuplicateEvent { id: 2, visit, .. } if *visit == EventKey::FRAME),
        "{err:?}"
    );
    assert_eq!(live(&store.events(&arn("d")).expect("events")), vec![1]);
    // Twice the same event in one batch.
    let twice = event(4, "b0", 0, 0, "PassStateEntered");
    assert!(
        store
            .write(&[Write::Events {
                arn: arn("d"),
                events: vec![twice.clone(), twice],
            }])
            .is_err()
    );
    assert_eq!(live(&store.events(&arn("d")).expect("events")), vec![1]);
}

fn redrive_bookkeeping(store: &dyn Store) {
    let name = "r";
    store
        .create(&record(name, T0), &[started()])
        .expect("create");
    let entered = event(2, "", 0, 0, "TaskStateEntered");
    let failed = event(3, "", 0, 1, "TaskStateFailed");
    let exec_failed = event(4, "", EventKey::FRAME, 1, "ExecutionFailed");
    let redriven = event(5, "", EventKey::FRAME, 2, "ExecutionRedriven");

    let err = store
        .redrive(&arn(name), "owner-2", &[], &redriven, T0)
        .expect_err("running");
    assert_eq!(
        err.to_string(),
        format!(
            "Execution is RUNNING and cannot be redriven: '{}'",
            arn(name)
        )
    );
    assert_eq!(err.aws_code(), Some("ExecutionNotRedrivable"));

    store
        .write(&[
            Write::Events {
                arn: arn(name),
                events: vec![entered.clone(), failed.clone(), exec_failed.clone()],
            },
            Write::Finish(finish(name, ExecutionStatus::Failed)),
        ])
        .expect("fail");
    store
        .request_stop(&arn(name), &StopRequest::default())
        .expect("stop after the end");

    // An unknown event id refuses the whole redrive.
    assert!(
        store
            .redrive(&arn(name), "owner-2", &[3, 99], &redriven, T0)
            .is_err()
    );
    assert_eq!(
        store.get(&arn(name)).expect("get").status,
        ExecutionStatus::Failed
    );
    assert_eq!(
        live(&store.events(&arn(name)).expect("events")),
        vec![1, 2, 3, 4]
    );

    let date = T0 + time::Duration::minutes(1);
    let count = store
        .redrive(&arn(name), "owner-2", &[3, 4], &redriven, date)
        .expect("redrive");
    assert_eq!(count, 1);
    let r = store.get(&arn(name)).expect("get");
    assert_eq!(r.status, ExecutionStatus::Running);
    assert_eq!(
        (r.output, r.error, r.cause, r.stop_date),
        (None, None, None, None)
    );
    assert_eq!((r.redrive_count, r.redrive_date), (1, Some(date)));
    assert_eq!(r.owner.as_deref(), Some("owner-2"));
    let events = store.events(&arn(name)).expect("events");
    assert_eq!(events.len(), 5);
    assert_eq!(live(&events), vec![1, 2, 5]);
    assert_eq!(r.last_event_id, 5, "superseded events still hold their ids");

    // The re-run records a new event where the superseded one was.
    let retried = event(6, "", 0, 1, "TaskStateSucceeded");
    store
        .write(&[
            Write::Events {
                arn: arn(name),
                events: vec![retried],
            },
            Write::Finish(finish(name, ExecutionStatus::Succeeded)),
        ])
        .expect("re-run");
    let err = store
        .redrive(
            &arn(name),
            "owner-3",
            &[],
            &event(7, "", EventKey::FRAME, 3, "ExecutionRedriven"),
            date,
        )
        .expect_err("succeeded");
    assert!(
        err.to_string()
            .starts_with("Execution is SUCCEEDED and cannot be redriven")
    );
    assert_eq!(store.get(&arn(name)).expect("get").redrive_count, 1);
}

fn claim_is_compare_and_set(store: &dyn Store) {
    let mut rec = record("c", T0);
    rec.owner = None;
    store.create(&rec, &[]).expect("create");
    assert!(store.claim(&arn("c"), None, "o1").expect("claim"));
    assert!(
        !store.claim(&arn("c"), None, "o2").expect("claim"),
        "owner changed"
    );
    assert!(!store.claim(&arn("c"), Some("o2"), "o3").expect("claim"));
    assert!(store.claim(&arn("c"), Some("o1"), "o2").expect("claim"));
    assert_eq!(
        store.get(&arn("c")).expect("get").owner.as_deref(),
        Some("o2")
    );
    store
        .write(&[Write::Finish(finish("c", ExecutionStatus::Failed))])
        .expect("finish");
    assert!(
        !store.claim(&arn("c"), None, "o4").expect("claim"),
        "not running"
    );
    assert!(matches!(
        store.claim(&arn("missing"), None, "o1"),
        Err(StoreError::ExecutionDoesNotExist { .. })
    ));
}

fn stop_requests(store: &dyn Store) {
    store.create(&record("s", T0), &[]).expect("create");
    assert_eq!(store.get(&arn("s")).expect("get").stop_request, None);
    let request = StopRequest {
        error: Some("Manual".into()),
        cause: None,
    };
    assert!(store.request_stop(&arn("s"), &request).expect("stop"));
    assert_eq!(
        store.get(&arn("s")).expect("get").stop_request,
        Some(request.clone())
    );
    store
        .write(&[Write::Finish(finish("s", ExecutionStatus::Aborted))])
        .expect("finish");
    assert!(
        !store.request_stop(&arn("s"), &request).expect("stop"),
        "already ended"
    );
}

fn lookup_by_name(store: &dyn Store) {
    store.create(&record("n", T0), &[]).expect("create");
    assert_eq!(store.get("n").expect("by name").arn, arn("n"));
    let mut other = record("n", T0);
    other.arn = "arn:aws:states:local:000000000000:execution:Other:n".into();
    other.state_machine_name = "Other".into();
    store.create(&other, &[]).expect("same name, other machine");
    let err = store.get("n").expect_err("ambiguous");
    assert!(
        matches!(&err, StoreError::AmbiguousName { arns, .. } if arns.len() == 2),
        "{err:?}"
    );
    assert_eq!(
        store.get(&other.arn).expect("by arn").state_machine_name,
        "Other"
    );
    let err = store.get("ghost").expect_err("missing");
    assert_eq!(err.to_string(), "Execution Does Not Exist: 'ghost'");
    assert!(matches!(
        store.events("ghost"),
        Err(StoreError::ExecutionDoesNotExist { .. })
    ));
}

fn list_filters_and_orders(store: &dyn Store) {
    for (i, name) in ["old", "mid", "new"].into_iter().enumerate() {
        let start = T0 + time::Duration::seconds(i as i64);
        store.create(&record(name, start), &[]).expect("create");
    }
    store
        .write(&[Write::Finish(finish("mid", ExecutionStatus::TimedOut))])
        .expect("finish");
    let names = |status| -> Vec<String> {
        store
            .list(status)
            .expect("list")
            .into_iter()
            .map(|r| r.name)
            .collect()
    };
    assert_eq!(names(None), ["new", "mid", "old"]);
    assert_eq!(names(Some(ExecutionStatus::Running)), ["new", "old"]);
    assert_eq!(names(Some(ExecutionStatus::TimedOut)), ["mid"]);
    assert!(names(Some(ExecutionStatus::Aborted)).is_empty());
}

#[test]
fn statuses_have_aws_names() {
    for status in ExecutionStatus::ALL {
        assert_eq!(status.as_str().parse::<ExecutionStatus>(), Ok(status));
        assert_eq!(status.to_string(), status.as_str());
    }
    let err = "running"
        .parse::<ExecutionStatus>()
        .expect_err("case matters");
    assert!(err.to_string().contains("'running'"));
}

#[test]
fn redrive_eligibility_follows_aws() {
    use time::Duration;
    let stopped = T0 + Duration::hours(1);
    let failed = ExecutionRecord {
        status: ExecutionStatus::Failed,
        stop_date: Some(stopped),
        last_event_id: 40,
        ..record("f", T0)
    };
    let reason = |record: &ExecutionRecord, now| record.redrive_refusal(now);
    assert_eq!(reason(&failed, stopped), None);

    // Within 14 days of the end, not after.
    assert_eq!(reason(&failed, stopped + REDRIVE_WINDOW), None);
    assert_eq!(
        reason(&failed, stopped + REDRIVE_WINDOW + Duration::seconds(1)),
        Some("Execution redrivable period exceeded")
    );

    // A year after the start is the longest a Standard execution may run,
    // even when it ended more recently.
    let long = ExecutionRecord {
        stop_date: Some(T0 + Duration::days(360)),
        ..failed.clone()
    };
    assert_eq!(reason(&long, T0 + Duration::days(364)), None);
    assert_eq!(
        reason(&long, T0 + Duration::days(365)),
        Some("Execution has exceeded the max execution time")
    );

    // A redrive appends `ExecutionRedriven` and needs room for one more event.
    let history = |last_event_id| ExecutionRecord {
        last_event_id,
        ..failed.clone()
    };
    assert_eq!(reason(&history(24_998), stopped), None);
    assert_eq!(
        reason(&history(24_999), stopped),
        Some("Execution history event limit exceeded")
    );

    // The status comes first.
    let running = ExecutionRecord {
        status: ExecutionStatus::Running,
        stop_date: None,
        ..history(24_999)
    };
    assert_eq!(
        reason(&running, stopped),
        Some("Execution is RUNNING and cannot be redriven")
    );
}

// ---- SQLite files ----

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read file")
}

#[test]
fn sqlite_persists_and_creates_its_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = default_path(&dir.path().join("pipeline"));
    assert!(path.ends_with(".sandstep/executions.db"));
    {
        let store = SqliteStore::open(&path).expect("open");
        store
            .create(&record("p", T0), &[started()])
            .expect("create");
    }
    let store = SqliteStore::open(&path).expect("reopen");
    let expected = ExecutionRecord {
        last_event_id: 1,
        ..record("p", T0)
    };
    assert_eq!(store.get(&arn("p")).expect("get"), expected);
    assert_eq!(store.events(&arn("p")).expect("events").len(), 1);
    // A second connection (another process) sees and adds to the same file.
    let other = SqliteStore::open_with(&path, Synchronous::Normal).expect("second");
    other.create(&record("q", T0), &[]).expect("create");
    assert_eq!(store.list(None).expect("list").len(), 2);
}

/// Opens `path`, expects a refusal matching `check`, and checks the file
/// did not change.
fn refused(path: &Path, check: impl Fn(&StoreError) -> bool) -> String {
    let before = bytes(path);
    let err = match SqliteStore::open(path) {
        Ok(_) => panic!("'{}' was accepted", path.display()),
        Err(e) => e,
    };
    assert!(check(&err), "{err:?}");
    assert_eq!(bytes(path), before, "the file was modified");
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(
        message.contains("untouched") || message.contains("does not repair"),
        "{message}"
    );
    message
}

#[test]
fn a_newer_schema_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("executions.db");
    drop(SqliteStore::open(&path).expect("create"));
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .expect("bump");
    }
    let message = refused(&path, |e| {
        matches!(e, StoreError::NewerVersion { found, supported, .. }
            if *found == SCHEMA_VERSION + 1 && *supported == SCHEMA_VERSION)
    });
    assert!(
        message.contains(&format!("version {}", SCHEMA_VERSION + 1)),
        "{message}"
    );
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("executions.db");
    std::fs::write(&path, "name,age\nada,36\n").expect("write");
    refused(&path, |e| matches!(e, StoreError::NotADatabase { .. }));
}

#[test]
fn another_applications_database_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("executions.db");
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5);")
            .expect("foreign schema");
    }
    let message = refused(
        &path,
        |e| matches!(e, StoreError::ForeignDatabase { tables, .. } if tables == &["invoices"]),
    );
    assert!(message.contains("invoices"), "{message}");
    // Another application that versions its schema is still not us.
    {
        let conn = rusqlite::Connection::open(&path).expect("open");
        conn.pragma_update(None, "user_version", 1)
            .expect("version");
    }
    refused(&path, |e| matches!(e, StoreError::ForeignDatabase { .. }));
}

#[test]
fn a_corrupt_file_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("executions.db");
    {
        let store = SqliteStore::open(&path).expect("create");
        store
            .create(&record("x", T0), &[started()])
            .expect("create");
    }
    // Keep the 100-byte header, wreck the schema page.
    let mut data = bytes(&path);
    assert!(data.len() > 4096, "the file has more than one page");
    data[100..4096].fill(0xA5);
    std::fs::write(&path, &data).expect("corrupt");
    refused(&path, |e| matches!(e, StoreError::Corrupt { .. }));
}

// ---- the recorder ----

/// Counts `write` calls, and can hold the first one until released.
struct Counting<S> {
    inner: S,
    writes: AtomicUsize,
    gate: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
}

impl<S: Store> Counting<S> {
    fn new(inner: S) -> Self {
        Counting {
            inner,
            writes: AtomicUsize::new(0),
            gate: Mutex::new(None),
        }
    }
}

impl<S: Store> CallbackStore for Counting<S> {
    fn open_token(&self, token: &TaskToken) -> Result<TaskToken, StoreError> {
        self.inner.open_token(token)
    }
    fn token(&self, token: &str) -> Result<Option<TaskToken>, StoreError> {
        self.inner.token(token)
    }
    fn answer_token(
        &self,
        token: &str,
        answer: &TokenAnswer,
        at: OffsetDateTime,
    ) -> Result<Result<TaskToken, TokenRefusal>, StoreError> {
        self.inner.answer_token(token, answer, at)
    }
    fn close_token(&self, token: &str) -> Result<(), StoreError> {
        self.inner.close_token(token)
    }
    fn token_changes(&self, after: u64, limit: usize) -> Result<Vec<TaskToken>, StoreError> {
        self.inner.token_changes(after, limit)
    }
    fn token_version(&self) -> Result<u64, StoreError> {
        self.inner.token_version()
    }
    fn take_activity_task(
        &self,
        activity_arn: &str,
        worker_name: Option<&str>,
    ) -> Result<Option<TaskToken>, StoreError> {
        self.inner.take_activity_task(activity_arn, worker_name)
    }
    fn put_activity(&self, record: &ActivityRecord) -> Result<ActivityRecord, StoreError> {
        self.inner.put_activity(record)
    }
    fn activity(&self, name: &str) -> Result<Option<ActivityRecord>, StoreError> {
        self.inner.activity(name)
    }
    fn activities(&self) -> Result<Vec<ActivityRecord>, StoreError> {
        self.inner.activities()
    }
    fn delete_activity(&self, name: &str) -> Result<bool, StoreError> {
        self.inner.delete_activity(name)
    }
}

impl<S: Store> Store for Counting<S> {
    fn create(&self, record: &ExecutionRecord, events: &[KeyedEvent]) -> Result<(), StoreError> {
        self.inner.create(record, events)
    }
    fn write(&self, writes: &[Write]) -> Result<(), StoreError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        let gate = self.gate.lock().expect("gate").take();
        if let Some(gate) = gate {
            gate.recv().expect("released");
        }
        self.inner.write(writes)
    }
    fn get(&self, id: &str) -> Result<ExecutionRecord, StoreError> {
        self.inner.get(id)
    }
    fn list(&self, status: Option<ExecutionStatus>) -> Result<Vec<ExecutionRecord>, StoreError> {
        self.inner.list(status)
    }
    fn events(&self, arn: &str) -> Result<Vec<StoredEvent>, StoreError> {
        self.inner.events(arn)
    }
    fn claim(&self, arn: &str, expected: Option<&str>, new: &str) -> Result<bool, StoreError> {
        self.inner.claim(arn, expected, new)
    }
    fn request_stop(&self, arn: &str, request: &StopRequest) -> Result<bool, StoreError> {
        self.inner.request_stop(arn, request)
    }
    fn redrive(
        &self,
        arn: &str,
        owner: &str,
        ids: &[u64],
        event: &KeyedEvent,
        date: OffsetDateTime,
    ) -> Result<u32, StoreError> {
        self.inner.redrive(arn, owner, ids, event, date)
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn waits_queued_behind_a_commit_share_the_next_one() {
    let store = Arc::new(Counting::new(MemoryStore::new()));
    for i in 0..64 {
        store
            .create(&record(&format!("g{i}"), T0), &[started()])
            .expect("create");
    }
    let (release, gate) = std::sync::mpsc::channel();
    *store.gate.lock().expect("gate") = Some(gate);
    let recorder = Recorder::start(store.clone());
    runtime().block_on(async {
        // Round 1 holds in the store...
        let first = recorder.sink(&arn("g0"));
        first.record(event(2, "", 0, 0, "PassStateEntered"));
        let first = tokio::spawn(async move { first.durable().await });
        while store.writes.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        // ...while 64 executions record and wait.
        let mut waits = Vec::new();
        for i in 0..64 {
            let sink = recorder.sink(&arn(&format!("g{i}")));
            sink.record(event(10, "", 1, 0, "PassStateEntered"));
            sink.record(event(11, "", 1, 1, "PassStateExited"));
            waits.push(tokio::spawn(async move { sink.durable().await }));
        }
        release.send(()).expect("release");
        first.await.expect("join").expect("durable");
        for wait in waits {
            wait.await.expect("join").expect("durable");
        }
    });
    assert_eq!(
        store.writes.load(Ordering::SeqCst),
        2,
        "one commit for all 64 waits"
    );
    assert_eq!(
        live(&store.events(&arn("g0")).expect("events")),
        vec![1, 2, 10, 11]
    );
    assert_eq!(
        live(&store.events(&arn("g63")).expect("events")),
        vec![1, 10, 11]
    );
}

#[test]
fn many_tasks_record_through_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(Counting::new(
        SqliteStore::open(dir.path().join("e.db")).expect("open"),
    ));
    const EXECUTIONS: usize = 64;
    const EVENTS: u64 = 40;
    for i in 0..EXECUTIONS {
        store
            .create(&record(&format!("m{i}"), T0), &[started()])
            .expect("create");
    }
    let recorder = Recorder::start(store.clone());
    runtime().block_on(async {
        let mut tasks = Vec::new();
        for i in 0..EXECUTIONS {
            let recorder = recorder.clone();
            tasks.push(tokio::spawn(async move {
                let name = format!("m{i}");
                let sink = recorder.sink(&arn(&name));
                for id in 2..2 + EVENTS {
                    sink.record(event(id, "", id as u32, 0, "PassStateEntered"));
                    if id % 4 == 0 {
                        sink.durable().await.expect("durable");
                    }
                }
                recorder
                    .finish(finish(&name, ExecutionStatus::Succeeded))
                    .await
                    .expect("finish");
            }));
        }
        for task in tasks {
            task.await.expect("join");
        }
    });
    let expected: Vec<u64> = (1..2 + EVENTS).collect();
    for i in 0..EXECUTIONS {
        let a = arn(&format!("m{i}"));
        assert_eq!(
            store.get(&a).expect("get").status,
            ExecutionStatus::Succeeded
        );
        assert_eq!(live(&store.events(&a).expect("events")), expected);
    }
    let waits = EXECUTIONS * (EVENTS as usize / 4 + 1);
    let writes = store.writes.load(Ordering::SeqCst);
    assert!(writes <= waits, "{writes} commits for {waits} waits");
}

#[test]
fn a_failed_write_fails_only_its_execution() {
    let store = Arc::new(MemoryStore::new());
    store
        .create(&record("good", T0), &[started()])
        .expect("create");
    store
        .create(&record("bad", T0), &[started()])
        .expect("create");
    let recorder = Recorder::start(store.clone());
    runtime().block_on(async {
        let good = recorder.sink(&arn("good"));
        let bad = recorder.sink(&arn("bad"));
        good.record(event(2, "", 0, 0, "PassStateEntered"));
        bad.record(started()); // id 1 again
        let err = bad.durable().await.expect_err("duplicate");
        assert!(err.to_string().contains("already recorded"), "{err}");
        good.durable().await.expect("the other execution is fine");
        // The failed execution stays failed: later events are dropped.
        bad.record(event(2, "", 0, 0, "PassStateEntered"));
        assert!(bad.durable().await.is_err());
        assert!(recorder.flush().await.is_err(), "a flush reports it too");
        good.record(event(3, "", 0, 1, "PassStateExited"));
        good.durable().await.expect("still fine");
    });
    assert_eq!(live(&store.events(&arn("bad")).expect("events")), vec![1]);
    assert_eq!(
        live(&store.events(&arn("good")).expect("events")),
        vec![1, 2, 3]
    );
}

#[test]
fn dropping_the_recorder_flushes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("e.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).expect("open"));
    store
        .create(&record("z", T0), &[started()])
        .expect("create");
    let recorder = Recorder::start(store.clone());
    for id in 2..50 {
        recorder.append(&arn("z"), event(id, "", id as u32, 0, "PassStateEntered"));
    }
    drop(recorder);
    drop(store);
    let store = SqliteStore::open(&path).expect("reopen");
    assert_eq!(
        live(&store.events(&arn("z")).expect("events")),
        (1..50).collect::<Vec<_>>()
    );
}

#[test]
fn finish_commits_with_the_final_event() {
    let store = Arc::new(MemoryStore::new());
    store
        .create(&record("e", T0), &[started()])
        .expect("create");
    let recorder = Recorder::start(store.clone());
    runtime().block_on(async {
        let sink = recorder.sink(&arn("e"));
        sink.record(event(2, "", EventKey::FRAME, 1, "ExecutionSucceeded"));
        recorder
            .finish(finish("e", ExecutionStatus::Succeeded))
            .await
            .expect("finish");
    });
    let e = store.get(&arn("e")).expect("get");
    assert_eq!(e.status, ExecutionStatus::Succeeded);
    assert_eq!(live(&store.events(&arn("e")).expect("events")), vec![1, 2]);
}

// ---- with the engine ----

const DURABLE_PIPELINE: &str = r#"{
  "StartAt": "Prepare",
  "States": {
    "Prepare": {"Type": "Pass", "Parameters": {"n.$": "$.n", "tag": "x"}, "Next": "Both"},
    "Both": {"Type": "Parallel", "ResultPath": "$.both", "Next": "Done", "Branches": [
      {"StartAt": "L", "States": {"L": {"Type": "Pass", "Result": "left", "End": true}}},
      {"StartAt": "R", "States": {"R": {"Type": "Pass", "Result": "right", "End": true}}}]},
    "Done": {"Type": "Pass", "End": true}
  }
}"#;

#[test]
fn engine_events_round_trip_through_the_recorder_and_sqlite() {
    use crate::engine::{Clock, Durable, Engine, ExecutionRequest, NoTasks, Status};

    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(default_path(dir.path())).expect("open"));
    let machine = crate::asl::parse_text(DURABLE_PIPELINE).expect("a valid pipeline");
    let engine = Engine::new(Arc::new(NoTasks)).with_clock(Clock::virtual_time());
    let input = json!({"n": 7});
    let arn = "arn:aws:states:local:000000000000:execution:Durable:d1";
    let record = ExecutionRecord::new_running(
        arn,
        "d1",
        "Durable",
        ExecutionType::Standard,
        DURABLE_PIPELINE,
        input.clone(),
        T0,
    );
    store.create(&record, &[]).expect("create");
    let recorder = Recorder::start(store.clone());
    let request = |(journal, last_id): (crate::engine::journal::Journal, u64)| {
        let mut request = ExecutionRequest::new("Durable", input.clone());
        request.name = Some("d1".into());
        request.durable = Some(Durable {
            sink: recorder.sink(arn),
            journal: Arc::new(journal),
            last_id,
            start_date: T0,
            redrive_count: 0,
            redrive_date: None,
        });
        request
    };
    let rt = runtime();

    let first = rt.block_on(engine.execute(&machine, request(journal_of(&[]))));
    assert_eq!(first.status, Status::Succeeded, "{:?}", first.cause);
    assert_eq!(first.execution_arn, arn);
    rt.block_on(recorder.finish(Finish {
        arn: arn.into(),
        status: ExecutionStatus::Succeeded,
        output: first.output.clone(),
        error: None,
        cause: None,
        stop_date: first.stop_date,
    }))
    .expect("finish");
    let stored = store.events(arn).expect("events");
    let history: Vec<HistoryEvent> = stored.iter().map(|e| e.event.event.clone()).collect();
    assert!(history.len() > 10, "{} events", history.len());
    assert_eq!(
        history, first.history,
        "the store holds the history as emitted"
    );
    let done = store.get(arn).expect("get");
    assert_eq!(
        (done.status, &done.output),
        (ExecutionStatus::Succeeded, &first.output)
    );

    // Replaying from the store records nothing new and ends the same way.
    let again = rt.block_on(engine.execute(&machine, request(journal_of(&stored))));
    assert_eq!(
        (again.status, &again.output),
        (Status::Succeeded, &first.output)
    );
    rt.block_on(recorder.flush()).expect("flush");
    assert_eq!(store.events(arn).expect("events"), stored);
}

#[test]
fn creates_share_a_commit_and_a_used_name_fails_alone() {
    let store = Arc::new(Counting::new(MemoryStore::new()));
    let (release, gate) = std::sync::mpsc::channel();
    *store.gate.lock().expect("gate") = Some(gate);
    let recorder = Recorder::start(store.clone());
    runtime().block_on(async {
        let first = {
            let recorder = recorder.clone();
            tokio::spawn(async move { recorder.create(record("c0", T0), vec![started()]).await })
        };
        while store.writes.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let creates: Vec<_> = (1..64)
            .map(|i| {
                let recorder = recorder.clone();
                tokio::spawn(async move {
                    recorder
                        .create(record(&format!("c{i}"), T0), vec![started()])
                        .await
                })
            })
            .collect();
        // Every create is queued before the first commit ends.
        while recorder.queued_creates() < 63 {
            tokio::task::yield_now().await;
        }
        release.send(()).expect("release");
        first.await.expect("join").expect("created");
        for create in creates {
            create.await.expect("join").expect("created");
        }
        assert_eq!(
            store.writes.load(Ordering::SeqCst),
            2,
            "63 creates, one commit"
        );

        // A used name fails its own create only; the running execution of
        // that name keeps recording.
        let sink = recorder.sink(&arn("c5"));
        sink.record(event(2, "", 0, 0, "PassStateEntered"));
        let results = futures::future::join_all((60..70).map(|i| {
            let recorder = recorder.clone();
            async move {
                recorder
                    .create(record(&format!("c{i}"), T0), vec![started()])
                    .await
            }
        }))
        .await;
        for (i, result) in (60..70).zip(results) {
            match result {
                Err(RecorderError::Store(e)) if i < 64 => {
                    assert_eq!(
                        e.to_string(),
                        format!("Execution Already Exists: '{}'", arn(&format!("c{i}")))
                    );
                }
                Ok(()) if i >= 64 => {}
                other => panic!("create c{i}: {other:?}"),
            }
        }
        sink.record(event(3, "", 0, 1, "PassStateExited"));
        sink.durable().await.expect("not poisoned");
    });
    assert_eq!(store.list(None).expect("list").len(), 70);
    assert_eq!(
        live(&store.events(&arn("c5")).expect("events")),
        vec![1, 2, 3]
    );
}
