//! The ARNs the API takes and gives (checklist ARN-01, ARN-02). Any
//! partition, region and account are accepted; resources are found by name,
//! and ARNs are given back in the host's own form
//! (`arn:aws:states:local:000000000000:...`).

use super::protocol::ApiError;

/// What a state machine ARN names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MachineRef {
    /// The state machine itself: its latest revision.
    Latest(String),
    /// `...:<name>:<N>`.
    Version(String, u32),
    /// `...:<name>:<alias>`.
    Alias(String, String),
}

impl MachineRef {
    pub fn name(&self) -> &str {
        match self {
            MachineRef::Latest(name)
            | MachineRef::Version(name, _)
            | MachineRef::Alias(name, _) => name,
        }
    }

    /// The host's ARN for it.
    pub fn arn(&self) -> String {
        match self {
            MachineRef::Latest(name) => machine_arn(name),
            MachineRef::Version(name, n) => version_arn(name, *n),
            MachineRef::Alias(name, alias) => alias_arn(name, alias),
        }
    }
}

pub fn machine_arn(name: &str) -> String {
    crate::engine::state_machine_arn(name)
}

pub fn version_arn(name: &str, version: u32) -> String {
    format!("{}:{version}", machine_arn(name))
}

pub fn alias_arn(name: &str, alias: &str) -> String {
    format!("{}:{alias}", machine_arn(name))
}

/// The resource type and the rest of an `arn:<p>:states:<r>:<a>:<type>:<rest>`.
fn split(arn: &str) -> Result<(&str, &str), ApiError> {
    let mut parts = arn.splitn(7, ':');
    let fields: Vec<&str> = parts.by_ref().collect();
    match fields.as_slice() {
        ["arn", partition, "states", _region, _account, kind, rest]
            if !partition.is_empty() && !rest.is_empty() =>
        {
            Ok((kind, rest))
        }
        _ => Err(ApiError::invalid_arn(arn, "Invalid ARN prefix")),
    }
}

fn wrong_type(arn: &str, kind: &str) -> ApiError {
    ApiError::invalid_arn(
        arn,
        &format!(
            "Resource type not valid in this context: {}",
            super::protocol::echo(kind)
        ),
    )
}

/// A state machine, version or alias ARN.
pub fn parse_machine(arn: &str) -> Result<MachineRef, ApiError> {
    let (kind, rest) = split(arn)?;
    if kind != "stateMachine" {
        return Err(wrong_type(arn, kind));
    }
    let bad = || ApiError::invalid_arn(arn, "Invalid ARN");
    let mut parts = rest.split(':');
    let name = parts.next().filter(|n| !n.is_empty()).ok_or_else(bad)?;
    let qualifier = parts.next();
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok(match qualifier {
        None => MachineRef::Latest(name.to_owned()),
        Some(q) if !q.is_empty() && q.bytes().all(|b| b.is_ascii_digit()) => {
            MachineRef::Version(name.to_owned(), q.parse().map_err(|_| bad())?)
        }
        Some(q) if super::protocol::valid_alias_name(q) => {
            MachineRef::Alias(name.to_owned(), q.to_owned())
        }
        Some(_) => return Err(bad()),
    })
}

/// An execution ARN: Standard (`execution:<machine>:<name>`) or Express
/// (`express:<machine>:<name>:<id>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionRef {
    pub express: bool,
    pub machine: String,
    pub name: String,
    /// The host's ARN for it.
    pub arn: String,
}

pub fn parse_execution(arn: &str) -> Result<ExecutionRef, ApiError> {
    let (kind, rest) = split(arn)?;
    let bad = || ApiError::invalid_arn(arn, "Invalid ARN");
    match kind {
        "execution" => {
            let (machine, name) = rest.split_once(':').ok_or_else(bad)?;
            if machine.is_empty() || name.is_empty() || name.contains(':') {
                return Err(bad());
            }
            Ok(ExecutionRef {
                express: false,
                arn: crate::engine::execution_arn(
                    crate::engine::ExecutionType::Standard,
                    machine,
                    name,
                ),
                machine: machine.to_owned(),
                name: name.to_owned(),
            })
        }
        "express" => {
            let fields: Vec<&str> = rest.split(':').collect();
            let [machine, name, id] = fields.as_slice() else {
                return Err(bad());
            };
            if machine.is_empty() || name.is_empty() || id.is_empty() {
                return Err(bad());
            }
            Ok(ExecutionRef {
                express: true,
                arn: express_arn(machine, name, id),
                machine: (*machine).to_owned(),
                name: (*name).to_owned(),
            })
        }
        other => Err(wrong_type(arn, other)),
    }
}

/// An Express execution's ARN: the engine's, plus a unique id (names of
/// Express executions may be reused).
pub fn express_arn(machine: &str, name: &str, id: &str) -> String {
    format!(
        "{}:{id}",
        crate::engine::execution_arn(crate::engine::ExecutionType::Express, machine, name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_arns_name_latest_versions_and_aliases() {
        let base = "arn:aws:states:us-east-1:123456789012:stateMachine:etl";
        assert_eq!(parse_machine(base), Ok(MachineRef::Latest("etl".into())));
        assert_eq!(
            parse_machine(&format!("{base}:3")),
            Ok(MachineRef::Version("etl".into(), 3))
        );
        assert_eq!(
            parse_machine(&format!("{base}:prod")),
            Ok(MachineRef::Alias("etl".into(), "prod".into()))
        );
        let e = parse_machine("not-an-arn").expect_err("not an ARN");
        assert_eq!(e.message, "Invalid Arn: 'Invalid ARN prefix: not-an-arn'");
        let e = parse_machine("arn:aws:states:r:a:activity:x").expect_err("activity");
        assert!(
            e.message
                .contains("Resource type not valid in this context: activity")
        );
        assert!(parse_machine(&format!("{base}:99999999999")).is_err());
    }

    #[test]
    fn execution_arns_are_normalised_to_the_hosts() {
        let parsed = parse_execution("arn:aws:states:eu-west-1:1:execution:etl:run-1").expect("ok");
        assert_eq!(
            parsed.arn,
            "arn:aws:states:local:000000000000:execution:etl:run-1"
        );
        let express = parse_execution("arn:aws:states:local:000000000000:express:etl:r:abc")
            .expect("express");
        assert!(express.express);
        assert_eq!(express.name, "r");
        assert!(parse_execution("arn:aws:states:r:a:execution:etl").is_err());
    }
}
