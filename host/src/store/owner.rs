//! Which host process runs a RUNNING execution, so `host resume` takes over
//! only the executions whose owner died.
//!
//! Each host process holds an exclusive lock on `<dir>/owners/<id>.lock` for
//! its whole life; the OS releases it when the process ends, however it ends
//! (`kill -9` included). Whoever can lock that file knows its owner is dead.
//! This works for processes sharing one machine (and one file system with
//! working locks). A store shared by several hosts would use leases instead:
//! the owner renews an expiry in the store, and an execution whose lease has
//! expired may be claimed (see the [`super`] module doc).

use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::StoreError;

/// This process's claim to the executions it runs. Dropping it releases the
/// lock and removes its file.
#[derive(Debug)]
pub struct OwnerLock {
    id: String,
    path: PathBuf,
    file: File,
}

impl OwnerLock {
    /// Creates `<dir>/owners/<new id>.lock` and locks it.
    pub fn acquire(dir: &Path) -> Result<OwnerLock, StoreError> {
        let owners = dir.join("owners");
        fs::create_dir_all(&owners).map_err(|source| StoreError::Io {
            path: owners.clone(),
            source,
        })?;
        let id = uuid::Uuid::new_v4().to_string();
        let path = lock_path(&owners, &id);
        let io = |source| StoreError::Io {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(OwnerLock { id, path, file }),
            Err(TryLockError::WouldBlock) => Err(io(std::io::Error::other(
                "a new owner file is already locked",
            ))),
            Err(TryLockError::Error(e)) => Err(io(e)),
        }
    }

    /// The id that [`owner_alive`] and the store's `owner` field name.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for OwnerLock {
    fn drop(&mut self) {
        // Remove first: a checker that opens the file after this finds
        // nothing (dead), one that opened it before gets the lock once the
        // file closes (dead).
        let _ = fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// Whether the process that holds owner `owner_id` under `dir` is still
/// running. An owner whose lock file is gone, or can be locked, is dead; a
/// dead owner's leftover file is removed.
pub fn owner_alive(dir: &Path, owner_id: &str) -> Result<bool, StoreError> {
    // The id comes from the store: never let it name another file.
    if owner_id.is_empty()
        || !owner_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Ok(false);
    }
    let path = lock_path(&dir.join("owners"), owner_id);
    let io = |source| StoreError::Io {
        path: path.clone(),
        source,
    };
    let file = match OpenOptions::new().write(true).open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io(e)),
    };
    match file.try_lock() {
        Ok(()) => {
            let _ = fs::remove_file(&path);
            Ok(false)
        }
        Err(TryLockError::WouldBlock) => Ok(true),
        Err(TryLockError::Error(e)) => Err(io(e)),
    }
}

fn lock_path(owners: &Path, id: &str) -> PathBuf {
    owners.join(format!("{id}.lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_alive_and_a_released_one_is_dead() {
        let dir = tempfile::tempdir().expect("temp dir");
        let lock = OwnerLock::acquire(dir.path()).expect("lock");
        let id = lock.id().to_owned();
        assert!(owner_alive(dir.path(), &id).expect("check"));
        // Checking does not steal the lock.
        assert!(owner_alive(dir.path(), &id).expect("check"));
        drop(lock);
        assert!(!owner_alive(dir.path(), &id).expect("check"));
        let other = OwnerLock::acquire(dir.path()).expect("lock");
        assert_ne!(other.id(), id);
        assert!(owner_alive(dir.path(), other.id()).expect("check"));
    }

    #[test]
    fn unknown_and_malformed_owners_are_dead() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(!owner_alive(dir.path(), "0b7c5a1e-0000-4000-8000-000000000000").expect("check"));
        assert!(!owner_alive(dir.path(), "../../etc/passwd").expect("check"));
        assert!(!owner_alive(dir.path(), "").expect("check"));
    }

    /// Not a test by itself: the child process of
    /// `a_killed_owner_is_dead`, which holds a lock until killed.
    #[test]
    #[ignore = "run by a_killed_owner_is_dead as a child process"]
    fn owner_child() {
        let Some(dir) = std::env::var_os("SANDSTEP_OWNER_CHILD_DIR") else {
            return;
        };
        let dir = PathBuf::from(dir);
        let lock = OwnerLock::acquire(&dir).expect("lock");
        // Written whole, then renamed: the parent never reads half an id.
        fs::write(dir.join("child-owner.tmp"), lock.id()).expect("write id");
        fs::rename(dir.join("child-owner.tmp"), dir.join("child-owner")).expect("publish id");
        loop {
            std::thread::park();
        }
    }

    #[test]
    fn a_killed_owner_is_dead() {
        use std::process::{Command, Stdio};
        use std::time::{Duration, Instant};

        let dir = tempfile::tempdir().expect("temp dir");
        let exe = std::env::current_exe().expect("test binary");
        let mut child = Command::new(exe)
            .args(["--exact", "store::owner::tests::owner_child", "--ignored"])
            .env("SANDSTEP_OWNER_CHILD_DIR", dir.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn the child");
        // Bounded so a broken child fails the test instead of hanging it.
        let published = dir.path().join("child-owner");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !published.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let id = fs::read_to_string(&published);
        let alive = id.as_deref().ok().map(|id| owner_alive(dir.path(), id));
        child.kill().expect("SIGKILL the child");
        child.wait().expect("reap the child");
        let id = id.expect("the child published its owner id");
        assert!(
            alive.expect("id").expect("check"),
            "a running owner is alive"
        );
        assert!(
            !owner_alive(dir.path(), &id).expect("check"),
            "a killed owner is dead"
        );
        // The dead owner's file was cleaned up.
        assert!(!lock_path(&dir.path().join("owners"), &id).exists());
    }
}
