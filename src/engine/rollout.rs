//! Carrying out a plan, step by step, in the order that keeps the app served: new tasks are
//! InService before old ones are deregistered, and an instance is only taken out while another
//! one serves. A failed step cleans up after itself so the instance is left either serving or
//! empty, never registered with nothing behind it.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use tokio::time::Instant;

use super::context::Ctx;
use super::events::Event;
use super::plan::{Action, Plan, Slot, Step};
use super::verdict::{self, Verdict};
use super::wait::{self, Poll, WaitError};
use crate::platform::{ApiError, ClassicLoadBalancer, InstanceHealth, Revision, Task};

/// Why a rollout stopped before its last step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Halt {
    /// A step failed; `reason` is the evidence.
    Failed { step: String, reason: String },
    /// Ctrl-C/SIGTERM: the step in progress was finished first.
    Interrupted,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StepReport {
    pub title: String,
    #[serde(with = "secs")]
    pub took: Duration,
    pub ok: bool,
}

pub(crate) mod secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
    }
}

pub struct Rollout<'a> {
    ctx: &'a Ctx,
    target: &'a Revision,
    lb: &'a ClassicLoadBalancer,
    /// Clean up a failed step (stop its new tasks, deregister its instances); off with
    /// --no-rollback, which leaves everything as it is for inspection.
    cleanup: bool,
    allow_downtime: bool,
    deadline: Instant,
    pub reports: Vec<StepReport>,
    /// Tasks of the target revision that earlier steps brought InService. Every later wait
    /// watches them too: one that stops leaves the app short of capacity, so it ends the
    /// rollout like a crash of the step's own task.
    deployed: RefCell<Vec<String>>,
    /// Why a deployed task stopped, once seen. The step in progress is not cut short for it
    /// (its instance would be left out, or its healthy new task stopped): a draining instance
    /// is put back at once; otherwise the step finishes and the rollout stops after it.
    deployed_stopped: RefCell<Option<String>>,
}

