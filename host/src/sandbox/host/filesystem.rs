//! `wasi:filesystem/types` and `wasi:filesystem/preopens`: wasmtime-wasi's
//! implementation, wrapped to enforce write quotas (`quota.rs`) and handle
//! budgets (`handles.rs`).
//!
//! Every call is delegated to wasmtime-wasi (which, through cap-std,
//! confines paths to the grant and enforces read-only grants); the wrapper
//! follows which grant each descriptor belongs to, counts what is written
//! and created under a quota'd grant, counts the descriptors, file streams
//! and directory listings the call holds, refuses symlinks whose target
//! could lead out of the grant (absolute, or with a `..`), and logs each
//! refusal (`refusals.rs`: permission, escape, quota, cross-grant move).
//! Installed over wasmtime-wasi's own bindings by shadowing them in the
//! linker.

use wasmtime::component::{HasData, Resource};
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemCtxView};
use wasmtime_wasi::p2::bindings::filesystem::preopens;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    self, ErrorCode, HostDescriptor, HostDirectoryEntryStream,
};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, FsError, FsResult};

use super::super::grants::CallGrants;
use super::super::handles::{HandleKind, HandleLimitHit, HeldInput, HeldOutput, Ticket};
use super::super::quota::{ENTRY_BYTES, GrantQuota, QuotaExceeded, QuotaStream};
use super::super::refusals::{LOGGED_CHARS, escape_for_log};
use super::CallState;

/// The `HasData` marker for the wrapped filesystem.
pub(crate) struct QuotaFs;

impl HasData for QuotaFs {
    type Data<'a> = FsView<'a>;
}

/// wasmtime-wasi's filesystem view and this call's quotas and budgets.
pub(crate) struct FsView<'a> {
    fs: WasiFilesystemCtxView<'a>,
    grants: &'a mut CallGrants,
}

pub(crate) fn view(state: &mut CallState) -> FsView<'_> {
    FsView {
        fs: WasiFilesystemCtxView {
            ctx: state.wasi.filesystem(),
            table: &mut state.table,
        },
        grants: &mut state.grants,
    }
}

fn borrow(fd: &Resource<Descriptor>) -> Resource<Descriptor> {
    Resource::new_borrow(fd.rep())
}

fn quota_error(_: QuotaExceeded) -> FsError {
    ErrorCode::Quota.into()
}

/// A handle past a budget ends the call (see `handles.rs`).
fn budget_trap(hit: HandleLimitHit) -> FsError {
    FsError::trap(wasmtime::Error::new(hit))
}

fn is_code(error: &FsError, code: ErrorCode) -> bool {
    error
        .downcast_ref()
        .is_some_and(|c: &ErrorCode| std::mem::discriminant(c) == std::mem::discriminant(&code))
}

/// Whether a symlink to `target` could lead out of the directory tree it
/// is made in: an absolute target, or one with a `..` anywhere. A target
/// without either points below the link's own directory wherever the link
/// is later moved (rename and link stay inside a grant), so no tool that
/// follows links on the host is led out of the grant.
fn target_may_escape(target: &str) -> bool {
    target.starts_with('/') || target.split('/').any(|part| part == "..")
}

