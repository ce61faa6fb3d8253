//! The sentences for a failure and for a wait's progress: what went wrong, with ECS's own
//! evidence (stop codes, reasons, exit codes), and the hint for an AWS error.

use crate::engine::failure::{Failure, FailureReport, Interruption, Mismatch, StoppedTask};
use crate::engine::progress::{Progress, Wait};
use crate::platform::short;

use super::human_limit;

/// Why the task stopped, with the exit code of every container that has one.
pub fn stopped_task(t: &StoppedTask) -> String {
    let mut parts = Vec::new();
    if let Some(reason) = &t.stopped_reason {
        parts.push(reason.clone());
    }
    for c in &t.containers {
        match (c.exit_code, c.reason.as_deref()) {
            (Some(code), Some(r)) => parts.push(format!("container {} exited {code}: {r}", c.name)),
            (Some(code), None) => parts.push(format!("container {} exited {code}", c.name)),
            (None, Some(r)) => parts.push(format!("container {}: {r}", c.name)),
            (None, None) => {}
        }
    }
    if parts.is_empty() {
        "stopped without a reason from ECS".to_string()
    } else {
        parts.join("; ")
    }
}

fn api(e: &crate::platform::ApiError) -> String {
    format!("{e} ({})", crate::error::api_hint(e))
}

fn or_none(reason: &Option<String>) -> &str {
    reason.as_deref().unwrap_or("no reason given")
}

/// The failure in one sentence.
pub fn message(f: &Failure) -> String {
    match f {
        Failure::TaskStopped {
            task,
            deployed_earlier,
        } => format!(
            "task {} stopped: {}{}",
            short(&task.task_arn),
            stopped_task(task),
            if *deployed_earlier {
                " (deployed by an earlier step)"
            } else {
                ""
            }
        ),
        Failure::TasksStopped { count, last } => {
            format!(
                "{count} new task(s) stopped; the last: {}",
                stopped_task(last)
            )
        }
        Failure::TaskStartTimedOut { limit } => format!(
            "the new task did not reach RUNNING within {}",
            human_limit(*limit)
        ),
        Failure::HealthChecksFailed {
            load_balancer,
            target,
            state,
            description,
            unhealthy_for,
            ..
        } => match unhealthy_for {
            Some(d) => format!(
                "task {} has been unhealthy in {load_balancer} for {}s: {state}",
                short(target),
                d.as_secs()
            ),
            None => format!(
                "{target} failed the load balancer's health check: {}",
                description.as_deref().unwrap_or("OutOfService")
            ),
        },
        Failure::TimedOut {
            waiting_for,
            limit,
            last,
        } => format!(
            "{}: not done after {}: {}",
            not_done(waiting_for),
            human_limit(*limit),
            last.as_deref().map(progress).unwrap_or_default()
        ),
        Failure::DeadlinePassed => {
            "the time limit (--timeout) passed before this step could start".into()
        }
        Failure::EcsRolledBack {
            deployment,
            status: Some(status),
            reason,
            ..
        } => format!(
            "ECS is rolling the deployment {deployment} back ({status}): {}",
            or_none(reason)
        ),
        Failure::EcsRolledBack {
            deployment,
            primary,
            primary_revision,
            ..
        } => format!(
            "ECS rolled our deployment {deployment} back: {} is now primary",
            deployment_of(primary, primary_revision)
        ),
        Failure::DeploymentFailed { reason, .. } => {
            format!("ECS marked the deployment FAILED: {}", or_none(reason))
        }
        Failure::AlarmFired { alarms } => {
            format!(
                "alarm {} went into ALARM",
                super::alarms_with_reasons(alarms)
            )
        }
        Failure::Superseded {
            deployment,
            by,
            revision,
        } => format!(
            "our deployment {deployment} was replaced by {}, started by someone else; not rolling back over it",
            deployment_of(by, revision)
        ),
        Failure::StopNotTaken { deployment } => format!(
            "ECS completed deployment {deployment} before it acted on the stop request: the new revision serves"
        ),
        Failure::PlacementStalled {
            stalled_for,
            message,
        } => format!(
            "no progress for {}s while tasks cannot be placed: {message}",
            stalled_for.as_secs()
        ),
        Failure::NoDeploymentStarted { revision } => {
            format!("UpdateService started no deployment of {revision}")
        }
        Failure::VerificationFailed { problems } => {
            problems.iter().map(mismatch).collect::<Vec<_>>().join("; ")
        }
        Failure::RollbackRefused { refusal } => refusal.to_string(),
        Failure::StartTaskFailed {
            revision,
            instance,
            error,
        } => format!(
            "could not start a task of {revision} on {instance}: {}",
            api(error)
        ),
        Failure::Api { error } => api(error),
        Failure::Interrupted { how } => match how {
            Interruption::BeforeChange => "interrupted before anything was changed".into(),
            Interruption::StepFinished => {
                "interrupted; the step in progress was finished first".into()
            }
            Interruption::DeploymentContinues { deployment } => {
                format!("interrupted; ECS carries on with deployment {deployment} by itself")
            }
            Interruption::RollbackContinues { service_deployment } => {
                format!("interrupted; ECS carries on rolling {service_deployment} back by itself")
            }
            Interruption::BeforeRollout { task_arn, stopped } => format!(
                "interrupted during the command before the rollout; its one-off task {} {}; nothing was rolled out",
                crate::platform::short(task_arn),
                if *stopped {
                    "was stopped"
                } else {
                    "was left running (--leave-running)"
                }
            ),
        },
        Failure::BeforeFailed(b) => {
            let why = match b.timed_out {
                Some(limit) => format!(
                    "it ran past --run-timeout {} and was {}",
                    super::human(limit),
                    if b.stopped.is_some() {
                        "stopped"
                    } else {
                        "left running (--leave-running)"
                    }
                ),
                None => super::oneoff::container_failures(&b.containers),
            };
            format!(
                "the command before the rollout (`{}`) failed in one-off task {} of {}: {why}",
                b.command,
                crate::platform::short(&b.task_arn),
                b.revision
            )
        }
    }
}