impl<'a> Rollout<'a> {
    pub fn new(
        ctx: &'a Ctx,
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
            deployed: RefCell::new(Vec::new()),
            deployed_stopped: RefCell::new(None),
        }
    }

    pub async fn run(&mut self, plan: &Plan) -> Result<(), Halt> {
        let total = plan.steps.len();
        for (i, step) in plan.steps.iter().enumerate() {
            if self.ctx.cancel.requested() {
                return Err(Halt::Interrupted);
            }
            let title = step.title();
            if Instant::now() >= self.deadline {
                return Err(Halt::Failed {
                    step: title,
                    reason: "the time limit (--timeout) passed before this step could start".into(),
                });
            }
            self.ctx.emit(Event::StepStarted {
                index: i + 1,
                total,
                title: title.clone(),
            });
            let start = Instant::now();
            let result = self.step(step).await;
            let took = start.elapsed();
            self.reports.push(StepReport {
                title: title.clone(),
                took,
                ok: result.is_ok(),
            });
            // A task of an earlier step stopped meanwhile: the step is done, the rollout is not.
            let result = result.and_then(|()| match self.deployed_stopped.borrow_mut().take() {
                Some(reason) => Err(reason),
                None => Ok(()),
            });
            match result {
                Ok(()) => self.ctx.emit(Event::StepFinished {
                    index: i + 1,
                    total,
                    took,
                }),
                Err(reason) => {
                    return Err(Halt::Failed {
                        step: title,
                        reason,
                    });
                }
            }
        }
        Ok(())
    }

    async fn step(&self, step: &Step) -> Result<(), String> {
        match &step.action {
            Action::Register { slots } => {
                let tasks: Vec<String> = slots
                    .iter()
                    .flat_map(|s| s.tasks.iter().map(|t| t.arn.clone()))
                    .collect();
                // The tasks run already: checks after the registration are theirs.
                self.register(slots, &tasks, Some(Instant::now())).await?;
                self.deployed.borrow_mut().extend(tasks);
                Ok(())
            }
            Action::Launch { slots } => self.launch(slots).await,
            Action::Retire { slots } => self.retire(slots).await,
            Action::Replace { slot } => {
                self.retire(std::slice::from_ref(slot)).await?;
                self.launch(std::slice::from_ref(slot)).await
            }
        }
    }

    /// Time left for a wait: its own limit, cut by the rollout's overall deadline.
    fn limit(&self, own: Duration) -> Duration {
        own.min(self.deadline.saturating_duration_since(Instant::now()))
    }

    fn health_limit(&self) -> Duration {
        health_limit(self.ctx, self.lb)
    }

    fn api(e: ApiError) -> String {
        format!("{e} ({})", crate::error::api_hint(&e))
    }

    /// Start the target revision on each instance, wait RUNNING, register, wait InService.
    async fn launch(&self, slots: &[Slot]) -> Result<(), String> {
        let ctx = self.ctx;
        let mut started = Vec::new();
        let result = async {
            for s in slots {
                let task = wait::with_retry(|| {
                    ctx.ecs.start_task(
                        &ctx.cluster,
                        &self.target.arn,
                        &s.container_instance_arn,
                        "ecs-roll",
                    )
                })
                .await
                .map_err(|e| {
                    format!(
                        "could not start a task of {} on {}: {}",
                        self.target.name(),
                        s.ec2_instance_id,
                        Self::api(e)
                    )
                })?;
                ctx.emit(Event::Action {
                    text: format!(
                        "started task {} ({}) on {}",
                        verdict::short(&task.arn),
                        self.target.name(),
                        s.ec2_instance_id
                    ),
                });
                started.push(task.arn);
            }
            // Registered at once, not once RUNNING: the ELB keeps an instance OutOfService
            // (no traffic) until it passes HealthyThreshold checks in a row, and its checks
            // start one interval after registration, so they run while the task starts
            // instead of after it. The wait below sees the task reach RUNNING too.
            self.register(slots, &started, None).await
        }
        .await;
        if let Err(reason) = result {
            if self.cleanup {
                self.clean_failed_launch(slots, &started).await;
            }
            return Err(reason);
        }
        self.deployed.borrow_mut().extend(started);
        Ok(())
    }

    /// `tasks` and the tasks deployed by earlier steps, for one DescribeTasks.
    fn with_deployed(&self, tasks: &[String]) -> Vec<String> {
        let mut all = tasks.to_vec();
        all.extend(self.deployed.borrow().iter().cloned());
        all
    }

    /// Whether a task deployed by an earlier step is stopping; the first reason is kept.
    fn note_deployed(&self, seen: &[Task]) -> Option<String> {
        let why = verdict::stopped(&Self::only(seen, &self.deployed.borrow()))?;
        let reason = format!("{why} (deployed by an earlier step)");
        let mut kept = self.deployed_stopped.borrow_mut();
        if kept.is_none() {
            self.ctx.emit(Event::Warning(format!(
                "{reason}: finishing this step, then stopping"
            )));
            *kept = Some(reason.clone());
        }
        Some(reason)
    }

    /// The tasks of `seen` that are among `tasks`.
    fn only(seen: &[Task], tasks: &[String]) -> Vec<Task> {
        seen.iter()
            .filter(|t| tasks.contains(&t.arn))
            .cloned()
            .collect()
    }

    /// Register instances that are not registered yet and wait until `tasks` are RUNNING and
    /// every instance InService; a task that stops ends the wait early. `running_since`: when
    /// the tasks are known to run already (None: just started).
    async fn register(
        &self,
        slots: &[Slot],
        tasks: &[String],
        running_since: Option<Instant>,
    ) -> Result<(), String> {
        let ctx = self.ctx;
        let ids: Vec<String> = slots.iter().map(|s| s.ec2_instance_id.clone()).collect();
        let health = wait::with_retry(|| ctx.elb.instance_health(&ctx.load_balancer))
            .await
            .map_err(Self::api)?;
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
            wait::with_retry(|| ctx.elb.register_instances(&ctx.load_balancer, &missing))
                .await
                .map_err(Self::api)?;
            ctx.emit(Event::Action {
                text: format!(
                    "registered {} with {}",
                    missing.join(", "),
                    ctx.load_balancer
                ),
            });
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
        self.wait_in_service(&ids, tasks, checks, running_since)
            .await
    }

    /// Reads the health only when it can have changed: when ecs-roll registered the instances,
    /// the load balancer checks them one interval after registration and every interval after,
    /// so DescribeInstanceHealth is read right after those instants and the wait wakes then,
    /// not up to a poll later. The tasks are read at every poll (a crash comes at any time)
    /// until they are RUNNING and the health says every instance is InService.
    async fn wait_in_service(
        &self,
        ids: &[String],
        tasks: &[String],
        checks: HealthSchedule,
        running_since: Option<Instant>,
    ) -> Result<(), String> {
        let ctx = self.ctx;
        let what = format!("{} InService in {}", ids.join(", "), ctx.load_balancer);
        let start = Instant::now();
        let last_read: Cell<Option<Instant>> = Cell::new(None);
        let health: RefCell<Vec<InstanceHealth>> = RefCell::new(Vec::new());
        // From when the health checks are the new tasks': seen RUNNING, and registered.
        let running = Cell::new(running_since);
        let limit = match running_since {
            Some(_) => self.health_limit(),
            None => ctx.timeouts.task_start + self.health_limit(),
        };
        wait::until_due(
            &what,
            self.limit(limit),
            ctx.poll,
            ctx.observer.as_ref(),
            |now| checks.next_check(now),
            || async {
                let now = Instant::now();
                if last_read
                    .get()
                    .is_none_or(|at| checks.may_have_changed(at, now))
                {
                    *health.borrow_mut() = ctx.elb.instance_health(&ctx.load_balancer).await?;
                    last_read.set(Some(now));
                }
                let health = health.borrow().clone();
                // Read at every look, the last one too: Done rests on tasks seen RUNNING now.
                let watched = self.with_deployed(tasks);
                let seen = if watched.is_empty() {
                    Vec::new()
                } else {
                    ctx.ecs.describe_tasks(&ctx.cluster, &watched).await?
                };
                self.note_deployed(&seen);
                let ours = Self::only(&seen, tasks);
                if running.get().is_none() {
                    match verdict::tasks_running(&ours, tasks.len()) {
                        Verdict::Done => running.set(Some(now)),
                        Verdict::Failed(why) => return Ok(Verdict::Failed(why)),
                        Verdict::Pending(_) if now >= start + ctx.timeouts.task_start => {
                            return Ok(Verdict::Failed(format!(
                                "the new task did not reach RUNNING within {}",
                                humantime::format_duration(ctx.timeouts.task_start)
                            )));
                        }
                        Verdict::Pending(detail) => return Ok(Verdict::Pending(detail)),
                    }
                }
                let conclusive = match (running.get(), last_read.get()) {
                    (Some(since), Some(read)) => checks.conclusive(since, read),
                    _ => false,
                };
                Ok(verdict::instances_in_service(
                    &health, ids, &ours, conclusive,
                ))
            },
        )
        .await
        .map(|_| ())
        .map_err(|e| wait_failure("the load balancer did not report the new task healthy", e))
    }

    /// Deregister, wait for connection draining (bounded by its timeout), stop the old tasks
    /// and wait until they are STOPPED so their host port is free.
    async fn retire(&self, slots: &[Slot]) -> Result<(), String> {
        let ctx = self.ctx;
        let ids: Vec<String> = slots.iter().map(|s| s.ec2_instance_id.clone()).collect();
        if !self.allow_downtime {
            self.guard(&ids).await?;
        }
        let health = wait::with_retry(|| ctx.elb.instance_health(&ctx.load_balancer))
            .await
            .map_err(Self::api)?;
        let registered: Vec<String> = ids
            .iter()
            .filter(|id| health.iter().any(|h| &h.instance_id == *id))
            .cloned()
            .collect();
        if !registered.is_empty() {
            wait::with_retry(|| {
                ctx.elb
                    .deregister_instances(&ctx.load_balancer, &registered)
            })
            .await
            .map_err(Self::api)?;
            ctx.emit(Event::Action {
                text: format!(
                    "deregistered {} from {}",
                    registered.join(", "),
                    ctx.load_balancer
                ),
            });
            let drain = self.lb.connection_draining.unwrap_or_default();
            // The ELB may report the end of draining a little after its timeout.
            let drain_limit = drain + ctx.poll.max.max(Duration::from_secs(5));
            let what = format!("connection draining on {}", registered.join(", "));
            // Past the draining timeout the ELB cuts the connections itself: go on.
            // Draining ends at the latest when its timeout does: look right then.
            let drained_by = Instant::now() + drain + wait::AFTER_DUE;
            let started = Instant::now();
            // The last health read and what it said, repeated by the looks that skip it (a
            // detail of their own would count as a change and speed the polls up again).
            let health_read: RefCell<Option<(Instant, Verdict)>> = RefCell::new(None);
            match wait::until_due(
                &what,
                // Never cut short by the rollout's deadline: the ELB's own timeout bounds it,
                // and stopping a task mid-drain would cut its connections.
                drain_limit,
                ctx.poll,
                ctx.observer.as_ref(),
                move |_| Some(drained_by),
                || async {
                    // Draining either ends within seconds (no request in flight) or lasts to
                    // its timeout (long requests, keep-alive clients): the health is read in
                    // the first seconds, at the timeout and every 30 s between. The tasks
                    // deployed so far, which must keep running, are read at every look.
                    let now = Instant::now();
                    if !self.deployed.borrow().is_empty() {
                        let deployed = self.with_deployed(&[]);
                        let seen = ctx.ecs.describe_tasks(&ctx.cluster, &deployed).await?;
                        if let Some(reason) = self.note_deployed(&seen) {
                            return Ok(Verdict::Failed(reason));
                        }
                    }
                    if now >= started + DRAIN_EARLY
                        && now < drained_by
                        && let Some((at, last)) = health_read.borrow().as_ref()
                        && now < *at + DRAIN_HEALTH_EVERY
                    {
                        return Ok(last.clone());
                    }
                    let health = ctx.elb.instance_health(&ctx.load_balancer).await?;
                    let drained = verdict::instances_drained(&health, &registered);
                    *health_read.borrow_mut() = Some((now, drained.clone()));
                    Ok(drained)
                },
            )
            .await
            {
                Ok(_) => {}
                Err(WaitError::TimedOut { .. }) => ctx.emit(Event::Warning(format!(
                    "{what}: still listed after the draining timeout; continuing"
                ))),
                Err(WaitError::Failed(reason)) if self.deployed_stopped.borrow().is_some() => {
                    // A task deployed earlier stopped: this instance's old task still runs,
                    // so it goes back into service rather than out with the rest.
                    self.deployed_stopped.borrow_mut().take();
                    if wait::with_retry(|| {
                        ctx.elb.register_instances(&ctx.load_balancer, &registered)
                    })
                    .await
                    .is_ok()
                    {
                        ctx.emit(Event::Action {
                            text: format!(
                                "registered {} again: its task still runs",
                                registered.join(", ")
                            ),
                        });
                    }
                    return Err(reason);
                }
                Err(e) => return Err(wait_failure("connection draining", e)),
            }
        }
        let old: Vec<String> = slots
            .iter()
            .flat_map(|s| s.tasks.iter().map(|t| t.arn.clone()))
            .collect();
        self.stop_tasks(&old, "ecs-roll: replaced by a new revision", true)
            .await
    }

    /// `watch_deployed`: fail when a task deployed by an earlier step stops meanwhile (not
    /// while cleaning up after a failure: that is already being handled).
    async fn stop_tasks(
        &self,
        tasks: &[String],
        reason: &str,
        watch_deployed: bool,
    ) -> Result<(), String> {
        let ctx = self.ctx;
        if tasks.is_empty() {
            return Ok(());
        }
        for t in tasks {
            wait::with_retry(|| ctx.ecs.stop_task(&ctx.cluster, t, reason))
                .await
                .map_err(Self::api)?;
            ctx.emit(Event::Action {
                text: format!("stopped task {}", verdict::short(t)),
            });
        }
        let what = format!("{} task(s) STOPPED", tasks.len());
        wait::until(
            &what,
            self.limit(ctx.timeouts.task_stop),
            // A stop takes seconds and the next step waits on it: look every `min`.
            Poll {
                min: ctx.poll.min,
                max: ctx.poll.min,
            },
            ctx.observer.as_ref(),
            || async {
                let watched = if watch_deployed {
                    self.with_deployed(tasks)
                } else {
                    tasks.to_vec()
                };
                let seen = ctx.ecs.describe_tasks(&ctx.cluster, &watched).await?;
                if watch_deployed {
                    self.note_deployed(&seen);
                }
                Ok(verdict::tasks_stopped(&Self::only(&seen, tasks)))
            },
        )
        .await
        .map(|_| ())
        .map_err(|e| wait_failure("the old task did not stop", e))
    }

    /// Never take the last serving instance out: wait (within the health timeout) until
    /// another one is InService.
    async fn guard(&self, leaving: &[String]) -> Result<(), String> {
        let ctx = self.ctx;
        let what = format!(
            "another instance InService before {} leaves",
            leaving.join(", ")
        );
        wait::until(
            &what,
            self.limit(self.health_limit()),
            ctx.poll,
            ctx.observer.as_ref(),
            || async {
                let health = ctx.elb.instance_health(&ctx.load_balancer).await?;
                Ok(match verdict::others_in_service(&health, leaving) {
                    0 => Verdict::Pending("no other instance is InService".into()),
                    _ => Verdict::Done,
                })
            },
        )
        .await
        .map(|_| ())
        .map_err(|e| wait_failure("taking the instance out would leave nothing in service", e))
    }

    /// After a failed launch: deregister the instances and stop the new tasks, so nothing is
    /// registered without a healthy task behind it and the host ports are free for the old one.
    async fn clean_failed_launch(&self, slots: &[Slot], started: &[String]) {
        let ctx = self.ctx;
        let ids: Vec<String> = slots.iter().map(|s| s.ec2_instance_id.clone()).collect();
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
                ctx.emit(Event::Action {
                    text: format!("deregistered {} (failed step)", registered.join(", ")),
                });
            }
        }
        if let Err(e) = self
            .stop_tasks(started, "ecs-roll: new revision failed", false)
            .await
        {
            ctx.emit(Event::Warning(format!("cleaning up the failed step: {e}")));
        }
    }
}

