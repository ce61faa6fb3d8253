//! `ecs-roll abort`: ECS rolls the service's in-flight deployment back (StopServiceDeployment,
//! stopType ROLLBACK), and the run follows that rollback until the revision that ran before
//! serves every task, healthy in the load balancers (exit 3: rolled back). Run again while ECS
//! still rolls back (after Ctrl-C or kill -9), it follows the same rollback without asking
//! again. Nothing is asked of ECS before the checks pass: a deployment that already ended, an
//! endpoint without service deployments, or no earlier revision to return to is a refusal.

use std::collections::HashSet;
use std::ops::ControlFlow;
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
use crate::engine::progress::{Progress, Wait};
use crate::engine::refusal::{AbortBlocked, Refusal};
use crate::engine::skeleton::{self, PreflightDeadline, by_deadline};
use crate::engine::verdict::Verdict;
use crate::engine::wait::{self, WaitError, with_retry};
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

/// `deadline` bounds the checks (exit 2, nothing changed); `--timeout` (the context's total)
/// bounds the whole run.
pub async fn abort(
    s: &ServiceCtx,
    container: Option<&str>,
    deadline: Option<PreflightDeadline>,
) -> Result<Outcome, Error> {
    let ctx = &s.ctx;
    let started = Instant::now();
    ctx.emit(Event::Phase(Phase::Preflight));
    let mut a = by_deadline(deadline, check(s)).await?;
    let outcome = initial_outcome(s, &a, container).await;
    // Ctrl-C during the checks: ECS is not asked.
    let mut outcome = match skeleton::ends_before_change(ctx, outcome, false, started) {
        ControlFlow::Continue(o) => o,
        ControlFlow::Break(done) => return Ok(done),
    };
    ctx.emit(Event::Phase(Phase::Rollback));
    if !a.rolling_back {
        request_stop(s, &a.service_deployment.arn, &a.primary.id).await?;
    }
    let t = Instant::now();
    let limit = ctx.timeouts.total.unwrap_or(DEFAULT_LIMIT);
    let halt = follow_rollback(s, &a, limit.saturating_sub(started.elapsed())).await;
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
            let how = Interruption::RollbackContinues {
                service_deployment: a.service_deployment.arn.clone(),
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

/// StopServiceDeployment, asked once: it is not idempotent (a second ask of a deployment
/// ECS rolls back already is a ConflictException). A failed ask is read back: where ECS
/// rolls back all the same (the answer was lost) the run goes on; otherwise ECS did nothing,
/// and the run ends as a refusal does (exit 2, nothing changed).
async fn request_stop(s: &ServiceCtx, arn: &str, deployment_id: &str) -> Result<(), Error> {
    let ctx = &s.ctx;
    if let Err(e) = s
        .services
        .stop_service_deployment(&ctx.cluster, &s.service, arn)
        .await
    {
        let now = with_retry(|| {
            s.services
                .service_deployment(&ctx.cluster, &s.service, deployment_id)
        })
        .await;
        let rolls_back = matches!(&now, Ok(Some(sd)) if sd.status.is_rollback());
        if !rolls_back {
            return Err(Error::from_api_before_change(e));
        }
    }
    ctx.emit(Event::Action(Action::ServiceDeploymentStopped {
        service_deployment: arn.to_string(),
        service: s.service.clone(),
    }));
    Ok(())
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

/// Waits for ECS's rollback deployment to show (ECS's word only: the stopped deployment's
/// own failing tasks are ECS's to handle now), then follows that rollback to its end, all
/// within `limit`.
async fn follow_rollback(s: &ServiceCtx, a: &Aborting, limit: Duration) -> Option<Halt> {
    let start = Instant::now();
    let rollback_id = if a.rolling_back && a.primary.task_definition == a.source {
        a.primary.id.clone()
    } else {
        match rollback_shows(s, a, limit).await {
            Ok(id) => id,
            Err(halt) => return Some(halt),
        }
    };
    let scene = Scene {
        s,
        gates: &a.gates,
        instances: &a.instances,
        desired: a.svc.desired_count,
        limit: limit.saturating_sub(start.elapsed()),
    };
    let mut seen: HashSet<String> = a.svc.events.iter().map(|e| e.id.clone()).collect();
    let back = Watched {
        deployment_id: &rollback_id,
        target: &a.source,
        previous: None,
    };
    follow(&scene, &back, &mut seen).await
}

/// The id of ECS's rollback deployment: the PRIMARY once it runs the source revision under
/// another id. The stopped deployment completing first means ECS did not take the stop.
async fn rollback_shows(s: &ServiceCtx, a: &Aborting, limit: Duration) -> Result<String, Halt> {
    let ctx = &s.ctx;
    let stopped = a.primary.id.clone();
    let found = std::sync::Mutex::new(None);
    let what = Wait::Deployment {
        deployment: stopped.clone(),
    };
    let result = wait::until(&what, limit, ctx.poll, ctx.observer.as_ref(), || async {
        if ctx.cancel.requested() {
            return Ok(Verdict::Failed(Failure::Interrupted {
                how: Interruption::BeforeChange,
            }));
        }
        let svc = observe::service(s).await?;
        let rollback = rollback_of(&svc, &stopped, &a.source);
        let verdict = waiting_verdict(&svc, &stopped, rollback.is_some());
        *found.lock().unwrap_or_else(|e| e.into_inner()) = rollback;
        Ok(verdict)
    })
    .await;
    match result {
        Ok(_) => Ok(found
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or_default()),
        Err(_) if ctx.cancel.requested() => Err(Halt::Interrupted),
        Err(WaitError::Failed(cause)) => Err(Halt::Failed {
            cause,
            ecs_rollback: None,
        }),
        Err(e) => Err(Halt::Failed {
            cause: e.into_failure(what),
            ecs_rollback: None,
        }),
    }
}

fn primary(svc: &Service) -> Option<&Deployment> {
    svc.deployments
        .iter()
        .find(|d| d.status == DeploymentStatus::Primary)
}

/// ECS's rollback deployment in one DescribeServices answer: the PRIMARY running `source`
/// under another id than the stopped one.
fn rollback_of(svc: &Service, stopped: &str, source: &str) -> Option<String> {
    primary(svc)
        .filter(|p| p.id != stopped && p.task_definition == source)
        .map(|p| p.id.clone())
}

/// While ECS takes the stop: done once its rollback shows, failed when the stopped
/// deployment completed instead, else waiting.
fn waiting_verdict(svc: &Service, stopped: &str, rollback_shows: bool) -> Verdict {
    let completed = primary(svc)
        .is_some_and(|p| p.id == stopped && p.rollout_state == Some(RolloutState::Completed));
    if rollback_shows {
        Verdict::Done
    } else if completed {
        Verdict::Failed(Failure::StopNotTaken {
            deployment: stopped.to_string(),
        })
    } else {
        Verdict::Pending(Progress::StopRequested {
            deployment: stopped.to_string(),
        })
    }
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
