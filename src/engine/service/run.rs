//! A service deploy from start to end: preflight, plan, register, UpdateService, watch our
//! deployment, roll back (or follow ECS's own rollback), restore the deployment configuration.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use tokio::time::Instant;

use super::configuration::{self, Capacity};
use super::observe::{self, Gate, Reader, Snapshot};
use super::watch::{Judgement, Observed, Tracker, Watched, find_ours};
use super::{ServiceCtx, ServicePlan};
use crate::engine::deploy::{
    Desired, Options, TAG_PREVIOUS, find_identical, info, record, short_name,
};
use crate::engine::events::{Event, Phase};
use crate::engine::lock;
use crate::engine::observe::Catalog;
use crate::engine::outcome::{Outcome, RunResult, TaskReport};
use crate::engine::verdict::Verdict;
use crate::engine::wait::{self, WaitError, with_retry};
use crate::error::Error;
use crate::platform::{
    ContainerInstance, DeploymentConfiguration, Revision, Service, ServiceUpdate, Task,
};
use crate::taskdef::TaskDefinition;

/// How long tasks may stay unplaceable with no progress before the deploy fails: ECS emits
/// "unable to place a task" transiently during a normal rolling deploy on static host ports.
pub const PLACEMENT_GRACE: Duration = Duration::from_secs(180);

