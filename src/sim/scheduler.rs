//! The ECS service scheduler, run by `World::settle` at every instant something changes.
//!
//! At each instant, for each service and until nothing more changes:
//! 1. follow its tasks: register those that turned RUNNING with the load balancers, note
//!    those that became healthy, replace those a load balancer found unhealthy, and account
//!    for those that stopped on their own (a task that stops before it was ever healthy is a
//!    failed task of its deployment);
//! 2. trip the deployment circuit breaker, or fail on a deployment alarm in ALARM, rolling
//!    back if configured;
//! 3. move the PRIMARY deployment along: ROLLING within maximumPercent/minimumHealthyPercent,
//!    or through the BLUE_GREEN stages;
//! 4. declare the deployment completed, and the service steady.
//!
//! A task the scheduler stops is deregistered first and stays DEACTIVATING until its load
//! balancers are done draining it, then gets SIGTERM: ECS's order, so requests are not cut.

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::deployment::{Rollout, Stage, Strategy};
use super::placement::Unplaceable;
use super::service::{Attachment, LoadBalancerRef, ServiceRecord, ServiceTask, UNABLE_EVERY};
use super::target_group::TargetType;
use super::task::TaskRecord;
use super::world::World;
use crate::platform::BreakerThreshold;

/// More passes than this at one instant means the scheduler is going round in circles.
const PASSES_PER_INSTANT: usize = 32;

pub const CIRCUIT_BREAKER_REASON: &str = "ECS deployment circuit breaker: tasks failed to start.";
/// How long ECS shows a stopped deployment as ROLLBACK_REQUESTED, still PRIMARY, before its
/// rollback deployment starts.
pub const STOP_TAKES: std::time::Duration = std::time::Duration::from_secs(3);
/// The reason of a deployment rolled back by StopServiceDeployment.
pub const STOP_REQUEST_REASON: &str =
    "Service deployment rolled back by a StopServiceDeployment request.";

/// Why ECS fails a deployment: its rolloutStateReason, the service event's words, and the
/// alarms that triggered it.
struct Failure {
    reason: String,
    event: String,
    alarms: Vec<String>,
}

/// Events of one pass, grouped the way ECS words them.
#[derive(Debug, Default)]
pub(crate) struct Notes {
    first: Vec<String>,
    stopped: Vec<String>,
    draining: usize,
    deregistered: BTreeMap<String, usize>,
    started: Vec<String>,
    registered: BTreeMap<String, usize>,
    last: Vec<String>,
}

