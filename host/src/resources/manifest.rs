//! The task manifest, `sandstep.toml`: parsed in two stages, a raw serde
//! model that rejects unknown fields, then the checked [`Manifest`] whose
//! paths are resolved against the manifest's own directory, quotas turned
//! into bytes, network patterns parsed and secrets read from where they are
//! referenced (a host environment variable, a file). Loading components is
//! not done here (see `WasmTasks`). The field reference is the module doc
//! of `resources`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::sandbox::{DEFAULT_FUEL, DEFAULT_MEMORY_BYTES, DEFAULT_TIMEOUT};
use crate::sandbox::{DEFAULT_TENANT, TenantLimits};
use crate::sandbox::{DirGrant, DirMode, Grants, Limits, NetRule, Secret, SecretValue};

/// The file name looked for next to a pipeline.
pub const MANIFEST_FILE: &str = "sandstep.toml";

/// The largest `memory_mib`: a 32-bit linear memory cannot exceed 4 GiB.
const MAX_MEMORY_MIB: u64 = 4096;

/// A checked manifest: every task with its component path, limits and grants.
#[derive(Debug, Clone)]
pub struct Manifest {
    path: PathBuf,
    tasks: BTreeMap<String, TaskDecl>,
    tenants: BTreeMap<String, TenantLimits>,
    state_machines: BTreeMap<String, MachineDecl>,
    buckets: BTreeMap<String, crate::objects::BucketDecl>,
    schedules: BTreeMap<String, crate::store::ScheduleRecord>,
    triggers: BTreeMap<String, crate::ops::trigger::TriggerDecl>,
}

/// A state machine the manifest declares, for `host serve` to create or
/// update at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineDecl {
    pub name: String,
    /// The definition file, resolved against the manifest's directory.
    pub definition: PathBuf,
    /// `type = "EXPRESS"`; Standard otherwise.
    pub express: bool,
    /// `logging = { level = "ALL", include_execution_data = true }`: its
    /// `loggingConfiguration`, as CreateStateMachine would give it.
    pub logging: Option<crate::ops::LogConfig>,
}

/// One task as the manifest declares it, paths resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskDecl {
    pub name: String,
    /// The component file, resolved against the manifest's directory.
    pub component: PathBuf,
    pub limits: Limits,
    pub grants: Grants,
    /// The tenant it runs for: its `tenant`, else [`DEFAULT_TENANT`].
    pub tenant: String,
}

