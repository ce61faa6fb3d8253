//! Task definitions as JSON, never through the SDK's typed structs: a field that ECS added after
//! our SDK version was built must survive a clone, so the document is kept as
//! `serde_json::Value` from file or DescribeTaskDefinition all the way to the wire.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Map, Value};

use crate::image::ImageRef;
use crate::platform::Revision;

/// Fields DescribeTaskDefinition returns that RegisterTaskDefinition rejects.
pub const READ_ONLY_FIELDS: &[&str] = &[
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
];

/// Every top-level member of RegisterTaskDefinition (from aws-sdk-ecs's model). Others are
/// kept and sent as they are (ECS may be newer than us), but one that looks like a misspelling
/// of a known member is refused.
pub fn known_fields() -> impl Iterator<Item = &'static str> + Clone {
    schema::top_level()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskDefError {
    #[error("{path}: not valid JSON: {detail}")]
    Json { path: String, detail: String },
    #[error("{path}: {problem}")]
    Shape { path: String, problem: String },
    #[error("the task definition has no container named {name:?} (it has: {available})")]
    NoSuchContainer { name: String, available: String },
    #[error("the task definition has {count} containers ({names}); say which one gets the image")]
    AmbiguousContainer { count: usize, names: String },
}

/// A RegisterTaskDefinition request document.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskDefinition {
    body: Map<String, Value>,
    /// Paths of empty enum values the file had, left out (ECS refuses `""`).
    dropped_empty: Vec<String>,
    /// Paths of nested members our model of ECS's API lacks, kept as they are.
    unknown_nested: Vec<String>,
}

/// What reading a task definition file found that a user should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldNote {
    /// A top-level member ecs-roll does not know (ECS may be newer): sent as it is.
    Unknown(String),
    /// An enum member given as `""`: left out, so ECS's default applies.
    EmptyEnumDropped(String),
}

/// CPU units and MiB a task reserves on a container instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reservation {
    pub cpu: i64,
    pub memory: i64,
}

