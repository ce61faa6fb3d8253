//! Following one service deployment to its end: a `Watch` whose look reads the service (and
//! the rest only when it can have changed, see `Reader`), prints ECS's new events once, and
//! asks `Tracker::judge`. Its state (the reader's cache, what was seen) lives in its fields.

use std::collections::HashSet;
use std::time::Duration;

use tokio::time::Instant;

use super::ServiceCtx;
use super::observe::{self, Gate, Reader, Snapshot};
use super::watch::{Judgement, Observed, Tracker, Watched};
use crate::engine::events::Event;
use crate::engine::failure::{Failure, Interruption};
use crate::engine::progress::{Progress, Wait};
use crate::engine::verdict::Verdict;
use crate::engine::wait::{self, WaitError, Watch, with_retry};
use crate::platform::{ApiResult, ContainerInstance, RolloutState, Service, Task, TaskStatus};

/// How long tasks may stay unplaceable with no progress before the deploy fails: ECS emits
/// "unable to place a task" transiently during a normal rolling deploy on static host ports.
pub const PLACEMENT_GRACE: Duration = Duration::from_secs(180);

/// How long after a draining ends the watch keeps looking every `min`.
const AFTER_DRAIN: Duration = Duration::from_secs(20);

/// Why following a deployment ended before it succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Halt {
    Failed {
        cause: Failure,
        /// ECS's own rollback deployment, when ECS is already rolling back.
        ecs_rollback: Option<String>,
    },
    /// Someone else's deployment took over; not ours to undo.
    Superseded(Failure),
    Interrupted,
}

/// What stays the same for every deployment a run follows (its own, a rollback).
pub struct Scene<'a> {
    pub s: &'a ServiceCtx,
    pub gates: &'a [Gate],
    pub instances: &'a [ContainerInstance],
    pub desired: i64,
    pub limit: Duration,
}

struct Follow<'a> {
    scene: &'a Scene<'a>,
    w: &'a Watched<'a>,
    /// Service events already printed.
    seen: &'a mut HashSet<String>,
    tracker: Tracker,
    reader: Reader,
    instances: Vec<ContainerInstance>,
    failed_seen: i64,
    stopped: Vec<Task>,
    ecs_rollback: Option<String>,
    superseded: bool,
    interrupted: bool,
    /// Set while ECS counts failed tasks of a deployment still in progress: its circuit
    /// breaker or our own verdict is a few failures away, so look every `min` meanwhile.
    urgent: bool,
    /// When the draining seen in a load balancer ends at the latest: the old tasks stop then
    /// and the deployment completes, so the watch wakes then and looks every `min` for a while
    /// after (ECS needs a few seconds to stop the tasks and mark the deployment COMPLETED).
    drained_by: Option<Instant>,
    /// The service deployment's ARN, once DescribeServiceDeployments showed it.
    service_deployment: Option<String>,
}

/// Polls until the deployment is done or failed; prints each new service event once.
pub async fn follow(
    scene: &Scene<'_>,
    w: &Watched<'_>,
    seen: &mut HashSet<String>,
) -> Option<Halt> {
    follow_tracked(scene, w, seen).await.0
}

/// `follow`, and the ARN of the service deployment DescribeServiceDeployments showed for it
/// (None where the endpoint has no such call).
pub async fn follow_tracked(
    scene: &Scene<'_>,
    w: &Watched<'_>,
    seen: &mut HashSet<String>,
) -> (Option<Halt>, Option<String>) {
    let ctx = &scene.s.ctx;
    let mut f = Follow {
        scene,
        w,
        seen,
        tracker: Tracker::new(PLACEMENT_GRACE, health_grace(scene.gates), scene.desired)
            .with_health_timeout(ctx.timeouts.health),
        reader: Reader::new(),
        instances: scene.instances.to_vec(),
        failed_seen: 0,
        stopped: Vec::new(),
        ecs_rollback: None,
        superseded: false,
        interrupted: false,
        urgent: false,
        drained_by: None,
        service_deployment: None,
    };
    let what = Wait::Deployment {
        deployment: w.deployment_id.to_string(),
    };
    let result = wait::watch(&what, scene.limit, ctx.poll, ctx.observer.as_ref(), &mut f).await;
    let arn = f.service_deployment.take();
    if f.interrupted {
        return (Some(Halt::Interrupted), arn);
    }
    let halt = match result {
        Ok(_) => None,
        Err(WaitError::Failed(cause)) if f.superseded => Some(Halt::Superseded(cause)),
        Err(WaitError::Failed(cause)) => Some(Halt::Failed {
            cause,
            ecs_rollback: f.ecs_rollback.take(),
        }),
        Err(e) => Some(Halt::Failed {
            cause: e.into_failure(what),
            ecs_rollback: None,
        }),
    };
    (halt, arn)
}

/// How long a target may fail its checks before the deploy fails: long enough for ECS's own
/// grace and a few checks.
fn health_grace(gates: &[Gate]) -> Duration {
    gates
        .iter()
        .filter_map(|g| match g {
            Gate::TargetGroup { group, .. } => Some(
                group.health_check_interval * (group.unhealthy_threshold + group.healthy_threshold)
                    + Duration::from_secs(60),
            ),
            Gate::Classic { .. } => None,
        })
        .max()
        .unwrap_or(Duration::from_secs(180))
}

