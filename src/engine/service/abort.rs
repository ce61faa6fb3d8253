//! `ecs-roll abort`: ECS rolls the service's in-flight deployment back (StopServiceDeployment,
//! stopType ROLLBACK), and the run follows that rollback until the revision that ran before
//! serves every task, healthy in the load balancers (exit 3: rolled back). Run again while ECS
//! still rolls back (after Ctrl-C or kill -9), it follows the same rollback without asking
//! again. Nothing is asked of ECS before the checks pass: a deployment that already ended, an
//! endpoint without service deployments, or no earlier revision to return to is a refusal.

use std::collections::HashSet;
use std::time::Duration;

use tokio::time::Instant;

use super::ServiceCtx;
use super::follow::{Halt, Scene, follow};
use super::observe::{self, Gate};
use super::preflight::is_fargate;
use super::run::{find_service, task_reports};
use super::watch::Watched;
use crate::engine::deploy::info;
use crate::engine::events::{Action, Event, Phase};
use crate::engine::failure::{Failure, FailureReport, Interruption};
use crate::engine::observe::Catalog;
use crate::engine::outcome::{Outcome, RunResult, StepReport};
use crate::engine::refusal::{AbortBlocked, Refusal};
use crate::engine::wait::with_retry;
use crate::error::Error;
use crate::platform::{
    ContainerInstance, Deployment, DeploymentStatus, RolloutState, Service, ServiceDeployment,
    ServiceDeploymentStatus, TaskStatus,
};

/// How long the rollback is followed without --timeout.
const DEFAULT_LIMIT: Duration = Duration::from_secs(30 * 60);

/// What the checks found: the deployment to stop (or the rollback already under way) and the
/// revision ECS returns to.
struct Aborting {
    svc: Service,
    /// The PRIMARY deployment as DescribeServices shows it.
    primary: Deployment,
    service_deployment: ServiceDeployment,
    /// ECS rolls back already (ROLLBACK_REQUESTED, ROLLBACK_IN_PROGRESS): follow only.
    rolling_back: bool,
    /// The task definition ECS returns to, and the one it leaves.
    source: String,
    stopped: String,
    gates: Vec<Gate>,
    instances: Vec<ContainerInstance>,
    catalog: Catalog,
}

pub async fn abort(s: &ServiceCtx, container: Option<&str>) -> Result<Outcome, Error> {
    let ctx = &s.ctx;
    let started = Instant::now();
    ctx.emit(Event::Phase(Phase::Preflight));
    let mut a = check(s).await?;
    let mut outcome = initial_outcome(s, &a, container).await;
    ctx.emit(Event::Phase(Phase::Rollback));
    if !a.rolling_back {
        let arn = &a.service_deployment.arn;
        with_retry(|| {
            s.services
                .stop_service_deployment(&ctx.cluster, &s.service, arn)
        })
        .await
        .map_err(Error::from_api_after_change)?;
        ctx.emit(Event::Action(Action::ServiceDeploymentStopped {
            service_deployment: arn.clone(),
            service: s.service.clone(),
        }));
    }
    let t = Instant::now();
    let halt = follow_rollback(s, &a).await;
    let title = format!(
        "ECS rolls back to {}",
        outcome.previous.as_ref().map_or("?", |p| p.name.as_str())
    );
    outcome.rollback_steps.push(StepReport {
        title,
        took: t.elapsed(),
        predicted: None,
        ok: halt.is_none(),
    });
    outcome.result = match halt {
        None => RunResult::RolledBack,
        Some(Halt::Interrupted) => {
            let how = Interruption::DeploymentContinues {
                deployment: a.primary.id.clone(),
            };
            outcome.failure = Some(FailureReport::new(None, Failure::Interrupted { how }));
            RunResult::Interrupted
        }
        Some(Halt::Failed { cause, .. } | Halt::Superseded(cause)) => {
            outcome.failure = Some(FailureReport::new(None, cause));
            RunResult::Failed
        }
    };
    outcome.tasks = final_tasks(s, &mut a).await.unwrap_or(outcome.tasks);
    outcome.duration = started.elapsed();
    Ok(outcome)
}