pub async fn run(s: &ServiceCtx, desired: Desired, opts: &Options) -> Result<Outcome, Error> {
    let ctx = &s.ctx;
    let started = Instant::now();
    ctx.emit(Event::Phase(Phase::Preflight));
    let active = with_retry(|| ctx.ecs.cluster_is_active(&ctx.cluster))
        .await
        .map_err(Error::from_api_before_change)?;
    if !active {
        return Err(Error::preflight(
            format!("cluster {:?} does not exist or is not ACTIVE", ctx.cluster),
            "check --cluster and --region",
        ));
    }
    let svc = with_retry(|| s.services.describe_service(&ctx.cluster, &s.service))
        .await
        .map_err(Error::from_api_before_change)?;
    let Some(svc) = svc else {
        return Err(Error::preflight(
            format!(
                "service {:?} not found in cluster {:?}",
                s.service, ctx.cluster
            ),
            "check --service (or `service` in ecs-roll.toml), --cluster and --region",
        ));
    };
    check_service(&svc)?;

    let mut catalog = Catalog::default();
    let current = catalog
        .get(ctx, &svc.task_definition)
        .await
        .map_err(Error::from_api_before_change)?;
    let (target_td, existing) = match desired {
        Desired::Definition(td) => {
            if td.family() != current.family {
                return Err(Error::usage(
                    format!(
                        "the task definition's family is {:?} but service {} runs family {:?}",
                        td.family(),
                        s.service,
                        current.family
                    ),
                    "deploy a task definition of the service's family",
                ));
            }
            let reuse =
                find_identical(ctx, &mut catalog, &[(svc.task_definition.clone(), 1)], &td).await?;
            (td, reuse)
        }
        Desired::Revision(r) => (TaskDefinition::from_revision(&r), Some(r)),
    };
    let target_arn = existing.as_ref().map(|r| r.arn.clone());
    let resuming = svc
        .deployments
        .iter()
        .find(|d| {
            d.status == "PRIMARY"
                && Some(&d.task_definition) == target_arn.as_ref()
                && d.rollout_state.as_deref() == Some("IN_PROGRESS")
        })
        .map(|d| d.id.clone());
    if resuming.is_none() {
        check_no_other_deployment(&svc)?;
    }
    let gates = observe::gates(s, &svc.load_balancers).await?;
    let own_strategy = svc
        .deployment_configuration
        .strategy
        .clone()
        .unwrap_or_else(|| "ROLLING".into());
    let strategy = opts
        .strategy
        .clone()
        .unwrap_or_else(|| own_strategy.clone());
    if strategy != "ROLLING" && gates.iter().any(|g| matches!(g, Gate::Classic { .. })) {
        return Err(Error::preflight(
            format!(
                "the {strategy} strategy shifts traffic between target groups, but service {} is behind a classic ELB",
                s.service
            ),
            "use --strategy rolling, or move the service to an ALB/NLB target group",
        ));
    }
    if strategy != "ROLLING" && gates.is_empty() {
        return Err(Error::preflight(
            format!(
                "the {strategy} strategy needs an ALB/NLB target group and service {} has no load balancer",
                s.service
            ),
            "use --strategy rolling",
        ));
    }
    let switches_strategy = strategy != own_strategy;
    let fargate = is_fargate(&svc);
    let instances = observe::instances(s, fargate)
        .await
        .map_err(Error::from_api_before_change)?;
    let running = with_retry(|| {
        s.services
            .service_tasks(&ctx.cluster, &s.service, "RUNNING")
    })
    .await
    .map_err(Error::from_api_before_change)?;
    let (capacity, capacity_text) = capacity(&target_td, &instances, fargate);
    let choice = configuration::choose(svc.desired_count, capacity, opts.allow_downtime).map_err(|r| {
        Error::preflight(
            format!("cannot deploy service {} without downtime: {r}", s.service),
            "add a container instance (or capacity provider capacity) so a new task fits beside the old one, or pass --allow-downtime",
        )
    })?;
    let current_pct = (
        svc.deployment_configuration.maximum_percent,
        svc.deployment_configuration.minimum_healthy_percent,
    );
    let changes_configuration = resuming.is_none()
        && (switches_strategy
            || (strategy == "ROLLING"
                && current_pct
                    != (
                        Some(choice.maximum_percent),
                        Some(choice.minimum_healthy_percent),
                    )));

    let target_running = Some(&svc.task_definition) == target_arn.as_ref();
    let previous_arn = if target_running {
        existing
            .as_ref()
            .and_then(|r| r.tags.get(TAG_PREVIOUS).cloned())
    } else {
        Some(svc.task_definition.clone())
    };
    let previous = match &previous_arn {
        Some(a) => catalog.get(ctx, a).await.ok(),
        None => None,
    };
    if !target_running {
        let from = TaskDefinition::from_revision(&current);
        if !from.same_as(&target_td) {
            let to = existing
                .as_ref()
                .map_or_else(|| format!("{}:new", current.family), Revision::name);
            ctx.emit(Event::Diff {
                from: current.name(),
                to,
                text: crate::diff::unified(&from.display_json(), &target_td.display_json()),
            });
        }
    }
    let plan = ServicePlan {
        service: s.service.clone(),
        desired: svc.desired_count,
        strategy: strategy.clone(),
        current: current_pct,
        chosen: choice,
        changes_configuration,
        capacity: capacity_text,
        load_balancers: gates.iter().map(Gate::describe).collect(),
        resuming: resuming.clone(),
    };
    ctx.emit(Event::ServicePlan(plan));

    let mut outcome = Outcome {
        command: opts.command.clone(),
        result: RunResult::Planned,
        cluster: ctx.cluster.clone(),
        family: current.family.clone(),
        load_balancer: gates
            .iter()
            .map(Gate::describe)
            .collect::<Vec<_>>()
            .join(", "),
        previous: previous
            .as_ref()
            .map(|r| info(r, opts.container.as_deref())),
        target: existing
            .as_ref()
            .map(|r| info(r, opts.container.as_deref())),
        plan: None,
        steps: Vec::new(),
        rollback_steps: Vec::new(),
        instances: Vec::new(),
        service: Some(s.service.clone()),
        tasks: task_reports(&running, &instances, &catalog),
        failure: None,
        rollback_failure: None,
        duration: Duration::ZERO,
        api_calls: BTreeMap::new(),
    };
    if opts.dry_run {
        outcome.duration = started.elapsed();
        return Ok(outcome);
    }

    if ctx.cancel.requested() {
        outcome.result = RunResult::Interrupted;
        outcome.failure = Some("interrupted before anything was changed".into());
        outcome.duration = started.elapsed();
        return Ok(outcome);
    }
    // Only now, with every check passed, does anything change in AWS: first the lock.
    let ttl =
        ctx.timeouts.total.unwrap_or(Duration::from_secs(30 * 60)) * 3 + Duration::from_secs(600);
    let what = format!("service {}", s.service);
    let held = lock::acquire(
        ctx.tags.as_ref(),
        &svc.arn,
        lock::SERVICE_KEY,
        &ctx.actor,
        ttl,
        &what,
    )
    .await?;
    lock::remember(ctx.tags.clone(), &held);
    let result: Result<Outcome, Error> = async {
        ctx.emit(Event::Phase(Phase::Register));
        let target = record(ctx, existing, &target_td, previous_arn.as_deref(), None).await?;
        catalog.insert(target.clone());
        outcome.target = Some(info(&target, opts.container.as_deref()));

        ctx.emit(Event::Phase(Phase::Rollout));
        let seen: HashSet<String> = svc.events.iter().map(|e| e.id.clone()).collect();
        let seen = RefCell::new(seen);
        let new_config = if strategy == "ROLLING" {
            DeploymentConfiguration {
                maximum_percent: Some(choice.maximum_percent),
                minimum_healthy_percent: Some(choice.minimum_healthy_percent),
                strategy: switches_strategy.then(|| strategy.clone()),
                ..svc.deployment_configuration.clone()
            }
        } else {
            DeploymentConfiguration { strategy: Some(strategy.clone()), ..svc.deployment_configuration.clone() }
        };
        let deployment_id = match resuming {
            Some(id) => id,
            None => {
                let update = ServiceUpdate { task_definition: Some(target.arn.clone()), deployment_configuration: changes_configuration.then(|| new_config.clone()) };
                start(s, &update, &target.arn).await.map_err(Error::from_api_after_change)?
            }
        };
        ctx.emit(Event::Action { text: format!("deployment {deployment_id} of {} started on service {}", target.name(), s.service) });

        let watched = Watched { deployment_id: &deployment_id, target: &target.arn, previous: previous_arn.as_deref() };
        let limit = ctx.timeouts.total.unwrap_or(Duration::from_secs(30 * 60));
        let step_start = Instant::now();
        let halt = watch(s, &gates, &watched, &instances, svc.desired_count, limit, &seen).await;
        outcome.steps.push(step(format!("roll out {} on service {}", target.name(), s.service), step_start, halt.is_none()));

        outcome.result = match halt {
            None => RunResult::Succeeded,
            Some(Halt::Superseded(reason)) => {
                outcome.failure = Some(format!("{reason}; not rolling back over it"));
                RunResult::Failed
            }
            Some(Halt::Interrupted) => {
                outcome.failure = Some(format!("interrupted; ECS carries on with deployment {deployment_id} by itself: run the same command to watch it again, or `ecs-roll rollback`"));
                RunResult::Interrupted
            }
            Some(Halt::Failed { reason, ecs_rollback }) => {
                outcome.failure = Some(reason.clone());
                match (&previous, ecs_rollback) {
                    (Some(prev), Some(id)) => {
                        // ECS is already rolling back: watch it rather than fight it.
                        ctx.emit(Event::RollbackStarted { reason, to: format!("{} (by ECS, deployment {id})", prev.name()) });
                        ctx.emit(Event::Phase(Phase::Rollback));
                        let w = Watched { deployment_id: &id, target: &prev.arn, previous: None };
                        let t = Instant::now();
                        let h = watch(s, &gates, &w, &instances, svc.desired_count, limit, &seen).await;
                        outcome.rollback_steps.push(step(format!("ECS rolls back to {}", prev.name()), t, h.is_none()));
                        rolled_back(&mut outcome, h)
                    }
                    (Some(prev), None) if opts.rollback_on_failure => {
                        ctx.emit(Event::RollbackStarted { reason, to: prev.name() });
                        ctx.emit(Event::Phase(Phase::Rollback));
                        let t = Instant::now();
                        let update = ServiceUpdate { task_definition: Some(prev.arn.clone()), deployment_configuration: None };
                        let h = match start(s, &update, &prev.arn).await {
                            Ok(id) => {
                                ctx.emit(Event::Action { text: format!("deployment {id} of {} started on service {}", prev.name(), s.service) });
                                let w = Watched { deployment_id: &id, target: &prev.arn, previous: None };
                                watch(s, &gates, &w, &instances, svc.desired_count, limit, &seen).await
                            }
                            Err(e) => Some(Halt::Failed { reason: e.to_string(), ecs_rollback: None }),
                        };
                        outcome.rollback_steps.push(step(format!("roll back to {}", prev.name()), t, h.is_none()));
                        rolled_back(&mut outcome, h)
                    }
                    _ => RunResult::Failed,
                }
            }
        };

        if changes_configuration && outcome.result != RunResult::Interrupted {
            let restore = ServiceUpdate { task_definition: None, deployment_configuration: Some(svc.deployment_configuration.clone()) };
            match with_retry(|| s.services.update_service(&ctx.cluster, &s.service, &restore)).await {
                Ok(_) => ctx.emit(Event::Action { text: format!("restored the deployment configuration {}/{}", pct(current_pct.0), pct(current_pct.1)) }),
                Err(e) => ctx.emit(Event::Warning(format!("could not restore the deployment configuration: {e}"))),
            }
        }
        if let Ok(tasks) = with_retry(|| s.services.service_tasks(&ctx.cluster, &s.service, "RUNNING")).await {
            for t in &tasks {
                let _ = catalog.get(ctx, &t.task_definition_arn).await;
            }
            outcome.tasks = task_reports(&tasks, &instances, &catalog);
        }
        outcome.duration = started.elapsed();
        Ok(outcome)
    }
    .await;
    if let Err(e) = lock::release(ctx.tags.as_ref(), &held).await {
        ctx.emit(Event::Warning(format!(
            "could not release the deploy lock (it expires by itself): {e}"
        )));
    }
    result
}

