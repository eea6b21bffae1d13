//! The write quota against a model (issue 22.6): random sequences of
//! create, write, resize, symlink, rename, link, unlink and mkdir run in
//! one call under a quota'd grant, and a model of the file system and of
//! the quota (the state machine `host/src/sandbox/quota.rs` describes)
//! predicts each step. Checked after every step: the guest's success or
//! failure is the model's, what succeeded fits the quota (no bypass) and
//! a quota refusal happened only where the model ran out (no false
//! refusal); at the end the disk holds exactly the model's entries.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use sandstep_host::sandbox::{DirGrant, DirMode, ENTRY_BYTES, Grants, Limits};
use sandstep_tests::guests;

use crate::sandbox::run_with;

const QUOTA: u64 = 10 * ENTRY_BYTES;
const FILES: [&str; 5] = ["a", "b", "c", "d/a", "d/b"];
const TARGETS: [&str; 3] = ["a", "b", "x"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    File(u32),
    Dir,
    /// A symlink: its target, and its inode (a hard link to a symlink is
    /// the same symlink).
    Link(String, u32),
}

/// The grant's tree as the model sees it, and the quota used.
#[derive(Default)]
struct Model {
    entries: BTreeMap<String, Node>,
    sizes: BTreeMap<u32, u64>,
    next_inode: u32,
    used: u64,
}

/// What the model expects of one step.
struct Expect {
    ok: bool,
    /// Bytes written, for a write.
    written: Option<u64>,
    /// The step failed because the quota was used up.
    quota: bool,
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

impl Model {
    fn remaining(&self) -> u64 {
        QUOTA - self.used
    }

    fn parent_exists(&self, path: &str) -> bool {
        let p = parent(path);
        p.is_empty() || self.entries.get(p) == Some(&Node::Dir)
    }

    /// Follows symlinks at the last component; `None` on a loop.
    fn follow(&self, path: &str) -> Option<String> {
        let mut path = path.to_owned();
        for _ in 0..40 {
            match self.entries.get(&path) {
                Some(Node::Link(target, _)) => path = join(parent(&path), target),
                _ => return Some(path),
            }
        }
        None
    }

    fn charge(&mut self, bytes: u64) -> bool {
        let fits = bytes <= self.remaining();
        if fits {
            self.used += bytes;
        }
        fits
    }

    fn new_file(&mut self, path: String) -> u32 {
        self.next_inode += 1;
        self.sizes.insert(self.next_inode, 0);
        self.entries.insert(path, Node::File(self.next_inode));
        self.next_inode
    }

    fn fail() -> Expect {
        Expect {
            ok: false,
            written: None,
            quota: false,
        }
    }

    fn done(ok: bool) -> Expect {
        Expect {
            ok,
            written: None,
            quota: !ok,
        }
    }

    /// Opens (creating when missing) the file `path` leads to, charging a
    /// new entry; the inode, or what the step ends with.
    fn open_create(&mut self, path: &str) -> Result<u32, Expect> {
        let Some(target) = self.follow(path) else {
            return Err(Model::fail());
        };
        match self.entries.get(&target).cloned() {
            Some(Node::File(inode)) => Ok(inode),
            Some(_) => Err(Model::fail()),
            None if !self.parent_exists(&target) => Err(Model::fail()),
            None if !self.charge(ENTRY_BYTES) => Err(Model::done(false)),
            None => Ok(self.new_file(target)),
        }
    }

    fn step(&mut self, op: &Value) -> Expect {
        let path = op["path"].as_str().unwrap_or_default();
        let to = op["to"].as_str().unwrap_or_default();
        let size = op["size"].as_u64().unwrap_or(0);
        match op["op"].as_str().unwrap_or_default() {
            "create" => match self.open_create(path) {
                Ok(_) => Model::done(true),
                Err(e) => e,
            },
            "write_n" => match self.open_create(path) {
                Ok(inode) => {
                    let written = size.min(self.remaining());
                    self.used += written;
                    self.sizes.insert(inode, written);
                    Expect {
                        ok: written == size,
                        written: Some(written),
                        quota: written < size,
                    }
                }
                Err(mut e) => {
                    e.written = Some(0);
                    e
                }
            },
            "resize" => {
                let Some(target) = self.follow(path) else {
                    return Model::fail();
                };
                let Some(Node::File(inode)) = self.entries.get(&target).cloned() else {
                    return Model::fail();
                };
                let current = self.sizes[&inode];
                if !self.charge(size.saturating_sub(current)) {
                    return Model::done(false);
                }
                self.sizes.insert(inode, size);
                Model::done(true)
            }
            "symlink" | "link" | "mkdir" => {
                let (new, node) = match op["op"].as_str() {
                    Some("symlink") => {
                        self.next_inode += 1;
                        (path, Some(Node::Link(to.to_owned(), self.next_inode)))
                    }
                    Some("link") => (to, self.entries.get(path).cloned()),
                    _ => (path, Some(Node::Dir)),
                };
                let Some(node) = node.filter(|n| *n != Node::Dir || op["op"] != "link") else {
                    return Model::fail();
                };
                if self.entries.contains_key(new) || !self.parent_exists(new) {
                    return Model::fail();
                }
                if !self.charge(ENTRY_BYTES) {
                    return Model::done(false);
                }
                self.entries.insert(new.to_owned(), node);
                Model::done(true)
            }
            "rename" => {
                let Some(node) = self.entries.get(path).cloned() else {
                    return Model::fail();
                };
                if !self.parent_exists(to) {
                    return Model::fail();
                }
                // Two names of one inode: rename does nothing (POSIX).
                let same = self.entries.get(to) == Some(&node) && node != Node::Dir;
                if path == to || same {
                    return Model::done(true);
                }
                self.entries.remove(path);
                self.entries.insert(to.to_owned(), node);
                Model::done(true)
            }
            "unlink" => match self.entries.get(path) {
                Some(Node::File(_) | Node::Link(..)) => {
                    self.entries.remove(path);
                    Model::done(true)
                }
                _ => Model::fail(),
            },
            other => panic!("the generator made an unknown op {other}"),
        }
    }

