//! DescribeServiceDeployments: one service deployment per UpdateService, with a status that
//! follows its rollout. A circuit-breaker rollback is part of the deployment that failed (its
//! status turns ROLLBACK_*), so the rollback's own deployment id describes that one too.
//! StopServiceDeployment asks for such a rollback.

use tokio::time::Instant;

use super::deployment::Rollout;
use super::service::ServiceRecord;
use super::world::{ACCOUNT, Fail, REGION, World};
use crate::platform::{ServiceDeployment, ServiceDeploymentStatus};

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
            (None, Rollout::InProgress) if d.stop_requested.is_some() => {
                ("ROLLBACK_REQUESTED", None)
            }
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
            status: ServiceDeploymentStatus::parse(status),
            status_reason: reason,
            lifecycle_stage: d.stage.map(|s| s.as_str().to_string()),
            target_task_definition: Some(d.task_definition.clone()),
            source_task_definitions: d.source_task_definitions.clone(),
            rollback: rollback.is_some(),
            triggered_alarms: d.triggered_alarms.clone(),
        })
    }
}

impl World {
    /// StopServiceDeployment (stopType ROLLBACK): allowed while the service deployment is
    /// PENDING or IN_PROGRESS, as ECS allows it; the scheduler rolls it back.
    pub(crate) fn stop_service_deployment(
        &mut self,
        cluster: &str,
        service: &str,
        arn: &str,
        now: Instant,
    ) -> Result<(), Fail> {
        let svc = self.service(cluster, service)?;
        let found = svc
            .deployments
            .iter()
            .filter_map(|d| Some((d.id.clone(), svc.service_deployment(&d.id)?)))
            .find(|(_, sd)| sd.arn == arn);
        let Some((id, sd)) = found else {
            return Err(Fail::not_found(format!(
                "ServiceDeploymentNotFoundException: no service deployment {arn}"
            )));
        };
        if !matches!(
            sd.status,
            ServiceDeploymentStatus::Pending | ServiceDeploymentStatus::InProgress
        ) {
            return Err(Fail::invalid(format!(
                "InvalidParameterException: service deployment {arn} is {}; only a PENDING or IN_PROGRESS one can be stopped",
                sd.status.as_str()
            )));
        }
        let key = (cluster.to_string(), service.to_string());
        if let Some(d) = self
            .services
            .get_mut(&key)
            .and_then(|s| s.deployment_mut(&id))
        {
            d.stop_requested = Some(now);
        }
        Ok(())
    }
}