enum Halt {
    Failed {
        reason: String,
        ecs_rollback: Option<String>,
    },
    /// Someone else's deployment took over; not ours to undo.
    Superseded(String),
    Interrupted,
}

fn rolled_back(outcome: &mut Outcome, h: Option<Halt>) -> RunResult {
    match h {
        None => RunResult::RolledBack,
        Some(Halt::Interrupted) => RunResult::Interrupted,
        Some(Halt::Failed { reason, .. } | Halt::Superseded(reason)) => {
            outcome.rollback_failure = Some(reason);
            RunResult::Failed
        }
    }
}

fn step(title: String, start: Instant, ok: bool) -> crate::engine::rollout::StepReport {
    crate::engine::rollout::StepReport {
        title,
        took: start.elapsed(),
        ok,
    }
}

fn pct(v: Option<i64>) -> String {
    v.map_or("unset".into(), |x| x.to_string())
}

fn check_service(svc: &Service) -> Result<(), Error> {
    if svc.status != "ACTIVE" {
        return Err(Error::preflight(
            format!("service {} is {}, not ACTIVE", svc.name, svc.status),
            "deploy to an ACTIVE service",
        ));
    }
    match svc.deployment_controller.as_str() {
        "ECS" | "" => Ok(()),
        "CODE_DEPLOY" => Err(Error::preflight(
            format!(
                "service {} is deployed by CodeDeploy (deployment controller CODE_DEPLOY); UpdateService cannot change its task definition",
                svc.name
            ),
            "deploy it with `aws deploy create-deployment` (an AppSpec with the new revision), or move it to the ECS controller and its built-in BLUE_GREEN strategy",
        )),
        other => Err(Error::preflight(
            format!(
                "service {} uses the {other} deployment controller: its task sets are managed outside ECS",
                svc.name
            ),
            "deploy through the external controller that owns its task sets",
        )),
    }
}

