//! `host serve`: the Step Functions service API (AWS JSON 1.0) over the
//! store and the engine, so the AWS CLI, SDKs and tools pointed at it with
//! `--endpoint-url` work unchanged.
//!
//! One route, `POST /`: the `X-Amz-Target` header names the operation, the
//! body is a JSON object of its members (`protocol.rs`). Operations are
//! grouped by what they touch: `machines.rs` (state machines, validation,
//! tags), `versions.rs` (versions and aliases), `executions.rs` (Standard
//! and Express executions), `express.rs` (the bounded memory of finished
//! Express executions, PAIN-05), `callbacks.rs` (`SendTask*` and activities).
//!
//! **Boundary.** The API reads and writes state machines through
//! [`MachineStore`] and executions only through [`Executions`] (the same
//! machinery `host run` uses), so executions started here or by `host run`
//! are the same records. It never prints (it logs through `tracing`).
//!
//! **Invariants.** A request can only get an AWS-shaped answer: every
//! failure is an [`ApiError`], a handler that panics is caught and answered
//! as `InternalFailure`, and nothing is written to the store before the
//! request is fully checked. An operation runs in a task of its own, so a
//! client hanging up never cuts one halfway. Anything echoed from a request in a message
//! is cut to 256 characters. An execution runs the definition it was
//! started with (kept in its record): an update, publish or alias change
//! never changes one already running.

mod arn;
pub mod auth;
mod callbacks;
mod children;
mod executions;
mod express;
mod machines;
pub mod protocol;
pub mod schedules;
mod test_state;
mod versions;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::asl::model::StateMachine;
use crate::asl::{self, MachineType};
use crate::engine::{ExecutionType, TaskRunner};
use crate::executions::Executions;
use crate::store::{MachineRecord, MachineStore};
pub use children::ServiceMachines;
pub use machines::deploy;
pub use protocol::ApiError;

/// AWS's largest request: 1 MB (checklist QUOTA-04).
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// How `host serve` is set up.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The task manifest state machines' Task states run against.
    pub manifest: Option<PathBuf>,
    /// How many finished Express executions stay readable.
    pub express_keep: usize,
    /// For how long a finished Express execution stays readable.
    pub express_keep_for: Duration,
    /// Run Wait states and retry intervals on a virtual clock (tests).
    pub virtual_time: bool,
    pub body_limit: usize,
    /// Step Functions Local's mock config: `StartExecution` of
    /// `stateMachineArn#TestCase` runs against that test case's mocks.
    pub mock_config: Option<Arc<crate::mocks::MockConfig>>,
    /// Metrics and execution logs (`/metrics`, `--execution-log`).
    pub ops: Option<Arc<crate::ops::Ops>>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            manifest: None,
            express_keep: 1000,
            express_keep_for: Duration::from_secs(3600),
            virtual_time: false,
            body_limit: DEFAULT_BODY_LIMIT,
            mock_config: None,
            ops: None,
        }
    }
}

/// What every operation works on.
pub struct Service {
    executions: Arc<Executions>,
    machines: Arc<dyn MachineStore>,
    tasks: Arc<dyn TaskRunner>,
    options: ServeOptions,
    /// Parsed definitions by text, Standard and Express apart, so a start
    /// parses nothing.
    parsed: [RwLock<HashMap<String, Arc<StateMachine>>>; 2],
    /// State machine records by name, so a start reads no table. This
    /// process is the only writer of the machine tables it serves from.
    records: RwLock<HashMap<String, MachineRecord>>,
    express: express::Recent,
    redrive_tokens: executions::RedriveTokens,
}

/// What an execution will run: a definition, and how it was named.
#[derive(Clone)]
pub struct Target {
    pub machine: Arc<StateMachine>,
    pub definition: String,
    pub name: String,
    pub kind: ExecutionType,
    pub version_arn: Option<String>,
    pub alias_arn: Option<String>,
}

impl Service {
    pub fn new(
        executions: Arc<Executions>,
        machines: Arc<dyn MachineStore>,
        tasks: Arc<dyn TaskRunner>,
        options: ServeOptions,
    ) -> Arc<Service> {
        Arc::new(Service {
            express: express::Recent::new(options.express_keep, options.express_keep_for),
            executions,
            machines,
            tasks,
            options,
            parsed: Default::default(),
            records: RwLock::new(HashMap::new()),
            redrive_tokens: Default::default(),
        })
    }

