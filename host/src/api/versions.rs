//! Versions and aliases (checklist VER-01..03): PublishStateMachineVersion,
//! ListStateMachineVersions, DeleteStateMachineVersion and the five alias
//! operations. A version is an immutable copy of a revision; an alias
//! routes each new execution to one of one or two versions by weight.

use std::sync::Arc;

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::Service;
use super::arn::{self, MachineRef};
use super::protocol::{ApiError, Request, valid_alias_name};
use crate::store::{AliasRecord, Put};

/// The version an alias sends the next execution to, by its weights.
pub fn pick(routing: &[(u32, u8)]) -> u32 {
    let roll = u8::try_from(uuid::Uuid::new_v4().as_u128() % 100).unwrap_or(0);
    let mut below = 0u8;
    for &(version, weight) in routing {
        below = below.saturating_add(weight);
        if roll < below {
            return version;
        }
    }
    routing.last().map_or(0, |&(version, _)| version)
}

fn latest_name(arn: &str) -> Result<String, ApiError> {
    match arn::parse_machine(arn)? {
        MachineRef::Latest(name) => Ok(name),
        _ => Err(ApiError::invalid_arn(
            arn,
            "Resource type not valid in this context: give the state machine's own ARN",
        )),
    }
}

pub async fn publish(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let arn = request.required("stateMachineArn", 1, 256)?;
    let revision = request.string("revisionId", 0, 256)?;
    let description = request.string("description", 0, 256)?;
    request.finish()?;
    let name = latest_name(&arn)?;
    let record = service.machine(&name, &arn).await?;
    if let Some(revision) = revision
        && revision != record.revision_id
    {
        return Err(ApiError::service(
            "ConflictException",
            format!(
                "Failed to publish the State Machine version because the current revision id '{}' does not match the given revision id",
                record.revision_id
            ),
        ));
    }
    let now = OffsetDateTime::now_utc();
    let owned = name.clone();
    let version = service
        .blocking(move |m| m.publish_version(&owned, description.as_deref(), now))
        .await?
        .ok_or_else(|| ApiError::machine_does_not_exist(&arn))?;
    Ok(json!({
        "stateMachineVersionArn": arn::version_arn(&name, version.version),
        "creationDate": super::protocol::epoch(version.creation_date),
    }))
}

pub async fn list(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let arn = request.required("stateMachineArn", 1, 256)?;
    let page = request.page(1000)?;
    request.finish()?;
    let name = latest_name(&arn)?;
    service.machine(&name, &arn).await?;
    let owned = name.clone();
    let versions = service.blocking(move |m| m.versions(&owned)).await?;
    let (versions, next) = page.take(
        "versions",
        versions,
        |v| v.version.to_string(),
        |key, after| key.parse::<u32>().ok() < after.parse::<u32>().ok(),
    )?;
    let items: Vec<Value> = versions
        .iter()
        .map(|v| {
            json!({
                "stateMachineVersionArn": arn::version_arn(&name, v.version),
                "creationDate": super::protocol::epoch(v.creation_date),
            })
        })
        .collect();
    let mut answer = json!({"stateMachineVersions": items});
    if let Some(next) = next {
        answer["nextToken"] = json!(next);
    }
    Ok(answer)
}

pub async fn delete(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let arn = request.required("stateMachineVersionArn", 1, 256)?;
    request.finish()?;
    let MachineRef::Version(name, n) = arn::parse_machine(&arn)? else {
        return Err(ApiError::invalid_arn(
            &arn,
            "Resource type not valid in this context: not a version ARN",
        ));
    };
    let owned = name.clone();
    let aliases = service.blocking(move |m| m.aliases(&owned)).await?;
    if let Some(alias) = aliases
        .iter()
        .find(|a| a.routing.iter().any(|&(v, _)| v == n))
    {
        return Err(ApiError::service(
            "ConflictException",
            format!(
                "Version to be deleted must not be referenced by an alias. Current list of aliases referencing this version: [{}]",
                arn::alias_arn(&name, &alias.name)
            ),
        ));
    }
    // Deleting a version that does not exist succeeds, as on AWS.
    service
        .blocking(move |m| m.delete_version(&name, n))
        .await?;
    Ok(json!({}))
}

