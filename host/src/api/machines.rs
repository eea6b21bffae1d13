//! State machine operations: Create, Describe, Update, Delete, List,
//! ValidateStateMachineDefinition, DescribeStateMachineForExecution and the
//! tag operations.

use std::sync::Arc;

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::Service;
use super::arn::{self, MachineRef};
use super::protocol::{ApiError, Request, echo, epoch, valid_name};
use crate::asl::{self, MachineType};
use crate::engine::ExecutionType;
use crate::store::{MachineRecord, Put};

/// AWS's largest definition: 1 MiB (checklist QUOTA-04).
const DEFINITION_LIMIT: usize = 1024 * 1024;
/// AWS's most tags per resource (checklist QUOTA-04).
const TAG_LIMIT: usize = 50;
const ROLE: &str = "arn:aws:iam::000000000000:role/sandstep";

fn machine_type(request: &mut Request) -> Result<ExecutionType, ApiError> {
    Ok(
        match request.one_of("type", &["STANDARD", "EXPRESS"])?.as_deref() {
            Some("EXPRESS") => ExecutionType::Express,
            _ => ExecutionType::Standard,
        },
    )
}

fn type_name(kind: ExecutionType) -> &'static str {
    crate::store::kind_str(kind)
}

/// `loggingConfiguration` and `tracingConfiguration`, kept as given.
fn config(request: &mut Request) -> Value {
    let mut config = serde_json::Map::new();
    for member in ["loggingConfiguration", "tracingConfiguration"] {
        if let Some(value) = request.raw(member) {
            config.insert(member.to_owned(), value);
        }
    }
    Value::Object(config)
}

/// The logging configuration a record's config holds, as the log reads it.
fn logging_of(config: &Value) -> Option<crate::ops::LogConfig> {
    config
        .get("loggingConfiguration")
        .map(crate::ops::LogConfig::from_json)
}

/// `tags` as `(key, value)` pairs, with AWS's bounds.
fn tags(request: &mut Request, member: &str) -> Result<Vec<(String, String)>, ApiError> {
    let Some(value) = request.raw(member) else {
        return Ok(Vec::new());
    };
    let bad = || {
        ApiError::coral(
            "SerializationException",
            format!("member '{member}' must be a list of {{\"key\", \"value\"}} objects"),
        )
    };
    let items = value.as_array().ok_or_else(bad)?;
    let mut pairs = Vec::new();
    for item in items {
        let key = item.get("key").and_then(Value::as_str).ok_or_else(bad)?;
        let value = item.get("value").and_then(Value::as_str).unwrap_or("");
        if key.is_empty() || key.chars().count() > 128 || value.chars().count() > 256 {
            request.problem(format!(
                "Value '{}' at '{member}' failed to satisfy constraint: a tag key has 1 to 128 characters, a value at most 256",
                echo(key)
            ));
        }
        pairs.push((key.to_owned(), value.to_owned()));
    }
    Ok(pairs)
}

fn too_many_tags(arn: &str) -> ApiError {
    ApiError::service(
        "TooManyTags",
        format!(
            "Too many tags: a resource has at most {TAG_LIMIT} tags: '{}'",
            echo(arn)
        ),
    )
}

