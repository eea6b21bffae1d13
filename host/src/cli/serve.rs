//! `host serve`: the Step Functions API on a local address, over the same
//! store `host run` uses.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use crate::api::{self, ServeOptions, Service};
use crate::engine::{NoTasks, TaskRunner};
use crate::executions::Executions;
use crate::resources::{MANIFEST_FILE, MachineDecl, Manifest};
use crate::store::SqliteStore;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on. Only loopback addresses: requests are not
    /// authenticated.
    #[arg(long, default_value = "127.0.0.1:8083", value_name = "ADDR")]
    listen: SocketAddr,
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
    /// Run Wait states and retry intervals on a virtual clock (for tests).
    #[arg(long, hide = true)]
    virtual_time: bool,
}

pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    if !args.listen.ip().is_loopback() {
        anyhow::bail!(
            "refusing to listen on {}: this host does not yet verify AWS request signatures, \
             so it serves only loopback addresses (e.g. --listen 127.0.0.1:8083)",
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
    let declared: Vec<MachineDecl> = match &manifest {
        Some(path) => Manifest::load(path)?
            .state_machines()
            .values()
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    let tasks: Arc<dyn TaskRunner> = match &manifest {
        Some(path) => crate::resources::load_runner(path)?,
        None => Arc::new(NoTasks),
    };
    let store = Arc::new(SqliteStore::open(&db)?);
    let dir = db.parent().unwrap_or(std::path::Path::new(".")).to_owned();
    // Announcing: the console's live pages learn of each write at once.
    let announcing = Arc::new(crate::console::Announcing(store.clone()));
    let executions = Arc::new(Executions::with_store(announcing, &dir)?);
    let options = ServeOptions {
        manifest,
        express_keep: args.express_keep,
        express_keep_for: Duration::from_secs(args.express_keep_for),
        virtual_time: args.virtual_time,
        ..ServeOptions::default()
    };
    let service = Service::new(executions.clone(), store, tasks, options);
    let runtime = super::executions::runtime()?;
    runtime.block_on(async {
        for line in api::deploy(&service, &declared).await? {
            eprintln!("host: {line}");
        }
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let bound = listener
            .local_addr()
            .context("cannot read the bound address")?;
        eprintln!(
            "host: serving the Step Functions API and the console on http://{bound} (executions in {})",
            db.display()
        );
        // Executions whose host died continue here, beside new requests.
        let resuming = executions.clone();
        tokio::spawn(async move {
            match resuming.resume_orphans(None).await {
                Ok(resumed) => super::executions::report_resumed(&resumed),
                Err(e) => eprintln!("host: could not resume the orphaned executions: {e:#}"),
            }
        });
        axum::serve(listener, api::router(service))
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
    Ok(ExitCode::SUCCESS)
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
