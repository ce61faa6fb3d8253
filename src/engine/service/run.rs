//! A service deploy from start to end: preflight, plan, register, UpdateService, follow our
//! deployment, roll back (or follow ECS's own rollback), restore the deployment configuration.

use std::collections::{BTreeMap, HashSet};
use std::ops::ControlFlow;
use std::time::Duration;

use tokio::time::Instant;

use super::configuration::{self, Choice};
use super::follow::{Halt, Scene, follow, follow_tracked};
use super::native;
use super::observe::{self, Gate};
use super::preflight::{
    capacity, check_count, check_no_other_deployment, check_service, check_strategy, is_fargate,
    resuming, undoes,
};
use super::record::{self, TAG_CONFIGURATION};
use super::watch::{Watched, find_ours};
use super::{ServiceCtx, ServicePlan};
use crate::engine::deploy::{
    Desired, Options, TAG_PREVIOUS, find_identical, info, record_completed, short_name,
};
use crate::engine::events::{Action, Event, Phase, Warning};
use crate::engine::failure::{Failure, FailureReport, Interruption};
use crate::engine::lock;
use crate::engine::observe::Catalog;
use crate::engine::oneoff::before;
use crate::engine::outcome::{Outcome, RunResult, StepReport, TaskReport};
use crate::engine::predict::{self, Observed, Prediction, ServiceTimings, StepKind};
use crate::engine::refusal::{self, Refusal};
use crate::engine::skeleton::{self, LockSpec};
use crate::engine::wait::with_retry;
use crate::error::Error;
use crate::platform::{
    BreakerThreshold, ContainerInstance, DeploymentConfiguration, Revision, Service, ServiceUpdate,
    Strategy, Task, TaskStatus, TrafficStep,
};
use crate::taskdef::TaskDefinition;

pub use super::follow::PLACEMENT_GRACE;

/// How long a deployment is followed without --timeout, and at least when rolling back.
const DEFAULT_LIMIT: Duration = Duration::from_secs(30 * 60);

/// Everything preflight found out and decided, before anything changes.
struct Prepared {
    svc: Service,
    catalog: Catalog,
    current: Revision,
    target_td: TaskDefinition,
    existing: Option<Revision>,
    resuming: Option<String>,
    gates: Vec<Gate>,
    strategy: Strategy,
    switches_strategy: bool,
    instances: Vec<ContainerInstance>,
    running: Vec<Task>,
    choice: Choice,
    capacity: String,
    /// The configuration the service had before any ecs-roll deploy changed it: the one
    /// recorded on the service by an earlier run that did not restore it, else its own.
    original: DeploymentConfiguration,
    /// Whether `original` comes from such a record (so this run restores it in any case).
    recorded: bool,
    changes_configuration: bool,
    /// `--alarm` as the deployment's alarms (enabled, ECS rolls back), when they differ from
    /// the service's own.
    alarms: Option<(Vec<String>, bool, bool)>,
    /// `--bake` as ECS's bakeTimeInMinutes, when it differs from the service's own.
    bake: Option<i64>,
    /// LINEAR's and CANARY's steps this deploy sets (`--linear-step`, `--canary-percent`...).
    linear: Option<TrafficStep>,
    canary: Option<TrafficStep>,
    previous_arn: Option<String>,
    previous: Option<Revision>,
    prediction: Prediction,
}

pub async fn run(s: &ServiceCtx, desired: Desired, opts: &Options) -> Result<Outcome, Error> {
    let ctx = &s.ctx;
    let started = Instant::now();
    ctx.emit(Event::Phase(Phase::Preflight));
    let mut p = skeleton::by_deadline(
        skeleton::preflight_deadline(ctx, opts),
        prepare(s, desired, opts),
    )
    .await?;
    announce(s, &p);
    before::announce(ctx, opts);
    let outcome = initial_outcome(s, &p, opts);
    let outcome = match skeleton::ends_before_change(ctx, outcome, opts.dry_run, started) {
        ControlFlow::Continue(o) => o,
        ControlFlow::Break(done) => return Ok(done),
    };
    // Only now, with every check passed, does anything change in AWS: first the lock.
    let what = format!("service {}", s.service);
    let arn = p.svc.arn.clone();
    let spec = LockSpec {
        resource_arn: &arn,
        key: lock::SERVICE_KEY,
        ttl: ctx.timeouts.total.unwrap_or(DEFAULT_LIMIT) * 3 + Duration::from_secs(600),
        what: &what,
    };
    skeleton::locked(ctx, spec, outcome, started, |outcome| {
        deploy(s, &mut p, opts, outcome)
    })
    .await
}

