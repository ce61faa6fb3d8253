//! Why a run refuses to start, as facts: every preflight check that fails ends with one of
//! these, before anything changed in AWS. `render::refusal` says what is wrong and what to do;
//! `--output json` shows `refusal` beside the message.

use std::time::Duration;

use serde::Serialize;

use super::plan;
use super::service::configuration;
use crate::platform::{DeploymentController, ResourceStatus, Strategy};

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
    },
    /// A traffic-shifting strategy needs an ALB/NLB target group.
    StrategyNeedsTargetGroup {
        strategy: Strategy,
        service: String,
        /// Behind a classic ELB (else: no load balancer at all).
        classic: bool,
    },
    /// The service's capacity allows no deployment without downtime.
    NoServiceCapacity {
        service: String,
        refusal: configuration::Refusal,
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
    /// AWS did not answer the preflight's reads within `--timeout` (unreachable, or failing or
    /// throttling every call); the reads in flight were dropped.
    AwsDidNotAnswer {
        #[serde(with = "super::failure::secs")]
        limit: Duration,
    },
}

impl Refusal {
    /// Bad input (exit 2 as a usage error) rather than a failed check of AWS.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Refusal::WrongFamily { .. }
                | Refusal::CountUnknown { .. }
                | Refusal::CountInServiceMode { .. }
        )
    }
}
