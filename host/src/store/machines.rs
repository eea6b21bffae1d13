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

    /// Creates or updates an alias per `put`; false when refused.
    fn put_alias(&self, alias: &AliasRecord, put: Put) -> Result<bool, StoreError>;

    fn alias(&self, machine: &str, name: &str) -> Result<Option<AliasRecord>, StoreError>;

    /// The machine's aliases, by name.
    fn aliases(&self, machine: &str) -> Result<Vec<AliasRecord>, StoreError>;

    fn delete_alias(&self, machine: &str, name: &str) -> Result<bool, StoreError>;

    /// The tags of a state machine, by key.
    fn tags(&self, machine: &str) -> Result<Vec<(String, String)>, StoreError>;

    /// Adds or overwrites tags of a state machine.
    fn set_tags(&self, machine: &str, tags: &[(String, String)]) -> Result<(), StoreError>;

    /// Removes tags of a state machine by key; absent keys are ignored.
    fn remove_tags(&self, machine: &str, keys: &[String]) -> Result<(), StoreError>;
}
