//! What a JSONata field reads from its top level, which AWS refuses when it
//! creates the state machine (checklist JSONATA-10): an ASL field has no
//! context item, so `phone`, `$.phone` or `{aaa: 1}` (an object key is an
//! expression too) can only mean a mistake, and AWS says
//! `Reference to 'phone' at the top level is not supported.`
//!
//! Only what is evaluated against the top-level context counts: the first
//! step of a path, operands, function arguments, block and condition parts,
//! array items, object keys and values, and lambda bodies (a lambda keeps
//! the context of the expression that defines it). Later path steps,
//! predicates, sort terms and group clauses run against the value the step
//! before produced, so `$states.input.items[$.price > 10]` is fine. The
//! rules follow the measurements against AWS published with Floci's
//! equivalent check (floci-io/floci PR #2699).

use jlens_core::ast::{Node, NodeKind};

/// The distinct top-level references of `ast`, in the order written: field
/// names, and `$` for the context item itself. `$$` is left to its own rule.
pub(super) fn references(root: &Node) -> Vec<String> {
    let mut names = Vec::new();
    collect(root, &mut names);
    names
}

fn add(names: &mut Vec<String>, name: &str) {
    if !names.iter().any(|n| n == name) {
        names.push(name.to_owned());
    }
}

fn collect(node: &Node, names: &mut Vec<String>) {
    match &node.kind {
        NodeKind::Path { steps, .. } => {
            if let Some(first) = steps.first() {
                collect(first, names);
            }
        }
        NodeKind::Name { name } => add(names, name),
        // `$` is the variable with the empty name; `$$` (named "$") has its
        // own message, reported by the caller.
        NodeKind::Variable { name } if name.is_empty() => add(names, "$"),
        NodeKind::Binary { lhs, rhs, .. }
        | NodeKind::Apply { lhs, rhs }
        | NodeKind::Fallback { lhs, rhs, .. } => {
            collect(lhs, names);
            collect(rhs, names);
        }
        NodeKind::Negate { expr } => collect(expr, names),
        NodeKind::Array { items } => items.iter().for_each(|n| collect(n, names)),
        NodeKind::Object { pairs } => {
            for (key, value) in pairs {
                collect(key, names);
                collect(value, names);
            }
        }
        NodeKind::Condition {
            condition,
            then,
            otherwise,
        } => {
            collect(condition, names);
            collect(then, names);
            if let Some(otherwise) = otherwise {
                collect(otherwise, names);
            }
        }
        NodeKind::Block { exprs, .. } => exprs.iter().for_each(|n| collect(n, names)),
        NodeKind::Bind { rhs, .. } => collect(rhs, names),
        NodeKind::Function { procedure, args } | NodeKind::Partial { procedure, args } => {
            collect(procedure, names);
            args.iter().for_each(|n| collect(n, names));
        }
        NodeKind::Lambda(def) => collect(&def.body, names),
        // Literals, regexes, `*`, `**`, `%`, sorts, transforms, placeholders
        // and recovered errors read nothing from the top level.
        _ => {}
    }
}
