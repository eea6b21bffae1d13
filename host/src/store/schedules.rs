//! Schedules kept in the store, beside the executions they start, so every
//! host process on one database sees the same schedules and their last
//! fire. Both stores implement [`ScheduleStore`]; a PostgreSQL store (#19)
//! implements the same five calls, `claim_fire` in one statement or
//! transaction.
//!
//! **Invariant:** a fire time is claimed at most once: `claim_fire` moves a
//! schedule's last fire forward only, atomically, so of several hosts that
//! find the same fire due exactly one starts it.

use serde_json::Value;
use time::OffsetDateTime;

use super::StoreError;

/// One schedule, as the manifest or `host schedule create` declares it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRecord {
    pub name: String,
    /// `rate(...)`, `cron(...)` or `at(...)`, as given.
    pub expression: String,
    /// The IANA zone the expression is read in.
    pub timezone: String,
    /// The state machine each fire starts an execution of.
    pub state_machine: String,
    /// The fixed input; each execution gets it with the scheduled time added.
    pub input: Value,
    /// EventBridge's flexible time window: `None` is `OFF`, else the most
    /// minutes after the scheduled time a fire may start.
    pub flexible_window_minutes: Option<u32>,
    pub enabled: bool,
    /// When the schedule was created: a `rate` counts from here.
    pub created: OffsetDateTime,
    /// The scheduled time of the last fire claimed.
    pub last_fire: Option<OffsetDateTime>,
}

pub trait ScheduleStore: Send + Sync {
    /// Every schedule, by name.
    fn schedules(&self) -> Result<Vec<ScheduleRecord>, StoreError>;

    /// Creates `record`, or updates the schedule of that name (keeping its
    /// creation time and last fire). Returns whether it existed.
    fn put_schedule(&self, record: &ScheduleRecord) -> Result<bool, StoreError>;

    /// Deletes a schedule; whether it existed.
    fn delete_schedule(&self, name: &str) -> Result<bool, StoreError>;

    /// Pauses (`false`) or resumes (`true`) a schedule; whether it exists.
    fn set_schedule_enabled(&self, name: &str, enabled: bool) -> Result<bool, StoreError>;

    /// Claims the fire of schedule `name` scheduled at `at`: true for
    /// exactly one caller, and only if `at` is later than its last fire.
    fn claim_fire(&self, name: &str, at: OffsetDateTime) -> Result<bool, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryStore, SqliteStore};
    use serde_json::json;

    fn record(name: &str) -> ScheduleRecord {
        ScheduleRecord {
            name: name.into(),
            expression: "rate(5 minutes)".into(),
            timezone: "UTC".into(),
            state_machine: "etl".into(),
            input: json!({"bucket": "b"}),
            flexible_window_minutes: None,
            enabled: true,
            created: OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(60),
            last_fire: None,
        }
    }

    fn check(store: &dyn ScheduleStore) {
        assert!(!store.put_schedule(&record("nightly")).expect("put"));
        let t = |s: i64| OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(s);
        assert!(store.claim_fire("nightly", t(300)).expect("claim"));
        assert!(
            !store.claim_fire("nightly", t(300)).expect("claim"),
            "twice"
        );
        assert!(
            !store.claim_fire("nightly", t(200)).expect("claim"),
            "backwards"
        );
        assert!(!store.claim_fire("absent", t(300)).expect("claim"));
        // An update keeps the creation time and the last fire.
        let changed = ScheduleRecord {
            expression: "rate(1 hour)".into(),
            created: t(999),
            ..record("nightly")
        };
        assert!(store.put_schedule(&changed).expect("put"));
        let all = store.schedules().expect("list");
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].expression, "rate(1 hour)");
        assert_eq!(all[0].created, t(60));
        assert_eq!(all[0].last_fire, Some(t(300)));
        assert_eq!(all[0].input, json!({"bucket": "b"}));
        assert!(store.set_schedule_enabled("nightly", false).expect("pause"));
        assert!(!store.schedules().expect("list")[0].enabled);
        assert!(!store.set_schedule_enabled("absent", true).expect("resume"));
        assert!(store.delete_schedule("nightly").expect("delete"));
        assert!(!store.delete_schedule("nightly").expect("delete"));
        assert!(store.schedules().expect("list").is_empty());
    }

    #[test]
    fn both_stores_keep_schedules_and_claim_each_fire_once() {
        check(&MemoryStore::new());
        let dir = tempfile::tempdir().expect("temp dir");
        check(&SqliteStore::open(dir.path().join("e.db")).expect("opens"));
    }

    #[test]
    fn two_hosts_on_one_file_claim_a_fire_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("e.db");
        let first = SqliteStore::open(&path).expect("opens");
        let second = SqliteStore::open(&path).expect("opens again");
        first.put_schedule(&record("nightly")).expect("put");
        let at = OffsetDateTime::UNIX_EPOCH + time::Duration::days(1);
        let claims: Vec<bool> = std::thread::scope(|s| {
            let a = s.spawn(|| first.claim_fire("nightly", at).expect("claims"));
            let b = s.spawn(|| second.claim_fire("nightly", at).expect("claims"));
            vec![a.join().unwrap_or(false), b.join().unwrap_or(false)]
        });
        assert_eq!(claims.iter().filter(|c| **c).count(), 1, "{claims:?}");
    }
}
