//! From the evidence a `Failure` carries to a diagnosis: the cause, typed, that a user can act
//! on. Pure: it reads ECS's own wording and codes (stop codes, stopped reasons, container
//! reasons and exit codes, the load balancer's reason codes, service event text) and never
//! calls AWS. The sentences and hints are made in `render::diagnosis`; table tests in
//! `diagnosis/tests.rs` use ECS's exact strings.

use serde::Serialize;

use super::failure::{ContainerExit, Failure, StoppedTask, secs};
use super::progress::Wait;
use crate::platform::{ApiError, ApiErrorKind};

mod evidence;
#[cfg(test)]
mod tests;
mod text;

pub use evidence::{Evidence, evidence};

/// Why a pull failed, as far as the registry's answer tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PullProblem {
    /// The tag or the repository does not exist ("not found", "manifest unknown").
    NotFound,
    /// The registry refused: the execution role cannot pull from ECR, or private registry
    /// credentials are missing ("access denied", "no basic auth credentials").
    AccessDenied,
    /// The registry could not be reached (no route, NAT or VPC endpoint missing).
    Unreachable,
    Other,
}

/// How the load balancer's health checks fail, from its reason code where it gave one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckProblem {
    /// `Target.ResponseCodeMismatch`: the app answers with a code the matcher rejects.
    WrongStatus,
    /// `Target.Timeout`: no answer within the health check's timeout.
    Timeout,
    /// `Elb.InitialHealthChecking` or not past HealthyThreshold yet: still starting.
    StillStarting,
    /// `Target.FailedHealthChecks`, or the classic ELB's UnhealthyThreshold verdict.
    Failing,
}

/// The resource no container instance had enough of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shortfall {
    Ports,
    Memory,
    Cpu,
    /// A placement constraint or a required attribute (`ATTRIBUTE`).
    Attribute,
    /// The ECS agent is disconnected (`AGENT`).
    Agent,
    /// No container instance in the cluster at all.
    NoInstances,
    /// Fargate had no capacity.
    FargateCapacity,
    Other,
}

/// What ECS's rollback or failure of a deployment was triggered by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "trigger", rename_all = "snake_case")]
pub enum Trigger {
    CircuitBreaker,
    /// CloudWatch alarms; the names where ECS's reason gives them.
    Alarms {
        alarms: Vec<String>,
    },
    Unknown,
}

/// Which wait ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimedOutWaiting {
    /// A new task for RUNNING.
    TaskStart,
    /// A new task for InService in a classic ELB.
    InService,
    /// Connection draining.
    Draining,
    /// Old tasks for STOPPED.
    TasksStop,
    /// Another instance InService before one leaves.
    OtherInService,
    /// A service deployment to be healthy everywhere.
    Deployment,
    /// A new task of a service for healthy in a load balancer (`--health-timeout`).
    TaskHealthy,
    /// The bake after the last step (it ends by itself: only a stuck read times it out).
    Bake,
    /// The rollout's time limit (--timeout) before a step could start.
    Deadline,
}

