//! The state graph of each `States` block: `StartAt` and every transition
//! (`Next`, Choice rules' `Next`, `Default`, catchers' `Next`) name a state
//! of the same block, every state is reachable, and the machine has a
//! terminal state.
//!
//! AWS's codes and words, as measured (FLOCI PR #2786): `Missing 'Next'
//! target: X` for every kind of transition, `State "X" is not reachable.`,
//! and `Workflow has no terminal state` (top level only, no location; it
//! suppresses the reachability report of that block).

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::{Map, Value};

use super::values;
use super::{Loc, MISSING_END_STATE, MISSING_TRANSITION_TARGET, Scope};
use crate::asl::Diagnostic;

pub(crate) fn check(scopes: &[Scope]) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    // Which block holds each state, for a hint when a transition tries to
    // leave its own block.
    let mut home: HashMap<&str, &Loc> = HashMap::new();
    for scope in scopes {
        for node in &scope.states {
            home.entry(node.name.as_str()).or_insert(&scope.loc);
        }
    }
    for scope in scopes {
        let names: Vec<&str> = scope.states.iter().map(|n| n.name.as_str()).collect();
        if let Some(start) = &scope.start_at
            && !names.contains(&start.as_str())
        {
            out.push(missing(start, &scope.loc.key("StartAt"), &names, &home));
        }
        for node in &scope.states {
            for (target, loc) in &node.targets {
                if !names.contains(&target.as_str()) {
                    out.push(missing(target, loc, &names, &home));
                }
            }
        }
    }
    let mut no_end = HashSet::new();
    for (i, scope) in scopes.iter().enumerate() {
        if scope.top && !scope.states.is_empty() && !scope.states.iter().any(|n| n.terminal) {
            out.push(Diagnostic {
                code: MISSING_END_STATE,
                message: "Workflow has no terminal state".to_owned(),
                location: None,
            });
            no_end.insert(i);
        }
    }
    for (i, scope) in scopes.iter().enumerate() {
        // Without a StartAt there is nothing to walk from; AWS reports only
        // the missing field (recorded: INVALID_BASE_NO_STARTAT).
        if !no_end.contains(&i) && scope.start_at.is_some() {
            out.extend(unreachable(scope));
        }
    }
    out
}

fn missing(target: &str, loc: &Loc, names: &[&str], home: &HashMap<&str, &Loc>) -> Diagnostic {
    let mut message = format!("Missing 'Next' target: {target}");
    if let Some(block) = home.get(target) {
        let block = block.text();
        message.push_str(&format!(
            "; that state is defined in another block ({}States), and a transition can only \
             name a state of its own block",
            if block == "/" {
                "/".to_owned()
            } else {
                format!("{block}/")
            }
        ));
    } else if let Some(best) = values::closest(target, names) {
        message.push_str(&format!("; did you mean '{best}'?"));
    }
    Diagnostic {
        code: MISSING_TRANSITION_TARGET,
        message,
        location: Some(loc.text()),
    }
}

/// Every state not reached from `StartAt`.
fn unreachable(scope: &Scope) -> Vec<Diagnostic> {
    let index: HashMap<&str, usize> = scope
        .states
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let mut seen = vec![false; scope.states.len()];
    let mut queue = VecDeque::new();
    if let Some(&start) = scope.start_at.as_deref().and_then(|s| index.get(s)) {
        seen[start] = true;
        queue.push_back(start);
    }
    while let Some(i) = queue.pop_front() {
        for (target, _) in &scope.states[i].targets {
            if let Some(&j) = index.get(target.as_str())
                && !seen[j]
            {
                seen[j] = true;
                queue.push_back(j);
            }
        }
    }
    scope
        .states
        .iter()
        .zip(seen)
        .filter(|(_, seen)| !seen)
        .map(|(node, _)| Diagnostic {
            code: MISSING_TRANSITION_TARGET,
            message: format!("State \"{}\" is not reachable.", node.name),
            location: Some(node.loc.text()),
        })
        .collect()
}

/// The transitions of a state whose `Type` is missing or unknown, so that
/// its successors are not reported as unreachable on top of the type error.
pub(crate) fn targets_of_untyped(obj: &Map<String, Value>, loc: &Loc) -> Vec<(String, Loc)> {
    let mut targets = Vec::new();
    if let Some(Value::String(next)) = obj.get("Next") {
        targets.push((next.clone(), loc.key("Next")));
    }
    if let Some(Value::String(default)) = obj.get("Default") {
        targets.push((default.clone(), loc.key("Default")));
    }
    targets
}