impl Manifest {
    /// Reads and checks the manifest at `path`.
    pub fn load(path: &Path) -> anyhow::Result<Manifest> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!("cannot read task manifest {:?}", path.display().to_string())
        })?;
        Manifest::parse(&text, path)
    }

    /// Checks manifest `text`; `path` names it in messages and its
    /// directory is the base of relative paths.
    pub fn parse(text: &str, path: &Path) -> anyhow::Result<Manifest> {
        let shown = path.display().to_string();
        let raw: RawManifest = toml::from_str(text)
            .with_context(|| format!("task manifest {shown:?} is not valid"))?;
        let base = path.parent().unwrap_or(Path::new(""));
        let defaults = raw.defaults;
        let tenants =
            check_tenants(raw.tenants).with_context(|| format!("task manifest {shown:?}"))?;
        let mut tasks = BTreeMap::new();
        for (name, value) in raw.tasks {
            let task = check_task(&name, value, &defaults, base)
                .and_then(|task| check_task_tenant(task, &tenants))
                .with_context(|| format!("task manifest {shown:?}: task {name:?}"))?;
            tasks.insert(name, task);
        }
        let mut state_machines = BTreeMap::new();
        for (name, raw) in raw.state_machines {
            let express = match raw.kind.as_deref() {
                None | Some("STANDARD") => false,
                Some("EXPRESS") => true,
                Some(other) => bail!(
                    "task manifest {shown:?}: state machine {name:?}: type {other:?} is neither \"STANDARD\" nor \"EXPRESS\""
                ),
            };
            let logging = match raw.logging {
                Some(logging) => Some(crate::ops::LogConfig {
                    level: crate::ops::LogLevel::parse(&logging.level).ok_or_else(|| {
                        anyhow::anyhow!(
                            "task manifest {shown:?}: state machine {name:?}: logging level {:?} is not one of \"ALL\", \"ERROR\", \"FATAL\", \"OFF\"",
                            logging.level
                        )
                    })?,
                    include_execution_data: logging.include_execution_data,
                }),
                None => None,
            };
            let decl = MachineDecl {
                definition: base.join(raw.definition),
                name: name.clone(),
                express,
                logging,
            };
            state_machines.insert(name, decl);
        }
        let buckets = crate::objects::config::check_buckets(raw.buckets, base)
            .with_context(|| format!("task manifest {shown:?}"))?;
        let mut schedules = BTreeMap::new();
        for (name, raw) in raw.schedules {
            let input = match raw.input {
                Some(table) => serde_json::to_value(table).with_context(|| {
                    format!("task manifest {shown:?}: schedule {name:?}: the input is not JSON")
                })?,
                None => serde_json::json!({}),
            };
            let record = crate::store::ScheduleRecord {
                name: name.clone(),
                expression: raw.expression,
                timezone: raw.timezone.unwrap_or_else(|| "UTC".to_owned()),
                state_machine: raw.state_machine,
                input,
                flexible_window_minutes: raw.flexible_window_minutes,
                enabled: raw.enabled.unwrap_or(true),
                created: time::OffsetDateTime::now_utc(),
                last_fire: None,
            };
            crate::ops::schedule::check(&record)
                .map_err(|e| anyhow::anyhow!("task manifest {shown:?}: {e}"))?;
            schedules.insert(name, record);
        }
        let triggers = raw
            .triggers
            .into_iter()
            .map(|(name, raw)| {
                let decl = crate::ops::trigger::TriggerDecl {
                    name: name.clone(),
                    watch: base.join(raw.watch),
                    pattern: raw.pattern.unwrap_or_else(|| "*".to_owned()),
                    recursive: raw.recursive,
                    state_machine: raw.state_machine,
                };
                (name, decl)
            })
            .collect();
        Ok(Manifest {
            path: path.to_owned(),
            tasks,
            tenants,
            state_machines,
            buckets,
            schedules,
            triggers,
        })
    }

    /// The buckets it declares (`[buckets.NAME]`).
    pub fn buckets(&self) -> &BTreeMap<String, crate::objects::BucketDecl> {
        &self.buckets
    }

    /// The manifest next to `pipeline`, if there is one.
    pub fn find_beside(pipeline: &Path) -> Option<PathBuf> {
        let dir = pipeline.parent().unwrap_or(Path::new(""));
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let candidate = dir.join(MANIFEST_FILE);
        candidate.is_file().then_some(candidate)
    }

    /// Where the manifest was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The declared tasks, by name.
    pub fn tasks(&self) -> &BTreeMap<String, TaskDecl> {
        &self.tasks
    }

    /// The declared state machines, by name.
    pub fn state_machines(&self) -> &BTreeMap<String, MachineDecl> {
        &self.state_machines
    }

    /// The declared file triggers (`[triggers.NAME]`), by name.
    pub fn triggers(&self) -> &BTreeMap<String, crate::ops::trigger::TriggerDecl> {
        &self.triggers
    }

    /// The declared schedules (`[schedules.NAME]`), by name.
    pub fn schedules(&self) -> &BTreeMap<String, crate::store::ScheduleRecord> {
        &self.schedules
    }

    /// The declared tenants, by name (the default tenant only when declared).
    pub fn tenants(&self) -> &BTreeMap<String, TenantLimits> {
        &self.tenants
    }
}