async fn prepare(s: &ServiceCtx, desired: Desired, opts: &Options) -> Result<Prepared, Error> {
    let ctx = &s.ctx;
    let svc = find_service(s).await?;
    check_count(opts.count, &svc)?;
    let mut catalog = Catalog::default();
    let current = catalog
        .get(ctx, &svc.task_definition)
        .await
        .map_err(Error::from_api_before_change)?;
    let (target_td, existing) = target(s, &mut catalog, &svc, &current, desired).await?;
    let target_arn = existing.as_ref().map(|r| r.arn.clone());
    let resuming = resuming(&svc, target_arn.as_deref());
    if resuming.is_none() && !undoes(&current, target_arn.as_deref()) {
        let recorded = current.tags.get(TAG_PREVIOUS).map(String::as_str);
        check_no_other_deployment(&svc, recorded)?;
    }
    let gates = observe::gates(s, &svc.load_balancers).await?;
    crate::engine::alarms::check(ctx, &opts.alarms).await?;
    let recorded = recorded_configuration(s, &svc).await?;
    let original = recorded
        .clone()
        .unwrap_or_else(|| svc.deployment_configuration.clone());
    let (strategy, switches_strategy) = decide_strategy(s, opts, &original, &gates)?;
    if strategy.shifts_traffic() {
        native::check_traffic_shift(s, &svc, &strategy, &gates).await?;
    }
    let alarms = deployment_alarms(&opts.alarms, &original);
    let bake = native::bake_minutes(opts.bake, &strategy)?
        .filter(|m| original.bake_time_minutes != Some(*m));
    let (linear, canary) = native::traffic_steps(&opts.traffic, &strategy, &original)?;
    let fargate = is_fargate(&svc);
    let instances = observe::instances(s, fargate)
        .await
        .map_err(Error::from_api_before_change)?;
    let running = with_retry(|| {
        s.services
            .service_tasks(&ctx.cluster, &s.service, TaskStatus::Running)
    });
    let running = running.await.map_err(Error::from_api_before_change)?;
    let (room, capacity_text) = capacity(&target_td, &instances, fargate);
    let choice =
        configuration::choose(svc.desired_count, room, opts.allow_downtime).map_err(|r| {
            Error::refused(Refusal::NoServiceCapacity {
                service: s.service.clone(),
                refusal: r,
                unavailable: refusal::unavailable(&instances),
            })
        })?;
    let current_pct = (original.maximum_percent, original.minimum_healthy_percent);
    // A service scaled to zero runs no task the percentages would protect. What an earlier
    // run left changed is restored whatever this one does.
    let changes_configuration = recorded.is_some()
        || resuming.is_none()
            && (switches_strategy
                || alarms.is_some()
                || bake.is_some()
                || linear.is_some()
                || canary.is_some()
                || svc.desired_count > 0
                    && changes_configuration(&strategy, switches_strategy, current_pct, &choice));
    let recorded_previous = existing.as_ref().and_then(|r| r.tags.get(TAG_PREVIOUS));
    let previous_arn = skeleton::previous_revision(
        target_arn.as_deref(),
        recorded_previous.map(String::as_str),
        std::slice::from_ref(&svc.task_definition),
    );
    let previous = match &previous_arn {
        Some(a) => catalog.get(ctx, a).await.ok(),
        None => None,
    };
    crate::engine::images::check(ctx, opts.images.as_deref(), &target_td, previous.as_ref())
        .await?;
    let timings = ServiceTimings {
        healthy: gates.iter().map(Gate::healthy).max().unwrap_or_default(),
        draining: gates.iter().map(Gate::draining).max().unwrap_or_default(),
    };
    let prediction = predict::service(svc.desired_count, &choice, timings, Observed::of(&current));
    Ok(Prepared {
        svc,
        catalog,
        current,
        target_td,
        existing,
        resuming,
        gates,
        strategy,
        switches_strategy,
        instances,
        running,
        choice,
        capacity: capacity_text,
        recorded: recorded.is_some(),
        original,
        changes_configuration,
        alarms,
        bake,
        linear,
        canary,
        previous_arn,
        previous,
        prediction,
    })
}

