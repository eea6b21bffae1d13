//! Write quotas on read-write directory grants: how many bytes one call may
//! write under each granted directory, counted as the guest writes.
//!
//! What counts against a grant's quota, per call (each call starts at zero):
//! every byte written to a file (through a stream or `write`, overwrites
//! included), the growth of a file past its end (by `set-size`, or by a
//! write at an offset beyond it: holes count, also when the file was
//! shrunk under an open stream), and [`ENTRY_BYTES`] for each new file,
//! directory, symlink or hard link.
//!
//! The quota as a state machine, per grant: `used` starts at 0 and only
//! grows, except that a charge for an entry that was not created after
//! all is refunded. Every operation that can add an entry or bytes charges
//! *before* it acts, and acts only if the charge fit: create (charged only
//! when no entry exists there, following a symlink as the open will, so a
//! dangling link cannot create its target for free), mkdir, symlink, link
//! (+[`ENTRY_BYTES`]); write, set-size (+bytes and holes). Unlink, rmdir,
//! rename within the grant and truncation neither charge nor refund.
//! Rename or link *into* the grant from elsewhere, and link *out* of it,
//! are refused. So whatever the sequence, the entries and bytes on disk
//! that the call made stay within `used`, and `used` within the limit
//! (tested against a model with random sequences in the hostile suite). A write that would pass the
//! quota is refused with `quota` (`EDQUOT`, "Disk quota exceeded") before any
//! byte reaches the disk; a stream is allowed to write exactly up to the
//! quota and fails after. Renaming or linking into a quota'd grant from
//! another grant is refused with `cross-device` (`EXDEV`), as between two
//! file systems, so data cannot enter a grant without being counted.
//!
//! Once a write was refused the call ends with `Sandbox.WriteQuotaExceeded`,
//! whatever the guest did next. The interception itself (which descriptor
//! belongs to which grant) is `host/filesystem.rs`; this module keeps the
//! counters and wraps output streams.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError, StreamResult};

use super::limits::mib;
use crate::errors::{AslError, names};

/// What a new directory entry (file, directory, link) costs: one block on
/// most file systems, so that creating empty files is not free.
pub const ENTRY_BYTES: u64 = 4096;

/// The counter of one quota'd grant for one call.
pub(crate) struct GrantQuota {
    guest: String,
    limit: u64,
    used: AtomicU64,
    /// Bytes refused, once the quota was reached (0: never reached).
    refused: AtomicU64,
}

/// Raised (as the error of a refused write) when a grant's quota is used up.
#[derive(Debug)]
pub(crate) struct QuotaExceeded {
    pub guest: String,
    pub limit: u64,
}

impl fmt::Display for QuotaExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the write quota of {} bytes for {:?} is used up",
            self.limit, self.guest
        )
    }
}

impl std::error::Error for QuotaExceeded {}

impl GrantQuota {
    /// Bytes that may still be written.
    pub fn remaining(&self) -> u64 {
        self.limit.saturating_sub(self.used.load(Ordering::Relaxed))
    }

    /// Counts `bytes` if they fit; otherwise records the refusal.
    pub fn charge(&self, bytes: u64) -> Result<(), QuotaExceeded> {
        let fits = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.limit)
            });
        match fits {
            Ok(_) => Ok(()),
            Err(_) => {
                // At least one byte, so a refused empty entry still counts as a hit.
                self.refused.fetch_add(bytes.max(1), Ordering::Relaxed);
                Err(self.exceeded())
            }
        }
    }

    /// Gives back `bytes` charged for an entry that was not created after all.
    pub fn refund(&self, bytes: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                Some(used.saturating_sub(bytes))
            });
    }

    fn exceeded(&self) -> QuotaExceeded {
        QuotaExceeded {
            guest: self.guest.clone(),
            limit: self.limit,
        }
    }
}

