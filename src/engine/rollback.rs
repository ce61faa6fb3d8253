//! The revision `ecs-roll rollback` returns to when no `--to` is given: the one ecs-roll
//! recorded as previous on the revision it rolled out last. Read before anything changes.

use super::context::Ctx;
use super::history::{self, TAG_PREVIOUS};
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
    match last.tags.get(TAG_PREVIOUS) {
        Some(prev) => Ok(prev.clone()),
        None => Err(Error::refused(Refusal::NoRecordedPrevious {
            revision: last.name(),
        })),
    }
}
