//! Judging one observation of a service deployment: done, still going, or failed (and
//! whether ECS is already rolling back). A pure function of what was observed plus the
//! instants progress was last seen, so it is table-tested with explicit times.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::platform::{
    ContainerInstance, Deployment, HealthState, InstanceHealth, Service, ServiceDeployment,
    TargetHealth, Task,
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
    Pending(String),
    Failed {
        reason: String,
        ecs_rollback: Option<String>,
    },
    /// Someone else's deployment replaced ours: rolling back would fight them.
    Superseded(String),
}

/// Remembers when progress was last made and since when targets are unhealthy.
#[derive(Debug, Clone)]
pub struct Tracker {
    pub placement_grace: Duration,
    pub health_grace: Duration,
    /// Stops of new tasks that make a deploy fail.
    pub stop_threshold: usize,
    progress: Option<(i64, usize)>,
    progress_at: Option<Instant>,
    unhealthy_since: HashMap<String, Instant>,
}

impl Tracker {
    pub fn new(placement_grace: Duration, health_grace: Duration, desired: i64) -> Tracker {
        Tracker {
            placement_grace,
            health_grace,
            stop_threshold: if desired <= 1 { 1 } else { 2 },
            progress: None,
            progress_at: None,
            unhealthy_since: HashMap::new(),
        }
    }

