//! The revisions a command starts from: the one a service or the family's tasks run now, and
//! the task definition a deploy registers.

use super::Aws;
use crate::error::Error;
use crate::platform::{ApiErrorKind, Revision};
use crate::settings::Settings;

/// The revision a service runs now.
pub async fn service_revision(s: &Settings, aws: &Aws, service: &str) -> Result<Revision, Error> {
    let svc = aws
        .services
        .describe_service(&s.cluster, service)
        .await
        .map_err(Error::from_api_before_change)?;
    let Some(svc) = svc else {
        return Err(Error::preflight(
            format!("service {service:?} not found in cluster {:?}", s.cluster),
            "check --service (or `service` in ecs-roll.toml), --cluster and --region",
        ));
    };
    aws.ecs
        .describe_task_definition(&svc.task_definition)
        .await
        .map_err(Error::from_api_before_change)
}

/// The revision most of the family's running tasks run, or the family's latest when none runs.
pub async fn current_revision(s: &Settings, aws: &Aws) -> Result<Revision, Error> {
    let tasks = aws
        .ecs
        .family_tasks(&s.cluster, &s.family)
        .await
        .map_err(Error::from_api_before_change)?;
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for t in tasks.iter().filter(|t| t.is_running()) {
        *counts.entry(&t.task_definition_arn).or_default() += 1;
    }
    let reference = counts
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(a, _)| a.to_string())
        .unwrap_or_else(|| s.family.clone());
    aws.ecs
        .describe_task_definition(&reference)
        .await
        .map_err(|e| match e.kind {
            crate::platform::ApiErrorKind::NotFound
            | crate::platform::ApiErrorKind::InvalidRequest => Error::usage(
                format!(
                    "no revision of family {:?} exists and none runs in cluster {:?}",
                    s.family, s.cluster
                ),
                "pass --task-definition FILE to register the first revision",
            ),
            _ => Error::from_api_before_change(e),
        })
}

/// The task definition a deploy of `images` registers: the file in force, or the revision
/// that runs now, with each image in its container. Returns it with the containers whose
/// image it sets, in the order given.
pub async fn desired_definition(
    s: &Settings,
    aws: &Aws,
    images: &[crate::changes::ImageArg],
) -> Result<(crate::taskdef::TaskDefinition, Vec<String>), Error> {
    use crate::taskdef::TaskDefinition;
    let file = s
        .task_definition
        .as_deref()
        .map(crate::settings::load_task_definition)
        .transpose()?;
    let source = match (file, s.target.service()) {
        (Some(td), _) => td,
        (None, Some(service)) => {
            TaskDefinition::from_revision(&service_revision(s, aws, service).await?)
        }
        (None, None) => TaskDefinition::from_revision(&current_revision(s, aws).await?),
    };
    let assigned = crate::changes::assign_images(&source, s.container.as_deref(), images)?;
    let desired = crate::changes::apply_images(&source, &assigned);
    Ok((desired, assigned.into_iter().map(|(c, _)| c).collect()))
}

/// What `release` rolls out: an existing revision, or the definition to register. Returns
/// it with the containers whose image the flags set.
pub async fn desired(
    s: &Settings,
    aws: &Aws,
    release: &crate::changes::Release,
) -> Result<(crate::engine::Desired, Vec<String>), Error> {
    use crate::changes::Release;
    use crate::engine::Desired;
    match release {
        Release::Revision(reference) => Ok((
            Desired::Revision(deployable_revision(s, aws, reference).await?),
            Vec::new(),
        )),
        Release::Definition { images, env } => {
            let (td, containers) = desired_definition(s, aws, images).await?;
            let default =
                crate::changes::env::default_container(&td, &containers, s.container.as_deref());
            let td = crate::changes::env::apply_env(&td, default.as_deref(), env)?;
            Ok((Desired::Definition(td), containers))
        }
    }
}

/// A revision `deploy --revision` may roll out: ACTIVE and of the target's family (the
/// service's own in service mode).
pub async fn deployable_revision(
    s: &Settings,
    aws: &Aws,
    reference: &str,
) -> Result<Revision, Error> {
    let rev = resolve_revision(s, aws, reference).await?;
    if let Some(service) = s.target.service() {
        let running = service_revision(s, aws, service).await?;
        if rev.family != running.family {
            return Err(Error::usage(
                format!(
                    "{} is not of family {}, the one service {service} runs",
                    rev.name(),
                    running.family
                ),
                format!(
                    "pass a revision of family {}, e.g. --revision {}",
                    running.family,
                    running.name()
                ),
            ));
        }
    }
    let status = rev.body.get("status").and_then(serde_json::Value::as_str);
    if status == Some("INACTIVE") {
        return Err(Error::usage(
            format!(
                "{} is INACTIVE (deregistered): ECS starts no new task of it",
                rev.name()
            ),
            "pass an ACTIVE revision of the family, or register the definition again with --task-definition FILE",
        ));
    }
    Ok(rev)
}

/// A revision the user named: `3` -> `family:3` (the service's family in service mode);
/// `family:3` and ARNs as they are. In standalone mode it must be of the configured family.
pub async fn resolve_revision(s: &Settings, aws: &Aws, to: &str) -> Result<Revision, Error> {
    let numeric = to.chars().all(|c| c.is_ascii_digit());
    let family = match s.target.service() {
        Some(service) if numeric => service_revision(s, aws, service).await?.family,
        _ => s.family.clone(),
    };
    let reference = if numeric {
        format!("{family}:{to}")
    } else {
        to.to_string()
    };
    let rev = aws
        .ecs
        .describe_task_definition(&reference)
        .await
        .map_err(|e| match e.kind {
            ApiErrorKind::NotFound | ApiErrorKind::InvalidRequest => Error::usage(
                format!("revision {reference} not found"),
                "pick one of the family's revisions (ecs-roll status shows the running one)",
            ),
            _ => Error::from_api_before_change(e),
        })?;
    if s.target.service().is_none() && rev.family != s.family {
        return Err(Error::usage(
            format!("{} is not of family {}", rev.name(), s.family),
            "pass a revision of the configured family",
        ));
    }
    Ok(rev)
}
