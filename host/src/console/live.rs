//! Live updates: a store wrapper that announces each write, and the
//! server-sent-event stream that pushes an execution's state colours to
//! its page whenever its history grows.

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::api::Service;
use crate::engine::journal::KeyedEvent;
use crate::graph::Overlay;
use crate::store::{
    ExecutionRecord, ExecutionStatus, StopRequest, Store, StoreError, StoredEvent, Write,
};

/// Bumped after every store write of this process.
fn changes() -> &'static watch::Sender<u64> {
    static CHANGES: OnceLock<watch::Sender<u64>> = OnceLock::new();
    CHANGES.get_or_init(|| watch::channel(0).0)
}

fn announce() {
    changes().send_modify(|n| *n = n.wrapping_add(1));
}

/// A [`Store`] that announces its writes to the console's live pages.
pub struct Announcing(pub Arc<dyn Store>);

// Tokens and activities are not on the live pages; they pass through.
impl crate::store::CallbackStore for Announcing {
    fn open_token(
        &self,
        token: &crate::store::TaskToken,
    ) -> Result<crate::store::TaskToken, StoreError> {
        self.0.open_token(token)
    }

    fn token(&self, token: &str) -> Result<Option<crate::store::TaskToken>, StoreError> {
        self.0.token(token)
    }

    fn answer_token(
        &self,
        token: &str,
        answer: &crate::store::TokenAnswer,
        at: OffsetDateTime,
    ) -> Result<Result<crate::store::TaskToken, crate::store::TokenRefusal>, StoreError> {
        self.0.answer_token(token, answer, at)
    }

    fn close_token(&self, token: &str) -> Result<(), StoreError> {
        self.0.close_token(token)
    }

    fn token_changes(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<crate::store::TaskToken>, StoreError> {
        self.0.token_changes(after, limit)
    }

    fn token_version(&self) -> Result<u64, StoreError> {
        self.0.token_version()
    }

    fn take_activity_task(
        &self,
        activity_arn: &str,
        worker_name: Option<&str>,
    ) -> Result<Option<crate::store::TaskToken>, StoreError> {
        self.0.take_activity_task(activity_arn, worker_name)
    }

    fn put_activity(
        &self,
        record: &crate::store::ActivityRecord,
    ) -> Result<crate::store::ActivityRecord, StoreError> {
        self.0.put_activity(record)
    }

    fn activity(&self, name: &str) -> Result<Option<crate::store::ActivityRecord>, StoreError> {
        self.0.activity(name)
    }

    fn activities(&self) -> Result<Vec<crate::store::ActivityRecord>, StoreError> {
        self.0.activities()
    }

    fn delete_activity(&self, name: &str) -> Result<bool, StoreError> {
        self.0.delete_activity(name)
    }
}

impl Store for Announcing {
    fn write(&self, writes: &[Write]) -> Result<(), StoreError> {
        let result = self.0.write(writes);
        announce();
        result
    }
    fn get(&self, id: &str) -> Result<ExecutionRecord, StoreError> {
        self.0.get(id)
    }
    fn list(&self, status: Option<ExecutionStatus>) -> Result<Vec<ExecutionRecord>, StoreError> {
        self.0.list(status)
    }
    fn events(&self, arn: &str) -> Result<Vec<StoredEvent>, StoreError> {
        self.0.events(arn)
    }
    fn claim(
        &self,
        arn: &str,
        expected: Option<&str>,
        new_owner: &str,
    ) -> Result<bool, StoreError> {
        self.0.claim(arn, expected, new_owner)
    }
    fn request_stop(&self, arn: &str, request: &StopRequest) -> Result<bool, StoreError> {
        let result = self.0.request_stop(arn, request);
        announce();
        result
    }
    fn stop_requests(&self, owner: &str) -> Result<Vec<(String, StopRequest)>, StoreError> {
        self.0.stop_requests(owner)
    }
    fn redrive(
        &self,
        arn: &str,
        new_owner: &str,
        superseded_ids: &[u64],
        redriven_event: &KeyedEvent,
        date: OffsetDateTime,
    ) -> Result<u32, StoreError> {
        let result = self
            .0
            .redrive(arn, new_owner, superseded_ids, redriven_event, date);
        announce();
        result
    }
}

/// The record and the overlay of one Standard execution, read off the
/// async threads.
pub async fn snapshot(
    service: &Arc<Service>,
    arn: String,
) -> Option<(ExecutionRecord, Overlay, Vec<Value>)> {
    let store = service.executions().store().clone();
    tokio::task::spawn_blocking(move || {
        let record = store.get(&arn).ok()?;
        let events = store.events(&record.arn).ok()?;
        let events: Vec<Value> = events
            .iter()
            .filter(|e| !e.superseded)
            .filter_map(|e| serde_json::to_value(&e.event.event).ok())
            .collect();
        let overlay = Overlay::from_events(&events);
        Some((record, overlay, events))
    })
    .await
    .ok()
    .flatten()
}

/// What the page recolours: the execution's status and each state's.
pub fn statuses(record: &ExecutionRecord, overlay: &Overlay) -> Value {
    let states: serde_json::Map<String, Value> = overlay
        .states
        .iter()
        .map(|(name, s)| {
            (
                name.clone(),
                json!({"status": s.status, "visits": s.visits_total, "iterations": s.iterations}),
            )
        })
        .collect();
    json!({"status": record.status.as_str(), "states": states})
}

/// `GET /console/live/{arn}`: an `overlay` event now and at each change,
/// until the execution ends.
pub async fn live(State(service): State<Arc<Service>>, Path(arn): Path<String>) -> Response {
    let rx = changes().subscribe();
    let stream = futures::stream::unfold(
        (service, arn, String::new(), false, rx),
        |(service, arn, last, done, mut rx)| async move {
            if done {
                return None;
            }
            loop {
                rx.borrow_and_update();
                let (record, overlay, _) = snapshot(&service, arn.clone()).await?;
                let body = statuses(&record, &overlay).to_string();
                let ended = record.status != ExecutionStatus::Running;
                if body != last {
                    let event: Result<Event, Infallible> =
                        Ok(Event::default().event("overlay").data(body.clone()));
                    return Some((event, (service, arn, body, ended, rx)));
                }
                if ended {
                    return None;
                }
                // A write of this process wakes us; another process's
                // (a `host run` on the same file) within two seconds.
                let _ = tokio::time::timeout(Duration::from_secs(2), rx.changed()).await;
                // Coalesce a burst of writes into one update.
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
