//! A service's deployments: the rollout state ECS reports in DescribeServices, and for
//! BLUE_GREEN the lifecycle stage DescribeServiceDeployments reports.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rollout {
    InProgress,
    Completed,
    Failed,
}

impl Rollout {
    pub fn as_str(self) -> &'static str {
        match self {
            Rollout::InProgress => "IN_PROGRESS",
            Rollout::Completed => "COMPLETED",
            Rollout::Failed => "FAILED",
        }
    }
}

/// A blue/green deployment's lifecycle stages, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Stage {
    ScaleUp,
    TestTrafficShift,
    ProductionTrafficShift,
    BakeTime,
    CleanUp,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::ScaleUp => "SCALE_UP",
            Stage::TestTrafficShift => "TEST_TRAFFIC_SHIFT",
            Stage::ProductionTrafficShift => "PRODUCTION_TRAFFIC_SHIFT",
            Stage::BakeTime => "BAKE_TIME",
            Stage::CleanUp => "CLEAN_UP",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strategy {
    Rolling,
    /// BLUE_GREEN, and LINEAR and CANARY simplified to it: `shifting` is how long production
    /// traffic takes to move (the step bakes of LINEAR, the canary bake of CANARY), after the
    /// blue targets are out; then the bake time with both revisions running.
    BlueGreen {
        bake: Duration,
        shifting: Duration,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct DeploymentRecord {
    pub id: String,
    /// PRIMARY, ACTIVE or INACTIVE.
    pub status: &'static str,
    pub task_definition: String,
    pub created_at: Instant,
    pub updated_at: Instant,
    pub rollout: Rollout,
    pub reason: Option<String>,
    pub failed_tasks: u32,
    /// Fixed when the deployment is created, as ECS does.
    pub strategy: Strategy,
    /// Blue/green only: the current stage, since when, and every stage entered.
    pub stage: Option<Stage>,
    pub stage_since: Instant,
    pub stages: Vec<(Stage, Instant)>,
    /// Blue/green: when the blue targets have finished draining.
    pub blue_drained_at: Option<Instant>,
    /// This deployment is ECS rolling back that one (circuit breaker).
    pub rollback_of: Option<String>,
    pub rolled_back_by: Option<String>,
    /// The deployment alarms that failed it.
    pub triggered_alarms: Vec<String>,
    /// A newer UpdateService replaced it before it completed.
    pub superseded_by: Option<String>,
    /// When StopServiceDeployment asked ECS to roll it back: ROLLBACK_REQUESTED, with the
    /// deployment still PRIMARY, until the scheduler acts `STOP_TAKES` later.
    pub stop_requested: Option<Instant>,
    pub source_task_definitions: Vec<String>,
}

impl DeploymentRecord {
    pub fn enter(&mut self, stage: Stage, t: Instant) {
        self.stage = Some(stage);
        self.stage_since = t;
        self.updated_at = t;
        self.stages.push((stage, t));
    }
}
