//! Task definition revisions: RegisterTaskDefinition, DescribeTaskDefinition, TagResource and
//! DeregisterTaskDefinition. The body is kept as registered, plus what ECS adds to it.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::world::{ACCOUNT, Fail, REGION, WALL_CLOCK_EPOCH};
use crate::platform::Revision;
use crate::taskdef::{READ_ONLY_FIELDS, TaskDefinition};

const EPOCH_SECONDS: f64 = WALL_CLOCK_EPOCH as f64;

#[derive(Debug, Clone, Default)]
pub(crate) struct TaskDefinitions {
    /// In registration order.
    revisions: Vec<Revision>,
    /// The last revision number of each family; numbers are never reused.
    last_revision: BTreeMap<String, i64>,
}

pub(crate) fn is_active(revision: &Revision) -> bool {
    revision.body.get("status").and_then(Value::as_str) == Some("ACTIVE")
}

impl TaskDefinitions {
    /// Registers a revision. `elapsed_seconds` (virtual time) becomes `registeredAt`.
    pub fn register(
        &mut self,
        body: &Value,
        tags: &BTreeMap<String, String>,
        elapsed_seconds: f64,
    ) -> Result<Revision, Fail> {
        let Value::Object(request) = body else {
            return Err(Fail::invalid(
                "ClientException: the request must be a JSON object",
            ));
        };
        if let Some(field) = READ_ONLY_FIELDS.iter().find(|f| request.contains_key(**f)) {
            return Err(Fail::invalid(format!(
                "Unknown parameter in input: \"{field}\" (DescribeTaskDefinition returns it; RegisterTaskDefinition does not accept it)"
            )));
        }
        let mut request = request.clone();
        let mut all_tags = match request.remove("tags") {
            Some(t) => tags_from_json(&t)?,
            None => BTreeMap::new(),
        };
        all_tags.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        let td = TaskDefinition::parse(
            &Value::Object(request.clone()).to_string(),
            "RegisterTaskDefinition",
        )
        .map_err(|e| Fail::invalid(format!("ClientException: {e}")))?;
        require_memory(&request)?;

        let family = td.family().to_string();
        let revision = self.last_revision.entry(family.clone()).or_default();
        *revision += 1;
        let revision = *revision;
        let arn = format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:{revision}");
        let compatibilities: Vec<&str> = match td.network_mode() {
            "awsvpc" => vec!["EC2", "FARGATE"],
            _ => vec!["EC2"],
        };
        let mut stored = Map::new();
        stored.insert("taskDefinitionArn".into(), json!(arn));
        stored.extend(with_ecs_defaults(request));
        stored.insert("revision".into(), json!(revision));
        stored.insert("status".into(), json!("ACTIVE"));
        stored.insert(
            "requiresAttributes".into(),
            json!([{ "name": "com.amazonaws.ecs.capability.docker-remote-api.1.18" }]),
        );
        stored.insert("compatibilities".into(), json!(compatibilities));
        stored.insert(
            "registeredAt".into(),
            json!(EPOCH_SECONDS + elapsed_seconds),
        );
        stored.insert(
            "registeredBy".into(),
            json!(format!("arn:aws:iam::{ACCOUNT}:user/ecs-roll-sim")),
        );
        let registered = Revision {
            arn,
            family,
            revision,
            body: Value::Object(stored),
            tags: all_tags,
        };
        self.revisions.push(registered.clone());
        Ok(registered)
    }

    /// A revision by ARN, `family:revision`, or family alone (its latest ACTIVE revision).
    pub fn find(&self, reference: &str) -> Option<&Revision> {
        if reference.starts_with("arn:") {
            return self.revisions.iter().find(|r| r.arn == reference);
        }
        match reference.rsplit_once(':') {
            Some((family, number)) => {
                let number: i64 = number.parse().ok()?;
                self.revisions
                    .iter()
                    .find(|r| r.family == family && r.revision == number)
            }
            None => self
                .revisions
                .iter()
                .filter(|r| r.family == reference && is_active(r))
                .max_by_key(|r| r.revision),
        }
    }

