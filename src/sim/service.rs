//! ECS services: what DescribeServices shows (deployments, counts, load balancers, events) and
//! what UpdateService changes. The scheduler that moves deployments along is in `scheduler`.
//!
//! A deployment owns the tasks it started (their `startedBy` is its id). UpdateService with a
//! new task definition makes a new PRIMARY deployment and the old PRIMARY ACTIVE; once the
//! PRIMARY runs the desired count healthy and the others' tasks are gone it is COMPLETED and
//! the others become INACTIVE (kept for DescribeServiceDeployments).

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::deployment::{DeploymentRecord, Rollout, Stage, Strategy};
use super::placement::LaunchType;
use super::task::TaskRecord;
use super::task_definition::is_active;
use super::world::{ACCOUNT, Fail, REGION, World, wall_clock};
use crate::platform::{
    Deployment, DeploymentConfiguration, Service, ServiceEvent, ServiceLoadBalancer, ServiceUpdate,
};

/// ECS returns this many events, newest first.
const EVENTS_SHOWN: usize = 100;

/// A deployment configuration as UpdateService or the console sets it: rolling, with these
/// percentages, circuit breaker off.
pub fn deployment_configuration(
    maximum_percent: i64,
    minimum_healthy_percent: i64,
) -> DeploymentConfiguration {
    DeploymentConfiguration {
        maximum_percent: Some(maximum_percent),
        minimum_healthy_percent: Some(minimum_healthy_percent),
        circuit_breaker: Some((false, false)),
        strategy: Some("ROLLING".into()),
        bake_time_minutes: None,
        alarms: None,
        ..DeploymentConfiguration::default()
    }
}

/// A service for `SimBuilder::service`, started steady: `desired` tasks RUNNING and healthy
/// in its load balancers at build time.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    pub desired: usize,
    pub launch_type: LaunchType,
    /// Registered at build time, after the builder's `task_definition`s.
    pub task_definition: Value,
    /// A target group declared with `SimBuilder::target_group`, by name.
    pub target_group: Option<String>,
    /// A classic load balancer declared with `SimBuilder::elb`, by name. ECS registers the
    /// instances of the service's tasks with it (instances of no task are left out).
    pub elb: Option<String>,
    /// The container and port the load balancers send to (default: the first port mapping).
    pub container: Option<(String, u16)>,
    /// Default: 200/100 rolling, circuit breaker off.
    pub deployment_configuration: DeploymentConfiguration,
    /// ECS, CODE_DEPLOY or EXTERNAL; the latter two refuse new task definitions.
    pub deployment_controller: String,
    /// How long ECS ignores failing load-balancer health checks of a task after it starts.
    pub health_check_grace_period: Duration,
    /// Its subnets, security groups and platform version, which one-off tasks copy.
    pub placement: crate::platform::ServicePlacement,
    /// The target group's `advancedConfiguration`; an alternate target group given by the
    /// name of one declared with `SimBuilder::target_group` stands for its ARN.
    pub advanced: Option<crate::platform::AdvancedConfiguration>,
}

