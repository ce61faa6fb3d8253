//! Carrying out a plan, step by step, in the order that keeps the app served: new tasks are
//! InService before old ones are deregistered, and an instance is only taken out while another
//! one serves. A failed step cleans up after itself so the instance is left either serving or
//! empty, never registered with nothing behind it.

mod gates;
mod start;
mod watches;

use std::time::Duration;

use tokio::time::Instant;

use self::gates::{AlarmGate, Bake};
use self::start::Started;
use self::watches::{
    Drain, HealthSchedule, InService, InServiceJudge, Stopped, drain_limit, just_after,
};
use super::context::StandaloneCtx;
use super::events::{Action as Did, Event, Warning};
use super::failure::Failure;
use super::plan::{Action, Plan, Slot, Step};
use super::progress::Wait;
use super::verdict::{self, Verdict};
use super::wait::{self, Poll, WaitError};
use crate::platform::{ClassicLoadBalancer, Revision, Task};

pub use super::outcome::StepReport;

/// Why a rollout stopped before its last step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Halt {
    /// A step failed; `cause` is the evidence.
    Failed { step: String, cause: Failure },
    /// Ctrl-C/SIGTERM: the step in progress was finished first.
    Interrupted,
}

/// Tasks of the target revision that earlier steps brought InService. Every later wait
/// watches them too: one that stops leaves the app short of capacity, so it ends the rollout
/// like a crash of the step's own task. The step in progress is not cut short for it (its
/// instance would be left out, or its healthy new task stopped): a draining instance is put
/// back at once; otherwise the step finishes and the rollout stops after it.
#[derive(Debug, Default)]
pub(crate) struct Deployed {
    tasks: Vec<String>,
    /// Why a deployed task stopped, once seen.
    stopped: Option<Failure>,
    /// The `--alarm` alarms: one in ALARM ends the rollout like a deployed task that stops.
    alarms: AlarmGate,
}

impl Deployed {
    /// `tasks` and the deployed ones, for one DescribeTasks.
    fn with(&self, tasks: &[String]) -> Vec<String> {
        let mut all = tasks.to_vec();
        all.extend(self.tasks.iter().cloned());
        all
    }

    /// Reads the deployed tasks (none: no read) and says whether one is stopping.
    async fn check(&mut self, ctx: &StandaloneCtx) -> crate::platform::ApiResult<Option<Failure>> {
        if self.tasks.is_empty() {
            return Ok(None);
        }
        let seen = ctx.ecs.describe_tasks(&ctx.cluster, &self.tasks).await?;
        Ok(self.note(ctx, &seen))
    }

    /// Whether a deployed task is stopping among `seen`; the first cause is kept and warned of.
    fn note(&mut self, ctx: &StandaloneCtx, seen: &[Task]) -> Option<Failure> {
        let task = verdict::stopped(&watches::only(seen, &self.tasks))?;
        let cause = Failure::TaskStopped {
            task,
            deployed_earlier: true,
        };
        if self.stopped.is_none() {
            ctx.emit(Event::Warning(Warning::DeployedTaskStopped {
                cause: cause.clone(),
            }));
            self.stopped = Some(cause.clone());
        }
        Some(cause)
    }
}

pub struct Rollout<'a> {
    ctx: &'a StandaloneCtx,
    target: &'a Revision,
    lb: &'a ClassicLoadBalancer,
    /// Clean up a failed step (stop its new tasks, deregister its instances); off with
    /// --no-rollback, which leaves everything as it is for inspection.
    cleanup: bool,
    allow_downtime: bool,
    deadline: Instant,
    pub reports: Vec<StepReport>,
    deployed: Deployed,
    /// `--bake`: how long after the last step the rollout still watches.
    bake: Duration,
}

/// What a rollout watches besides its tasks: the deploy's, not a rollback's.
#[derive(Debug, Clone, Default)]
pub struct Gates {
    pub alarms: Vec<String>,
    pub bake: Duration,
}

type StepResult = Result<(), Failure>;

impl<'a> Rollout<'a> {
    pub fn new(
        ctx: &'a StandaloneCtx,
        target: &'a Revision,
        lb: &'a ClassicLoadBalancer,
        cleanup: bool,
        allow_downtime: bool,
        limit: Duration,
    ) -> Self {
        Rollout {
            ctx,
            target,
            lb,
            cleanup,
            allow_downtime,
            deadline: Instant::now() + limit,
            reports: Vec::new(),
            deployed: Deployed::default(),
            bake: Duration::ZERO,
        }
    }

