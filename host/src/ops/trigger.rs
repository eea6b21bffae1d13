//! File triggers, the local form of S3 event notifications: each new or
//! completed file in a watched directory starts one execution, whose input
//! is shaped like EventBridge's S3 `Object Created` event.
//!
//! A file counts once it has stopped growing: its size and modification
//! time are the same in two scans in a row. Each (path, size, mtime) is
//! recorded in the store when its execution has started, so a restart
//! neither loses nor repeats a file (at-least-once: a host killed between
//! the start and the record starts it again under the same execution name,
//! which StartExecution answers with the execution already started).
//!
//! Why a periodic scan and not `notify`: completion needs polling anyway
//! (a write event does not say the writer is done), a restart needs a full
//! scan to find what arrived while the host was down, inotify drops events
//! when its queue overflows (and then only a scan helps), and network file
//! systems send no events at all. One scan every few seconds of one
//! directory is cheap next to the executions it starts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde_json::{Value, json};

use crate::store::StoreError;

/// One `[triggers.NAME]` of the manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerDecl {
    pub name: String,
    /// The directory watched (absolute, or relative to the manifest).
    pub watch: PathBuf,
    /// A file-name pattern: `*` any run of characters, `?` one.
    pub pattern: String,
    pub recursive: bool,
    pub state_machine: String,
}

/// The most files one scan looks at, so a huge directory cannot stall a tick.
pub const FILES_PER_SCAN: usize = 100_000;

/// What the store keeps of the files already started.
pub trait TriggerStore: Send + Sync {
    /// Whether this trigger already started `file`.
    fn file_seen(&self, trigger: &str, file: &FileId) -> Result<bool, StoreError>;
    /// Records that `file` was started; false if it already was.
    fn record_file(&self, trigger: &str, file: &FileId) -> Result<bool, StoreError>;
}

/// A file as de-duplicated: its path under the watched directory, size
/// and modification time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileId {
    pub key: String,
    pub size: u64,
    pub mtime_nanos: i64,
}

/// `*` and `?` matching of a whole file name.
pub fn matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // Iterative wildcard matching with one backtrack point.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// A file that is ready: stopped growing, not yet started.
#[derive(Debug, Clone, PartialEq)]
pub struct Ready {
    pub id: FileId,
    pub path: PathBuf,
}

/// Watches one trigger's directory across scans.
pub struct Watcher {
    pub decl: TriggerDecl,
    /// What each file looked like at the last scan.
    last: HashMap<String, FileId>,
}

impl Watcher {
    pub fn new(decl: TriggerDecl) -> Watcher {
        Watcher {
            decl,
            last: HashMap::new(),
        }
    }

    /// Scans the directory; the files that look as they did at the last
    /// scan and that the store has not seen.
    pub fn scan(&mut self, store: &dyn TriggerStore) -> Result<Vec<Ready>, StoreError> {
        let mut now = HashMap::new();
        let mut ready = Vec::new();
        let mut found = Vec::new();
        list(&self.decl.watch, self.decl.recursive, &mut found);
        for path in found {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !matches(&self.decl.pattern, name) {
                continue;
            }
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let mtime_nanos = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .and_then(|d| i64::try_from(d.as_nanos()).ok())
                .unwrap_or(0);
            let key = path
                .strip_prefix(&self.decl.watch)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            let id = FileId {
                key: key.clone(),
                size: meta.len(),
                mtime_nanos,
            };
            if self.last.get(&key) == Some(&id) && !store.file_seen(&self.decl.name, &id)? {
                ready.push(Ready {
                    id: id.clone(),
                    path: path.clone(),
                });
            }
            now.insert(key, id);
        }
        self.last = now;
        Ok(ready)
    }
}

fn list(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if out.len() >= FILES_PER_SCAN {
            return;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        // Symlinks are not followed: a link could lead out of the directory.
        if kind.is_file() {
            out.push(entry.path());
        } else if kind.is_dir() && recursive {
            list(&entry.path(), true, out);
        }
    }
}

/// The execution name of `file`: the same on every host and restart.
pub fn execution_name(trigger: &str, file: &FileId) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{}\n{}\n{}", file.key, file.size, file.mtime_nanos));
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    let trigger: String = trigger.chars().take(55).collect();
    format!("{trigger}-{hex}")
}

