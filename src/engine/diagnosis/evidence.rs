//! The evidence behind a diagnosis, gathered flat from whichever failure carries it, so
//! `--output json` consumers find the stop code or the load balancer's reason in one place
//! (`failure.evidence`) whatever the failure's kind.

use serde::Serialize;

use crate::engine::failure::{ContainerExit, Failure, StoppedTask};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Evidence {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_reason: Option<String>,
    /// Every container with an exit code or a reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<ContainerExit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<String>,
    /// The instance id (classic ELB) or task ARN (service) the load balancer judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The load balancer's reason code (`Target.ResponseCodeMismatch`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancer_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_balancer_description: Option<String>,
    /// ECS's or AWS's own words otherwise: a service event, a rollout reason, an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ecs_message: Option<String>,
}

impl Evidence {
    fn of_task(t: &StoppedTask) -> Evidence {
        Evidence {
            task_arn: Some(t.task_arn.clone()),
            stop_code: t.stop_code.clone(),
            stopped_reason: t.stopped_reason.clone(),
            containers: t.containers.clone(),
            ..Evidence::default()
        }
    }

    fn said(message: Option<&String>) -> Evidence {
        Evidence {
            ecs_message: message.cloned(),
            ..Evidence::default()
        }
    }
}

pub fn evidence(f: &Failure) -> Evidence {
    match f {
        Failure::TaskStopped { task, .. } => Evidence::of_task(task),
        Failure::TasksStopped { last, .. } => Evidence::of_task(last),
        Failure::HealthChecksFailed {
            load_balancer,
            target,
            reason,
            description,
            ..
        } => Evidence {
            load_balancer: Some(load_balancer.clone()),
            target: Some(target.clone()),
            load_balancer_reason: reason.as_deref().map(String::from),
            load_balancer_description: description.as_deref().map(String::from),
            ..Evidence::default()
        },
        Failure::EcsRolledBack { reason, .. } | Failure::DeploymentFailed { reason, .. } => {
            Evidence::said(reason.as_ref())
        }
        Failure::PlacementStalled { message, .. } => Evidence::said(Some(message)),
        Failure::AlarmFired { alarms } => {
            Evidence::said(alarms.iter().find_map(|a| a.reason.as_ref()))
        }
        Failure::StartTaskFailed { error, .. } | Failure::Api { error } => {
            Evidence::said(Some(&error.message))
        }
        Failure::BeforeFailed(b) => match &b.stopped {
            Some(t) => Evidence::of_task(t),
            None => Evidence {
                task_arn: Some(b.task_arn.clone()),
                ..Evidence::default()
            },
        },
        _ => Evidence::default(),
    }
}