impl TaskDefinition {
    pub fn from_file(path: &Path) -> Result<TaskDefinition, TaskDefError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| TaskDefError::Shape {
            path: shown.clone(),
            problem: format!("cannot read the file: {e}"),
        })?;
        Self::parse(&text, &shown)
    }

    /// Parses `aws ecs register-task-definition --cli-input-json` input, or the output of
    /// `aws ecs describe-task-definition` (the `taskDefinition` object is unwrapped).
    pub fn parse(text: &str, origin: &str) -> Result<TaskDefinition, TaskDefError> {
        let value: Value = serde_json::from_str(text).map_err(|e| TaskDefError::Json {
            path: origin.into(),
            detail: e.to_string(),
        })?;
        let Value::Object(mut body) = value else {
            return Err(shape(origin, "the document must be a JSON object"));
        };
        // DescribeTaskDefinition's output wraps the definition; a definition that has its own
        // `family` or containers is not a wrapper, whatever members it carries.
        let is_wrapper = !body.contains_key("family") && !body.contains_key("containerDefinitions");
        if is_wrapper && let Some(Value::Object(inner)) = body.get("taskDefinition") {
            let tags = body.get("tags").cloned();
            body = inner.clone();
            if let Some(tags) = tags {
                body.insert("tags".into(), tags);
            }
        }
        let mut body = strip_read_only(body);
        let walked = schema::walk(&mut body).map_err(|problem| shape(origin, &problem))?;
        let td = TaskDefinition {
            body,
            dropped_empty: walked.dropped_empty,
            unknown_nested: walked.unknown,
        };
        td.validate(origin)?;
        Ok(td)
    }

    /// The registerable document of a revision ECS returned.
    pub fn from_revision(rev: &Revision) -> TaskDefinition {
        let body = match &rev.body {
            Value::Object(m) => strip_read_only(m.clone()),
            _ => Map::new(),
        };
        TaskDefinition {
            body,
            dropped_empty: Vec::new(),
            unknown_nested: Vec::new(),
        }
    }

    fn validate(&self, origin: &str) -> Result<(), TaskDefError> {
        for key in self.body.keys() {
            if known_fields().any(|k| k == key) {
                continue;
            }
            if let Some(known) = known_fields().find(|k| crate::suggest::close(key, k)) {
                return Err(shape(
                    origin,
                    &format!("unknown field {key:?}: did you mean {known:?}?"),
                ));
            }
        }
        match self.body.get("family") {
            Some(Value::String(f)) if valid_family(f) => {}
            Some(Value::String(f)) => {
                return Err(shape(
                    origin,
                    &format!(
                        "\"family\" {f:?} is not valid (letters, digits, '-' and '_', at most 255)"
                    ),
                ));
            }
            Some(_) => return Err(shape(origin, "\"family\" must be a string")),
            None => return Err(shape(origin, "\"family\" is missing")),
        }
        let containers = match self.body.get("containerDefinitions") {
            Some(Value::Array(c)) if !c.is_empty() => c,
            Some(Value::Array(_)) => {
                return Err(shape(origin, "\"containerDefinitions\" is empty"));
            }
            Some(_) => return Err(shape(origin, "\"containerDefinitions\" must be an array")),
            None => return Err(shape(origin, "\"containerDefinitions\" is missing")),
        };
        let mut names = BTreeSet::new();
        for (i, c) in containers.iter().enumerate() {
            let Value::Object(c) = c else {
                return Err(shape(
                    origin,
                    &format!("containerDefinitions[{i}] must be an object"),
                ));
            };
            let name = match c.get("name") {
                Some(Value::String(n)) if !n.is_empty() => n,
                _ => {
                    return Err(shape(
                        origin,
                        &format!("containerDefinitions[{i}] has no \"name\""),
                    ));
                }
            };
            if !names.insert(name.clone()) {
                return Err(shape(origin, &format!("two containers are named {name:?}")));
            }
            match c.get("image") {
                Some(Value::String(img)) if !img.is_empty() => {}
                _ => {
                    return Err(shape(
                        origin,
                        &format!("container {name:?} has no \"image\""),
                    ));
                }
            }
            if let Some(pm) = c.get("portMappings") {
                let Value::Array(pm) = pm else {
                    return Err(shape(
                        origin,
                        &format!("container {name:?}: \"portMappings\" must be an array"),
                    ));
                };
                for m in pm {
                    for key in ["containerPort", "hostPort"] {
                        if let Some(v) = m.get(key)
                            && v.as_u64().is_none_or(|p| p > 65535)
                        {
                            return Err(shape(
                                origin,
                                &format!("container {name:?}: {key} {v} is not a port number"),
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Fields ecs-roll does not know (top-level names, nested ones as paths such as
    /// `containerDefinitions[0].newThing`); kept and sent as they are.
    pub fn unknown_fields(&self) -> Vec<String> {
        let top = self
            .body
            .keys()
            .filter(|k| !known_fields().any(|known| known == k.as_str()));
        top.chain(&self.unknown_nested).cloned().collect()
    }

    /// Unknown members kept and empty enum values left out, for warnings.
    pub fn field_notes(&self) -> Vec<FieldNote> {
        let unknown = self.unknown_fields().into_iter().map(FieldNote::Unknown);
        let dropped = self
            .dropped_empty
            .iter()
            .cloned()
            .map(FieldNote::EmptyEnumDropped);
        unknown.chain(dropped).collect()
    }

    pub fn family(&self) -> &str {
        self.body
            .get("family")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    pub fn network_mode(&self) -> &str {
        self.body
            .get("networkMode")
            .and_then(Value::as_str)
            .unwrap_or("bridge")
    }

    fn containers(&self) -> impl Iterator<Item = &Map<String, Value>> {
        self.body
            .get("containerDefinitions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
    }

    pub fn container_names(&self) -> Vec<String> {
        self.containers()
            .filter_map(|c| c.get("name")?.as_str().map(String::from))
            .collect()
    }

    pub fn image_of(&self, container: &str) -> Option<&str> {
        self.containers()
            .find(|c| c.get("name").and_then(Value::as_str) == Some(container))
            .and_then(|c| c.get("image")?.as_str())
    }

    /// Which container gets the new image: the named one; else the only one; else the only one
    /// whose current image is from the same repository.
    pub fn pick_container(
        &self,
        named: Option<&str>,
        image: &ImageRef,
    ) -> Result<String, TaskDefError> {
        let names = self.container_names();
        if let Some(n) = named {
            return if names.iter().any(|x| x == n) {
                Ok(n.to_string())
            } else {
                Err(TaskDefError::NoSuchContainer {
                    name: n.into(),
                    available: names.join(", "),
                })
            };
        }
        if names.len() == 1 {
            return Ok(names[0].clone());
        }
        let same_repo: Vec<&String> = names
            .iter()
            .filter(|n| {
                self.image_of(n)
                    .and_then(|i| ImageRef::parse(i).ok())
                    .is_some_and(|i| i.same_repository(image))
            })
            .collect();
        match same_repo.as_slice() {
            [one] => Ok((*one).clone()),
            _ => Err(TaskDefError::AmbiguousContainer {
                count: names.len(),
                names: names.join(", "),
            }),
        }
    }

    /// A copy with `container`'s image replaced; every other field untouched.
    pub fn with_image(&self, container: &str, image: &ImageRef) -> TaskDefinition {
        let mut out = self.clone();
        if let Some(Value::Array(cs)) = out.body.get_mut("containerDefinitions") {
            for c in cs.iter_mut() {
                if c.get("name").and_then(Value::as_str) == Some(container) {
                    c["image"] = Value::String(image.to_string());
                }
            }
        }
        out
    }

    /// A copy with `container`'s variable `name` set to `value` in `environment` (in place
    /// when it is there, else appended) and dropped from its `secrets`: a variable is set one
    /// way only.
    pub fn with_env(&self, container: &str, name: &str, value: &str) -> TaskDefinition {
        let entry = serde_json::json!({"name": name, "value": value});
        self.edit_variable(container, name, Some(("environment", entry)))
    }

    /// A copy with `container`'s variable `name` taken from `value_from` (`secrets`), and
    /// dropped from its `environment`.
    pub fn with_secret(&self, container: &str, name: &str, value_from: &str) -> TaskDefinition {
        let entry = serde_json::json!({"name": name, "valueFrom": value_from});
        self.edit_variable(container, name, Some(("secrets", entry)))
    }

    /// A copy without `container`'s variable `name`, in `environment` and in `secrets`.
    pub fn without_env(&self, container: &str, name: &str) -> TaskDefinition {
        self.edit_variable(container, name, None)
    }

    /// Removes `name` from the lists it is not set in, and sets it in the one given.
    fn edit_variable(
        &self,
        container: &str,
        name: &str,
        set: Option<(&str, Value)>,
    ) -> TaskDefinition {
        let mut out = self.clone();
        let Some(Value::Array(cs)) = out.body.get_mut("containerDefinitions") else {
            return out;
        };
        let named = |e: &Value| e.get("name").and_then(Value::as_str) == Some(name);
        for c in cs.iter_mut().filter_map(Value::as_object_mut) {
            if c.get("name").and_then(Value::as_str) != Some(container) {
                continue;
            }
            for list in ["environment", "secrets"] {
                let keep = set.as_ref().is_some_and(|(l, _)| *l == list);
                if let Some(Value::Array(entries)) = c.get_mut(list)
                    && !keep
                {
                    entries.retain(|e| !named(e));
                }
            }
            if let Some((list, entry)) = &set {
                let entries = c
                    .entry(list.to_string())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(entries) = entries {
                    match entries.iter_mut().find(|e| named(e)) {
                        Some(e) => *e = entry.clone(),
                        None => entries.push(entry.clone()),
                    }
                }
            }
        }
        out
    }

    /// A copy for one-off tasks: registered in `family`, its containers without port
    /// mappings (a one-off serves no traffic, and a static host port the app's tasks already
    /// take on every instance would leave it nowhere to be placed). Every other field kept.
    pub fn as_one_off(&self, family: &str) -> TaskDefinition {
        let mut out = self.clone();
        out.body
            .insert("family".into(), Value::String(family.to_string()));
        if let Some(Value::Array(cs)) = out.body.get_mut("containerDefinitions") {
            for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                c.remove("portMappings");
            }
        }
        out
    }

    /// Host ports the task takes on an EC2 instance. In bridge mode a missing or zero hostPort
    /// is dynamic and takes none we can know; in host mode the container port is the host port;
    /// in awsvpc mode each task has its own network interface and takes none.
    pub fn static_host_ports(&self) -> Vec<u16> {
        let mode = self.network_mode();
        if mode == "awsvpc" {
            return Vec::new();
        }
        let mut ports: Vec<u16> = self
            .containers()
            .flat_map(|c| {
                c.get("portMappings")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
            })
            // The PORTS resource is TCP only; UDP mappings take PORTS_UDP.
            .filter(|m| {
                m.get("protocol")
                    .and_then(Value::as_str)
                    .is_none_or(|p| p.eq_ignore_ascii_case("tcp"))
            })
            .filter_map(|m| {
                let host = m.get("hostPort").and_then(Value::as_u64).filter(|p| *p > 0);
                let port = if mode == "host" {
                    host.or_else(|| m.get("containerPort")?.as_u64())
                } else {
                    host
                };
                port.and_then(|p| u16::try_from(p).ok())
            })
            .collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    /// What a task of this definition reserves on an instance: the task-level size when set
    /// (`"256"`, `"1 vCPU"`, `"2 GB"`), else the sum over containers, where ECS reserves the
    /// soft limit (memoryReservation) when there is one and the hard limit otherwise.
    pub fn reservation(&self) -> Reservation {
        let task_level = |k: &str, unit: i64| {
            self.body
                .get(k)
                .and_then(|v| v.as_i64().or_else(|| parse_size(v.as_str()?, unit)))
        };
        let sum = |f: &dyn Fn(&Map<String, Value>) -> Option<i64>| {
            self.containers().filter_map(f).sum::<i64>()
        };
        Reservation {
            cpu: task_level("cpu", 1024).unwrap_or_else(|| sum(&|c| c.get("cpu")?.as_i64())),
            memory: task_level("memory", 1024).unwrap_or_else(|| {
                sum(&|c| {
                    c.get("memoryReservation")
                        .or_else(|| c.get("memory"))?
                        .as_i64()
                })
            }),
        }
    }

    /// The request body for RegisterTaskDefinition.
    pub fn to_json(&self) -> Value {
        Value::Object(self.body.clone())
    }

    /// Whether two documents describe the same task once ECS's defaults are discounted: a
    /// revision ECS returns carries empty lists, `cpu: 0` and `essential: true` that the file
    /// which registered it may not have.
    pub fn same_as(&self, other: &TaskDefinition) -> bool {
        normalized(&self.to_json()) == normalized(&other.to_json())
    }

    /// Pretty JSON with ECS defaults removed and secret values masked, for diffs and logs.
    pub fn display_json(&self) -> String {
        display(&self.to_json())
    }
}

/// A registerable task definition as `display_json` shows it.
pub fn display(body: &Value) -> String {
    let mut v = normalized(body);
    crate::secrets::mask_task_definition(&mut v);
    serde_json::to_string_pretty(&v).unwrap_or_default()
}

/// `"512"` -> 512; `"1 vCPU"` / `"2 GB"` -> the value times `unit` (1024 units per vCPU,
/// 1024 MiB per GB).
fn parse_size(s: &str, unit: i64) -> Option<i64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    let (num, suffix) = s.split_at(s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?);
    let n: f64 = num.trim().parse().ok()?;
    match suffix.trim().to_ascii_lowercase().as_str() {
        "vcpu" | "gb" => Some((n * unit as f64).round() as i64),
        "mb" | "mib" => Some(n.round() as i64),
        _ => None,
    }
}

fn shape(origin: &str, problem: &str) -> TaskDefError {
    TaskDefError::Shape {
        path: origin.into(),
        problem: problem.into(),
    }
}

fn strip_read_only(mut body: Map<String, Value>) -> Map<String, Value> {
    for f in READ_ONLY_FIELDS {
        // Shift, not swap: the remaining members keep the file's order.
        body.shift_remove(*f);
    }
    body
}

fn valid_family(f: &str) -> bool {
    !f.is_empty()
        && f.len() <= 255
        && f.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Drops what ECS fills in by default so a file and the revision it registered compare equal.
fn normalized(v: &Value) -> Value {
    let mode = v.get("networkMode").and_then(Value::as_str);
    normalized_in(v, matches!(mode, Some("host" | "awsvpc")))
}

fn normalized_in(v: &Value, host_port_implied: bool) -> Value {
    match v {
        Value::Object(m) => {
            // Sorted keys: ECS returns fields in its own order, not the file's.
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for (k, v) in keys.into_iter().map(|k| (k, &m[k])) {
                if k == "tags" || READ_ONLY_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                let v = normalized_in(v, host_port_implied);
                let is_default = match (k.as_str(), &v) {
                    (_, Value::Null) => true,
                    (_, Value::Array(a)) => a.is_empty(),
                    (_, Value::Object(o)) => o.is_empty(),
                    ("cpu", Value::Number(n)) => n.as_i64() == Some(0),
                    ("essential", Value::Bool(true)) => true,
                    ("networkMode", Value::String(s)) => s == "bridge",
                    ("protocol", Value::String(s)) => s == "tcp",
                    // An EFS volume without one comes back with the file system's root.
                    ("rootDirectory", Value::String(s)) => s == "/",
                    // In host and awsvpc mode ECS fills hostPort in as the containerPort.
                    ("hostPort", _) => m.get("containerPort") == Some(&v) && host_port_implied,
                    _ => false,
                };
                if !is_default {
                    out.insert(k.clone(), v);
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| normalized_in(x, host_port_implied))
                .collect(),
        ),
        other => other.clone(),
    }
}

mod fields;
mod schema;

#[cfg(test)]
mod tests;