/// `routingConfiguration`: one or two versions of `machine` whose weights
/// add up to 100.
async fn routing(
    service: &Arc<Service>,
    request: &mut Request,
    required: bool,
    machine: Option<&str>,
) -> Result<Option<(String, Vec<(u32, u8)>)>, ApiError> {
    let Some(value) = request.raw("routingConfiguration") else {
        if required {
            request.problem(
                "Value null at 'routingConfiguration' failed to satisfy constraint: Member must not be null"
                    .into(),
            );
        }
        return Ok(None);
    };
    let bad = || {
        ApiError::coral(
            "SerializationException",
            "member 'routingConfiguration' must be a list of {\"stateMachineVersionArn\", \"weight\"} objects",
        )
    };
    let items = value.as_array().ok_or_else(bad)?;
    if items.is_empty() || items.len() > 2 {
        request.problem(format!(
            "Value at 'routingConfiguration' failed to satisfy constraint: Member must have length between 1 and 2 (got {})",
            items.len()
        ));
        return Ok(None);
    }
    let mut routes = Vec::new();
    let mut name: Option<String> = machine.map(str::to_owned);
    for item in items {
        let version_arn = item
            .get("stateMachineVersionArn")
            .and_then(Value::as_str)
            .ok_or_else(bad)?;
        let weight = item.get("weight").and_then(Value::as_u64).ok_or_else(bad)?;
        let MachineRef::Version(of, n) = arn::parse_machine(version_arn)? else {
            return Err(ApiError::invalid_arn(
                version_arn,
                "Resource type not valid in this context: not a version ARN",
            ));
        };
        if name.as_deref().is_some_and(|name| name != of) {
            return Err(ApiError::validation_text(
                "Routing configuration must contain state machine version ARNs of the same state machine",
            ));
        }
        service
            .version(&of, n, version_arn)
            .await
            .map_err(|_| ApiError::resource_not_found(version_arn))?;
        name = Some(of);
        if weight > 100 {
            request.problem(format!(
                "Value '{weight}' at 'routingConfiguration.member.weight' failed to satisfy constraint: Member must have value less than or equal to 100"
            ));
        }
        routes.push((n, u8::try_from(weight).unwrap_or(100)));
    }
    if routes.len() == 2 && routes[0].0 == routes[1].0 {
        return Err(ApiError::validation_text(
            "Routing configuration must contain distinct state machine version ARNs",
        ));
    }
    if routes.iter().map(|&(_, w)| u32::from(w)).sum::<u32>() != 100 {
        return Err(ApiError::validation_text(
            "Sum of routing configuration weights must be equal to 100",
        ));
    }
    Ok(name.map(|name| (name, routes)))
}

fn alias_ref(arn: &str) -> Result<(String, String), ApiError> {
    match arn::parse_machine(arn)? {
        MachineRef::Alias(machine, alias) => Ok((machine, alias)),
        _ => Err(ApiError::invalid_arn(
            arn,
            "Resource type not valid in this context: not an alias ARN",
        )),
    }
}

pub async fn create_alias(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let name = request.required("name", 1, 80)?;
    let description = request.string("description", 0, 256)?;
    let routes = routing(service, &mut request, true, None).await?;
    request.finish()?;
    if !valid_alias_name(&name) {
        return Err(ApiError::invalid_name(&name));
    }
    let Some((machine, routing)) = routes else {
        return Err(ApiError::validation(&[
            "Value null at 'routingConfiguration' failed to satisfy constraint: Member must not be null".into(),
        ]));
    };
    let now = OffsetDateTime::now_utc();
    let alias = AliasRecord {
        machine: machine.clone(),
        name: name.clone(),
        description,
        routing,
        creation_date: now,
        update_date: now,
    };
    let stored = alias.clone();
    let created = service
        .blocking(move |m| m.put_alias(&stored, Put::Create))
        .await?;
    let arn = arn::alias_arn(&machine, &name);
    if !created {
        let (m, n) = (machine.clone(), name.clone());
        let existing = service.blocking(move |s| s.alias(&m, &n)).await?;
        match existing {
            // Idempotent for the same routing and description, as on AWS.
            Some(existing)
                if existing.routing == alias.routing
                    && existing.description == alias.description =>
            {
                return Ok(json!({
                    "stateMachineAliasArn": arn,
                    "creationDate": super::protocol::epoch(existing.creation_date),
                }));
            }
            _ => {
                return Err(ApiError::service(
                    "ConflictException",
                    format!("Alias already exists with a different configuration: '{arn}'"),
                ));
            }
        }
    }
    Ok(json!({"stateMachineAliasArn": arn, "creationDate": super::protocol::epoch(now)}))
}

