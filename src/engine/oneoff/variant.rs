//! The revision a one-off task runs. A revision with static host ports cannot be placed next
//! to the app's own tasks (on the reference setup every instance already takes port 5555), so
//! its one-off runs a variant without port mappings, registered in a family of its own
//! (`FAMILY-one-off`, tagged with the revision it was made from): never the app family's
//! latest revision, so never what a deploy clones, records as deployed or rolls back to, and
//! its tasks are not the family's tasks a deploy verifies. An identical variant registered
//! before is reused.

use std::collections::BTreeMap;

use crate::platform::{ApiErrorKind, ApiResult, Ecs, Revision};
use crate::taskdef::TaskDefinition;

/// The tag on a one-off variant: the ARN of the revision it was made from.
pub const TAG_ONE_OFF: &str = "ecs-roll:one-off";

/// The family one-off variants of `family` are registered in.
pub fn one_off_family(family: &str) -> String {
    format!("{family}-one-off")
}

/// Whether a task of `revision` on an EC2 instance needs the variant (it binds static host
/// ports); awsvpc tasks and dynamic ports never collide.
pub fn needs_variant(revision: &Revision) -> bool {
    !TaskDefinition::from_revision(revision)
        .static_host_ports()
        .is_empty()
}

/// The variant of `revision` for one-off tasks: the family's latest one if identical, else
/// newly registered. Returns it and whether it was reused.
pub async fn variant(ecs: &dyn Ecs, revision: &Revision) -> ApiResult<(Revision, bool)> {
    let family = one_off_family(&revision.family);
    let wanted = TaskDefinition::from_revision(revision).as_one_off(&family);
    match ecs.describe_task_definition(&family).await {
        Ok(latest) if TaskDefinition::from_revision(&latest).same_as(&wanted) => {
            return Ok((latest, true));
        }
        Ok(_) => {}
        // No variant registered yet.
        Err(e)
            if matches!(
                e.kind,
                ApiErrorKind::NotFound | ApiErrorKind::InvalidRequest
            ) => {}
        Err(e) => return Err(e),
    }
    let tags = BTreeMap::from([(TAG_ONE_OFF.to_string(), revision.arn.clone())]);
    let registered = ecs
        .register_task_definition(&wanted.to_json(), &tags)
        .await?;
    Ok((registered, false))
}