/// Draining without requests in flight ends within this long after deregistration.
const DRAIN_EARLY: Duration = Duration::from_secs(10);
/// Past that, how often the health is read until the draining timeout (the end expected).
const DRAIN_HEALTH_EVERY: Duration = Duration::from_secs(30);

/// When the classic load balancer checks the instances being waited on, as far as ecs-roll
/// knows: it registered them at `registered_at` (None: they were registered already, on the
/// load balancer's own schedule).
#[derive(Debug, Clone, Copy)]
struct HealthSchedule {
    registered_at: Option<Instant>,
    interval: Duration,
    /// How long a check may take to fail (its response timeout).
    timeout: Duration,
    healthy_threshold: u32,
    unhealthy_threshold: u32,
    grace: Duration,
}

impl HealthSchedule {
    fn interval(&self) -> Duration {
        self.interval.max(Duration::from_millis(100))
    }

    /// The next moment after `now` to read the health, when the schedule is known: just
    /// after each check falls due (a pass shows at once), and once more when a check that
    /// fails by timing out has ended (which also covers an answer that lags the check).
    fn next_check(&self, now: Instant) -> Option<Instant> {
        let registered = self.registered_at?;
        let i = self.interval();
        let looks = [wait::AFTER_DUE, self.timeout.min(i / 2) + wait::AFTER_DUE];
        let since = now.saturating_duration_since(registered).as_secs_f64();
        let k = (since / i.as_secs_f64()).floor() as u32;
        // The first look after `now`: of the last check (its second look may be ahead), or
        // of the next ones. The first check is one interval after registration.
        (k.max(1)..k + 3)
            .flat_map(|j| looks.map(|l| registered + i * j + l))
            .find(|at| *at > now)
    }

