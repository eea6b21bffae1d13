//! State machines as `host serve` keeps them: the latest definition of each,
//! its published versions, its aliases and its tags.
//!
//! Kept beside the executions (same SQLite file, tables of their own) so a
//! process that serves the API and a `host run` share one store. An
//! execution never reads these tables: it carries the definition it runs
//! (see [`super::ExecutionRecord::definition`]), which is what pins it to a
//! version or alias whatever later updates do.

use serde_json::Value;
use time::OffsetDateTime;

use super::StoreError;
use crate::engine::ExecutionType;

/// The latest revision of a state machine.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineRecord {
    pub name: String,
    pub kind: ExecutionType,
    pub definition: String,
    pub role_arn: String,
    /// `loggingConfiguration` and `tracingConfiguration` as given, opaque
    /// to the store (`{}` when none).
    pub config: Value,
    /// Changes whenever the definition or role changes.
    pub revision_id: String,
    pub creation_date: OffsetDateTime,
    pub update_date: OffsetDateTime,
}

/// An immutable, numbered copy of a revision.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRecord {
    pub machine: String,
    /// From 1, never reused, even after a delete.
    pub version: u32,
    pub definition: String,
    pub role_arn: String,
    pub revision_id: String,
    pub description: Option<String>,
    pub creation_date: OffsetDateTime,
}

/// A name that routes executions to one or two versions by weight.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasRecord {
    pub machine: String,
    pub name: String,
    pub description: Option<String>,
    /// `(version, weight)`; the weights add up to 100.
    pub routing: Vec<(u32, u8)>,
    pub creation_date: OffsetDateTime,
    pub update_date: OffsetDateTime,
}

/// How a [`MachineStore::put_machine`] treats an existing name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// Insert; refuse (`false`) when the name is taken.
    Create,
    /// Replace; refuse (`false`) when the name is unknown.
    Update,
}

/// Keeps state machines, versions, aliases and tags. Methods block and each
/// is one transaction.
pub trait MachineStore: Send + Sync {
    /// Creates or updates a state machine per `put`; false when refused.
    fn put_machine(&self, record: &MachineRecord, put: Put) -> Result<bool, StoreError>;

    fn machine(&self, name: &str) -> Result<Option<MachineRecord>, StoreError>;

    /// Every state machine, by name.
    fn machines(&self) -> Result<Vec<MachineRecord>, StoreError>;

    /// Deletes a state machine with its versions, aliases and tags. False
    /// when there was none.
    fn delete_machine(&self, name: &str) -> Result<bool, StoreError>;

    /// Publishes the machine's current revision as its next version, unless
    /// its latest version already is that revision (returned as is: AWS's
    /// publish is idempotent). `None` when the machine does not exist.
    fn publish_version(
        &self,
        name: &str,
        description: Option<&str>,
        date: OffsetDateTime,
    ) -> Result<Option<VersionRecord>, StoreError>;

    /// The machine's versions, newest first.
    fn versions(&self, name: &str) -> Result<Vec<VersionRecord>, StoreError>;

    fn version(&self, name: &str, version: u32) -> Result<Option<VersionRecord>, StoreError>;

    /// False when there was no such version.
    fn delete_version(&self, name: &str, version: u32) -> Result<bool, StoreError>;

    /// Creates or updates an alias per `put`; false when refused (also
    /// when its machine does not exist).
    fn put_alias(&self, alias: &AliasRecord, put: Put) -> Result<bool, StoreError>;

    fn alias(&self, machine: &str, name: &str) -> Result<Option<AliasRecord>, StoreError>;

    /// The machine's aliases, by name.
    fn aliases(&self, machine: &str) -> Result<Vec<AliasRecord>, StoreError>;

    fn delete_alias(&self, machine: &str, name: &str) -> Result<bool, StoreError>;

    /// The tags of a state machine, by key.
    fn tags(&self, machine: &str) -> Result<Vec<(String, String)>, StoreError>;

    /// Adds or overwrites tags of a state machine (none when it does not exist).
    fn set_tags(&self, machine: &str, tags: &[(String, String)]) -> Result<(), StoreError>;