fn describe_alias_record(alias: &AliasRecord) -> Value {
    let routes: Vec<Value> = alias
        .routing
        .iter()
        .map(|&(version, weight)| {
            json!({
                "stateMachineVersionArn": arn::version_arn(&alias.machine, version),
                "weight": weight,
            })
        })
        .collect();
    let mut described = json!({
        "stateMachineAliasArn": arn::alias_arn(&alias.machine, &alias.name),
        "name": alias.name,
        "routingConfiguration": routes,
        "creationDate": super::protocol::epoch(alias.creation_date),
        "updateDate": super::protocol::epoch(alias.update_date),
    });
    if let Some(description) = &alias.description {
        described["description"] = json!(description);
    }
    described
}

async fn find_alias(service: &Arc<Service>, arn: &str) -> Result<AliasRecord, ApiError> {
    let (machine, alias) = alias_ref(arn)?;
    service
        .blocking(move |m| m.alias(&machine, &alias))
        .await?
        .ok_or_else(|| ApiError::resource_not_found(arn))
}

pub async fn describe_alias(
    service: &Arc<Service>,
    mut request: Request,
) -> Result<Value, ApiError> {
    let arn = request.required("stateMachineAliasArn", 1, 256)?;
    request.finish()?;
    Ok(describe_alias_record(&find_alias(service, &arn).await?))
}

pub async fn update_alias(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let arn = request.required("stateMachineAliasArn", 1, 256)?;
    let description = request.string("description", 0, 256)?;
    let (machine, _) = alias_ref(&arn)?;
    let routes = routing(service, &mut request, false, Some(&machine)).await?;
    request.finish()?;
    if description.is_none() && routes.is_none() {
        return Err(ApiError::validation_text(
            "Either the description or the RoutingConfiguration must be specified",
        ));
    }
    let mut alias = find_alias(service, &arn).await?;
    if let Some(description) = description {
        alias.description = Some(description);
    }
    if let Some((_, routing)) = routes {
        alias.routing = routing;
    }
    let now = OffsetDateTime::now_utc();
    alias.update_date = now;
    let updated = service
        .blocking(move |m| m.put_alias(&alias, Put::Update))
        .await?;
    if !updated {
        return Err(ApiError::resource_not_found(&arn));
    }
    Ok(json!({"updateDate": super::protocol::epoch(now)}))
}

pub async fn delete_alias(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let arn = request.required("stateMachineAliasArn", 1, 256)?;
    request.finish()?;
    let (machine, alias) = alias_ref(&arn)?;
    let deleted = service
        .blocking(move |m| m.delete_alias(&machine, &alias))
        .await?;
    if !deleted {
        return Err(ApiError::resource_not_found(&arn));
    }
    Ok(json!({}))
}

pub async fn list_aliases(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let arn = request.required("stateMachineArn", 1, 256)?;
    let page = request.page(1000)?;
    request.finish()?;
    let name = latest_name(&arn)?;
    service.machine(&name, &arn).await?;
    let aliases = service.blocking(move |m| m.aliases(&name)).await?;
    let (aliases, next) = page.take(
        "aliases",
        aliases,
        |a| a.name.clone(),
        |key, after| key > after,
    )?;
    let items: Vec<Value> = aliases
        .iter()
        .map(|a| {
            json!({
                "stateMachineAliasArn": arn::alias_arn(&a.machine, &a.name),
                "creationDate": super::protocol::epoch(a.creation_date),
            })
        })
        .collect();
    let mut answer = json!({"stateMachineAliases": items});
    if let Some(next) = next {
        answer["nextToken"] = json!(next);
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_follows_the_weights() {
        assert_eq!(pick(&[(3, 100)]), 3);
        assert_eq!(pick(&[(1, 0), (2, 100)]), 2);
        let picks: Vec<u32> = (0..2000).map(|_| pick(&[(1, 50), (2, 50)])).collect();
        let ones = picks.iter().filter(|&&v| v == 1).count();
        // 2,000 fair draws land within 800..1,200 except with negligible odds.
        assert!((800..1200).contains(&ones), "{ones} of 2000");
    }
}