    /// ListTaskDefinitions with an exact family and status ACTIVE: ARNs, oldest first.
    pub fn active_of(&self, family: &str) -> Vec<String> {
        self.revisions
            .iter()
            .filter(|r| r.family == family && is_active(r))
            .map(|r| r.arn.clone())
            .collect()
    }

    /// `find`, or the error DescribeTaskDefinition gives.
    pub fn describe(&self, reference: &str) -> Result<&Revision, Fail> {
        self.find(reference).ok_or_else(|| {
            Fail::not_found(format!(
                "ClientException: unable to describe task definition {reference}"
            ))
        })
    }

    fn find_mut(&mut self, reference: &str) -> Result<&mut Revision, Fail> {
        let arn = self.describe(reference)?.arn.clone();
        Ok(self
            .revisions
            .iter_mut()
            .find(|r| r.arn == arn)
            .expect("found just above"))
    }

    /// TagResource on a task definition ARN: merges, a key given again takes the new value.
    pub fn tag(&mut self, arn: &str, tags: &BTreeMap<String, String>) -> Result<(), Fail> {
        if !arn.starts_with("arn:") {
            return Err(Fail::invalid(format!(
                "InvalidParameterException: {arn} is not an ARN"
            )));
        }
        let revision = self.find_mut(arn)?;
        revision
            .tags
            .extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(())
    }

    /// DeregisterTaskDefinition: the revision turns INACTIVE and is no longer a family's latest.
    pub fn deregister(&mut self, reference: &str, elapsed_seconds: f64) -> Result<Revision, Fail> {
        let revision = self.find_mut(reference)?;
        if let Value::Object(body) = &mut revision.body {
            body.insert("status".into(), json!("INACTIVE"));
            body.insert(
                "deregisteredAt".into(),
                json!(EPOCH_SECONDS + elapsed_seconds),
            );
        }
        Ok(revision.clone())
    }
}

/// RegisterTaskDefinition's `tags`: `[{"key": .., "value": ..}]`.
fn tags_from_json(tags: &Value) -> Result<BTreeMap<String, String>, Fail> {
    let bad = || {
        Fail::invalid("ClientException: \"tags\" must be a list of {\"key\", \"value\"} objects")
    };
    tags.as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|t| {
            let key = t.get("key").and_then(Value::as_str).ok_or_else(bad)?;
            let value = t.get("value").and_then(Value::as_str).unwrap_or_default();
            Ok((key.to_string(), value.to_string()))
        })
        .collect()
}

/// On EC2 every container needs `memory` or `memoryReservation` unless the task sets `memory`.
fn require_memory(request: &Map<String, Value>) -> Result<(), Fail> {
    if request.contains_key("memory") {
        return Ok(());
    }
    let containers = request
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for c in containers {
        if c.get("memory").is_none() && c.get("memoryReservation").is_none() {
            let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
            return Err(Fail::invalid(format!(
                "ClientException: Invalid setting for container '{name}'. At least one of 'memory' or 'memoryReservation' must be specified."
            )));
        }
    }
    Ok(())
}

/// The defaults DescribeTaskDefinition shows for fields the request left out.
fn with_ecs_defaults(mut body: Map<String, Value>) -> Map<String, Value> {
    if let Some(Value::Array(containers)) = body.get_mut("containerDefinitions") {
        for container in containers.iter_mut().filter_map(Value::as_object_mut) {
            for (key, default) in [
                ("cpu", json!(0)),
                ("essential", json!(true)),
                ("environment", json!([])),
                ("mountPoints", json!([])),
                ("volumesFrom", json!([])),
            ] {
                container.entry(key).or_insert(default);
            }
            if let Some(Value::Array(mappings)) = container.get_mut("portMappings") {
                for m in mappings.iter_mut().filter_map(Value::as_object_mut) {
                    m.entry("protocol").or_insert(json!("tcp"));
                }
            }
        }
    }
    for key in ["volumes", "placementConstraints"] {
        body.entry(key).or_insert(json!([]));
    }
    body
}