/// The configuration an earlier run recorded on the service and did not restore, if any.
async fn recorded_configuration(
    s: &ServiceCtx,
    svc: &Service,
) -> Result<Option<DeploymentConfiguration>, Error> {
    let tags = with_retry(|| s.ctx.tags.resource_tags(&svc.arn))
        .await
        .map_err(Error::from_api_before_change)?;
    Ok(tags
        .get(TAG_CONFIGURATION)
        .and_then(|t| record::decode(t, &svc.deployment_configuration)))
}

/// The strategy of this deploy (the one asked for, else the service's own), and whether
/// that switches the service's.
fn decide_strategy(
    s: &ServiceCtx,
    opts: &Options,
    original: &DeploymentConfiguration,
    gates: &[Gate],
) -> Result<(Strategy, bool), Error> {
    let own = original.strategy.clone().unwrap_or(Strategy::Rolling);
    let strategy = opts.strategy.clone().unwrap_or_else(|| own.clone());
    let classic = gates.iter().any(|g| matches!(g, Gate::Classic { .. }));
    check_strategy(&strategy, &s.service, classic, gates.is_empty())?;
    let switches = strategy != own;
    Ok((strategy, switches))
}

/// The deployment alarms this deploy sets: `--alarm`'s, enabled and rolling back, unless
/// the service has exactly those already (None: the service's own stay).
fn deployment_alarms(
    wanted: &[String],
    original: &DeploymentConfiguration,
) -> Option<(Vec<String>, bool, bool)> {
    let alarms = (wanted.to_vec(), true, true);
    (!wanted.is_empty() && original.alarms.as_ref() != Some(&alarms)).then_some(alarms)
}

/// The definition to roll out, and the revision that already has it (a rollback's target, or
/// an identical one a rerun reuses).
async fn target(
    s: &ServiceCtx,
    catalog: &mut Catalog,
    svc: &Service,
    current: &Revision,
    desired: Desired,
) -> Result<(TaskDefinition, Option<Revision>), Error> {
    match desired {
        Desired::Definition(td) => {
            if td.family() != current.family {
                return Err(Error::refused(Refusal::WrongFamily {
                    found: td.family().to_string(),
                    expected: current.family.clone(),
                    service: Some(s.service.clone()),
                }));
            }
            let running = [(svc.task_definition.clone(), 1)];
            let reuse = find_identical(&s.ctx, catalog, &running, &td).await?;
            Ok((td, reuse))
        }
        Desired::Revision(r) => Ok((TaskDefinition::from_revision(&r), Some(r))),
    }
}

/// Whether ecs-roll sets (and afterwards restores) the deployment configuration: to switch
/// the strategy, or for a rolling deploy whose percentages differ from the ones chosen.
fn changes_configuration(
    strategy: &Strategy,
    switches_strategy: bool,
    current_pct: (Option<i64>, Option<i64>),
    choice: &Choice,
) -> bool {
    let wanted = (
        Some(choice.maximum_percent),
        Some(choice.minimum_healthy_percent),
    );
    switches_strategy || (*strategy == Strategy::Rolling && current_pct != wanted)
}

pub(super) async fn find_service(s: &ServiceCtx) -> Result<Service, Error> {
    let ctx = &s.ctx;
    skeleton::check_cluster(ctx).await?;
    let svc = with_retry(|| s.services.describe_service(&ctx.cluster, &s.service))
        .await
        .map_err(Error::from_api_before_change)?;
    let Some(svc) = svc else {
        return Err(Error::refused(Refusal::ServiceNotFound {
            service: s.service.clone(),
            cluster: ctx.cluster.clone(),
        }));
    };
    check_service(&svc)?;
    Ok(svc)
}