pub async fn create(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let name = request.required("name", 1, 80)?;
    let definition = request.required("definition", 1, DEFINITION_LIMIT)?;
    let role_arn = request
        .string("roleArn", 1, 256)?
        .unwrap_or_else(|| ROLE.into());
    let kind = machine_type(&mut request)?;
    let config = config(&mut request);
    let tags = tags(&mut request, "tags")?;
    let publish = request.boolean("publish")?.unwrap_or(false);
    let description = request.string("versionDescription", 0, 256)?;
    request.finish()?;
    if description.is_some() && !publish {
        return Err(ApiError::validation_text(
            "Version description can only be set when publish is true",
        ));
    }
    if !valid_name(&name) {
        return Err(ApiError::invalid_name(&name));
    }
    service.parse(&definition, kind)?;
    let arn = arn::machine_arn(&name);
    if tags.len() > TAG_LIMIT {
        return Err(too_many_tags(&arn));
    }
    let now = OffsetDateTime::now_utc();
    let record = MachineRecord {
        name: name.clone(),
        kind,
        definition,
        role_arn,
        config,
        revision_id: uuid::Uuid::new_v4().to_string(),
        creation_date: now,
        update_date: now,
    };
    let stored = record.clone();
    let created = service
        .blocking(move |m| m.put_machine(&stored, Put::Create))
        .await?;
    service.forget(&name);
    let record = if created {
        record
    } else {
        // Idempotent, as on AWS: the same definition, type and
        // configuration answer with the existing machine.
        let existing = service.machine(&name, &arn).await?;
        let same = existing.definition == record.definition
            && existing.kind == record.kind
            && existing.config == record.config;
        if !same {
            return Err(ApiError::service(
                "StateMachineAlreadyExists",
                format!("State Machine Already Exists: '{arn}'"),
            ));
        }
        existing
    };
    if !tags.is_empty() {
        let machine = name.clone();
        service
            .blocking(move |m| m.set_tags(&machine, &tags))
            .await?;
    }
    let mut answer = json!({"stateMachineArn": arn, "creationDate": epoch(record.creation_date)});
    if publish {
        let machine = name.clone();
        let version = service
            .blocking(move |m| m.publish_version(&machine, description.as_deref(), now))
            .await?
            .ok_or_else(|| ApiError::machine_does_not_exist(&arn))?;
        answer["stateMachineVersionArn"] = json!(arn::version_arn(&name, version.version));
    }
    Ok(answer)
}

/// A state machine, version or alias ARN's machine (no alias for `what`).
fn machine_ref(arn: &str) -> Result<MachineRef, ApiError> {
    arn::parse_machine(arn)
}

pub async fn describe(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let arn = request.required("stateMachineArn", 1, 256)?;
    let metadata_only = request.one_of("includedData", &["ALL_DATA", "METADATA_ONLY"])?
        == Some("METADATA_ONLY".into());
    request.finish()?;
    let reference = machine_ref(&arn)?;
    let record = service.machine(reference.name(), &arn).await?;
    let mut described = describe_record(&record, metadata_only);
    match reference {
        MachineRef::Latest(_) => {}
        MachineRef::Version(name, n) => {
            let version = service.version(&name, n, &arn).await?;
            described["stateMachineArn"] = json!(arn::version_arn(&name, n));
            described["definition"] = json!(if metadata_only {
                "{}"
            } else {
                &version.definition
            });
            described["roleArn"] = json!(version.role_arn);
            described["revisionId"] = json!(version.revision_id);
            described["creationDate"] = epoch(version.creation_date);
            if let Some(description) = version.description {
                described["description"] = json!(description);
            }
        }
        MachineRef::Alias(..) => {
            return Err(ApiError::invalid_arn(
                &arn,
                "Resource type not valid in this context: alias",
            ));
        }
    }
    Ok(described)
}

fn describe_record(record: &MachineRecord, metadata_only: bool) -> Value {
    let mut described = json!({
        "stateMachineArn": arn::machine_arn(&record.name),
        "name": record.name,
        "status": "ACTIVE",
        "definition": if metadata_only { "{}" } else { &record.definition },
        "roleArn": record.role_arn,
        "type": type_name(record.kind),
        "creationDate": epoch(record.creation_date),
        "revisionId": record.revision_id,
        "loggingConfiguration": record.config.get("loggingConfiguration").cloned()
            .unwrap_or_else(|| json!({"level": "OFF", "includeExecutionData": false})),
    });
    if let Some(tracing) = record.config.get("tracingConfiguration") {
        described["tracingConfiguration"] = tracing.clone();
    }
    described
}

