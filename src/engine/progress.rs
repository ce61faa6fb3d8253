//! What a wait is for and what it last saw, as facts. Waits compare `Progress` values to
//! notice a change (so rewording a line in `render/` cannot change how often ecs-roll polls),
//! and renderers turn both into text.

use serde::Serialize;

use crate::platform::{ApiError, HealthState, RolloutState, TaskStatus};

/// What a wait waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "wait", rename_all = "snake_case")]
pub enum Wait {
    /// New tasks RUNNING and their instances InService in the classic ELB.
    InService {
        instances: Vec<String>,
        load_balancer: String,
    },
    /// Connection draining of deregistered instances.
    Draining { instances: Vec<String> },
    /// Tasks ecs-roll stopped reaching STOPPED.
    TasksStopped { count: usize },
    /// Another instance InService before these leave.
    OtherInService { leaving: Vec<String> },
    /// A service deployment healthy in every load balancer of the service.
    Deployment { deployment: String },
    /// Service mode: one new task, RUNNING, healthy in a load balancer (`--health-timeout`).
    TaskHealthy { task: String, load_balancer: String },
    /// Standalone `--bake`: after the last step, the new tasks keep running and the alarms
    /// stay out of ALARM this long.
    Bake {
        #[serde(with = "super::failure::secs")]
        duration: std::time::Duration,
        alarms: Vec<String>,
    },
}

/// One instance not InService yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceWait {
    pub instance: String,
    /// None: not registered yet.
    pub state: Option<HealthState>,
    pub description: Option<String>,
}

/// One task of a service not healthy yet in one load balancer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetWait {
    pub task_arn: String,
    pub state: String,
    pub load_balancer: String,
}

/// Where a service deployment stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentProgress {
    pub running: usize,
    pub desired: usize,
    pub healthy: usize,
    pub old_tasks: usize,
    pub old_targets: usize,
    pub rollout: Option<RolloutState>,
    /// Complete by the counts, where the endpoint reports no rollout state.
    pub complete: bool,
    pub lifecycle_stage: Option<String>,
    /// The targets not healthy yet (only when there are few, to keep lines short).
    pub waiting: Vec<TargetWait>,
}

/// What a wait saw on its last look.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "progress", rename_all = "snake_case")]
pub enum Progress {
    /// DescribeTasks does not show every new task yet.
    TasksVisible {
        seen: usize,
        expected: usize,
    },
    TasksStarting {
        running: usize,
        expected: usize,
        statuses: Vec<TaskStatus>,
    },
    TasksStopping {
        left: usize,
        status: TaskStatus,
    },
    InstancesWaiting {
        instances: Vec<InstanceWait>,
    },
    Draining {
        instances: Vec<String>,
    },
    NoOtherInService,
    /// `--bake`: this long left.
    Baking {
        #[serde(with = "super::failure::secs")]
        left: std::time::Duration,
    },
    Deployment(DeploymentProgress),
    /// `abort`: ECS took the stop request and has not started its rollback yet.
    StopRequested {
        deployment: String,
    },
    /// AWS throttled or failed a read; the wait goes on.
    Retrying {
        error: ApiError,
    },
}