    pub fn executions(&self) -> &Arc<Executions> {
        &self.executions
    }

    /// Runs a blocking store call off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn MachineStore) -> Result<T, crate::store::StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let machines = self.machines.clone();
        tokio::task::spawn_blocking(move || f(machines.as_ref()))
            .await
            .map_err(|e| ApiError::internal(&anyhow::anyhow!("a store call failed: {e}")))?
            .map_err(ApiError::from)
    }

    /// `definition` parsed (cached by text), or AWS's `InvalidDefinition`
    /// listing every problem, including Task resources the manifest lacks.
    fn parse(&self, definition: &str, kind: ExecutionType) -> Result<Arc<StateMachine>, ApiError> {
        let express = kind == ExecutionType::Express;
        let cache = &self.parsed[usize::from(express)];
        if let Some(machine) = cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(definition)
        {
            return Ok(machine.clone());
        }
        let ty = if express {
            MachineType::Express
        } else {
            MachineType::Standard
        };
        let machine = asl::parse_text_as(definition, ty).map_err(|problems| invalid(&problems))?;
        let checker: Arc<dyn TaskRunner> = match &self.options.mock_config {
            Some(config) => Arc::new(crate::mocks::MockAwareCheck {
                inner: self.tasks.clone(),
                config: config.clone(),
            }),
            None => self.tasks.clone(),
        };
        let unknown = crate::engine::Engine::new(checker).check_resources(&machine);
        if !unknown.is_empty() {
            return Err(invalid(&unknown));
        }
        let machine = Arc::new(machine);
        let mut parsed = cache.write().unwrap_or_else(|e| e.into_inner());
        // Definitions are few; a bound keeps a client that sends many from growing it.
        if parsed.len() >= 4096 {
            parsed.clear();
        }
        parsed.insert(definition.to_owned(), machine.clone());
        Ok(machine)
    }

    /// Forgets the cached record of state machine `name` after a change.
    fn forget(&self, name: &str) {
        self.records
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        if let Some(ops) = &self.options.ops {
            ops.forget_logging(name);
        }
    }

    /// Tells the execution log every stored state machine's logging
    /// configuration (at start; later changes pass through [`Service::machine`]).
    pub async fn load_logging(&self) -> Result<(), ApiError> {
        let Some(ops) = self.options.ops.clone() else {
            return Ok(());
        };
        let records = self.blocking(|m| m.machines()).await?;
        for record in records {
            ops.set_logging(&record.name, &record.config);
        }
        Ok(())
    }

    /// The state machine named `name`, or `StateMachineDoesNotExist` for `arn`.
    async fn machine(&self, name: &str, arn: &str) -> Result<MachineRecord, ApiError> {
        if let Some(record) = self
            .records
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return Ok(record.clone());
        }
        let owned = name.to_owned();
        let record = self
            .blocking(move |m| m.machine(&owned))
            .await?
            .ok_or_else(|| ApiError::machine_does_not_exist(arn))?;
        if let Some(ops) = &self.options.ops {
            ops.set_logging(name, &record.config);
        }
        let mut records = self.records.write().unwrap_or_else(|e| e.into_inner());
        if records.len() >= 4096 {
            records.clear();
        }
        records.insert(name.to_owned(), record.clone());
        Ok(record)
    }

    /// What starting an execution of `arn` runs: the latest revision, a
    /// version, or a version an alias picks by its weights.
    async fn target(&self, arn: &str) -> Result<Target, ApiError> {
        use arn::MachineRef;
        let reference = arn::parse_machine(arn)?;
        let record = self.machine(reference.name(), arn).await?;
        let (definition, version_arn, alias_arn) = match &reference {
            MachineRef::Latest(_) => (record.definition.clone(), None, None),
            MachineRef::Version(name, n) => {
                let version = self.version(name, *n, arn).await?;
                (version.definition, Some(reference.arn()), None)
            }
            MachineRef::Alias(name, alias) => {
                let (machine, alias_name) = (name.clone(), alias.clone());
                let alias_record = self
                    .blocking(move |m| m.alias(&machine, &alias_name))
                    .await?
                    .ok_or_else(|| ApiError::resource_not_found(arn))?;
                let n = versions::pick(&alias_record.routing);
                let version = self.version(name, n, arn).await?;
                (
                    version.definition,
                    Some(arn::version_arn(name, n)),
                    Some(reference.arn()),
                )
            }
        };
        let machine = self.parse(&definition, record.kind)?;
        Ok(Target {
            machine,
            definition,
            name: record.name,
            kind: record.kind,
            version_arn,
            alias_arn,
        })
    }

    async fn version(
        &self,
        name: &str,
        n: u32,
        arn: &str,
    ) -> Result<crate::store::VersionRecord, ApiError> {
        let owned = name.to_owned();
        self.blocking(move |m| m.version(&owned, n))
            .await?
            .ok_or_else(|| ApiError::machine_does_not_exist(arn))
    }

    /// Runs operation `op` on request body `body`.
    pub(crate) async fn dispatch(
        self: &Arc<Self>,
        op: &str,
        body: &[u8],
    ) -> Result<Value, ApiError> {
        let request = protocol::Request::parse(body)?;
        match op {
            "CreateStateMachine" => machines::create(self, request).await,
            "DescribeStateMachine" => machines::describe(self, request).await,
            "UpdateStateMachine" => machines::update(self, request).await,
            "DeleteStateMachine" => machines::delete(self, request).await,
            "ListStateMachines" => machines::list(self, request).await,
            "ValidateStateMachineDefinition" => machines::validate(request),
            "DescribeStateMachineForExecution" => {
                machines::describe_for_execution(self, request).await
            }
            "TagResource" => machines::tag(self, request).await,
            "UntagResource" => machines::untag(self, request).await,
            "ListTagsForResource" => machines::list_tags(self, request).await,
            "PublishStateMachineVersion" => versions::publish(self, request).await,
            "ListStateMachineVersions" => versions::list(self, request).await,
            "DeleteStateMachineVersion" => versions::delete(self, request).await,
            "CreateStateMachineAlias" => versions::create_alias(self, request).await,
            "DescribeStateMachineAlias" => versions::describe_alias(self, request).await,
            "UpdateStateMachineAlias" => versions::update_alias(self, request).await,
            "DeleteStateMachineAlias" => versions::delete_alias(self, request).await,
            "ListStateMachineAliases" => versions::list_aliases(self, request).await,
            "StartExecution" => executions::start(self, request).await,
            "StartSyncExecution" => executions::start_sync(self, request).await,
            "DescribeExecution" => executions::describe(self, request).await,
            "ListExecutions" => executions::list(self, request).await,
            "GetExecutionHistory" => executions::history(self, request).await,
            "StopExecution" => executions::stop(self, request).await,
            "RedriveExecution" => executions::redrive(self, request).await,
            "TestState" => test_state::test_state(self, request).await,
            "SendTaskSuccess" => callbacks::send_success(self, request).await,
            "SendTaskFailure" => callbacks::send_failure(self, request).await,
            "SendTaskHeartbeat" => callbacks::send_heartbeat(self, request).await,
            "CreateActivity" => callbacks::create(self, request).await,
            "DescribeActivity" => callbacks::describe(self, request).await,
            "ListActivities" => callbacks::list(self, request).await,
            "DeleteActivity" => callbacks::delete(self, request).await,
            "GetActivityTask" => callbacks::get_task(self, request).await,
            _ => Err(unknown_operation(op)),
        }
    }
}