fn check_no_other_deployment(svc: &Service) -> Result<(), Error> {
    let busy = svc
        .deployments
        .iter()
        .find(|d| d.status != "PRIMARY" && d.status != "INACTIVE")
        .or_else(|| {
            svc.deployments.iter().find(|d| {
                d.status == "PRIMARY" && d.rollout_state.as_deref() == Some("IN_PROGRESS")
            })
        });
    if let Some(d) = busy.filter(|_| {
        svc.deployments.len() > 1
            || busy.is_some_and(|d| d.rollout_state.as_deref() == Some("IN_PROGRESS"))
    }) {
        let primary = svc
            .deployments
            .iter()
            .find(|d| d.status == "PRIMARY")
            .unwrap_or(d);
        return Err(Error::preflight(
            format!(
                "another deployment of service {} is in progress: {} of {} (started {}, rollout {}, {}/{} running)",
                svc.name,
                primary.id,
                short_name(&primary.task_definition),
                primary
                    .created_at
                    .as_deref()
                    .unwrap_or("at an unknown time"),
                primary.rollout_state.as_deref().unwrap_or("in progress"),
                primary.running_count,
                primary.desired_count
            ),
            "wait until it completes (ecs-roll status shows it), then deploy again",
        ));
    }
    Ok(())
}

fn is_fargate(svc: &Service) -> bool {
    svc.launch_type.as_deref() == Some("FARGATE")
        || svc
            .capacity_providers
            .iter()
            .any(|c| c.starts_with("FARGATE"))
}