impl Default for ServiceSpec {
    fn default() -> Self {
        ServiceSpec {
            desired: 1,
            launch_type: LaunchType::Ec2,
            task_definition: Value::Null,
            target_group: None,
            elb: None,
            container: None,
            deployment_configuration: deployment_configuration(200, 100),
            deployment_controller: "ECS".into(),
            placement: Default::default(),
            health_check_grace_period: Duration::ZERO,
            advanced: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LoadBalancerRef {
    /// By ARN.
    TargetGroup(String),
    /// A classic load balancer, by name.
    Classic(String),
}

/// One of the service's `loadBalancers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attachment {
    pub load_balancer: LoadBalancerRef,
    pub container: String,
    pub container_port: u16,
    pub advanced: Option<crate::platform::AdvancedConfiguration>,
}

impl Attachment {
    /// How events name it: `(target-group ARN)` or `(elb NAME)`.
    pub fn label(&self) -> String {
        match &self.load_balancer {
            LoadBalancerRef::TargetGroup(arn) => format!("(target-group {arn})"),
            LoadBalancerRef::Classic(name) => format!("(elb {name})"),
        }
    }
}

/// The scheduler's bookkeeping for one task it started.
#[derive(Debug, Clone)]
pub(crate) struct ServiceTask {
    /// Index in `World::tasks`.
    pub index: usize,
    pub deployment: String,
    /// Registered with the service's load balancers (and not deregistered since).
    pub registered: bool,
    /// Deregistered on purpose while still running (blue tasks after a traffic shift): never
    /// registered again unless a rollback takes it back.
    pub withdrawn: bool,
    /// Healthy at least once; a task stopping before that is a failed task.
    pub healthy_once: bool,
    /// The scheduler has seen it stop (or stopped it).
    pub stop_seen: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct ServiceRecord {
    pub arn: String,
    pub name: String,
    pub cluster: String,
    pub desired: usize,
    pub launch_type: LaunchType,
    /// Its network configuration and platform version, as given (ECS does not check them).
    pub placement: crate::platform::ServicePlacement,
    pub controller: String,
    pub config: DeploymentConfiguration,
    pub load_balancers: Vec<Attachment>,
    pub grace: Duration,
    /// PRIMARY first, then ACTIVE ones, newest first.
    pub deployments: Vec<DeploymentRecord>,
    /// INACTIVE deployments, oldest first.
    pub history: Vec<DeploymentRecord>,
    /// Oldest first.
    pub events: Vec<ServiceEvent>,
    pub tasks: Vec<ServiceTask>,
    /// The task definition of the last deployment that completed: where a rollback goes.
    pub steady_task_definition: String,
    pub steady: bool,
    /// When a "was unable to place a task" event was last emitted.
    pub last_unable: Option<Instant>,
    /// When placement last failed, if tasks are still waiting for room. ECS does not retry
    /// at the same instant, however often the world is looked at.
    pub placement_failed_at: Option<Instant>,
}

impl ServiceRecord {
    /// Whether the scheduler may try to place tasks at `t`; clears a failure from before.
    pub fn may_place(&mut self, t: Instant) -> bool {
        if self.placement_failed_at == Some(t) {
            return false;
        }
        self.placement_failed_at = None;
        true
    }
}

impl ServiceRecord {
    pub fn primary(&self) -> &DeploymentRecord {
        &self.deployments[0]
    }

    pub fn primary_mut(&mut self) -> &mut DeploymentRecord {
        &mut self.deployments[0]
    }

    pub fn deployment_mut(&mut self, id: &str) -> Option<&mut DeploymentRecord> {
        self.deployments.iter_mut().find(|d| d.id == id)
    }

    /// Any deployment ever made, current or INACTIVE.
    pub fn any_deployment(&self, id: &str) -> Option<&DeploymentRecord> {
        self.deployments
            .iter()
            .chain(&self.history)
            .find(|d| d.id == id)
    }

    pub fn group(&self) -> String {
        format!("service:{}", self.name)
    }

    pub fn push_event(&mut self, w: &mut World, t: Instant, message: String) {
        let n = w.next_id();
        self.events.push(ServiceEvent {
            id: format!(
                "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                n >> 32,
                (n >> 16) & 0xffff,
                n & 0xffff,
                (n >> 48) ^ 0x8000,
                n & 0xffff_ffff_ffff
            ),
            created_at: Some(w.wall_clock(t)),
            message: format!("(service {}) {message}", self.name),
        });
    }

    /// A new PRIMARY deployment of `task_definition`; the current PRIMARY becomes ACTIVE.
    pub fn deploy(
        &mut self,
        w: &mut World,
        task_definition: &str,
        t: Instant,
        rollback_of: Option<&str>,
    ) -> String {
        let id = format!("ecs-svc/{:019}", w.next_id() % 10_000_000_000_000_000_000);
        let mut sources: Vec<String> = Vec::new();
        for d in &mut self.deployments {
            if d.status == "PRIMARY" && d.rollout == Rollout::InProgress && rollback_of.is_none() {
                d.superseded_by = Some(id.clone());
            }
            d.status = "ACTIVE";
            d.updated_at = t;
            if !sources.contains(&d.task_definition) {
                sources.push(d.task_definition.clone());
            }
        }
        // A rollback returns to tasks that are (mostly) still there: no stages, no bake.
        let strategy = match self.config.strategy.as_ref().map(|s| s.as_str()) {
            Some(native @ ("BLUE_GREEN" | "LINEAR" | "CANARY")) if rollback_of.is_none() => {
                Strategy::BlueGreen {
                    bake: minutes(self.config.bake_time_minutes),
                    shifting: shifting(native, &self.config),
                }
            }
            _ => Strategy::Rolling,
        };
        let mut deployment = DeploymentRecord {
            id: id.clone(),
            status: "PRIMARY",
            task_definition: task_definition.to_string(),
            created_at: t,
            updated_at: t,
            rollout: Rollout::InProgress,
            reason: None,
            failed_tasks: 0,
            strategy,
            stage: None,
            stage_since: t,
            stages: Vec::new(),
            blue_drained_at: None,
            rollback_of: rollback_of.map(String::from),
            rolled_back_by: None,
            triggered_alarms: Vec::new(),
            superseded_by: None,
            stop_requested: None,
            source_task_definitions: sources,
        };
        if matches!(strategy, Strategy::BlueGreen { .. }) {
            deployment.enter(Stage::ScaleUp, t);
        }
        self.deployments.insert(0, deployment);
        self.steady = false;
        id
    }

    /// Deployments other than the PRIMARY leave the service (INACTIVE).
    pub fn retire_others(&mut self, t: Instant) {
        for mut d in self.deployments.drain(1..) {
            d.status = "INACTIVE";
            d.updated_at = t;
            self.history.push(d);
        }
    }

    /// Instants at which the scheduler has something to do though nothing else changes.
    pub fn timers(&self, tasks: &[TaskRecord], after: Instant) -> Vec<Instant> {
        let mut out = Vec::new();
        let p = self.primary();
        match (p.strategy, p.stage) {
            (Strategy::BlueGreen { shifting, .. }, Some(Stage::ProductionTrafficShift)) => {
                out.extend(p.blue_drained_at);
                out.push(p.stage_since + shifting);
            }
            (Strategy::BlueGreen { bake, .. }, Some(Stage::BakeTime)) => {
                out.push(p.stage_since + bake)
            }
            _ => {}
        }
        if self.placement_failed_at.is_some() {
            out.extend(self.last_unable.map(|at| at + UNABLE_EVERY));
        }
        if !self.grace.is_zero() {
            out.extend(
                self.tasks
                    .iter()
                    .filter(|st| st.registered)
                    .filter_map(|st| tasks[st.index].running_at())
                    .map(|r| r + self.grace),
            );
        }
        out.retain(|t| *t > after);
        out
    }

    pub fn describe(&self, tasks: &[TaskRecord], epoch: Instant, t: Instant) -> Service {
        // Tasks of one deployment (or of all) matching `f`.
        let count = |id: Option<&str>, f: &dyn Fn(&TaskRecord) -> bool| {
            self.tasks
                .iter()
                .filter(|st| id.is_none_or(|id| st.deployment == id))
                .filter(|st| f(&tasks[st.index]))
                .count() as i64
        };
        let running = |task: &TaskRecord| task.is_running(t);
        let pending = |task: &TaskRecord| task.is_pending(t);
        let deployments = self
            .deployments
            .iter()
            .map(|d| Deployment {
                id: d.id.clone(),
                status: crate::platform::DeploymentStatus::parse(d.status),
                task_definition: d.task_definition.clone(),
                desired_count: if d.status == "PRIMARY" {
                    self.desired as i64
                } else {
                    count(Some(&d.id), &|task| !task.stop_requested(t))
                },
                running_count: count(Some(&d.id), &running),
                pending_count: count(Some(&d.id), &pending),
                failed_tasks: i64::from(d.failed_tasks),
                rollout_state: Some(crate::platform::RolloutState::parse(d.rollout.as_str())),
                rollout_state_reason: Some(d.reason.clone().unwrap_or_else(|| match d.rollout {
                    Rollout::Completed => format!("ECS deployment {} completed.", d.id),
                    _ => format!("ECS deployment {} in progress.", d.id),
                })),
                created_at: Some(wall_clock(epoch, d.created_at)),
                updated_at: Some(wall_clock(epoch, d.updated_at)),
            })
            .collect();
        Service {
            arn: self.arn.clone(),
            name: self.name.clone(),
            status: crate::platform::ResourceStatus::Active,
            task_definition: self.primary().task_definition.clone(),
            desired_count: self.desired as i64,
            running_count: count(None, &running),
            pending_count: count(None, &pending),
            launch_type: Some(self.launch_type.as_str().into()),
            capacity_providers: Vec::new(),
            placement: self.placement.clone(),
            deployment_controller: crate::platform::DeploymentController::parse(&self.controller),
            deployment_configuration: self.config.clone(),
            deployments,
            load_balancers: self
                .load_balancers
                .iter()
                .map(|a| {
                    let (target_group_arn, load_balancer_name) = match &a.load_balancer {
                        LoadBalancerRef::TargetGroup(arn) => (Some(arn.clone()), None),
                        LoadBalancerRef::Classic(name) => (None, Some(name.clone())),
                    };
                    ServiceLoadBalancer {
                        target_group_arn,
                        load_balancer_name,
                        container_name: Some(a.container.clone()),
                        container_port: Some(a.container_port),
                        advanced: a.advanced.clone(),
                    }
                })
                .collect(),
            events: self
                .events
                .iter()
                .rev()
                .take(EVENTS_SHOWN)
                .cloned()
                .collect(),
        }
    }
}

/// ECS repeats "was unable to place a task" about once a minute while it keeps failing.
pub(crate) const UNABLE_EVERY: Duration = Duration::from_secs(60);

fn minutes(m: Option<i64>) -> Duration {
    Duration::from_secs(60 * m.unwrap_or(0).max(0) as u64)
}

/// How long production traffic takes to move: LINEAR bakes after each step short of 100%,
/// CANARY after its canary share (ECS's defaults where unset: 10% steps, 5% and 10 minutes).
fn shifting(strategy: &str, c: &DeploymentConfiguration) -> Duration {
    match strategy {
        "LINEAR" => {
            let step = c.linear.unwrap_or_default();
            let p = step.percent_tenths.unwrap_or(100).max(1);
            let steps = 1000u32.div_ceil(p).saturating_sub(1);
            minutes(step.bake_minutes) * steps
        }
        "CANARY" => minutes(Some(c.canary.and_then(|k| k.bake_minutes).unwrap_or(10))),
        _ => Duration::ZERO,
    }
}

pub(crate) fn service_arn(cluster: &str, name: &str) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/{name}")
}

impl World {
    pub(crate) fn service(&self, cluster: &str, name: &str) -> Result<&ServiceRecord, Fail> {
        self.cluster(cluster)?;
        self.services
            .get(&(cluster.to_string(), name.to_string()))
            .ok_or_else(|| {
                Fail::not_found(format!(
                    "ServiceNotFoundException: service {name} not found in cluster {cluster}"
                ))
            })
    }

    /// DescribeServices for one service: None when it does not exist (MISSING).
    pub(crate) fn describe_service(
        &self,
        cluster: &str,
        name: &str,
        t: Instant,
    ) -> Result<Option<Service>, Fail> {
        self.cluster(cluster)?;
        Ok(self
            .services
            .get(&(cluster.to_string(), name.to_string()))
            .map(|s| s.describe(&self.tasks, self.epoch, t)))
    }

    /// UpdateService: a new task definition starts a deployment (unless it is the PRIMARY's
    /// already); a deployment configuration applies at once, to the deployment in progress too.
    pub(crate) fn update_service(
        &mut self,
        cluster: &str,
        name: &str,
        update: &ServiceUpdate,
        t: Instant,
    ) -> Result<Service, Fail> {
        self.service(cluster, name)?;
        let key = (cluster.to_string(), name.to_string());
        let mut svc = self.services.remove(&key).expect("checked just above");
        let result = self.apply_update(&mut svc, update, t);
        self.services.insert(key, svc);
        result?;
        Ok(self.describe_service(cluster, name, t)?.expect("it exists"))
    }

    fn apply_update(
        &mut self,
        svc: &mut ServiceRecord,
        update: &ServiceUpdate,
        t: Instant,
    ) -> Result<(), Fail> {
        let target = match &update.task_definition {
            Some(reference) => Some(self.deployable(svc, reference)?),
            None => None,
        };
        if let Some(c) = &update.deployment_configuration {
            let cfg = &mut svc.config;
            cfg.maximum_percent = c.maximum_percent.or(cfg.maximum_percent);
            cfg.minimum_healthy_percent = c.minimum_healthy_percent.or(cfg.minimum_healthy_percent);
            cfg.circuit_breaker = c.circuit_breaker.or(cfg.circuit_breaker);
            cfg.breaker_threshold = c.breaker_threshold.or(cfg.breaker_threshold);
            cfg.strategy = c.strategy.clone().or(cfg.strategy.take());
            cfg.bake_time_minutes = c.bake_time_minutes.or(cfg.bake_time_minutes);
            cfg.alarms = c.alarms.clone().or(cfg.alarms.take());
            cfg.linear = c.linear.or(cfg.linear);
            cfg.canary = c.canary.or(cfg.canary);
        }
        if let Some(arn) = target.filter(|arn| *arn != svc.primary().task_definition) {
            svc.deploy(self, &arn, t, None);
        }
        Ok(())
    }

    /// The ARN of the revision UpdateService would deploy, or why it refuses.
    fn deployable(&self, svc: &ServiceRecord, reference: &str) -> Result<String, Fail> {
        if svc.controller != "ECS" {
            let how = if svc.controller == "CODE_DEPLOY" {
                "Use AWS CodeDeploy to trigger a new deployment."
            } else {
                "Use a task set to deploy a new task definition."
            };
            return Err(Fail::invalid(format!(
                "InvalidParameterException: Unable to update task definition on services with a {} deployment controller. {how}",
                svc.controller
            )));
        }
        let revision = self.task_definitions.describe(reference)?;
        if !is_active(revision) {
            return Err(Fail::invalid(format!(
                "ClientException: TaskDefinition {} is inactive.",
                revision.name()
            )));
        }
        let fargate_ok = revision
            .body
            .get("compatibilities")
            .and_then(Value::as_array)
            .is_some_and(|c| c.iter().any(|x| x == "FARGATE"));
        if svc.launch_type == LaunchType::Fargate && !fargate_ok {
            return Err(Fail::invalid(
                "InvalidParameterException: Task definition does not support launch_type FARGATE.",
            ));
        }
        Ok(revision.arn.clone())
    }
}
