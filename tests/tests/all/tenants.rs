//! Tenants through the task runner, with real guests: a busy tenant does not
//! hold up another tenant's small task, an execution's fuel budget is shared
//! by its calls, limits that can never be met are refused at load, and each
//! call reports the peak linear memory it reached.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use serde_json::{Value, json};

use sandstep_host::engine::{TaskCall, TaskOutcome, TaskRunner};
use sandstep_host::errors::names;
use sandstep_host::resources::{Manifest, WasmTasks};
use sandstep_host::sandbox::{CacheSetting, Sandbox, SandboxConfig};
use sandstep_tests::guests;

/// One engine for the module's tests, as the host has one per process.
fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        Sandbox::new(&SandboxConfig {
            cache: CacheSetting::Disabled,
            ..SandboxConfig::default()
        })
        .expect("the sandbox starts")
    })
}

fn manifest(text: &str) -> anyhow::Result<Manifest> {
    Manifest::parse(text, Path::new("/nowhere/sandstep.toml"))
}

fn tasks(text: &str) -> WasmTasks {
    let manifest = manifest(text).unwrap_or_else(|e| panic!("the manifest is valid: {e:#}"));
    WasmTasks::load(&manifest, sandbox()).unwrap_or_else(|e| panic!("the tasks load: {e:#}"))
}

