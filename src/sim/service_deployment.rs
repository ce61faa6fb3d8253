//! DescribeServiceDeployments: one service deployment per UpdateService, with a status that
//! follows its rollout. A circuit-breaker rollback is part of the deployment that failed (its
//! status turns ROLLBACK_*), so the rollback's own deployment id describes that one too.

use super::deployment::Rollout;
use super::service::ServiceRecord;
use super::world::{ACCOUNT, REGION};
use crate::platform::ServiceDeployment;

impl ServiceRecord {
    /// The service deployment `deployment_id` belongs to; None when no deployment of the
    /// service has that id.
    pub fn service_deployment(&self, deployment_id: &str) -> Option<ServiceDeployment> {
        let mut d = self.any_deployment(deployment_id)?;
        if let Some(original) = d
            .rollback_of
            .as_deref()
            .and_then(|f| self.any_deployment(f))
        {
            d = original;
        }
        let rollback = d
            .rolled_back_by
            .as_deref()
            .and_then(|r| self.any_deployment(r));
        let (status, reason) = match (rollback, d.rollout) {
            (Some(r), _) => (
                match r.rollout {
                    Rollout::InProgress => "ROLLBACK_IN_PROGRESS",
                    Rollout::Completed => "ROLLBACK_SUCCESSFUL",
                    Rollout::Failed => "ROLLBACK_FAILED",
                },
                d.reason.clone(),
            ),
            (None, Rollout::Completed) => ("SUCCESSFUL", None),
            (None, Rollout::Failed) => ("STOPPED", d.reason.clone()),
            (None, Rollout::InProgress) => match &d.superseded_by {
                Some(newer) => (
                    "STOPPED",
                    Some(format!(
                        "Service deployment superseded by a newer deployment ({newer})."
                    )),
                ),
                None => ("IN_PROGRESS", None),
            },
        };
        let suffix = d.id.rsplit('/').next().unwrap_or(&d.id);
        Some(ServiceDeployment {
            arn: format!(
                "arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{}/{}/{suffix}",
                self.cluster, self.name
            ),
            status: crate::platform::ServiceDeploymentStatus::parse(status),
            status_reason: reason,
            lifecycle_stage: d.stage.map(|s| s.as_str().to_string()),
            target_task_definition: Some(d.task_definition.clone()),
            source_task_definitions: d.source_task_definitions.clone(),
            rollback: rollback.is_some(),
            triggered_alarms: d.triggered_alarms.clone(),
        })
    }
}