impl FsView<'_> {
    /// Logs `result` when it is a refusal rather than an ordinary failure
    /// (a missing file is not worth a line; a denied one is).
    fn logged<T>(&self, op: &str, path: &str, result: FsResult<T>) -> FsResult<T> {
        if let Err(e) = &result
            && let Some(
                code @ (ErrorCode::NotPermitted
                | ErrorCode::Access
                | ErrorCode::CrossDevice
                | ErrorCode::Quota),
            ) = e.downcast_ref()
        {
            let refusals = &self.grants.refusals;
            if refusals.admit(&format!("{op} {code}")) {
                tracing::warn!(
                    target: "sandstep::sandbox",
                    task = ?refusals.task(),
                    op,
                    path = ?escape_for_log(path, LOGGED_CHARS),
                    error = %code,
                    "refused a file-system operation"
                );
            }
        }
        result
    }

    fn take(&self, kind: HandleKind) -> FsResult<Ticket> {
        self.grants.handles.take(kind).map_err(budget_trap)
    }

    fn quota_of(&self, fd: &Resource<Descriptor>) -> Option<std::sync::Arc<GrantQuota>> {
        self.grants.fs.quota_of(fd.rep())
    }

    /// Opens `path` with `CREATE` under a quota'd grant, charging
    /// [`ENTRY_BYTES`] exactly when an entry may be created: an existing
    /// file (or one a symlink there points to) is opened without a charge,
    /// and a charge is refunded when nothing was created.
    async fn create_counted(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: types::PathFlags,
        path: String,
        oflags: types::OpenFlags,
        flags: types::DescriptorFlags,
        quota: &GrantQuota,
    ) -> FsResult<Resource<Descriptor>> {
        if !oflags.contains(types::OpenFlags::EXCLUSIVE) {
            let existing = oflags & !types::OpenFlags::CREATE;
            let opened = HostDescriptor::open_at(
                &mut self.fs,
                borrow(&fd),
                path_flags,
                path.clone(),
                existing,
                flags,
            )
            .await;
            match opened {
                Err(e) if is_code(&e, ErrorCode::NoEntry) => {}
                other => return other,
            }
        }
        quota.charge(ENTRY_BYTES).map_err(quota_error)?;
        let created =
            HostDescriptor::open_at(&mut self.fs, fd, path_flags, path, oflags, flags).await;
        if created.is_err() {
            quota.refund(ENTRY_BYTES);
        }
        created
    }

    /// Runs `make` (which creates one entry under `dir`) after charging the
    /// entry to `dir`'s quota; refunds the charge when `make` fails.
    async fn with_entry<F>(&mut self, dir: &Resource<Descriptor>, make: F) -> FsResult<()>
    where
        F: AsyncFnOnce(&mut WasiFilesystemCtxView<'_>) -> FsResult<()>,
    {
        let quota = self.quota_of(dir);
        if let Some(quota) = &quota {
            quota.charge(ENTRY_BYTES).map_err(quota_error)?;
        }
        let made = make(&mut self.fs).await;
        if let (Some(quota), Err(_)) = (&quota, &made) {
            quota.refund(ENTRY_BYTES);
        }
        made
    }

    /// How far writing at `offset` would grow file `fd` before the first
    /// byte (the hole past its end); 0 for a directory or an unknown length.
    fn growth_to(&self, fd: &Resource<Descriptor>, offset: u64) -> u64 {
        match self.fs.table.get(fd) {
            // fstat: quick, and what wasmtime-wasi's own `stat` runs.
            Ok(Descriptor::File(f)) => f
                .file
                .metadata()
                .map_or(0, |m| offset.saturating_sub(m.len())),
            _ => 0,
        }
    }
}

impl preopens::Host for FsView<'_> {
    fn get_directories(&mut self) -> wasmtime::Result<Vec<(Resource<Descriptor>, String)>> {
        let dirs = preopens::Host::get_directories(&mut self.fs)?;
        for (index, (fd, _)) in dirs.iter().enumerate() {
            self.grants.fs.preopened(index, fd.rep());
        }
        Ok(dirs)
    }
}

impl types::Host for FsView<'_> {
    fn convert_error_code(&mut self, err: FsError) -> wasmtime::Result<ErrorCode> {
        types::Host::convert_error_code(&mut self.fs, err)
    }

    fn filesystem_error_code(
        &mut self,
        err: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        if self.fs.table.get(&err)?.is::<QuotaExceeded>() {
            return Ok(Some(ErrorCode::Quota));
        }
        types::Host::filesystem_error_code(&mut self.fs, err)
    }
}