/// `step: message`, as the summary and the GitHub outputs show a failure.
pub fn report(r: &FailureReport) -> String {
    match &r.step {
        Some(step) => format!("{step}: {}", message(&r.cause)),
        None => message(&r.cause),
    }
}

fn deployment_of(id: &Option<String>, revision: &Option<String>) -> String {
    match (id, revision) {
        (Some(id), Some(rev)) => format!("deployment {id} of {rev}"),
        (Some(id), None) => format!("deployment {id}"),
        _ => "no deployment".into(),
    }
}

fn mismatch(m: &Mismatch) -> String {
    match m {
        Mismatch::OtherRevisionsRun { tasks } => {
            format!("{tasks} tasks of other revisions still run")
        }
        Mismatch::WrongCount { running, wanted } => {
            format!("{running} tasks of the new revision run, {wanted} wanted")
        }
        Mismatch::NotInService { instance, state } => format!("{instance} is {state}"),
        Mismatch::NotRegistered {
            instance,
            load_balancer,
        } => format!("{instance} is not registered with {load_balancer}"),
        Mismatch::RegisteredWithoutTask {
            instance,
            load_balancer,
        } => format!("{instance} is registered with {load_balancer} but no task runs on it"),
    }
}

/// What did not happen, for a wait that timed out.
fn not_done(w: &Wait) -> String {
    match w {
        Wait::InService { .. } => "the load balancer did not report the new task healthy".into(),
        Wait::Draining { .. } => "connection draining".into(),
        Wait::TasksStopped { .. } => "the old task did not stop".into(),
        Wait::OtherInService { .. } => {
            "taking the instance out would leave nothing in service".into()
        }
        Wait::Deployment { deployment } => {
            format!("deployment {deployment} did not become healthy in every load balancer")
        }
        Wait::TaskHealthy {
            task,
            load_balancer,
        } => format!(
            "task {} did not become healthy in {load_balancer} (--health-timeout)",
            short(task)
        ),
        Wait::Bake { .. } => "the bake".into(),
    }
}

/// What a wait waits for, as the progress lines name it.
pub fn wait(w: &Wait) -> String {
    match w {
        Wait::InService {
            instances,
            load_balancer,
        } => format!("{} InService in {load_balancer}", instances.join(", ")),
        Wait::Draining { instances } => format!("connection draining on {}", instances.join(", ")),
        Wait::TasksStopped { count } => format!("{count} task(s) STOPPED"),
        Wait::OtherInService { leaving } => format!(
            "another instance InService before {} leaves",
            leaving.join(", ")
        ),
        Wait::Deployment { deployment } => {
            format!("deployment {deployment} healthy in every load balancer")
        }
        Wait::TaskHealthy {
            task,
            load_balancer,
        } => format!("task {} healthy in {load_balancer}", short(task)),
        Wait::Bake { duration, alarms } if alarms.is_empty() => {
            format!(
                "bake: the new tasks keep running for {}",
                human_limit(*duration)
            )
        }
        Wait::Bake { duration, alarms } => format!(
            "bake: the new tasks keep running and alarm(s) {} stay out of ALARM for {}",
            alarms.join(", "),
            human_limit(*duration)
        ),
    }
}

/// What a wait saw last.
pub fn progress(p: &Progress) -> String {
    match p {
        Progress::TasksVisible { seen, expected } => format!("{seen} of {expected} tasks visible"),
        Progress::TasksStarting {
            running,
            expected,
            statuses,
        } => format!(
            "{running} of {expected} RUNNING ({})",
            statuses
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Progress::TasksStopping { left, status } => format!("{left} still {status}"),
        Progress::InstancesWaiting { instances } => instances
            .iter()
            .map(|i| match i.state {
                Some(state) => format!(
                    "{} {state}{}",
                    i.instance,
                    i.description
                        .as_deref()
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default()
                ),
                None => format!("{} not registered yet", i.instance),
            })
            .collect::<Vec<_>>()
            .join("; "),
        Progress::Draining { instances } => {
            format!("connections draining on {}", instances.join(", "))
        }
        Progress::NoOtherInService => "no other instance is InService".into(),
        Progress::Baking { left } => format!("{} left", human_limit(*left)),
        Progress::StopRequested { deployment } => format!(
            "ECS took the stop of deployment {deployment}; its rollback deployment has not started yet"
        ),
        Progress::Deployment(d) => {
            let mut s = format!(
                "new {}/{} running, {} healthy; old tasks {}; old targets {}; rollout {}",
                d.running,
                d.desired,
                d.healthy,
                d.old_tasks,
                d.old_targets,
                d.rollout.as_ref().map_or(
                    if d.complete {
                        "complete"
                    } else {
                        "in progress"
                    },
                    |r| r.as_str()
                )
            );
            if let Some(stage) = &d.lifecycle_stage {
                s.push_str(&format!("; stage {stage}"));
            }
            if !d.waiting.is_empty() {
                let w: Vec<String> = d
                    .waiting
                    .iter()
                    .map(|t| format!("{} {} in {}", short(&t.task_arn), t.state, t.load_balancer))
                    .collect();
                s.push_str(&format!(" ({})", w.join(", ")));
            }
            s
        }
        Progress::Retrying { error } => format!("AWS answered: {error} (retrying)"),
    }
}