/// The diff against what runs, and the plan.
fn announce(s: &ServiceCtx, p: &Prepared) {
    let ctx = &s.ctx;
    let target_running = p.existing.as_ref().map(|r| &r.arn) == Some(&p.svc.task_definition);
    if !target_running {
        let from = TaskDefinition::from_revision(&p.current);
        if !from.same_as(&p.target_td) {
            let to = p
                .existing
                .as_ref()
                .map_or_else(|| format!("{}:new", p.current.family), Revision::name);
            ctx.emit(Event::Diff {
                from: p.current.name(),
                to,
                from_definition: from.to_json(),
                to_definition: p.target_td.to_json(),
            });
        }
    }
    let threshold = p
        .svc
        .deployment_configuration
        .breaker_threshold
        .unwrap_or(BreakerThreshold::DEFAULT);
    ctx.emit(Event::ServicePlan(ServicePlan {
        service: s.service.clone(),
        desired: p.svc.desired_count,
        strategy: p.strategy.clone(),
        current: (
            p.original.maximum_percent,
            p.original.minimum_healthy_percent,
        ),
        chosen: p.choice,
        changes_configuration: p.changes_configuration,
        capacity: p.capacity.clone(),
        load_balancers: p.gates.iter().map(Gate::describe).collect(),
        resuming: p.resuming.clone(),
        circuit_breaker: p.svc.deployment_configuration.circuit_breaker,
        breaker_threshold: threshold,
        breaker_trips_at: threshold.failed_tasks(p.svc.desired_count),
        alarms: p
            .alarms
            .as_ref()
            .or(p.original.alarms.as_ref())
            .filter(|(names, enabled, _)| *enabled && !names.is_empty())
            .map(|(names, _, rollback)| (names.clone(), *rollback)),
        sets_alarms: p.alarms.is_some(),
        shifts: native::shifts(&p.strategy, &planned_configuration(p)),
    }));
    ctx.emit(Event::Prediction(p.prediction.clone()));
}

fn initial_outcome(s: &ServiceCtx, p: &Prepared, opts: &Options) -> Outcome {
    let container = opts.container.as_deref();
    Outcome {
        previous: p.previous.as_ref().map(|r| info(r, container)),
        target: p.existing.as_ref().map(|r| info(r, container)),
        service: Some(s.service.clone()),
        tasks: task_reports(&p.running, &p.instances, &p.catalog),
        predicted: Some(p.prediction.clone()),
        ..Outcome::planned(
            &opts.command,
            &s.ctx.cluster,
            &p.current.family,
            observe::describe_gates(&p.gates),
        )
    }
}

/// The deployment configuration the deploy runs with: the one ecs-roll sets, else the
/// service's own.
fn planned_configuration(p: &Prepared) -> DeploymentConfiguration {
    if p.changes_configuration && p.resuming.is_none() {
        new_configuration(p)
    } else {
        p.svc.deployment_configuration.clone()
    }
}

/// The deployment configuration ecs-roll sets for the deploy.
fn new_configuration(p: &Prepared) -> DeploymentConfiguration {
    let base = DeploymentConfiguration {
        alarms: p.alarms.clone(),
        bake_time_minutes: p.bake,
        linear: p.linear,
        canary: p.canary,
        ..p.svc.deployment_configuration.clone()
    };
    if p.strategy == Strategy::Rolling {
        DeploymentConfiguration {
            maximum_percent: Some(p.choice.maximum_percent),
            minimum_healthy_percent: Some(p.choice.minimum_healthy_percent),
            strategy: p.switches_strategy.then(|| p.strategy.clone()),
            ..base
        }
    } else {
        DeploymentConfiguration {
            strategy: Some(p.strategy.clone()),
            ..base
        }
    }
}

