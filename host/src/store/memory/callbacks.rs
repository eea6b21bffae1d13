//! [`CallbackStore`] in memory, with the SQLite store's rules.

use std::collections::{BTreeMap, HashMap};

use time::OffsetDateTime;

use super::MemoryStore;
use crate::store::callbacks::{
    ActivityRecord, CallbackStore, TaskToken, TokenAnswer, TokenRefusal, TokenStatus,
};
use crate::store::{ExecutionStatus, Store, StoreError};

#[derive(Default)]
pub(super) struct Tables {
    tokens: HashMap<String, TaskToken>,
    /// `(execution, key)` → token.
    by_key: HashMap<(String, String), String>,
    version: u64,
    activities: BTreeMap<String, ActivityRecord>,
}

impl Tables {
    fn bump(&mut self, token: &str) -> Option<TaskToken> {
        self.version += 1;
        let version = self.version;
        let entry = self.tokens.get_mut(token)?;
        entry.version = version;
        Some(entry.clone())
    }
}

impl MemoryStore {
    fn callbacks(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.callbacks.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn running(&self, arn: &str) -> bool {
        self.get(arn)
            .is_ok_and(|record| record.status == ExecutionStatus::Running)
    }
}

impl CallbackStore for MemoryStore {
    fn open_token(&self, token: &TaskToken) -> Result<TaskToken, StoreError> {
        let mut tables = self.callbacks();
        let key = (token.execution_arn.clone(), token.key.clone());
        if let Some(existing) = tables.by_key.get(&key)
            && let Some(found) = tables.tokens.get(existing)
        {
            return Ok(found.clone());
        }
        if tables.tokens.contains_key(&token.token) {
            return Err(StoreError::Invalid {
                arn: token.execution_arn.clone(),
                detail: "a task token is used twice".into(),
            });
        }
        tables.by_key.insert(key, token.token.clone());
        tables.tokens.insert(
            token.token.clone(),
            TaskToken {
                status: TokenStatus::Waiting,
                ..token.clone()
            },
        );
        Ok(tables.bump(&token.token).unwrap_or_else(|| token.clone()))
    }

    fn token(&self, token: &str) -> Result<Option<TaskToken>, StoreError> {
        Ok(self.callbacks().tokens.get(token).cloned())
    }

    fn answer_token(
        &self,
        token: &str,
        answer: &TokenAnswer,
        at: OffsetDateTime,
    ) -> Result<Result<TaskToken, TokenRefusal>, StoreError> {
        let Some(arn) = self
            .callbacks()
            .tokens
            .get(token)
            .map(|t| t.execution_arn.clone())
        else {
            return Ok(Err(TokenRefusal::DoesNotExist));
        };
        // Read before the token table is locked: the two locks are never nested.
        let running = self.running(&arn);
        let mut tables = self.callbacks();
        let Some(current) = tables.tokens.get_mut(token) else {
            return Ok(Err(TokenRefusal::DoesNotExist));
        };
        if !current.status.is_open() || !running {
            return Ok(Err(TokenRefusal::TimedOut));
        }
        match answer {
            TokenAnswer::Success(output) => {
                current.status = TokenStatus::Succeeded;
                current.output = Some(output.clone());
            }
            TokenAnswer::Failure { error, cause } => {
                current.status = TokenStatus::Failed;
                current.error = error.clone();
                current.cause = cause.clone();
            }
            TokenAnswer::Heartbeat => current.heartbeat = Some(at),
        }
        Ok(tables.bump(token).ok_or(TokenRefusal::DoesNotExist))
    }

    fn close_token(&self, token: &str) -> Result<(), StoreError> {
        let mut tables = self.callbacks();
        if let Some(current) = tables.tokens.get_mut(token)
            && current.status.is_open()
        {
            current.status = TokenStatus::Closed;
            tables.bump(token);
        }
        Ok(())
    }

    fn token_changes(&self, after: u64, limit: usize) -> Result<Vec<TaskToken>, StoreError> {
        let tables = self.callbacks();
        let mut changed: Vec<TaskToken> = tables
            .tokens
            .values()
            .filter(|t| t.version > after)
            .cloned()
            .collect();
        changed.sort_by_key(|t| t.version);
        changed.truncate(limit);
        Ok(changed)
    }

    fn token_version(&self) -> Result<u64, StoreError> {
        Ok(self.callbacks().version)
    }

    fn take_activity_task(
        &self,
        activity_arn: &str,
        worker_name: Option<&str>,
    ) -> Result<Option<TaskToken>, StoreError> {
        let mut candidates: Vec<(u64, String, String)> = self
            .callbacks()
            .tokens
            .values()
            .filter(|t| {
                t.activity_arn.as_deref() == Some(activity_arn) && t.status == TokenStatus::Waiting
            })
            .map(|t| (t.version, t.token.clone(), t.execution_arn.clone()))
            .collect();
        candidates.sort();
        for (_, token, arn) in candidates {
            if !self.running(&arn) {
                continue;
            }
            let mut tables = self.callbacks();
            let Some(current) = tables.tokens.get_mut(&token) else {
                continue;
            };
            // Another worker may have taken it between the two locks.
            if current.status != TokenStatus::Waiting {
                continue;
            }
            current.status = TokenStatus::Started;
            current.worker_name = worker_name.map(str::to_owned);
            return Ok(tables.bump(&token));
        }
        Ok(None)
    }

    fn put_activity(&self, record: &ActivityRecord) -> Result<ActivityRecord, StoreError> {
        Ok(self
            .callbacks()
            .activities
            .entry(record.name.clone())
            .or_insert_with(|| record.clone())
            .clone())
    }

    fn activity(&self, name: &str) -> Result<Option<ActivityRecord>, StoreError> {
        Ok(self.callbacks().activities.get(name).cloned())
    }

    fn activities(&self) -> Result<Vec<ActivityRecord>, StoreError> {
        Ok(self.callbacks().activities.values().cloned().collect())
    }

    fn delete_activity(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.callbacks().activities.remove(name).is_some())
    }
}