fn short(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

fn tasks_list(arns: &[String]) -> String {
    arns.iter()
        .map(|a| format!("(task {})", short(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a load balancer calls a task: (instance id, host port) or (address, container port);
/// a classic load balancer only knows the instance.
pub(crate) fn endpoint(w: &World, a: &Attachment, task: &TaskRecord) -> Option<(String, u16)> {
    match &a.load_balancer {
        LoadBalancerRef::TargetGroup(arn) => match w.target_groups.get(arn)?.spec.target_type {
            TargetType::Instance => Some((
                task.ec2_instance_id.clone()?,
                task.host_port_of(&a.container, a.container_port)?,
            )),
            TargetType::Ip => Some((task.private_ipv4.clone()?, a.container_port)),
        },
        LoadBalancerRef::Classic(_) => Some((task.ec2_instance_id.clone()?, 0)),
    }
}

impl World {
    pub(crate) fn run_service_schedulers(&mut self, t: Instant) {
        if self.services.is_empty() {
            return;
        }
        let mut services = std::mem::take(&mut self.services);
        for svc in services.values_mut() {
            for _ in 0..PASSES_PER_INSTANT {
                if !self.reconcile(svc, t) {
                    break;
                }
            }
        }
        self.services = services;
    }

    /// One pass; true when it changed something (another pass may then have more to do).
    fn reconcile(&mut self, svc: &mut ServiceRecord, t: Instant) -> bool {
        let mut notes = Notes::default();
        let mut changed = self.follow_tasks(svc, t, &mut notes);
        changed |= self.stop_request(svc, t, &mut notes);
        changed |= self.circuit_breaker(svc, t, &mut notes);
        changed |= self.alarms(svc, t, &mut notes);
        let p = svc.primary();
        changed |= match (p.strategy, p.rollout) {
            (Strategy::BlueGreen { bake, shifting }, Rollout::InProgress) => {
                self.blue_green(svc, t, bake, shifting, &mut notes)
            }
            // Without rollback a tripped circuit breaker leaves everything as it is.
            (_, Rollout::Failed) => false,
            _ => self.rolling(svc, t, &mut notes),
        };
        changed |= self.completion(svc, t, &mut notes);
        self.publish(svc, t, notes);
        changed
    }

    // ---- 1. following tasks ------------------------------------------------------------

    /// Healthy in every load balancer of the service (RUNNING, when it has none).
    pub(crate) fn is_healthy(&self, svc: &ServiceRecord, task: &TaskRecord, t: Instant) -> bool {
        task.is_running(t)
            && svc.load_balancers.iter().all(|a| {
                endpoint(self, a, task).is_some_and(|(id, port)| match &a.load_balancer {
                    LoadBalancerRef::TargetGroup(arn) => {
                        self.target_groups[arn].is_healthy(&id, port)
                    }
                    LoadBalancerRef::Classic(name) => self.load_balancers[name].is_in_service(&id),
                })
            })
    }

    /// The first load balancer that found the task unhealthy, with the event it gives.
    fn unhealthy_in(&self, svc: &ServiceRecord, task: &TaskRecord) -> Option<(String, String)> {
        svc.load_balancers.iter().find_map(|a| {
            let (id, port) = endpoint(self, a, task)?;
            let label = a.label();
            match &a.load_balancer {
                LoadBalancerRef::TargetGroup(arn) => {
                    self.target_groups[arn].is_unhealthy(&id, port).then(|| {
                        let who = match task.private_ipv4.as_ref().filter(|ip| **ip == id) {
                            Some(_) => format!("(task {})", short(&task.arn)),
                            None => format!("(instance {id})"),
                        };
                        let event = format!(
                            "{who} (port {port}) is unhealthy in {label} due to (reason Health checks failed)."
                        );
                        (label, event)
                    })
                }
                LoadBalancerRef::Classic(name) => self.load_balancers[name]
                    .is_unhealthy(&id)
                    .then(|| {
                        let event = format!(
                            "(instance {id}) is unhealthy in {label} due to (reason Instance has failed at least the UnhealthyThreshold number of health checks consecutively.)"
                        );
                        (label, event)
                    }),
            }
        })
    }

    fn register(&mut self, svc: &ServiceRecord, index: usize, t: Instant, notes: &mut Notes) {
        for a in &svc.load_balancers {
            let Some((id, port)) = endpoint(self, a, &self.tasks[index]) else {
                continue;
            };
            match &a.load_balancer {
                LoadBalancerRef::TargetGroup(arn) => {
                    if let Some(tg) = self.target_groups.get_mut(arn) {
                        tg.register(&id, port, t);
                    }
                }
                LoadBalancerRef::Classic(name) => {
                    let zone = self
                        .availability_zone_of(&id)
                        .unwrap_or_default()
                        .to_string();
                    if let Some(lb) = self.load_balancers.get_mut(name) {
                        lb.register(&id, &zone, t);
                    }
                }
            }
            *notes.registered.entry(a.label()).or_default() += 1;
        }
    }

    /// Deregisters the task everywhere; returns when every load balancer is done draining it.
    pub(crate) fn deregister(
        &mut self,
        svc: &ServiceRecord,
        index: usize,
        t: Instant,
        notes: &mut Notes,
    ) -> Instant {
        let mut drained = t;
        for a in &svc.load_balancers {
            let Some((id, port)) = endpoint(self, a, &self.tasks[index]) else {
                continue;
            };
            let left = match &a.load_balancer {
                LoadBalancerRef::TargetGroup(arn) => {
                    let drain = self
                        .timings
                        .drain_time(self.target_groups[arn].spec.deregistration_delay);
                    self.target_groups.get_mut(arn).map_or(t, |tg| {
                        let unserved = self.timings.unserved_targets_show_draining;
                        tg.deregister(&id, port, t, drain, unserved)
                    })
                }
                LoadBalancerRef::Classic(name) => {
                    let drain = self.load_balancers[name].drain_time(&self.timings);
                    self.load_balancers
                        .get_mut(name)
                        .map_or(t, |lb| lb.deregister(&id, t, drain))
                }
            };
            drained = drained.max(left);
            *notes.deregistered.entry(a.label()).or_default() += 1;
        }
        drained
    }

    /// Stops one of the service's tasks the way ECS does: deregister, drain, then SIGTERM.
    pub(crate) fn retire(
        &mut self,
        svc: &mut ServiceRecord,
        k: usize,
        t: Instant,
        reason: &str,
        notes: &mut Notes,
    ) {
        let index = svc.tasks[k].index;
        let drained = if svc.tasks[k].registered {
            svc.tasks[k].registered = false;
            self.deregister(svc, index, t, notes)
        } else {
            t
        };
        if drained > t {
            notes.draining += 1;
        }
        let shutdown = self.timings.task_stop;
        self.tasks[index].deactivate(t, drained, shutdown, reason);
        svc.tasks[k].stop_seen = true;
        notes.stopped.push(self.tasks[index].arn.clone());
    }

    /// Whether the deployment's tasks go into the load balancers once RUNNING: always, except
    /// green tasks of a blue/green deployment before its test traffic shift.
    fn registers(svc: &ServiceRecord, deployment: &str) -> bool {
        svc.deployments.iter().any(|d| {
            d.id == deployment
                && !(d.rollout == Rollout::InProgress && d.stage == Some(Stage::ScaleUp))
        })
    }

    fn follow_tasks(&mut self, svc: &mut ServiceRecord, t: Instant, notes: &mut Notes) -> bool {
        let mut changed = false;
        for k in 0..svc.tasks.len() {
            let st = svc.tasks[k].clone();
            if st.stop_seen {
                continue;
            }
            let task = &self.tasks[st.index];
            if task.stop_requested(t) {
                // It crashed, never started, or someone called StopTask: take it out of the
                // load balancers, and count it against its deployment if it never served.
                svc.tasks[k].stop_seen = true;
                if st.registered {
                    svc.tasks[k].registered = false;
                    self.deregister(svc, st.index, t, notes);
                }
                if !st.healthy_once
                    && let Some(d) = svc.deployment_mut(&st.deployment)
                {
                    d.failed_tasks += 1;
                    d.updated_at = t;
                }
                changed = true;
                continue;
            }
            if !st.healthy_once && self.is_healthy(svc, task, t) {
                svc.tasks[k].healthy_once = true;
                changed = true;
            }
            let past_grace = task.running_at().is_some_and(|r| t >= r + svc.grace);
            if task.is_running(t)
                && !st.registered
                && !st.withdrawn
                && Self::registers(svc, &st.deployment)
            {
                self.register(svc, st.index, t, notes);
                svc.tasks[k].registered = true;
                changed = true;
            }
            let unhealthy = st
                .registered
                .then(|| self.unhealthy_in(svc, &self.tasks[st.index]))
                .flatten();
            if past_grace && let Some((label, event)) = unhealthy {
                notes.first.push(event);
                let reason = format!("Task failed ELB health checks in {label}");
                self.retire(svc, k, t, &reason, notes);
                if !st.healthy_once
                    && let Some(d) = svc.deployment_mut(&st.deployment)
                {
                    d.failed_tasks += 1;
                    d.updated_at = t;
                }
                changed = true;
            }
        }
        changed
    }

    // ---- 2. what fails a deployment: a stop request, the circuit breaker, alarms ---------

    /// StopServiceDeployment (stopType ROLLBACK): rolls back whatever the configuration says.
    fn stop_request(&mut self, svc: &mut ServiceRecord, t: Instant, notes: &mut Notes) -> bool {
        let p = svc.primary();
        let taken = p.stop_requested.is_some_and(|at| t >= at + STOP_TAKES);
        if !taken || p.rollout != Rollout::InProgress {
            return false;
        }
        let failure = Failure {
            reason: STOP_REQUEST_REASON.into(),
            event: "deployment stopped by a StopServiceDeployment request.".into(),
            alarms: Vec::new(),
        };
        self.fail_primary(svc, t, failure, true, notes);
        true
    }

    fn circuit_breaker(&mut self, svc: &mut ServiceRecord, t: Instant, notes: &mut Notes) -> bool {
        let Some((true, rollback)) = svc.config.circuit_breaker else {
            return false;
        };
        let threshold = svc
            .config
            .breaker_threshold
            .unwrap_or(BreakerThreshold::DEFAULT)
            .failed_tasks(svc.desired as i64);
        let p = svc.primary();
        if p.rollout != Rollout::InProgress || p.failed_tasks < threshold {
            return false;
        }
        let failure = Failure {
            reason: CIRCUIT_BREAKER_REASON.into(),
            event: "deployment failed: tasks failed to start.".into(),
            alarms: Vec::new(),
        };
        self.fail_primary(svc, t, failure, rollback, notes);
        true
    }

    /// Deployment alarms: an alarm the service's deploymentConfiguration names that went into
    /// ALARM during the deployment fails it. One already in ALARM when the deployment started
    /// is not monitored for it, as ECS does.
    fn alarms(&mut self, svc: &mut ServiceRecord, t: Instant, notes: &mut Notes) -> bool {
        let Some((names, true, rollback)) = svc.config.alarms.clone() else {
            return false;
        };
        let p = svc.primary();
        if p.rollout != Rollout::InProgress || p.rollback_of.is_some() {
            return false;
        }
        let firing_at_start = super::alarms::in_alarm(self, &names, p.created_at);
        let triggered: Vec<String> = super::alarms::in_alarm(self, &names, t)
            .into_iter()
            .filter(|n| !firing_at_start.contains(n))
            .collect();
        if triggered.is_empty() {
            return false;
        }
        let list = triggered.join(", ");
        let failure = Failure {
            reason: format!("ECS deployment alarm(s) [{list}] went into ALARM state."),
            event: format!("deployment failed: alarm(s) [{list}] detected."),
            alarms: triggered,
        };
        self.fail_primary(svc, t, failure, rollback, notes);
        true
    }

    /// Marks the PRIMARY deployment FAILED and, with `rollback`, starts ECS's rollback to the
    /// last steady revision.
    fn fail_primary(
        &mut self,
        svc: &mut ServiceRecord,
        t: Instant,
        failure: Failure,
        rollback: bool,
        notes: &mut Notes,
    ) {
        let p = svc.primary_mut();
        p.rollout = Rollout::Failed;
        p.reason = Some(failure.reason);
        p.triggered_alarms = failure.alarms;
        p.updated_at = t;
        let (failed, failed_td) = (p.id.clone(), p.task_definition.clone());
        notes
            .last
            .push(format!("(deployment {failed}) {}", failure.event));
        let back_to = svc.steady_task_definition.clone();
        if rollback && back_to != failed_td {
            let id = svc.deploy(self, &back_to, t, Some(&failed));
            if let Some(d) = svc.deployment_mut(&failed) {
                d.rolled_back_by = Some(id.clone());
            }
            adopt(svc, &id, &back_to, t);
            notes.last.push(format!("rolling back to deployment {id}."));
        }
    }

    // ---- 3. moving the PRIMARY along: `rolling_update`, `blue_green` ---------------------

    /// Starts one task of `deployment`; false (after an event, at most once a minute) when
    /// there is no room for it.
    pub(crate) fn start_for(
        &mut self,
        svc: &mut ServiceRecord,
        deployment: &str,
        t: Instant,
        notes: &mut Notes,
    ) -> bool {
        match self.place_and_launch(svc, deployment, t, false) {
            Ok(index) => {
                notes.started.push(self.tasks[index].arn.clone());
                svc.tasks.push(ServiceTask {
                    index,
                    deployment: deployment.to_string(),
                    registered: false,
                    withdrawn: false,
                    healthy_once: false,
                    stop_seen: false,
                });
                true
            }
            Err(Unplaceable(why)) => {
                svc.placement_failed_at = Some(t);
                if svc.last_unable.is_none_or(|at| t >= at + UNABLE_EVERY) {
                    svc.last_unable = Some(t);
                    notes.first.push(why);
                }
                false
            }
        }
    }

    // ---- 4. completion -----------------------------------------------------------------

    fn completion(&mut self, svc: &mut ServiceRecord, t: Instant, notes: &mut Notes) -> bool {
        let primary = svc.primary().id.clone();
        let (mut live, mut healthy, mut others_left) = (0, 0, false);
        for st in &svc.tasks {
            let task = &self.tasks[st.index];
            if st.deployment == primary {
                if !task.stop_requested(t) {
                    live += 1;
                    healthy += usize::from(self.is_healthy(svc, task, t));
                }
            } else if !task.is_stopped(t) {
                others_left = true;
            }
        }
        let settled = live == svc.desired && healthy == svc.desired && !others_left;
        let p = svc.primary();
        let done_staging = p.stage.is_none_or(|s| s == Stage::CleanUp);
        let mut changed = false;
        if p.rollout == Rollout::InProgress && settled && done_staging {
            let p = svc.primary_mut();
            p.rollout = Rollout::Completed;
            p.updated_at = t;
            svc.steady_task_definition = p.task_definition.clone();
            svc.retire_others(t);
            notes
                .last
                .push(format!("(deployment {primary}) deployment completed."));
            changed = true;
        }
        let steady =
            svc.primary().rollout == Rollout::Completed && svc.deployments.len() == 1 && settled;
        if steady && !svc.steady {
            notes.last.push("has reached a steady state.".into());
        }
        svc.steady = steady;
        changed
    }

    fn publish(&mut self, svc: &mut ServiceRecord, t: Instant, notes: Notes) {
        let mut messages = notes.first;
        if !notes.stopped.is_empty() {
            messages.push(format!(
                "has stopped {} running tasks: {}.",
                notes.stopped.len(),
                tasks_list(&notes.stopped)
            ));
        }
        if notes.draining > 0 {
            messages.push(format!(
                "has begun draining connections on {} tasks.",
                notes.draining
            ));
        }
        for (label, n) in notes.deregistered {
            let what = if label.starts_with("(elb") {
                "instances"
            } else {
                "targets"
            };
            messages.push(format!("deregistered {n} {what} in {label}"));
        }
        if !notes.started.is_empty() {
            messages.push(format!(
                "has started {} tasks: {}.",
                notes.started.len(),
                tasks_list(&notes.started)
            ));
        }
        for (label, n) in notes.registered {
            let what = if label.starts_with("(elb") {
                "instances"
            } else {
                "targets"
            };
            messages.push(format!("registered {n} {what} in {label}"));
        }
        messages.extend(notes.last);
        for message in messages {
            svc.push_event(self, t, message);
        }
    }
}

/// A rollback takes over the live tasks of deployments running the revision it returns to,
/// rather than replacing healthy tasks with identical ones; those deployments leave.
fn adopt(svc: &mut ServiceRecord, rollback: &str, task_definition: &str, t: Instant) {
    let adopted: Vec<String> = svc
        .deployments
        .iter()
        .filter(|d| d.id != rollback && d.task_definition == task_definition)
        .map(|d| d.id.clone())
        .collect();
    for st in svc
        .tasks
        .iter_mut()
        .filter(|st| adopted.contains(&st.deployment))
    {
        st.deployment = rollback.to_string();
        st.withdrawn = false;
    }
    let (keep, gone): (Vec<_>, Vec<_>) = std::mem::take(&mut svc.deployments)
        .into_iter()
        .partition(|d| !adopted.contains(&d.id));
    svc.deployments = keep;
    for mut d in gone {
        d.status = "INACTIVE";
        d.updated_at = t;
        svc.history.push(d);
    }
}