/// The write quotas of one call, and which grant each open descriptor
/// belongs to.
#[derive(Default)]
pub(crate) struct FsQuotas {
    /// One slot per preopened directory, in the order of `Grants::dirs`;
    /// `None` for grants without a quota.
    grants: Vec<Option<Arc<GrantQuota>>>,
    /// Descriptor resource rep → index into `grants`.
    descriptors: HashMap<u32, usize>,
}

impl FsQuotas {
    /// `quotas[i]` is the quota of the i-th preopened directory, named by its guest path.
    pub fn new(quotas: impl IntoIterator<Item = (String, Option<u64>)>) -> Self {
        FsQuotas {
            grants: quotas
                .into_iter()
                .map(|(guest, limit)| {
                    limit.map(|limit| {
                        Arc::new(GrantQuota {
                            guest,
                            limit,
                            used: AtomicU64::new(0),
                            refused: AtomicU64::new(0),
                        })
                    })
                })
                .collect(),
            descriptors: HashMap::new(),
        }
    }

    /// Whether any grant has a quota; when none has, nothing is tracked.
    pub fn active(&self) -> bool {
        self.grants.iter().any(Option::is_some)
    }

    /// The i-th preopen was handed to the guest as descriptor `rep`.
    pub fn preopened(&mut self, index: usize, rep: u32) {
        if self.active() && index < self.grants.len() {
            self.descriptors.insert(rep, index);
        }
    }

    /// Descriptor `child` was opened under descriptor `parent`.
    pub fn opened(&mut self, parent: u32, child: u32) {
        if !self.active() {
            return;
        }
        let map = &mut self.descriptors;
        match map.get(&parent).copied() {
            Some(grant) => map.insert(child, grant),
            None => map.remove(&child),
        };
    }

    pub fn closed(&mut self, rep: u32) {
        if self.active() {
            self.descriptors.remove(&rep);
        }
    }

    /// The grant index of descriptor `rep`.
    pub fn grant_of(&self, rep: u32) -> Option<usize> {
        if !self.active() {
            return None;
        }
        self.descriptors.get(&rep).copied()
    }

    /// The quota of descriptor `rep`'s grant, if it has one.
    pub fn quota_of(&self, rep: u32) -> Option<Arc<GrantQuota>> {
        let grant = self.grant_of(rep)?;
        self.grants.get(grant)?.clone()
    }

    /// Whether moving or linking from `from`'s grant into `to`'s must be
    /// refused: the destination counts writes and the source is elsewhere.
    pub fn crosses_into_quota(&self, from: u32, to: u32) -> bool {
        self.quota_of(to).is_some() && self.grant_of(from) != self.grant_of(to)
    }

    /// Whether a hard link from `from`'s grant to `to`'s must be refused:
    /// they are different grants and either counts writes (a link out of
    /// a quota'd grant would let the file grow through the other name).
    pub fn link_crosses(&self, from: u32, to: u32) -> bool {
        self.grant_of(from) != self.grant_of(to)
            && (self.quota_of(to).is_some() || self.quota_of(from).is_some())
    }

    /// The error the call ends with when a write was refused.
    pub fn exceeded(&self, task: &str) -> Option<AslError> {
        let hit = self
            .grants
            .iter()
            .flatten()
            .find(|q| q.refused.load(Ordering::Relaxed) > 0)?;
        Some(AslError::new(
            names::SANDBOX_WRITE_QUOTA_EXCEEDED,
            format!(
                "task \"{task}\" tried to write past its write quota of {} for {:?} \
                 ({} bytes refused; raise `quota` for that directory in sandstep.toml)",
                quota_text(hit.limit),
                hit.guest,
                hit.refused.load(Ordering::Relaxed)
            ),
        ))
    }
}

fn quota_text(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        mib(bytes)
    } else {
        format!("{bytes} bytes")
    }
}