fn unknown_operation(op: &str) -> ApiError {
    ApiError::coral(
        "UnknownOperationException",
        format!(
            "Unknown operation: '{}': this host serves the Step Functions operations listed in its README",
            protocol::echo(op)
        ),
    )
}

/// AWS's `InvalidDefinition` text for a list of problems.
fn invalid(problems: &[asl::Diagnostic]) -> ApiError {
    let listed: Vec<String> = problems.iter().map(ToString::to_string).collect();
    ApiError::service(
        "InvalidDefinition",
        format!("Invalid State Machine Definition: '{}'", listed.join(", ")),
    )
}

/// Who may call the API, and which service answers them.
pub enum Gateway {
    /// No credentials (loopback only): one service answers every request.
    Open(Arc<Service>),
    /// Every request must be signed (SigV4) by a key of `keys`; each key's
    /// tenant has a service, and so a store, of its own.
    Signed {
        keys: auth::Keys,
        tenants: HashMap<String, Arc<Service>>,
    },
}

impl Gateway {
    /// The service of whoever sent the request, or why it is refused.
    pub fn service_for(
        &self,
        method: &axum::http::Method,
        uri: &axum::http::Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<&Arc<Service>, ApiError> {
        match self {
            Gateway::Open(service) => Ok(service),
            Gateway::Signed { keys, tenants } => {
                let tenant =
                    keys.verify(method, uri, headers, body, std::time::SystemTime::now())?;
                tenants.get(tenant).ok_or_else(|| {
                    ApiError::internal(&anyhow::anyhow!("tenant {tenant:?} has no service"))
                })
            }
        }
    }

    fn body_limit(&self) -> usize {
        match self {
            Gateway::Open(service) => service.options.body_limit,
            Gateway::Signed { tenants, .. } => tenants
                .values()
                .map(|s| s.options.body_limit)
                .max()
                .unwrap_or(DEFAULT_BODY_LIMIT),
        }
    }
}

/// The API as an axum router, open to every caller (loopback).
pub fn router(service: Arc<Service>) -> axum::Router {
    gateway_router(Arc::new(Gateway::Open(service)))
}

/// The API as an axum router, behind `gateway`'s checks.
pub fn gateway_router(gateway: Arc<Gateway>) -> axum::Router {
    let limit = gateway.body_limit();
    // The console only where requests need no signature: a browser cannot
    // sign them (with --credentials, the API alone is served).
    let console = match gateway.as_ref() {
        Gateway::Open(service) => Some(crate::console::routes().with_state(service.clone())),
        Gateway::Signed { .. } => None,
    };
    let api = axum::Router::new()
        .route("/", axum::routing::post(handle).fallback(not_found))
        .route("/metrics", axum::routing::get(metrics))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .with_state(gateway);
    match console {
        Some(console) => api.merge(console),
        None => api,
    }
}

/// `GET /metrics`: the Prometheus text exposition (404 without metrics).
/// With credentials, only to callers on this machine: the labels name
/// every tenant's state machines, and a scraper cannot sign.
async fn metrics(State(gateway): State<Arc<Gateway>>, request: axum::extract::Request) -> Response {
    let service = match gateway.as_ref() {
        Gateway::Open(service) => service,
        Gateway::Signed { tenants, .. } => {
            let peer = request
                .extensions()
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.ip());
            if !peer.is_some_and(|ip| ip.is_loopback()) {
                return respond(Err(ApiError {
                    status: StatusCode::FORBIDDEN,
                    ..ApiError::coral(
                        "AccessDeniedException",
                        "/metrics is served to this machine only when the host has --credentials",
                    )
                }));
            }
            match tenants.values().next() {
                Some(service) => service,
                None => return not_found().await,
            }
        }
    };
    let Some(ops) = &service.options.ops else {
        return not_found().await;
    };
    let mut response = ops.metrics.encode().into_response();
    response.headers_mut().insert(
        "content-type",
        HeaderValue::from_static(crate::ops::metrics::CONTENT_TYPE),
    );
    response
}

