//! The graph's structure, its escaping in every format, and the colours an
//! execution recorded by the engine gives it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{Value, json};

use super::{EdgeKind, Graph, Overlay, StateStatus, svg, text};
use crate::engine::{Engine, ExecutionRequest, TaskCall, TaskFuture, TaskRunner};
use crate::errors::AslError;

const HOSTILE: &str = "<img src=x onerror=alert(1)>";

fn graph(definition: Value) -> Graph {
    let machine = crate::asl::parse(&definition).unwrap_or_else(|p| panic!("{p:?}"));
    Graph::of(&machine)
}

fn nested() -> Value {
    json!({"StartAt": "Check", "States": {
        "Check": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericGreaterThan": 5, "Next": "Fan"},
            {"And": [{"Variable": "$.s", "IsPresent": true},
                     {"Not": {"Variable": "$.s", "StringMatches": "*.csv"}}], "Next": "Both"}
        ], "Default": "Nope"},
        "Fan": {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {
            "StartAt": "Each", "States": {"Each": {"Type": "Pass", "End": true}}},
            "ResultPath": null, "Next": "Both"},
        "Both": {"Type": "Parallel", "Branches": [
            {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": true}}},
            {"StartAt": "Right", "States": {"Right": {"Type": "Fail", "Error": "Boom", "Cause": "right failed"}}}
        ], "Catch": [{"ErrorEquals": ["Boom"], "Next": "Recover"}], "Next": "Done"},
        "Recover": {"Type": "Pass", "Next": "Done"},
        "Nope": {"Type": "Fail", "Error": "No"},
        "Done": {"Type": "Succeed"}
    }})
}

#[test]
fn nodes_edges_and_nesting_follow_the_definition() {
    let g = graph(nested());
    let root = &g.root;
    let names: Vec<&str> = root.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["Check", "Fan", "Both", "Recover", "Nope", "Done"]);
    assert_eq!(root.nodes[root.start].name, "Check");
    let edge = |from: &str, kind: EdgeKind| {
        root.edges
            .iter()
            .filter(|e| root.nodes[e.from].name == from && e.kind == kind)
            .map(|e| (root.nodes[e.to].name.as_str(), e.label.as_str()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        edge("Check", EdgeKind::Choice),
        [
            ("Fan", "$.n > 5"),
            ("Both", "$.s is present and not ($.s matches \"*.csv\")")
        ]
    );
    assert_eq!(edge("Check", EdgeKind::Default), [("Nope", "Default")]);
    assert!(edge("Check", EdgeKind::Next).is_empty());
    assert_eq!(edge("Both", EdgeKind::Catch), [("Recover", "Catch Boom")]);
    assert_eq!(edge("Both", EdgeKind::Next), [("Done", "")]);
    // Nesting: the Map's iteration and the Parallel's two branches.
    let fan = &root.nodes[1];
    assert_eq!(fan.children.len(), 1);
    assert_eq!(fan.children[0].nodes[0].name, "Each");
    let both = &root.nodes[2];
    let branches: Vec<Vec<&str>> = both
        .children
        .iter()
        .map(|b| b.nodes.iter().map(|n| n.name.as_str()).collect())
        .collect();
    assert_eq!(branches, [vec!["Left"], vec!["Right"]]);
    assert_eq!(g.nodes().len(), 9);
    let ends: Vec<&str> = root
        .nodes
        .iter()
        .filter(|n| n.end)
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(ends, ["Nope", "Done"]);
}

#[test]
fn retries_are_loops_labelled_by_errors_and_attempts() {
    let g = graph(json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "wasm:x", "Retry": [
            {"ErrorEquals": ["Task.IoError", "States.Timeout"], "MaxAttempts": 4}], "End": true}}}));
    let retry: Vec<_> = g
        .root
        .edges
        .iter()
        .filter(|e| e.kind == EdgeKind::Retry)
        .collect();
    assert_eq!(retry.len(), 1);
    assert_eq!((retry[0].from, retry[0].to), (0, 0));
    assert_eq!(retry[0].label, "Retry Task.IoError, States.Timeout ×4");
    assert_eq!(g.root.nodes[0].detail.as_deref(), Some("wasm:x"));
}