    /// The alarms and bake of a deploy.
    pub fn gated(mut self, gates: Gates) -> Self {
        self.deployed.alarms = AlarmGate::new(gates.alarms);
        self.bake = gates.bake;
        self
    }

    /// Runs the plan's steps in order; `predicted` (in step order, possibly empty) is how long
    /// each should take, for the progress to say what is left.
    pub async fn run(&mut self, plan: &Plan, predicted: &[Duration]) -> Result<(), Halt> {
        let total = plan.steps.len();
        for (i, step) in plan.steps.iter().enumerate() {
            if self.ctx.cancel.requested() {
                return Err(Halt::Interrupted);
            }
            let title = step.title();
            if Instant::now() >= self.deadline {
                return Err(Halt::Failed {
                    step: title,
                    cause: Failure::DeadlinePassed,
                });
            }
            self.ctx.emit(Event::StepStarted {
                index: i + 1,
                total,
                title: title.clone(),
                predicted: predicted.get(i).copied(),
                left: (predicted.len() == total).then(|| predicted[i..].iter().sum()),
            });
            let start = Instant::now();
            let result = self.step(step).await;
            let took = start.elapsed();
            self.reports.push(StepReport {
                title: title.clone(),
                took,
                predicted: predicted.get(i).copied(),
                ok: result.is_ok(),
            });
            // A task of an earlier step stopped meanwhile, or an alarm fired: the step is
            // done, the rollout is not.
            let result = match result {
                Ok(()) => self.after_step().await,
                Err(cause) => Err(cause),
            };
            match result {
                Ok(()) => self.ctx.emit(Event::StepFinished {
                    index: i + 1,
                    total,
                    took,
                }),
                Err(cause) => return Err(Halt::Failed { step: title, cause }),
            }
        }
        self.bake().await
    }

    /// What ends the rollout once a step is done: a deployed task that stopped meanwhile,
    /// or an alarm in ALARM now.
    async fn after_step(&mut self) -> StepResult {
        if let Some(cause) = self.deployed.stopped.take() {
            return Err(cause);
        }
        let fired = self
            .deployed
            .alarms
            .fired(self.ctx, Instant::now(), Duration::ZERO);
        match fired.await? {
            Some(cause) => Err(cause),
            None => Ok(()),
        }
    }

    /// `--bake` after the last step: the new tasks keep running and the alarms stay out of
    /// ALARM that long, or the rollout fails (and is rolled back).
    async fn bake(&mut self) -> Result<(), Halt> {
        if self.bake.is_zero() {
            return Ok(());
        }
        let ctx = self.ctx;
        let what = Wait::Bake {
            duration: self.bake,
            alarms: self.deployed.alarms.names().to_vec(),
        };
        let title = format!("bake for {}", humantime::format_duration(self.bake));
        let start = Instant::now();
        let mut w = Bake {
            ctx,
            deployed: &mut self.deployed,
            until: start + self.bake,
        };
        // It ends by itself at `until`; the margin only bounds reads that never answer.
        let limit = self.bake + ctx.poll.max.max(Duration::from_secs(60));
        let result = wait::watch(&what, limit, ctx.poll, ctx.observer.as_ref(), &mut w).await;
        self.reports.push(StepReport {
            title: title.clone(),
            took: start.elapsed(),
            predicted: Some(self.bake),
            ok: result.is_ok(),
        });
        result.map(|_| ()).map_err(|e| Halt::Failed {
            step: title,
            cause: e.into_failure(what),
        })
    }

    async fn step(&mut self, step: &Step) -> StepResult {
        match &step.action {
            Action::Register { slots } => {
                let tasks: Vec<String> = slots
                    .iter()
                    .flat_map(|s| s.tasks.iter().map(|t| t.arn.clone()))
                    .collect();
                // The tasks run already: checks after the registration are theirs.
                self.register(slots, &tasks, Some(Instant::now())).await?;
                self.deployed.tasks.extend(tasks);
                Ok(())
            }
            Action::Launch { slots } => self.launch(slots).await,
            Action::Retire { slots } => self.retire(slots).await,
            Action::Replace { slot } => {
                self.retire(std::slice::from_ref(slot)).await?;
                self.launch(std::slice::from_ref(slot)).await
            }
            Action::Deregister { slots } => self.deregister_strays(slots).await,
        }
    }

