//! LocalStack's interpreter in a venv of its own, driven one case at a time.

use super::*;

pub(crate) fn shared_cache() -> PathBuf {
    let home = std::env::var_os("HOME").map_or_else(std::env::temp_dir, PathBuf::from);
    home.join(".cache/sandstep")
}

pub(crate) fn python() -> Result<String, String> {
    let candidates: Vec<String> = match std::env::var("SANDSTEP_PYTHON") {
        Ok(p) => vec![p],
        Err(_) => vec!["python3.11".into(), "python3".into()],
    };
    for candidate in &candidates {
        if let Ok(out) = Command::new(candidate).arg("--version").output()
            && out.status.success()
        {
            return Ok(candidate.clone());
        }
    }
    Err(format!(
        "no Python found (tried {}); install Python 3.11 or set SANDSTEP_PYTHON",
        candidates.join(", ")
    ))
}

/// The venv with LocalStack, created on first use (into a temporary
/// directory renamed into place, so a half-made venv is never reused).
pub(crate) fn venv(dir: &Path) -> Result<PathBuf, String> {
    let requirements = dir.join("requirements.txt");
    let text = std::fs::read_to_string(&requirements)
        .map_err(|e| format!("cannot read {}: {e}", requirements.display()))?;
    // The venv's name changes with the pinned versions.
    let tag = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let root = std::env::var_os("SANDSTEP_DIFFERENTIAL_VENV").map_or_else(
        || shared_cache().join(format!("localstack-venv-{tag:016x}")),
        PathBuf::from,
    );
    let interpreter = root.join("bin/python");
    if interpreter.exists() {
        return Ok(interpreter);
    }
    let python = python()?;
    let parent = root.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    let building = parent.join(format!(
        "{}.building-{}",
        root.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&building);
    eprintln!(
        "differential: creating {} with {python} and LocalStack from PyPI (first run only)",
        root.display()
    );
    let run = |cmd: &mut Command, what: &str| -> Result<(), String> {
        let out = cmd
            .output()
            .map_err(|e| format!("{what}: cannot start: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
            Err(format!(
                "{what} failed ({}):\n{}",
                out.status,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ))
        }
    };
    let made = run(
        Command::new(&python).arg("-m").arg("venv").arg(&building),
        "creating the venv",
    )
    .and_then(|()| {
        run(
            Command::new(building.join("bin/python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "-q",
                    "-r",
                ])
                .arg(&requirements),
            "pip install -r differential/requirements.txt",
        )
    });
    if let Err(e) = made {
        let _ = std::fs::remove_dir_all(&building);
        return Err(e);
    }
    // venv scripts name their own directory; the venv is used only through
    // its interpreter, which finds its packages relative to itself.
    let moved = std::fs::rename(&building, &root);
    if moved.is_err() {
        // Another test process finished its venv first; use that one.
        let _ = std::fs::remove_dir_all(&building);
    }
    moved
        .or_else(|e| if interpreter.exists() { Ok(()) } else { Err(e) })
        .map_err(|e| format!("cannot move the venv into {}: {e}", root.display()))?;
    Ok(interpreter)
}

pub(crate) fn driver_error(cause: &str) -> Outcome {
    Outcome {
        status: "DRIVER_ERROR".into(),
        output: None,
        error: None,
        cause: Some(cause.to_owned()),
    }
}

/// Runs `cases` on LocalStack. The driver handles one case at a time; if it
/// dies on one (it should not: its memory is bounded), that case is a
/// DRIVER_ERROR and a new driver takes the rest.
pub(crate) fn run_localstack(
    interpreter: &Path,
    driver: &Path,
    cases: &[Case],
) -> Result<Vec<Outcome>, String> {
    let mut results: BTreeMap<usize, Outcome> = BTreeMap::new();
    let mut next = 0;
    let mut restarts = 0;
    while next < cases.len() {
        let mut batch = run_localstack_batch(interpreter, driver, &cases[next..])?;
        let answered = cases[next..]
            .iter()
            .take_while(|c| batch.contains_key(&c.id))
            .count();
        for c in &cases[next..next + answered] {
            results.insert(c.id, batch.remove(&c.id).expect("answered"));
        }
        next += answered;
        if next < cases.len() {
            results.insert(cases[next].id, driver_error("the driver died on this case"));
            next += 1;
            restarts += 1;
            if restarts > 20 {
                return Err("the LocalStack driver died more than 20 times".to_owned());
            }
        }
    }
    Ok(cases
        .iter()
        .map(|c| {
            results
                .remove(&c.id)
                .unwrap_or_else(|| driver_error("no result line"))
        })
        .collect())
}

pub(crate) fn run_localstack_batch(
    interpreter: &Path,
    driver: &Path,
    cases: &[Case],
) -> Result<BTreeMap<usize, Outcome>, String> {
    let mut child = Command::new(interpreter)
        .arg(driver)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", driver.display()))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let lines: Vec<String> = cases
        .iter()
        .map(|c| {
            json!({"id": c.id, "definition": c.definition, "input": c.input, "type": "STANDARD"})
                .to_string()
        })
        .collect();
    // Write from a thread so a full pipe cannot deadlock against the reader.
    let writer = std::thread::spawn(move || {
        for line in lines {
            if writeln!(stdin, "{line}").is_err() {
                break;
            }
        }
    });
    let mut reader = BufReader::new(stdout).lines();
    let ready = reader
        .next()
        .and_then(Result::ok)
        .ok_or("the LocalStack driver exited before it was ready (its imports failed?)")?;
    if !ready.contains("ready") {
        return Err(format!("unexpected first line from the driver: {ready}"));
    }
    let mut by_id: BTreeMap<usize, Outcome> = BTreeMap::new();
    for line in reader {
        let line = line.map_err(|e| format!("reading the driver: {e}"))?;
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let Some(id) = v["id"].as_u64().and_then(|i| usize::try_from(i).ok()) else {
            continue;
        };
        let text = |k: &str| v[k].as_str().map(str::to_owned);
        by_id.insert(
            id,
            Outcome {
                status: text("status").unwrap_or_default(),
                output: v.get("output").cloned(),
                error: text("error"),
                cause: text("cause"),
            },
        );
    }
    let _ = writer.join();
    let _ = child.wait();
    Ok(by_id)
}