fn check_task(
    name: &str,
    value: toml::Value,
    defaults: &RawDefaults,
    base: &Path,
) -> anyhow::Result<TaskDecl> {
    if name.is_empty() || name.contains(':') {
        bail!("a task name must be non-empty and contain no ':'");
    }
    let raw: RawTask = value.try_into()?;
    let fuel = match raw.fuel.or(defaults.fuel) {
        None | Some(Fuel::On) => Some(DEFAULT_FUEL),
        Some(Fuel::Off) => None,
        Some(Fuel::Units(0)) => {
            bail!("field \"fuel\": must be positive, or `false` to turn fuel off")
        }
        Some(Fuel::Units(units)) => Some(units),
    };
    let memory_bytes = match raw.memory_mib.or(defaults.memory_mib) {
        None => DEFAULT_MEMORY_BYTES,
        Some(mib @ 1..=MAX_MEMORY_MIB) => mib << 20,
        Some(mib) => {
            bail!("field \"memory_mib\": {mib} is out of range: use 1 to {MAX_MEMORY_MIB}")
        }
    };
    let timeout = match raw.timeout_seconds.or(defaults.timeout_seconds) {
        None => DEFAULT_TIMEOUT,
        Some(secs) => Duration::try_from_secs_f64(secs)
            .ok()
            .filter(|d| !d.is_zero())
            .with_context(|| {
                format!("field \"timeout_seconds\": {secs} is not a positive number of seconds")
            })?,
    };
    let mut dirs = Vec::new();
    for (i, dir) in raw.dirs.into_iter().enumerate() {
        if !dir.guest.starts_with('/') {
            bail!(
                "field \"dirs[{i}].guest\": {:?} must be an absolute guest path, like \"/data\"",
                dir.guest
            );
        }
        let host = base.join(&dir.host);
        if !host.is_dir() {
            bail!(
                "field \"dirs[{i}].host\": {:?} is not a directory (paths are relative to the manifest)",
                host.display().to_string()
            );
        }
        let mode = match dir.mode {
            RawMode::Ro => DirMode::ReadOnly,
            RawMode::Rw => DirMode::ReadWrite,
        };
        let quota = match (dir.quota, mode) {
            (None, _) => None,
            (Some(_), DirMode::ReadOnly) => {
                bail!("field \"dirs[{i}].quota\": a quota limits writes, so it needs mode = \"rw\"")
            }
            (Some(q), DirMode::ReadWrite) => Some(q.0),
        };
        dirs.push(DirGrant {
            guest: dir.guest,
            host,
            mode,
            quota,
        });
    }
    for key in raw.env.keys() {
        if !valid_var(key) {
            bail!("field \"env\": {key:?} is not a valid variable name");
        }
    }
    let mut secrets = Vec::new();
    for (name, source) in raw.secrets {
        if !valid_var(&name) {
            bail!("field \"secrets\": {name:?} is not a valid variable name");
        }
        if raw.env.contains_key(&name) {
            bail!("{name:?} is both in \"env\" and in \"secrets\": keep one");
        }
        let value = resolve_secret(&source, base).with_context(|| format!("secret {name:?}"))?;
        secrets.push(Secret {
            name,
            value: SecretValue::new(value),
        });
    }
    let mut net = Vec::new();
    for (i, pattern) in raw.network.iter().enumerate() {
        net.push(
            pattern
                .parse::<NetRule>()
                .map_err(|e| anyhow::anyhow!("field \"network[{i}]\": {e}"))?,
        );
    }
    Ok(TaskDecl {
        name: name.to_owned(),
        component: base.join(&raw.component),
        limits: Limits {
            fuel,
            memory_bytes,
            timeout,
        },
        grants: Grants {
            dirs,
            env: raw.env.into_iter().collect(),
            secrets,
            net,
            inherit_stdio: raw.inherit_stdio,
        },
        tenant: raw.tenant.unwrap_or_else(|| DEFAULT_TENANT.to_owned()),
    })
}

fn valid_var(name: &str) -> bool {
    !name.is_empty() && !name.contains('=') && !name.contains('\0')
}

