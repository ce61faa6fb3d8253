//! `ecs-roll rollback [--to REVISION]`: back to the revision that ran before the last deploy,
//! as recorded on the deployed revision (never guessed from revision numbers).

use std::sync::Arc;

use crate::aws::ApiCalls;
use crate::batch::Shared;
use crate::cli::{Global, Rollback};
use crate::config::Loaded;
use crate::engine::Observer;
use crate::engine::deploy::{TAG_DEPLOYED_AT, TAG_PREVIOUS};
use crate::engine::outcome::Outcome;
use crate::engine::{Cancel, Desired, Options};
use crate::error::Error;
use crate::platform::{ApiErrorKind, Revision};
use crate::settings::Settings;

pub async fn run(g: &Global, args: Rollback, loaded: Loaded) -> Result<i32, Error> {
    let targets = Settings::all(g, None, loaded)?;
    if targets.len() > 1 && args.to.is_some() {
        return Err(Error::usage(
            "--to names one revision, but several targets are selected",
            "roll back one target at a time with --to, or drop --to",
        ));
    }
    super::run_targets(targets, move |s, observer, cancel, limiter| {
        let args = args.clone();
        async move { one(&s, &args, observer, cancel, limiter).await }
    })
    .await
}

/// One target: find the revision to return to and roll it out.
async fn one(
    s: &Settings,
    args: &Rollback,
    observer: Arc<dyn Observer>,
    cancel: Cancel,
    limiter: Option<Arc<Shared>>,
) -> Result<(Outcome, ApiCalls), Error> {
    let s = s.clone();
    let rollout = s.rollout(&args.rollout)?;
    let gate = limiter.as_ref().and_then(|sh| sh.gate.clone());
    let aws = super::connect_limited(&s, limiter).await?;
    let target = match &args.to {
        Some(to) => resolve(&s, &aws, to).await?,
        None => {
            let current = match s.target.service() {
                Some(service) => super::service_revision(&s, &aws, service).await?,
                None => last_deployed(&s, &aws).await?,
            };
            let Some(prev) = current.tags.get(TAG_PREVIOUS) else {
                return Err(Error::usage(
                    format!(
                        "{} has no recorded previous revision (it was not deployed by ecs-roll)",
                        current.name()
                    ),
                    "pass --to REVISION (a number, family:revision or ARN)",
                ));
            };
            resolve(&s, &aws, prev).await?
        }
    };
    let mut ctx = super::context(&s, &aws, observer.clone(), rollout.timeouts, cancel);
    ctx.gate = gate;
    let opts = Options {
        command: "rollback".into(),
        count: rollout.count,
        allow_downtime: rollout.allow_downtime,
        rollback_on_failure: true,
        dry_run: rollout.dry_run,
        container: s.container.clone(),
        strategy: None,
    };
    let outcome = super::run_engine(&s, &aws, ctx, Desired::Revision(target), &opts).await;
    Ok((outcome?, aws.calls))
}

/// Among the revisions running now, the one ecs-roll rolled out last.
async fn last_deployed(s: &Settings, aws: &super::Aws) -> Result<Revision, Error> {
    let tasks = aws
        .ecs
        .family_tasks(&s.cluster, &s.family)
        .await
        .map_err(Error::from_api_before_change)?;
    let mut arns: Vec<&str> = tasks
        .iter()
        .filter(|t| t.is_running())
        .map(|t| t.task_definition_arn.as_str())
        .collect();
    arns.sort_unstable();
    arns.dedup();
    if arns.is_empty() {
        return Err(Error::usage(
            format!(
                "no task of family {} runs in cluster {}",
                s.family, s.cluster
            ),
            "pass --to REVISION to start one",
        ));
    }
    let mut best: Option<Revision> = None;
    for arn in arns {
        let r = aws
            .ecs
            .describe_task_definition(arn)
            .await
            .map_err(Error::from_api_before_change)?;
        let newer = match &best {
            None => true,
            Some(b) => r.tags.get(TAG_DEPLOYED_AT) > b.tags.get(TAG_DEPLOYED_AT),
        };
        if newer {
            best = Some(r);
        }
    }
    Ok(best.expect("at least one revision"))
}

/// `3` -> `family:3`; `family:3` and ARNs as they are.
async fn resolve(s: &Settings, aws: &super::Aws, to: &str) -> Result<Revision, Error> {
    let numeric = to.chars().all(|c| c.is_ascii_digit());
    let family = match s.target.service() {
        Some(service) if numeric => super::service_revision(s, aws, service).await?.family,
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