async fn invoke(runner: &WasmTasks, resource: &str, input: &Value, execution: &str) -> TaskOutcome {
    runner
        .invoke(TaskCall {
            resource,
            input,
            execution_id: execution,
            state_name: "Under test",
            attempt: "",
            retry_count: 0,
            timeout: None,
            concurrent: true,
            payload_limit: sandstep_host::engine::DEFAULT_PAYLOAD_LIMIT,
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_busy_with_loops_does_not_hold_up_another_tenants_small_task() {
    let runner = Arc::new(tasks(&format!(
        r#"
        [tenants.busy]
        max_concurrent_tasks = 4
        [tenants.quiet]
        [tasks.spin]
        component = {spin:?}
        tenant = "busy"
        timeout_seconds = 0.1
        [tasks.echo]
        component = {echo:?}
        tenant = "quiet"
        "#,
        spin = guests::INFINITE_LOOP,
        echo = guests::ECHO,
    )));
    const SPINS: usize = 100;
    let finished = Arc::new(AtomicUsize::new(0));
    let mut spins = Vec::new();
    for i in 0..SPINS {
        let (runner, finished) = (runner.clone(), finished.clone());
        spins.push(tokio::spawn(async move {
            let execution = format!("busy-{i}");
            let outcome = invoke(&runner, "wasm:spin", &json!({}), &execution).await;
            finished.fetch_add(1, Ordering::SeqCst);
            outcome
        }));
    }
    let input = json!({"order": 7, "lines": ["a", "b"]});
    // Spawned, so it competes for the same worker threads as the loops.
    let quiet = {
        let (runner, input, finished) = (runner.clone(), input.clone(), finished.clone());
        tokio::spawn(async move {
            let outcome = invoke(&runner, "wasm:echo", &input, "quiet-1").await;
            (outcome, finished.load(Ordering::SeqCst))
        })
    };
    let (echoed, spins_done_then) = quiet.await.expect("the call task joins");
    assert_eq!(
        echoed.result,
        Ok(input),
        "the small task completes correctly"
    );
    // 100 loops, 4 at a time, each stopped by a 0.1 s deadline: 25 rounds.
    // The small task waits for none of them (it may see a round or two end
    // on a loaded machine). Queued behind the loops (no tenants: 64 sandbox
    // slots, then FIFO) it would end after 64; with a yield that leaves new
    // work unpolled, after 20 to 50.
    assert!(
        spins_done_then < 12,
        "the small task ended only after {spins_done_then} of {SPINS} loops"
    );
    for spin in spins {
        let outcome = spin.await.expect("the call task joins");
        let error = outcome.result.expect_err("a loop never returns");
        assert_eq!(error.error, names::TIMEOUT, "{error}");
        assert!(error.cause.contains("deadline"), "{error}");
    }
}

#[tokio::test]
async fn an_executions_calls_share_the_tenants_fuel_budget() {
    // What one echo call burns, measured under the unlimited default tenant.
    let probe = tasks(&format!("[tasks.echo]\ncomponent = {:?}\n", guests::ECHO));
    let input = json!({"n": 1});
    let one = invoke(&probe, "wasm:echo", &input, "probe")
        .await
        .usage
        .and_then(|u| u.fuel_consumed)
        .expect("a metered call reports its fuel");
    let budget = one + one / 2;
    let runner = tasks(&format!(
        r#"
        [tenants.acme]
        fuel_per_execution = {budget}
        [tasks.echo]
        component = {echo:?}
        tenant = "acme"
        [tasks.spin]
        component = {spin:?}
        tenant = "acme"
        "#,
        echo = guests::ECHO,
        spin = guests::INFINITE_LOOP,
    ));
    let first = invoke(&runner, "wasm:echo", &input, "e1").await;
    assert_eq!(first.result, Ok(input.clone()));
    assert_eq!(first.usage.and_then(|u| u.fuel_consumed), Some(one));
    // The second call gets only what is left (half a call) and runs out.
    let second = invoke(&runner, "wasm:echo", &input, "e1").await;
    let error = second.result.expect_err("half a call's fuel is not enough");
    assert_eq!(error.error, names::TIMEOUT);
    assert!(
        error.cause.contains("used its whole fuel budget") && error.cause.contains("\"acme\""),
        "{error}"
    );
    assert_eq!(
        runner
            .tenant("acme")
            .and_then(|t| t.execution_fuel_used("e1")),
        Some(budget),
        "the execution burnt exactly its budget"
    );
    // Nothing is left: the next call fails before it starts.
    let third = invoke(&runner, "wasm:echo", &input, "e1").await;
    assert!(
        third
            .result
            .is_err_and(|e| e.cause.contains("used its whole fuel budget"))
    );
    // Another execution has its own budget; an infinite loop, whose own fuel
    // is the 20e9 default, is stopped by the execution's.
    assert_eq!(
        invoke(&runner, "wasm:echo", &input, "e2").await.result,
        Ok(input.clone())
    );
    let spun = invoke(&runner, "wasm:spin", &json!({}), "e3").await;
    let error = spun.result.expect_err("the loop is stopped");
    assert!(
        error.cause.contains("used its whole fuel budget"),
        "{error}"
    );
    assert_eq!(spun.usage.and_then(|u| u.fuel_consumed), Some(budget));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_running_at_once_are_stopped_when_their_execution_has_spent_its_budget() {
    // Each loop's own fuel (20e9) is far above the budget: only the budget,
    // charged at the end of every slice, can stop them while both run.
    let slice = SandboxConfig::default().slice_fuel;
    let budget = 50 * slice;
    let runner = Arc::new(tasks(&format!(
        r#"
        [tenants.acme]
        fuel_per_execution = {budget}
        [tasks.spin]
        component = {spin:?}
        tenant = "acme"
        timeout_seconds = 60
        "#,
        spin = guests::INFINITE_LOOP,
    )));
    let loops: Vec<_> = (0..2)
        .map(|_| {
            let runner = Arc::clone(&runner);
            tokio::spawn(async move { invoke(&runner, "wasm:spin", &json!({}), "e1").await })
        })
        .collect();
    let mut burnt = 0;
    for spin in loops {
        let outcome = spin.await.expect("the call task joins");
        let error = outcome.result.expect_err("a loop never returns");
        assert_eq!(error.error, names::TIMEOUT, "{error}");
        assert!(
            error.cause.contains("used its whole fuel budget"),
            "{error}"
        );
        burnt += outcome
            .usage
            .and_then(|u| u.fuel_consumed)
            .expect("metered");
    }
    let used = runner
        .tenant("acme")
        .and_then(|t| t.execution_fuel_used("e1"))
        .expect("the execution is known");
    assert_eq!(used, burnt, "the budget was charged what the calls burnt");
    // Each call may finish the slice it is in when the budget runs out.
    assert!(
        (budget..=budget + 2 * slice).contains(&used),
        "used {used} of a budget of {budget} (slices of {slice})"
    );
}

#[test]
fn a_task_over_its_tenants_memory_ceiling_is_refused_at_load() {
    let text = format!(
        "[tenants.small]\nmemory_ceiling = \"64 MiB\"\n\
         [tasks.big]\ncomponent = {:?}\nmemory_mib = 128\ntenant = \"small\"\n",
        guests::ECHO
    );
    let error = format!(
        "{:#}",
        manifest(&text).expect_err("128 MiB never fits in 64")
    );
    assert!(
        error.contains("task \"big\"")
            && error
                .contains("memory limit of 128 MiB is above the tenant's memory_ceiling of 64 MiB"),
        "{error}"
    );
    // The same task run for that tenant with `--tenant` is refused too.
    let text = format!(
        "[tenants.small]\nmemory_ceiling = \"64 MiB\"\n\
         [tasks.big]\ncomponent = {:?}\nmemory_mib = 128\n",
        guests::ECHO
    );
    let error = match tasks(&text).with_tenant("small") {
        Ok(_) => panic!("the task cannot run for tenant \"small\""),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        error.contains("task \"big\" cannot run for tenant \"small\""),
        "{error}"
    );
    let error = match tasks(&text).with_tenant("nobody") {
        Ok(_) => panic!("the tenant is not declared"),
        Err(e) => format!("{e:#}"),
    };
    assert!(error.contains("\"nobody\" is not declared"), "{error}");
}

#[tokio::test]
async fn every_call_reports_its_peak_linear_memory() {
    let runner = tasks(&format!(
        "[tasks.echo]\ncomponent = {:?}\n[tasks.bomb]\ncomponent = {:?}\nmemory_mib = 16\n",
        guests::ECHO,
        guests::MEMORY_BOMB
    ));
    let small = invoke(&runner, "wasm:echo", &json!("x"), "e")
        .await
        .usage
        .and_then(|u| u.peak_memory_bytes)
        .expect("the peak is reported");
    let big = json!("y".repeat(4 << 20));
    let large = invoke(&runner, "wasm:echo", &big, "e")
        .await
        .usage
        .and_then(|u| u.peak_memory_bytes)
        .expect("the peak is reported");
    assert!(small > 0, "a component has some memory");
    assert!(
        large >= small + (4 << 20),
        "a 4 MiB input needs at least 4 MiB more: {small} then {large}"
    );
    let bomb = invoke(&runner, "wasm:bomb", &json!({}), "e").await;
    assert_eq!(
        bomb.result.map_err(|e| e.error),
        Err(names::SANDBOX_MEMORY_LIMIT_EXCEEDED.to_owned())
    );
    let peak = bomb
        .usage
        .and_then(|u| u.peak_memory_bytes)
        .expect("a failed call reports its peak too");
    assert!(
        (8 << 20..=16 << 20).contains(&peak),
        "the bomb grew close to its 16 MiB limit and no further: {peak}"
    );
}