    /// Out of the load balancer, instances with no task behind them: no traffic goes where
    /// nothing answers. Nothing runs there, so there is nothing to drain or to guard.
    async fn deregister_strays(&mut self, slots: &[Slot]) -> StepResult {
        let ctx = self.ctx;
        let ids = instance_ids(slots);
        wait::with_retry(|| ctx.elb.deregister_instances(&ctx.load_balancer, &ids)).await?;
        ctx.emit(Event::Action(Did::StraysDeregistered {
            instances: ids,
            load_balancer: ctx.load_balancer.clone(),
        }));
        Ok(())
    }

    /// Time left for a wait: its own limit, cut by the rollout's overall deadline.
    fn limit(&self, own: Duration) -> Duration {
        own.min(self.deadline.saturating_duration_since(Instant::now()))
    }

    fn health_limit(&self) -> Duration {
        health_limit(self.ctx, self.lb)
    }

    /// Start the target revision on each instance, register, wait RUNNING and InService.
    async fn launch(&mut self, slots: &[Slot]) -> StepResult {
        let mut started = Vec::new();
        let mut result = self.start_tasks(slots, &mut started).await;
        if result.is_ok() {
            // Registered at once, not once RUNNING: the ELB keeps an instance OutOfService
            // (no traffic) until it passes HealthyThreshold checks in a row, and its checks
            // start one interval after registration, so they run while the task starts
            // instead of after it. The wait sees the task reach RUNNING too.
            result = self.register(slots, &started, None).await;
        }
        if let Err(cause) = result {
            if self.cleanup {
                self.clean_failed_launch(slots, &started).await;
            }
            return Err(cause);
        }
        self.deployed.tasks.extend(started);
        Ok(())
    }

    async fn start_tasks(&self, slots: &[Slot], started: &mut Vec<String>) -> StepResult {
        let ctx = self.ctx;
        for s in slots {
            let task = start::start_task(ctx, &self.target.arn, &s.container_instance_arn)
                .await
                .map_err(|error| Failure::StartTaskFailed {
                    revision: self.target.name(),
                    instance: s.ec2_instance_id.clone(),
                    error,
                })?;
            let task = match task {
                Started::New(task) => task,
                Started::Found(task) => {
                    ctx.emit(Event::Warning(Warning::StartTaskAnswerLost {
                        task: task.arn.clone(),
                        instance: s.ec2_instance_id.clone(),
                    }));
                    task
                }
            };
            ctx.emit(Event::Action(Did::TaskStarted {
                task: task.arn.clone(),
                revision: self.target.name(),
                instance: s.ec2_instance_id.clone(),
            }));
            started.push(task.arn);
        }
        Ok(())
    }

    /// Register instances that are not registered yet and wait until `tasks` are RUNNING and
    /// every instance InService; a task that stops ends the wait early. `running_since`: when
    /// the tasks are known to run already (None: just started).
    async fn register(
        &mut self,
        slots: &[Slot],
        tasks: &[String],
        running_since: Option<Instant>,
    ) -> StepResult {
        let ctx = self.ctx;
        let ids = instance_ids(slots);
        let health = wait::with_retry(|| ctx.elb.instance_health(&ctx.load_balancer)).await?;
        let missing: Vec<String> = ids
            .iter()
            .filter(|id| {
                !health
                    .iter()
                    .any(|h| &h.instance_id == *id && !h.is_deregistering())
            })
            .cloned()
            .collect();
        let mut registered_at = None;
        if !missing.is_empty() {
            registered_at = Some(Instant::now());
            wait::with_retry(|| ctx.elb.register_instances(&ctx.load_balancer, &missing)).await?;
            ctx.emit(Event::Action(Did::InstancesRegistered {
                instances: missing,
                load_balancer: ctx.load_balancer.clone(),
                again: false,
            }));
        }
        let hc = &self.lb.health_check;
        let checks = HealthSchedule {
            registered_at,
            interval: hc.interval,
            timeout: hc.timeout,
            healthy_threshold: hc.healthy_threshold,
            unhealthy_threshold: hc.unhealthy_threshold,
            grace: ctx.timeouts.health_grace,
        };
        let limit = match running_since {
            Some(_) => self.health_limit(),
            None => ctx.timeouts.task_start + self.health_limit(),
        };
        let limit = self.limit(limit);
        let what = Wait::InService {
            instances: ids.clone(),
            load_balancer: ctx.load_balancer.clone(),
        };
        let mut w = InService {
            ctx,
            judge: InServiceJudge {
                ids,
                tasks: tasks.to_vec(),
                load_balancer: ctx.load_balancer.clone(),
                checks,
                start: Instant::now(),
                task_start: ctx.timeouts.task_start,
                health: self.health_limit(),
                running: running_since,
                last_read: None,
            },
            deployed: &mut self.deployed,
            health: Vec::new(),
        };
        wait::watch(&what, limit, ctx.poll, ctx.observer.as_ref(), &mut w)
            .await
            .map(|_| ())
            .map_err(|e| e.into_failure(what))
    }

