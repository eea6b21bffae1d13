//! `host serve`: the Step Functions API on a local address, over the same
//! store `host run` uses.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use crate::api::auth::Keys;
use crate::api::{self, Gateway, ServeOptions, Service};
use crate::engine::{NoTasks, TaskRunner};
use crate::executions::{Executions, RunOptions};
use crate::nested::NestedExecutions;
use crate::ops::{ExecutionLog, Ops};
use crate::resources::{MANIFEST_FILE, MachineDecl, Manifest};
use crate::store::SqliteStore;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on. Without `--credentials`, only loopback
    /// addresses: requests are then not authenticated.
    #[arg(long, default_value = "127.0.0.1:8083", value_name = "ADDR")]
    listen: SocketAddr,
    /// A credentials file mapping access key ids to secret keys (by
    /// reference) and tenants. With it every request must carry an AWS
    /// Signature Version 4 by one of the keys, each tenant sees only its own
    /// state machines and executions (kept in `tenants/<tenant>/` beside the
    /// database) and runs its tasks under its quotas.
    #[arg(long, value_name = "FILE")]
    credentials: Option<PathBuf>,
    /// The executions database. Default: `$SANDSTEP_DB`, else
    /// `.sandstep/executions.db` in this directory.
    #[arg(long, value_name = "PATH")]
    db: Option<PathBuf>,
    /// The task manifest whose tasks state machines run (Lambda function
    /// ARNs and `wasm:NAME` resources). Default: `sandstep.toml` in this
    /// directory, if there is one.
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
    /// How many ended Express executions stay readable (Describe, History,
    /// List); 0 keeps none.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    express_keep: usize,
    /// For how long an ended Express execution stays readable, in seconds.
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    express_keep_for: u64,
    /// A mock config in Step Functions Local's format: StartExecution of
    /// `<stateMachineArn>#<TestCase>` runs that test case's mocked responses
    /// instead of the Tasks it names.
    #[arg(long, value_name = "FILE")]
    mock_config: Option<PathBuf>,
    /// Write execution log events (each state machine's
    /// `loggingConfiguration`) as JSON lines to FILE, or `-` for standard output.
    #[arg(long, value_name = "FILE")]
    execution_log: Option<PathBuf>,
    /// Run Wait states and retry intervals on a virtual clock (for tests).
    #[arg(long, hide = true)]
    virtual_time: bool,
}

pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let keys = match &args.credentials {
        Some(path) => Some(Keys::load(path)?),
        None => None,
    };
    if !args.listen.ip().is_loopback() && keys.is_none() {
        anyhow::bail!(
            "refusing to listen on {} without --credentials: requests would not be \
             authenticated. Give a credentials file (see the README's \"Access\"), or listen \
             on a loopback address (e.g. --listen 127.0.0.1:8083)",
            args.listen
        );
    }
    let db = match &args.db {
        Some(db) => db.clone(),
        None => match std::env::var_os("SANDSTEP_DB") {
            Some(db) => PathBuf::from(db),
            None => crate::store::default_path(std::path::Path::new(".")),
        },
    };
    let manifest = args
        .manifest
        .clone()
        .or_else(|| Some(PathBuf::from(MANIFEST_FILE)).filter(|p| p.is_file()));
    let manifest = manifest.map(|p| std::path::absolute(&p).unwrap_or(p));
    let loaded = match &manifest {
        Some(path) => Some(Manifest::load(path)?),
        None => None,
    };
    let mock_config = match &args.mock_config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the mock config {}", path.display()))?;
            let config = crate::mocks::MockConfig::parse(&text)
                .map_err(|why| anyhow::anyhow!("{}: {why}", path.display()))?;
            Some(Arc::new(config))
        }
        None => None,
    };
    let declared: Vec<MachineDecl> = loaded
        .iter()
        .flat_map(|m| m.state_machines().values().cloned())
        .collect();
    let schedules: Vec<crate::store::ScheduleRecord> = loaded
        .iter()
        .flat_map(|m| m.schedules().values().cloned())
        .collect();
    let triggers: Vec<crate::ops::trigger::TriggerDecl> = loaded
        .iter()
        .flat_map(|m| m.triggers().values().cloned())
        .collect();
    let log = match &args.execution_log {
        Some(path) => Some(ExecutionLog::open(path)?),
        None => None,
    };
    let ops = Ops::new(log);
    let options = ServeOptions {
        manifest: manifest.clone(),
        mock_config,
        express_keep: args.express_keep,
        express_keep_for: Duration::from_secs(args.express_keep_for),
        virtual_time: args.virtual_time,
        ops: Some(ops.clone()),
        ..ServeOptions::default()
    };
    // Without credentials one service answers everybody; with them each
    // tenant gets a service over a store of its own, so no query can reach
    // another tenant's rows.
    let mut hosted: Vec<(Option<String>, Arc<Service>, Arc<SqliteStore>)> = Vec::new();
    let gateway = match keys {
        None => {
            let (service, store) = open_service(&db, manifest.as_deref(), None, options, &ops)?;
            hosted.push((None, service.clone(), store));
            Gateway::Open(service)
        }
        Some(keys) => {
            let mut tenants = std::collections::HashMap::new();
            for tenant in keys.tenants() {
                let db = tenant_db(&db, &tenant);
                let (service, store) = open_service(
                    &db,
                    manifest.as_deref(),
                    Some(&tenant),
                    options.clone(),
                    &ops,
                )
                .with_context(|| format!("tenant {tenant:?}"))?;
                hosted.push((Some(tenant.clone()), service.clone(), store));
                tenants.insert(tenant, service);
            }
            Gateway::Signed { keys, tenants }
        }
    };
    let signed = matches!(gateway, Gateway::Signed { .. });
    let runtime = super::executions::runtime()?;
    runtime.block_on(async {
        for (tenant, service, store) in &hosted {
            // What a line about one tenant's service starts with.
            let at = tenant_prefix(tenant);
            for line in api::deploy(service, &declared).await? {
                eprintln!("host: {at}{line}");
            }
            for line in api::schedules::declare(store.as_ref(), &schedules)? {
                eprintln!("host: {at}{line}");
            }
            service.load_logging().await.map_err(|e| {
                anyhow::anyhow!("cannot read the state machines' logging: {}", e.message)
            })?;
        }
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let bound = listener
            .local_addr()
            .context("cannot read the bound address")?;
        let access = if signed {
            format!("signed requests only, {} tenants", hosted.len())
        } else {
            "no credentials".to_owned()
        };
        eprintln!(
            "host: serving the Step Functions API and the console on http://{bound} (executions in {}; {access}; metrics at http://{bound}/metrics)",
            db.display()
        );
        for (tenant, service, store) in &hosted {
            let at = tenant_prefix(tenant);
            // Executions whose host died continue here, beside new requests.
            let resuming = service.executions().clone();
            let resume_at = at.clone();
            tokio::spawn(async move {
                match resuming.resume_orphans(None).await {
                    Ok(resumed) => super::executions::report_resumed(&resumed),
                    Err(e) => eprintln!(
                        "host: {resume_at}could not resume the orphaned executions: {e:#}"
                    ),
                }
            });
            // Schedules and file triggers: the manifest is every tenant's deployment.
            tokio::spawn(api::schedules::run(service.clone(), store.clone()));
            for trigger in &triggers {
                eprintln!(
                    "host: {at}trigger {}: watching {} for {} (starts {})",
                    trigger.name,
                    trigger.watch.display(),
                    trigger.pattern,
                    trigger.state_machine
                );
                tokio::spawn(api::schedules::watch(service.clone(), store.clone(), trigger.clone()));
            }
        }
        let app = api::gateway_router(Arc::new(gateway))
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("the server failed")
    })?;
    eprintln!(
        "host: stopped; running Standard executions stay RUNNING and continue at the next start"
    );
    // Running executions are dropped where they are: their events are
    // durable up to their last step, and the next start replays them.
    runtime.shutdown_timeout(Duration::from_secs(5));
    ops.close();
    Ok(ExitCode::SUCCESS)
}