/// Reads a secret's value from where the manifest points: a host
/// environment variable, or a file (one trailing newline dropped).
pub(crate) fn resolve_secret(source: &RawSecret, base: &Path) -> anyhow::Result<String> {
    match (&source.env, &source.file) {
        (Some(var), None) => match std::env::var(var) {
            Ok(value) => Ok(value),
            Err(std::env::VarError::NotPresent) => {
                bail!("the host environment variable {var:?} is not set")
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                bail!("the host environment variable {var:?} is not valid UTF-8")
            }
        },
        (None, Some(file)) => {
            let path = base.join(file);
            let mut value = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "cannot read the secret file {:?} (paths are relative to the manifest)",
                    path.display().to_string()
                )
            })?;
            if value.ends_with('\n') {
                value.pop();
                if value.ends_with('\r') {
                    value.pop();
                }
            }
            Ok(value)
        }
        _ => bail!(
            "give exactly one of `env = \"HOST_VARIABLE\"` or `file = \"path\"`; \
             a secret's value is never written in the manifest"
        ),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    tasks: BTreeMap<String, toml::Value>,
    #[serde(default)]
    tenants: BTreeMap<String, toml::Value>,
    #[serde(default)]
    state_machines: BTreeMap<String, RawStateMachine>,
    #[serde(default)]
    buckets: BTreeMap<String, toml::Value>,
    #[serde(default)]
    schedules: BTreeMap<String, RawSchedule>,
    #[serde(default)]
    triggers: BTreeMap<String, RawTrigger>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrigger {
    watch: PathBuf,
    #[serde(default)]
    pattern: Option<String>,
    #[serde(default)]
    recursive: bool,
    state_machine: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    expression: String,
    state_machine: String,
    #[serde(default)]
    input: Option<toml::Table>,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    flexible_window_minutes: Option<u32>,
    #[serde(default)]
    enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStateMachine {
    definition: PathBuf,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    logging: Option<RawLogging>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLogging {
    level: String,
    #[serde(default)]
    include_execution_data: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    fuel: Option<Fuel>,
    memory_mib: Option<u64>,
    timeout_seconds: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    component: PathBuf,
    fuel: Option<Fuel>,
    memory_mib: Option<u64>,
    timeout_seconds: Option<f64>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    dirs: Vec<RawDir>,
    #[serde(default)]
    secrets: BTreeMap<String, RawSecret>,
    #[serde(default)]
    network: Vec<String>,
    #[serde(default)]
    inherit_stdio: bool,
    tenant: Option<String>,
}

/// Where a secret is: `{ env = "HOST_VARIABLE" }` or `{ file = "path" }`
/// (relative to the file that names it), never its value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSecret {
    env: Option<String>,
    file: Option<PathBuf>,
}

impl RawSecret {
    /// The secret's value; `base` is the directory relative paths start from.
    pub fn resolve(&self, base: &Path) -> anyhow::Result<String> {
        resolve_secret(self, base)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDir {
    guest: String,
    host: PathBuf,
    #[serde(default)]
    mode: RawMode,
    quota: Option<Bytes>,
}

/// A size: a number of bytes, or a string like `"10 MiB"`, `"512KiB"`,
/// `"1 GB"` (B, KB/MB/GB = powers of 1000, KiB/MiB/GiB = powers of 1024).
#[derive(Debug, Clone, Copy)]
struct Bytes(u64);

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BytesVisitor;
        impl Visitor<'_> for BytesVisitor {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of bytes, or a size like \"10 MiB\"")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Bytes, E> {
                Ok(Bytes(n))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Bytes, E> {
                u64::try_from(n)
                    .map(Bytes)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(n), &self))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Bytes, E> {
                parse_size(text)
                    .map(Bytes)
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(text), &self))
            }
        }
        deserializer.deserialize_any(BytesVisitor)
    }
}

fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return None,
    };
    if let Ok(whole) = number.parse::<u64>() {
        return whole.checked_mul(unit);
    }
    let fraction: f64 = number.parse().ok()?;
    let bytes = (fraction * unit as f64).round();
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "lowercase")]
enum RawMode {
    #[default]
    Ro,
    Rw,
}

/// `fuel = 1_000_000`, `fuel = false` (unmetered) or `fuel = true` (the default budget).
#[derive(Debug, Clone, Copy)]
enum Fuel {
    On,
    Off,
    Units(u64),
}

impl<'de> Deserialize<'de> for Fuel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FuelVisitor;
        impl Visitor<'_> for FuelVisitor {
            type Value = Fuel;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a positive number of fuel units, or `false` to turn fuel off")
            }
            fn visit_bool<E: de::Error>(self, on: bool) -> Result<Fuel, E> {
                Ok(if on { Fuel::On } else { Fuel::Off })
            }
            fn visit_u64<E: de::Error>(self, units: u64) -> Result<Fuel, E> {
                Ok(Fuel::Units(units))
            }
            fn visit_i64<E: de::Error>(self, units: i64) -> Result<Fuel, E> {
                u64::try_from(units)
                    .map(Fuel::Units)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(units), &self))
            }
        }
        deserializer.deserialize_any(FuelVisitor)
    }
}

// Tenants: `[tenants.NAME]` and a task's `tenant`.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenant {
    max_concurrent_tasks: Option<u32>,
    memory_ceiling: Option<Bytes>,
    fuel_per_execution: Option<u64>,
    max_open_files: Option<u32>,
}

