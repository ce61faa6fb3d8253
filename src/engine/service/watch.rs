//! Judging one observation of a service deployment: done, still going, or failed (and
//! whether ECS is already rolling back). A pure function of what was observed plus the
//! instants progress was last seen, so it is table-tested with explicit times.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::engine::failure::{Failure, StoppedTask};
use crate::engine::progress::{DeploymentProgress, Progress, TargetWait, Wait};
use crate::platform::{
    ContainerInstance, Deployment, DeploymentStatus, HealthState, InstanceHealth, RolloutState,
    Service, ServiceDeployment, TargetHealth, TargetHealthState, Task,
};

/// The health of a service's tasks in one of its load balancers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LbHealth {
    TargetGroup {
        arn: String,
        target_type: String,
        container_name: Option<String>,
        container_port: Option<u16>,
        targets: Vec<TargetHealth>,
    },
    Classic {
        name: String,
        health: Vec<InstanceHealth>,
    },
}

impl LbHealth {
    pub fn name(&self) -> &str {
        match self {
            LbHealth::TargetGroup { arn, .. } => arn.rsplit(':').next().unwrap_or(arn),
            LbHealth::Classic { name, .. } => name,
        }
    }
}

pub struct Observed<'a> {
    pub service: &'a Service,
    /// DescribeServiceDeployments, where supported.
    pub deployment: Option<&'a ServiceDeployment>,
    /// The service's tasks with desired status RUNNING.
    pub tasks: &'a [Task],
    pub instances: &'a [ContainerInstance],
    pub health: &'a [LbHealth],
    /// Tasks of the target revision that stopped during this deployment.
    pub stopped: &'a [Task],
}

/// What the watch is about.
pub struct Watched<'a> {
    /// Our deployment's id (`ecs-svc/…`).
    pub deployment_id: &'a str,
    pub target: &'a str,
    /// The revision a rollback returns to; a PRIMARY deployment of it that is not ours means
    /// ECS (circuit breaker or alarms) is rolling back.
    pub previous: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    Done,
    Pending(DeploymentProgress),
    Failed {
        cause: Failure,
        /// ECS's own rollback deployment, when ECS is already rolling back.
        ecs_rollback: Option<String>,
    },
    /// Someone else's deployment replaced ours: rolling back would fight them.
    Superseded(Failure),
}

/// Remembers when progress was last made and since when targets are unhealthy.
#[derive(Debug, Clone)]
pub struct Tracker {
    pub placement_grace: Duration,
    pub health_grace: Duration,
    /// Stops of new tasks that make a deploy fail.
    pub stop_threshold: usize,
    /// How long a new task may be RUNNING without being healthy everywhere (`--health-timeout`).
    health_timeout: Option<Duration>,
    progress: Option<(i64, usize)>,
    progress_at: Option<Instant>,
    unhealthy_since: HashMap<String, Instant>,
    /// When each new task was first seen RUNNING.
    running_since: HashMap<String, Instant>,
    /// When the health limit passes for the first of the new tasks not healthy yet.
    health_due: Option<Instant>,
}

impl Tracker {
    pub fn new(placement_grace: Duration, health_grace: Duration, desired: i64) -> Tracker {
        Tracker {
            placement_grace,
            health_grace,
            stop_threshold: if desired <= 1 { 1 } else { 2 },
            health_timeout: None,
            progress: None,
            progress_at: None,
            unhealthy_since: HashMap::new(),
            running_since: HashMap::new(),
            health_due: None,
        }
    }

    /// Each new task must be healthy in every load balancer within `limit` of being seen
    /// RUNNING (None: no limit of its own).
    pub fn with_health_timeout(mut self, limit: Option<Duration>) -> Tracker {
        self.health_timeout = limit;
        self
    }

    /// When the next new task's health limit passes, for the watch to look right then.
    pub fn health_due(&self) -> Option<Instant> {
        self.health_due
    }