impl HostDescriptor for FsView<'_> {
    async fn advise(
        &mut self,
        fd: Resource<Descriptor>,
        offset: types::Filesize,
        len: types::Filesize,
        advice: types::Advice,
    ) -> FsResult<()> {
        HostDescriptor::advise(&mut self.fs, fd, offset, len, advice).await
    }

    async fn sync_data(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        HostDescriptor::sync_data(&mut self.fs, fd).await
    }

    async fn get_flags(&mut self, fd: Resource<Descriptor>) -> FsResult<types::DescriptorFlags> {
        HostDescriptor::get_flags(&mut self.fs, fd).await
    }

    async fn get_type(&mut self, fd: Resource<Descriptor>) -> FsResult<types::DescriptorType> {
        HostDescriptor::get_type(&mut self.fs, fd).await
    }

    async fn set_size(&mut self, fd: Resource<Descriptor>, size: types::Filesize) -> FsResult<()> {
        if let Some(quota) = self.quota_of(&fd) {
            let current = HostDescriptor::stat(&mut self.fs, borrow(&fd)).await?.size;
            let charged = quota
                .charge(size.saturating_sub(current))
                .map_err(quota_error);
            self.logged("set size", "", charged)?;
        }
        HostDescriptor::set_size(&mut self.fs, fd, size).await
    }

    async fn set_times(
        &mut self,
        fd: Resource<Descriptor>,
        atim: types::NewTimestamp,
        mtim: types::NewTimestamp,
    ) -> FsResult<()> {
        HostDescriptor::set_times(&mut self.fs, fd, atim, mtim).await
    }

    async fn read(
        &mut self,
        fd: Resource<Descriptor>,
        len: types::Filesize,
        offset: types::Filesize,
    ) -> FsResult<(Vec<u8>, bool)> {
        HostDescriptor::read(&mut self.fs, fd, len, offset).await
    }

    async fn write(
        &mut self,
        fd: Resource<Descriptor>,
        mut buf: Vec<u8>,
        offset: types::Filesize,
    ) -> FsResult<types::Filesize> {
        if let Some(quota) = self.quota_of(&fd) {
            // A write past the end also grows the file by the hole before it.
            let gap = self.growth_to(&fd, offset);
            let charged = quota.charge(gap).map_err(quota_error);
            self.logged("write", "", charged)?;
            // Like a disk filling up: write what fits (a short write), and
            // refuse once nothing does.
            let fits = usize::try_from(quota.remaining()).unwrap_or(usize::MAX);
            if fits > 0 {
                buf.truncate(fits);
            }
            let charged = quota.charge(buf.len() as u64).map_err(quota_error);
            self.logged("write", "", charged)?;
        }
        HostDescriptor::write(&mut self.fs, fd, buf, offset).await
    }

    async fn read_directory(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<Resource<types::DirectoryEntryStream>> {
        // wasmtime-wasi reads the whole listing into host memory now.
        let ticket = self.take(HandleKind::Listing)?;
        let stream = HostDescriptor::read_directory(&mut self.fs, fd).await?;
        self.grants.listings.insert(stream.rep(), ticket);
        Ok(stream)
    }

    async fn sync(&mut self, fd: Resource<Descriptor>) -> FsResult<()> {
        HostDescriptor::sync(&mut self.fs, fd).await
    }

    async fn create_directory_at(
        &mut self,
        fd: Resource<Descriptor>,
        path: String,
    ) -> FsResult<()> {
        let shown = path.clone();
        let dir = borrow(&fd);
        let result = self
            .with_entry(&dir, async |fs| {
                HostDescriptor::create_directory_at(fs, fd, path).await
            })
            .await;
        self.logged("create directory", &shown, result)
    }

    async fn stat(&mut self, fd: Resource<Descriptor>) -> FsResult<types::DescriptorStat> {
        HostDescriptor::stat(&mut self.fs, fd).await
    }

    async fn stat_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: types::PathFlags,
        path: String,
    ) -> FsResult<types::DescriptorStat> {
        let shown = path.clone();
        let result = HostDescriptor::stat_at(&mut self.fs, fd, path_flags, path).await;
        self.logged("stat", &shown, result)
    }

    async fn set_times_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: types::PathFlags,
        path: String,
        atim: types::NewTimestamp,
        mtim: types::NewTimestamp,
    ) -> FsResult<()> {
        let shown = path.clone();
        let result =
            HostDescriptor::set_times_at(&mut self.fs, fd, path_flags, path, atim, mtim).await;
        self.logged("set times", &shown, result)
    }

    async fn link_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path_flags: types::PathFlags,
        old_path: String,
        new_descriptor: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        let shown = format!("{old_path} -> {new_path}");
        // A link between grants where either counts writes would let data
        // be written through the other name uncounted.
        let result = if self.grants.fs.link_crosses(fd.rep(), new_descriptor.rep()) {
            Err(ErrorCode::CrossDevice.into())
        } else {
            let dir = borrow(&new_descriptor);
            self.with_entry(&dir, async |fs| {
                let (new, flags) = (new_descriptor, old_path_flags);
                HostDescriptor::link_at(fs, fd, flags, old_path, new, new_path).await
            })
            .await
        };
        self.logged("link", &shown, result)
    }

    async fn open_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: types::PathFlags,
        path: String,
        oflags: types::OpenFlags,
        flags: types::DescriptorFlags,
    ) -> FsResult<Resource<Descriptor>> {
        let parent = fd.rep();
        let shown = path.clone();
        let ticket = self.take(HandleKind::Descriptor)?;
        let opened = match self.quota_of(&fd) {
            Some(quota) if oflags.contains(types::OpenFlags::CREATE) => {
                self.create_counted(fd, path_flags, path, oflags, flags, &quota)
                    .await
            }
            _ => HostDescriptor::open_at(&mut self.fs, fd, path_flags, path, oflags, flags).await,
        };
        let child = self.logged("open", &shown, opened)?;
        self.grants.fs.opened(parent, child.rep());
        self.grants.descriptors.insert(child.rep(), ticket);
        Ok(child)
    }

    fn drop(&mut self, fd: Resource<Descriptor>) -> wasmtime::Result<()> {
        self.grants.fs.closed(fd.rep());
        self.grants.descriptors.remove(&fd.rep());
        HostDescriptor::drop(&mut self.fs, fd)
    }

    async fn readlink_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<String> {
        let shown = path.clone();
        let result = HostDescriptor::readlink_at(&mut self.fs, fd, path).await;
        self.logged("readlink", &shown, result)
    }

    async fn remove_directory_at(
        &mut self,
        fd: Resource<Descriptor>,
        path: String,
    ) -> FsResult<()> {
        let shown = path.clone();
        let result = HostDescriptor::remove_directory_at(&mut self.fs, fd, path).await;
        self.logged("remove directory", &shown, result)
    }

    async fn rename_at(
        &mut self,
        fd: Resource<Descriptor>,
        old_path: String,
        new_fd: Resource<Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        let shown = format!("{old_path} -> {new_path}");
        let result = if self.grants.fs.crosses_into_quota(fd.rep(), new_fd.rep()) {
            Err(ErrorCode::CrossDevice.into())
        } else {
            HostDescriptor::rename_at(&mut self.fs, fd, old_path, new_fd, new_path).await
        };
        self.logged("rename", &shown, result)
    }

    async fn symlink_at(
        &mut self,
        fd: Resource<Descriptor>,
        src_path: String,
        dest_path: String,
    ) -> FsResult<()> {
        let shown = format!("{dest_path} -> {src_path}");
        let result = if target_may_escape(&src_path) {
            Err(ErrorCode::NotPermitted.into())
        } else {
            let dir = borrow(&fd);
            self.with_entry(&dir, async |fs| {
                HostDescriptor::symlink_at(fs, fd, src_path, dest_path).await
            })
            .await
        };
        self.logged("symlink", &shown, result)
    }

    async fn unlink_file_at(&mut self, fd: Resource<Descriptor>, path: String) -> FsResult<()> {
        let shown = path.clone();
        let result = HostDescriptor::unlink_file_at(&mut self.fs, fd, path).await;
        self.logged("unlink", &shown, result)
    }

    fn read_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
        offset: types::Filesize,
    ) -> FsResult<Resource<DynInputStream>> {
        // The stream keeps the file open after its descriptor is dropped.
        let ticket = self.take(HandleKind::Descriptor)?;
        let stream = HostDescriptor::read_via_stream(&mut self.fs, fd, offset)?;
        let slot = self.fs.table.get_mut(&stream)?;
        let inner = std::mem::replace(slot, Box::new(Placeholder));
        *slot = Box::new(HeldInput {
            inner,
            _ticket: ticket,
        });
        Ok(stream)
    }

    fn write_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
        offset: types::Filesize,
    ) -> FsResult<Resource<DynOutputStream>> {
        let ticket = self.take(HandleKind::Descriptor)?;
        let quota = self
            .quota_of(&fd)
            .map(|q| (q, self.file_of(&fd), Some(offset)));
        let stream = HostDescriptor::write_via_stream(&mut self.fs, fd, offset);
        let stream = self.logged("write", "", stream)?;
        self.counted(stream, quota, ticket)
    }

    fn append_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<Resource<DynOutputStream>> {
        let ticket = self.take(HandleKind::Descriptor)?;
        let quota = self.quota_of(&fd).map(|q| (q, None, None));
        let stream = HostDescriptor::append_via_stream(&mut self.fs, fd);
        let stream = self.logged("append", "", stream)?;
        self.counted(stream, quota, ticket)
    }

    async fn is_same_object(
        &mut self,
        a: Resource<Descriptor>,
        b: Resource<Descriptor>,
    ) -> wasmtime::Result<bool> {
        HostDescriptor::is_same_object(&mut self.fs, a, b).await
    }

    async fn metadata_hash(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<types::MetadataHashValue> {
        HostDescriptor::metadata_hash(&mut self.fs, fd).await
    }

    async fn metadata_hash_at(
        &mut self,
        fd: Resource<Descriptor>,
        path_flags: types::PathFlags,
        path: String,
    ) -> FsResult<types::MetadataHashValue> {
        // wasi-libc's `stat` asks this first.
        let shown = path.clone();
        let result = HostDescriptor::metadata_hash_at(&mut self.fs, fd, path_flags, path).await;
        self.logged("stat", &shown, result)
    }
}