    /// The entries as the disk would list them: kind and size or target.
    fn listing(&self) -> BTreeMap<String, String> {
        self.entries
            .iter()
            .map(|(path, node)| {
                let shown = match node {
                    Node::File(inode) => format!("file {}", self.sizes[inode]),
                    Node::Dir => "dir".to_owned(),
                    Node::Link(target, _) => format!("link {target}"),
                };
                (path.clone(), shown)
            })
            .collect()
    }
}

fn disk_listing(root: &std::path::Path) -> BTreeMap<String, String> {
    let mut listing = BTreeMap::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("list") {
            let entry = entry.expect("entry");
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .expect("below the root")
                .to_string_lossy()
                .into_owned();
            let meta = std::fs::symlink_metadata(&path).expect("lstat");
            let shown = if meta.is_symlink() {
                let target = std::fs::read_link(&path).expect("readlink");
                format!("link {}", target.display())
            } else if meta.is_dir() {
                dirs.push(path.clone());
                "dir".to_owned()
            } else {
                format!("file {}", meta.len())
            };
            listing.insert(rel, shown);
        }
    }
    listing
}

/// A small xorshift generator: the sequences are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

fn generate(rng: &mut Rng, steps: usize) -> Vec<Value> {
    let abs = |p: &str| format!("/out/{p}");
    (0..steps)
        .map(|_| {
            let path = rng.pick(&FILES);
            let other = rng.pick(&FILES);
            match rng.next() % 9 {
                0 => json!({"op": "create", "path": abs(path)}),
                1 | 2 => {
                    let size = [0u64, 100, 3000, 9000][(rng.next() % 4) as usize];
                    json!({"op": "write_n", "path": abs(path), "size": size, "chunk": 1024})
                }
                3 => {
                    let size = [0u64, 2000, 9000][(rng.next() % 3) as usize];
                    json!({"op": "resize", "path": abs(path), "size": size})
                }
                4 => json!({"op": "symlink", "path": abs(path), "to": rng.pick(&TARGETS)}),
                5 => json!({"op": "rename", "path": abs(path), "to": abs(other)}),
                6 => json!({"op": "link", "path": abs(path), "to": abs(other)}),
                7 => json!({"op": "unlink", "path": abs(path)}),
                _ => json!({"op": "mkdir", "path": "/out/d"}),
            }
        })
        .collect()
}

/// Strips the `/out/` the guest sees, so steps speak the model's paths.
fn model_op(op: &Value) -> Value {
    let mut op = op.clone();
    for key in ["path", "to"] {
        if let Some(p) = op[key].as_str().and_then(|p| p.strip_prefix("/out/")) {
            op[key] = json!(p);
        }
    }
    op
}

#[tokio::test]
async fn random_operation_sequences_keep_to_the_quota_model() {
    let sequences: u64 = std::env::var("SANDSTEP_QUOTA_SEQUENCES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(40);
    for seed in 1..=sequences {
        let dir = tempfile::tempdir().expect("temp dir");
        let grants = Grants {
            dirs: vec![DirGrant {
                guest: "/out".into(),
                host: dir.path().to_owned(),
                mode: DirMode::ReadWrite,
                quota: Some(QUOTA),
            }],
            ..Grants::default()
        };
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let steps = generate(&mut rng, 40);
        let request = json!({"op": "script", "steps": steps});
        let outcome = run_with(
            guests::FS_PROBE,
            &request.to_string(),
            &Limits::default(),
            &grants,
            None,
        )
        .await;
        // A refused write ends the call with WriteQuotaExceeded, whatever
        // the guest returned; its report is also on its stdout.
        if let Err(e) = &outcome.result {
            assert_eq!(
                e.error,
                sandstep_host::errors::names::SANDBOX_WRITE_QUOTA_EXCEEDED,
                "seed {seed}: {e}"
            );
        }
        let report: Value = serde_json::from_str(outcome.stdout.text.trim())
            .unwrap_or_else(|e| panic!("seed {seed}: the report ({e}): {}", outcome.stdout.text));
        let reports = report["steps"].as_array().cloned().expect("steps");
        assert_eq!(reports.len(), steps.len(), "seed {seed}");
        let mut model = Model::default();
        let mut history = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            let expect = model.step(&model_op(step));
            assert!(
                model.used <= QUOTA,
                "seed {seed} step {i}: the model overran"
            );
            history.push(format!("{step} -> expect ok={}", expect.ok));
            let report = &reports[i];
            let context = || format!("seed {seed} step {i}: {report}\n{}", history.join("\n"));
            assert_eq!(report["ok"], json!(expect.ok), "{}", context());
            // What the guest counts as written may be less than what
            // reached the disk (a write that fails part-way reports an
            // error for all of it); the disk is checked below.
            if let Some(written) = expect.written {
                let counted = report["written"].as_u64().unwrap_or(0);
                assert!(counted <= written, "{}", context());
            }
            let refused = report["error"]
                .as_str()
                .is_some_and(|e| e.contains("Quota exceeded") || e.contains("I/O error"));
            if refused && !expect.quota {
                assert!(!expect.ok, "a false refusal: {}", context());
            }
        }
        assert_eq!(
            disk_listing(dir.path()),
            model.listing(),
            "seed {seed}: the disk is not the model's\n{}",
            history.join("\n")
        );
    }
}
