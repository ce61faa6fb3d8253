//! The rollout's waits, each an observe-and-judge `Watch`: what to read and when is decided
//! here, what it means by the pure functions of `verdict`. The state a wait keeps (its last
//! health read, whether a deployed task stopped) lives in its fields, passed by `&mut`.

use std::time::Duration;

use tokio::time::Instant;

use super::Deployed;
use crate::engine::context::StandaloneCtx;
use crate::engine::failure::Failure;
use crate::engine::progress::Wait;
use crate::engine::verdict::{self, Verdict};
use crate::engine::wait::{self, Watch};
#[cfg(test)]
use crate::platform::HealthState;
use crate::platform::{ApiResult, InstanceHealth, Task};

/// Draining without requests in flight ends within this long after deregistration.
pub(super) const DRAIN_EARLY: Duration = Duration::from_secs(10);
/// Past that, how often the health is read until the draining timeout (the end expected).
pub(super) const DRAIN_HEALTH_EVERY: Duration = Duration::from_secs(30);

/// When the classic load balancer checks the instances being waited on, as far as ecs-roll
/// knows: it registered them at `registered_at` (None: they were registered already, on the
/// load balancer's own schedule).
#[derive(Debug, Clone, Copy)]
pub(super) struct HealthSchedule {
    pub registered_at: Option<Instant>,
    pub interval: Duration,
    /// How long a check may take to fail (its response timeout).
    pub timeout: Duration,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    pub grace: Duration,
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
    /// With the schedule known the checks are counted, so the verdict comes with the read
    /// after the deciding check's timeout; without it, their durations.
    fn conclusive(&self, running: Instant, read: Instant) -> bool {
        let since = self.registered_at.map_or(running, |r| r.max(running)) + self.grace;
        let checks = self.unhealthy_threshold.max(self.healthy_threshold).max(1);
        let i = self.interval();
        let Some(registered) = self.registered_at else {
            return read >= since + i * checks + self.timeout;
        };
        // Checks fall due at registered + k * interval, k >= 1; those at or after `since`
        // are against the running task, and one due at `at` has answered by `at + timeout`.
        let first = (since.saturating_duration_since(registered).as_secs_f64() / i.as_secs_f64())
            .ceil()
            .max(1.0);
        let Some(answered) = read.checked_duration_since(registered + self.timeout) else {
            return false;
        };
        let last = (answered.as_secs_f64() / i.as_secs_f64()).floor();
        last - first + 1.0 >= f64::from(checks)
    }
}

/// The tasks of `seen` that are among `tasks`.
pub(super) fn only(seen: &[Task], tasks: &[String]) -> Vec<Task> {
    seen.iter()
        .filter(|t| tasks.contains(&t.arn))
        .cloned()
        .collect()
}

/// New tasks RUNNING and their instances InService: the read policy and the judge, pure, so
/// they are table-tested together at explicit instants. The health is read only when it can
/// have changed: when ecs-roll registered the instances, the load balancer checks them one
/// interval after registration and every interval after, so DescribeInstanceHealth is read
/// right after those instants and the wait wakes then, not up to a poll later. The tasks are
/// read at every look (a crash comes at any time) until they are RUNNING and every instance
/// is InService.
#[derive(Debug, Clone)]
pub(super) struct InServiceJudge {
    pub ids: Vec<String>,
    pub tasks: Vec<String>,
    pub load_balancer: String,
    pub checks: HealthSchedule,
    pub start: Instant,
    /// From StartTask to RUNNING.
    pub task_start: Duration,
    /// From RUNNING to InService (`--health-timeout`), on top of the time to start.
    pub health: Duration,
    /// From when the health checks are the new tasks': seen RUNNING, and registered.
    pub running: Option<Instant>,
    pub last_read: Option<Instant>,
}

impl InServiceJudge {
    /// Whether a look at `now` reads the health again.
    pub fn reads_health(&self, now: Instant) -> bool {
        self.last_read
            .is_none_or(|at| self.checks.may_have_changed(at, now))
    }

