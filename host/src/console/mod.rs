//! The console: server-rendered pages at `/` of `host serve`, beside the
//! API's `POST /`, plus one small script of our own.
//!
//! **Boundary.** Every state-changing action (start, stop, redrive) and
//! every describe goes through the API's own operations
//! ([`Service::dispatch`]), so the console checks and answers exactly as the
//! API does; listings and histories are read from the same store the API
//! reads. Graphs come from `crate::graph`.
//!
//! **Invariants.** Everything a user controls (names, definitions, inputs,
//! outputs, errors, logs) is rendered as text: pages are `maud` templates,
//! which escape every interpolation, and the script writes only
//! `textContent` and attributes, never HTML. Every POST carries the
//! process's CSRF token in a form field or header that must match its
//! `SameSite=Strict` cookie, and a cross-origin `Origin` is refused. Every
//! page is sent with a strict Content-Security-Policy (`default-src
//! 'none'`, script and style only from this host's own embedded assets),
//! and no asset is fetched from anywhere else.

mod live;
mod pages;

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::Service;
pub use live::Announcing;

const SCRIPT: &str = include_str!("assets/console.js");
const STYLE: &str = include_str!("assets/console.css");

/// The console's routes (the API keeps `POST /`).
pub fn routes() -> Router<Arc<Service>> {
    Router::new()
        .route("/", get(home))
        .route("/machines/{name}", get(pages::machine))
        .route("/machines/{name}/start", post(start))
        .route("/executions", get(pages::executions))
        .route("/executions/{arn}", get(pages::execution))
        .route("/executions/{arn}/stop", post(stop))
        .route("/executions/{arn}/redrive", post(redrive))
        .route("/executions/{arn}/live", get(live::live))
        .route("/executions/{arn}/states/{state}", get(pages::state_json))
        .route(
            "/assets/console.js",
            get(|| async { asset(SCRIPT, "text/javascript") }),
        )
        .route(
            "/assets/console.css",
            get(|| async { asset(STYLE, "text/css") }),
        )
}

/// `GET /`: the state machines.
pub async fn home(state: State<Arc<Service>>) -> Response {
    pages::machines(state).await
}

/// The process's CSRF token: random, never in a URL.
fn token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| uuid::Uuid::new_v4().simple().to_string())
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Headers every console response carries.
fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        // Not `no-referrer`: under it a browser sends `Origin: null` with a
        // form's POST, and the Origin check below refuses the console's own forms.
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(cookie) = HeaderValue::from_str(&format!(
        "sandstep_csrf={}; Path=/; SameSite=Strict; HttpOnly",
        token()
    )) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    secure(response)
}

/// Whether a POST comes from a console page of this host: the token in
/// its form (or `X-CSRF-Token` header) and cookie, and no foreign Origin.
fn allowed(headers: &HeaderMap, form_token: Option<&str>) -> bool {
    let cookie_ok = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|c| c.trim() == format!("sandstep_csrf={}", token()));
    let sent = form_token.or_else(|| headers.get("x-csrf-token").and_then(|v| v.to_str().ok()));
    let origin_ok = match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            origin == format!("http://{host}")
        }
    };
    cookie_ok && origin_ok && sent == Some(token())
}

fn forbidden() -> Response {
    pages::error_page(
        StatusCode::FORBIDDEN,
        "Refused: this request did not come from a console page of this host (its CSRF token or Origin did not match). Reload the page and try again.",
    )
}

#[derive(Deserialize)]
struct StartForm {
    csrf: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    input: String,
}

/// The ARN the API knows a state machine by.
fn machine_arn(name: &str) -> String {
    format!("arn:aws:states:local:000000000000:stateMachine:{name}")
}

async fn start(
    State(service): State<Arc<Service>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Form(form): Form<StartForm>,
) -> Response {
    if !allowed(&headers, form.csrf.as_deref()) {
        return forbidden();
    }
    let mut request = json!({"stateMachineArn": machine_arn(&name)});
    let input = if form.input.trim().is_empty() {
        "{}".to_owned()
    } else {
        form.input
    };
    request["input"] = Value::String(input);
    if !form.name.trim().is_empty() {
        request["name"] = Value::String(form.name.trim().to_owned());
    }
    match call(&service, "StartExecution", &request).await {
        Ok(answer) => {
            let arn = answer["executionArn"].as_str().unwrap_or_default();
            see_other(&format!("/executions/{}", pages::path_segment(arn)))
        }
        Err(message) => pages::error_page(StatusCode::BAD_REQUEST, &message),
    }
}

#[derive(Deserialize)]
struct ActionForm {
    csrf: Option<String>,
}

async fn stop(
    State(service): State<Arc<Service>>,
    Path(arn): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ActionForm>,
) -> Response {
    action(&service, "StopExecution", &arn, &headers, &form).await
}

async fn redrive(
    State(service): State<Arc<Service>>,
    Path(arn): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ActionForm>,
) -> Response {
    action(&service, "RedriveExecution", &arn, &headers, &form).await
}

async fn action(
    service: &Arc<Service>,
    op: &str,
    arn: &str,
    headers: &HeaderMap,
    form: &ActionForm,
) -> Response {
    if !allowed(headers, form.csrf.as_deref()) {
        return forbidden();
    }
    match call(service, op, &json!({"executionArn": arn})).await {
        Ok(_) => see_other(&format!("/executions/{}", pages::path_segment(arn))),
        Err(message) => pages::error_page(StatusCode::BAD_REQUEST, &message),
    }
}

fn see_other(to: &str) -> Response {
    secure(Redirect::to(to).into_response())
}

/// Runs an API operation; an error is the API's own message.
async fn call(service: &Arc<Service>, op: &str, request: &Value) -> Result<Value, String> {
    let body = request.to_string();
    let service = service.clone();
    let op_owned = op.to_owned();
    // In a task of its own, as the API runs it: a page closed mid-request
    // does not cut an operation halfway.
    let task = tokio::spawn(async move { service.dispatch(&op_owned, body.as_bytes()).await });
    match task.await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(format!(
            "{} ({})",
            e.message,
            e.kind.rsplit('#').next().unwrap_or(&e.kind)
        )),
        Err(_) => Err(format!("the host failed while running {op}; see its log")),
    }
}
