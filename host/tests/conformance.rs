//! Runs every execution recorded on AWS in `shared/conformance/engine/`
//! through the engine (Wait states on the virtual clock) and compares status,
//! output, error, cause and — where AWS's history was recorded — the
//! sequence of event types. Prints passed/total by feature tag.
//!
//! The suite holds the engine to a floor per query language: the pass rate
//! may only go up. `SANDSTEP_CONFORMANCE_VERBOSE=1` lists every failure.

use std::collections::BTreeMap;
use std::sync::Arc;

use sandstep_host::engine::{Clock, Engine, NoTasks};

#[path = "common/cases.rs"]
mod cases;
use cases::{load_cases, run_case};

/// The lowest pass rates the suite accepts, in percent; raise them as the engine grows.
const FLOOR_JSONPATH: f64 = 100.0;
const FLOOR_JSONATA: f64 = 100.0;

#[test]
fn engine_conformance() {
    let cases = load_cases("engine");
    assert!(!cases.is_empty(), "no conformance cases found");
    let engine = Engine::new(Arc::new(NoTasks)).with_clock(Clock::virtual_time());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let verbose = std::env::var_os("SANDSTEP_CONFORMANCE_VERBOSE").is_some();
    let mut by_feature: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut by_language: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut numbering_differs = Vec::new();
    let mut numbered = (0usize, 0usize);
    for case in &cases {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_case(&engine, &runtime, case)
        }))
        .unwrap_or_else(|_| Err("the engine panicked".into()));
        let passed = outcome.is_ok();
        numbered.1 += usize::from(case.doc["expected_history"].is_array());
        match &outcome {
            Ok(Some(why)) => numbering_differs.push((case.name.clone(), why.clone())),
            Ok(None) => numbered.0 += usize::from(case.doc["expected_history"].is_array()),
            Err(_) => {}
        }
        let jsonata = case
            .features
            .iter()
            .any(|f| f == "jsonata" || f == "assign");
        let language = by_language
            .entry(if jsonata {
                "jsonata+assign"
            } else {
                "jsonpath"
            })
            .or_default();
        language.1 += 1;
        language.0 += usize::from(passed);
        for feature in &case.features {
            let entry = by_feature.entry(feature.clone()).or_default();
            entry.1 += 1;
            entry.0 += usize::from(passed);
        }
        if let Err(why) = outcome {
            failures.push((case.name.clone(), jsonata, why));
        }
    }
    println!("engine conformance by feature (passed/total):");
    for (feature, (passed, total)) in &by_feature {
        println!("  {feature:40} {passed:4}/{total:<4}");
    }
    for (language, (passed, total)) in &by_language {
        println!(
            "{language}: {passed}/{total} passed ({:.1}%)",
            pct(*passed, *total)
        );
    }
    println!(
        "history ids and previousEventIds agree: {}/{} recorded histories",
        numbered.0, numbered.1
    );
    for (name, why) in &numbering_differs {
        println!("NUMBERING {name}: {}", truncate(why, 600));
    }
    for (name, jsonata, why) in &failures {
        if verbose || !jsonata {
            println!("FAIL {name}: {}", truncate(why, 600));
        }
    }
    let rate = |key: &str| by_language.get(key).map_or(100.0, |(p, t)| pct(*p, *t));
    assert!(
        rate("jsonpath") >= FLOOR_JSONPATH,
        "JSONPath conformance fell below {FLOOR_JSONPATH}%"
    );
    assert!(
        rate("jsonata+assign") >= FLOOR_JSONATA,
        "JSONata conformance fell below {FLOOR_JSONATA}%"
    );
}

fn pct(passed: usize, total: usize) -> f64 {
    if total == 0 {
        100.0
    } else {
        passed as f64 * 100.0 / total as f64
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        s.to_owned()
    } else {
        format!("{}…", &s[..s.floor_char_boundary(n)])
    }
}