    /// The verdict on one observation at `now`: ECS's own word on the deployment first
    /// (rollback, someone else's, FAILED, stopped tasks), then the health of our tasks in
    /// every load balancer, placement, and completion.
    pub fn judge(&mut self, o: &Observed, w: &Watched, now: Instant) -> Judgement {
        let ours = match ecs_verdict(o, w, self.stop_threshold) {
            Ok(d) => d,
            Err(j) => return j,
        };
        let ours_running: Vec<&Task> = o
            .tasks
            .iter()
            .filter(|t| t.task_definition_arn == w.target && t.is_running())
            .collect();
        let (healthy, waiting) = match self.health(o, &ours_running, now) {
            Ok(h) => h,
            Err(j) => return j,
        };
        let overdue = self.overdue(&ours_running, &waiting, now);
        if let Some(j) = self.stalled(o.service, ours, healthy, now) {
            return j;
        }
        let others_running = o
            .tasks
            .iter()
            .filter(|t| t.task_definition_arn != w.target && !t.is_stopping())
            .count();
        let complete = match &ours.rollout_state {
            Some(state) => *state == RolloutState::Completed,
            None => o.service.deployments.len() == 1 && ours.running_count == ours.desired_count,
        };
        let progress = DeploymentProgress {
            running: ours_running.len(),
            desired: o.service.desired_count.max(0) as usize,
            healthy,
            old_tasks: others_running,
            old_targets: leftover_targets(o, &ours_running),
            rollout: ours.rollout_state.clone(),
            complete,
            lifecycle_stage: o.deployment.and_then(|d| d.lifecycle_stage.clone()),
            waiting: if waiting.len() <= 3 {
                waiting
            } else {
                Vec::new()
            },
        };
        if let Some((task, load_balancer, limit)) = overdue {
            return Judgement::Failed {
                cause: Failure::TimedOut {
                    waiting_for: Wait::TaskHealthy {
                        task,
                        load_balancer,
                    },
                    limit,
                    last: Some(Box::new(Progress::Deployment(progress))),
                },
                ecs_rollback: None,
            };
        }
        if complete
            && progress.running == progress.desired
            && healthy == progress.desired
            && progress.old_tasks == 0
            && progress.old_targets == 0
        {
            return Judgement::Done;
        }
        Judgement::Pending(progress)
    }

    /// How many of our running tasks are healthy in every load balancer, and which are not
    /// yet; a failure once one has failed its checks for longer than the grace period.
    // Err is the verdict that ends the look, not an error: built once per look at most.
    #[allow(clippy::result_large_err)]
    fn health(
        &mut self,
        o: &Observed,
        ours_running: &[&Task],
        now: Instant,
    ) -> Result<(usize, Vec<TargetWait>), Judgement> {
        let mut healthy = 0;
        let mut waiting = Vec::new();
        for t in ours_running {
            let mut all = true;
            for lb in o.health {
                let TargetLook {
                    state,
                    failing,
                    reason,
                    description,
                } = task_health(t, lb, o.instances);
                let key = format!("{}@{}", t.arn, lb.name());
                if failing {
                    let since = *self.unhealthy_since.entry(key).or_insert(now);
                    if now.duration_since(since) >= self.health_grace {
                        return Err(Judgement::Failed {
                            cause: Failure::HealthChecksFailed {
                                load_balancer: lb.name().to_string(),
                                target: t.arn.clone(),
                                state,
                                reason: reason.as_deref().map(Box::from),
                                description: description.as_deref().map(Box::from),
                                unhealthy_for: Some(now.duration_since(since)),
                            },
                            ecs_rollback: None,
                        });
                    }
                } else {
                    self.unhealthy_since.remove(&key);
                }
                if state != TargetHealthState::Healthy.as_str() {
                    all = false;
                    waiting.push(TargetWait {
                        task_arn: t.arn.clone(),
                        state,
                        load_balancer: lb.name().to_string(),
                    });
                }
            }
            if all {
                healthy += 1;
            }
        }
        Ok((healthy, waiting))
    }

    /// The first new task RUNNING for the health limit without being healthy everywhere:
    /// (task, a load balancer it is not healthy in, the limit). Notes when each task was first
    /// seen RUNNING and when the next limit passes.
    fn overdue(
        &mut self,
        ours_running: &[&Task],
        waiting: &[TargetWait],
        now: Instant,
    ) -> Option<(String, String, Duration)> {
        let limit = self.health_timeout?;
        self.running_since
            .retain(|arn, _| ours_running.iter().any(|t| &t.arn == arn));
        for t in ours_running {
            self.running_since.entry(t.arn.clone()).or_insert(now);
        }
        let unhealthy = |arn: &str| waiting.iter().find(|w| w.task_arn == arn);
        let mut due: Vec<(Instant, &TargetWait)> = self
            .running_since
            .iter()
            .filter_map(|(arn, since)| unhealthy(arn).map(|w| (*since + limit, w)))
            .collect();
        due.sort_by_key(|(at, w)| (*at, w.task_arn.clone()));
        self.health_due = due.first().map(|(at, _)| *at);
        due.into_iter()
            .find(|(at, _)| now >= *at)
            .map(|(_, w)| (w.task_arn.clone(), w.load_balancer.clone(), limit))
    }

