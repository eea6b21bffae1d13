//! What durability costs: history events committed per second through the
//! [`Recorder`] by 64 executions in flight, each appending events and
//! waiting for them to be durable every few events (as the engine waits
//! before acting on a Task result), for the memory store and SQLite with
//! `synchronous=FULL` and `NORMAL`.
//!
//! A second group has the shape of W1 (10 Pass states, 64 executions in
//! flight): each execution is created through the recorder, records its 22
//! events without waiting (Pass states need no durability), and finishes;
//! executions/s × 10 is the transitions/s the store allows.
//!
//! Run with `cargo bench -p sandstep-host --bench store`. The SQLite files
//! live under the target directory (a real disk, not a tmpfs).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use time::OffsetDateTime;

use sandstep_host::engine::ExecutionType;
use sandstep_host::engine::history::HistoryEvent;
use sandstep_host::engine::journal::{EventKey, KeyedEvent};
use sandstep_host::store::{
    ExecutionRecord, ExecutionStatus, Finish, MemoryStore, Recorder, SqliteStore, Store,
    Synchronous,
};

const WRITERS: usize = 64;
const EVENTS: u32 = 64;
/// Events appended between two waits: a Task's scheduled/started/succeeded
/// and the state's exited event.
const EVENTS_PER_WAIT: u32 = 4;

fn event(id: u64, visit: u32) -> KeyedEvent {
    KeyedEvent {
        key: EventKey {
            frame: Arc::from(""),
            visit,
            seq: 0,
        },
        event: HistoryEvent {
            id,
            previous_event_id: id - 1,
            timestamp: OffsetDateTime::now_utc(),
            kind: Cow::Borrowed("TaskStateExited"),
            details: Some((
                Cow::Borrowed("stateExitedEventDetails"),
                json!({"name": "Work", "output": "{\"orderId\":\"8f14e45f\",\"total\":42.5}", "outputDetails": {"truncated": false}}),
            )),
        },
    }
}

/// Creates 64 fresh executions, then times their events through a recorder.
fn run(rt: &tokio::runtime::Runtime, store: &Arc<dyn Store>, batch: &str) -> Duration {
    let arns: Vec<String> = (0..WRITERS)
        .map(|i| format!("arn:aws:states:local:000000000000:execution:Bench:{batch}-{i}"))
        .collect();
    for arn in &arns {
        let record = ExecutionRecord::new_running(
            arn.clone(),
            arn.rsplit(':').next().unwrap_or_default(),
            "Bench",
            ExecutionType::Standard,
            "{}",
            json!({}),
            OffsetDateTime::now_utc(),
        );
        store.create(&record, &[]).expect("create");
    }
    let recorder = Recorder::start(store.clone());
    let start = Instant::now();
    rt.block_on(async {
        let tasks: Vec<_> = arns
            .iter()
            .map(|arn| {
                let sink = recorder.sink(arn);
                tokio::spawn(async move {
                    for visit in 0..EVENTS {
                        sink.record(event(u64::from(visit) + 1, visit));
                        if (visit + 1) % EVENTS_PER_WAIT == 0 {
                            sink.durable().await.expect("durable");
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("join");
        }
    });
    start.elapsed()
}

/// 64 executions in flight, `total` in all: create, 22 events, finish.
fn run_w1(
    rt: &tokio::runtime::Runtime,
    store: &Arc<dyn Store>,
    batch: &str,
    total: usize,
) -> Duration {
    let recorder = Recorder::start(store.clone());
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    rt.block_on(async {
        let workers: Vec<_> = (0..WRITERS)
            .map(|_| {
                let recorder = recorder.clone();
                let next = next.clone();
                let batch = batch.to_owned();
                tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= total {
                            break;
                        }
                        let arn =
                            format!("arn:aws:states:local:000000000000:execution:W1:{batch}-{i}");
                        let now = OffsetDateTime::now_utc();
                        let record = ExecutionRecord::new_running(
                            arn.clone(),
                            format!("{batch}-{i}"),
                            "W1",
                            ExecutionType::Standard,
                            "{}",
                            json!({"n": i}),
                            now,
                        );
                        recorder
                            .create(record, vec![event(1, EventKey::FRAME)])
                            .await
                            .expect("create");
                        let sink = recorder.sink(&arn);
                        for visit in 0..20u32 {
                            sink.record(event(u64::from(visit) + 2, visit));
                        }
                        sink.record(event(22, EventKey::FRAME - 1));
                        recorder
                            .finish(Finish {
                                arn,
                                status: ExecutionStatus::Succeeded,
                                output: Some(json!({"n": i})),
                                error: None,
                                cause: None,
                                stop_date: now,
                            })
                            .await
                            .expect("finish");
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.await.expect("join");
        }
    });
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let stores: Vec<(&str, Arc<dyn Store>)> = vec![
        ("memory", Arc::new(MemoryStore::new())),
        (
            "sqlite_full",
            Arc::new(
                SqliteStore::open_with(dir.path().join("full.db"), Synchronous::Full)
                    .expect("open"),
            ),
        ),
        (
            "sqlite_normal",
            Arc::new(
                SqliteStore::open_with(dir.path().join("normal.db"), Synchronous::Normal)
                    .expect("open"),
            ),
        ),
    ];
    let mut group = c.benchmark_group("recorder_64_writers");
    group.throughput(Throughput::Elements(WRITERS as u64 * u64::from(EVENTS)));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for (name, store) in &stores {
        let mut batch = 0u64;
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        batch += 1;
                        run(&rt, store, &batch.to_string())
                    })
                    .sum()
            })
        });
    }
    group.finish();

    const W1_EXECUTIONS: usize = 256;
    let mut group = c.benchmark_group("w1_shape_64_in_flight");
    group.throughput(Throughput::Elements(W1_EXECUTIONS as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for (name, store) in &stores {
        let mut batch = 0u64;
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        batch += 1;
                        run_w1(&rt, store, &format!("w{batch}"), W1_EXECUTIONS)
                    })
                    .sum()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
