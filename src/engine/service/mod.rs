//! Service mode: deploying an ECS service by UpdateService, watching exactly our deployment
//! (its rollout state, its tasks, and their health in every load balancer of the service),
//! and rolling back when ECS or the evidence says it failed.

pub mod abort;
pub mod configuration;
pub mod follow;
pub mod native;
pub mod observe;
mod preflight;
pub mod record;
pub mod run;
pub mod watch;

use std::sync::Arc;

use serde::Serialize;

use super::context::Ctx;
use crate::platform::{BreakerThreshold, EcsServices, Strategy, TargetGroups};

pub use record::TAG_CONFIGURATION;
pub use run::run;

/// A run against one service: the common context plus the service APIs.
pub struct ServiceCtx {
    /// `family` is the service's task definition family.
    pub ctx: Ctx,
    pub services: Arc<dyn EcsServices>,
    pub target_groups: Arc<dyn TargetGroups>,
    pub service: String,
}

/// What ecs-roll will do to a service, shown before it does it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServicePlan {
    pub service: String,
    pub desired: i64,
    pub strategy: Strategy,
    pub current: (Option<i64>, Option<i64>),
    pub chosen: configuration::Choice,
    /// Whether ecs-roll sets the deployment configuration (and restores it afterwards).
    pub changes_configuration: bool,
    pub capacity: String,
    pub load_balancers: Vec<String>,
    /// Resuming the watch of a deployment of the same revision already under way.
    pub resuming: Option<String>,
    /// ECS's own gates on the deployment: the circuit breaker (enabled, rolls back), the
    /// rule it counts failed tasks by (ECS's default where the service sets none) and how
    /// many trip it for the service's desired count ...
    pub circuit_breaker: Option<(bool, bool)>,
    pub breaker_threshold: BreakerThreshold,
    pub breaker_trips_at: u32,
    /// ... and the deployment alarms in force (names, roll back), with whether this deploy
    /// sets them (`--alarm`).
    pub alarms: Option<(Vec<String>, bool)>,
    pub sets_alarms: bool,
    /// BLUE_GREEN, LINEAR, CANARY: how production traffic moves to the new revision.
    pub shifts: Vec<native::Shift>,
}