/// `tenant X: ` before a line about tenant X's service; nothing without tenants.
fn tenant_prefix(tenant: &Option<String>) -> String {
    tenant
        .as_ref()
        .map(|t| format!("tenant {t}: "))
        .unwrap_or_default()
}

/// Where tenant `tenant`'s store is: `tenants/<tenant>/executions.db` beside
/// the host's database (tenant names are plain, `auth::valid_tenant`).
fn tenant_db(db: &std::path::Path, tenant: &str) -> PathBuf {
    db.parent()
        .unwrap_or(std::path::Path::new("."))
        .join("tenants")
        .join(tenant)
        .join("executions.db")
}

/// A service over the store at `db`, running the manifest's tasks (for
/// `tenant`, when given).
fn open_service(
    db: &std::path::Path,
    manifest: Option<&std::path::Path>,
    tenant: Option<&str>,
    options: ServeOptions,
    ops: &Arc<Ops>,
) -> anyhow::Result<(Arc<Service>, Arc<SqliteStore>)> {
    let tasks: Arc<dyn TaskRunner> = match manifest {
        Some(path) => crate::resources::load_runner_for(path, tenant)?,
        None => Arc::new(NoTasks),
    };
    if let Some(dir) = db.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    }
    let store = Arc::new(SqliteStore::open(db)?);
    let dir = db.parent().unwrap_or(std::path::Path::new(".")).to_owned();
    // Announcing: the console's live pages learn of each write at once.
    let announcing = Arc::new(crate::console::Announcing(store.clone()));
    let executions = Executions::with_store(announcing, &dir)?.with_observer(ops.clone());
    let committed = ops.clone();
    executions.on_store_commit(Box::new(move |took| {
        committed.metrics.store_committed(took)
    }));
    let executions = executions.shared();
    // Nested executions start the registry's state machines; executions
    // resumed or redriven here run with the same (tenant's) runner.
    let machines = Arc::new(api::ServiceMachines::default());
    let nested = NestedExecutions::new(tasks, Ok(machines.clone()));
    nested.attach(
        &executions,
        manifest.map(std::path::Path::to_owned),
        RunOptions {
            payload_limit: None,
            virtual_time: options.virtual_time,
        },
    );
    executions.register_runner(manifest, nested.clone());
    let service = Service::new(executions, store.clone(), nested, options);
    machines.attach(&service);
    Ok((service, store))
}

/// Resolves at SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