/// The cause of a failure, typed, as `--output json` shows it in `failure.diagnosis`
/// (and its name in `failure.cause`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum Diagnosis {
    /// `CannotPullContainerError`.
    ImagePull {
        problem: PullProblem,
        container: Option<String>,
        image: Option<String>,
    },
    /// Exit code 137 with `OutOfMemoryError`.
    OutOfMemory {
        container: Option<String>,
    },
    /// An essential container exited: non-zero, or 0 where it must keep running.
    AppCrashed {
        container: Option<String>,
        exit_code: Option<i32>,
    },
    /// The container's own health check (the task definition's `healthCheck`) failed.
    ContainerHealthCheck {
        container: Option<String>,
    },
    /// `CannotStartContainerError` / `CannotCreateContainerError`.
    ContainerStart {
        container: Option<String>,
    },
    /// `ResourceInitializationError`: secrets, SSM parameters or registry auth the
    /// execution role cannot read.
    ResourceInitialization {
        /// The IAM action denied, where ECS's text names it (`secretsmanager:GetSecretValue`).
        action: Option<String>,
        /// The secret or parameter, where named.
        resource: Option<String>,
    },
    /// The load balancer's health checks fail.
    HealthChecks {
        load_balancer: String,
        target: String,
        check: CheckProblem,
        /// The status codes the app answered, where the load balancer said.
        codes: Vec<u16>,
        /// How long it had failed past the grace period (--health-grace), when one applied.
        #[serde(with = "super::failure::opt_secs")]
        unhealthy_for: Option<std::time::Duration>,
    },
    /// Tasks could not be placed.
    Placement {
        shortfall: Shortfall,
        /// The closest matching container instance ECS named.
        instance: Option<String>,
        port: Option<u16>,
    },
    /// ECS rolled the deployment back.
    EcsRolledBack {
        #[serde(flatten)]
        trigger: Trigger,
        deployment: String,
    },
    /// ECS marked the deployment FAILED.
    EcsFailedDeployment {
        #[serde(flatten)]
        trigger: Trigger,
        deployment: String,
    },
    /// ecs-roll saw a `--alarm` alarm go into ALARM and rolled back by itself.
    AlarmFired {
        alarms: Vec<String>,
    },
    /// An IAM denial: the action to grant.
    AccessDenied {
        operation: &'static str,
        action: String,
    },
    /// Another AWS error.
    Aws {
        operation: &'static str,
        kind: ApiErrorKind,
    },
    TimedOut {
        waiting_for: TimedOutWaiting,
        #[serde(with = "secs")]
        limit: std::time::Duration,
    },
    /// Someone else's deployment replaced ours.
    Superseded {
        by: Option<String>,
    },
    /// The rollout ended but the family does not run what was wanted.
    VerificationFailed {
        problems: usize,
    },
    /// UpdateService started no deployment.
    NoDeploymentStarted,
    /// A rollback could not be planned from what runs now.
    RollbackRefused,
    /// The task was stopped from outside (StopTask by someone or something else).
    StoppedFromOutside {
        stop_code: Option<String>,
    },
    Interrupted,
    /// `deploy --before`: the command's one-off task failed (`why`: what the stopped task
    /// shows) or ran past `--run-timeout`; nothing was rolled out.
    BeforeFailed {
        command: String,
        revision: String,
        why: Option<Box<Diagnosis>>,
        #[serde(with = "super::failure::opt_secs")]
        timed_out: Option<std::time::Duration>,
    },
    /// None of the above: the evidence (in `failure.evidence`) says what ECS said.
    Unknown {
        failure: &'static str,
        ecs_says: Option<String>,
    },
}

impl Diagnosis {
    /// The cause's name, as `failure.cause` shows it.
    pub fn kind(&self) -> &'static str {
        match self {
            Diagnosis::ImagePull { .. } => "image_pull",
            Diagnosis::OutOfMemory { .. } => "out_of_memory",
            Diagnosis::AppCrashed { .. } => "app_crashed",
            Diagnosis::ContainerHealthCheck { .. } => "container_health_check",
            Diagnosis::ContainerStart { .. } => "container_start",
            Diagnosis::ResourceInitialization { .. } => "resource_initialization",
            Diagnosis::HealthChecks { .. } => "health_checks",
            Diagnosis::Placement { .. } => "placement",
            Diagnosis::EcsRolledBack { .. } => "ecs_rolled_back",
            Diagnosis::EcsFailedDeployment { .. } => "ecs_failed_deployment",
            Diagnosis::AlarmFired { .. } => "alarm_fired",
            Diagnosis::AccessDenied { .. } => "access_denied",
            Diagnosis::Aws { .. } => "aws",
            Diagnosis::TimedOut { .. } => "timed_out",
            Diagnosis::Superseded { .. } => "superseded",
            Diagnosis::VerificationFailed { .. } => "verification_failed",
            Diagnosis::NoDeploymentStarted => "no_deployment_started",
            Diagnosis::RollbackRefused => "rollback_refused",
            Diagnosis::StoppedFromOutside { .. } => "stopped_from_outside",
            Diagnosis::Interrupted => "interrupted",
            Diagnosis::BeforeFailed { .. } => "before_failed",
            Diagnosis::Unknown { .. } => "unknown",
        }
    }
}