    /// The verdict on the tasks seen and the last health read (taken at `last_read`): the
    /// tasks first (RUNNING within the start limit), then the health (InService within the
    /// health limit of being seen RUNNING).
    pub fn judge(&mut self, seen: &[Task], health: &[InstanceHealth], now: Instant) -> Verdict {
        let verdict = self.judge_within_limits(seen, health, now);
        match (verdict, self.health_due()) {
            (Verdict::Pending(last), Some(due)) if now >= due => {
                Verdict::Failed(Failure::TimedOut {
                    waiting_for: Wait::InService {
                        instances: self.ids.clone(),
                        load_balancer: self.load_balancer.clone(),
                    },
                    limit: self.health,
                    last: Some(Box::new(last)),
                })
            }
            (verdict, _) => verdict,
        }
    }

    /// When the health limit passes: `health` after the tasks were seen RUNNING.
    pub fn health_due(&self) -> Option<Instant> {
        self.running.map(|since| since + self.health)
    }

    fn judge_within_limits(
        &mut self,
        seen: &[Task],
        health: &[InstanceHealth],
        now: Instant,
    ) -> Verdict {
        let ours = only(seen, &self.tasks);
        if self.running.is_none() {
            match verdict::tasks_running(&ours, self.tasks.len()) {
                Verdict::Done => self.running = Some(now),
                Verdict::Pending(_) if now >= self.start + self.task_start => {
                    return Verdict::Failed(Failure::TaskStartTimedOut {
                        limit: self.task_start,
                    });
                }
                other => return other,
            }
        }
        let conclusive = match (self.running, self.last_read) {
            (Some(since), Some(read)) => self.checks.conclusive(since, read),
            _ => false,
        };
        verdict::instances_in_service(health, &self.ids, &ours, conclusive, &self.load_balancer)
    }
}

/// The InService wait: the judge, the last health read, and the tasks of earlier steps.
pub(super) struct InService<'a> {
    pub ctx: &'a StandaloneCtx,
    pub judge: InServiceJudge,
    pub deployed: &'a mut Deployed,
    pub health: Vec<InstanceHealth>,
}

impl Watch for InService<'_> {
    async fn look(&mut self, now: Instant) -> ApiResult<Verdict> {
        let ctx = self.ctx;
        if self.judge.reads_health(now) {
            self.health = ctx.elb.instance_health(&ctx.load_balancer).await?;
            self.judge.last_read = Some(now);
        }
        // Read at every look, the last one too: Done rests on tasks seen RUNNING now.
        let watched = self.deployed.with(&self.judge.tasks);
        let seen = if watched.is_empty() {
            Vec::new()
        } else {
            ctx.ecs.describe_tasks(&ctx.cluster, &watched).await?
        };
        self.deployed.note(ctx, &seen);
        // The new tasks are what changed: an alarm fails this step, which cleans up after it.
        if let Some(cause) = self.deployed.alarms.fired(ctx, now, ctx.poll.min).await? {
            return Ok(Verdict::Failed(cause));
        }
        Ok(self.judge.judge(&seen, &self.health, now))
    }

    /// The next health check, or the health limit if it comes first (it is enforced then).
    fn due(&self, now: Instant) -> Option<Instant> {
        let limit = self.judge.health_due().filter(|d| *d > now);
        self.judge
            .checks
            .next_check(now)
            .into_iter()
            .chain(limit)
            .min()
    }
}

/// Connection draining of deregistered instances, bounded by the ELB's own timeout. Draining
/// either ends within seconds (no request in flight) or lasts to its timeout (long requests,
/// keep-alive clients): the health is read in the first seconds, at the timeout and every 30 s
/// between. The tasks deployed so far, which must keep running, are read at every look.
pub(super) struct Drain<'a> {
    pub ctx: &'a StandaloneCtx,
    pub registered: &'a [String],
    pub deployed: &'a mut Deployed,
    pub started: Instant,
    /// Draining ends at the latest when its timeout does: look right then.
    pub drained_by: Instant,
    /// The last health read and what it said, repeated by the looks that skip it (a verdict
    /// of their own would count as a change and speed the polls up again).
    pub health_read: Option<(Instant, Verdict)>,
}

