//! Versions and aliases: publish, list, delete, alias routing, and an
//! execution pinned to the definition it was started with.

use aws_sdk_sfn::types::RoutingConfigurationListItem;

use crate::server::{Server, code};
use crate::{pass, settle, wait_then};

fn route(version_arn: &str, weight: i32) -> RoutingConfigurationListItem {
    RoutingConfigurationListItem::builder()
        .state_machine_version_arn(version_arn)
        .weight(weight)
        .build()
        .expect("route")
}

async fn output_of(client: &aws_sdk_sfn::Client, machine_arn: &str) -> String {
    let started = client
        .start_execution()
        .state_machine_arn(machine_arn)
        .send()
        .await
        .expect("started");
    settle(client, started.execution_arn())
        .await
        .output()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_and_aliases_pin_what_executions_run() {
    let server = Server::start(&[]);
    let client = server.client();
    let created = client
        .create_state_machine()
        .name("deploy")
        .definition(pass("one"))
        .role_arn("r")
        .publish(true)
        .version_description("first")
        .send()
        .await
        .expect("created");
    let machine = created.state_machine_arn().to_owned();
    let v1 = created.state_machine_version_arn().expect("v1").to_owned();
    assert_eq!(v1, format!("{machine}:1"));
    let updated = client
        .update_state_machine()
        .state_machine_arn(&machine)
        .definition(pass("two"))
        .publish(true)
        .send()
        .await
        .expect("updated");
    let v2 = updated.state_machine_version_arn().expect("v2").to_owned();
    assert_eq!(v2, format!("{machine}:2"));
    // Publishing an unchanged revision gives the same version back.
    let again = client
        .publish_state_machine_version()
        .state_machine_arn(&machine)
        .send()
        .await
        .expect("published");
    assert_eq!(again.state_machine_version_arn(), v2);
    let versions = client
        .list_state_machine_versions()
        .state_machine_arn(&machine)
        .send()
        .await
        .expect("listed");
    let listed: Vec<&str> = versions
        .state_machine_versions()
        .iter()
        .map(|v| v.state_machine_version_arn())
        .collect();
    assert_eq!(listed, [v2.as_str(), v1.as_str()]);
    let described = client
        .describe_state_machine()
        .state_machine_arn(&v1)
        .send()
        .await
        .expect("described");
    assert_eq!(described.definition(), pass("one"));
    assert_eq!(described.description(), Some("first"));

    assert_eq!(output_of(&client, &machine).await, "\"two\"");
    assert_eq!(output_of(&client, &v1).await, "\"one\"");

    let alias = client
        .create_state_machine_alias()
        .name("prod")
        .routing_configuration(route(&v1, 100))
        .send()
        .await
        .expect("alias")
        .state_machine_alias_arn()
        .to_owned();
    assert_eq!(alias, format!("{machine}:prod"));
    assert_eq!(output_of(&client, &alias).await, "\"one\"");
    let started = client
        .start_execution()
        .state_machine_arn(&alias)
        .send()
        .await
        .expect("started");
    let described = settle(&client, started.execution_arn()).await;
    assert_eq!(described.state_machine_alias_arn(), Some(alias.as_str()));
    assert_eq!(described.state_machine_version_arn(), Some(v1.as_str()));
    let by_alias = client
        .list_executions()
        .state_machine_arn(&alias)
        .send()
        .await
        .expect("listed");
    assert_eq!(by_alias.executions().len(), 2);

    let e = client
        .create_state_machine_alias()
        .name("split")
        .routing_configuration(route(&v1, 50))
        .routing_configuration(route(&v2, 60))
        .send()
        .await
        .expect_err("weights add to 110");
    assert_eq!(code(&e), "ValidationException");
    let e = client
        .delete_state_machine_version()
        .state_machine_version_arn(&v1)
        .send()
        .await
        .expect_err("the alias uses it");
    assert_eq!(code(&e), "ConflictException");

    client
        .update_state_machine_alias()
        .state_machine_alias_arn(&alias)
        .routing_configuration(route(&v2, 100))
        .send()
        .await
        .expect("moved");
    assert_eq!(output_of(&client, &alias).await, "\"two\"");
    let described = client
        .describe_state_machine_alias()
        .state_machine_alias_arn(&alias)
        .send()
        .await
        .expect("described");
    let routes = described.routing_configuration();
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].state_machine_version_arn(), v2);
    let aliases = client
        .list_state_machine_aliases()
        .state_machine_arn(&machine)
        .send()
        .await
        .expect("listed");
    assert_eq!(aliases.state_machine_aliases().len(), 1);
    client
        .delete_state_machine_version()
        .state_machine_version_arn(&v1)
        .send()
        .await
        .expect("no alias uses it now");
    let e = client
        .describe_state_machine()
        .state_machine_arn(&v1)
        .send()
        .await
        .expect_err("deleted");
    assert_eq!(code(&e), "StateMachineDoesNotExist");
    client
        .delete_state_machine_alias()
        .state_machine_alias_arn(&alias)
        .send()
        .await
        .expect("deleted");
    let e = client
        .describe_state_machine_alias()
        .state_machine_alias_arn(&alias)
        .send()
        .await
        .expect_err("deleted");
    assert_eq!(code(&e), "ResourceNotFound");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_update_never_changes_a_running_execution() {
    let server = Server::start(&[]);
    let client = server.client();
    let machine = client
        .create_state_machine()
        .name("longrun")
        .definition(wait_then(1, "before"))
        .role_arn("r")
        .send()
        .await
        .expect("created")
        .state_machine_arn()
        .to_owned();
    let started = client
        .start_execution()
        .state_machine_arn(&machine)
        .send()
        .await
        .expect("started");
    client
        .update_state_machine()
        .state_machine_arn(&machine)
        .definition(wait_then(1, "after"))
        .send()
        .await
        .expect("updated");
    let described = settle(&client, started.execution_arn()).await;
    assert_eq!(described.output(), Some("\"before\""));
    let for_execution = client
        .describe_state_machine_for_execution()
        .execution_arn(started.execution_arn())
        .send()
        .await
        .expect("described");
    assert_eq!(for_execution.definition(), wait_then(1, "before"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_manifest_deploys_its_state_machines_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("executions.db");
    let manifest = dir.path().join("sandstep.toml");
    std::fs::write(
        &manifest,
        "[state_machines.etl]\ndefinition = \"etl.json\"\n\n[state_machines.fast]\ndefinition = \"fast.json\"\ntype = \"EXPRESS\"\n",
    )
    .expect("written");
    std::fs::write(dir.path().join("etl.json"), pass("v-one")).expect("written");
    std::fs::write(dir.path().join("fast.json"), pass("quick")).expect("written");
    let manifest_arg = manifest.to_string_lossy().into_owned();
    let args = ["--manifest", manifest_arg.as_str()];
    let server = Server::start_on(&db, &args);
    let client = server.client();
    let listed = client.list_state_machines().send().await.expect("listed");
    let names: Vec<&str> = listed.state_machines().iter().map(|m| m.name()).collect();
    assert_eq!(names, ["etl", "fast"]);
    let etl = listed.state_machines()[0].state_machine_arn().to_owned();
    assert_eq!(output_of(&client, &format!("{etl}:1")).await, "\"v-one\"");
    drop(server);

    // A changed definition becomes the next version; the old one stays.
    std::fs::write(dir.path().join("etl.json"), pass("v-two")).expect("written");
    let server = Server::start_on(&db, &args);
    let client = server.client();
    assert_eq!(output_of(&client, &etl).await, "\"v-two\"");
    assert_eq!(output_of(&client, &format!("{etl}:2")).await, "\"v-two\"");
    assert_eq!(output_of(&client, &format!("{etl}:1")).await, "\"v-one\"");
    drop(server);

    // An unchanged manifest publishes nothing new.
    let server = Server::start_on(&db, &args);
    let client = server.client();
    let versions = client
        .list_state_machine_versions()
        .state_machine_arn(&etl)
        .send()
        .await
        .expect("listed");
    assert_eq!(versions.state_machine_versions().len(), 2);
}