/// The diagnosis of a failure, from its evidence alone.
pub fn diagnose(f: &Failure) -> Diagnosis {
    match f {
        Failure::TaskStopped { task, .. } => stopped_task(task),
        Failure::TasksStopped { last, .. } => stopped_task(last),
        Failure::TaskStartTimedOut { limit } => Diagnosis::TimedOut {
            waiting_for: TimedOutWaiting::TaskStart,
            limit: *limit,
        },
        Failure::HealthChecksFailed {
            load_balancer,
            target,
            reason,
            description,
            unhealthy_for,
            ..
        } => Diagnosis::HealthChecks {
            load_balancer: load_balancer.clone(),
            target: target.clone(),
            check: check_problem(reason.as_deref(), description.as_deref()),
            codes: description
                .as_deref()
                .map(text::status_codes)
                .unwrap_or_default(),
            unhealthy_for: *unhealthy_for,
        },
        Failure::TimedOut {
            waiting_for, limit, ..
        } => Diagnosis::TimedOut {
            waiting_for: timed_out_waiting(waiting_for),
            limit: *limit,
        },
        Failure::DeadlinePassed => Diagnosis::TimedOut {
            waiting_for: TimedOutWaiting::Deadline,
            limit: std::time::Duration::ZERO,
        },
        Failure::EcsRolledBack {
            deployment,
            reason,
            alarms,
            ..
        } => Diagnosis::EcsRolledBack {
            trigger: trigger(reason.as_deref(), alarms),
            deployment: deployment.clone(),
        },
        Failure::DeploymentFailed {
            deployment,
            reason,
            alarms,
        } => Diagnosis::EcsFailedDeployment {
            trigger: trigger(reason.as_deref(), alarms),
            deployment: deployment.clone(),
        },
        Failure::AlarmFired { alarms } => Diagnosis::AlarmFired {
            alarms: alarms.iter().map(|a| a.name.clone()).collect(),
        },
        Failure::PlacementStalled { message, .. } => placement(message),
        Failure::StartTaskFailed { error, .. } => start_task_failed(error),
        Failure::Api { error } => api(error),
        Failure::BeforeFailed(b) => Diagnosis::BeforeFailed {
            command: b.command.clone(),
            revision: b.revision.clone(),
            // What stopped the task, unless ecs-roll did (at the timeout).
            why: b
                .stopped
                .as_ref()
                .filter(|_| b.timed_out.is_none())
                .map(|t| Box::new(stopped_task(t))),
            timed_out: b.timed_out,
        },
        other => outside_the_tasks(other),
    }
}

/// The failures that say nothing about a task: the run's own course.
fn outside_the_tasks(f: &Failure) -> Diagnosis {
    match f {
        Failure::Superseded { by, .. } => Diagnosis::Superseded { by: by.clone() },
        Failure::VerificationFailed { problems } => Diagnosis::VerificationFailed {
            problems: problems.len(),
        },
        Failure::NoDeploymentStarted { .. } => Diagnosis::NoDeploymentStarted,
        Failure::RollbackRefused { .. } => Diagnosis::RollbackRefused,
        Failure::Interrupted { .. } => Diagnosis::Interrupted,
        other => Diagnosis::Unknown {
            failure: other.kind(),
            ecs_says: None,
        },
    }
}

/// A stopped task, from the most specific evidence to the least: ECS's error prefixes in the
/// stopped reason or a container's reason first, then the stop code and exit codes.
fn stopped_task(t: &StoppedTask) -> Diagnosis {
    let with = |needle: &str| text::first_mention(t, needle);
    if let Some((container, said)) = with("CannotPullContainerError") {
        return Diagnosis::ImagePull {
            problem: text::pull_problem(said),
            container,
            image: text::pulled_image(said),
        };
    }
    if let Some((container, _)) = with("OutOfMemoryError") {
        return Diagnosis::OutOfMemory {
            container: container.or_else(|| exit_137(&t.containers)),
        };
    }
    if let Some((_, said)) = with("ResourceInitializationError") {
        return Diagnosis::ResourceInitialization {
            action: text::denied_action(said),
            resource: text::denied_resource(said),
        };
    }
    for prefix in ["CannotStartContainerError", "CannotCreateContainerError"] {
        if let Some((container, _)) = with(prefix) {
            return Diagnosis::ContainerStart { container };
        }
    }
    exits(t)
}