    pub fn judge(&mut self, o: &Observed, w: &Watched, now: Instant) -> Judgement {
        let svc = o.service;
        let ours = svc.deployments.iter().find(|d| d.id == w.deployment_id);
        let primary = svc.deployments.iter().find(|d| d.status == "PRIMARY");
        let ecs_rollback = primary
            .filter(|p| p.id != w.deployment_id && Some(p.task_definition.as_str()) == w.previous)
            .map(|p| p.id.clone());
        // A ROLLBACK_* status says ECS undoes the forward deployment; while watching a
        // rollback itself (no previous), the same record reports that rollback's progress.
        if let Some(sd) = o.deployment
            && sd.status.starts_with("ROLLBACK")
            && w.previous.is_some()
        {
            return Judgement::Failed {
                reason: format!(
                    "ECS is rolling the deployment back ({}): {}",
                    sd.status,
                    sd.status_reason.as_deref().unwrap_or("no reason given")
                ),
                ecs_rollback: ecs_rollback.or_else(|| primary.map(|p| p.id.clone())),
            };
        }
        let Some(ours) = ours.filter(|d| d.status == "PRIMARY") else {
            let by = primary.map_or("no deployment".to_string(), |p| {
                format!("deployment {} of {}", p.id, short(&p.task_definition))
            });
            if ecs_rollback.is_some() {
                let reason = format!(
                    "ECS rolled our deployment {} back: {by} is now primary",
                    w.deployment_id
                );
                return Judgement::Failed {
                    reason,
                    ecs_rollback,
                };
            }
            return Judgement::Superseded(format!(
                "our deployment {} was replaced by {by}, started by someone else",
                w.deployment_id
            ));
        };
        if ours.rollout_state.as_deref() == Some("FAILED") {
            return Judgement::Failed {
                reason: format!(
                    "ECS marked the deployment FAILED: {}",
                    ours.rollout_state_reason
                        .as_deref()
                        .unwrap_or("no reason given")
                ),
                ecs_rollback,
            };
        }
        if o.stopped.len() >= self.stop_threshold {
            let last = &o.stopped[o.stopped.len() - 1];
            return Judgement::Failed {
                reason: format!(
                    "{} new task(s) stopped; the last: {}",
                    o.stopped.len(),
                    last.stop_explanation()
                ),
                ecs_rollback: None,
            };
        }

        let ours_running: Vec<&Task> = o
            .tasks
            .iter()
            .filter(|t| t.task_definition_arn == w.target && t.is_running())
            .collect();
        let mut healthy = 0;
        let mut waiting = Vec::new();
        for t in &ours_running {
            let mut all = true;
            for lb in o.health {
                let (state, failing) = task_health(t, lb, o.instances);
                let key = format!("{}@{}", t.arn, lb.name());
                if failing {
                    let since = *self.unhealthy_since.entry(key).or_insert(now);
                    if now.duration_since(since) >= self.health_grace {
                        return Judgement::Failed {
                            reason: format!(
                                "task {} has been unhealthy in {} for {}s: {state}",
                                short(&t.arn),
                                lb.name(),
                                now.duration_since(since).as_secs()
                            ),
                            ecs_rollback: None,
                        };
                    }
                } else {
                    self.unhealthy_since.remove(&key);
                }
                if state != "healthy" {
                    all = false;
                    waiting.push(format!("{} {state} in {}", short(&t.arn), lb.name()));
                }
            }
            if all {
                healthy += 1;
            }
        }

        let progress = (ours.running_count, healthy);
        if self.progress != Some(progress) {
            self.progress = Some(progress);
            self.progress_at = Some(now);
        }
        let stalled_for = now.duration_since(self.progress_at.unwrap_or(now));
        if ours.running_count < ours.desired_count
            && stalled_for >= self.placement_grace
            && let Some(e) = svc
                .events
                .iter()
                .find(|e| e.message.contains("unable to place a task"))
        {
            return Judgement::Failed {
                reason: format!(
                    "no progress for {}s while tasks cannot be placed: {}",
                    stalled_for.as_secs(),
                    e.message
                ),
                ecs_rollback: None,
            };
        }

        let others_running = o
            .tasks
            .iter()
            .filter(|t| t.task_definition_arn != w.target && !t.is_stopping())
            .count();
        let leftover_targets = leftover_targets(o, &ours_running);
        let complete = match ours.rollout_state.as_deref() {
            Some(state) => state == "COMPLETED",
            None => svc.deployments.len() == 1 && ours.running_count == ours.desired_count,
        };
        let desired = svc.desired_count.max(0) as usize;
        if complete
            && ours_running.len() == desired
            && healthy == desired
            && others_running == 0
            && leftover_targets == 0
        {
            return Judgement::Done;
        }
        let mut detail = format!(
            "new {}/{desired} running, {healthy} healthy; old tasks {others_running}; old targets {leftover_targets}; rollout {}",
            ours_running.len(),
            ours.rollout_state.as_deref().unwrap_or(if complete {
                "complete"
            } else {
                "in progress"
            })
        );
        if let Some(stage) = o.deployment.and_then(|d| d.lifecycle_stage.as_deref()) {
            detail.push_str(&format!("; stage {stage}"));
        }
        if !waiting.is_empty() && waiting.len() <= 3 {
            detail.push_str(&format!(" ({})", waiting.join(", ")));
        }
        Judgement::Pending(detail)
    }
}

/// The task's state in one load balancer, and whether it counts as failing health checks.
fn task_health(t: &Task, lb: &LbHealth, instances: &[ContainerInstance]) -> (String, bool) {
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
                Some(x) => (x.state.clone(), x.state == "unhealthy"),
                None => ("not registered".into(), false),
            }
        }
        LbHealth::Classic { health, .. } => {
            match ec2.and_then(|id| health.iter().find(|h| h.instance_id == id)) {
                Some(h) if h.state == HealthState::InService => ("healthy".into(), false),
                Some(h) => {
                    let failing = h
                        .description
                        .as_deref()
                        .is_some_and(|d| d.contains("UnhealthyThreshold"));
                    (format!("{}", h.state), failing)
                }
                None => ("not registered".into(), false),
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

fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Our deployment among the service's: the PRIMARY one running `target` (right after
/// UpdateService).
pub fn find_ours<'a>(service: &'a Service, target: &str) -> Option<&'a Deployment> {
    service
        .deployments
        .iter()
        .find(|d| d.status == "PRIMARY" && d.task_definition == target)
}

#[cfg(test)]
mod tests;