/// Every check before ECS is asked anything; a refusal names what is missing.
async fn check(s: &ServiceCtx) -> Result<Aborting, Error> {
    let ctx = &s.ctx;
    let before = Error::from_api_before_change;
    let svc = find_service(s).await?;
    let refuse = |why| {
        Error::refused(Refusal::CannotAbort {
            service: s.service.clone(),
            why,
        })
    };
    let Some(primary) = svc
        .deployments
        .iter()
        .find(|d| d.status == DeploymentStatus::Primary)
        .cloned()
    else {
        return Err(refuse(AbortBlocked::NoDeployment));
    };
    let found = with_retry(|| {
        s.services
            .service_deployment(&ctx.cluster, &s.service, &primary.id)
    })
    .await
    .map_err(before)?;
    let Some(sd) = found else {
        return Err(refuse(without_service_deployments(&svc, &primary)));
    };
    let rolling_back = match &sd.status {
        ServiceDeploymentStatus::Pending | ServiceDeploymentStatus::InProgress => false,
        ServiceDeploymentStatus::RollbackRequested
        | ServiceDeploymentStatus::RollbackInProgress => true,
        ended => {
            return Err(refuse(AbortBlocked::Ended {
                service_deployment: sd.arn.clone(),
                status: ended.clone(),
            }));
        }
    };
    let Some(source) = return_to(&sd, &svc, &primary, rolling_back) else {
        return Err(refuse(AbortBlocked::NoEarlierRevision {
            service_deployment: sd.arn.clone(),
        }));
    };
    let stopped = match &sd.target_task_definition {
        Some(td) if rolling_back => td.clone(),
        _ => primary.task_definition.clone(),
    };
    let gates = observe::gates(s, &svc.load_balancers).await?;
    let instances = observe::instances(s, is_fargate(&svc))
        .await
        .map_err(before)?;
    Ok(Aborting {
        svc,
        primary,
        service_deployment: sd,
        rolling_back,
        source,
        stopped,
        gates,
        instances,
        catalog: Catalog::default(),
    })
}

/// Why an endpoint without service deployments (moto) cannot abort: ECS could not be asked.
fn without_service_deployments(svc: &Service, primary: &Deployment) -> AbortBlocked {
    let in_flight =
        primary.rollout_state == Some(RolloutState::InProgress) || svc.deployments.len() > 1;
    if in_flight {
        AbortBlocked::Unsupported {
            deployment: primary.id.clone(),
        }
    } else {
        AbortBlocked::NoDeployment
    }
}

/// The task definition ECS rolls back to: the service deployment's source revision, else the
/// one the other deployment runs. Once ECS rolls back, the PRIMARY is that rollback.
fn return_to(
    sd: &ServiceDeployment,
    svc: &Service,
    primary: &Deployment,
    rolling_back: bool,
) -> Option<String> {
    if rolling_back && sd.target_task_definition.as_deref() != Some(&primary.task_definition) {
        return Some(primary.task_definition.clone());
    }
    sd.source_task_definitions
        .iter()
        .find(|td| **td != primary.task_definition)
        .cloned()
        .or_else(|| {
            svc.deployments
                .iter()
                .find(|d| d.id != primary.id && d.task_definition != primary.task_definition)
                .map(|d| d.task_definition.clone())
        })
}

/// Follows the deployment being stopped until ECS's rollback shows, then that rollback to
/// its end.
async fn follow_rollback(s: &ServiceCtx, a: &Aborting) -> Option<Halt> {
    let scene = Scene {
        s,
        gates: &a.gates,
        instances: &a.instances,
        desired: a.svc.desired_count,
        limit: s.ctx.timeouts.total.unwrap_or(DEFAULT_LIMIT),
    };
    let mut seen: HashSet<String> = a.svc.events.iter().map(|e| e.id.clone()).collect();
    let rollback_id = if a.rolling_back && a.primary.task_definition == a.source {
        a.primary.id.clone()
    } else {
        let stopped = Watched {
            deployment_id: &a.primary.id,
            target: &a.primary.task_definition,
            previous: Some(&a.source),
        };
        match follow(&scene, &stopped, &mut seen).await {
            Some(Halt::Failed {
                ecs_rollback: Some(id),
                ..
            }) => id,
            // Completed before ECS took the stop request: nothing was rolled back.
            None => {
                return Some(Halt::Failed {
                    cause: Failure::StopNotTaken {
                        deployment: a.primary.id.clone(),
                    },
                    ecs_rollback: None,
                });
            }
            other => return other,
        }
    };
    let back = Watched {
        deployment_id: &rollback_id,
        target: &a.source,
        previous: None,
    };
    follow(&scene, &back, &mut seen).await
}

async fn initial_outcome(s: &ServiceCtx, a: &Aborting, container: Option<&str>) -> Outcome {
    let ctx = &s.ctx;
    let mut catalog = Catalog::default();
    let stopped = catalog.get(ctx, &a.stopped).await.ok();
    let source = catalog.get(ctx, &a.source).await.ok();
    let family = source
        .as_ref()
        .or(stopped.as_ref())
        .map_or_else(|| ctx.family.clone(), |r| r.family.clone());
    Outcome {
        previous: source.as_ref().map(|r| info(r, container)),
        target: stopped.as_ref().map(|r| info(r, container)),
        service: Some(s.service.clone()),
        service_deployment_arn: Some(a.service_deployment.arn.clone()),
        ..Outcome::planned(
            "abort",
            &ctx.cluster,
            &family,
            observe::describe_gates(&a.gates),
        )
    }
}

/// Where each task of the service stands at the end.
async fn final_tasks(
    s: &ServiceCtx,
    a: &mut Aborting,
) -> Option<Vec<crate::engine::outcome::TaskReport>> {
    let ctx = &s.ctx;
    let tasks = with_retry(|| {
        s.services
            .service_tasks(&ctx.cluster, &s.service, TaskStatus::Running)
    })
    .await
    .ok()?;
    for t in &tasks {
        let _ = a.catalog.get(ctx, &t.task_definition_arn).await;
    }
    Some(task_reports(&tasks, &a.instances, &a.catalog))
}