/// What the stop code, the stopped reason and the exit codes tell once no error prefix did.
fn exits(t: &StoppedTask) -> Diagnosis {
    let reason = t.stopped_reason.as_deref().unwrap_or("");
    if let Some(tg) = text::failed_elb_checks(reason) {
        return Diagnosis::HealthChecks {
            load_balancer: tg,
            target: t.task_arn.clone(),
            check: CheckProblem::Failing,
            codes: Vec::new(),
            unhealthy_for: None,
        };
    }
    if reason.contains("failed container health checks") {
        return Diagnosis::ContainerHealthCheck {
            container: t.containers.first().map(|c| c.name.clone()),
        };
    }
    let essential = t.stop_code.as_deref() == Some("EssentialContainerExited")
        || reason.contains("Essential container in task exited");
    if essential {
        // The container that failed: a non-zero exit first, else the one that exited 0.
        let culprit = t
            .containers
            .iter()
            .find(|c| c.exit_code.is_some_and(|e| e != 0))
            .or_else(|| t.containers.iter().find(|c| c.exit_code.is_some()));
        return Diagnosis::AppCrashed {
            container: culprit.map(|c| c.name.clone()),
            exit_code: culprit.and_then(|c| c.exit_code),
        };
    }
    match t.stop_code.as_deref() {
        Some("UserInitiated" | "SpotInterruption" | "TerminationNotice") => {
            Diagnosis::StoppedFromOutside {
                stop_code: t.stop_code.clone(),
            }
        }
        _ => Diagnosis::Unknown {
            failure: "task_stopped",
            ecs_says: t.stopped_reason.clone(),
        },
    }
}

fn exit_137(containers: &[ContainerExit]) -> Option<String> {
    containers
        .iter()
        .find(|c| c.exit_code == Some(137))
        .map(|c| c.name.clone())
}

fn check_problem(reason: Option<&str>, description: Option<&str>) -> CheckProblem {
    match reason {
        Some("Target.ResponseCodeMismatch") => CheckProblem::WrongStatus,
        Some("Target.Timeout") => CheckProblem::Timeout,
        Some("Elb.InitialHealthChecking") => CheckProblem::StillStarting,
        _ if description
            .is_some_and(|d| d.contains("not passed the configured HealthyThreshold")) =>
        {
            CheckProblem::StillStarting
        }
        _ => CheckProblem::Failing,
    }
}

fn timed_out_waiting(w: &Wait) -> TimedOutWaiting {
    match w {
        Wait::InService { .. } => TimedOutWaiting::InService,
        Wait::Draining { .. } => TimedOutWaiting::Draining,
        Wait::TasksStopped { .. } => TimedOutWaiting::TasksStop,
        Wait::OtherInService { .. } => TimedOutWaiting::OtherInService,
        Wait::Deployment { .. } => TimedOutWaiting::Deployment,
        Wait::TaskHealthy { .. } => TimedOutWaiting::TaskHealthy,
        Wait::Bake { .. } => TimedOutWaiting::Bake,
    }
}

/// The alarms known to have gone into ALARM decide; else ECS's reason tells.
fn trigger(reason: Option<&str>, alarms: &[String]) -> Trigger {
    let reason = reason.unwrap_or("");
    if !alarms.is_empty() {
        Trigger::Alarms {
            alarms: alarms.to_vec(),
        }
    } else if reason.contains("circuit breaker") {
        Trigger::CircuitBreaker
    } else if reason.to_ascii_lowercase().contains("alarm") {
        Trigger::Alarms {
            alarms: text::alarm_names(reason),
        }
    } else {
        Trigger::Unknown
    }
}

fn placement(message: &str) -> Diagnosis {
    Diagnosis::Placement {
        shortfall: text::shortfall(message),
        instance: text::closest_instance(message),
        port: text::port(message),
    }
}

/// StartTask (standalone) reports a placement problem as a failure reason, and a denial as
/// an error: either is more telling than "StartTask failed".
fn start_task_failed(error: &ApiError) -> Diagnosis {
    let m = &error.message;
    let placement_reason =
        m.contains("RESOURCE:") || m.contains(": ATTRIBUTE") || m.contains(": AGENT");
    if error.kind != ApiErrorKind::AccessDenied && placement_reason {
        return placement(&error.message);
    }
    api(error)
}

fn api(error: &ApiError) -> Diagnosis {
    match error.kind {
        ApiErrorKind::AccessDenied => Diagnosis::AccessDenied {
            operation: error.operation,
            action: text::denied_action(&error.message)
                .unwrap_or_else(|| crate::error::iam_action(error.operation)),
        },
        kind => Diagnosis::Aws {
            operation: error.operation,
            kind,
        },
    }
}
