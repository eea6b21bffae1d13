//! `host schedule list | create | delete | pause | resume`: the schedules
//! in the store, which every running `host serve` on it fires (it reads
//! them on each tick, so a change here takes effect there within seconds).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::Value;

use super::escape::escaped;
use super::executions::DbArg;
use crate::ops::schedule;
use crate::store::{ScheduleRecord, ScheduleStore, SqliteStore};

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// List the schedules, their state and last fire.
    List(DbOnly),
    /// Create a schedule, or replace the one of that name (its last fire is kept).
    Create(CreateArgs),
    /// Delete a schedule.
    Delete(NameArgs),
    /// Stop a schedule from firing until it is resumed.
    Pause(NameArgs),
    /// Let a paused schedule fire again (missed fires follow the catch-up rule).
    Resume(NameArgs),
}

#[derive(Debug, Args)]
pub struct DbOnly {
    #[command(flatten)]
    db: DbArg,
}

#[derive(Debug, Args)]
pub struct NameArgs {
    /// The schedule's name.
    name: String,
    #[command(flatten)]
    db: DbArg,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The schedule's name: 1 to 64 letters, digits, '-', '_' or '.'.
    name: String,
    /// `rate(5 minutes)`, `cron(0 2 * * ? *)` or `at(2026-12-24T18:00:00)`.
    #[arg(long)]
    expression: String,
    /// The state machine each fire starts an execution of.
    #[arg(long, value_name = "NAME")]
    state_machine: String,
    /// The fixed input, a JSON object (`scheduledTime` is added to it).
    #[arg(long, default_value = "{}")]
    input: String,
    /// The IANA time zone the expression is read in.
    #[arg(long, default_value = "UTC")]
    timezone: String,
    /// A flexible time window: start each fire within this many minutes
    /// after its time (EventBridge's FLEXIBLE mode). Default: OFF.
    #[arg(long, value_name = "MINUTES")]
    flexible_window_minutes: Option<u32>,
    #[command(flatten)]
    db: DbArg,
}

fn open(db: &DbArg) -> anyhow::Result<SqliteStore> {
    let path = db.path().or_else(|_| {
        // No database yet: create one where `host serve` would look.
        Ok::<_, anyhow::Error>(crate::store::default_path(std::path::Path::new(".")))
    })?;
    Ok(SqliteStore::open(&path)?)
}

pub fn schedule(command: ScheduleCommand) -> anyhow::Result<ExitCode> {
    match command {
        ScheduleCommand::List(args) => {
            let store = open(&args.db)?;
            let schedules = store.schedules()?;
            if schedules.is_empty() {
                println!("no schedules");
            }
            for s in schedules {
                let last = s.last_fire.map_or_else(
                    || "never".to_owned(),
                    crate::engine::history::format_timestamp,
                );
                println!(
                    "{}  {}  {}  {}  {}  last fire {}",
                    escaped(&s.name),
                    if s.enabled { "ENABLED" } else { "PAUSED" },
                    escaped(&s.expression),
                    escaped(&s.timezone),
                    escaped(&s.state_machine),
                    last
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        ScheduleCommand::Create(args) => {
            let input: Value = serde_json::from_str(&args.input).map_err(|e| {
                anyhow::anyhow!("--input is not JSON: {e}; pass an object such as '{{\"day\": 1}}'")
            })?;
            let record = ScheduleRecord {
                name: args.name,
                expression: args.expression,
                timezone: args.timezone,
                state_machine: args.state_machine,
                input,
                flexible_window_minutes: args.flexible_window_minutes,
                enabled: true,
                created: time::OffsetDateTime::now_utc(),
                last_fire: None,
            };
            schedule::check(&record).map_err(anyhow::Error::msg)?;
            let store = open(&args.db)?;
            let existed = store.put_schedule(&record)?;
            println!(
                "schedule {}: {}",
                escaped(&record.name),
                if existed { "updated" } else { "created" }
            );
            Ok(ExitCode::SUCCESS)
        }
        ScheduleCommand::Delete(args) => change(&args, "deleted", |s, n| s.delete_schedule(n)),
        ScheduleCommand::Pause(args) => {
            change(&args, "paused", |s, n| s.set_schedule_enabled(n, false))
        }
        ScheduleCommand::Resume(args) => {
            change(&args, "resumed", |s, n| s.set_schedule_enabled(n, true))
        }
    }
}

fn change(
    args: &NameArgs,
    done: &str,
    f: impl FnOnce(&SqliteStore, &str) -> Result<bool, crate::store::StoreError>,
) -> anyhow::Result<ExitCode> {
    let store = open(&args.db)?;
    if f(&store, &args.name)? {
        println!("schedule {}: {done}", escaped(&args.name));
        Ok(ExitCode::SUCCESS)
    } else {
        anyhow::bail!(
            "there is no schedule {}: `host schedule list` shows them",
            escaped(&args.name)
        )
    }
}