/// A quota'd stream's counter, its file (to see holes) and its position
/// (`None` when appending).
type StreamQuota = (
    std::sync::Arc<GrantQuota>,
    Option<std::sync::Arc<std::fs::File>>,
    Option<u64>,
);

impl FsView<'_> {
    /// The host file behind descriptor `fd`, when it is a file.
    fn file_of(&self, fd: &Resource<Descriptor>) -> Option<std::sync::Arc<std::fs::File>> {
        match self.fs.table.get(fd) {
            Ok(Descriptor::File(f)) => Some(f.file.clone()),
            _ => None,
        }
    }

    /// Wraps `stream` so it carries its ticket and, when its file's grant
    /// has a quota, counts what it writes.
    fn counted(
        &mut self,
        stream: Resource<DynOutputStream>,
        quota: Option<StreamQuota>,
        ticket: Ticket,
    ) -> FsResult<Resource<DynOutputStream>> {
        let slot = self.fs.table.get_mut(&stream)?;
        let mut inner = std::mem::replace(slot, Box::new(Placeholder));
        if let Some((quota, file, position)) = quota {
            inner = Box::new(QuotaStream::new(inner, quota, file, position));
        }
        *slot = Box::new(HeldOutput {
            inner,
            _ticket: ticket,
        });
        Ok(stream)
    }
}