    /// Deregister, wait for connection draining (bounded by its timeout), stop the old tasks
    /// and wait until they are STOPPED so their host port is free.
    async fn retire(&mut self, slots: &[Slot]) -> StepResult {
        let ctx = self.ctx;
        let ids = instance_ids(slots);
        if !self.allow_downtime {
            self.guard(&ids).await?;
        }
        let health = wait::with_retry(|| ctx.elb.instance_health(&ctx.load_balancer)).await?;
        let registered: Vec<String> = ids
            .iter()
            .filter(|id| health.iter().any(|h| &h.instance_id == *id))
            .cloned()
            .collect();
        if !registered.is_empty() {
            self.drain(&registered).await?;
        }
        let old: Vec<String> = slots
            .iter()
            .flat_map(|s| s.tasks.iter().map(|t| t.arn.clone()))
            .collect();
        self.stop_tasks(&old, "ecs-roll: replaced by a new revision", true)
            .await
    }

    /// Deregister `registered` and wait for its connections to drain. Never cut short by the
    /// rollout's deadline: the ELB's own timeout bounds it, and stopping a task mid-drain
    /// would cut its connections. Past that timeout the ELB cuts them itself: go on.
    async fn drain(&mut self, registered: &[String]) -> StepResult {
        let ctx = self.ctx;
        wait::with_retry(|| ctx.elb.deregister_instances(&ctx.load_balancer, registered)).await?;
        let timeout = self.lb.connection_draining;
        ctx.emit(Event::Action(Did::Draining {
            instances: registered.to_vec(),
            load_balancer: ctx.load_balancer.clone(),
            timeout,
        }));
        let drain = timeout.unwrap_or_default();
        let what = Wait::Draining {
            instances: registered.to_vec(),
        };
        let mut w = Drain {
            ctx,
            registered,
            deployed: &mut self.deployed,
            started: Instant::now(),
            drained_by: just_after(Instant::now() + drain),
            health_read: None,
        };
        let result = wait::watch(
            &what,
            drain_limit(ctx, drain),
            ctx.poll,
            ctx.observer.as_ref(),
            &mut w,
        )
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(WaitError::TimedOut { .. }) => {
                ctx.emit(Event::Warning(Warning::StillListedAfterDraining {
                    instances: registered.to_vec(),
                }));
                Ok(())
            }
            Err(WaitError::Failed(cause)) if self.deployed.stopped.is_some() => {
                // A task deployed earlier stopped: this instance's old task still runs, so it
                // goes back into service rather than out with the rest.
                self.deployed.stopped = None;
                if wait::with_retry(|| ctx.elb.register_instances(&ctx.load_balancer, registered))
                    .await
                    .is_ok()
                {
                    ctx.emit(Event::Action(Did::InstancesRegistered {
                        instances: registered.to_vec(),
                        load_balancer: ctx.load_balancer.clone(),
                        again: true,
                    }));
                }
                Err(cause)
            }
            Err(e) => Err(e.into_failure(what)),
        }
    }

    /// `watch_deployed`: fail when a task deployed by an earlier step stops meanwhile (not
    /// while cleaning up after a failure: that is already being handled).
    async fn stop_tasks(
        &mut self,
        tasks: &[String],
        reason: &str,
        watch_deployed: bool,
    ) -> StepResult {
        let ctx = self.ctx;
        if tasks.is_empty() {
            return Ok(());
        }
        for t in tasks {
            wait::with_retry(|| ctx.ecs.stop_task(&ctx.cluster, t, reason)).await?;
            ctx.emit(Event::Action(Did::TaskStopped { task: t.clone() }));
        }
        let what = Wait::TasksStopped { count: tasks.len() };
        // Never cut short by the rollout's deadline: a task left STOPPING still holds its
        // host port, and whatever comes next (the rest of the step, or the rollback) needs it.
        let limit = ctx.timeouts.task_stop;
        let mut w = Stopped {
            ctx,
            tasks,
            deployed: watch_deployed.then_some(&mut self.deployed),
        };
        // A stop takes seconds and the next step waits on it: look every `min`.
        let poll = Poll {
            min: ctx.poll.min,
            max: ctx.poll.min,
        };
        wait::watch(&what, limit, poll, ctx.observer.as_ref(), &mut w)
            .await
            .map(|_| ())
            .map_err(|e| e.into_failure(what))
    }

    /// Never take the last serving instance out: wait (within the health timeout) until
    /// another one is InService.
    async fn guard(&self, leaving: &[String]) -> StepResult {
        let ctx = self.ctx;
        let what = Wait::OtherInService {
            leaving: leaving.to_vec(),
        };
        wait::until(
            &what,
            self.limit(self.health_limit()),
            ctx.poll,
            ctx.observer.as_ref(),
            || async {
                let health = ctx.elb.instance_health(&ctx.load_balancer).await?;
                Ok(match verdict::others_in_service(&health, leaving) {
                    0 => Verdict::Pending(super::progress::Progress::NoOtherInService),
                    _ => Verdict::Done,
                })
            },
        )
        .await
        .map(|_| ())
        .map_err(|e| e.into_failure(what))
    }

    /// After a failed launch: deregister the instances and stop the new tasks, so nothing is
    /// registered without a healthy task behind it and the host ports are free for the old one.
    async fn clean_failed_launch(&mut self, slots: &[Slot], started: &[String]) {
        let ctx = self.ctx;
        let ids = instance_ids(slots);
        if let Ok(health) = wait::with_retry(|| ctx.elb.instance_health(&ctx.load_balancer)).await {
            let registered: Vec<String> = ids
                .iter()
                .filter(|id| health.iter().any(|h| &h.instance_id == *id))
                .cloned()
                .collect();
            if !registered.is_empty()
                && wait::with_retry(|| {
                    ctx.elb
                        .deregister_instances(&ctx.load_balancer, &registered)
                })
                .await
                .is_ok()
            {
                ctx.emit(Event::Action(Did::InstancesDeregistered {
                    instances: registered,
                }));
            }
        }
        if let Err(cause) = self
            .stop_tasks(started, "ecs-roll: new revision failed", false)
            .await
        {
            ctx.emit(Event::Warning(Warning::CleanupFailed { cause }));
        }
    }
}