fn check_tenants(
    raw: BTreeMap<String, toml::Value>,
) -> anyhow::Result<BTreeMap<String, TenantLimits>> {
    let mut tenants = BTreeMap::new();
    for (name, value) in raw {
        let limits = check_tenant(&name, value).with_context(|| format!("tenant {name:?}"))?;
        tenants.insert(name, limits);
    }
    Ok(tenants)
}

fn check_tenant(name: &str, value: toml::Value) -> anyhow::Result<TenantLimits> {
    if name.is_empty() {
        bail!("a tenant name must be non-empty");
    }
    let raw: RawTenant = value.try_into()?;
    let defaults = TenantLimits::default();
    let max_concurrent_tasks = match raw.max_concurrent_tasks {
        Some(0) => bail!("field \"max_concurrent_tasks\": must be at least 1"),
        Some(n) => Some(n),
        None => defaults.max_concurrent_tasks,
    };
    let memory_ceiling_bytes = match raw.memory_ceiling {
        Some(Bytes(0)) => bail!("field \"memory_ceiling\": must be positive"),
        Some(Bytes(bytes)) => Some(bytes),
        None => defaults.memory_ceiling_bytes,
    };
    let fuel_per_execution = match raw.fuel_per_execution {
        Some(0) => bail!("field \"fuel_per_execution\": must be positive"),
        budget => budget,
    };
    let max_open_files = match raw.max_open_files {
        Some(0) => bail!("field \"max_open_files\": must be at least 1"),
        Some(n) => Some(n),
        None => defaults.max_open_files,
    };
    Ok(TenantLimits {
        max_concurrent_tasks,
        memory_ceiling_bytes,
        fuel_per_execution,
        max_open_files,
    })
}