/// How many more tasks of `td` fit now: unbounded on Fargate; on EC2 one per instance with
/// the static host ports free, or as many as CPU and memory allow with dynamic ports.
fn capacity(
    td: &TaskDefinition,
    instances: &[ContainerInstance],
    fargate: bool,
) -> (Capacity, String) {
    if fargate {
        return (
            Capacity::Unbounded,
            "Fargate: new tasks need no free instance".into(),
        );
    }
    let need = td.reservation();
    let ports = td.static_host_ports();
    let fits = |i: &ContainerInstance| -> i64 {
        if !i.accepts_tasks() {
            return 0;
        }
        let by = |rem: i64, need: i64| if need <= 0 { i64::MAX } else { rem / need };
        let n = by(i.remaining_cpu, need.cpu).min(by(i.remaining_memory, need.memory));
        if ports.is_empty() {
            n.min(1_000)
        } else if ports.iter().any(|p| i.used_ports.contains(p)) {
            0
        } else {
            n.min(1)
        }
    };
    let total: i64 = instances.iter().map(fits).sum();
    let text = if ports.is_empty() {
        format!(
            "room for {total} more task(s) on {} instance(s)",
            instances.len()
        )
    } else {
        let list = ports
            .iter()
            .map(u16::to_string)
            .collect::<Vec<_>>()
            .join(",");
        format!("{total} instance(s) with host port {list} free and room for a task")
    };
    (Capacity::Tasks(total), text)
}

/// UpdateService and find the deployment it started.
async fn start(
    s: &ServiceCtx,
    update: &ServiceUpdate,
    target: &str,
) -> Result<String, crate::platform::ApiError> {
    let ctx = &s.ctx;
    let updated =
        with_retry(|| s.services.update_service(&ctx.cluster, &s.service, update)).await?;
    if let Some(d) = find_ours(&updated, target) {
        return Ok(d.id.clone());
    }
    // Some endpoints answer before the deployment shows; look once more.
    let again = observe::service(s).await?;
    find_ours(&again, target)
        .map(|d| d.id.clone())
        .ok_or_else(|| {
            crate::platform::ApiError::new(
                "UpdateService",
                crate::platform::ApiErrorKind::Other,
                format!(
                    "UpdateService started no deployment of {}",
                    short_name(target)
                ),
            )
        })
}

/// How long after a draining ends the watch keeps looking every `min`.
const AFTER_DRAIN: Duration = Duration::from_secs(20);