/// The input: EventBridge's S3 `Object Created` event for the file, the
/// trigger's name as the bucket, the path under the directory as the key.
pub fn event(trigger: &str, ready: &Ready) -> Value {
    let etag = md5_hex(&ready.path).unwrap_or_default();
    let time = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ready.id.mtime_nanos))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let time = time
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    json!({
        "version": "0",
        // The same on every start of this file, so a repeated start is
        // the same request (StartExecution is idempotent by name and input).
        "id": execution_name(trigger, &ready.id),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "000000000000",
        "time": time,
        "region": "local",
        "resources": [format!("arn:aws:s3:::{trigger}")],
        "detail": {
            "version": "0",
            "bucket": {"name": trigger},
            "object": {"key": ready.id.key, "size": ready.id.size, "etag": etag},
            "reason": "PutObject"
        }
    })
}

/// S3's ETag of a single-part upload: the MD5 of the content, in hex.
fn md5_hex(path: &Path) -> std::io::Result<String> {
    use md5::Digest;
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = md5::Md5::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryStore, SqliteStore};
    use std::io::Write;

    fn decl(dir: &Path) -> TriggerDecl {
        TriggerDecl {
            name: "landing".into(),
            watch: dir.to_owned(),
            pattern: "*.csv".into(),
            recursive: false,
            state_machine: "etl".into(),
        }
    }

    /// One scan, starting what is ready (recording it, as the host does).
    fn tick(watcher: &mut Watcher, store: &dyn TriggerStore) -> Vec<String> {
        let ready = watcher.scan(store).expect("scans");
        let mut started = Vec::new();
        for file in ready {
            let name = execution_name(&watcher.decl.name, &file.id);
            if store
                .record_file(&watcher.decl.name, &file.id)
                .expect("records")
            {
                started.push(name);
            }
        }
        started
    }

    #[test]
    fn patterns_match_whole_names() {
        assert!(matches("*.csv", "a.csv"));
        assert!(!matches("*.csv", "a.csv.tmp"));
        assert!(matches("day-??.csv", "day-07.csv"));
        assert!(!matches("day-??.csv", "day-7.csv"));
        assert!(matches("*", ""));
        assert!(matches("a*b*c", "axxbyyc"));
    }

    #[test]
    fn a_file_written_slowly_starts_once_after_it_is_complete() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = MemoryStore::new();
        let mut watcher = Watcher::new(decl(dir.path()));
        let path = dir.path().join("day.csv");
        let mut file = std::fs::File::create(&path).expect("creates");
        let mut started = Vec::new();
        for chunk in 0..5 {
            writeln!(file, "row {chunk}").expect("writes");
            file.flush().expect("flushes");
            // Growing between every scan: never ready.
            started.extend(tick(&mut watcher, &store));
        }
        assert!(started.is_empty(), "{started:?}");
        drop(file);
        started.extend(tick(&mut watcher, &store));
        started.extend(tick(&mut watcher, &store));
        started.extend(tick(&mut watcher, &store));
        assert_eq!(started.len(), 1, "{started:?}");
        let ready = Ready {
            id: FileId {
                key: "day.csv".into(),
                size: std::fs::metadata(&path).expect("stat").len(),
                mtime_nanos: 0,
            },
            path: path.clone(),
        };
        let event = event("landing", &ready);
        assert_eq!(event["detail-type"], "Object Created");
        assert_eq!(event["detail"]["bucket"]["name"], "landing");
        assert_eq!(event["detail"]["object"]["key"], "day.csv");
        assert_eq!(event["detail"]["object"]["size"], ready.id.size);
        // MD5 of the five rows.
        let text = std::fs::read(&path).expect("reads");
        use md5::Digest;
        let md5: String = md5::Md5::digest(&text)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(event["detail"]["object"]["etag"], md5);
    }

    #[test]
    fn a_thousand_files_start_once_each_across_a_restart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(db.path().join("e.db")).expect("opens");
        for i in 0..1000 {
            std::fs::write(dir.path().join(format!("f{i:04}.csv")), format!("{i}\n"))
                .expect("writes");
        }
        std::fs::write(dir.path().join("skip.txt"), "no").expect("writes");
        let mut watcher = Watcher::new(decl(dir.path()));
        let mut started = tick(&mut watcher, &store);
        assert!(started.is_empty(), "the first scan only notes sizes");
        // Killed halfway through starting them: half are recorded.
        let ready = watcher.scan(&store).expect("scans");
        assert_eq!(ready.len(), 1000);
        for file in &ready[..500] {
            assert!(store.record_file("landing", &file.id).expect("records"));
            started.push(execution_name("landing", &file.id));
        }
        // A new host on the same store.
        let reopened = SqliteStore::open(db.path().join("e.db")).expect("reopens");
        let mut restarted = Watcher::new(decl(dir.path()));
        for _ in 0..3 {
            started.extend(tick(&mut restarted, &reopened));
        }
        assert_eq!(started.len(), 1000);
        let mut unique = started.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 1000, "each file started once");
    }
}
