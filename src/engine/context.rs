//! What every part of a run shares: the platform, the target, the limits and the way to stop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::events::{Event, Observer};
use super::wait::Poll;
use crate::platform::{Alarms, ClassicElb, Ecs, ResourceTags};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// The whole rollout. None: twice what the plan should take given the health check and
    /// draining settings, and at least 15 minutes, so a slow health check never makes a sound
    /// deploy time out. Past it no new step starts (draining and stopping in progress finish,
    /// bounded by their own limits); a rollback after a failure gets what its plan needs, and
    /// at least this.
    pub total: Option<Duration>,
    /// From StartTask to RUNNING.
    pub task_start: Duration,
    /// From a new task seen RUNNING to healthy in its load balancers (`--health-timeout`),
    /// enforced as given. None: standalone, twice what the classic ELB's checks take plus
    /// the health grace; service mode, no limit of its own (the deploy's `--timeout` and the
    /// judge of failing checks bound it).
    pub health: Option<Duration>,
    /// From StopTask to STOPPED.
    pub task_stop: Duration,
    /// How long a new task may fail the load balancer's health checks while it starts up
    /// before a failure counts (ECS's healthCheckGracePeriodSeconds for standalone tasks; 0
    /// like ECS's default: the load balancer's UnhealthyThreshold is the verdict).
    pub health_grace: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            total: None,
            task_start: Duration::from_secs(5 * 60),
            health: None,
            task_stop: Duration::from_secs(2 * 60),
            health_grace: Duration::ZERO,
        }
    }
}

/// Set by the first Ctrl-C/SIGTERM: the engine finishes the step in progress, then stops.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

pub struct Ctx {
    pub ecs: Arc<dyn Ecs>,
    pub elb: Arc<dyn ClassicElb>,
    /// Where the deploy lock is kept.
    pub tags: Arc<dyn ResourceTags>,
    /// CloudWatch: the alarms that gate a deploy (`--alarm`).
    pub alarms: Arc<dyn Alarms>,
    pub cluster: String,
    /// The task definition family (in service mode, the one of the revision the service runs).
    pub family: String,
    pub observer: Arc<dyn Observer>,
    pub poll: Poll,
    pub timeouts: Timeouts,
    pub cancel: Cancel,
    /// Who is deploying, recorded on the revision (CI run, user@host).
    pub actor: String,
    /// How often a run renews the deploy lock it holds (`lock::HEARTBEAT`).
    pub lock_heartbeat: Duration,
    /// Several targets in one command: this target's place at their common preflight gate.
    pub gate: Option<super::gate::Ticket>,
}

impl Ctx {
    pub fn emit(&self, event: Event) {
        self.observer.event(&event);
    }
}

/// A run against standalone tasks of a family behind a classic ELB: the common context plus
/// the load balancer (a service's load balancers come from the service: `ServiceCtx`).
pub struct StandaloneCtx {
    pub ctx: Ctx,
    pub load_balancer: String,
}

impl std::ops::Deref for StandaloneCtx {
    type Target = Ctx;

    fn deref(&self) -> &Ctx {
        &self.ctx
    }
}

impl std::ops::DerefMut for StandaloneCtx {
    fn deref_mut(&mut self) -> &mut Ctx {
        &mut self.ctx
    }
}
