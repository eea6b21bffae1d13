//! The on-disk cache of compiled components, so a second process run never
//! recompiles a component it has seen.
//!
//! An entry is named by `sha256(engine key ‖ sha256(component bytes))`,
//! where the engine key hashes `Engine::precompile_compatibility_hash`
//! (wasmtime's version, target and every setting that changes code). The
//! file holds a magic line, the sha256 of the payload, then the payload
//! from `Component::serialize`. A missing, truncated, corrupt or
//! incompatible entry is recompiled and rewritten, never fatal; a cache
//! that cannot be written only costs a recompile next time.

use std::fs;
use std::hash::Hasher;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

const MAGIC: &[u8] = b"sandstep-cwasm-v1\n";

/// How a component came to be ready to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompileOrigin {
    /// Compiled now (no cache, or no entry yet).
    Compiled,
    /// No compilation: loaded from the on-disk cache, or already compiled
    /// earlier in this process.
    Cached,
    /// The cache entry was unusable (corrupt, truncated, from another
    /// engine build), so it was compiled again and the entry rewritten.
    Recompiled,
}

/// Where compiled components are kept.
pub(crate) struct CompileCache {
    dir: PathBuf,
    engine_key: [u8; 32],
}

impl CompileCache {
    pub fn new(dir: PathBuf, engine: &Engine) -> Self {
        use std::hash::Hash;
        let mut hasher = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        CompileCache {
            dir,
            engine_key: hasher.0.finalize().into(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file an entry for `bytes` lives in.
    pub fn entry_path(&self, bytes: &[u8]) -> PathBuf {
        let mut key = Sha256::new();
        key.update(self.engine_key);
        key.update(Sha256::digest(bytes));
        self.dir.join(format!("{}.cwasm", hex(&key.finalize())))
    }

    /// Compiles `bytes`, or loads them compiled from the cache.
    pub fn get_or_compile(
        &self,
        engine: &Engine,
        bytes: &[u8],
    ) -> anyhow::Result<(Component, CompileOrigin)> {
        let path = self.entry_path(bytes);
        let origin = match fs::read(&path) {
            Ok(entry) => match load(engine, &entry) {
                Ok(component) => return Ok((component, CompileOrigin::Cached)),
                Err(why) => {
                    tracing::warn!(
                        "compile cache entry {} is unusable ({why:#}); recompiling",
                        path.display()
                    );
                    CompileOrigin::Recompiled
                }
            },
            Err(_) => CompileOrigin::Compiled,
        };
        let component = Component::new(engine, bytes)?;
        if let Err(why) = self.store(&path, &component) {
            tracing::warn!(
                "could not write compile cache entry {}: {why:#}",
                path.display()
            );
        }
        Ok((component, origin))
    }

    fn store(&self, path: &Path, component: &Component) -> anyhow::Result<()> {
        let payload = component.serialize()?;
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating cache directory {}", self.dir.display()))?;
        // Write then rename, so a concurrent process never reads half an entry.
        let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
        let written = fs::File::create(&tmp).and_then(|mut file| {
            file.write_all(MAGIC)?;
            file.write_all(&Sha256::digest(&payload))?;
            file.write_all(&payload)
        });
        let renamed = written.and_then(|()| fs::rename(&tmp, path));
        if renamed.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        renamed.with_context(|| format!("writing {}", path.display()))
    }
}

fn load(engine: &Engine, entry: &[u8]) -> anyhow::Result<Component> {
    let rest = entry
        .strip_prefix(MAGIC)
        .context("it does not start with the sandstep header")?;
    anyhow::ensure!(rest.len() >= 32, "it is truncated");
    let (sum, payload) = rest.split_at(32);
    anyhow::ensure!(
        Sha256::digest(payload).as_slice() == sum,
        "its checksum does not match"
    );
    // SAFETY: `deserialize` trusts its input to be wasmtime's own output.
    // The payload is exactly what `Component::serialize` wrote into the
    // user's own cache directory (the checksum rules out truncation and bit
    // rot), and wasmtime itself rejects a payload from another wasmtime
    // version or engine configuration.
    let component = unsafe { Component::deserialize(engine, payload)? };
    Ok(component)
}

/// Feeds `Hash` output into sha256, so the key is stable across processes.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(
            digest[..8]
                .try_into()
                .expect("a sha256 digest has 32 bytes"),
        )
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The default cache directory: `$SANDSTEP_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/sandstep`, else `~/.cache/sandstep`; `None` when none
/// of these can be found.
pub fn default_cache_dir() -> Option<PathBuf> {
    let non_empty = |key| {
        std::env::var_os(key)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = non_empty("SANDSTEP_CACHE_DIR") {
        return Some(dir);
    }
    if let Some(dir) = non_empty("XDG_CACHE_HOME") {
        return Some(dir.join("sandstep"));
    }
    non_empty("HOME").map(|home| home.join(".cache").join("sandstep"))
}