/// Every `<g class="state" data-state="...">` of an SVG, with its status.
fn svg_states(svg: &str) -> Vec<(String, String)> {
    svg.split("<g class=\"state\" data-state=\"")
        .skip(1)
        .map(|rest| {
            let name = rest.split('"').next().unwrap_or_default().to_owned();
            let status = rest
                .split("data-status=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or_default()
                .to_owned();
            (name, status)
        })
        .collect()
}

#[test]
fn svg_draws_every_state_once_nested_inside_their_parent() {
    let svg = svg::render(&graph(nested()), None);
    let mut states: Vec<String> = svg_states(&svg).into_iter().map(|(n, _)| n).collect();
    states.sort();
    assert_eq!(
        states,
        [
            "Both", "Check", "Done", "Each", "Fan", "Left", "Nope", "Recover", "Right"
        ]
    );
    assert_eq!(svg.matches("<g class=\"block\">").count(), 3, "{svg}");
    // Edges: Start, Check's 3, Fan→Both, Both's Next and Catch, Recover→Done,
    // and the two End edges.
    assert_eq!(svg.matches("class=\"edge edge-").count(), 10);
    assert_eq!(svg.matches("class=\"edge edge-catch\"").count(), 1);
    assert!(svg.contains(">$.n &gt; 5</text>"), "{svg}");
    // A nested box lies inside its parent's box.
    let rect = |name: &str| -> [f64; 4] {
        let at = svg.find(&format!("data-state=\"{name}\"")).expect(name);
        let rest = &svg[at..];
        let num = |attr: &str| -> f64 {
            rest.split(&format!(" {attr}=\""))
                .nth(1)
                .and_then(|s| s.split('"').next())
                .and_then(|s| s.parse().ok())
                .expect(attr)
        };
        [num("x"), num("y"), num("width"), num("height")]
    };
    let (outer, inner) = (rect("Both"), rect("Right"));
    assert!(inner[0] > outer[0] && inner[0] + inner[2] < outer[0] + outer[2]);
    assert!(inner[1] > outer[1] && inner[1] + inner[3] < outer[1] + outer[3]);
}

#[test]
fn hostile_names_are_text_in_every_format() {
    let g = graph(json!({"StartAt": HOSTILE, "States": {
        HOSTILE: {"Type": "Choice", "Choices": [
            {"Variable": "$.a", "StringEquals": "\"/><script>alert(2)</script>", "Next": "x\"];evil[\"y"}],
            "Default": "x\"];evil[\"y"},
        "x\"];evil[\"y": {"Type": "Pass", "End": true}}}));
    let svg = svg::render(&g, None);
    assert!(!svg.contains("<img"), "{svg}");
    assert!(!svg.contains("<script"), "{svg}");
    assert!(svg.contains("&lt;img src=x onerror=alert(1)&gt;"));
    let states: Vec<String> = svg_states(&svg).into_iter().map(|(n, _)| n).collect();
    assert!(states.contains(&"&lt;img src=x onerror=alert(1)&gt;".to_owned()));
    assert!(states.contains(&"x&quot;];evil[&quot;y".to_owned()));

    let dot = text::dot(&g, None);
    assert!(
        dot.contains("label=\"<img src=x onerror=alert(1)>\\nChoice\""),
        "{dot}"
    );
    assert!(dot.contains("x\\\"];evil[\\\"y"), "{dot}");
    // Every quote in the DOT is either escaped or a delimiter: the labels
    // never close their string early.
    for line in dot.lines().filter(|l| l.contains("evil")) {
        let unescaped = line.replace("\\\"", "").matches('"').count();
        assert_eq!(unescaped % 2, 0, "{line}");
    }

    let mermaid = text::mermaid(&g, None);
    assert!(!mermaid.contains("<img"), "{mermaid}");
    assert!(!mermaid.contains("<script"), "{mermaid}");
    assert!(mermaid.contains("#lt;img src=x onerror=alert(1)#gt;"));
    assert!(mermaid.contains("x#quot;];evil[#quot;y"));
}

#[test]
fn dot_and_mermaid_nest_branches_and_iterations() {
    let g = graph(nested());
    let dot = text::dot(&g, None);
    assert_eq!(dot.matches("subgraph cluster_").count(), 3, "{dot}");
    assert!(dot.contains("label=\"Catch Boom\""));
    assert!(dot.contains("label=\"Both: Branch 2\""));
    let mermaid = text::mermaid(&g, None);
    assert_eq!(mermaid.matches("subgraph ").count(), 5, "{mermaid}");
    assert!(mermaid.contains("-.->|\"Catch Boom\"|"));
    assert!(mermaid.contains("-->|\"$.n #gt; 5\"|"));
}

/// Fails each state's first attempt, then echoes.
#[derive(Default)]
struct FlakyOnce(AtomicU32);

impl TaskRunner for FlakyOnce {
    fn check_resource(&self, _: &str) -> Result<(), String> {
        Ok(())
    }

    fn invoke<'a>(&'a self, call: TaskCall<'a>) -> TaskFuture<'a> {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        let input = call.input.clone();
        let always = call.state_name == "Broken";
        Box::pin(async move {
            if n == 0 || always {
                Err(AslError::new("Task.IoError", "disk on fire")).into()
            } else {
                Ok(input).into()
            }
        })
    }
}

async fn overlay(definition: Value, input: Value) -> (Overlay, Vec<Value>) {
    let machine = crate::asl::parse(&definition).unwrap_or_else(|p| panic!("{p:?}"));
    let mut request = ExecutionRequest::new("graph", input);
    request.record_history = true;
    let execution = Engine::new(Arc::new(FlakyOnce::default()))
        .execute(&machine, request)
        .await;
    let events: Vec<Value> = execution
        .history
        .iter()
        .map(|e| serde_json::to_value(e).expect("serializable"))
        .collect();
    (Overlay::from_events(&events), events)
}

#[tokio::test]
async fn a_recorded_execution_colours_each_state_by_what_happened() {
    let mut definition = nested();
    definition["States"]["Fan"]["ItemProcessor"]["States"]["Each"] = json!({
        "Type": "Task", "Resource": "wasm:echo", "End": true,
        "Retry": [{"ErrorEquals": ["Task.IoError"], "IntervalSeconds": 1, "MaxAttempts": 1}]});
    let (overlay, _) = overlay(definition.clone(), json!({"n": 9, "items": [1, 2, 3]})).await;
    let status = |s: &str| overlay.status(s);
    assert_eq!(status("Check"), StateStatus::Succeeded);
    assert_eq!(status("Fan"), StateStatus::Succeeded);
    assert_eq!(status("Each"), StateStatus::Succeeded);
    assert_eq!(status("Left"), StateStatus::Succeeded);
    assert_eq!(status("Right"), StateStatus::Failed);
    assert_eq!(status("Both"), StateStatus::Caught);
    assert_eq!(status("Recover"), StateStatus::Succeeded);
    assert_eq!(status("Done"), StateStatus::Succeeded);
    assert_eq!(status("Nope"), StateStatus::NotReached);
    let fan = &overlay.states["Fan"];
    assert_eq!(fan.iterations.get("started"), Some(&3));
    assert_eq!(fan.iterations.get("succeeded"), Some(&3));
    let each = &overlay.states["Each"];
    assert_eq!(each.visits_total, 3);
    assert_eq!(each.visits.iter().map(|v| v.retries).sum::<u32>(), 1);
    // The catcher got the branch's error.
    let recovered = overlay.states["Recover"].visits[0].input.as_deref();
    assert!(recovered.is_some_and(|i| i.contains("Boom")), "{recovered:?}");

    // The SVG carries the same statuses, as attributes and colours.
    let svg = svg::render(
        &Graph::of(&crate::asl::parse(&definition).expect("valid")),
        Some(&overlay),
    );
    let states = svg_states(&svg);
    let of = |name: &str| {
        states
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s.as_str())
    };
    assert_eq!(of("Right"), Some("failed"));
    assert_eq!(of("Both"), Some("caught"));
    assert_eq!(of("Nope"), Some("not-reached"));
    assert!(svg.contains(&format!("stroke=\"{}\"", StateStatus::Failed.colours().1)));
    assert!(svg.contains("3 items: 3 ok, 0 failed"), "{svg}");
    let dot = text::dot(
        &Graph::of(&crate::asl::parse(&definition).expect("valid")),
        Some(&overlay),
    );
    assert!(dot.contains("class=\"caught\""));
}

