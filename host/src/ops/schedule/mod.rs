//! Schedules: EventBridge Scheduler's schedules, each starting an
//! execution of a named state machine, kept in the store
//! ([`ScheduleStore`]) and fired by every `host serve` on that store.
//!
//! **Catch-up rule.** A fire is due at its scheduled time (plus, with a
//! flexible window, a delay every host computes alike from the schedule and
//! the time). After downtime, only the *latest* missed fire runs, and only
//! if it is at most [`MAX_EVENT_AGE`] old: EventBridge Scheduler's default
//! retry policy drops an invocation older than 24 hours
//! (`MaximumEventAgeInSeconds` 86400), and a nightly job that missed three
//! nights should run once, not three times in a row.
//!
//! **No double start.** A host starts a fire only after claiming it in the
//! store (`claim_fire`, one atomic update), and names the execution after
//! the schedule and the scheduled time, so even a claim lost between two
//! stores could not start the same run twice (StartExecution refuses a used
//! name with another input, and returns the running one for the same input).
//!
//! Each execution's input is the schedule's fixed input (an object) with
//! `scheduledTime` (ISO-8601, UTC) added, the value EventBridge Scheduler's
//! `<aws.scheduler.scheduled-time>` context attribute carries.

pub mod expr;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::store::{ScheduleRecord, ScheduleStore, StoreError};
pub use expr::{Expression, time_zone};

/// The oldest missed fire still started after downtime.
pub const MAX_EVENT_AGE: time::Duration = time::Duration::hours(24);
/// EventBridge's schedule names: 1 to 64 of `[0-9a-zA-Z-_.]`.
pub const NAME_CHARS: usize = 64;
/// EventBridge's longest flexible window: 1440 minutes.
pub const MAX_WINDOW_MINUTES: u32 = 1440;

/// Checks a schedule's name, expression, zone and window; the error says
/// which and what to write.
pub fn check(record: &ScheduleRecord) -> Result<(Expression, chrono_tz::Tz), String> {
    let name = &record.name;
    if name.is_empty()
        || name.chars().count() > NAME_CHARS
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "schedule name {:?} must be 1 to {NAME_CHARS} letters, digits, '-', '_' or '.'",
            crate::sandbox::escape_for_log(name, 80)
        ));
    }
    let expression =
        Expression::parse(&record.expression).map_err(|e| format!("schedule {name:?}: {e}"))?;
    let tz = time_zone(&record.timezone).map_err(|e| format!("schedule {name:?}: {e}"))?;
    if let Some(window) = record.flexible_window_minutes
        && !(1..=MAX_WINDOW_MINUTES).contains(&window)
    {
        return Err(format!(
            "schedule {name:?}: a flexible window is 1 to {MAX_WINDOW_MINUTES} minutes, not {window}"
        ));
    }
    if !record.input.is_object() {
        return Err(format!(
            "schedule {name:?}: the input must be a JSON object (the scheduled time is added to it)"
        ));
    }
    Ok((expression, tz))
}

fn chrono_of(t: OffsetDateTime) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(i64::try_from(t.unix_timestamp_nanos()).unwrap_or(i64::MAX))
}

fn time_of(t: DateTime<Utc>) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.timestamp_nanos_opt()?)).ok()
}

/// The scheduled time of the fire due at `now`, by the catch-up rule.
pub fn due(record: &ScheduleRecord, now: OffsetDateTime) -> Option<OffsetDateTime> {
    let (expression, tz) = check(record).ok()?;
    if !record.enabled {
        return None;
    }
    // A rate fires at its creation first; the others after it.
    let start = match record.last_fire {
        Some(last) => last,
        None => record.created - time::Duration::NANOSECOND,
    };
    let oldest = now - MAX_EVENT_AGE - window(record);
    let mut cursor = chrono_of(start.max(oldest));
    let anchor = chrono_of(record.created);
    let mut latest = None;
    // Within a day, a rate of a minute fires 1,440 times at most.
    for _ in 0..100_000 {
        let Some(next) = expression.next_after(cursor, tz, anchor).and_then(time_of) else {
            break;
        };
        if next + delay(record, next) > now {
            break;
        }
        latest = Some(next);
        cursor = chrono_of(next);
    }
    latest.filter(|fire| *fire + delay(record, *fire) >= now - MAX_EVENT_AGE - window(record))
}