    /// Removes tags of a state machine by key; absent keys are ignored.
    fn remove_tags(&self, machine: &str, keys: &[String]) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryStore, SqliteStore};

    fn machine(name: &str, definition: &str) -> MachineRecord {
        MachineRecord {
            name: name.into(),
            kind: ExecutionType::Standard,
            definition: definition.into(),
            role_arn: "r".into(),
            config: serde_json::json!({}),
            revision_id: format!("rev-{definition}"),
            creation_date: OffsetDateTime::UNIX_EPOCH,
            update_date: OffsetDateTime::UNIX_EPOCH,
        }
    }

    /// The same rules, whichever store keeps them.
    fn check(store: &dyn MachineStore) {
        let now = OffsetDateTime::UNIX_EPOCH;
        assert!(store.put_machine(&machine("m", "a"), Put::Create).unwrap());
        assert!(!store.put_machine(&machine("m", "b"), Put::Create).unwrap());
        assert!(!store.put_machine(&machine("x", "b"), Put::Update).unwrap());
        let v1 = store
            .publish_version("m", Some("one"), now)
            .unwrap()
            .unwrap();
        assert_eq!(v1.version, 1);
        // Publishing the same revision again is the same version.
        assert_eq!(
            store.publish_version("m", None, now).unwrap(),
            Some(v1.clone())
        );
        assert!(store.put_machine(&machine("m", "b"), Put::Update).unwrap());
        let v2 = store.publish_version("m", None, now).unwrap().unwrap();
        assert_eq!((v2.version, v2.definition.as_str()), (2, "b"));
        assert!(store.delete_version("m", 2).unwrap());
        assert!(store.put_machine(&machine("m", "c"), Put::Update).unwrap());
        // Numbers are never reused.
        assert_eq!(
            store
                .publish_version("m", None, now)
                .unwrap()
                .unwrap()
                .version,
            3
        );
        let listed: Vec<u32> = store
            .versions("m")
            .unwrap()
            .iter()
            .map(|v| v.version)
            .collect();
        assert_eq!(listed, [3, 1]);
        assert_eq!(store.version("m", 1).unwrap().unwrap().definition, "a");
        let alias = AliasRecord {
            machine: "m".into(),
            name: "prod".into(),
            description: None,
            routing: vec![(1, 30), (3, 70)],
            creation_date: now,
            update_date: now,
        };
        assert!(store.put_alias(&alias, Put::Create).unwrap());
        assert!(!store.put_alias(&alias, Put::Create).unwrap());
        let orphan = AliasRecord {
            machine: "none".into(),
            ..alias.clone()
        };
        assert!(!store.put_alias(&orphan, Put::Create).unwrap());
        assert_eq!(store.alias("m", "prod").unwrap(), Some(alias));
        store
            .set_tags("m", &[("a".into(), "1".into()), ("b".into(), "2".into())])
            .unwrap();
        store.set_tags("m", &[("a".into(), "3".into())]).unwrap();
        store.remove_tags("m", &["b".into()]).unwrap();
        assert_eq!(store.tags("m").unwrap(), [("a".to_owned(), "3".to_owned())]);
        store.set_tags("none", &[("a".into(), "1".into())]).unwrap();
        assert!(store.tags("none").unwrap().is_empty());
        assert!(store.put_machine(&machine("k", "z"), Put::Create).unwrap());
        let names: Vec<String> = store
            .machines()
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["k", "m"]);
        // A delete takes versions, aliases and tags with it.
        assert!(store.delete_machine("m").unwrap());
        assert!(!store.delete_machine("m").unwrap());
        assert!(store.machine("m").unwrap().is_none());
        assert!(store.versions("m").unwrap().is_empty());
        assert!(store.aliases("m").unwrap().is_empty());
        assert!(store.tags("m").unwrap().is_empty());
        assert!(store.put_machine(&machine("m", "a"), Put::Create).unwrap());
        assert_eq!(
            store
                .publish_version("m", None, now)
                .unwrap()
                .unwrap()
                .version,
            1
        );
    }

    #[test]
    fn sqlite_keeps_machines_versions_aliases_and_tags() {
        let dir = tempfile::tempdir().unwrap();
        check(&SqliteStore::open(dir.path().join("e.db")).unwrap());
    }

    #[test]
    fn memory_keeps_machines_versions_aliases_and_tags() {
        check(&MemoryStore::new());
    }
}