#[tokio::test]
async fn a_failed_task_keeps_its_error_and_cause() {
    let definition = json!({"StartAt": "Broken", "States": {
        "Broken": {"Type": "Task", "Resource": "wasm:x", "End": true}}});
    let (overlay, events) = overlay(definition, json!({})).await;
    assert_eq!(
        events.last().and_then(|e| e["type"].as_str()),
        Some("ExecutionFailed")
    );
    assert_eq!(overlay.status("Broken"), StateStatus::Failed);
    let visit = &overlay.states["Broken"].visits[0];
    assert_eq!(visit.error.as_deref(), Some("Task.IoError"));
    assert_eq!(visit.cause.as_deref(), Some("disk on fire"));
    assert_eq!(visit.input.as_deref(), Some("{}"));
}

#[test]
fn an_unfinished_history_shows_the_state_running() {
    let events = vec![
        json!({"id": 1, "previousEventId": 0, "type": "ExecutionStarted", "timestamp": 1.0,
               "executionStartedEventDetails": {"input": "{}"}}),
        json!({"id": 2, "previousEventId": 0, "type": "TaskStateEntered", "timestamp": 1.5,
               "stateEnteredEventDetails": {"name": "Work", "input": "{}"}}),
        json!({"id": 3, "previousEventId": 2, "type": "TaskScheduled", "timestamp": 1.6,
               "taskScheduledEventDetails": {"resource": "x"}}),
    ];
    let overlay = Overlay::from_events(&events);
    assert_eq!(overlay.status("Work"), StateStatus::Running);
    assert_eq!(overlay.status("Other"), StateStatus::NotReached);
}