/// Polls until our deployment is done or failed; prints each new service event once.
async fn watch(
    s: &ServiceCtx,
    gates: &[Gate],
    w: &Watched<'_>,
    instances: &[ContainerInstance],
    desired: i64,
    limit: Duration,
    seen: &RefCell<HashSet<String>>,
) -> Option<Halt> {
    let ctx = &s.ctx;
    let health_grace = gates
        .iter()
        .filter_map(|g| match g {
            Gate::TargetGroup { group, .. } => Some(
                group.health_check_interval * (group.unhealthy_threshold + group.healthy_threshold)
                    + Duration::from_secs(60),
            ),
            Gate::Classic { .. } => None,
        })
        .max()
        .unwrap_or(Duration::from_secs(180));
    let tracker = RefCell::new(Tracker::new(PLACEMENT_GRACE, health_grace, desired));
    let reader = RefCell::new(Reader::new());
    let ecs_rollback: RefCell<Option<String>> = RefCell::new(None);
    let superseded = RefCell::new(false);
    let interrupted = RefCell::new(false);
    let instances = RefCell::new(instances.to_vec());
    let failed_seen = RefCell::new(0i64);
    let stopped: RefCell<Vec<Task>> = RefCell::new(Vec::new());
    let what = format!(
        "deployment {} healthy in every load balancer",
        w.deployment_id
    );
    // Set while ECS counts failed tasks of a deployment still in progress: its circuit
    // breaker or our own verdict is a few failures away, so look every `min` meanwhile.
    let urgent = Cell::new(false);
    // When the draining seen in a load balancer ends at the latest: the old tasks stop then
    // and the deployment completes, so the watch wakes then and looks every `min` for a while
    // after (ECS needs a few seconds to stop the tasks and mark the deployment COMPLETED).
    let drained_by: Cell<Option<Instant>> = Cell::new(None);
    let soon = |now: Instant| {
        let after_drain = drained_by
            .get()
            .and_then(|d| (now < d + AFTER_DRAIN).then(|| d.max(now + ctx.poll.min)));
        let urgent = urgent.get().then(|| now + ctx.poll.min);
        after_drain.into_iter().chain(urgent).min()
    };
    let result = wait::until_due(
        &what,
        limit,
        ctx.poll,
        ctx.observer.as_ref(),
        soon,
        || async {
            if ctx.cancel.requested() {
                *interrupted.borrow_mut() = true;
                return Ok(Verdict::Failed("interrupted".into()));
            }
            let snap: Snapshot = {
                // Taken out for the await: nothing else borrows it meanwhile.
                let mut r = reader.take();
                let snap = r.snapshot(s, gates, Some(w.deployment_id)).await;
                *reader.borrow_mut() = r;
                snap?
            };
            print_new_events(s, &snap.service, seen);
            let draining = gates
                .iter()
                .zip(&snap.health)
                .filter(|(_, h)| observe::is_draining(h))
                .map(|(g, _)| g.draining())
                .max();
            let now = Instant::now();
            match (draining, drained_by.get()) {
                // The same draining, or the moments after it.
                (_, Some(known)) if now < known + AFTER_DRAIN => {}
                (Some(d), _) => drained_by.set(Some(now + d + wait::AFTER_DUE)),
                (None, _) => drained_by.set(None),
            }
            // Tasks on instances registered since preflight.
            if snap.tasks.iter().any(|t| {
                t.container_instance_arn
                    .as_ref()
                    .is_some_and(|a| !instances.borrow().iter().any(|i| &i.arn == a))
            }) {
                *instances.borrow_mut() =
                    with_retry(|| ctx.ecs.container_instances(&ctx.cluster)).await?;
            }
            // Stopped tasks are read only when ECS counts a new failure: they cost two calls.
            let ours = snap
                .service
                .deployments
                .iter()
                .find(|d| d.id == w.deployment_id);
            let failed = ours.map_or(0, |d| d.failed_tasks);
            urgent.set(ours.is_some_and(|d| {
                d.failed_tasks > 0 && d.rollout_state.as_deref() == Some("IN_PROGRESS")
            }));
            if failed > *failed_seen.borrow() {
                *failed_seen.borrow_mut() = failed;
                let all = s
                    .services
                    .service_tasks(&ctx.cluster, &s.service, "STOPPED")
                    .await?;
                *stopped.borrow_mut() = all
                    .into_iter()
                    .filter(|t| t.task_definition_arn == w.target)
                    .collect();
            }
            let inst = instances.borrow();
            let stopped_now = stopped.borrow();
            let o = Observed {
                service: &snap.service,
                deployment: snap.deployment.as_ref(),
                tasks: &snap.tasks,
                instances: &inst,
                health: &snap.health,
                stopped: &stopped_now,
            };
            Ok(match tracker.borrow_mut().judge(&o, w, Instant::now()) {
                Judgement::Done => Verdict::Done,
                Judgement::Pending(d) => Verdict::Pending(d),
                Judgement::Failed {
                    reason,
                    ecs_rollback: r,
                } => {
                    *ecs_rollback.borrow_mut() = r;
                    Verdict::Failed(reason)
                }
                Judgement::Superseded(reason) => {
                    *superseded.borrow_mut() = true;
                    Verdict::Failed(reason)
                }
            })
        },
    )
    .await;
    if *interrupted.borrow() {
        return Some(Halt::Interrupted);
    }
    match result {
        Ok(_) => None,
        Err(WaitError::Failed(reason)) if *superseded.borrow() => Some(Halt::Superseded(reason)),
        Err(WaitError::Failed(reason)) => Some(Halt::Failed {
            reason,
            ecs_rollback: ecs_rollback.take(),
        }),
        Err(e) => Some(Halt::Failed {
            reason: e.to_string(),
            ecs_rollback: None,
        }),
    }
}

fn print_new_events(s: &ServiceCtx, svc: &Service, seen: &RefCell<HashSet<String>>) {
    let mut seen = seen.borrow_mut();
    // ECS lists events newest first; print the unseen ones oldest first.
    for e in svc.events.iter().rev() {
        if seen.insert(e.id.clone()) {
            s.ctx.emit(Event::ServiceEvent {
                at: e.created_at.clone(),
                message: e.message.clone(),
            });
        }
    }
}

fn task_reports(
    tasks: &[Task],
    instances: &[ContainerInstance],
    catalog: &Catalog,
) -> Vec<TaskReport> {
    let names: BTreeMap<String, String> = catalog
        .definitions()
        .keys()
        .map(|a| (a.clone(), short_name(a)))
        .collect();
    tasks
        .iter()
        .map(|t| TaskReport {
            task_id: short_name(&t.arn),
            revision: names
                .get(&t.task_definition_arn)
                .cloned()
                .unwrap_or_else(|| short_name(&t.task_definition_arn)),
            last_status: t.last_status.clone(),
            host: t
                .container_instance_arn
                .as_deref()
                .and_then(|a| instances.iter().find(|i| i.arn == a))
                .map(|i| i.ec2_instance_id.clone())
                .or_else(|| t.private_ipv4.clone()),
            health: Vec::new(),
        })
        .collect()
}