/// Checks that the task's tenant is declared (or is the default one) and
/// that the task fits under its memory ceiling.
fn check_task_tenant(
    task: TaskDecl,
    tenants: &BTreeMap<String, TenantLimits>,
) -> anyhow::Result<TaskDecl> {
    let limits = match tenants.get(&task.tenant) {
        Some(limits) => limits,
        None if task.tenant == DEFAULT_TENANT => &TenantLimits::UNLIMITED,
        None => {
            let declared: Vec<String> = tenants.keys().map(|n| format!("{n:?}")).collect();
            bail!(
                "field \"tenant\": {:?} is not declared (declare it as [tenants.{}]; declared: {})",
                task.tenant,
                task.tenant,
                if declared.is_empty() {
                    "none".to_owned()
                } else {
                    declared.join(", ")
                }
            );
        }
    };
    if let Some(why) = limits.refuses(&task.limits) {
        bail!("tenant {:?}: {why}", task.tenant);
    }
    Ok(task)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Manifest> {
        Manifest::parse(text, Path::new("/nowhere/sandstep.toml"))
    }

    fn error(text: &str) -> String {
        format!("{:#}", parse(text).expect_err("the manifest is invalid"))
    }

    #[test]
    fn defaults_apply_and_tasks_override_them() {
        let m = parse(
            r#"
            [defaults]
            fuel = 1_000
            memory_mib = 32
            [tasks.a]
            component = "a.wasm"
            [tasks.b]
            component = "../b.wasm"
            fuel = false
            memory_mib = 8
            timeout_seconds = 0.5
            env = { REGION = "eu" }
            "#,
        )
        .expect("valid");
        let a = &m.tasks()["a"];
        assert_eq!(a.component, Path::new("/nowhere/a.wasm"));
        assert_eq!(
            a.limits,
            Limits {
                fuel: Some(1_000),
                memory_bytes: 32 << 20,
                timeout: DEFAULT_TIMEOUT
            }
        );
        let b = &m.tasks()["b"];
        assert_eq!(b.component, Path::new("/nowhere/../b.wasm"));
        assert_eq!(b.limits.fuel, None);
        assert_eq!(b.limits.memory_bytes, 8 << 20);
        assert_eq!(b.limits.timeout, Duration::from_millis(500));
        assert_eq!(b.grants.env, vec![("REGION".to_owned(), "eu".to_owned())]);
    }

    #[test]
    fn unknown_fields_name_the_field_and_the_task() {
        let e = error("[tasks.enrich]\ncomponent = \"x.wasm\"\nfuell = 3\n");
        assert!(e.contains("task \"enrich\""), "{e}");
        assert!(e.contains("unknown field `fuell`"), "{e}");
        let e = error("[defaults]\nmemory = 3\n");
        assert!(e.contains("unknown field `memory`"), "{e}");
        let e = error(
            "[tasks.t]\ncomponent = \"x.wasm\"\ndirs = [{ guest = \"/a\", host = \".\", mod = \"ro\" }]\n",
        );
        assert!(
            e.contains("task \"t\"") && e.contains("unknown field `mod`"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_are_rejected_with_the_field() {
        let e = error("[tasks.t]\ncomponent = \"x.wasm\"\nfuel = \"lots\"\n");
        assert!(e.contains("fuel units"), "{e}");
        let e = error("[tasks.t]\ncomponent = \"x.wasm\"\nmemory_mib = 0\n");
        assert!(e.contains("\"memory_mib\": 0 is out of range"), "{e}");
        let e = error("[tasks.t]\ncomponent = \"x.wasm\"\ntimeout_seconds = -1\n");
        assert!(e.contains("\"timeout_seconds\""), "{e}");
        let e = error(
            "[tasks.t]\ncomponent = \"x.wasm\"\ndirs = [{ guest = \"rel\", host = \".\" }]\n",
        );
        assert!(e.contains("absolute guest path"), "{e}");
        let e = error(
            "[tasks.t]\ncomponent = \"x.wasm\"\ndirs = [{ guest = \"/d\", host = \"missing-dir\" }]\n",
        );
        assert!(e.contains("is not a directory"), "{e}");
        let e = error("[tasks.t]\nfuel = 3\n");
        assert!(e.contains("missing field `component`"), "{e}");
    }

    #[test]
    fn capabilities_parse_quotas_secrets_and_network() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("out")).expect("mkdir");
        std::fs::write(dir.path().join("db.key"), "pa55word\n").expect("write");
        let path = dir.path().join(MANIFEST_FILE);
        std::fs::write(
            &path,
            r#"
            [tasks.t]
            component = "t.wasm"
            dirs = [{ guest = "/out", host = "out", mode = "rw", quota = "1.5 MiB" }]
            network = ["api.example.com:443", "127.0.0.1:*"]
            [tasks.t.secrets]
            DB = { file = "db.key" }
            PKG = { env = "CARGO_PKG_NAME" }
            "#,
        )
        .expect("write");
        let m = Manifest::load(&path).expect("valid");
        let t = &m.tasks()["t"];
        assert_eq!(t.grants.dirs[0].quota, Some(3 << 19));
        let net: Vec<String> = t.grants.net.iter().map(ToString::to_string).collect();
        assert_eq!(net, ["api.example.com:443", "127.0.0.1:*"]);
        let secrets: Vec<(&str, &str)> = t
            .grants
            .secrets
            .iter()
            .map(|s| (s.name.as_str(), s.value.expose()))
            .collect();
        assert_eq!(
            secrets,
            [("DB", "pa55word"), ("PKG", env!("CARGO_PKG_NAME"))]
        );
        assert!(
            !format!("{m:?}").contains("pa55word"),
            "Debug hides secrets"
        );
    }

    #[test]
    fn bad_capabilities_are_rejected_with_the_field() {
        let task = "[tasks.t]\ncomponent = \"x.wasm\"\n";
        let e = error(&format!(
            "{task}dirs = [{{ guest = \"/d\", host = \"/\", quota = 10 }}]\n"
        ));
        assert!(e.contains("needs mode = \"rw\""), "{e}");
        let e = error(&format!(
            "{task}dirs = [{{ guest = \"/d\", host = \"/\", mode = \"rw\", quota = \"ten\" }}]\n"
        ));
        assert!(e.contains("\"ten\"") && e.contains("10 MiB"), "{e}");
        let e = error(&format!("{task}network = [\"example.com\"]\n"));
        assert!(e.contains("\"network[0]\"") && e.contains("no port"), "{e}");
        let e = error(&format!(
            "{task}[tasks.t.secrets]\nK = {{ value = \"inline\" }}\n"
        ));
        assert!(e.contains("unknown field `value`"), "{e}");
        let e = error(&format!(
            "{task}[tasks.t.secrets]\nK = {{ env = \"SANDSTEP_TEST_SURELY_UNSET\" }}\n"
        ));
        assert!(
            e.contains("task \"t\"")
                && e.contains("secret \"K\"")
                && e.contains("\"SANDSTEP_TEST_SURELY_UNSET\" is not set"),
            "{e}"
        );
        let e = error(&format!("{task}[tasks.t.secrets]\nK = {{}}\n"));
        assert!(e.contains("exactly one of"), "{e}");
        let e = error(&format!(
            "{task}env = {{ K = \"v\" }}\n[tasks.t.secrets]\nK = {{ env = \"PATH\" }}\n"
        ));
        assert!(e.contains("both in \"env\" and in \"secrets\""), "{e}");
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(parse_size("10 MiB"), Some(10 << 20));
        assert_eq!(parse_size("512KiB"), Some(512 << 10));
        assert_eq!(parse_size("1 GB"), Some(1_000_000_000));
        assert_eq!(parse_size("0.5 kib"), Some(512));
        assert_eq!(parse_size("42"), Some(42));
        assert_eq!(parse_size("42 B"), Some(42));
        assert_eq!(parse_size("ten"), None);
        assert_eq!(parse_size("1 TiB"), None);
    }

    #[test]
    fn directories_resolve_against_the_manifest() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("data")).expect("mkdir");
        let path = dir.path().join(MANIFEST_FILE);
        std::fs::write(
            &path,
            "[tasks.t]\ncomponent = \"t.wasm\"\ndirs = [{ guest = \"/d\", host = \"data\", mode = \"rw\" }]\n",
        )
        .expect("write");
        let m = Manifest::load(&path).expect("valid");
        let grant = &m.tasks()["t"].grants.dirs[0];
        assert_eq!(
            (grant.host.clone(), grant.mode),
            (dir.path().join("data"), DirMode::ReadWrite)
        );
        let pipeline = dir.path().join("flow.asl.json");
        assert_eq!(Manifest::find_beside(&pipeline), Some(path));
        assert_eq!(
            Manifest::find_beside(&dir.path().join("data/flow.json")),
            None
        );
    }

    #[test]
    fn tenants_are_declared_with_defaults_and_tasks_name_them() {
        let m = parse(
            r#"
            [tenants.acme]
            max_concurrent_tasks = 2
            memory_ceiling = "512 MiB"
            fuel_per_execution = 1_000_000
            max_open_files = 40
            [tenants.small]
            [tasks.a]
            component = "a.wasm"
            tenant = "acme"
            [tasks.b]
            component = "b.wasm"
            "#,
        )
        .expect("valid");
        assert_eq!(
            m.tenants()["acme"],
            TenantLimits {
                max_concurrent_tasks: Some(2),
                memory_ceiling_bytes: Some(512 << 20),
                fuel_per_execution: Some(1_000_000),
                max_open_files: Some(40),
            }
        );
        assert_eq!(m.tenants()["small"], TenantLimits::default());
        assert_eq!(m.tasks()["a"].tenant, "acme");
        assert_eq!(m.tasks()["b"].tenant, DEFAULT_TENANT);
    }

    #[test]
    fn bad_tenants_are_rejected_with_the_field() {
        let e = error("[tasks.t]\ncomponent = \"x.wasm\"\ntenant = \"acme\"\n");
        assert!(
            e.contains("task \"t\"") && e.contains("\"acme\" is not declared"),
            "{e}"
        );
        let e = error("[tenants.a]\nmemory_ceiling = \"lots\"\n");
        assert!(
            e.contains("tenant \"a\"") && e.contains("a size like"),
            "{e}"
        );
        let e = error("[tenants.a]\nmemory_ceiling = 0\n");
        assert!(e.contains("\"memory_ceiling\": must be positive"), "{e}");
        let e = error("[tenants.a]\nmax_concurrent_tasks = 0\n");
        assert!(e.contains("at least 1"), "{e}");
        let e = error("[tenants.a]\nmax_tasks = 3\n");
        assert!(e.contains("unknown field `max_tasks`"), "{e}");
        let e = error(
            "[tenants.a]\nmemory_ceiling = \"64 MiB\"\n[tasks.t]\ncomponent = \"x.wasm\"\ntenant = \"a\"\nmemory_mib = 128\n",
        );
        assert!(
            e.contains("task \"t\"")
                && e.contains("128 MiB is above the tenant's memory_ceiling of 64 MiB"),
            "{e}"
        );
    }
}
