//! A bounded load test on loopback: 64 concurrent clients mixing
//! StartExecution, DescribeExecution, GetExecutionHistory and
//! StopExecution, then a check that the store holds every execution with a
//! consistent history.

use std::collections::BTreeSet;

use aws_sdk_sfn::types::ExecutionStatus;

use crate::server::Server;

const CLIENTS: usize = 64;
const STARTS_PER_CLIENT: usize = 8;

#[tokio::test(flavor = "multi_thread")]
async fn sixty_four_clients_leave_a_consistent_store() {
    let server = Server::start(&[]);
    let client = server.client();
    let quick = client
        .create_state_machine()
        .name("quick")
        .definition(crate::pass("x"))
        .role_arn("r")
        .send()
        .await
        .expect("created")
        .state_machine_arn()
        .to_owned();
    let slow = client
        .create_state_machine()
        .name("slow")
        .definition(crate::wait_then(600, "never"))
        .role_arn("r")
        .send()
        .await
        .expect("created")
        .state_machine_arn()
        .to_owned();
    let mut workers = Vec::new();
    for c in 0..CLIENTS {
        // Each worker has a client (and connections) of its own.
        let client = server.client();
        let (quick, slow) = (quick.clone(), slow.clone());
        workers.push(tokio::spawn(async move {
            let mut started = Vec::new();
            for i in 0..STARTS_PER_CLIENT {
                let stop_it = i % 4 == 3;
                let machine = if stop_it { &slow } else { &quick };
                let arn = client
                    .start_execution()
                    .state_machine_arn(machine)
                    .name(format!("c{c}-{i}"))
                    .input(format!(r#"{{"client": {c}, "i": {i}}}"#))
                    .send()
                    .await
                    .expect("started")
                    .execution_arn()
                    .to_owned();
                client
                    .describe_execution()
                    .execution_arn(&arn)
                    .send()
                    .await
                    .expect("described");
                client
                    .get_execution_history()
                    .execution_arn(&arn)
                    .send()
                    .await
                    .expect("history");
                if stop_it {
                    client
                        .stop_execution()
                        .execution_arn(&arn)
                        .send()
                        .await
                        .expect("stopped");
                }
                started.push((arn, stop_it));
            }
            started
        }));
    }
    let mut started = Vec::new();
    for worker in workers {
        started.extend(worker.await.expect("worker"));
    }
    assert_eq!(started.len(), CLIENTS * STARTS_PER_CLIENT);

    for (arn, stopped) in &started {
        let described = crate::settle(&client, arn).await;
        let want = if *stopped {
            ExecutionStatus::Aborted
        } else {
            ExecutionStatus::Succeeded
        };
        assert_eq!(described.status(), &want, "{arn}");
        let history = client
            .get_execution_history()
            .execution_arn(arn)
            .max_results(1000)
            .send()
            .await
            .expect("history");
        let events = history.events();
        let ids: Vec<i64> = events.iter().map(|e| e.id()).collect();
        let expected: Vec<i64> = (1..=events.len() as i64).collect();
        assert_eq!(ids, expected, "{arn}: ids not 1..n");
        assert_eq!(events[0].r#type().as_str(), "ExecutionStarted", "{arn}");
        let last = events.last().expect("events").r#type().as_str();
        let want_last = if *stopped {
            "ExecutionAborted"
        } else {
            "ExecutionSucceeded"
        };
        assert_eq!(last, want_last, "{arn}");
        let ends = events
            .iter()
            .filter(|e| {
                matches!(
                    e.r#type().as_str(),
                    "ExecutionSucceeded" | "ExecutionAborted" | "ExecutionFailed"
                )
            })
            .count();
        assert_eq!(ends, 1, "{arn}: one end");
    }

    // The store lists each execution exactly once.
    let mut listed = BTreeSet::new();
    for machine in [&quick, &slow] {
        let mut token = None;
        loop {
            let page = client
                .list_executions()
                .state_machine_arn(machine)
                .max_results(100)
                .set_next_token(token)
                .send()
                .await
                .expect("listed");
            for e in page.executions() {
                assert!(listed.insert(e.execution_arn().to_owned()), "listed twice");
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
    }
    let all: BTreeSet<String> = started.into_iter().map(|(arn, _)| arn).collect();
    assert_eq!(listed, all);
}
