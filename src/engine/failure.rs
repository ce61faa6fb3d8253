//! Why a deploy did not succeed, as facts: which task stopped and how, which health check
//! failed, what ran out of time, what ECS did. Carried from the judge that saw it to the
//! outcome, so tests match variants and `--output json` consumers branch on `failure.kind`.
//! The sentences are made in `render::failure`.

use std::time::Duration;

use serde::Serialize;

use super::plan::Refusal;
use super::progress::{Progress, Wait};
use crate::platform::{ApiError, HealthState, ServiceDeploymentStatus, Task};

/// A container of a stopped task, as ECS reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerExit {
    pub name: String,
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

/// A task that stopped, with ECS's evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoppedTask {
    pub task_arn: String,
    pub stop_code: Option<String>,
    pub stopped_reason: Option<String>,
    pub containers: Vec<ContainerExit>,
}

impl StoppedTask {
    pub fn of(t: &Task) -> StoppedTask {
        StoppedTask {
            task_arn: t.arn.clone(),
            stop_code: t.stop_code.clone(),
            stopped_reason: t.stopped_reason.clone().filter(|r| !r.is_empty()),
            containers: t
                .containers
                .iter()
                .filter(|c| c.exit_code.is_some() || c.reason.is_some())
                .map(|c| ContainerExit {
                    name: c.name.clone(),
                    exit_code: c.exit_code,
                    reason: c.reason.clone(),
                })
                .collect(),
        }
    }
}

/// One thing the family does not run as wanted after a rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Mismatch {
    OtherRevisionsRun {
        tasks: usize,
    },
    WrongCount {
        running: usize,
        wanted: usize,
    },
    NotInService {
        instance: String,
        state: HealthState,
    },
    NotRegistered {
        instance: String,
        load_balancer: String,
    },
    /// A container instance is registered with the load balancer, but no task of the target
    /// runs on it: the load balancer may send traffic where nothing answers.
    RegisteredWithoutTask {
        instance: String,
        load_balancer: String,
    },
}

/// How a run was interrupted (Ctrl-C/SIGTERM).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Interruption {
    /// Before anything changed in AWS.
    BeforeChange,
    /// Standalone: the step in progress was finished first.
    StepFinished,
    /// Service: ECS carries on with the deployment by itself.
    DeploymentContinues { deployment: String },
    /// `abort`: ECS carries on rolling the stopped service deployment back by itself.
    RollbackContinues { service_deployment: String },
    /// `deploy --before`: during the command's one-off task; nothing was rolled out.
    BeforeRollout { task_arn: String, stopped: bool },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Failure {
    /// A task the rollout watches stopped: a new one, or one an earlier step deployed.
    TaskStopped {
        task: StoppedTask,
        deployed_earlier: bool,
    },
    /// Service: this many new tasks stopped (ECS replaces them; this many end the deploy).
    TasksStopped {
        count: usize,
        last: StoppedTask,
    },
    /// A new task did not reach RUNNING in time.
    TaskStartTimedOut {
        #[serde(with = "secs")]
        limit: Duration,
    },
    /// A new task failed the load balancer's health checks: the classic ELB's own verdict
    /// (`unhealthy_for` None), or unhealthy in a target group past the grace period.
    HealthChecksFailed {
        load_balancer: String,
        /// The instance id (classic ELB) or the task ARN (service).
        target: String,
        state: String,
        /// The load balancer's reason code: `Target.ResponseCodeMismatch`, `Target.Timeout`,
        /// `Target.FailedHealthChecks` (target groups), `Instance` or `ELB` (classic ELB).
        /// Boxed, as the description: it keeps `Failure` (an `Err` of many waits) within
        /// clippy's size bound.
        reason: Option<Box<str>>,
        description: Option<Box<str>>,
        #[serde(with = "opt_secs")]
        unhealthy_for: Option<Duration>,
    },
    /// A wait ran out of time; `last` is the last thing it saw.
    TimedOut {
        waiting_for: Wait,
        #[serde(with = "secs")]
        limit: Duration,
        last: Option<Box<Progress>>,
    },
    /// The rollout's time limit (--timeout) passed before a step could start.
    DeadlinePassed,
    /// ECS rolled our deployment back, or is doing so (circuit breaker, alarms).
    EcsRolledBack {
        deployment: String,
        /// The service deployment's status, where DescribeServiceDeployments told it.
        status: Option<ServiceDeploymentStatus>,
        reason: Option<String>,
        /// The deployment ECS made primary instead, and its revision.
        primary: Option<String>,
        primary_revision: Option<String>,
        /// The deployment alarms that went into ALARM: ECS's `triggeredAlarmNames`, else the
        /// ones of `--alarm` that ecs-roll found in ALARM.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        alarms: Vec<String>,
    },
    /// ECS marked our deployment FAILED (rolloutState).
    DeploymentFailed {
        deployment: String,
        reason: Option<String>,
        /// As for `EcsRolledBack`.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        alarms: Vec<String>,
    },
    /// A `--alarm` alarm went into ALARM during the rollout or its bake (standalone: ecs-roll
    /// watches the alarms itself).
    AlarmFired {
        alarms: Vec<crate::platform::Alarm>,
    },
    /// Someone else's deployment replaced ours: not ours to undo.
    Superseded {
        deployment: String,
        by: Option<String>,
        revision: Option<String>,
    },
    /// `abort`: ECS completed the deployment before it acted on the stop request.
    StopNotTaken {
        deployment: String,
    },
    /// Tasks could not be placed and nothing moved for this long.
    PlacementStalled {
        #[serde(with = "secs")]
        stalled_for: Duration,
        message: String,
    },
    /// UpdateService answered but no deployment of the revision showed.
    NoDeploymentStarted {
        revision: String,
    },
    /// After the rollout, the family does not run what was wanted.
    VerificationFailed {
        problems: Vec<Mismatch>,
    },
    /// The rollback could not be planned from what runs now.
    RollbackRefused {
        refusal: Refusal,
    },
    /// StartTask failed.
    StartTaskFailed {
        revision: String,
        instance: String,
        error: ApiError,
    },
    /// An AWS call failed for good.
    Api {
        error: ApiError,
    },
    Interrupted {
        how: Interruption,
    },
    /// `deploy --before`: the command's one-off task did not succeed, so nothing rolled out.
    BeforeFailed(Box<BeforeFailure>),
}