/// Register, start or resume our deployment, follow it, handle its end.
async fn deploy(
    s: &ServiceCtx,
    p: &mut Prepared,
    opts: &Options,
    mut outcome: Outcome,
) -> Result<Outcome, Error> {
    let ctx = &s.ctx;
    ctx.emit(Event::Phase(Phase::Register));
    let reg = before::Registration {
        existing: p.existing.take(),
        td: &p.target_td,
        previous: p.previous_arn.as_deref(),
        count: None,
        // A rerun resuming our deployment: the command succeeded before it started.
        before: opts.before.as_deref().filter(|_| p.resuming.is_none()),
    };
    let Some(target) = before::register(ctx, reg, opts, &mut outcome).await? else {
        // The command failed: no deployment started; the service runs what it ran.
        finish(s, p, &mut outcome).await;
        return Ok(outcome);
    };
    p.catalog.insert(target.clone());
    outcome.target = Some(info(&target, opts.container.as_deref()));
    // Interrupted while the revision registered: that step is done, and no deployment is
    // started for ECS to carry on with after the user asked to stop.
    if ctx.cancel.requested() && p.resuming.is_none() {
        let how = Interruption::StepFinished;
        outcome.failure = Some(FailureReport::new(None, Failure::Interrupted { how }));
        outcome.result = RunResult::Interrupted;
        finish(s, p, &mut outcome).await;
        return Ok(outcome);
    }

    ctx.emit(Event::Phase(Phase::Rollout));
    let mut seen: HashSet<String> = p.svc.events.iter().map(|e| e.id.clone()).collect();
    let deployment_id = start_or_resume(s, p, &target).await?;
    ctx.emit(Event::Action(Action::DeploymentStarted {
        deployment: deployment_id.clone(),
        revision: target.name(),
        service: s.service.clone(),
    }));
    let scene = Scene {
        s,
        gates: &p.gates,
        instances: &p.instances,
        desired: p.svc.desired_count,
        limit: ctx.timeouts.total.unwrap_or(DEFAULT_LIMIT),
    };
    let watched = Watched {
        deployment_id: &deployment_id,
        target: &target.arn,
        previous: p.previous_arn.as_deref(),
    };
    let step_start = Instant::now();
    let (halt, arn) = follow_tracked(&scene, &watched, &mut seen).await;
    outcome.service_deployment_arn = arn;
    let title = format!("roll out {} on service {}", target.name(), s.service);
    let rollout = step(title, step_start, halt.is_none());
    let timings = Observed::from_steps(&[(StepKind::Rollout, rollout.took)]);
    outcome.set_steps(vec![rollout]);
    outcome.result = match halt {
        None => RunResult::Succeeded,
        Some(Halt::Superseded(cause)) => {
            outcome.failure = Some(FailureReport::new(None, cause));
            RunResult::Failed
        }
        Some(Halt::Interrupted) => {
            let how = Interruption::DeploymentContinues {
                deployment: deployment_id.clone(),
            };
            outcome.failure = Some(FailureReport::new(None, Failure::Interrupted { how }));
            RunResult::Interrupted
        }
        Some(Halt::Failed {
            cause,
            ecs_rollback,
        }) => {
            let cause = with_alarms_named(ctx, opts, cause).await;
            outcome.failure = Some(FailureReport::new(None, cause.clone()));
            roll_back(
                &scene,
                p,
                opts,
                &mut outcome,
                cause,
                ecs_rollback,
                &mut seen,
            )
            .await
        }
    };
    if outcome.result == RunResult::Succeeded {
        record_completed(ctx, &target, opts, &timings).await;
    }
    finish(s, p, &mut outcome).await;
    Ok(outcome)
}

/// ECS's failure of our deployment, with the `--alarm` alarms in ALARM named where ECS's
/// answer did not name them (DescribeServiceDeployments missing, or silent on alarms).
async fn with_alarms_named(
    ctx: &crate::engine::Ctx,
    opts: &Options,
    mut cause: Failure,
) -> Failure {
    if let Failure::EcsRolledBack { alarms, .. } | Failure::DeploymentFailed { alarms, .. } =
        &mut cause
        && alarms.is_empty()
    {
        *alarms = crate::engine::alarms::firing(ctx, &opts.alarms).await;
    }
    cause
}

/// Our deployment: the one a rerun finds under way, or a new one by UpdateService (with the
/// deployment configuration chosen, when it changes).
async fn start_or_resume(s: &ServiceCtx, p: &Prepared, target: &Revision) -> Result<String, Error> {
    if let Some(id) = &p.resuming {
        return Ok(id.clone());
    }
    if p.changes_configuration && !p.recorded {
        record_configuration(s, p).await?;
    }
    let update = ServiceUpdate {
        task_definition: Some(target.arn.clone()),
        deployment_configuration: p.changes_configuration.then(|| new_configuration(p)),
    };
    start(s, &update, &target.arn)
        .await
        .map_err(Error::after_change)
}

