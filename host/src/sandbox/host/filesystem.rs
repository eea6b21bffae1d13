//! `wasi:filesystem/types` and `wasi:filesystem/preopens`: wasmtime-wasi's
//! implementation, wrapped to enforce write quotas (`quota.rs`).
//!
//! Every call is delegated unchanged to wasmtime-wasi (which, through
//! cap-std, confines paths to the grant and enforces read-only grants);
//! the wrapper only follows which grant each descriptor belongs to and
//! counts what is written under a quota'd grant, and logs each refusal
//! (`tracing`, target `sandstep::sandbox`: permission, escape, quota,
//! cross-grant move). Installed over wasmtime-wasi's own bindings by
//! shadowing them in the linker.

use wasmtime::component::{HasData, Resource};
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemCtxView};
use wasmtime_wasi::p2::bindings::filesystem::preopens;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    self, ErrorCode, HostDescriptor, HostDirectoryEntryStream,
};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, FsError, FsResult};

use super::super::quota::{ENTRY_BYTES, FsQuotas, QuotaExceeded, QuotaStream};
use super::CallState;

/// The `HasData` marker for the wrapped filesystem.
pub(crate) struct QuotaFs;

impl HasData for QuotaFs {
    type Data<'a> = FsView<'a>;
}

/// wasmtime-wasi's filesystem view and this call's quotas.
pub(crate) struct FsView<'a> {
    fs: WasiFilesystemCtxView<'a>,
    quotas: &'a mut FsQuotas,
    task: &'a str,
}

pub(crate) fn view(state: &mut CallState) -> FsView<'_> {
    FsView {
        fs: WasiFilesystemCtxView {
            ctx: state.wasi.filesystem(),
            table: &mut state.table,
        },
        quotas: &mut state.grants.fs,
        task: &state.grants.task,
    }
}

fn borrow(fd: &Resource<Descriptor>) -> Resource<Descriptor> {
    Resource::new_borrow(fd.rep())
}

fn quota_error(_: QuotaExceeded) -> FsError {
    ErrorCode::Quota.into()
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
            tracing::warn!(
                target: "sandstep::sandbox",
                task = self.task,
                op,
                path,
                error = %code,
                "refused a file-system operation"
            );
        }
        result
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

    /// Charges a new entry under `dir` when its grant has a quota.
    fn charge_entry(&self, dir: &Resource<Descriptor>) -> FsResult<()> {
        match self.quotas.quota_of(dir.rep()) {
            Some(quota) => quota.charge(ENTRY_BYTES).map_err(quota_error),
            None => Ok(()),
        }
    }

    async fn exists(&mut self, dir: &Resource<Descriptor>, path: &str) -> bool {
        HostDescriptor::stat_at(
            &mut self.fs,
            borrow(dir),
            types::PathFlags::empty(),
            path.to_owned(),
        )
        .await
        .is_ok()
    }
}

impl preopens::Host for FsView<'_> {
    fn get_directories(&mut self) -> wasmtime::Result<Vec<(Resource<Descriptor>, String)>> {
        let dirs = preopens::Host::get_directories(&mut self.fs)?;
        for (index, (fd, _)) in dirs.iter().enumerate() {
            self.quotas.preopened(index, fd.rep());
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
        if let Some(quota) = self.quotas.quota_of(fd.rep()) {
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
        if let Some(quota) = self.quotas.quota_of(fd.rep()) {
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
        HostDescriptor::read_directory(&mut self.fs, fd).await
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
        let result = match self.charge_entry(&fd) {
            Ok(()) => HostDescriptor::create_directory_at(&mut self.fs, fd, path).await,
            Err(e) => Err(e),
        };
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
        HostDescriptor::set_times_at(&mut self.fs, fd, path_flags, path, atim, mtim).await
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
        let result = if self
            .quotas
            .crosses_into_quota(fd.rep(), new_descriptor.rep())
        {
            Err(ErrorCode::CrossDevice.into())
        } else {
            match self.charge_entry(&new_descriptor) {
                Ok(()) => {
                    let (new, flags) = (new_descriptor, old_path_flags);
                    HostDescriptor::link_at(&mut self.fs, fd, flags, old_path, new, new_path).await
                }
                Err(e) => Err(e),
            }
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
        if oflags.contains(types::OpenFlags::CREATE)
            && self.quotas.quota_of(parent).is_some()
            && !self.exists(&fd, &path).await
        {
            let charged = self.charge_entry(&fd);
            self.logged("create", &shown, charged)?;
        }
        let opened =
            HostDescriptor::open_at(&mut self.fs, fd, path_flags, path, oflags, flags).await;
        let child = self.logged("open", &shown, opened)?;
        self.quotas.opened(parent, child.rep());
        Ok(child)
    }

    fn drop(&mut self, fd: Resource<Descriptor>) -> wasmtime::Result<()> {
        self.quotas.closed(fd.rep());
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
        let result = if self.quotas.crosses_into_quota(fd.rep(), new_fd.rep()) {
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
        let shown = dest_path.clone();
        let result = match self.charge_entry(&fd) {
            Ok(()) => HostDescriptor::symlink_at(&mut self.fs, fd, src_path, dest_path).await,
            Err(e) => Err(e),
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
        HostDescriptor::read_via_stream(&mut self.fs, fd, offset)
    }

    fn write_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
        offset: types::Filesize,
    ) -> FsResult<Resource<DynOutputStream>> {
        let quota = self.quotas.quota_of(fd.rep());
        if let Some(quota) = &quota {
            let gap = self.growth_to(&fd, offset);
            let charged = quota.charge(gap).map_err(quota_error);
            self.logged("write", "", charged)?;
        }
        let stream = HostDescriptor::write_via_stream(&mut self.fs, fd, offset);
        let stream = self.logged("write", "", stream)?;
        self.counted(stream, quota)
    }

    fn append_via_stream(
        &mut self,
        fd: Resource<Descriptor>,
    ) -> FsResult<Resource<DynOutputStream>> {
        let quota = self.quotas.quota_of(fd.rep());
        let stream = HostDescriptor::append_via_stream(&mut self.fs, fd);
        let stream = self.logged("append", "", stream)?;
        self.counted(stream, quota)
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
        HostDescriptor::metadata_hash_at(&mut self.fs, fd, path_flags, path).await
    }
}

impl FsView<'_> {
    /// Puts a quota-counting wrapper around `stream` when its file's grant has a quota.
    fn counted(
        &mut self,
        stream: Resource<DynOutputStream>,
        quota: Option<std::sync::Arc<super::super::quota::GrantQuota>>,
    ) -> FsResult<Resource<DynOutputStream>> {
        if let Some(quota) = quota {
            let slot = self.fs.table.get_mut(&stream)?;
            let inner = std::mem::replace(slot, Box::new(Placeholder));
            *slot = Box::new(QuotaStream::new(inner, quota));
        }
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
        HostDirectoryEntryStream::drop(&mut self.fs, stream)
    }
}

/// Stands in the table for the instant a stream is being wrapped.
struct Placeholder;

#[wasmtime_wasi::async_trait]
impl wasmtime_wasi::p2::Pollable for Placeholder {
    async fn ready(&mut self) {}
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
