//! A whole run: preflight, plan, register, roll out, verify, and roll back on failure.
//! `deploy`, `rollback` and a resumed deploy are all the same thing: converge the family's
//! tasks onto one revision by the safe path.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::context::{Ctx, StandaloneCtx};
use super::events::{Event, Phase, Warning};
use super::failure::{Failure, FailureReport, Interruption};
use super::history;
use super::lock;
use super::observe::{Catalog, Observation};
use super::oneoff::before;
use super::outcome::{InstanceReport, Outcome, RevisionInfo, RunResult};
use super::plan::{self, Plan};
use super::predict::{self, Observed, Prediction, StepKind, TAG_TIMINGS};
use super::refusal::{self, Refusal};
use super::rollout::{
    Gates, Halt, Rollout, StepReport, expected_limit, plan_limit, rollback_limit,
};
use super::skeleton::{self, LockSpec};
use super::wait::with_retry;
use crate::error::Error;
use crate::platform::Revision;
use crate::taskdef::TaskDefinition;

pub use super::history::{
    RolloutRecord, TAG_COUNT, TAG_DEPLOYED_AT, TAG_DEPLOYED_BY, TAG_PREVIOUS, TAG_ROLLOUT,
};

pub enum Desired {
    /// A task definition document to register (the new image already in it).
    Definition(TaskDefinition),
    /// A revision that exists (rollback).
    Revision(Revision),
}