    /// Whether a look fell due between a read at `read` and `now`; always, when the schedule
    /// is unknown.
    fn may_have_changed(&self, read: Instant, now: Instant) -> bool {
        self.next_check(read).is_none_or(|due| now >= due)
    }

    /// Whether the load balancer's "failed UnhealthyThreshold checks" in a health read taken
    /// at `read` is about the new task that runs since `running`, past the start-up grace:
    /// enough checks have run since then, and finished, that the description cannot be left
    /// over from before it (whether the ELB keeps it until HealthyThreshold passes or clears
    /// it at the first, a task that passed every check since would be InService by now).
    fn conclusive(&self, running: Instant, read: Instant) -> bool {
        let since = self.registered_at.map_or(running, |r| r.max(running));
        let checks = self.unhealthy_threshold.max(self.healthy_threshold).max(1);
        read >= since + self.grace + self.interval() * checks + self.timeout
    }
}

/// How long an instance may take to become InService.
pub fn health_limit(ctx: &Ctx, lb: &ClassicLoadBalancer) -> Duration {
    let hc = &lb.health_check;
    ctx.timeouts.health.unwrap_or_else(|| {
        verdict::default_health_timeout(hc.interval, hc.timeout, hc.healthy_threshold)
    })
}

/// The time limit for a whole plan: the one given, else twice what its steps should take
/// (task start, health checks, draining, stop) and never less than 15 minutes.
pub fn plan_limit(ctx: &Ctx, lb: &ClassicLoadBalancer, plan: &Plan) -> Duration {
    if let Some(t) = ctx.timeouts.total {
        return t;
    }
    let hc = &lb.health_check;
    let healthy = (hc.interval + hc.timeout) * hc.healthy_threshold.max(1);
    let start = Duration::from_secs(60) + healthy;
    let retire = lb.connection_draining.unwrap_or_default() + Duration::from_secs(30);
    let expected: Duration = plan
        .steps
        .iter()
        .map(|s| match s.action {
            Action::Register { .. } => healthy,
            Action::Launch { .. } => start,
            Action::Retire { .. } => retire,
            Action::Replace { .. } => retire + start,
        })
        .sum();
    (expected * 2).max(Duration::from_secs(15 * 60))
}

