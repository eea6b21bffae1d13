//! [`MachineStore`] in the SQLite file, in tables of its own. They are
//! created if absent whenever the file is opened, so a file written by an
//! older host gains them and an older host still opens a newer file.

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use super::{SqliteStore, from_nanos, nanos, parse_json};
use crate::store::machines::{AliasRecord, MachineRecord, MachineStore, Put, VersionRecord};
use crate::store::{StoreError, kind_str, parse_kind};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS state_machines (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    definition TEXT NOT NULL,
    role_arn TEXT NOT NULL,
    config TEXT NOT NULL,
    revision_id TEXT NOT NULL,
    creation_date INTEGER NOT NULL,
    update_date INTEGER NOT NULL,
    last_version INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS state_machine_versions (
    machine TEXT NOT NULL,
    version INTEGER NOT NULL,
    definition TEXT NOT NULL,
    role_arn TEXT NOT NULL,
    revision_id TEXT NOT NULL,
    description TEXT,
    creation_date INTEGER NOT NULL,
    PRIMARY KEY (machine, version)
);
CREATE TABLE IF NOT EXISTS state_machine_aliases (
    machine TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    routing TEXT NOT NULL,
    creation_date INTEGER NOT NULL,
    update_date INTEGER NOT NULL,
    PRIMARY KEY (machine, name)
);
CREATE TABLE IF NOT EXISTS state_machine_tags (
    machine TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (machine, key)
);
";

const MACHINE_COLUMNS: &str =
    "name, kind, definition, role_arn, config, revision_id, creation_date, update_date";
const VERSION_COLUMNS: &str =
    "machine, version, definition, role_arn, revision_id, description, creation_date";
const ALIAS_COLUMNS: &str = "machine, name, description, routing, creation_date, update_date";

fn read_machine(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawMachine> {
    Ok(RawMachine {
        name: r.get(0)?,
        kind: r.get(1)?,
        definition: r.get(2)?,
        role_arn: r.get(3)?,
        config: r.get(4)?,
        revision_id: r.get(5)?,
        creation_date: r.get(6)?,
        update_date: r.get(7)?,
    })
}

struct RawMachine {
    name: String,
    kind: String,
    definition: String,
    role_arn: String,
    config: String,
    revision_id: String,
    creation_date: i64,
    update_date: i64,
}

impl RawMachine {
    fn into_record(self) -> Result<MachineRecord, StoreError> {
        let at = self.name.as_str();
        Ok(MachineRecord {
            kind: parse_kind(&self.kind)
                .ok_or_else(|| super::unreadable(at, format!("unknown type '{}'", self.kind)))?,
            config: parse_json(at, "config", &self.config)?,
            creation_date: from_nanos(at, self.creation_date)?,
            update_date: from_nanos(at, self.update_date)?,
            definition: self.definition,
            role_arn: self.role_arn,
            revision_id: self.revision_id,
            name: self.name,
        })
    }
}

fn read_version(r: &rusqlite::Row<'_>) -> rusqlite::Result<(VersionRecord, i64)> {
    Ok((
        VersionRecord {
            machine: r.get(0)?,
            version: r.get(1)?,
            definition: r.get(2)?,
            role_arn: r.get(3)?,
            revision_id: r.get(4)?,
            description: r.get(5)?,
            creation_date: OffsetDateTime::UNIX_EPOCH,
        },
        r.get(6)?,
    ))
}

fn version_of((mut record, date): (VersionRecord, i64)) -> Result<VersionRecord, StoreError> {
    record.creation_date = from_nanos(&record.machine, date)?;
    Ok(record)
}

fn read_alias(r: &rusqlite::Row<'_>) -> rusqlite::Result<(AliasRecord, String, i64, i64)> {
    Ok((
        AliasRecord {
            machine: r.get(0)?,
            name: r.get(1)?,
            description: r.get(2)?,
            routing: Vec::new(),
            creation_date: OffsetDateTime::UNIX_EPOCH,
            update_date: OffsetDateTime::UNIX_EPOCH,
        },
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn alias_of(
    (mut record, routing, created, updated): (AliasRecord, String, i64, i64),
) -> Result<AliasRecord, StoreError> {
    let at = format!("{}:{}", record.machine, record.name);
    let routing: Vec<(u32, u8)> = serde_json::from_str(&routing)
        .map_err(|e| super::unreadable(&at, format!("routing: {e}")))?;
    record.routing = routing;
    record.creation_date = from_nanos(&at, created)?;
    record.update_date = from_nanos(&at, updated)?;
    Ok(record)
}

impl SqliteStore {
    fn query_versions(
        &self,
        conn: &Connection,
        name: &str,
        only: Option<u32>,
    ) -> Result<Vec<VersionRecord>, StoreError> {
        let sql = format!(
            "SELECT {VERSION_COLUMNS} FROM state_machine_versions \
             WHERE machine = ?1 AND (?2 IS NULL OR version = ?2) ORDER BY version DESC"
        );
        let mut st = conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![name, only], read_version)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        rows.into_iter().map(version_of).collect()
    }

    fn query_aliases(
        &self,
        conn: &Connection,
        machine: &str,
        only: Option<&str>,
    ) -> Result<Vec<AliasRecord>, StoreError> {
        let sql = format!(
            "SELECT {ALIAS_COLUMNS} FROM state_machine_aliases \
             WHERE machine = ?1 AND (?2 IS NULL OR name = ?2) ORDER BY name"
        );
        let mut st = conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![machine, only], read_alias)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        rows.into_iter().map(alias_of).collect()
    }
}

impl MachineStore for SqliteStore {
    fn put_machine(&self, record: &MachineRecord, put: Put) -> Result<bool, StoreError> {
        let at = record.name.as_str();
        let config = record.config.to_string();
        let created = nanos(at, record.creation_date)?;
        let updated = nanos(at, record.update_date)?;
        let conn = self.lock();
        let changed = match put {
            Put::Create => conn
                .prepare_cached(&format!(
                    "INSERT OR IGNORE INTO state_machines ({MACHINE_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                ))
                .and_then(|mut st| {
                    st.execute(params![
                        record.name,
                        kind_str(record.kind),
                        record.definition,
                        record.role_arn,
                        config,
                        record.revision_id,
                        created,
                        updated
                    ])
                }),
            Put::Update => conn
                .prepare_cached(
                    "UPDATE state_machines SET definition = ?2, role_arn = ?3, config = ?4, \
                     revision_id = ?5, update_date = ?6 WHERE name = ?1",
                )
                .and_then(|mut st| {
                    st.execute(params![
                        record.name,
                        record.definition,
                        record.role_arn,
                        config,
                        record.revision_id,
                        updated
                    ])
                }),
        }
        .map_err(|e| self.err(e))?;
        Ok(changed == 1)
    }

    fn machine(&self, name: &str) -> Result<Option<MachineRecord>, StoreError> {
        let conn = self.lock();
        let raw = conn
            .prepare_cached(&format!(
                "SELECT {MACHINE_COLUMNS} FROM state_machines WHERE name = ?1"
            ))
            .and_then(|mut st| st.query_row([name], read_machine).optional())
            .map_err(|e| self.err(e))?;
        raw.map(RawMachine::into_record).transpose()
    }

    fn machines(&self) -> Result<Vec<MachineRecord>, StoreError> {
        let conn = self.lock();
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT {MACHINE_COLUMNS} FROM state_machines ORDER BY name"
            ))
            .map_err(|e| self.err(e))?;
        let raws = st
            .query_map([], read_machine)
            .map_err(|e| self.err(e))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(|e| self.err(e))?;
        raws.into_iter().map(RawMachine::into_record).collect()
    }

    fn delete_machine(&self, name: &str) -> Result<bool, StoreError> {
        let mut conn = self.lock();
        let tx = self.immediate(&mut conn)?;
        let deleted = tx
            .execute("DELETE FROM state_machines WHERE name = ?1", [name])
            .map_err(|e| self.err(e))?;
        for table in [
            "state_machine_versions",
            "state_machine_aliases",
            "state_machine_tags",
        ] {
            tx.execute(&format!("DELETE FROM {table} WHERE machine = ?1"), [name])
                .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(deleted == 1)
    }

    fn publish_version(
        &self,
        name: &str,
        description: Option<&str>,
        date: OffsetDateTime,
    ) -> Result<Option<VersionRecord>, StoreError> {
        let mut conn = self.lock();
        let tx = self.immediate(&mut conn)?;
        let current: Option<(String, String, String, u32)> = tx
            .query_row(
                "SELECT definition, role_arn, revision_id, last_version FROM state_machines \
                 WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some((definition, role_arn, revision_id, last)) = current else {
            return Ok(None);
        };
        if let Some(latest) = self.query_versions(&tx, name, None)?.into_iter().next()
            && latest.revision_id == revision_id
        {
            return Ok(Some(latest));
        }
        let record = VersionRecord {
            machine: name.to_owned(),
            version: last + 1,
            definition,
            role_arn,
            revision_id,
            description: description.map(str::to_owned),
            creation_date: date,
        };
        tx.execute(
            &format!(
                "INSERT INTO state_machine_versions ({VERSION_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ),
            params![
                record.machine,
                record.version,
                record.definition,
                record.role_arn,
                record.revision_id,
                record.description,
                nanos(name, date)?
            ],
        )
        .map_err(|e| self.err(e))?;
        tx.execute(
            "UPDATE state_machines SET last_version = ?2 WHERE name = ?1",
            params![name, record.version],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(Some(record))
    }

    fn versions(&self, name: &str) -> Result<Vec<VersionRecord>, StoreError> {
        let conn = self.lock();
        self.query_versions(&conn, name, None)
    }

    fn version(&self, name: &str, version: u32) -> Result<Option<VersionRecord>, StoreError> {
        let conn = self.lock();
        Ok(self
            .query_versions(&conn, name, Some(version))?
            .into_iter()
            .next())
    }

    fn delete_version(&self, name: &str, version: u32) -> Result<bool, StoreError> {
        let conn = self.lock();
        let deleted = conn
            .execute(
                "DELETE FROM state_machine_versions WHERE machine = ?1 AND version = ?2",
                params![name, version],
            )
            .map_err(|e| self.err(e))?;
        Ok(deleted == 1)
    }

    fn put_alias(&self, alias: &AliasRecord, put: Put) -> Result<bool, StoreError> {
        let at = format!("{}:{}", alias.machine, alias.name);
        let routing = serde_json::to_string(&alias.routing)
            .map_err(|e| super::unreadable(&at, format!("routing: {e}")))?;
        let created = nanos(&at, alias.creation_date)?;
        let updated = nanos(&at, alias.update_date)?;
        let conn = self.lock();
        let changed = match put {
            Put::Create => conn.execute(
                &format!(
                    "INSERT OR IGNORE INTO state_machine_aliases ({ALIAS_COLUMNS}) \
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6 \
                     WHERE EXISTS (SELECT 1 FROM state_machines WHERE name = ?1)"
                ),
                params![
                    alias.machine,
                    alias.name,
                    alias.description,
                    routing,
                    created,
                    updated
                ],
            ),
            Put::Update => conn.execute(
                "UPDATE state_machine_aliases SET description = ?3, routing = ?4, \
                 update_date = ?5 WHERE machine = ?1 AND name = ?2",
                params![
                    alias.machine,
                    alias.name,
                    alias.description,
                    routing,
                    updated
                ],
            ),
        }
        .map_err(|e| self.err(e))?;
        Ok(changed == 1)
    }

    fn alias(&self, machine: &str, name: &str) -> Result<Option<AliasRecord>, StoreError> {
        let conn = self.lock();
        Ok(self
            .query_aliases(&conn, machine, Some(name))?
            .into_iter()
            .next())
    }

    fn aliases(&self, machine: &str) -> Result<Vec<AliasRecord>, StoreError> {
        let conn = self.lock();
        self.query_aliases(&conn, machine, None)
    }

    fn delete_alias(&self, machine: &str, name: &str) -> Result<bool, StoreError> {
        let conn = self.lock();
        let deleted = conn
            .execute(
                "DELETE FROM state_machine_aliases WHERE machine = ?1 AND name = ?2",
                params![machine, name],
            )
            .map_err(|e| self.err(e))?;
        Ok(deleted == 1)
    }

    fn tags(&self, machine: &str) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.lock();
        let mut st = conn
            .prepare_cached(
                "SELECT key, value FROM state_machine_tags WHERE machine = ?1 ORDER BY key",
            )
            .map_err(|e| self.err(e))?;
        st.query_map([machine], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))
    }

    fn set_tags(&self, machine: &str, tags: &[(String, String)]) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = self.immediate(&mut conn)?;
        for (key, value) in tags {
            tx.execute(
                "INSERT INTO state_machine_tags (machine, key, value) \
                 SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM state_machines WHERE name = ?1) \
                 ON CONFLICT (machine, key) DO UPDATE SET value = excluded.value",
                params![machine, key, value],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    fn remove_tags(&self, machine: &str, keys: &[String]) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = self.immediate(&mut conn)?;
        for key in keys {
            tx.execute(
                "DELETE FROM state_machine_tags WHERE machine = ?1 AND key = ?2",
                params![machine, key],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }
}