/// An output stream into a file of a quota'd grant: permits at most what is
/// left of the quota, and refuses writes past it. A positioned stream also
/// charges the hole before each write when the file is shorter than the
/// stream's position (it was shrunk since), so holes count however made.
pub(crate) struct QuotaStream {
    inner: Box<dyn OutputStream>,
    quota: Arc<GrantQuota>,
    file: Option<Arc<std::fs::File>>,
    /// Where the next byte goes; `None` for an appending stream.
    position: Option<u64>,
}

impl QuotaStream {
    pub fn new(
        inner: Box<dyn OutputStream>,
        quota: Arc<GrantQuota>,
        file: Option<Arc<std::fs::File>>,
        position: Option<u64>,
    ) -> Self {
        QuotaStream {
            inner,
            quota,
            file,
            position,
        }
    }

    /// The hole a write at the stream's position would leave before it.
    fn hole(&self) -> u64 {
        match (&self.file, self.position) {
            (Some(file), Some(at)) => file.metadata().map_or(0, |m| at.saturating_sub(m.len())),
            _ => 0,
        }
    }

    fn refuse(&self, bytes: u64) -> StreamError {
        let error = match self.quota.charge(bytes) {
            Err(e) => e,
            Ok(()) => self.quota.exceeded(),
        };
        StreamError::LastOperationFailed(wasmtime::Error::new(error))
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for QuotaStream {
    async fn ready(&mut self) {
        self.inner.ready().await
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for QuotaStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let len = bytes.len() as u64;
        if self.quota.charge(self.hole().saturating_add(len)).is_err() {
            return Err(StreamError::LastOperationFailed(wasmtime::Error::new(
                self.quota.exceeded(),
            )));
        }
        if let Some(at) = &mut self.position {
            *at = at.saturating_add(len);
        }
        self.inner.write(bytes)
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.inner.flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        let permit = self.inner.check_write()?;
        let remaining = self.quota.remaining();
        if remaining == 0 && permit > 0 {
            // The guest wants to write and nothing is left: fail now rather
            // than let it wait forever for a permit.
            return Err(self.refuse(1));
        }
        Ok(permit.min(usize::try_from(remaining).unwrap_or(usize::MAX)))
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_up_to_the_limit_then_refuses_and_remembers() {
        let mut quotas = FsQuotas::new([("/out".to_owned(), Some(10)), ("/ro".to_owned(), None)]);
        quotas.preopened(0, 7);
        quotas.preopened(1, 8);
        quotas.opened(7, 9);
        let q = quotas.quota_of(9).expect("the child inherits the grant");
        assert!(quotas.quota_of(8).is_none(), "no quota, no counter");
        assert!(q.charge(6).is_ok());
        assert_eq!(q.remaining(), 4);
        assert!(quotas.exceeded("t").is_none());
        let e = q.charge(5).expect_err("past the limit");
        assert_eq!(
            e.to_string(),
            "the write quota of 10 bytes for \"/out\" is used up"
        );
        assert!(q.charge(4).is_ok(), "what fits still fits");
        let error = quotas.exceeded("t").expect("a refusal was recorded");
        assert_eq!(error.error, names::SANDBOX_WRITE_QUOTA_EXCEEDED);
        assert!(
            error
                .cause
                .contains("10 bytes for \"/out\" (5 bytes refused"),
            "{}",
            error.cause
        );
        assert!(quotas.crosses_into_quota(8, 9));
        assert!(!quotas.crosses_into_quota(7, 9));
        assert!(!quotas.crosses_into_quota(9, 8));
        quotas.closed(9);
        assert!(quotas.quota_of(9).is_none());
    }

    #[test]
    fn without_quotas_nothing_is_tracked() {
        let mut quotas = FsQuotas::new([("/out".to_owned(), None)]);
        quotas.preopened(0, 1);
        quotas.opened(1, 2);
        assert!(quotas.descriptors.is_empty());
        assert!(quotas.exceeded("t").is_none());
    }
}