/// Records the service's configuration on it before changing it, so every end (and a rerun
/// after a kill -9) can restore it.
async fn record_configuration(s: &ServiceCtx, p: &Prepared) -> Result<(), Error> {
    let tags = BTreeMap::from([(TAG_CONFIGURATION.to_string(), record::encode(&p.original))]);
    with_retry(|| s.ctx.tags.tag_resource(&p.svc.arn, &tags))
        .await
        .map_err(Error::from_api_after_change)
}

/// After a failure: follow ECS's own rollback, or start ours to the previous revision.
async fn roll_back(
    scene: &Scene<'_>,
    p: &Prepared,
    opts: &Options,
    outcome: &mut Outcome,
    cause: Failure,
    ecs_rollback: Option<String>,
    seen: &mut HashSet<String>,
) -> RunResult {
    let s = scene.s;
    let ctx = &s.ctx;
    let Some(prev) = &p.previous else {
        return RunResult::Failed;
    };
    // The way back gets at least the default limit: --timeout bounds the way forward.
    let scene = &Scene {
        limit: scene.limit.max(DEFAULT_LIMIT),
        ..*scene
    };
    if ecs_rollback.is_none() && !opts.rollback_on_failure {
        return RunResult::Failed;
    }
    ctx.emit(Event::RollbackStarted {
        cause,
        to: prev.name(),
        by_ecs: ecs_rollback.clone(),
    });
    ctx.emit(Event::Phase(Phase::Rollback));
    let t = Instant::now();
    let (title, halt) = match ecs_rollback {
        // ECS is already rolling back: follow it rather than fight it.
        Some(id) => {
            let w = Watched {
                deployment_id: &id,
                target: &prev.arn,
                previous: None,
            };
            let title = format!("ECS rolls back to {}", prev.name());
            (title, follow(scene, &w, seen).await)
        }
        None => {
            let update = ServiceUpdate {
                task_definition: Some(prev.arn.clone()),
                deployment_configuration: None,
            };
            let h = match start(s, &update, &prev.arn).await {
                Ok(id) => {
                    ctx.emit(Event::Action(Action::DeploymentStarted {
                        deployment: id.clone(),
                        revision: prev.name(),
                        service: s.service.clone(),
                    }));
                    let w = Watched {
                        deployment_id: &id,
                        target: &prev.arn,
                        previous: None,
                    };
                    follow(scene, &w, seen).await
                }
                Err(cause) => Some(Halt::Failed {
                    cause,
                    ecs_rollback: None,
                }),
            };
            (format!("roll back to {}", prev.name()), h)
        }
    };
    outcome.rollback_steps.push(step(title, t, halt.is_none()));
    match halt {
        None => RunResult::RolledBack,
        Some(Halt::Interrupted) => RunResult::Interrupted,
        Some(Halt::Failed { cause, .. } | Halt::Superseded(cause)) => {
            outcome.rollback_failure = Some(FailureReport::new(None, cause));
            RunResult::Failed
        }
    }
}

/// Restore the deployment configuration ecs-roll changed, and report where the tasks stand.
async fn finish(s: &ServiceCtx, p: &mut Prepared, outcome: &mut Outcome) {
    let ctx = &s.ctx;
    // Interrupted: ECS carries on with the configuration set for it; the rerun restores.
    if p.changes_configuration && outcome.result != RunResult::Interrupted {
        restore_configuration(s, p).await;
    }
    let tasks = with_retry(|| {
        s.services
            .service_tasks(&ctx.cluster, &s.service, TaskStatus::Running)
    });
    if let Ok(tasks) = tasks.await {
        for t in &tasks {
            let _ = p.catalog.get(ctx, &t.task_definition_arn).await;
        }
        outcome.tasks = task_reports(&tasks, &p.instances, &p.catalog);
    }
}

