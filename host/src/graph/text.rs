//! The graph as DOT (Graphviz) and as Mermaid flowchart text.
//!
//! Node identifiers are generated (`s0`, `s1`, ...), never state names;
//! names and labels appear only inside quoted strings, escaped for the
//! format: in DOT `\` and `"`, in Mermaid as entity codes (`#lt;`,
//! `#quot;`...), which Mermaid renders as the characters, never as markup.

use std::fmt::Write as _;

use super::{Block, EdgeKind, Graph, LABEL_CHARS, Overlay, StateStatus, shorten};

/// A DOT string literal's content.
pub fn dot_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A Mermaid quoted label's content.
pub fn mermaid_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '`' => out.push_str("#96;"),
            '|' => out.push_str("#124;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Identifiers for every node of a graph, depth first, and for its blocks.
struct Ids {
    next: usize,
}

impl Ids {
    fn take(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{}", self.next - 1)
    }
}

pub fn dot(graph: &Graph, overlay: Option<&Overlay>) -> String {
    let mut out = String::from(
        "digraph StateMachine {\n  rankdir=TB;\n  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fillcolor=\"#ffffff\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n  start [label=\"Start\", shape=oval, fillcolor=\"#414d5c\", fontcolor=\"#ffffff\"];\n  end [label=\"End\", shape=oval, fillcolor=\"#414d5c\", fontcolor=\"#ffffff\"];\n",
    );
    let mut ids = Ids { next: 0 };
    let first = dot_block(&mut out, &graph.root, overlay, &mut ids, 1, true);
    if let Some(first) = first {
        let _ = writeln!(out, "  start -> {first};");
    }
    out.push_str("}\n");
    out
}

/// Writes `block`; returns the id of its start state.
fn dot_block(
    out: &mut String,
    block: &Block,
    overlay: Option<&Overlay>,
    ids: &mut Ids,
    depth: usize,
    root: bool,
) -> Option<String> {
    let pad = "  ".repeat(depth);
    let names: Vec<String> = block.nodes.iter().map(|_| ids.take("s")).collect();
    for (node, id) in block.nodes.iter().zip(&names) {
        let status = overlay.map_or(StateStatus::NotReached, |o| o.status(&node.name));
        let (fill, stroke) = status.colours();
        let second = node.detail.as_deref().unwrap_or(node.kind);
        let _ = writeln!(
            out,
            "{pad}{id} [label=\"{}\\n{}\", tooltip=\"{} ({})\", fillcolor=\"{fill}\", color=\"{stroke}\", class=\"{}\"];",
            dot_escape(&node.name),
            dot_escape(&shorten(second, 40)),
            dot_escape(&node.name),
            node.kind,
            status.as_str()
        );
        if root && node.end {
            let _ = writeln!(out, "{pad}{id} -> end;");
        }
        for (n, child) in node.children.iter().enumerate() {
            let cluster = ids.take("cluster_");
            let _ = writeln!(
                out,
                "{pad}subgraph {cluster} {{\n{pad}  label=\"{}: {}\";\n{pad}  style=dashed;",
                dot_escape(&node.name),
                dot_escape(&child.title)
            );
            let start = dot_block(out, child, overlay, ids, depth + 1, false);
            let _ = writeln!(out, "{pad}}}");
            if let Some(start) = start {
                let _ = writeln!(
                    out,
                    "{pad}{id} -> {start} [style=dotted, arrowhead=none, label=\"{}\"];",
                    n + 1
                );
            }
        }
    }
    for edge in &block.edges {
        let (Some(from), Some(to)) = (names.get(edge.from), names.get(edge.to)) else {
            continue;
        };
        let style = match edge.kind {
            EdgeKind::Catch | EdgeKind::Retry => ", style=dashed",
            EdgeKind::Default => ", style=dotted",
            _ => "",
        };
        let colour = match edge.kind {
            EdgeKind::Catch => ", color=\"#d91515\", fontcolor=\"#d91515\"",
            EdgeKind::Retry => ", color=\"#c56b00\", fontcolor=\"#c56b00\"",
            _ => "",
        };
        let _ = writeln!(
            out,
            "{pad}{from} -> {to} [label=\"{}\", tooltip=\"{}\", class=\"{}\"{style}{colour}];",
            dot_escape(&shorten(&edge.label, LABEL_CHARS)),
            dot_escape(&edge.label),
            edge.kind.as_str()
        );
    }
    names.get(block.start).cloned()
}

pub fn mermaid(graph: &Graph, overlay: Option<&Overlay>) -> String {
    let mut out = String::from("flowchart TD\n  start([Start])\n  finish([End])\n");
    let mut ids = Ids { next: 0 };
    let mut classes: Vec<(String, StateStatus)> = Vec::new();
    if let Some(first) = mermaid_block(
        &mut out,
        &graph.root,
        overlay,
        &mut ids,
        1,
        true,
        &mut classes,
    ) {
        let _ = writeln!(out, "  start --> {first}");
    }
    if overlay.is_some() {
        for status in StateStatus::ALL {
            let (fill, stroke) = status.colours();
            let _ = writeln!(
                out,
                "  classDef {} fill:{fill},stroke:{stroke}",
                status.as_str().replace('-', "_")
            );
        }
        for (id, status) in classes {
            let _ = writeln!(out, "  class {id} {}", status.as_str().replace('-', "_"));
        }
    }
    out
}

fn mermaid_block(
    out: &mut String,
    block: &Block,
    overlay: Option<&Overlay>,
    ids: &mut Ids,
    depth: usize,
    root: bool,
    classes: &mut Vec<(String, StateStatus)>,
) -> Option<String> {
    let pad = "  ".repeat(depth);
    let names: Vec<String> = block.nodes.iter().map(|_| ids.take("s")).collect();
    for (node, id) in block.nodes.iter().zip(&names) {
        let status = overlay.map_or(StateStatus::NotReached, |o| o.status(&node.name));
        classes.push((id.clone(), status));
        let second = node.detail.as_deref().unwrap_or(node.kind);
        let label = format!(
            "{}<br/>{}",
            mermaid_escape(&node.name),
            mermaid_escape(&shorten(second, 40))
        );
        if node.children.is_empty() {
            let _ = writeln!(out, "{pad}{id}[\"{label}\"]");
        } else {
            let _ = writeln!(out, "{pad}subgraph {id}[\"{label}\"]");
            for child in &node.children {
                let block_id = ids.take("b");
                let _ = writeln!(
                    out,
                    "{pad}  subgraph {block_id}[\"{}\"]",
                    mermaid_escape(&child.title)
                );
                mermaid_block(out, child, overlay, ids, depth + 2, false, classes);
                let _ = writeln!(out, "{pad}  end");
            }
            let _ = writeln!(out, "{pad}end");
        }
        if root && node.end {
            let _ = writeln!(out, "{pad}{id} --> finish");
        }
    }
    for edge in &block.edges {
        let (Some(from), Some(to)) = (names.get(edge.from), names.get(edge.to)) else {
            continue;
        };
        let arrow = match edge.kind {
            EdgeKind::Catch | EdgeKind::Retry | EdgeKind::Default => "-.->",
            _ => "-->",
        };
        if edge.label.is_empty() {
            let _ = writeln!(out, "{pad}{from} {arrow} {to}");
        } else {
            let _ = writeln!(
                out,
                "{pad}{from} {arrow}|\"{}\"| {to}",
                mermaid_escape(&shorten(&edge.label, LABEL_CHARS))
            );
        }
    }
    names.get(block.start).cloned()
}
