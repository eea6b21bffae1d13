//! A state machine as a graph: what `host graph` draws and the console shows.
//!
//! [`Graph::of`] builds the graph from the parsed model (`asl::model`):
//! one node per state, edges for `Next`, each Choice rule (labelled by a
//! short reading of the rule) and its `Default`, each Catch (labelled by
//! its errors) and each Retry (a loop labelled by its errors and
//! attempts). A Parallel state holds one [`Block`] per branch and a Map
//! state one for its iteration, drawn as nested boxes.
//! [`status::Overlay`] colours the nodes by what an execution's history
//! says happened. `svg.rs` lays the graph out with `layout-rs` (layered,
//! Graphviz-like) and draws it; `text.rs` writes DOT and Mermaid.
//!
//! **Invariant:** every label comes from user data (state names, rules,
//! error names) and is escaped for the format it is written in: a state
//! named `<img src=x onerror=alert(1)>` is text in SVG, DOT and Mermaid.

pub mod status;
pub mod svg;
#[cfg(test)]
mod tests;
pub mod text;

use crate::asl::model::{Condition, StateKind, StateMachine, Transition};

pub use status::{Overlay, StateStatus};

/// The longest edge label drawn before it is cut (the full text stays in
/// the SVG's tooltip).
pub const LABEL_CHARS: usize = 48;

/// A whole state machine.
#[derive(Debug, Clone)]
pub struct Graph {
    pub root: Block,
}

/// One flow of states: the machine itself, a Parallel branch or a Map's
/// iteration.
#[derive(Debug, Clone)]
pub struct Block {
    /// A title for nested blocks ("Branch 1", "Iteration").
    pub title: String,
    /// Index into `nodes` of `StartAt`.
    pub start: usize,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

#[derive(Debug, Clone)]
pub struct Node {
    /// The state's name: unique in the whole machine (ASL requires it), so
    /// it is also the node's identity.
    pub name: String,
    /// `Task`, `Choice`, ...
    pub kind: &'static str,
    /// A second line: a Task's resource, a Map's label.
    pub detail: Option<String>,
    /// Whether the state ends its flow (`End`, Succeed, Fail).
    pub end: bool,
    /// Parallel branches or the Map iteration.
    pub children: Vec<Block>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeKind {
    Next,
    Choice,
    Default,
    Catch,
    Retry,
}

impl EdgeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EdgeKind::Next => "next",
            EdgeKind::Choice => "choice",
            EdgeKind::Default => "default",
            EdgeKind::Catch => "catch",
            EdgeKind::Retry => "retry",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
    /// Full label text (may be empty).
    pub label: String,
}

impl Graph {
    pub fn of(machine: &StateMachine) -> Graph {
        Graph {
            root: block(machine, String::new()),
        }
    }

    /// Every node, nested ones included, depth first.
    pub fn nodes(&self) -> Vec<&Node> {
        fn walk<'a>(block: &'a Block, out: &mut Vec<&'a Node>) {
            for node in &block.nodes {
                out.push(node);
                for child in &node.children {
                    walk(child, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut out);
        out
    }
}

fn block(machine: &StateMachine, title: String) -> Block {
    let mut nodes = Vec::with_capacity(machine.states.len());
    let mut edges = Vec::new();
    for (i, state) in machine.states.iter().enumerate() {
        let mut detail = None;
        let mut children = Vec::new();
        match &state.kind {
            StateKind::Task(task) => detail = Some(task.resource.clone()),
            StateKind::Choice { choices, default } => {
                for (n, choice) in choices.iter().enumerate() {
                    let label = match &choice.condition {
                        Condition::Rule(rule) => rule.describe(),
                        Condition::Jsonata(value) => jsonata_text(value),
                    };
                    let label = if label.is_empty() {
                        format!("rule {}", n + 1)
                    } else {
                        label
                    };
                    edges.push(Edge {
                        from: i,
                        to: choice.next,
                        kind: EdgeKind::Choice,
                        label,
                    });
                }
                if let Some(default) = default {
                    edges.push(Edge {
                        from: i,
                        to: *default,
                        kind: EdgeKind::Default,
                        label: "Default".into(),
                    });
                }
            }
            StateKind::Parallel { branches } => {
                children = branches
                    .iter()
                    .enumerate()
                    .map(|(n, b)| block(b, format!("Branch {}", n + 1)))
                    .collect();
            }
            StateKind::Map(map) => {
                detail = map.label.clone().map(|l| format!("Label {l}"));
                let title = if map.distributed {
                    "Iteration (distributed)"
                } else {
                    "Iteration"
                };
                children = vec![block(&map.processor, title.into())];
            }
            _ => {}
        }
        if let Transition::Next(next) = state.transition
            && !matches!(state.kind, StateKind::Choice { .. })
        {
            edges.push(Edge {
                from: i,
                to: next,
                kind: EdgeKind::Next,
                label: String::new(),
            });
        }
        for retry in &state.retry {
            edges.push(Edge {
                from: i,
                to: i,
                kind: EdgeKind::Retry,
                label: format!(
                    "Retry {} ×{}",
                    retry.error_equals.join(", "),
                    retry.max_attempts
                ),
            });
        }
        for catch in &state.catch {
            edges.push(Edge {
                from: i,
                to: catch.next,
                kind: EdgeKind::Catch,
                label: format!("Catch {}", catch.error_equals.join(", ")),
            });
        }
        // A Choice's model transition is `End` but it never ends the flow.
        let end = matches!(state.kind, StateKind::Succeed | StateKind::Fail { .. })
            || (state.transition == Transition::End
                && !matches!(state.kind, StateKind::Choice { .. }));
        nodes.push(Node {
            name: state.name.clone(),
            kind: state.type_name(),
            detail,
            end,
            children,
        });
    }
    Block {
        title,
        start: machine.start_at,
        nodes,
        edges,
    }
}

/// A JSONata `Condition` as written, without its `{% %}`.
fn jsonata_text(value: &crate::query::jsonata::JsonataValue) -> String {
    match (value.as_expression(), value.as_static()) {
        (Some(expr), _) => expr.source().to_owned(),
        (None, Some(literal)) => literal.to_string(),
        (None, None) => String::new(),
    }
}

/// `text` cut to `max` characters, with an ellipsis when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