    /// A failure when tasks cannot be placed and nothing moved for the placement grace.
    fn stalled(
        &mut self,
        svc: &Service,
        ours: &Deployment,
        healthy: usize,
        now: Instant,
    ) -> Option<Judgement> {
        let progress = (ours.running_count, healthy);
        if self.progress != Some(progress) {
            self.progress = Some(progress);
            self.progress_at = Some(now);
        }
        let stalled_for = now.duration_since(self.progress_at.unwrap_or(now));
        if ours.running_count >= ours.desired_count || stalled_for < self.placement_grace {
            return None;
        }
        let e = svc
            .events
            .iter()
            .find(|e| e.message.contains("unable to place a task"))?;
        Some(Judgement::Failed {
            cause: Failure::PlacementStalled {
                stalled_for,
                message: e.message.clone(),
            },
            ecs_rollback: None,
        })
    }
}

/// ECS's own word on our deployment: rolled back, replaced by someone else's, FAILED, or too
/// many of its new tasks stopped; otherwise our deployment, PRIMARY. (Err is that verdict,
/// not an error.)
#[allow(clippy::result_large_err)]
fn ecs_verdict<'a>(
    o: &Observed<'a>,
    w: &Watched,
    stop_threshold: usize,
) -> Result<&'a Deployment, Judgement> {
    let svc = o.service;
    let primary = svc
        .deployments
        .iter()
        .find(|d| d.status == DeploymentStatus::Primary);
    let ecs_rollback = primary
        .filter(|p| p.id != w.deployment_id && Some(p.task_definition.as_str()) == w.previous)
        .map(|p| p.id.clone());
    // A ROLLBACK_* status says ECS undoes the forward deployment; while watching a
    // rollback itself (no previous), the same record reports that rollback's progress.
    // Until ECS's rollback deployment shows (ROLLBACK_REQUESTED with ours still PRIMARY)
    // there is nothing to follow yet: look again rather than follow ours as if it were it.
    let rolling_back_by = ecs_rollback.clone().or_else(|| {
        primary
            .filter(|p| p.id != w.deployment_id)
            .map(|p| p.id.clone())
    });
    if let Some(sd) = o.deployment
        && sd.status.is_rollback()
        && w.previous.is_some()
        && rolling_back_by.is_some()
    {
        return Err(Judgement::Failed {
            cause: Failure::EcsRolledBack {
                deployment: w.deployment_id.to_string(),
                status: Some(sd.status.clone()),
                reason: sd.status_reason.clone(),
                primary: None,
                primary_revision: None,
                alarms: sd.triggered_alarms.clone(),
            },
            ecs_rollback: rolling_back_by,
        });
    }
    let ours = svc
        .deployments
        .iter()
        .find(|d| d.id == w.deployment_id && d.status == DeploymentStatus::Primary);
    let Some(ours) = ours else {
        let by = primary.map(|p| p.id.clone());
        let revision = primary.map(|p| short(&p.task_definition).to_string());
        if ecs_rollback.is_some() {
            return Err(Judgement::Failed {
                cause: Failure::EcsRolledBack {
                    deployment: w.deployment_id.to_string(),
                    status: None,
                    reason: None,
                    primary: by,
                    primary_revision: revision,
                    alarms: triggered(o),
                },
                ecs_rollback,
            });
        }
        return Err(Judgement::Superseded(Failure::Superseded {
            deployment: w.deployment_id.to_string(),
            by,
            revision,
        }));
    };
    if ours.rollout_state == Some(RolloutState::Failed) {
        return Err(Judgement::Failed {
            cause: Failure::DeploymentFailed {
                deployment: ours.id.clone(),
                reason: ours.rollout_state_reason.clone(),
                alarms: triggered(o),
            },
            ecs_rollback,
        });
    }
    if let Some(last) = o.stopped.last()
        && o.stopped.len() >= stop_threshold
    {
        return Err(Judgement::Failed {
            cause: Failure::TasksStopped {
                count: o.stopped.len(),
                last: StoppedTask::of(last),
            },
            ecs_rollback: None,
        });
    }
    Ok(ours)
}

/// The deployment alarms DescribeServiceDeployments says went into ALARM, where it answers.
fn triggered(o: &Observed) -> Vec<String> {
    o.deployment
        .map(|d| d.triggered_alarms.clone())
        .unwrap_or_default()
}

/// The task's state in one load balancer, and whether it counts as failing health checks.
/// How one task looks to one load balancer, with the load balancer's reason (a reason code
/// such as `Target.ResponseCodeMismatch`, and its description) kept as evidence.
struct TargetLook {
    state: String,
    failing: bool,
    reason: Option<String>,
    description: Option<String>,
}