impl Follow<'_> {
    /// A draining seen for the first time began after `snap.changed_after` (the look before
    /// the change that showed it), so it ends at the earliest then plus the delay, and at the
    /// latest a poll later: the watch wakes at the earliest and looks every `min` for
    /// `AFTER_DRAIN` after it.
    fn note_draining(&mut self, snap: &Snapshot, now: Instant) {
        let draining = self
            .scene
            .gates
            .iter()
            .zip(&snap.health)
            .filter(|(_, h)| observe::is_draining(h))
            .map(|(g, _)| g.draining())
            .max();
        match (draining, self.drained_by) {
            // The same draining, or the moments after it.
            (_, Some(known)) if now < known + AFTER_DRAIN => {}
            (Some(d), _) => {
                self.drained_by = Some(snap.changed_after.min(now) + d + wait::AFTER_DUE)
            }
            (None, _) => self.drained_by = None,
        }
    }

    /// Tasks on instances registered since preflight: read the instances again.
    async fn refresh_instances(&mut self, snap: &Snapshot) -> ApiResult<()> {
        let ctx = &self.scene.s.ctx;
        if snap.tasks.iter().any(|t| {
            t.container_instance_arn
                .as_ref()
                .is_some_and(|a| !self.instances.iter().any(|i| &i.arn == a))
        }) {
            self.instances = with_retry(|| ctx.ecs.container_instances(&ctx.cluster)).await?;
        }
        Ok(())
    }

    /// Stopped tasks are read only when ECS counts a new failure: they cost two calls.
    async fn refresh_stopped(&mut self, snap: &Snapshot) -> ApiResult<()> {
        let s = self.scene.s;
        let ours = snap
            .service
            .deployments
            .iter()
            .find(|d| d.id == self.w.deployment_id);
        let failed = ours.map_or(0, |d| d.failed_tasks);
        self.urgent = ours.is_some_and(|d| {
            d.failed_tasks > 0 && d.rollout_state == Some(RolloutState::InProgress)
        });
        if failed > self.failed_seen {
            self.failed_seen = failed;
            let all = s
                .services
                .service_tasks(&s.ctx.cluster, &s.service, TaskStatus::Stopped)
                .await?;
            self.stopped = all
                .into_iter()
                .filter(|t| t.task_definition_arn == self.w.target)
                .collect();
        }
        Ok(())
    }

    fn judge(&mut self, snap: &Snapshot) -> Verdict {
        if self.service_deployment.is_none() {
            self.service_deployment = snap.deployment.as_ref().map(|d| d.arn.clone());
        }
        let o = Observed {
            service: &snap.service,
            deployment: snap.deployment.as_ref(),
            tasks: &snap.tasks,
            instances: &self.instances,
            health: &snap.health,
            stopped: &self.stopped,
        };
        match self.tracker.judge(&o, self.w, Instant::now()) {
            Judgement::Done => Verdict::Done,
            Judgement::Pending(p) => Verdict::Pending(Progress::Deployment(p)),
            Judgement::Failed {
                cause,
                ecs_rollback,
            } => {
                self.ecs_rollback = ecs_rollback;
                Verdict::Failed(cause)
            }
            Judgement::Superseded(cause) => {
                self.superseded = true;
                Verdict::Failed(cause)
            }
        }
    }
}

impl Watch for Follow<'_> {
    async fn look(&mut self, _now: Instant) -> ApiResult<Verdict> {
        let s = self.scene.s;
        if s.ctx.cancel.requested() {
            self.interrupted = true;
            return Ok(Verdict::Failed(Failure::Interrupted {
                how: Interruption::DeploymentContinues {
                    deployment: self.w.deployment_id.to_string(),
                },
            }));
        }
        let snap = self
            .reader
            .snapshot(s, self.scene.gates, Some(self.w.deployment_id))
            .await?;
        print_new_events(s, &snap.service, self.seen);
        self.note_draining(&snap, Instant::now());
        self.refresh_instances(&snap).await?;
        self.refresh_stopped(&snap).await?;
        Ok(self.judge(&snap))
    }

    fn due(&self, now: Instant) -> Option<Instant> {
        let min = self.scene.s.ctx.poll.min;
        let after_drain = self
            .drained_by
            .and_then(|d| (now < d + AFTER_DRAIN).then(|| d.max(now + min)));
        let urgent = self.urgent.then(|| now + min);
        // A new task's health limit is enforced when it passes.
        let health = self.tracker.health_due().filter(|d| *d > now);
        // Shared answers (a multi-target run): look when the next falls due. The first watch
        // to look reads it; the others wait for that read and take it.
        let s = self.scene.s;
        let shared = s.services.pace(&s.ctx.cluster).next_answer;
        let shared = shared.filter(|d| *d > now);
        after_drain
            .into_iter()
            .chain(urgent)
            .chain(health)
            .chain(shared)
            .min()
    }
}

pub fn print_new_events(s: &ServiceCtx, svc: &Service, seen: &mut HashSet<String>) {
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
