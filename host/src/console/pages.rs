//! The console's pages, as `maud` templates: every interpolation is
//! escaped, so user data is text. The only markup inserted raw is a graph
//! SVG from `crate::graph::svg`, which escapes every label itself.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{call, live, machine_arn, secure, token};
use crate::api::Service;
use crate::asl::MachineType;
use crate::engine::ExecutionType;
use crate::engine::history::format_timestamp;
use crate::graph::{Graph, svg};
use crate::store::ExecutionStatus;

/// Events per page of an execution's history table.
const EVENTS_PER_PAGE: usize = 100;
/// Executions per page of the list.
const EXECUTIONS_PER_PAGE: usize = 50;

/// `text` as one URL path segment.
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn layout(title: &str, body: Markup) -> Response {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Sandstep" }
                link rel="stylesheet" href="/assets/console.css";
                script src="/assets/console.js" defer {}
            }
            body data-csrf=(token()) {
                header.top {
                    a.brand href="/" { "Sandstep" }
                    nav { a href="/" { "State machines" } a href="/executions" { "Executions" } }
                }
                main { (body) }
            }
        }
    };
    let mut response = page.into_string().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(response)
}

pub fn error_page(status: StatusCode, message: &str) -> Response {
    let mut response = layout(
        "Error",
        html! {
            h1 { "That did not work" }
            p.error role="alert" { (message) }
            p { a href="/" { "Back to the state machines" } }
        },
    );
    *response.status_mut() = status;
    response
}

fn time(epoch: &Value) -> String {
    epoch
        .as_f64()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp_nanos((s * 1e9) as i128).ok())
        .map(format_timestamp)
        .unwrap_or_default()
}

fn pretty(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| text.to_owned())
}

fn status_badge(status: &str) -> Markup {
    html! { span class={ "badge status-" (status.to_ascii_lowercase()) } { (status) } }
}