async fn not_found() -> Response {
    respond(Err(ApiError {
        status: StatusCode::NOT_FOUND,
        ..unknown_operation("(not POST /)")
    }))
}

async fn handle(
    State(gateway): State<Arc<Gateway>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(e) => {
            return respond(Err(ApiError {
                status: e.status(),
                kind: "com.amazon.coral.service#SerializationException".into(),
                message: format!(
                    "the request body could not be read ({}); requests are limited to {} bytes",
                    e.body_text(),
                    gateway.body_limit()
                ),
            }));
        }
    };
    let service = match gateway.service_for(&method, &uri, &headers, &body) {
        Ok(service) => service.clone(),
        Err(e) => return respond(Err(e)),
    };
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(op) = target.strip_prefix("AWSStepFunctions.") else {
        return respond(Err(unknown_operation(target)));
    };
    let op = op.to_owned();
    // In a task of its own: a client that hangs up does not cancel an
    // operation halfway (a Standard execution recorded but never run), and
    // a panic (a bug) is answered while the server keeps serving.
    let task = {
        let op = op.clone();
        tokio::spawn(async move { service.dispatch(&op, &body).await })
    };
    let outcome = task.await.unwrap_or_else(|_| {
        Err(ApiError::internal(&anyhow::anyhow!(
            "the host failed while serving {}; see its log",
            protocol::echo(&op)
        )))
    });
    if let Err(e) = &outcome
        && e.status.is_server_error()
    {
        tracing::error!(operation = %op.escape_debug(), error = %e.message.escape_debug(), "request failed");
    }
    respond(outcome)
}

fn respond(outcome: Result<Value, ApiError>) -> Response {
    let (status, body) = match outcome {
        Ok(value) => (StatusCode::OK, value),
        Err(e) => (e.status, e.body()),
    };
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}