fn wait_failure(context: &str, e: WaitError) -> String {
    match e {
        WaitError::Failed(why) => why,
        other => format!("{context}: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(at: Instant) -> HealthSchedule {
        HealthSchedule {
            registered_at: Some(at),
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            healthy_threshold: 2,
            unhealthy_threshold: 2,
            grace: Duration::ZERO,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn looks_follow_each_check_twice() {
        let r = Instant::now();
        let s = schedule(r);
        let ms = |n: u64| Duration::from_millis(n);
        // (now, the next look): checks at 30 s, 60 s...; looks 0.1 s and 5.1 s after each.
        let table = [
            (0, 30_100),
            (29_000, 30_100),
            (30_100, 35_100),
            (31_000, 35_100),
            (35_100, 60_100),
            (59_999, 60_100),
            (60_100, 65_100),
        ];
        for (now, want) in table {
            assert_eq!(s.next_check(r + ms(now)), Some(r + ms(want)), "at {now} ms");
        }
        assert!(s.may_have_changed(r + ms(30_000), r + ms(30_100)));
        assert!(!s.may_have_changed(r + ms(30_100), r + ms(35_000)));
        let unknown = HealthSchedule {
            registered_at: None,
            ..s
        };
        assert_eq!(unknown.next_check(r), None);
        assert!(unknown.may_have_changed(r, r));
    }

    #[tokio::test(start_paused = true)]
    async fn failed_checks_count_once_enough_ran_against_the_task() {
        let r = Instant::now();
        let s = schedule(r);
        let secs = Duration::from_secs;
        // Seen RUNNING at 31 s: two checks (61 s, 91 s) must have run and ended (+5 s).
        assert!(!s.conclusive(r + secs(31), r + secs(95)));
        assert!(s.conclusive(r + secs(31), r + secs(96)));
        // A grace period pushes it back.
        let graced = HealthSchedule {
            grace: secs(60),
            ..s
        };
        assert!(!graced.conclusive(r + secs(31), r + secs(150)));
        assert!(graced.conclusive(r + secs(31), r + secs(156)));
        // HealthyThreshold 10: a task passing every check since would be InService only
        // after 10 of them, so a "failed" description counts only then.
        let slow = HealthSchedule {
            healthy_threshold: 10,
            ..s
        };
        assert!(!slow.conclusive(r + secs(70), r + secs(130)));
        assert!(slow.conclusive(r + secs(70), r + secs(375)));
    }
}