fn window(record: &ScheduleRecord) -> time::Duration {
    time::Duration::minutes(i64::from(record.flexible_window_minutes.unwrap_or(0)))
}

/// The flexible window's delay for the fire at `at`: spread over the
/// window, the same on every host (a hash of the schedule and the time).
pub fn delay(record: &ScheduleRecord, at: OffsetDateTime) -> time::Duration {
    let Some(minutes) = record.flexible_window_minutes else {
        return time::Duration::ZERO;
    };
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{}@{}", record.name, at.unix_timestamp()));
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let seconds = u64::from(minutes) * 60;
    let offset = u64::from_le_bytes(first) % seconds.max(1);
    time::Duration::seconds(i64::try_from(offset).unwrap_or(0))
}

/// The execution name of the fire at `at`: the schedule and the time, so
/// a fire has one name wherever it starts.
pub fn execution_name(record: &ScheduleRecord, at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );
    // 63 + 1 + 16 characters: within AWS's 80.
    let name: String = record.name.chars().take(63).collect();
    format!("{name}-{stamp}")
}

/// The input of the fire at `at`.
pub fn input(record: &ScheduleRecord, at: OffsetDateTime) -> Value {
    let mut input = record.input.clone();
    if let Some(object) = input.as_object_mut() {
        object.insert(
            "scheduledTime".into(),
            json!(crate::engine::history::format_timestamp(at)),
        );
    }
    input
}

/// One fire to start: the state machine, the execution name and input.
#[derive(Debug, Clone, PartialEq)]
pub struct Fire {
    pub schedule: String,
    pub state_machine: String,
    pub execution_name: String,
    pub input: Value,
    pub at: OffsetDateTime,
}