/// Puts the original configuration back, then removes its record (kept when the restore
/// failed, so the next run restores it).
async fn restore_configuration(s: &ServiceCtx, p: &Prepared) {
    let ctx = &s.ctx;
    let restore = ServiceUpdate {
        task_definition: None,
        deployment_configuration: Some(restoring(p)),
    };
    let restored = with_retry(|| {
        s.services
            .update_service(&ctx.cluster, &s.service, &restore)
    });
    if let Err(e) = restored.await {
        ctx.emit(Event::Warning(Warning::ConfigurationNotRestored {
            error: e.to_string(),
        }));
        return;
    }
    ctx.emit(Event::Action(Action::ConfigurationRestored {
        maximum_percent: p.original.maximum_percent,
        minimum_healthy_percent: p.original.minimum_healthy_percent,
    }));
    let key = [TAG_CONFIGURATION.to_string()];
    if let Err(e) = with_retry(|| ctx.tags.untag_resource(&p.svc.arn, &key)).await {
        ctx.emit(Event::Warning(Warning::ConfigurationRecordLeft {
            error: e.to_string(),
        }));
    }
}

/// The configuration to put back: the original; where this deploy (or the earlier run whose
/// record it restores) may have set alarms or a bake time the service did not have, "none"
/// said outright (no alarms, a bake of 0), as UpdateService keeps whatever a configuration
/// leaves out.
fn restoring(p: &Prepared) -> DeploymentConfiguration {
    restored(
        &p.original,
        p.recorded,
        p.alarms.is_some(),
        p.bake.is_some(),
    )
}

fn restored(
    original: &DeploymentConfiguration,
    recorded: bool,
    set_alarms: bool,
    set_bake: bool,
) -> DeploymentConfiguration {
    let mut c = original.clone();
    if (recorded || set_alarms) && c.alarms.is_none() {
        c.alarms = Some((Vec::new(), false, false));
    }
    if (recorded || set_bake) && c.bake_time_minutes.is_none() {
        c.bake_time_minutes = Some(0);
    }
    c
}

fn step(title: String, start: Instant, ok: bool) -> StepReport {
    StepReport {
        title,
        took: start.elapsed(),
        predicted: None,
        ok,
    }
}

/// UpdateService and find the deployment it started.
async fn start(s: &ServiceCtx, update: &ServiceUpdate, target: &str) -> Result<String, Failure> {
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
        .ok_or_else(|| Failure::NoDeploymentStarted {
            revision: short_name(target),
        })
}

pub(super) fn task_reports(
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
            last_status: t.last_status.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_deploy_or_an_earlier_run_set_and_the_service_lacked_is_restored_as_none() {
        let none = DeploymentConfiguration::default();
        let cleared = DeploymentConfiguration {
            alarms: Some((Vec::new(), false, false)),
            bake_time_minutes: Some(0),
            ..DeploymentConfiguration::default()
        };
        assert_eq!(restored(&none, false, false, false), none);
        assert_eq!(
            restored(&none, true, false, false),
            cleared,
            "a rerun after kill -9"
        );
        assert_eq!(restored(&none, false, true, true), cleared);
        let own = DeploymentConfiguration {
            alarms: Some((vec!["own".into()], true, false)),
            bake_time_minutes: Some(5),
            ..DeploymentConfiguration::default()
        };
        assert_eq!(restored(&own, true, true, true), own);
    }

    #[test]
    fn alarms_are_set_only_where_the_service_does_not_have_them_already() {
        let names = vec!["web-5xx".to_string()];
        let none = DeploymentConfiguration::default();
        let same = DeploymentConfiguration {
            alarms: Some((names.clone(), true, true)),
            ..DeploymentConfiguration::default()
        };
        let without_rollback = DeploymentConfiguration {
            alarms: Some((names.clone(), true, false)),
            ..DeploymentConfiguration::default()
        };
        assert_eq!(deployment_alarms(&[], &same), None);
        assert_eq!(deployment_alarms(&names, &same), None);
        assert_eq!(
            deployment_alarms(&names, &none),
            Some((names.clone(), true, true))
        );
        assert_eq!(
            deployment_alarms(&names, &without_rollback),
            Some((names.clone(), true, true))
        );
    }
}