pub async fn machines(State(service): State<Arc<Service>>) -> Response {
    let list = match call(&service, "ListStateMachines", &json!({"maxResults": 1000})).await {
        Ok(list) => list,
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let items = list["stateMachines"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    layout(
        "State machines",
        html! {
            h1 { "State machines" }
            @if items.is_empty() {
                p.empty { "No state machines yet: create one with the API (CreateStateMachine) or declare one under [state_machines.NAME] in sandstep.toml." }
            } @else {
                table.list {
                    thead { tr { th { "Name" } th { "Type" } th { "Created" } th {} } }
                    tbody {
                        @for m in &items {
                            @let name = m["name"].as_str().unwrap_or_default();
                            tr {
                                td { a href={ "/machines/" (path_segment(name)) } { (name) } }
                                td { (m["type"].as_str().unwrap_or_default()) }
                                td { (time(&m["creationDate"])) }
                                td { a href={ "/executions?machine=" (path_segment(name)) } { "Executions" } }
                            }
                        }
                    }
                }
            }
        },
    )
}

fn graph_svg(
    definition: &str,
    kind: ExecutionType,
    overlay: Option<&crate::graph::Overlay>,
) -> Markup {
    let ty = if kind == ExecutionType::Express {
        MachineType::Express
    } else {
        MachineType::Standard
    };
    match crate::asl::parse_text_as(definition, ty) {
        Ok(machine) => PreEscaped(svg::render(&Graph::of(&machine), overlay)),
        Err(problems) => {
            html! { p.error { "The definition does not parse: " (problems.len()) " problems." } }
        }
    }
}

pub async fn machine(State(service): State<Arc<Service>>, Path(name): Path<String>) -> Response {
    let arn = machine_arn(&name);
    let described = match call(
        &service,
        "DescribeStateMachine",
        &json!({"stateMachineArn": arn}),
    )
    .await
    {
        Ok(d) => d,
        Err(e) => return error_page(StatusCode::NOT_FOUND, &e),
    };
    let versions = call(
        &service,
        "ListStateMachineVersions",
        &json!({"stateMachineArn": arn, "maxResults": 100}),
    )
    .await
    .ok()
    .and_then(|v| v["stateMachineVersions"].as_array().cloned())
    .unwrap_or_default();
    let aliases = call(
        &service,
        "ListStateMachineAliases",
        &json!({"stateMachineArn": arn, "maxResults": 100}),
    )
    .await
    .ok()
    .and_then(|v| v["stateMachineAliases"].as_array().cloned())
    .unwrap_or_default();
    let definition = described["definition"].as_str().unwrap_or_default();
    let kind = if described["type"] == "EXPRESS" {
        ExecutionType::Express
    } else {
        ExecutionType::Standard
    };
    layout(
        &name,
        html! {
            h1 { (name) " " span.muted { (described["type"].as_str().unwrap_or_default()) } }
            p { a href={ "/executions?machine=" (path_segment(&name)) } { "Executions of this state machine" } }
            section.graph-wrap { (graph_svg(definition, kind, None)) }
            section.columns {
                div {
                    h2 { "Start an execution" }
                    form #start-form method="post" action={ "/machines/" (path_segment(&name)) "/start" } {
                        input type="hidden" name="csrf" value=(token());
                        label { "Name (optional) " input type="text" name="name" maxlength="80"; }
                        label for="input" { "Input (JSON)" }
                        textarea #input name="input" rows="8" spellcheck="false" { "{}" }
                        p #input-problem.error role="alert" hidden {}
                        button type="submit" { "Start execution" }
                    }
                    h2 { "Versions" }
                    @if versions.is_empty() { p.muted { "No versions published." } }
                    ul { @for v in &versions { li { (v["stateMachineVersionArn"].as_str().unwrap_or_default()) " · " (time(&v["creationDate"])) } } }
                    h2 { "Aliases" }
                    @if aliases.is_empty() { p.muted { "No aliases." } }
                    ul { @for a in &aliases { li { (a["stateMachineAliasArn"].as_str().unwrap_or_default()) } } }
                }
                div {
                    h2 { "Definition" }
                    pre.json { (pretty(definition)) }
                }
            }
        },
    )
}

#[derive(Deserialize)]
pub struct ListQuery {
    machine: Option<String>,
    status: Option<String>,
    name: Option<String>,
    page: Option<usize>,
}

pub async fn executions(
    State(service): State<Arc<Service>>,
    Query(q): Query<ListQuery>,
) -> Response {
    let status = q
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| ExecutionStatus::ALL.into_iter().find(|x| x.as_str() == s));
    let store = service.executions().store().clone();
    let records = match tokio::task::spawn_blocking(move || store.list(status)).await {
        Ok(Ok(records)) => records,
        _ => {
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the executions could not be read; see the host's log",
            );
        }
    };
    let machine = q.machine.clone().filter(|m| !m.is_empty());
    let name = q.name.clone().unwrap_or_default();
    let matching: Vec<_> = records
        .into_iter()
        .filter(|r| machine.as_deref().is_none_or(|m| r.state_machine_name == m))
        .filter(|r| name.is_empty() || r.name.contains(name.as_str()))
        .collect();
    let page = q.page.unwrap_or(0);
    let pages = matching.len().div_ceil(EXECUTIONS_PER_PAGE).max(1);
    let shown = matching
        .iter()
        .skip(page * EXECUTIONS_PER_PAGE)
        .take(EXECUTIONS_PER_PAGE);
    let link = |p: usize| {
        format!(
            "/executions?machine={}&status={}&name={}&page={p}",
            path_segment(machine.as_deref().unwrap_or("")),
            status.map_or("", |s| s.as_str()),
            path_segment(&name)
        )
    };
    layout(
        "Executions",
        html! {
            h1 { "Executions" @if let Some(m) = &machine { " of " (m) } }
            form.filters method="get" action="/executions" {
                input type="hidden" name="machine" value=(machine.as_deref().unwrap_or(""));
                label { "Status " select name="status" {
                    option value="" { "any" }
                    @for s in ExecutionStatus::ALL {
                        option value=(s.as_str()) selected[status == Some(s)] { (s.as_str()) }
                    }
                } }
                label { "Name contains " input type="text" name="name" value=(name); }
                button type="submit" { "Filter" }
            }
            table.list #executions {
                thead { tr { th { "Name" } th { "Status" } th { "State machine" } th { "Started" } th { "Stopped" } } }
                tbody {
                    @for r in shown {
                        tr {
                            td { a href={ "/executions/" (path_segment(&r.arn)) } { (r.name) } }
                            td { (status_badge(r.status.as_str())) }
                            td { (r.state_machine_name) }
                            td { (format_timestamp(r.start_date)) }
                            td { (r.stop_date.map(format_timestamp).unwrap_or_default()) }
                        }
                    }
                }
            }
            p.pager {
                (matching.len()) " executions, newest first · page " (page + 1) " of " (pages) " "
                @if page > 0 { a href=(link(page - 1)) { "Newer" } " " }
                @if page + 1 < pages { a href=(link(page + 1)) { "Older" } }
            }
        },
    )
}

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<usize>,
}