/// The `--before` command's one-off task, as it failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BeforeFailure {
    pub command: String,
    /// `family:revision` the task ran (the one the deploy would have rolled out).
    pub revision: String,
    pub task_arn: String,
    /// Each essential container that did not exit 0 (none when ecs-roll stopped the task).
    pub containers: Vec<crate::engine::oneoff::ContainerFailure>,
    /// The task as ECS last described it once stopped.
    pub stopped: Option<StoppedTask>,
    /// It ran past `--run-timeout`, and ecs-roll stopped it (or left it running).
    #[serde(with = "opt_secs")]
    pub timed_out: Option<Duration>,
}

impl Failure {
    /// The one-word name of the cause, as `--output json` shows it in `failure.kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::TaskStopped { .. } => "task_stopped",
            Failure::TasksStopped { .. } => "tasks_stopped",
            Failure::TaskStartTimedOut { .. } => "task_start_timed_out",
            Failure::HealthChecksFailed { .. } => "health_checks_failed",
            Failure::TimedOut { .. } => "timed_out",
            Failure::DeadlinePassed => "deadline_passed",
            Failure::EcsRolledBack { .. } => "ecs_rolled_back",
            Failure::DeploymentFailed { .. } => "deployment_failed",
            Failure::AlarmFired { .. } => "alarm_fired",
            Failure::Superseded { .. } => "superseded",
            Failure::StopNotTaken { .. } => "stop_not_taken",
            Failure::PlacementStalled { .. } => "placement_stalled",
            Failure::NoDeploymentStarted { .. } => "no_deployment_started",
            Failure::VerificationFailed { .. } => "verification_failed",
            Failure::RollbackRefused { .. } => "rollback_refused",
            Failure::StartTaskFailed { .. } => "start_task_failed",
            Failure::Api { .. } => "api",
            Failure::Interrupted { .. } => "interrupted",
            Failure::BeforeFailed(_) => "before_failed",
        }
    }
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Failure {
        Failure::Api { error }
    }
}

/// A failure with the step it ended, for the outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureReport {
    /// The title of the step that failed, when a step did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    #[serde(flatten)]
    pub cause: Failure,
}

impl FailureReport {
    pub fn new(step: Option<String>, cause: Failure) -> FailureReport {
        FailureReport { step, cause }
    }
}

pub(crate) mod secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
    }
}

pub(crate) mod opt_secs {
    pub fn serialize<S: serde::Serializer>(
        d: &Option<std::time::Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::secs::serialize(d, s),
            None => s.serialize_none(),
        }
    }
}