impl Watch for Drain<'_> {
    async fn look(&mut self, now: Instant) -> ApiResult<Verdict> {
        let ctx = self.ctx;
        if let Some(cause) = self.deployed.check(ctx).await? {
            return Ok(Verdict::Failed(cause));
        }
        // As for a deployed task that stops: the draining instance goes back into service.
        if let Some(cause) = self.deployed.alarms.fired(ctx, now, ctx.poll.min).await? {
            self.deployed.stopped = Some(cause.clone());
            return Ok(Verdict::Failed(cause));
        }
        if now >= self.started + DRAIN_EARLY
            && now < self.drained_by
            && let Some((at, last)) = &self.health_read
            && now < *at + DRAIN_HEALTH_EVERY
        {
            return Ok(last.clone());
        }
        let health = ctx.elb.instance_health(&ctx.load_balancer).await?;
        let drained = verdict::instances_drained(&health, self.registered);
        self.health_read = Some((now, drained.clone()));
        Ok(drained)
    }

    fn due(&self, _now: Instant) -> Option<Instant> {
        Some(self.drained_by)
    }
}

/// Stopped tasks reaching STOPPED; with `deployed`, the tasks of earlier steps are watched too
/// (not while cleaning up after a failure: that is already being handled).
pub(super) struct Stopped<'a> {
    pub ctx: &'a StandaloneCtx,
    pub tasks: &'a [String],
    pub deployed: Option<&'a mut Deployed>,
}

impl Watch for Stopped<'_> {
    async fn look(&mut self, _now: Instant) -> ApiResult<Verdict> {
        let ctx = self.ctx;
        let watched = match &self.deployed {
            Some(d) => d.with(self.tasks),
            None => self.tasks.to_vec(),
        };
        let seen = ctx.ecs.describe_tasks(&ctx.cluster, &watched).await?;
        if let Some(d) = self.deployed.as_deref_mut() {
            d.note(ctx, &seen);
        }
        Ok(verdict::tasks_stopped(&only(&seen, self.tasks)))
    }
}

/// The extra time allowed past the draining timeout: the ELB may report the end of draining a
/// little after it.
pub(super) fn drain_limit(ctx: &StandaloneCtx, drain: Duration) -> Duration {
    drain + ctx.poll.max.max(Duration::from_secs(5))
}

