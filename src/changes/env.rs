//! Environment variables and secrets by flag: `--env [CONTAINER:]NAME=VALUE`,
//! `--unset-env [CONTAINER:]NAME` and `--secret [CONTAINER:]NAME=VALUE_FROM` (each
//! repeatable). Pure: parsed and applied to a task definition before anything reaches AWS.
//! No error message repeats a value: a value may be a secret.

use crate::error::Error;
use crate::taskdef::TaskDefinition;

/// One edit of a container's variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvEdit {
    /// None: the container the image goes to (or the only one).
    pub container: Option<String>,
    pub name: String,
    pub change: EnvChange,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvChange {
    /// `environment`: a plain value.
    Set(String),
    /// `secrets`: a reference ECS resolves when the task starts.
    Secret { value_from: String },
    /// Gone from `environment` and `secrets`.
    Unset,
}

impl EnvEdit {
    /// The flag that made it, for messages.
    pub fn flag(&self) -> &'static str {
        match self.change {
            EnvChange::Set(_) => "--env",
            EnvChange::Secret { .. } => "--secret",
            EnvChange::Unset => "--unset-env",
        }
    }
}

/// `--env [CONTAINER:]NAME=VALUE` (an empty VALUE is a value).
pub fn parse_env(s: &str) -> Result<EnvEdit, Error> {
    let Some((target, value)) = s.split_once('=') else {
        return Err(Error::usage(
            format!("--env {s:?} has no '=VALUE'"),
            format!(
                "pass --env {}=VALUE (--env {}= for an empty value), or --unset-env {} to remove it",
                s.trim(),
                s.trim(),
                s.trim()
            ),
        ));
    };
    let (container, name) = target_of("--env", target)?;
    Ok(EnvEdit {
        container,
        name,
        change: EnvChange::Set(value.to_string()),
    })
}

/// `--unset-env [CONTAINER:]NAME`.
pub fn parse_unset(s: &str) -> Result<EnvEdit, Error> {
    if s.contains('=') {
        return Err(Error::usage(
            "--unset-env takes a name, not NAME=VALUE",
            "pass --unset-env NAME (or CONTAINER:NAME)",
        ));
    }
    let (container, name) = target_of("--unset-env", s)?;
    Ok(EnvEdit {
        container,
        name,
        change: EnvChange::Unset,
    })
}

/// `--secret [CONTAINER:]NAME=VALUE_FROM`: VALUE_FROM is an SSM parameter (its ARN, or its
/// name in the task's region) or a Secrets Manager secret ARN.
pub fn parse_secret(s: &str) -> Result<EnvEdit, Error> {
    let hint = "pass --secret NAME=VALUE_FROM with an SSM parameter (arn:aws:ssm:REGION:ACCOUNT:parameter/NAME, or /NAME) or a Secrets Manager ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)";
    let Some((target, value_from)) = s.split_once('=') else {
        return Err(Error::usage(
            format!("--secret {s:?} has no '=VALUE_FROM'"),
            hint,
        ));
    };
    let (container, name) = target_of("--secret", target)?;
    if !valid_value_from(value_from) {
        return Err(Error::usage(
            format!(
                "--secret {name}: the value is not an SSM parameter or a Secrets Manager secret ARN"
            ),
            hint,
        ));
    }
    Ok(EnvEdit {
        container,
        name,
        change: EnvChange::Secret {
            value_from: value_from.to_string(),
        },
    })
}

/// Parses every `--env`, `--unset-env` and `--secret`, in that order.
pub fn parse_all(
    env: &[String],
    unset: &[String],
    secrets: &[String],
) -> Result<Vec<EnvEdit>, Error> {
    let mut out = Vec::new();
    for s in env {
        out.push(parse_env(s)?);
    }
    for s in unset {
        out.push(parse_unset(s)?);
    }
    for s in secrets {
        out.push(parse_secret(s)?);
    }
    Ok(out)
}

/// The config's edits, less those a flag makes of the same `[CONTAINER:]NAME`, then the
/// flags' (flags win over ecs-roll.toml).
pub fn with_flags_over(configured: Vec<EnvEdit>, flags: Vec<EnvEdit>) -> Vec<EnvEdit> {
    let same = |a: &EnvEdit, b: &EnvEdit| a.container == b.container && a.name == b.name;
    let mut out: Vec<EnvEdit> = configured
        .into_iter()
        .filter(|c| !flags.iter().any(|f| same(c, f)))
        .collect();
    out.extend(flags);
    out
}

