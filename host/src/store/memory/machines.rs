//! [`MachineStore`] in memory, with the SQLite store's rules.

use std::collections::BTreeMap;
use std::sync::MutexGuard;

use time::OffsetDateTime;

use super::MemoryStore;
use crate::store::StoreError;
use crate::store::machines::{AliasRecord, MachineRecord, MachineStore, Put, VersionRecord};

#[derive(Default)]
pub(super) struct Tables {
    machines: BTreeMap<String, Machine>,
}

struct Machine {
    record: MachineRecord,
    /// The highest version ever published (numbers are never reused).
    last_version: u32,
    versions: BTreeMap<u32, VersionRecord>,
    aliases: BTreeMap<String, AliasRecord>,
    tags: BTreeMap<String, String>,
}

impl MemoryStore {
    fn tables(&self) -> MutexGuard<'_, Tables> {
        self.machines.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl MachineStore for MemoryStore {
    fn put_machine(&self, record: &MachineRecord, put: Put) -> Result<bool, StoreError> {
        let mut tables = self.tables();
        match (put, tables.machines.get_mut(&record.name)) {
            (Put::Create, Some(_)) | (Put::Update, None) => Ok(false),
            (Put::Create, None) => {
                tables.machines.insert(
                    record.name.clone(),
                    Machine {
                        record: record.clone(),
                        last_version: 0,
                        versions: BTreeMap::new(),
                        aliases: BTreeMap::new(),
                        tags: BTreeMap::new(),
                    },
                );
                Ok(true)
            }
            (Put::Update, Some(machine)) => {
                // As in SQLite: the type and creation date never change.
                machine.record = MachineRecord {
                    kind: machine.record.kind,
                    creation_date: machine.record.creation_date,
                    ..record.clone()
                };
                Ok(true)
            }
        }
    }

    fn machine(&self, name: &str) -> Result<Option<MachineRecord>, StoreError> {
        Ok(self.tables().machines.get(name).map(|m| m.record.clone()))
    }

    fn machines(&self) -> Result<Vec<MachineRecord>, StoreError> {
        Ok(self
            .tables()
            .machines
            .values()
            .map(|m| m.record.clone())
            .collect())
    }

    fn delete_machine(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.tables().machines.remove(name).is_some())
    }

    fn publish_version(
        &self,
        name: &str,
        description: Option<&str>,
        date: OffsetDateTime,
    ) -> Result<Option<VersionRecord>, StoreError> {
        let mut tables = self.tables();
        let Some(machine) = tables.machines.get_mut(name) else {
            return Ok(None);
        };
        if let Some(latest) = machine.versions.values().next_back()
            && latest.revision_id == machine.record.revision_id
        {
            return Ok(Some(latest.clone()));
        }
        machine.last_version += 1;
        let version = VersionRecord {
            machine: name.to_owned(),
            version: machine.last_version,
            definition: machine.record.definition.clone(),
            role_arn: machine.record.role_arn.clone(),
            revision_id: machine.record.revision_id.clone(),
            description: description.map(str::to_owned),
            creation_date: date,
        };
        machine.versions.insert(version.version, version.clone());
        Ok(Some(version))
    }

    fn versions(&self, name: &str) -> Result<Vec<VersionRecord>, StoreError> {
        Ok(self
            .tables()
            .machines
            .get(name)
            .map(|m| m.versions.values().rev().cloned().collect())
            .unwrap_or_default())
    }

    fn version(&self, name: &str, version: u32) -> Result<Option<VersionRecord>, StoreError> {
        Ok(self
            .tables()
            .machines
            .get(name)
            .and_then(|m| m.versions.get(&version).cloned()))
    }

    fn delete_version(&self, name: &str, version: u32) -> Result<bool, StoreError> {
        Ok(self
            .tables()
            .machines
            .get_mut(name)
            .is_some_and(|m| m.versions.remove(&version).is_some()))
    }

    fn put_alias(&self, alias: &AliasRecord, put: Put) -> Result<bool, StoreError> {
        let mut tables = self.tables();
        let Some(machine) = tables.machines.get_mut(&alias.machine) else {
            // An alias belongs to a machine: none for an unknown one.
            return Ok(false);
        };
        match (put, machine.aliases.get_mut(&alias.name)) {
            (Put::Create, Some(_)) | (Put::Update, None) => Ok(false),
            (Put::Create, None) => {
                machine.aliases.insert(alias.name.clone(), alias.clone());
                Ok(true)
            }
            (Put::Update, Some(existing)) => {
                *existing = AliasRecord {
                    creation_date: existing.creation_date,
                    ..alias.clone()
                };
                Ok(true)
            }
        }
    }

    fn alias(&self, machine: &str, name: &str) -> Result<Option<AliasRecord>, StoreError> {
        Ok(self
            .tables()
            .machines
            .get(machine)
            .and_then(|m| m.aliases.get(name).cloned()))
    }

    fn aliases(&self, machine: &str) -> Result<Vec<AliasRecord>, StoreError> {
        Ok(self
            .tables()
            .machines
            .get(machine)
            .map(|m| m.aliases.values().cloned().collect())
            .unwrap_or_default())
    }

    fn delete_alias(&self, machine: &str, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .tables()
            .machines
            .get_mut(machine)
            .is_some_and(|m| m.aliases.remove(name).is_some()))
    }

    fn tags(&self, machine: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self
            .tables()
            .machines
            .get(machine)
            .map(|m| m.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }

    fn set_tags(&self, machine: &str, tags: &[(String, String)]) -> Result<(), StoreError> {
        if let Some(m) = self.tables().machines.get_mut(machine) {
            m.tags.extend(tags.iter().cloned());
        }
        Ok(())
    }

    fn remove_tags(&self, machine: &str, keys: &[String]) -> Result<(), StoreError> {
        if let Some(m) = self.tables().machines.get_mut(machine) {
            for key in keys {
                m.tags.remove(key);
            }
        }
        Ok(())
    }
}