/// `wait::AFTER_DUE` past `at`.
pub(super) fn just_after(at: Instant) -> Instant {
    at + wait::AFTER_DUE
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
        let ms = |n: u64| r + Duration::from_millis(n);
        // Checks at 30 s, 60 s, 90 s... Seen RUNNING at 31 s: the ones at 60 s and 90 s are
        // against it, and the second has answered at 95 s (its timeout).
        assert!(!s.conclusive(ms(31_000), ms(94_900)));
        assert!(s.conclusive(ms(31_000), ms(95_000)));
        // Seen RUNNING at 30 s: the check due then counts too.
        assert!(s.conclusive(ms(30_000), ms(65_100)));
        assert!(!s.conclusive(ms(30_001), ms(65_100)));
        // A grace period pushes it back: from 91 s, the checks at 120 s and 150 s.
        let graced = HealthSchedule {
            grace: secs(60),
            ..s
        };
        assert!(!graced.conclusive(ms(31_000), ms(154_900)));
        assert!(graced.conclusive(ms(31_000), ms(155_000)));
        // HealthyThreshold 10: a task passing every check since would be InService only
        // after 10 of them (90 s ... 360 s), so a "failed" description counts only then.
        let slow = HealthSchedule {
            healthy_threshold: 10,
            ..s
        };
        assert!(!slow.conclusive(ms(70_000), ms(364_900)));
        assert!(slow.conclusive(ms(70_000), ms(365_000)));
        // Schedule unknown (registered before ecs-roll came): the checks' durations.
        let unknown = HealthSchedule {
            registered_at: None,
            ..s
        };
        assert!(!unknown.conclusive(ms(31_000), ms(95_900)));
        assert!(unknown.conclusive(ms(31_000), ms(96_000)));
    }

    fn task(status: &str) -> Task {
        Task::new("arn:task/c/new", "td:2", status, "RUNNING")
    }

    fn health(state: HealthState, description: Option<&str>) -> Vec<InstanceHealth> {
        vec![InstanceHealth {
            instance_id: "i-1".into(),
            state,
            reason_code: None,
            description: description.map(String::from),
        }]
    }

    #[tokio::test(start_paused = true)]
    async fn the_in_service_wait_reads_when_a_check_is_due_and_judges_at_each_instant() {
        let r = Instant::now();
        let mut j = InServiceJudge {
            ids: vec!["i-1".into()],
            tasks: vec!["arn:task/c/new".into()],
            load_balancer: "elb".into(),
            checks: schedule(r),
            start: r,
            task_start: Duration::from_secs(300),
            health: Duration::from_secs(200),
            running: None,
            last_read: None,
        };
        let failed = Some(
            "Instance has failed at least the UnhealthyThreshold number of health checks consecutively.",
        );
        let out = |state| health(state, None);
        let secs = |n: u64| r + Duration::from_millis(n * 100);
        // (instant in 0.1 s, task status, health the ELB would give, health read?, verdict)
        let table = [
            (
                0,
                "PENDING",
                out(HealthState::OutOfService),
                true,
                "pending",
            ),
            (
                10,
                "PENDING",
                out(HealthState::OutOfService),
                false,
                "pending",
            ),
            (
                150,
                "RUNNING",
                out(HealthState::OutOfService),
                false,
                "pending",
            ),
            // The first check (30 s) is due: read, still OutOfService.
            (
                301,
                "RUNNING",
                out(HealthState::OutOfService),
                true,
                "pending",
            ),
            (
                320,
                "RUNNING",
                out(HealthState::OutOfService),
                false,
                "pending",
            ),
            // Its second look (35.1 s), then the next check (60 s).
            (
                351,
                "RUNNING",
                health(HealthState::OutOfService, failed),
                true,
                "pending",
            ),
            (
                601,
                "RUNNING",
                health(HealthState::OutOfService, failed),
                true,
                "pending",
            ),
            // Its second look: two checks (30 s, 60 s) have run and ended since RUNNING at
            // 15 s: conclusive.
            (
                651,
                "RUNNING",
                health(HealthState::OutOfService, failed),
                true,
                "failed",
            ),
        ];
        let mut last = Vec::new();
        for (at, status, elb, read, want) in table {
            let now = secs(at);
            assert_eq!(j.reads_health(now), read, "read at {at}");
            if read {
                last = elb;
                j.last_read = Some(now);
            }
            let got = match j.judge(&[task(status)], &last, now) {
                Verdict::Done => "done",
                Verdict::Pending(_) => "pending",
                Verdict::Failed(Failure::HealthChecksFailed { .. }) => "failed",
                Verdict::Failed(f) => panic!("at {at}: {f:?}"),
            };
            assert_eq!(got, want, "verdict at {at}");
        }
        // RUNNING seen at 15 s: the health limit (200 s) passes at 215 s, InService or not.
        assert_eq!(j.health_due(), Some(secs(150) + Duration::from_secs(200)));
        let out = health(HealthState::OutOfService, None);
        assert!(matches!(
            j.judge(&[task("RUNNING")], &out, secs(2149)),
            Verdict::Pending(_)
        ));
        assert!(matches!(
            j.judge(&[task("RUNNING")], &out, secs(2150)),
            Verdict::Failed(Failure::TimedOut { waiting_for: Wait::InService { .. }, limit, .. })
                if limit == Duration::from_secs(200)
        ));
        // A task that never runs fails once the start limit passes.
        let mut slow = InServiceJudge {
            running: None,
            last_read: None,
            task_start: Duration::from_secs(60),
            ..j
        };
        assert!(matches!(
            slow.judge(&[task("PENDING")], &[], r + Duration::from_secs(60)),
            Verdict::Failed(Failure::TaskStartTimedOut { .. })
        ));
    }
}