impl HostDirectoryEntryStream for FsView<'_> {
    async fn read_directory_entry(
        &mut self,
        stream: Resource<types::DirectoryEntryStream>,
    ) -> FsResult<Option<types::DirectoryEntry>> {
        HostDirectoryEntryStream::read_directory_entry(&mut self.fs, stream).await
    }

    fn drop(&mut self, stream: Resource<types::DirectoryEntryStream>) -> wasmtime::Result<()> {
        self.grants.listings.remove(&stream.rep());
        HostDirectoryEntryStream::drop(&mut self.fs, stream)
    }
}

/// Stands in the table for the instant a stream is being wrapped.
struct Placeholder;

#[wasmtime_wasi::async_trait]
impl wasmtime_wasi::p2::Pollable for Placeholder {
    async fn ready(&mut self) {}
}

#[wasmtime_wasi::async_trait]
impl wasmtime_wasi::p2::InputStream for Placeholder {
    fn read(&mut self, _: usize) -> wasmtime_wasi::p2::StreamResult<bytes::Bytes> {
        Err(wasmtime_wasi::p2::StreamError::Closed)
    }
}

impl wasmtime_wasi::p2::OutputStream for Placeholder {
    fn write(&mut self, _: bytes::Bytes) -> wasmtime_wasi::p2::StreamResult<()> {
        Err(wasmtime_wasi::p2::StreamError::Closed)
    }

    fn flush(&mut self) -> wasmtime_wasi::p2::StreamResult<()> {
        Err(wasmtime_wasi::p2::StreamError::Closed)
    }

    fn check_write(&mut self) -> wasmtime_wasi::p2::StreamResult<usize> {
        Err(wasmtime_wasi::p2::StreamError::Closed)
    }
}