impl Desired {
    pub fn family(&self) -> &str {
        match self {
            Desired::Definition(td) => td.family(),
            Desired::Revision(r) => &r.family,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `deploy` or `rollback`, for the outcome.
    pub command: String,
    pub count: Option<usize>,
    pub allow_downtime: bool,
    pub rollback_on_failure: bool,
    pub dry_run: bool,
    /// The container whose image is reported.
    pub container: Option<String>,
    /// Service mode: the ECS deployment strategy to switch to (ROLLING, BLUE_GREEN, ...).
    pub strategy: Option<crate::platform::Strategy>,
    /// When the checks before the first change give up: `--timeout` from the command's start
    /// (None: from the engine's).
    pub preflight_deadline: Option<skeleton::PreflightDeadline>,
    /// `--before`: the command that must succeed in a one-off task of the revision rolled
    /// out before the rollout starts.
    pub before: Option<std::sync::Arc<crate::engine::oneoff::before::Before>>,
    /// The images checked before any change (None: not checked).
    pub images: Option<std::sync::Arc<crate::engine::images::ImageChecks>>,
    /// `--alarm`: the CloudWatch alarms that gate the deploy.
    pub alarms: Vec<String>,
    /// `--bake`: how long after the rollout the deploy is still watched (zero: not at all).
    pub bake: Duration,
    /// Service mode, LINEAR and CANARY: how production traffic moves.
    pub traffic: crate::engine::service::native::TrafficFlags,
}

impl Options {
    /// What `record` writes on the target: a rollback's until it completes.
    pub fn rollout_record(&self) -> RolloutRecord {
        if self.command == "rollback" {
            RolloutRecord::Rollback
        } else {
            RolloutRecord::Deploy
        }
    }
}

/// Everything preflight found out and decided, before anything changes.
struct Prepared {
    obs: Observation,
    catalog: Catalog,
    target_td: TaskDefinition,
    existing: Option<Revision>,
    previous_arn: Option<String>,
    previous: Option<Revision>,
    /// Instances with a task of the family before the deploy: what a rollback restores.
    count_before: usize,
    count: usize,
    plan: Plan,
    prediction: Prediction,
    /// `--alarm` and `--bake`.
    gates: Gates,
}

pub async fn run(ctx: &StandaloneCtx, desired: Desired, opts: &Options) -> Result<Outcome, Error> {
    let started = Instant::now();
    ctx.emit(Event::Phase(Phase::Preflight));
    let checks = async {
        let mut p = prepare(ctx, desired, opts).await?;
        announce(ctx, &mut p).await?;
        let cluster_arn = with_retry(|| ctx.tags.cluster_arn(&ctx.cluster))
            .await
            .map_err(Error::from_api_before_change)?
            .unwrap_or_else(|| ctx.cluster.clone());
        Ok((p, cluster_arn))
    };
    let (p, cluster_arn) =
        skeleton::by_deadline(skeleton::preflight_deadline(ctx, opts), checks).await?;
    before::announce(ctx, opts);
    let outcome = match skeleton::ends_before_change(
        ctx,
        initial_outcome(ctx, &p, opts),
        opts.dry_run,
        started,
    ) {
        ControlFlow::Continue(o) => o,
        ControlFlow::Break(done) => return Ok(done),
    };
    // Only now, with every check passed, does anything change in AWS: first the lock.
    let key = lock::key_for_family(&ctx.family);
    let what = format!("family {} in cluster {}", ctx.family, ctx.cluster);
    let spec = LockSpec {
        resource_arn: &cluster_arn,
        key: &key,
        // The way forward, then a rollback of the same size, with room to spare.
        ttl: (plan_limit(ctx, &p.obs.load_balancer, &p.plan)
            + expected_limit(&p.obs.load_balancer, &p.plan))
            * 2
            + p.gates.bake
            + Duration::from_secs(600),
        what: &what,
    };
    skeleton::locked(ctx, spec, outcome, started, |outcome| {
        deploy(ctx, p, opts, outcome)
    })
    .await
}

async fn prepare(ctx: &StandaloneCtx, desired: Desired, opts: &Options) -> Result<Prepared, Error> {
    let obs = preflight(ctx).await?;
    let mut catalog = Catalog::default();
    let running = obs.running_revisions();
    for (arn, _) in &running {
        catalog
            .get(ctx, arn)
            .await
            .map_err(Error::from_api_before_change)?;
    }
    let (target_td, existing) = match desired {
        Desired::Definition(td) => {
            if td.family() != ctx.family {
                return Err(Error::refused(Refusal::WrongFamily {
                    found: td.family().to_string(),
                    expected: ctx.family.clone(),
                    service: None,
                }));
            }
            let reuse = find_identical(ctx, &mut catalog, &running, &td).await?;
            (td, reuse)
        }
        Desired::Revision(r) => (TaskDefinition::from_revision(&r), Some(r)),
    };
    check_ports(&obs, &target_td)?;
    super::alarms::check(ctx, &opts.alarms).await?;
    let target_arn = existing.as_ref().map(|r| r.arn.clone());
    let running_arns: Vec<String> = running.iter().map(|(a, _)| a.clone()).collect();
    let recorded_previous = existing.as_ref().and_then(|r| r.tags.get(TAG_PREVIOUS));
    let previous_arn = skeleton::previous_revision(
        target_arn.as_deref(),
        recorded_previous.map(String::as_str),
        &running_arns,
    );
    let previous = match &previous_arn {
        Some(arn) => catalog.get(ctx, arn).await.ok(),
        None => None,
    };
    super::images::check(ctx, opts.images.as_deref(), &target_td, previous.as_ref()).await?;
    let count_before = obs.instances_with_tasks();
    let latest = catalog
        .latest(ctx)
        .await
        .map_err(Error::from_api_before_change)?;
    let recorded = recorded_count(&catalog, existing.as_ref(), latest.as_ref(), &running);
    let (count, warning) =
        skeleton::task_count(opts.count, count_before, recorded).map_err(|_| {
            Error::refused(Refusal::CountUnknown {
                family: ctx.family.clone(),
                cluster: ctx.cluster.clone(),
            })
        })?;
    if let Some(w) = warning {
        ctx.emit(Event::Warning(w));
    }
    warn_foreign_instances(ctx, &obs);
    let slots = obs.slots(&target_td, &catalog.definitions());
    let plan = plan::plan(&slots, target_arn.as_deref(), count, opts.allow_downtime)
        .map_err(|r| no_safe_plan(&obs, opts, r))?;
    for note in plan::notes::notes(&slots, &plan) {
        ctx.emit(Event::Warning(Warning::Plan {
            note,
            load_balancer: ctx.load_balancer.clone(),
            family: ctx.family.clone(),
        }));
    }
    let learned = previous.as_ref().and_then(Observed::of);
    let prediction = predict::standalone(
        &obs.load_balancer,
        &plan,
        ctx.timeouts.health_grace,
        learned,
    );
    Ok(Prepared {
        obs,
        catalog,
        target_td,
        existing,
        previous_arn,
        previous,
        count_before,
        count,
        plan,
        prediction,
        gates: Gates {
            alarms: opts.alarms.clone(),
            bake: opts.bake,
        },
    })
}

/// The planner's refusal, naming the container instances that take no new task: when there
/// are any, they are what leaves too little capacity.
fn no_safe_plan(obs: &Observation, opts: &Options, refusal: plan::Refusal) -> Error {
    let unavailable = match refusal {
        plan::Refusal::ZeroCount => Vec::new(),
        _ => refusal::unavailable(&obs.instances),
    };
    Error::refused(Refusal::NoSafePlan {
        command: opts.command.clone(),
        refusal,
        unavailable,
    })
}

/// Instances the load balancer sends traffic to that no task of the cluster can serve.
fn warn_foreign_instances(ctx: &StandaloneCtx, obs: &Observation) {
    for id in &obs.load_balancer.instances {
        if !obs.instances.iter().any(|ci| &ci.ec2_instance_id == id) {
            ctx.emit(Event::Warning(Warning::NotAContainerInstance {
                instance: id.clone(),
                load_balancer: ctx.load_balancer.clone(),
                cluster: ctx.cluster.clone(),
            }));
        }
    }
}

/// The diff against what runs, and the plan.
async fn announce(ctx: &StandaloneCtx, p: &mut Prepared) -> Result<(), Error> {
    let target_arn = p.existing.as_ref().map(|r| r.arn.clone());
    let running = p.obs.running_revisions();
    if let Some((arn, _)) = running.iter().find(|(a, _)| Some(a) != target_arn.as_ref()) {
        let from_rev = p
            .catalog
            .get(ctx, arn)
            .await
            .map_err(Error::from_api_before_change)?;
        let from = TaskDefinition::from_revision(&from_rev);
        if !from.same_as(&p.target_td) {
            let to = p
                .existing
                .as_ref()
                .map_or_else(|| format!("{}:new", ctx.family), Revision::name);
            ctx.emit(Event::Diff {
                from: from_rev.name(),
                to,
                from_definition: from.to_json(),
                to_definition: p.target_td.to_json(),
            });
        }
    }
    ctx.emit(Event::Plan(p.plan.clone()));
    ctx.emit(Event::Prediction(p.prediction.clone()));
    if !p.gates.alarms.is_empty() || !p.gates.bake.is_zero() {
        ctx.emit(Event::Gates {
            alarms: p.gates.alarms.clone(),
            bake: p.gates.bake,
        });
    }
    Ok(())
}

fn initial_outcome(ctx: &StandaloneCtx, p: &Prepared, opts: &Options) -> Outcome {
    let container = opts.container.as_deref();
    Outcome {
        previous: p.previous.as_ref().map(|r| info(r, container)),
        target: Some(p.existing.as_ref().map_or_else(
            || planned(&ctx.family, &p.target_td, container),
            |r| info(r, container),
        )),
        plan: Some(p.plan.clone()),
        instances: reports(&p.obs, &p.catalog),
        predicted: Some(p.prediction.clone()),
        ..Outcome::planned(
            &opts.command,
            &ctx.cluster,
            &ctx.family,
            ctx.load_balancer.clone(),
        )
    }
}

/// Register, roll out, roll back on failure, and read where everything ended.
async fn deploy(
    ctx: &StandaloneCtx,
    mut p: Prepared,
    opts: &Options,
    mut outcome: Outcome,
) -> Result<Outcome, Error> {
    ctx.emit(Event::Phase(Phase::Register));
    let reg = before::Registration {
        existing: p.existing.take(),
        td: &p.target_td,
        previous: p.previous_arn.as_deref(),
        count: Some(p.count),
        before: opts.before.as_deref(),
    };
    // A `--before` command that failed: nothing rolls out, every instance serves as before.
    let Some(target) = before::register(ctx, reg, opts, &mut outcome).await? else {
        return Ok(outcome);
    };
    p.catalog.insert(target.clone());
    outcome.target = Some(info(&target, opts.container.as_deref()));

    ctx.emit(Event::Phase(Phase::Rollout));
    let pace = Pace {
        // The bake comes on top of the steps.
        limit: plan_limit(ctx, &p.obs.load_balancer, &p.plan) + p.gates.bake,
        predicted: p.prediction.steps.clone(),
        gates: p.gates.clone(),
    };
    let (halt, steps) = converge_with(
        ctx,
        &p.obs,
        &target,
        &p.plan,
        opts.rollback_on_failure,
        opts.allow_downtime,
        pace,
    )
    .await;
    let kinds = p.plan.steps.iter().map(|s| StepKind::of(&s.action));
    let timings =
        Observed::from_steps(&kinds.zip(steps.iter().map(|r| r.took)).collect::<Vec<_>>());
    outcome.set_steps(steps);
    outcome.result = match halt {
        None => RunResult::Succeeded,
        Some(Halt::Interrupted) => {
            outcome.failure = Some(FailureReport::new(
                None,
                Failure::Interrupted {
                    how: Interruption::StepFinished,
                },
            ));
            RunResult::Interrupted
        }
        Some(Halt::Failed { step, cause }) => {
            outcome.failure = Some(FailureReport::new(Some(step), cause.clone()));
            roll_back(ctx, &mut p, opts, &mut outcome, cause).await
        }
    };
    if outcome.result == RunResult::Succeeded {
        record_completed(ctx, &target, opts, &timings).await;
    }
    match Observation::take(ctx).await {
        Ok(end) => {
            for (arn, _) in end.running_revisions() {
                let _ = p.catalog.get(ctx, &arn).await;
            }
            outcome.instances = reports(&end, &p.catalog);
        }
        Err(e) => ctx.emit(Event::Warning(Warning::FinalStateUnread {
            error: e.to_string(),
        })),
    }
    Ok(outcome)
}

/// After a failed rollout: converge back onto the previous revision, unless there is none or
/// --no-rollback was given.
async fn roll_back(
    ctx: &StandaloneCtx,
    p: &mut Prepared,
    opts: &Options,
    outcome: &mut Outcome,
    cause: Failure,
) -> RunResult {
    let Some(prev) = p.previous.clone().filter(|_| opts.rollback_on_failure) else {
        return RunResult::Failed;
    };
    ctx.emit(Event::RollbackStarted {
        cause,
        to: prev.name(),
        by_ecs: None,
    });
    ctx.emit(Event::Phase(Phase::Rollback));
    let count = p.count_before.max(1);
    let (result, steps) = converge(ctx, &mut p.catalog, &prev, count, opts.allow_downtime).await;
    outcome.rollback_steps = steps;
    match result {
        Ok(()) => {
            record_rollback(ctx, &prev, count).await;
            RunResult::RolledBack
        }
        Err(Halt::Interrupted) => RunResult::Interrupted,
        Err(Halt::Failed { step, cause }) => {
            outcome.rollback_failure = Some(FailureReport::new(Some(step), cause));
            RunResult::Failed
        }
    }
}

/// Records on the revision a rollback returned to that ecs-roll rolled it out last, with the
/// count it restored: the failed revision is no longer the last rollout, so neither the next
/// deploy's count nor `ecs-roll rollback` goes by the failed deploy's record.
async fn record_rollback(ctx: &StandaloneCtx, prev: &Revision, count: usize) {
    let tags = history::rollout_tags(SystemTime::now(), &ctx.actor, Some(count));
    if let Err(e) = with_retry(|| ctx.ecs.tag_task_definition(&prev.arn, &tags)).await {
        ctx.emit(Event::Warning(Warning::RollbackNotRecorded {
            revision: prev.name(),
            error: e.to_string(),
        }));
    }
}

/// How long a rollout may take in all, and how long each of its steps should.
struct Pace {
    limit: Duration,
    predicted: Vec<Duration>,
    gates: Gates,
}

/// Carries out `plan` onto `target`, then checks that the result really is what was wanted.
async fn converge_with(
    ctx: &StandaloneCtx,
    obs: &Observation,
    target: &Revision,
    plan: &Plan,
    cleanup: bool,
    allow_downtime: bool,
    pace: Pace,
) -> (Option<Halt>, Vec<StepReport>) {
    let mut rollout = Rollout::new(
        ctx,
        target,
        &obs.load_balancer,
        cleanup,
        allow_downtime,
        pace.limit,
    )
    .gated(pace.gates);
    let halt = match rollout.run(plan, &pace.predicted).await {
        Ok(()) => verify(ctx, &target.arn, plan.count).await.err(),
        Err(h) => Some(h),
    };
    (halt, rollout.reports)
}

/// Observes afresh and converges onto an existing revision (the rollback after a failure).
async fn converge(
    ctx: &StandaloneCtx,
    catalog: &mut Catalog,
    target: &Revision,
    count: usize,
    allow_downtime: bool,
) -> (Result<(), Halt>, Vec<StepReport>) {
    let failed = |cause: Failure| Halt::Failed {
        step: "rollback".into(),
        cause,
    };
    let obs = match Observation::take(ctx).await {
        Ok(o) => o,
        Err(e) => return (Err(failed(e.into())), Vec::new()),
    };
    for (arn, _) in obs.running_revisions() {
        if let Err(e) = catalog.get(ctx, &arn).await {
            return (Err(failed(e.into())), Vec::new());
        }
    }
    let td = TaskDefinition::from_revision(target);
    let plan = match plan::plan(
        &obs.slots(&td, &catalog.definitions()),
        Some(&target.arn),
        count,
        allow_downtime,
    ) {
        Ok(p) => p,
        Err(refusal) => {
            return (
                Err(failed(Failure::RollbackRefused { refusal })),
                Vec::new(),
            );
        }
    };
    ctx.emit(Event::Plan(plan.clone()));
    let prediction = predict::standalone(
        &obs.load_balancer,
        &plan,
        ctx.timeouts.health_grace,
        Observed::of(target),
    );
    let pace = Pace {
        limit: rollback_limit(ctx, &obs.load_balancer, &plan),
        predicted: prediction.steps.clone(),
        // A rollback is not held back by the alarms that may have caused it.
        gates: Gates::default(),
    };
    ctx.emit(Event::Prediction(prediction));
    let (halt, steps) = converge_with(ctx, &obs, target, &plan, true, allow_downtime, pace).await;
    (halt.map_or(Ok(()), Err), steps)
}

async fn verify(ctx: &StandaloneCtx, target: &str, count: usize) -> Result<(), Halt> {
    ctx.emit(Event::Phase(Phase::Verify));
    let obs = Observation::take(ctx).await.map_err(|e| Halt::Failed {
        step: "verification".into(),
        cause: e.into(),
    })?;
    obs.converged_on(target, count)
        .map_err(|problems| Halt::Failed {
            step: "verification".into(),
            cause: Failure::VerificationFailed { problems },
        })
}

async fn preflight(ctx: &StandaloneCtx) -> Result<Observation, Error> {
    skeleton::check_cluster(ctx).await?;
    let lb = with_retry(|| ctx.elb.describe_load_balancer(&ctx.load_balancer))
        .await
        .map_err(Error::from_api_before_change)?;
    if lb.is_none() {
        return Err(Error::refused(Refusal::LoadBalancerNotFound {
            name: ctx.load_balancer.clone(),
        }));
    }
    Observation::take(ctx)
        .await
        .map_err(Error::from_api_before_change)
}

/// The classic ELB sends traffic to one instance port; the task must publish it statically.
fn check_ports(obs: &Observation, td: &TaskDefinition) -> Result<(), Error> {
    let lb = &obs.load_balancer;
    let port = health_check_port(&lb.health_check.target)
        .or_else(|| lb.listeners.first().map(|l| l.instance_port));
    let Some(port) = port else { return Ok(()) };
    let ports = td.static_host_ports();
    if !ports.contains(&port) {
        return Err(Error::refused(Refusal::PortNotMapped {
            load_balancer: lb.name.clone(),
            port,
            static_ports: ports,
        }));
    }
    Ok(())
}

/// `HTTP:5555/testme` -> 5555.
pub fn health_check_port(target: &str) -> Option<u16> {
    let rest = target.split_once(':')?.1;
    rest.split('/').next()?.parse().ok()
}

/// An ACTIVE revision with the same content, so re-running a deploy resumes it instead of
/// registering a duplicate.
pub(crate) async fn find_identical(
    ctx: &Ctx,
    catalog: &mut Catalog,
    running: &[(String, usize)],
    td: &TaskDefinition,
) -> Result<Option<Revision>, Error> {
    for (arn, _) in running {
        let r = catalog
            .get(ctx, arn)
            .await
            .map_err(Error::from_api_before_change)?;
        if TaskDefinition::from_revision(&r).same_as(td) {
            return Ok(Some(r));
        }
    }
    let latest = catalog
        .latest(ctx)
        .await
        .map_err(Error::from_api_before_change)?;
    Ok(latest.filter(|r| TaskDefinition::from_revision(r).same_as(td)))
}

/// Registers the new revision, or re-tags the reused one, recording what ran before and
/// which command rolls it out.
pub(crate) async fn record(
    ctx: &Ctx,
    existing: Option<Revision>,
    td: &TaskDefinition,
    previous: Option<&str>,
    count: Option<usize>,
    opts: &Options,
) -> Result<Revision, Error> {
    let tags = rollout_tags(ctx, previous, count, opts);
    let reused = existing.is_some();
    let rev = register_or_tag(ctx, existing, td, &tags).await?;
    announce_revision(ctx, &rev, td, reused, previous, opts);
    Ok(rev)
}

/// What `record` writes on the revision rolled out: when, by whom, the count, which command,
/// and what ran before.
pub(crate) fn rollout_tags(
    ctx: &Ctx,
    previous: Option<&str>,
    count: Option<usize>,
    opts: &Options,
) -> BTreeMap<String, String> {
    let mut tags = history::rollout_tags(SystemTime::now(), &ctx.actor, count);
    tags.insert(
        TAG_ROLLOUT.to_string(),
        opts.rollout_record().tag().to_string(),
    );
    if let Some(p) = previous {
        tags.insert(TAG_PREVIOUS.to_string(), p.to_string());
    }
    tags
}

/// Registers `td` with `tags`, or puts `tags` on the identical revision found (none: as it is).
pub(crate) async fn register_or_tag(
    ctx: &Ctx,
    existing: Option<Revision>,
    td: &TaskDefinition,
    tags: &BTreeMap<String, String>,
) -> Result<Revision, Error> {
    match existing {
        Some(r) if tags.is_empty() => Ok(r),
        Some(mut r) => {
            with_retry(|| ctx.ecs.tag_task_definition(&r.arn, tags))
                .await
                .map_err(Error::from_api_before_change)?;
            r.tags.extend(tags.clone());
            Ok(r)
        }
        // A retry after a lost response may register one revision too many; harmless.
        None => {
            let body = td.to_json();
            with_retry(|| ctx.ecs.register_task_definition(&body, tags))
                .await
                .map_err(Error::from_api_before_change)
        }
    }
}

/// Tells the revision to roll out, with the image of the container that changed (the only
/// one, or the one named), never just the first of a multi-container definition.
pub(crate) fn announce_revision(
    ctx: &Ctx,
    rev: &Revision,
    td: &TaskDefinition,
    reused: bool,
    previous: Option<&str>,
    opts: &Options,
) {
    let image = deployed_container(td, opts.container.as_deref())
        .and_then(|c| td.image_of(&c).map(String::from))
        .unwrap_or_default();
    ctx.emit(Event::Revision {
        name: rev.name(),
        arn: rev.arn.clone(),
        image,
        reused,
        previous: previous.map(String::from),
    });
}

/// After a rollback that succeeded, its record says so: a later plain `rollback` then returns
/// to the revision it left, as after a deploy. Left unsaid (a warning), a plain `rollback`
/// would finish this one again, which changes nothing.
/// After a rollout that succeeded: how long its steps took (what the next deploy of the
/// target predicts from), and for a rollback that it completed.
pub(crate) async fn record_completed(
    ctx: &Ctx,
    target: &Revision,
    opts: &Options,
    timings: &Observed,
) {
    let mut tags = BTreeMap::from([(TAG_TIMINGS.to_string(), timings.tag())]);
    if opts.rollout_record() == RolloutRecord::Rollback {
        tags.insert(
            TAG_ROLLOUT.to_string(),
            RolloutRecord::RollbackCompleted.tag().to_string(),
        );
    }
    if let Err(e) = with_retry(|| ctx.ecs.tag_task_definition(&target.arn, &tags)).await {
        let (revision, error) = (target.name(), e.to_string());
        ctx.emit(Event::Warning(
            if opts.rollout_record() == RolloutRecord::Rollback {
                Warning::RollbackCompletionUnrecorded { revision, error }
            } else {
                Warning::TimingsNotRecorded { revision, error }
            },
        ));
    }
}

/// The container whose image is reported: the one named, else the only one.
fn deployed_container(td: &TaskDefinition, container: Option<&str>) -> Option<String> {
    let names = td.container_names();
    container
        .map(String::from)
        .or_else(|| (names.len() == 1).then(|| names[0].clone()))
}

/// The revision a dry run would register.
fn planned(family: &str, td: &TaskDefinition, container: Option<&str>) -> RevisionInfo {
    RevisionInfo {
        arn: String::new(),
        name: format!("{family}:new"),
        revision: 0,
        image: deployed_container(td, container).and_then(|c| td.image_of(&c).map(String::from)),
        images: images_of(td),
    }
}

/// Every container's image.
fn images_of(td: &TaskDefinition) -> BTreeMap<String, String> {
    td.container_names()
        .into_iter()
        .filter_map(|c| Some((c.clone(), td.image_of(&c)?.to_string())))
        .collect()
}

pub fn info(r: &Revision, container: Option<&str>) -> RevisionInfo {
    let td = TaskDefinition::from_revision(r);
    RevisionInfo {
        arn: r.arn.clone(),
        name: r.name(),
        revision: r.revision,
        image: deployed_container(&td, container).and_then(|c| td.image_of(&c).map(String::from)),
        images: images_of(&td),
    }
}

pub fn reports(obs: &Observation, catalog: &Catalog) -> Vec<InstanceReport> {
    let names: BTreeMap<String, String> = catalog
        .definitions()
        .keys()
        .map(|a| (a.clone(), short_name(a)))
        .collect();
    obs.instances
        .iter()
        .map(|ci| {
            let tasks: Vec<_> = obs
                .tasks
                .iter()
                .filter(|t| t.container_instance_arn.as_deref() == Some(&ci.arn))
                .collect();
            let health = obs.health_of(&ci.ec2_instance_id);
            InstanceReport {
                ec2_instance_id: ci.ec2_instance_id.clone(),
                availability_zone: ci.availability_zone.clone(),
                revisions: tasks
                    .iter()
                    .map(|t| {
                        names
                            .get(&t.task_definition_arn)
                            .cloned()
                            .unwrap_or_else(|| short_name(&t.task_definition_arn))
                    })
                    .collect(),
                task_status: tasks.first().map(|t| t.last_status.to_string()),
                health: health.map(|h| {
                    if h.is_deregistering() {
                        "Draining".to_string()
                    } else {
                        h.state.to_string()
                    }
                }),
            }
        })
        .collect()
}

/// `arn:aws:ecs:…:task-definition/app:3` -> `app:3`.
pub fn short_name(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_string()
}

/// The task count the most recent ecs-roll rollout recorded, among the target, the family's
/// latest revision (a failed deploy's, even when none of its tasks runs) and the revisions
/// running now.
fn recorded_count(
    catalog: &Catalog,
    target: Option<&Revision>,
    latest: Option<&Revision>,
    running: &[(String, usize)],
) -> Option<usize> {
    let defs = catalog.revisions();
    history::last_recorded_count(
        target
            .into_iter()
            .chain(latest)
            .chain(running.iter().filter_map(|(a, _)| defs.get(a))),
    )
}