/// Claims every fire due at `now` and returns those this caller must
/// start: the same fire is returned to one caller only, whichever host.
pub fn claim_due(store: &dyn ScheduleStore, now: OffsetDateTime) -> Result<Vec<Fire>, StoreError> {
    let mut fires = Vec::new();
    for record in store.schedules()? {
        let Some(at) = due(&record, now) else {
            continue;
        };
        if store.claim_fire(&record.name, at)? {
            fires.push(Fire {
                schedule: record.name.clone(),
                state_machine: record.state_machine.clone(),
                execution_name: execution_name(&record, at),
                input: input(&record, at),
                at,
            });
        }
    }
    Ok(fires)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryStore, SqliteStore};
    use time::macros::datetime;

    fn nightly() -> ScheduleRecord {
        ScheduleRecord {
            name: "nightly-etl".into(),
            expression: "cron(0 2 * * ? *)".into(),
            timezone: "Europe/Paris".into(),
            state_machine: "etl".into(),
            input: json!({"bucket": "raw"}),
            flexible_window_minutes: None,
            enabled: true,
            created: datetime!(2026-03-20 12:00 UTC),
            last_fire: None,
        }
    }

    #[test]
    fn nothing_is_due_before_the_first_fire_and_one_fire_after_it() {
        let record = nightly();
        assert_eq!(due(&record, datetime!(2026-03-21 00:59 UTC)), None);
        // 02:00 in Paris (CET) is 01:00 UTC.
        assert_eq!(
            due(&record, datetime!(2026-03-21 01:00:30 UTC)),
            Some(datetime!(2026-03-21 01:00 UTC))
        );
    }

    #[test]
    fn after_downtime_only_the_latest_missed_fire_within_a_day_runs() {
        let mut record = nightly();
        record.last_fire = Some(datetime!(2026-03-21 01:00 UTC));
        // Down for three nights: the 22nd, 23rd and 24th were missed.
        assert_eq!(
            due(&record, datetime!(2026-03-24 09:00 UTC)),
            Some(datetime!(2026-03-24 01:00 UTC))
        );
        // Down until more than a day after the last missed fire: none.
        assert_eq!(
            due(&record, datetime!(2026-03-25 00:30 UTC)),
            Some(datetime!(2026-03-24 01:00 UTC))
        );
        assert_eq!(
            due(&record, datetime!(2026-03-25 00:59 UTC)),
            Some(datetime!(2026-03-24 01:00 UTC))
        );
        // A one-time fire missed by more than a day is dropped.
        let once = ScheduleRecord {
            expression: "at(2026-03-22T02:00:00)".into(),
            ..nightly()
        };
        assert_eq!(
            due(&once, datetime!(2026-03-23 00:30 UTC)),
            Some(datetime!(2026-03-22 01:00 UTC))
        );
        assert_eq!(due(&once, datetime!(2026-03-23 03:00 UTC)), None);
    }

    #[test]
    fn a_paused_schedule_is_never_due() {
        let record = ScheduleRecord {
            enabled: false,
            ..nightly()
        };
        assert_eq!(due(&record, datetime!(2026-03-21 01:00:30 UTC)), None);
    }

    #[test]
    fn a_flexible_window_delays_a_fire_alike_on_every_host() {
        let record = ScheduleRecord {
            flexible_window_minutes: Some(15),
            ..nightly()
        };
        let at = datetime!(2026-03-21 01:00 UTC);
        let wait = delay(&record, at);
        assert!(wait < time::Duration::minutes(15));
        assert_eq!(wait, delay(&record.clone(), at));
        if wait > time::Duration::ZERO {
            assert_eq!(due(&record, at), None);
        }
        assert_eq!(due(&record, at + wait), Some(at));
    }

    #[test]
    fn a_fire_is_named_after_its_schedule_and_time_and_carries_it() {
        let at = datetime!(2026-03-21 01:00 UTC);
        assert_eq!(
            execution_name(&nightly(), at),
            "nightly-etl-20260321T010000Z"
        );
        assert_eq!(
            input(&nightly(), at),
            json!({"bucket": "raw", "scheduledTime": "2026-03-21T01:00:00.000Z"})
        );
    }

    #[test]
    fn two_hosts_ticking_together_start_each_fire_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("e.db");
        let first = SqliteStore::open(&path).expect("opens");
        let second = SqliteStore::open(&path).expect("opens again");
        let every_minute = ScheduleRecord {
            name: "often".into(),
            expression: "rate(1 minute)".into(),
            timezone: "UTC".into(),
            created: datetime!(2026-01-01 00:00 UTC),
            ..nightly()
        };
        first.put_schedule(&every_minute).expect("put");
        let mut started = Vec::new();
        // Both hosts tick every 20 virtual seconds for ten minutes.
        let mut now = datetime!(2026-01-01 00:00 UTC);
        while now <= datetime!(2026-01-01 00:10 UTC) {
            for host in [&first, &second] {
                started.extend(claim_due(host, now).expect("ticks"));
            }
            now += time::Duration::seconds(20);
        }
        let names: Vec<&str> = started.iter().map(|f| f.execution_name.as_str()).collect();
        assert_eq!(names.len(), 11, "{names:?}");
        let mut unique = names.clone();
        unique.dedup();
        assert_eq!(unique, names, "no fire started twice");
        assert_eq!(names[0], "often-20260101T000000Z");
    }

    #[test]
    fn memory_store_claims_the_same_way() {
        let store = MemoryStore::new();
        store.put_schedule(&nightly()).expect("put");
        let now = datetime!(2026-03-21 01:00:30 UTC);
        assert_eq!(claim_due(&store, now).expect("ticks").len(), 1);
        assert!(claim_due(&store, now).expect("ticks").is_empty());
    }

    #[test]
    fn bad_schedules_are_refused_with_the_reason() {
        for (record, says) in [
            (
                ScheduleRecord {
                    name: "bad name".into(),
                    ..nightly()
                },
                "letters",
            ),
            (
                ScheduleRecord {
                    timezone: "Nowhere/City".into(),
                    ..nightly()
                },
                "IANA",
            ),
            (
                ScheduleRecord {
                    flexible_window_minutes: Some(0),
                    ..nightly()
                },
                "flexible",
            ),
            (
                ScheduleRecord {
                    input: json!([1]),
                    ..nightly()
                },
                "object",
            ),
        ] {
            let error = check(&record).expect_err(says);
            assert!(error.contains(says), "{error}");
        }
    }
}