pub async fn execution(
    State(service): State<Arc<Service>>,
    Path(arn): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let described = match call(&service, "DescribeExecution", &json!({"executionArn": arn})).await {
        Ok(d) => d,
        Err(e) => return error_page(StatusCode::NOT_FOUND, &e),
    };
    let Some((record, overlay, events)) = live::snapshot(&service, arn.clone()).await else {
        return error_page(
            StatusCode::NOT_FOUND,
            "Only Standard executions have a page here: Express executions keep no history in the store.",
        );
    };
    let status = described["status"].as_str().unwrap_or_default();
    let page = q.page.unwrap_or(0);
    let pages = events.len().div_ceil(EVENTS_PER_PAGE).max(1);
    let shown = events
        .iter()
        .skip(page * EVENTS_PER_PAGE)
        .take(EVENTS_PER_PAGE);
    let here = format!("/executions/{}", path_segment(&record.arn));
    let field = |v: &Value| v.as_str().map(pretty);
    layout(
        &record.name,
        html! {
            h1 { (record.name) " " (status_badge(status)) }
            p.muted { "State machine " a href={ "/machines/" (path_segment(&record.state_machine_name)) } { (record.state_machine_name) }
                " · started " (time(&described["startDate"]))
                @if described.get("stopDate").is_some() { " · stopped " (time(&described["stopDate"])) }
                @if record.redrive_count > 0 { " · redriven " (record.redrive_count) "×" } }
            div.actions {
                @if status == "RUNNING" {
                    form method="post" action={ (here) "/stop" } {
                        input type="hidden" name="csrf" value=(token());
                        button #stop type="submit" { "Stop" }
                    }
                }
                @if matches!(status, "FAILED" | "TIMED_OUT" | "ABORTED") {
                    form method="post" action={ (here) "/redrive" } {
                        input type="hidden" name="csrf" value=(token());
                        button #redrive type="submit" { "Redrive" }
                    }
                }
            }
            @if let Some(error) = described["error"].as_str() {
                div.error-box role="alert" { strong { "Error: " } span #execution-error { (error) }
                    @if let Some(cause) = described["cause"].as_str() { pre #execution-cause { (cause) } } }
            }
            section.columns {
                section.graph-wrap #graph data-live={ (here) "/live" } data-states={ (here) "/states/" } data-status=(status) {
                    p.legend { @for s in crate::graph::StateStatus::ALL { span class={ "key key-" (s.as_str()) } { (s.as_str().replace('-', " ")) } } }
                    (graph_svg(&record.definition, record.kind, Some(&overlay)))
                }
                aside #step-panel {
                    h2 #step-title { "Step" }
                    p.muted #step-hint { "Click a state in the graph to see its input, output, error and figures." }
                    dl #step-facts {}
                    div #step-visits {}
                }
            }
            section.columns {
                div { h2 { "Input" } pre.json #execution-input { (field(&described["input"]).unwrap_or_default()) } }
                div { h2 { "Output" } pre.json #execution-output { (field(&described["output"]).unwrap_or_default()) } }
            }
            h2 #events-heading { "Events" }
            p.pager {
                (events.len()) " events · page " (page + 1) " of " (pages) " "
                @if page > 0 { a href={ (here) "?page=" (page - 1) "#events-heading" } { "Previous" } " " }
                @if page + 1 < pages { a href={ (here) "?page=" (page + 1) "#events-heading" } { "Next" } }
            }
            table.list.events {
                thead { tr { th { "ID" } th { "Type" } th { "Step" } th { "Time" } th { "Details" } } }
                tbody {
                    @for e in shown {
                        @let details = e.as_object().and_then(|o| o.iter().find(|(k, _)| k.ends_with("EventDetails"))).map(|(_, v)| v);
                        tr {
                            td { (e["id"]) }
                            td { (e["type"].as_str().unwrap_or_default()) }
                            td { (details.and_then(|d| d["name"].as_str()).unwrap_or_default()) }
                            td { (e["timestamp"].as_str().unwrap_or_default()) }
                            td { code { (crate::graph::shorten(&details.map(Value::to_string).unwrap_or_default(), 300)) } }
                        }
                    }
                }
            }
        },
    )
}

/// `GET /executions/{arn}/states/{state}`: one state's visits, as JSON.
pub async fn state_json(
    State(service): State<Arc<Service>>,
    Path((arn, state)): Path<(String, String)>,
) -> Response {
    let Some((_, overlay, _)) = live::snapshot(&service, arn).await else {
        return (StatusCode::NOT_FOUND, "no such execution").into_response();
    };
    let body = match overlay.states.get(&state) {
        Some(summary) => serde_json::to_value(summary).unwrap_or(Value::Null),
        None => json!({"status": "not-reached", "visitsTotal": 0, "visits": []}),
    };
    let mut response = body.to_string().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    secure(response)
}