pub async fn update(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let arn = request.required("stateMachineArn", 1, 256)?;
    let definition = request.string("definition", 1, DEFINITION_LIMIT)?;
    let role_arn = request.string("roleArn", 1, 256)?;
    let config = config(&mut request);
    let publish = request.boolean("publish")?.unwrap_or(false);
    let description = request.string("versionDescription", 0, 256)?;
    request.finish()?;
    if description.is_some() && !publish {
        return Err(ApiError::validation_text(
            "Version description can only be set when publish is true",
        ));
    }
    if definition.is_none() && role_arn.is_none() && config.as_object().is_none_or(|c| c.is_empty())
    {
        return Err(ApiError::service(
            "MissingRequiredParameter",
            "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified",
        ));
    }
    let MachineRef::Latest(name) = machine_ref(&arn)? else {
        return Err(ApiError::invalid_arn(
            &arn,
            "Resource type not valid in this context: a version or alias",
        ));
    };
    let mut record = service.machine(&name, &arn).await?;
    if let Some(definition) = definition {
        service.parse(&definition, record.kind)?;
        if definition != record.definition {
            record.revision_id = uuid::Uuid::new_v4().to_string();
        }
        record.definition = definition;
    }
    if let Some(role_arn) = role_arn {
        if role_arn != record.role_arn {
            record.revision_id = uuid::Uuid::new_v4().to_string();
        }
        record.role_arn = role_arn;
    }
    if let (Some(current), Some(given)) = (record.config.as_object_mut(), config.as_object()) {
        for (key, value) in given {
            current.insert(key.clone(), value.clone());
        }
    }
    let now = OffsetDateTime::now_utc();
    record.update_date = now;
    let stored = record.clone();
    let updated = service
        .blocking(move |m| m.put_machine(&stored, Put::Update))
        .await?;
    service.forget(&name);
    if !updated {
        return Err(ApiError::machine_does_not_exist(&arn));
    }
    let mut answer = json!({"updateDate": epoch(now), "revisionId": record.revision_id});
    if publish {
        let machine = name.clone();
        let version = service
            .blocking(move |m| m.publish_version(&machine, description.as_deref(), now))
            .await?
            .ok_or_else(|| ApiError::machine_does_not_exist(&arn))?;
        answer["stateMachineVersionArn"] = json!(arn::version_arn(&name, version.version));
    }
    Ok(answer)
}

pub async fn delete(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let arn = request.required("stateMachineArn", 1, 256)?;
    request.finish()?;
    let reference = machine_ref(&arn)?;
    match reference {
        MachineRef::Latest(name) => {
            // Deleting what does not exist succeeds on AWS too.
            let owned = name.clone();
            service.blocking(move |m| m.delete_machine(&owned)).await?;
            service.forget(&name);
            Ok(json!({}))
        }
        _ => Err(ApiError::invalid_arn(
            &arn,
            "Resource type not valid in this context: use DeleteStateMachineVersion or DeleteStateMachineAlias",
        )),
    }
}

pub async fn list(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let page = request.page(1000)?;
    request.finish()?;
    let records = service.blocking(|m| m.machines()).await?;
    let (records, next) = page.take(
        "machines",
        records,
        |r| r.name.clone(),
        |key, after| key > after,
    )?;
    let items: Vec<Value> = records
        .iter()
        .map(|r| {
            json!({
                "stateMachineArn": arn::machine_arn(&r.name),
                "name": r.name,
                "type": type_name(r.kind),
                "creationDate": epoch(r.creation_date),
            })
        })
        .collect();
    let mut answer = json!({"stateMachines": items});
    if let Some(next) = next {
        answer["nextToken"] = json!(next);
    }
    Ok(answer)
}

