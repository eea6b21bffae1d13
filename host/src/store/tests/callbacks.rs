//! The store contract for task tokens and activities.

use super::*;

fn token(name: &str, key: &str) -> TaskToken {
    TaskToken::new(format!("tok-{name}-{key}"), arn(name), key, T0)
}

pub(super) fn tokens_are_opened_once_per_key(store: &dyn Store) {
    store.create(&record("t", T0), &[]).expect("create");
    let first = store.open_token(&token("t", "a")).expect("open");
    assert_eq!(first.status, TokenStatus::Waiting);
    assert!(first.version > 0);
    // A replay asks again with a new token: it gets the one it had.
    let mut again = token("t", "a");
    again.token = "tok-other".into();
    assert_eq!(store.open_token(&again).expect("open"), first);
    assert_eq!(store.token("tok-other").expect("read"), None);
    let second = store.open_token(&token("t", "b")).expect("open");
    assert!(second.version > first.version);
    assert_eq!(store.token_version().expect("version"), second.version);
    assert_eq!(
        store.token(&first.token).expect("read").as_ref(),
        Some(&first)
    );
}

pub(super) fn tokens_are_answered_once(store: &dyn Store) {
    store.create(&record("t", T0), &[]).expect("create");
    let opened = store.open_token(&token("t", "a")).expect("open");
    let at = T0 + time::Duration::seconds(3);
    let beat = store
        .answer_token(&opened.token, &TokenAnswer::Heartbeat, at)
        .expect("answer")
        .expect("accepted");
    assert_eq!(beat.heartbeat, Some(at));
    assert_eq!(beat.status, TokenStatus::Waiting);
    assert!(beat.version > opened.version);
    let done = store
        .answer_token(
            &opened.token,
            &TokenAnswer::Success("{\"ok\":true}".into()),
            at,
        )
        .expect("answer")
        .expect("accepted");
    assert_eq!(done.status, TokenStatus::Succeeded);
    assert_eq!(done.output.as_deref(), Some("{\"ok\":true}"));
    // Answered: a second answer, or a heartbeat, is too late.
    for late in [
        TokenAnswer::Failure {
            error: Some("E".into()),
            cause: None,
        },
        TokenAnswer::Heartbeat,
    ] {
        assert_eq!(
            store
                .answer_token(&opened.token, &late, at)
                .expect("answer"),
            Err(TokenRefusal::TimedOut)
        );
    }
    assert_eq!(
        store
            .answer_token("tok-none", &TokenAnswer::Heartbeat, at)
            .expect("answer"),
        Err(TokenRefusal::DoesNotExist)
    );
    // Closed by its execution (a timeout): answers are too late.
    let other = store.open_token(&token("t", "b")).expect("open");
    store.close_token(&other.token).expect("close");
    assert_eq!(
        store.token(&other.token).expect("read").map(|t| t.status),
        Some(TokenStatus::Closed)
    );
    assert_eq!(
        store
            .answer_token(&other.token, &TokenAnswer::Heartbeat, at)
            .expect("answer"),
        Err(TokenRefusal::TimedOut)
    );
    // Closing an answered token changes nothing.
    store.close_token(&opened.token).expect("close");
    assert_eq!(
        store.token(&opened.token).expect("read").map(|t| t.status),
        Some(TokenStatus::Succeeded)
    );
    // The execution ended: its open tokens are too late as well.
    let third = store.open_token(&token("t", "c")).expect("open");
    store
        .write(&[Write::Finish(finish("t", ExecutionStatus::Failed))])
        .expect("finish");
    assert_eq!(
        store
            .answer_token(&third.token, &TokenAnswer::Heartbeat, at)
            .expect("answer"),
        Err(TokenRefusal::TimedOut)
    );
}

pub(super) fn token_changes_come_in_version_order(store: &dyn Store) {
    store.create(&record("t", T0), &[]).expect("create");
    let start = store.token_version().expect("version");
    let a = store.open_token(&token("t", "a")).expect("open");
    let b = store.open_token(&token("t", "b")).expect("open");
    store
        .answer_token(&a.token, &TokenAnswer::Heartbeat, T0)
        .expect("answer")
        .expect("accepted");
    let changed = store.token_changes(start, 10).expect("changes");
    let order: Vec<&str> = changed.iter().map(|t| t.token.as_str()).collect();
    assert_eq!(order, [b.token.as_str(), a.token.as_str()]);
    assert_eq!(store.token_changes(start, 1).expect("changes").len(), 1);
    let last = changed.last().expect("some").version;
    assert!(store.token_changes(last, 10).expect("changes").is_empty());
}

pub(super) fn activity_tasks_go_to_one_worker_oldest_first(store: &dyn Store) {
    store.create(&record("t", T0), &[]).expect("create");
    let activity = "arn:aws:states:local:000000000000:activity:work";
    let mut first = token("t", "a");
    first.activity_arn = Some(activity.into());
    first.input = Some("{\"n\":1}".into());
    let mut second = token("t", "b");
    second.activity_arn = Some(activity.into());
    // A callback token is no activity task.
    store.open_token(&token("t", "c")).expect("open");
    let first = store.open_token(&first).expect("open");
    let second = store.open_token(&second).expect("open");
    let taken = store
        .take_activity_task(activity, Some("w1"))
        .expect("take")
        .expect("a task");
    assert_eq!(taken.token, first.token);
    assert_eq!(taken.status, TokenStatus::Started);
    assert_eq!(taken.worker_name.as_deref(), Some("w1"));
    assert_eq!(taken.input.as_deref(), Some("{\"n\":1}"));
    let next = store
        .take_activity_task(activity, None)
        .expect("take")
        .expect("a task");
    assert_eq!(next.token, second.token);
    assert_eq!(next.worker_name, None);
    assert_eq!(
        store.take_activity_task(activity, None).expect("take"),
        None
    );
    assert_eq!(
        store
            .take_activity_task("arn:aws:states:local:000000000000:activity:other", None)
            .expect("take"),
        None
    );
}

pub(super) fn activities_are_created_once(store: &dyn Store) {
    let record = |name: &str, at| ActivityRecord {
        name: name.into(),
        creation_date: at,
    };
    assert_eq!(
        store.put_activity(&record("b", T0)).expect("put"),
        record("b", T0)
    );
    // Idempotent: the first creation date stays.
    let later = T0 + time::Duration::seconds(9);
    assert_eq!(
        store.put_activity(&record("b", later)).expect("put"),
        record("b", T0)
    );
    store.put_activity(&record("a", later)).expect("put");
    let names: Vec<String> = store
        .activities()
        .expect("list")
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(store.activity("b").expect("get"), Some(record("b", T0)));
    assert!(store.delete_activity("b").expect("delete"));
    assert!(!store.delete_activity("b").expect("delete"));
    assert_eq!(store.activity("b").expect("get"), None);
}