/// `[CONTAINER:]NAME` -> (container, name), both checked.
fn target_of(flag: &str, target: &str) -> Result<(Option<String>, String), Error> {
    let (container, name) = match target.split_once(':') {
        Some((c, n)) => (Some(c), n),
        None => (None, target),
    };
    let bad_name = name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control());
    if bad_name {
        return Err(Error::usage(
            format!("{flag}: {name:?} is not a variable name"),
            format!("pass {flag} [CONTAINER:]NAME..., e.g. {flag} web:LOG_LEVEL..."),
        ));
    }
    if let Some(c) = container
        && (c.is_empty()
            || !c
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'))
    {
        return Err(Error::usage(
            format!("{flag}: {c:?} is not a container name"),
            format!("pass {flag} CONTAINER:{name}... with a container of the task definition"),
        ));
    }
    Ok((container.map(String::from), name.to_string()))
}

/// An SSM parameter ARN or name, or a Secrets Manager secret ARN (with its optional
/// `:json-key:version-stage:version-id`).
pub fn valid_value_from(v: &str) -> bool {
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.len() <= 2048
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c))
    };
    let Some(rest) = v.strip_prefix("arn:") else {
        // A parameter name: `/app/db-password` or `db_password`.
        return name_ok(v) && !v.contains("//");
    };
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    let [partition, service, region, account, resource] = parts.as_slice() else {
        return false;
    };
    let region_ok = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let account_ok = account.len() == 12 && account.chars().all(|c| c.is_ascii_digit());
    if !partition.starts_with("aws") || !region_ok || !account_ok {
        return false;
    }
    match *service {
        "ssm" => resource
            .strip_prefix("parameter")
            .is_some_and(|n| n.starts_with('/') && name_ok(&n[1..])),
        "secretsmanager" => resource.strip_prefix("secret:").is_some_and(|n| {
            let mut fields = n.split(':');
            let id = fields.next().unwrap_or_default();
            let id_ok = !id.is_empty()
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c));
            id_ok && fields.count() <= 3
        }),
        _ => false,
    }
}

/// The container an edit without `CONTAINER:` applies to: the one the image goes to (one
/// `--image`), else `--container`, else the only one.
pub fn default_container(
    td: &TaskDefinition,
    image_containers: &[String],
    configured: Option<&str>,
) -> Option<String> {
    if let [one] = image_containers {
        return Some(one.clone());
    }
    let names = td.container_names();
    configured
        .map(String::from)
        .or_else(|| (names.len() == 1).then(|| names[0].clone()))
}

/// `td` with every edit applied. A container the definition lacks, an edit that needs a
/// container when none is implied, or one variable edited twice is refused.
pub fn apply_env(
    td: &TaskDefinition,
    default: Option<&str>,
    edits: &[EnvEdit],
) -> Result<TaskDefinition, Error> {
    let names = td.container_names();
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut out = td.clone();
    for e in edits {
        let container = match e.container.as_deref().or(default) {
            Some(c) if names.iter().any(|n| n == c) => c.to_string(),
            Some(c) => {
                return Err(Error::usage(
                    format!(
                        "{} {}: the task definition has no container named {c:?} (it has: {})",
                        e.flag(),
                        e.name,
                        names.join(", ")
                    ),
                    format!(
                        "name one of its containers: {} {}:{}...",
                        e.flag(),
                        names[0],
                        e.name
                    ),
                ));
            }
            None => {
                return Err(Error::usage(
                    format!(
                        "{} {}: the task definition has {} containers ({}) and no single --image says which one",
                        e.flag(),
                        e.name,
                        names.len(),
                        names.join(", ")
                    ),
                    format!(
                        "name the container: {} {}:{}...",
                        e.flag(),
                        names[0],
                        e.name
                    ),
                ));
            }
        };
        let key = (container.clone(), e.name.clone());
        if seen.contains(&key) {
            return Err(Error::usage(
                format!(
                    "variable {} of container {container:?} is given twice",
                    e.name
                ),
                "pass one --env, --secret or --unset-env per variable",
            ));
        }
        seen.push(key);
        out = match &e.change {
            EnvChange::Set(v) => out.with_env(&container, &e.name, v),
            EnvChange::Secret { value_from } => out.with_secret(&container, &e.name, value_from),
            EnvChange::Unset => out.without_env(&container, &e.name),
        };
    }
    Ok(out)
}

/// The values of `edits` that masking hides (a secret's reference, a secret-looking
/// variable's value), so they can be registered as masks before anything prints.
pub fn masked_values(edits: &[EnvEdit]) -> Vec<String> {
    edits
        .iter()
        .filter_map(|e| match &e.change {
            EnvChange::Set(v) if crate::secrets::name_looks_secret(&e.name) && !v.is_empty() => {
                Some(v.clone())
            }
            EnvChange::Secret { value_from } => Some(value_from.clone()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests;