impl TargetLook {
    fn plain(state: impl Into<String>) -> TargetLook {
        TargetLook {
            state: state.into(),
            failing: false,
            reason: None,
            description: None,
        }
    }
}

fn task_health(t: &Task, lb: &LbHealth, instances: &[ContainerInstance]) -> TargetLook {
    let ec2 = t
        .container_instance_arn
        .as_deref()
        .and_then(|arn| instances.iter().find(|i| i.arn == arn))
        .map(|i| i.ec2_instance_id.as_str());
    match lb {
        LbHealth::TargetGroup {
            target_type,
            container_name,
            container_port,
            targets,
            ..
        } => {
            let (id, port) = target_of(
                t,
                target_type,
                container_name.as_deref(),
                *container_port,
                ec2,
            );
            match targets.iter().find(|x| {
                Some(x.id.as_str()) == id.as_deref() && (port.is_none() || x.port == port)
            }) {
                Some(x) => TargetLook {
                    state: x.state.to_string(),
                    failing: x.state == TargetHealthState::Unhealthy,
                    reason: x.reason.clone(),
                    description: x.description.clone(),
                },
                None => TargetLook::plain("not registered"),
            }
        }
        LbHealth::Classic { health, .. } => {
            match ec2.and_then(|id| health.iter().find(|h| h.instance_id == id)) {
                Some(h) if h.state == HealthState::InService => {
                    TargetLook::plain(TargetHealthState::Healthy.to_string())
                }
                Some(h) => TargetLook {
                    state: h.state.to_string(),
                    failing: h
                        .description
                        .as_deref()
                        .is_some_and(|d| d.contains("UnhealthyThreshold")),
                    reason: h.reason_code.clone(),
                    description: h.description.clone(),
                },
                None => TargetLook::plain("not registered"),
            }
        }
    }
}

/// The target a task is registered as: (instance id, host port) or (IP, container port).
fn target_of(
    t: &Task,
    target_type: &str,
    container: Option<&str>,
    port: Option<u16>,
    ec2: Option<&str>,
) -> (Option<String>, Option<u16>) {
    if target_type == "ip" {
        return (t.private_ipv4.clone(), port);
    }
    let binding = t.network_bindings.iter().find(|b| {
        container.is_none_or(|c| c == b.container_name)
            && port.is_none_or(|p| p == b.container_port)
    });
    (ec2.map(String::from), binding.map(|b| b.host_port).or(port))
}

/// Targets (or registered instances) that belong to none of our running tasks: old tasks
/// still registered or draining.
fn leftover_targets(o: &Observed, ours: &[&Task]) -> usize {
    o.health
        .iter()
        .map(|lb| match lb {
            LbHealth::TargetGroup {
                target_type,
                container_name,
                container_port,
                targets,
                ..
            } => {
                let mine: Vec<(Option<String>, Option<u16>)> = ours
                    .iter()
                    .map(|t| {
                        let ec2 = t
                            .container_instance_arn
                            .as_deref()
                            .and_then(|arn| o.instances.iter().find(|i| i.arn == arn))
                            .map(|i| i.ec2_instance_id.as_str());
                        target_of(
                            t,
                            target_type,
                            container_name.as_deref(),
                            *container_port,
                            ec2,
                        )
                    })
                    .collect();
                targets
                    .iter()
                    .filter(|x| {
                        !mine.iter().any(|(id, p)| {
                            id.as_deref() == Some(x.id.as_str()) && (p.is_none() || *p == x.port)
                        })
                    })
                    .count()
            }
            LbHealth::Classic { health, .. } => {
                let mine: Vec<&str> = ours
                    .iter()
                    .filter_map(|t| t.container_instance_arn.as_deref())
                    .filter_map(|arn| o.instances.iter().find(|i| i.arn == arn))
                    .map(|i| i.ec2_instance_id.as_str())
                    .collect();
                health
                    .iter()
                    .filter(|h| !mine.contains(&h.instance_id.as_str()))
                    .count()
            }
        })
        .sum()
}

use crate::platform::short;

/// Our deployment among the service's: the PRIMARY one running `target` (right after
/// UpdateService).
pub fn find_ours<'a>(service: &'a Service, target: &str) -> Option<&'a Deployment> {
    service
        .deployments
        .iter()
        .find(|d| d.status == DeploymentStatus::Primary && d.task_definition == target)
}

#[cfg(test)]
mod tests;