fn instance_ids(slots: &[Slot]) -> Vec<String> {
    slots.iter().map(|s| s.ec2_instance_id.clone()).collect()
}

/// How long a new task may take from RUNNING to InService: `--health-timeout`, else enough
/// for the load balancer's checks to pass twice over, after the health grace period.
pub fn health_limit(ctx: &StandaloneCtx, lb: &ClassicLoadBalancer) -> Duration {
    let hc = &lb.health_check;
    ctx.timeouts.health.unwrap_or_else(|| {
        verdict::default_health_timeout(hc.interval, hc.timeout, hc.healthy_threshold)
            + ctx.timeouts.health_grace
    })
}

/// The time limit for a whole plan: the one given (--timeout), else `expected_limit`.
pub fn plan_limit(ctx: &StandaloneCtx, lb: &ClassicLoadBalancer, plan: &Plan) -> Duration {
    ctx.timeouts
        .total
        .unwrap_or_else(|| expected_limit(lb, plan))
}

/// The time limit of a rollback: what its plan needs, and never less than the one given. The
/// way back must get every instance serving again; `--timeout` bounds the way forward.
pub fn rollback_limit(ctx: &StandaloneCtx, lb: &ClassicLoadBalancer, plan: &Plan) -> Duration {
    plan_limit(ctx, lb, plan).max(expected_limit(lb, plan))
}

/// Twice what the plan's steps should take (task start, health checks, draining, stop), and
/// never less than 15 minutes, so a slow health check never makes a sound deploy time out.
pub fn expected_limit(lb: &ClassicLoadBalancer, plan: &Plan) -> Duration {
    let hc = &lb.health_check;
    let healthy = (hc.interval + hc.timeout) * hc.healthy_threshold.max(1);
    let start = Duration::from_secs(60) + healthy;
    let retire = lb.connection_draining.unwrap_or_default() + Duration::from_secs(30);
    let expected: Duration = plan
        .steps
        .iter()
        .map(|s| match s.action {
            Action::Register { .. } => healthy,
            Action::Deregister { .. } => Duration::from_secs(30),
            Action::Launch { .. } => start,
            Action::Retire { .. } => retire,
            Action::Replace { .. } => retire + start,
        })
        .sum();
    (expected * 2).max(Duration::from_secs(15 * 60))
}
