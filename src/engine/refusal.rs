//! Why a run refuses to start, as facts: every preflight check that fails ends with one of
//! these, before anything changed in AWS. `render::refusal` says what is wrong and what to do;
//! `--output json` shows `refusal` beside the message.

use std::time::Duration;

use serde::Serialize;

use super::plan;
use super::service::configuration;
use crate::platform::{
    ContainerInstance, DeploymentController, ResourceStatus, ServiceDeploymentStatus, Strategy,
};

/// What one target group of a service lacks for ECS to shift traffic to a new revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum ShiftProblem {
    /// No `advancedConfiguration` at all.
    NoAdvancedConfiguration { target_group: String },
    /// It names no alternate target group, production listener rule or role.
    Missing {
        target_group: String,
        fields: Vec<&'static str>,
    },
    /// The alternate target group does not exist.
    AlternateNotFound {
        target_group: String,
        alternate: String,
    },
    /// The alternate is the production target group itself.
    AlternateIsProduction { target_group: String },
    /// The alternate is not on the load balancer(s) of the production target group.
    AlternateOnOtherLoadBalancer {
        target_group: String,
        alternate: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Refusal {
    /// Another ecs-roll run holds the deploy lock, and renews it (`renews_every_ms`), or has
    /// no heartbeat (an older ecs-roll) and holds it until it expires.
    LockHeld {
        what: String,
        holder: String,
        /// Unix seconds.
        since: u64,
        expires: u64,
        renews_every_ms: Option<u64>,
    },
    /// The lock was removed right after this run wrote it (someone ran `ecs-roll unlock`).
    LockVanished {
        what: String,
    },
    /// Several targets in one command: these others did not pass their preflight, so this
    /// one changes nothing either.
    OtherTargetRefused {
        targets: Vec<String>,
    },
    /// An image the new revision brings is not in its registry (or, under `--image-check
    /// require`, its registry could not say).
    Image {
        image: String,
        lookup: crate::platform::ImageLookup,
    },
    /// `--require-rollback`, and the revision that runs now could not serve a rollback.
    RollbackNotReady {
        revision: String,
        problem: super::images::NotReady,
    },
    ClusterNotActive {
        cluster: String,
    },
    LoadBalancerNotFound {
        name: String,
    },
    /// The classic ELB sends traffic to `port`, which the definition does not map statically.
    PortNotMapped {
        load_balancer: String,
        port: u16,
        static_ports: Vec<u16>,
    },
    /// The definition given is of another family than the target's.
    WrongFamily {
        found: String,
        expected: String,
        /// The service whose family it is (service mode).
        service: Option<String>,
    },
    /// Nothing runs and no count was given or recorded.
    CountUnknown {
        family: String,
        cluster: String,
    },
    /// The standalone planner found no way without downtime.
    NoSafePlan {
        command: String,
        refusal: plan::Refusal,
        /// Container instances ECS places no task on: when there are any, the refusal is a
        /// matter of capacity they would give, and names them.
        unavailable: Vec<Unavailable>,
    },
    ServiceNotFound {
        service: String,
        cluster: String,
    },
    ServiceNotActive {
        service: String,
        status: ResourceStatus,
    },
    /// The service is deployed by another controller (CodeDeploy, external).
    ForeignController {
        service: String,
        controller: DeploymentController,
    },
    DeploymentInProgress {
        service: String,
        deployment: String,
        revision: String,
        created_at: Option<String>,
        rollout: Option<String>,
        running: i64,
        desired: i64,
        /// The previous revision ecs-roll recorded on the one in progress: what
        /// `ecs-roll rollback` returns to, taking over from that deployment.
        rollback_to: Option<String>,
    },
    /// A traffic-shifting strategy needs an ALB/NLB target group.
    StrategyNeedsTargetGroup {
        strategy: Strategy,
        service: String,
        /// Behind a classic ELB (else: no load balancer at all).
        classic: bool,
    },
    /// A traffic-shifting strategy needs each target group's `advancedConfiguration`, and an
    /// alternate target group on the same load balancer.
    StrategyNeedsAdvancedConfiguration {
        strategy: Strategy,
        service: String,
        problems: Vec<ShiftProblem>,
    },
    /// The service's capacity allows no deployment without downtime.
    NoServiceCapacity {
        service: String,
        refusal: configuration::Refusal,
        /// As for `NoSafePlan`.
        unavailable: Vec<Unavailable>,
    },
    /// `--count` in service mode: the service's desiredCount decides.
    CountInServiceMode {
        service: String,
        given: usize,
        desired: i64,
    },
    TargetGroupNotFound {
        arn: String,
        service: String,
    },
    ServiceLoadBalancerNotFound {
        name: String,
        service: String,
    },
    /// `--alarm` names alarms CloudWatch does not have (in this account and region).
    AlarmsNotFound {
        alarms: Vec<String>,
    },
    /// `--alarm` names alarms in ALARM already: ECS does not monitor an alarm that is in ALARM
    /// when a deployment starts, so it would gate nothing.
    AlarmsFiring {
        alarms: Vec<crate::platform::Alarm>,
    },
    /// AWS did not answer the preflight's reads within `--timeout` (unreachable, or failing or
    /// throttling every call); the reads in flight were dropped.
    AwsDidNotAnswer {
        #[serde(with = "super::failure::secs")]
        limit: Duration,
    },
    /// `rollback` without `--to`: the revision rolled out last has no previous one recorded.
    NoRecordedPrevious {
        revision: String,
    },
    /// `rollback` without `--to`: the family has no revision at all.
    NothingToRollBack {
        family: String,
        cluster: String,
    },
    /// `abort`: no in-flight deployment ECS could be asked to roll back.
    CannotAbort {
        service: String,
        why: AbortBlocked,
    },
}

/// Why `abort` has nothing to ask ECS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum AbortBlocked {
    /// No deployment is in progress.
    NoDeployment,
    /// The current service deployment ended (SUCCESSFUL, STOPPED, ROLLBACK_SUCCESSFUL...):
    /// StopServiceDeployment takes only a PENDING or IN_PROGRESS one.
    Ended {
        service_deployment: String,
        status: ServiceDeploymentStatus,
    },
    /// The deployment has no earlier revision to return to (the service's first).
    NoEarlierRevision { service_deployment: String },
    /// A deployment is in progress, but the endpoint has no service deployments (moto).
    Unsupported { deployment: String },
}

/// A container instance of the cluster that takes no new task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unavailable {
    pub instance: String,
    pub status: ResourceStatus,
    pub agent_connected: bool,
}

/// The instances among `instances` that ECS places no new task on (DRAINING, INACTIVE, or
/// with their agent disconnected).
pub fn unavailable(instances: &[ContainerInstance]) -> Vec<Unavailable> {
    instances
        .iter()
        .filter(|ci| !ci.accepts_tasks())
        .map(|ci| Unavailable {
            instance: ci.ec2_instance_id.clone(),
            status: ci.status.clone(),
            agent_connected: ci.agent_connected,
        })
        .collect()
}

impl Refusal {
    /// Bad input (exit 2 as a usage error) rather than a failed check of AWS.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Refusal::WrongFamily { .. }
                | Refusal::CountUnknown { .. }
                | Refusal::CountInServiceMode { .. }
                | Refusal::NoRecordedPrevious { .. }
                | Refusal::NothingToRollBack { .. }
        )
    }
}
