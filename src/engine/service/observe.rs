//! One look at a service: the service, its deployment, its tasks, and their health in each of
//! its load balancers. Batched: one DescribeTargetHealth per target group, one
//! DescribeInstanceHealth per classic ELB, tasks described 100 at a time by the adapter.

use crate::engine::wait::with_retry;
use crate::platform::{
    ApiError, ApiErrorKind, ApiResult, ContainerInstance, Service, ServiceDeployment,
    ServiceLoadBalancer, TargetGroup, Task,
};

use super::ServiceCtx;
use super::watch::LbHealth;

/// A load balancer of the service, as found at preflight.
#[derive(Debug, Clone)]
pub enum Gate {
    TargetGroup {
        group: TargetGroup,
        container_name: Option<String>,
        container_port: Option<u16>,
    },
    Classic {
        name: String,
    },
}

impl Gate {
    pub fn describe(&self) -> String {
        match self {
            Gate::TargetGroup { group, .. } => {
                format!("target group {} ({})", group.name, group.target_type)
            }
            Gate::Classic { name } => format!("classic ELB {name}"),
        }
    }
}

pub struct Snapshot {
    pub service: Service,
    pub deployment: Option<ServiceDeployment>,
    pub tasks: Vec<Task>,
    pub health: Vec<LbHealth>,
}

pub async fn service(s: &ServiceCtx) -> ApiResult<Service> {
    with_retry(|| s.services.describe_service(&s.ctx.cluster, &s.service))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                "DescribeServices",
                ApiErrorKind::NotFound,
                format!("service {} is gone", s.service),
            )
        })
}

pub async fn gates(
    s: &ServiceCtx,
    lbs: &[ServiceLoadBalancer],
) -> Result<Vec<Gate>, crate::error::Error> {
    use crate::error::Error;
    let mut out = Vec::new();
    for lb in lbs {
        if let Some(arn) = &lb.target_group_arn {
            let tg = with_retry(|| s.target_groups.describe_target_group(arn))
                .await
                .map_err(Error::from_api_before_change)?;
            let Some(group) = tg else {
                return Err(Error::preflight(
                    format!("target group {arn} of service {} does not exist", s.service),
                    "fix the service's load balancer configuration; ecs-roll will not deploy without its health gate",
                ));
            };
            out.push(Gate::TargetGroup {
                group,
                container_name: lb.container_name.clone(),
                container_port: lb.container_port,
            });
        } else if let Some(name) = &lb.load_balancer_name {
            if with_retry(|| s.ctx.elb.describe_load_balancer(name))
                .await
                .map_err(Error::from_api_before_change)?
                .is_none()
            {
                return Err(Error::preflight(
                    format!(
                        "classic load balancer {name} of service {} does not exist",
                        s.service
                    ),
                    "fix the service's load balancer configuration",
                ));
            }
            out.push(Gate::Classic { name: name.clone() });
        }
    }
    Ok(out)
}

/// Container instances, for mapping tasks to EC2 instances (not needed on Fargate).
pub async fn instances(s: &ServiceCtx, fargate: bool) -> ApiResult<Vec<ContainerInstance>> {
    if fargate {
        Ok(Vec::new())
    } else {
        with_retry(|| s.ctx.ecs.container_instances(&s.ctx.cluster)).await
    }
}

pub async fn snapshot(
    s: &ServiceCtx,
    gates: &[Gate],
    deployment_id: Option<&str>,
    deployments_supported: &mut bool,
) -> ApiResult<Snapshot> {
    let service = service(s).await?;
    let deployment = match deployment_id {
        Some(id) if *deployments_supported => {
            let d = s
                .services
                .service_deployment(&s.ctx.cluster, &s.service, id)
                .await?;
            if d.is_none() {
                // The endpoint does not support it (moto): stop asking.
                *deployments_supported = false;
            }
            d
        }
        _ => None,
    };
    let tasks = s
        .services
        .service_tasks(&s.ctx.cluster, &s.service, "RUNNING")
        .await?;
    let mut health = Vec::new();
    for g in gates {
        health.push(match g {
            Gate::TargetGroup {
                group,
                container_name,
                container_port,
            } => LbHealth::TargetGroup {
                arn: group.arn.clone(),
                target_type: group.target_type.clone(),
                container_name: container_name.clone(),
                container_port: *container_port,
                targets: s.target_groups.target_health(&group.arn).await?,
            },
            Gate::Classic { name } => LbHealth::Classic {
                name: name.clone(),
                health: s.ctx.elb.instance_health(name).await?,
            },
        });
    }
    Ok(Snapshot {
        service,
        deployment,
        tasks,
        health,
    })
}