pub fn validate(mut request: Request) -> Result<Value, ApiError> {
    let definition = request.required("definition", 1, DEFINITION_LIMIT)?;
    let kind = request.one_of("type", &["STANDARD", "EXPRESS"])?;
    let severity = request.one_of("severity", &["ERROR", "WARNING"])?;
    let max = request.integer("maxResults", 0, 100)?.unwrap_or(0);
    request.finish()?;
    let _ = severity; // Every diagnostic found is an ERROR.
    let ty = match kind.as_deref() {
        Some("EXPRESS") => MachineType::Express,
        _ => MachineType::Standard,
    };
    let mut report = asl::ValidationReport::new(asl::validate::validate_text_as(&definition, ty));
    let limit = match usize::try_from(max) {
        Ok(0) | Err(_) => 100,
        Ok(n) => n,
    };
    if report.diagnostics.len() > limit {
        report.diagnostics.truncate(limit);
        report.truncated = true;
    }
    let diagnostics: Vec<Value> = report
        .diagnostics
        .iter()
        .map(|d| {
            let mut entry = json!({"severity": "ERROR", "code": d.code, "message": d.message});
            if let Some(location) = &d.location {
                entry["location"] = json!(location);
            }
            entry
        })
        .collect();
    Ok(json!({
        "result": report.result,
        "diagnostics": diagnostics,
        "truncated": report.truncated,
    }))
}

pub async fn describe_for_execution(
    service: &Arc<Service>,
    mut request: Request,
) -> Result<Value, ApiError> {
    let arn = request.required("executionArn", 1, 256)?;
    let metadata_only = request.one_of("includedData", &["ALL_DATA", "METADATA_ONLY"])?
        == Some("METADATA_ONLY".into());
    request.finish()?;
    let execution = super::executions::find(service, &arn).await?;
    let machine = service
        .blocking({
            let name = execution.machine_name.clone();
            move |m| m.machine(&name)
        })
        .await?;
    let mut described = json!({
        "stateMachineArn": arn::machine_arn(&execution.machine_name),
        "name": execution.machine_name,
        "definition": if metadata_only { "{}" } else { &execution.definition },
        "roleArn": machine.as_ref().map_or(ROLE, |m| m.role_arn.as_str()),
        "updateDate": epoch(machine.as_ref().map_or(execution.start_date, |m| m.update_date)),
    });
    if let Some(record) = &machine
        && record.definition == execution.definition
    {
        described["revisionId"] = json!(record.revision_id);
    }
    Ok(described)
}

/// The machine a taggable ARN names (a state machine, not a version or alias).
fn taggable(arn: &str) -> Result<String, ApiError> {
    match arn::parse_machine(arn)? {
        MachineRef::Latest(name) => Ok(name),
        _ => Err(ApiError::invalid_arn(
            arn,
            "Resource type not valid in this context: tags belong to the state machine",
        )),
    }
}

async fn existing(service: &Arc<Service>, arn: &str) -> Result<String, ApiError> {
    let name = taggable(arn)?;
    let owned = name.clone();
    match service.blocking(move |m| m.machine(&owned)).await? {
        Some(_) => Ok(name),
        None => Err(ApiError::resource_not_found(arn)),
    }
}

pub async fn tag(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let arn = request.required("resourceArn", 1, 256)?;
    let given = tags(&mut request, "tags")?;
    if given.is_empty() {
        request.problem(
            "Value null at 'tags' failed to satisfy constraint: Member must not be null".into(),
        );
    }
    request.finish()?;
    let name = existing(service, &arn).await?;
    let owned = name.clone();
    let current = service.blocking(move |m| m.tags(&owned)).await?;
    let mut keys: Vec<&str> = current.iter().map(|(k, _)| k.as_str()).collect();
    keys.extend(given.iter().map(|(k, _)| k.as_str()));
    keys.sort_unstable();
    keys.dedup();
    if keys.len() > TAG_LIMIT {
        return Err(too_many_tags(&arn));
    }
    service.blocking(move |m| m.set_tags(&name, &given)).await?;
    Ok(json!({}))
}

pub async fn untag(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let arn = request.required("resourceArn", 1, 256)?;
    let keys = request.strings("tagKeys")?;
    if keys.is_none() {
        request.problem(
            "Value null at 'tagKeys' failed to satisfy constraint: Member must not be null".into(),
        );
    }
    request.finish()?;
    let name = existing(service, &arn).await?;
    let keys = keys.unwrap_or_default();
    service
        .blocking(move |m| m.remove_tags(&name, &keys))
        .await?;
    Ok(json!({}))
}

