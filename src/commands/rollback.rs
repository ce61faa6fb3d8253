//! `ecs-roll rollback [--to REVISION]`: back to the revision that ran before the last deploy,
//! as recorded on the deployed revision (never guessed from revision numbers). Run again after
//! a rollback that did not complete (interrupted, failed), it finishes that rollback.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::aws::ApiCalls;
use crate::batch::Shared;
use crate::cli::{Global, Rollback};
use crate::config::Loaded;
use crate::engine::Observer;
use crate::engine::deploy::{
    RolloutRecord, TAG_DEPLOYED_AT, TAG_PREVIOUS, TAG_ROLLOUT, short_name,
};
use crate::engine::outcome::Outcome;
use crate::engine::skeleton::{PreflightDeadline, by_deadline};
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
    // Everything before the first change gives up at --timeout (exit 2, nothing changed).
    let deadline = PreflightDeadline::from_now(rollout.timeouts.total);
    let gate = limiter.as_ref().and_then(|sh| sh.gate.clone());
    let aws = by_deadline(deadline, super::connect_limited(&s, limiter)).await?;
    let target = by_deadline(deadline, target(&s, &aws, args)).await?;
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
        preflight_deadline: deadline,
    };
    let outcome = super::run_engine(&s, &aws, ctx, Desired::Revision(target), &opts).await;
    Ok((outcome?, aws.calls))
}

/// The revision to return to: the one given, else the one the records name.
async fn target(s: &Settings, aws: &super::Aws, args: &Rollback) -> Result<Revision, Error> {
    Ok(match &args.to {
        Some(to) => resolve(s, aws, to).await?,
        None => {
            let current = match s.target.service() {
                Some(service) => super::service_revision(s, aws, service).await?,
                None => last_deployed(s, aws).await?,
            };
            let prev = match plain_target(&current.tags) {
                PlainTarget::Finish => return Ok(current),
                PlainTarget::Previous(prev) => prev,
                PlainTarget::Unrecorded => {
                    return Err(Error::usage(
                        format!(
                            "{} has no recorded previous revision (it was not deployed by ecs-roll)",
                            current.name()
                        ),
                        "pass --to REVISION (a number, family:revision or ARN)",
                    ));
                }
            };
            resolve(s, aws, prev).await?
        }
    })
}

/// Where a plain `rollback` goes, read from the records on the revision rolled out last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlainTarget<'a> {
    /// That revision's rollout was a rollback ecs-roll did not see complete (interrupted,
    /// failed, killed): the same command run again finishes it.
    Finish,
    /// The revision that ran before it; after a completed rollback, the one it left.
    Previous(&'a str),
    /// ecs-roll did not roll it out.
    Unrecorded,
}

fn plain_target(tags: &BTreeMap<String, String>) -> PlainTarget<'_> {
    let rollout = tags.get(TAG_ROLLOUT).and_then(|t| RolloutRecord::parse(t));
    if rollout == Some(RolloutRecord::Rollback) {
        return PlainTarget::Finish;
    }
    match tags.get(TAG_PREVIOUS) {
        Some(previous) => PlainTarget::Previous(previous),
        None => PlainTarget::Unrecorded,
    }
}

/// Where a plain `rollback` goes when `rev` is the revision rolled out last, as `ecs-roll
/// status` names it: `rev` itself while its rollback has not completed.
pub(crate) fn plain_target_name(rev: &Revision) -> Option<String> {
    match plain_target(&rev.tags) {
        PlainTarget::Finish => Some(rev.name()),
        PlainTarget::Previous(previous) => Some(short_name(previous)),
        PlainTarget::Unrecorded => None,
    }
}

/// How `ecs-roll status` shows `rev`'s rollback target.
pub(crate) fn shown_target(rev_name: &str, target: Option<&str>) -> String {
    match target {
        Some(t) if t == rev_name => {
            format!("{t} (a rollback to it did not complete: `ecs-roll rollback` finishes it)")
        }
        Some(t) => t.to_string(),
        None => "none recorded".into(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_rollback_finishes_one_that_did_not_complete_and_else_returns_to_the_previous() {
        let tags = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let previous = (TAG_PREVIOUS, "td:2");
        let table = [
            // Deployed by ecs-roll (before TAG_ROLLOUT existed, or with it).
            (tags(&[previous]), PlainTarget::Previous("td:2")),
            (
                tags(&[previous, (TAG_ROLLOUT, "deploy")]),
                PlainTarget::Previous("td:2"),
            ),
            // Rolled back to, and not seen complete: run again, it finishes.
            (
                tags(&[previous, (TAG_ROLLOUT, "rollback")]),
                PlainTarget::Finish,
            ),
            (tags(&[(TAG_ROLLOUT, "rollback")]), PlainTarget::Finish),
            // A completed rollback: rollback again returns to the revision it left.
            (
                tags(&[previous, (TAG_ROLLOUT, "rollback-completed")]),
                PlainTarget::Previous("td:2"),
            ),
            (
                tags(&[previous, (TAG_ROLLOUT, "something newer")]),
                PlainTarget::Previous("td:2"),
            ),
            (tags(&[]), PlainTarget::Unrecorded),
            (
                tags(&[(TAG_ROLLOUT, "rollback-completed")]),
                PlainTarget::Unrecorded,
            ),
        ];
        for (tags, want) in &table {
            assert_eq!(plain_target(tags), *want, "{tags:?}");
        }
    }

    #[test]
    fn status_names_the_rollback_a_plain_rollback_would_finish() {
        assert_eq!(shown_target("td:1", Some("td:2")), "td:2");
        assert_eq!(shown_target("td:1", None), "none recorded");
        assert!(
            shown_target("td:1", Some("td:1")).contains("`ecs-roll rollback` finishes it"),
            "{}",
            shown_target("td:1", Some("td:1"))
        );
    }
}
