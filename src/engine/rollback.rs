//! The revision `ecs-roll rollback` returns to when no `--to` is given: the one ecs-roll
//! recorded as previous on the revision it rolled out last, or, when that rollout was a
//! rollback that did not complete (interrupted, failed, killed), that revision itself, so
//! running the same command again finishes it. Read before anything changes.

use std::collections::BTreeMap;

use super::context::Ctx;
use super::history::{self, RolloutRecord, TAG_PREVIOUS, TAG_ROLLOUT};
use super::observe::Catalog;
use super::refusal::Refusal;
use super::wait::with_retry;
use crate::error::Error;
use crate::platform::{EcsServices, Revision};

/// Standalone: the revision ecs-roll rolled out last among those running and the family's
/// latest (a deploy whose tasks all crashed runs nothing, but registered the latest), and
/// the previous one recorded on it. Returns that previous reference (an ARN).
pub async fn standalone_target(ctx: &Ctx) -> Result<String, Error> {
    let tasks = with_retry(|| ctx.ecs.family_tasks(&ctx.cluster, &ctx.family))
        .await
        .map_err(Error::from_api_before_change)?;
    let mut catalog = Catalog::default();
    let mut candidates = Vec::new();
    for t in tasks.iter().filter(|t| t.is_running()) {
        let r = catalog
            .get(ctx, &t.task_definition_arn)
            .await
            .map_err(Error::from_api_before_change)?;
        candidates.push(r);
    }
    let latest = catalog
        .latest(ctx)
        .await
        .map_err(Error::from_api_before_change)?;
    candidates.extend(latest);
    let Some(last) = history::last_rolled_out(&candidates).or(candidates.first()) else {
        return Err(Error::refused(Refusal::NothingToRollBack {
            family: ctx.family.clone(),
            cluster: ctx.cluster.clone(),
        }));
    };
    previous_of(last)
}

/// A service: the revision it runs (the one ecs-roll's last deploy set, when it was ecs-roll),
/// and the previous one recorded on it.
pub async fn service_target(
    ctx: &Ctx,
    services: &dyn EcsServices,
    service: &str,
) -> Result<String, Error> {
    let svc = with_retry(|| services.describe_service(&ctx.cluster, service))
        .await
        .map_err(Error::from_api_before_change)?;
    let Some(svc) = svc else {
        return Err(Error::refused(Refusal::ServiceNotFound {
            service: service.to_string(),
            cluster: ctx.cluster.clone(),
        }));
    };
    let current = with_retry(|| ctx.ecs.describe_task_definition(&svc.task_definition))
        .await
        .map_err(Error::from_api_before_change)?;
    previous_of(&current)
}

fn previous_of(last: &Revision) -> Result<String, Error> {
    match plain_target(&last.tags) {
        PlainTarget::Finish => Ok(last.arn.clone()),
        PlainTarget::Previous(prev) => Ok(prev.to_string()),
        PlainTarget::Unrecorded => Err(Error::refused(Refusal::NoRecordedPrevious {
            revision: last.name(),
        })),
    }
}

/// Where a plain `rollback` goes, read from the records on the revision rolled out last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlainTarget<'a> {
    /// That revision's rollout was a rollback ecs-roll did not see complete (interrupted,
    /// failed, killed): the same command run again finishes it.
    Finish,
    /// The revision that ran before it; after a completed rollback, the one it left.
    Previous(&'a str),
    /// ecs-roll did not roll it out.
    Unrecorded,
}

pub fn plain_target(tags: &BTreeMap<String, String>) -> PlainTarget<'_> {
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
pub fn plain_target_name(rev: &Revision) -> Option<String> {
    match plain_target(&rev.tags) {
        PlainTarget::Finish => Some(rev.name()),
        PlainTarget::Previous(previous) => Some(super::deploy::short_name(previous)),
        PlainTarget::Unrecorded => None,
    }
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
}