pub async fn list_tags(service: &Arc<Service>, mut request: Request) -> Result<Value, ApiError> {
    let arn = request.required("resourceArn", 1, 256)?;
    request.finish()?;
    let name = existing(service, &arn).await?;
    let tags = service.blocking(move |m| m.tags(&name)).await?;
    let tags: Vec<Value> = tags
        .into_iter()
        .map(|(key, value)| json!({"key": key, "value": value}))
        .collect();
    Ok(json!({"tags": tags}))
}

/// Creates or updates the state machines a manifest declares (publishing
/// a version whenever the definition changed), so a deployment is a file
/// in version control. Returns one line per machine saying what was done.
pub async fn deploy(
    service: &Arc<Service>,
    declared: &[crate::resources::MachineDecl],
) -> anyhow::Result<Vec<String>> {
    let mut done = Vec::new();
    for decl in declared {
        let name = decl.name.clone();
        let definition = std::fs::read_to_string(&decl.definition).map_err(|e| {
            anyhow::anyhow!(
                "state machine {name:?}: cannot read its definition {}: {e}",
                decl.definition.display()
            )
        })?;
        let kind = if decl.express {
            ExecutionType::Express
        } else {
            ExecutionType::Standard
        };
        let problem = |e: ApiError| anyhow::anyhow!("state machine {name:?}: {}", e.message);
        let config = match decl.logging {
            Some(logging) => json!({"loggingConfiguration": logging.to_json()}),
            None => json!({}),
        };
        if !valid_name(&name) {
            return Err(problem(ApiError::invalid_name(&name)));
        }
        service.parse(&definition, kind).map_err(problem)?;
        let owned = name.clone();
        let existing = service
            .blocking(move |m| m.machine(&owned))
            .await
            .map_err(problem)?;
        let now = OffsetDateTime::now_utc();
        let what = match existing {
            Some(record) if record.kind != kind => anyhow::bail!(
                "state machine {name:?} exists as {} and the manifest declares it {}: a type is fixed at creation; delete it first or rename it",
                type_name(record.kind),
                type_name(kind)
            ),
            Some(record)
                if record.definition == definition
                    && logging_of(&record.config) == logging_of(&config) =>
            {
                done.push(format!("state machine {name}: unchanged"));
                continue;
            }
            Some(mut record) => {
                record.definition = definition;
                if let Some(object) = record.config.as_object_mut() {
                    match config.get("loggingConfiguration") {
                        Some(logging) => {
                            object.insert("loggingConfiguration".into(), logging.clone());
                        }
                        None => {
                            object.remove("loggingConfiguration");
                        }
                    }
                }
                record.revision_id = uuid::Uuid::new_v4().to_string();
                record.update_date = now;
                service
                    .blocking(move |m| m.put_machine(&record, Put::Update))
                    .await
                    .map_err(problem)?;
                service.forget(&name);
                "updated"
            }
            None => {
                let record = MachineRecord {
                    name: name.clone(),
                    kind,
                    definition,
                    role_arn: ROLE.into(),
                    config,
                    revision_id: uuid::Uuid::new_v4().to_string(),
                    creation_date: now,
                    update_date: now,
                };
                service
                    .blocking(move |m| m.put_machine(&record, Put::Create))
                    .await
                    .map_err(problem)?;
                "created"
            }
        };
        let owned = name.clone();
        let version = service
            .blocking(move |m| m.publish_version(&owned, Some("from the manifest"), now))
            .await
            .map_err(problem)?
            .ok_or_else(|| anyhow::anyhow!("state machine {name:?} vanished while deploying it"))?;
        done.push(format!(
            "state machine {name}: {what}, version {}",
            version.version
        ));
    }
    Ok(done)
}
