//! What a task may touch outside its own memory, the deny-by-default
//! `WasiCtx` built from it for each call, and the per-call state that
//! enforces what wasmtime-wasi cannot express alone ([`CallGrants`]: write
//! quotas, the network allow-list, secret redaction).
//!
//! Denied unless granted: files (only granted directories, mapped guest
//! path → host path, read-only or read-write with an optional write quota;
//! cap-std refuses `..`, absolute paths and symlinks that lead out of a
//! grant), environment variables (only those listed, plus secrets),
//! stdin (always empty), stdout/stderr (captured and bounded unless
//! `inherit_stdio`), arguments (none), network (only the `net` patterns,
//! see `net.rs`; none by default). Clocks and randomness are always
//! available.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::capture::CapturePipe;
use super::handles::{CallHandles, Ticket};
use super::net::{NetCall, NetRule};
use super::quota::FsQuotas;
use super::refusals::{LOGGED_CHARS, RefusalLog, escape_for_log};
use super::secrets::{Redactor, Secret};
use super::{Captured, LogLine, Outcome};

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
    /// Bytes one call may write under this directory (read-write grants
    /// only; see `quota.rs` for what counts). `None`: unlimited.
    pub quota: Option<u64>,
}

/// Everything a task is granted. The default grants nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    pub dirs: Vec<DirGrant>,
    /// Environment variables the task sees, exactly these (plus `secrets`).
    pub env: Vec<(String, String)>,
    /// Environment variables whose values are redacted from everything the
    /// host records about a call.
    pub secrets: Vec<Secret>,
    /// Where the task may connect (TCP) and which names it may look up.
    /// Empty: no network at all.
    pub net: Vec<NetRule>,
    /// Write the task's stdout/stderr to the host's instead of capturing them.
    pub inherit_stdio: bool,
}

/// The per-call enforcement state a call's `Store` carries.
pub(crate) struct CallGrants {
    /// Refusals logged and counted for this call.
    pub refusals: Arc<RefusalLog>,
    pub fs: FsQuotas,
    /// The budgets the call's host handles draw from, and what it holds:
    /// descriptors and listings by resource rep, sockets until it ends.
    pub handles: CallHandles,
    pub descriptors: HashMap<u32, Ticket>,
    pub listings: HashMap<u32, Ticket>,
    pub sockets: Vec<Ticket>,
    /// `None` when the task may not use the network.
    pub net: Option<Arc<NetCall>>,
    /// Name lookups in progress: stream rep → name.
    pub lookups: HashMap<u32, String>,
    pub secrets: Redactor,
}

impl Grants {
    /// The WASI context for one call of `task`, and the state that enforces
    /// the grants beyond it.
    pub(crate) fn wasi_ctx(
        &self,
        task: &str,
        stdout: &CapturePipe,
        stderr: &CapturePipe,
        handles: CallHandles,
    ) -> anyhow::Result<(wasmtime_wasi::WasiCtx, CallGrants)> {
        let refusals = RefusalLog::new(task);
        let mut builder = WasiCtxBuilder::new();
        if self.inherit_stdio {
            builder.inherit_stdout().inherit_stderr();
        } else {
            builder.stdout(stdout.clone()).stderr(stderr.clone());
        }
        builder.envs(&self.env);
        for secret in &self.secrets {
            builder.env(&secret.name, secret.value.expose());
        }
        let net = if self.net.is_empty() {
            // No sockets at all: every address is refused, and names are not resolved.
            builder
                .socket_addr_check(|_, _| Box::pin(async { false }))
                .allow_ip_name_lookup(false)
                .allow_tcp(false)
                .allow_udp(false);
            None
        } else {
            let net = NetCall::new(refusals.clone(), &self.net);
            let check = net.clone();
            builder
                .socket_addr_check(move |addr, usage| {
                    let allowed = check.check(addr, usage);
                    Box::pin(async move { allowed })
                })
                .allow_ip_name_lookup(true)
                .allow_tcp(true)
                .allow_udp(false);
            Some(net)
        };
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
        let fs = FsQuotas::new(self.dirs.iter().map(|d| {
            let quota = d.quota.filter(|_| d.mode == DirMode::ReadWrite);
            (d.guest.clone(), quota)
        }));
        let call = CallGrants {
            refusals,
            fs,
            handles,
            descriptors: HashMap::new(),
            listings: HashMap::new(),
            sockets: Vec::new(),
            net,
            lookups: HashMap::new(),
            secrets: Redactor::new(&self.secrets),
        };
        Ok((builder.build(), call))
    }
}

impl CallGrants {
    /// Applies what the grants decide after a call: a refused write ends
    /// the call with `Sandbox.WriteQuotaExceeded` whatever the guest did
    /// next, and secret values are redacted from everything recorded.
    pub(crate) fn settle(&self, task: &str, outcome: &mut Outcome) {
        if let Some(error) = self.fs.exceeded(task) {
            tracing::warn!(
                target: "sandstep::sandbox",
                task = ?escape_for_log(task, LOGGED_CHARS),
                "{}",
                escape_for_log(&error.cause, 4 * LOGGED_CHARS)
            );
            let after = match &outcome.result {
                Ok(_) => "returned a result".to_owned(),
                Err(e) => format!("ended with {}", e.error),
            };
            let mut error = error;
            error.cause.push_str(&format!("; the task then {after}"));
            outcome.result = Err(error);
        }
        let r = &self.secrets;
        if r.is_empty() {
            return;
        }
        let mut hit = false;
        match &mut outcome.result {
            Ok(value) => hit |= r.redact_json(value),
            Err(e) => hit |= r.redact_string(&mut e.error) | r.redact_string(&mut e.cause),
        }
        for captured in [&mut outcome.stdout, &mut outcome.stderr] {
            hit |= redact_captured(r, captured);
        }
        // Log lines were redacted as they were logged (host/log.rs).
        hit |= outcome
            .logs
            .iter_mut()
            .fold(false, |hit, LogLine { message, .. }| {
                r.redact_string(message) | hit
            });
        if hit {
            tracing::warn!(
                target: "sandstep::sandbox",
                task = ?escape_for_log(task, LOGGED_CHARS),
                "the task's output, error or captured text contained a secret's value; it was redacted"
            );
        }
    }
}

fn redact_captured(r: &Redactor, captured: &mut Captured) -> bool {
    r.redact_string(&mut captured.text)
}
