//! [`ScheduleStore`] in memory, with the SQLite store's rules.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::MemoryStore;
use crate::ops::trigger::{FileId, TriggerStore};
use crate::store::StoreError;
use crate::store::schedules::{ScheduleRecord, ScheduleStore};

pub(super) type Schedules = BTreeMap<String, ScheduleRecord>;

impl MemoryStore {
    fn with_schedules<T>(&self, f: impl FnOnce(&mut Schedules) -> T) -> T {
        f(&mut self.schedules.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl ScheduleStore for MemoryStore {
    fn schedules(&self) -> Result<Vec<ScheduleRecord>, StoreError> {
        Ok(self.with_schedules(|all| all.values().cloned().collect()))
    }

    fn put_schedule(&self, record: &ScheduleRecord) -> Result<bool, StoreError> {
        Ok(self.with_schedules(|all| match all.get_mut(&record.name) {
            Some(existing) => {
                *existing = ScheduleRecord {
                    created: existing.created,
                    last_fire: existing.last_fire,
                    ..record.clone()
                };
                true
            }
            None => {
                let fresh = ScheduleRecord {
                    last_fire: None,
                    ..record.clone()
                };
                all.insert(record.name.clone(), fresh);
                false
            }
        }))
    }

    fn delete_schedule(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.with_schedules(|all| all.remove(name).is_some()))
    }

    fn set_schedule_enabled(&self, name: &str, enabled: bool) -> Result<bool, StoreError> {
        Ok(self.with_schedules(|all| match all.get_mut(name) {
            Some(record) => {
                record.enabled = enabled;
                true
            }
            None => false,
        }))
    }

    fn claim_fire(&self, name: &str, at: OffsetDateTime) -> Result<bool, StoreError> {
        Ok(self.with_schedules(|all| match all.get_mut(name) {
            Some(record) if record.last_fire.is_none_or(|last| last < at) => {
                record.last_fire = Some(at);
                true
            }
            _ => false,
        }))
    }
}

impl TriggerStore for MemoryStore {
    fn file_seen(&self, trigger: &str, file: &FileId) -> Result<bool, StoreError> {
        let seen = self.files.lock().unwrap_or_else(|e| e.into_inner());
        Ok(seen.contains(&(trigger.to_owned(), file.clone())))
    }

    fn record_file(&self, trigger: &str, file: &FileId) -> Result<bool, StoreError> {
        let mut seen = self.files.lock().unwrap_or_else(|e| e.into_inner());
        Ok(seen.insert((trigger.to_owned(), file.clone())))
    }
}
