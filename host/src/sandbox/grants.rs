//! What a task may touch outside its own memory, and the deny-by-default
//! `WasiCtx` built from it for each call.
//!
//! Denied unless granted: files (only granted directories, mapped guest
//! path → host path, read-only or read-write; cap-std refuses `..` and
//! symlinks that lead out of a grant), environment variables (only those
//! listed), stdin (always empty), stdout/stderr (captured and bounded
//! unless `inherit_stdio`), arguments (none), network (no socket address
//! is allowed, no name lookup). Clocks and randomness are always available.

use std::path::PathBuf;

use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::capture::CapturePipe;

/// Whether a granted directory may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirMode {
    ReadOnly,
    ReadWrite,
}

/// A host directory a task may see, under the path it sees it at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirGrant {
    /// The path inside the guest, e.g. `/ref`.
    pub guest: String,
    /// The host directory (absolute, or relative to the process's current
    /// directory; the manifest resolves it against its own directory).
    pub host: PathBuf,
    pub mode: DirMode,
}

/// Everything a task is granted. The default grants nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub dirs: Vec<DirGrant>,
    /// Environment variables the task sees, exactly these.
    pub env: Vec<(String, String)>,
    /// Write the task's stdout/stderr to the host's instead of capturing them.
    pub inherit_stdio: bool,
}

impl Grants {
    /// The WASI context for one call.
    pub(crate) fn wasi_ctx(
        &self,
        stdout: &CapturePipe,
        stderr: &CapturePipe,
    ) -> anyhow::Result<wasmtime_wasi::WasiCtx> {
        let mut builder = WasiCtxBuilder::new();
        if self.inherit_stdio {
            builder.inherit_stdout().inherit_stderr();
        } else {
            builder.stdout(stdout.clone()).stderr(stderr.clone());
        }
        builder.envs(&self.env);
        // No sockets at all: every address is refused, and names are not resolved.
        builder
            .socket_addr_check(|_, _| Box::pin(async { false }))
            .allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false);
        for dir in &self.dirs {
            let perms = match dir.mode {
                DirMode::ReadOnly => FsPerms::ReadOnly,
                DirMode::ReadWrite => FsPerms::ReadWrite,
            };
            builder
                .preopened_dir(&dir.host, &dir.guest, perms)
                .map_err(anyhow::Error::from)
                .map_err(|e| {
                    e.context(format!(
                        "cannot open granted directory {:?} (for guest path {:?})",
                        dir.host.display().to_string(),
                        dir.guest
                    ))
                })?;
        }
        Ok(builder.build())
    }
}
