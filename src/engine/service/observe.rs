//! One look at a service: the service, its deployment, its tasks, and their health in each of
//! its load balancers. Batched: one DescribeTargetHealth per target group, one
//! DescribeInstanceHealth per classic ELB, tasks described 100 at a time by the adapter.
//!
//! Frugal: DescribeServices is read at every look, the rest only when it can have changed
//! (see `Reader`), so a wait where nothing happens costs one call per poll.

use std::time::Duration;

use tokio::time::Instant;

use crate::engine::wait::with_retry;
use crate::platform::{
    ApiError, ApiErrorKind, ApiResult, ContainerInstance, Service, ServiceDeployment,
    ServiceLoadBalancer, TargetGroup, TargetHealthState, Task, TaskStatus,
};

use super::ServiceCtx;
use super::watch::LbHealth;

/// A load balancer of the service, as found at preflight.
#[derive(Debug, Clone)]
pub enum Gate {
    TargetGroup {
        group: TargetGroup,
        container_name: Option<String>,
        container_port: Option<u16>,
    },
    Classic {
        name: String,
        /// Its connection draining timeout (zero when off).
        draining: Duration,
        /// From registration to InService: HealthyThreshold checks, one interval apart.
        healthy: Duration,
    },
}

impl Gate {
    pub fn describe(&self) -> String {
        match self {
            Gate::TargetGroup { group, .. } => {
                format!("target group {} ({})", group.name, group.target_type)
            }
            Gate::Classic { name, .. } => format!("classic ELB {name}"),
        }
    }
}

pub struct Snapshot {
    /// What is new in this answer happened after this instant (the previous look, whose
    /// answer did not show it): a draining seen now started then at the earliest.
    pub changed_after: Instant,
    pub service: Service,
    pub deployment: Option<ServiceDeployment>,
    pub tasks: Vec<Task>,
    pub health: Vec<LbHealth>,
}

pub async fn service(s: &ServiceCtx) -> ApiResult<Service> {
    with_retry(|| s.services.describe_service(&s.ctx.cluster, &s.service))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                "DescribeServices",
                ApiErrorKind::NotFound,
                format!("service {} is gone", s.service),
            )
        })
}

/// The gates as the outcome names them: `load_balancer` in every output.
pub fn describe_gates(gates: &[Gate]) -> String {
    gates
        .iter()
        .map(Gate::describe)
        .collect::<Vec<_>>()
        .join(", ")
}

pub async fn gates(
    s: &ServiceCtx,
    lbs: &[ServiceLoadBalancer],
) -> Result<Vec<Gate>, crate::error::Error> {
    use crate::engine::refusal::Refusal;
    use crate::error::Error;
    let mut out = Vec::new();
    for lb in lbs {
        if let Some(arn) = &lb.target_group_arn {
            let tg = with_retry(|| s.target_groups.describe_target_group(arn))
                .await
                .map_err(Error::from_api_before_change)?;
            let Some(group) = tg else {
                return Err(Error::refused(Refusal::TargetGroupNotFound {
                    arn: arn.clone(),
                    service: s.service.clone(),
                }));
            };
            out.push(Gate::TargetGroup {
                group,
                container_name: lb.container_name.clone(),
                container_port: lb.container_port,
            });
        } else if let Some(name) = &lb.load_balancer_name {
            let Some(found) = with_retry(|| s.ctx.elb.describe_load_balancer(name))
                .await
                .map_err(Error::from_api_before_change)?
            else {
                return Err(Error::refused(Refusal::ServiceLoadBalancerNotFound {
                    name: name.clone(),
                    service: s.service.clone(),
                }));
            };
            let hc = &found.health_check;
            out.push(Gate::Classic {
                name: name.clone(),
                draining: found.connection_draining.unwrap_or_default(),
                healthy: hc.interval * hc.healthy_threshold.max(1),
            });
        }
    }
    Ok(out)
}

/// Container instances, for mapping tasks to EC2 instances (not needed on Fargate).
pub async fn instances(s: &ServiceCtx, fargate: bool) -> ApiResult<Vec<ContainerInstance>> {
    if fargate {
        Ok(Vec::new())
    } else {
        with_retry(|| s.ctx.ecs.container_instances(&s.ctx.cluster)).await
    }
}

/// Re-reads at least this often whatever DescribeServices says: a safety net for changes it
/// does not show (a target turning unhealthy between ECS's own looks). Times the number of
/// services sharing DescribeServices answers (`Pace::sharing`).
const SAFETY_NET: Duration = Duration::from_secs(120);

/// What a watch has read so far. ECS shows every change that matters in DescribeServices (task
/// counts, failed tasks, rollout state, a new event), so the deployment, the tasks and their
/// health are read again only when its answer changed, and at least every `SAFETY_NET`.
/// Target health moves without it, but what follows from it does show: ECS drains the old
/// tasks once the new targets are healthy and replaces a task whose target turned unhealthy.
#[derive(Default)]
pub struct Reader {
    deployments_supported: bool,
    last_service: Option<String>,
    /// Bumped whenever DescribeServices answers something new.
    version: u64,
    /// Bumped whenever its deployments change in what the service deployment follows from
    /// (which there are, their status, rollout state and revision), not in their counts.
    last_deployments: Option<String>,
    deployments_version: u64,
    /// The previous look, and the one before the current version was first seen.
    last_look: Option<Instant>,
    changed_after: Option<Instant>,
    deployment: Option<(u64, Option<ServiceDeployment>)>,
    tasks: Option<(u64, Instant, Vec<Task>)>,
    /// Per gate: (version, read at, the version's `changed_after`, the answer).
    health: Vec<Option<(u64, Instant, Instant, LbHealth)>>,
}

impl Reader {
    pub fn new() -> Reader {
        Reader {
            deployments_supported: true,
            ..Reader::default()
        }
    }

    /// The look itself: every call made here is one the verdict needs.
    pub async fn snapshot(
        &mut self,
        s: &ServiceCtx,
        gates: &[Gate],
        deployment_id: Option<&str>,
    ) -> ApiResult<Snapshot> {
        let asked = Instant::now();
        let service = service(s).await?;
        let print = fingerprint(&service);
        if self.last_service.as_ref() != Some(&print) {
            self.last_service = Some(print);
            self.version += 1;
            self.changed_after = Some(self.last_look.unwrap_or(asked));
        }
        let print = deployments_fingerprint(&service);
        if self.last_deployments.as_ref() != Some(&print) {
            self.last_deployments = Some(print);
            self.deployments_version += 1;
        }
        self.last_look = Some(asked);
        let changed_after = self.changed_after.unwrap_or(asked);
        let now = Instant::now();
        let version = self.version;
        // Shared with other services' watches, the safety net costs the cluster what it
        // costs one service: its reads are spread over them all.
        let sharing = s.services.pace(&s.ctx.cluster).sharing.max(1) as u32;
        let safety_net = SAFETY_NET * sharing;
        let fresh = |v: u64, at: Instant| v == version && now.duration_since(at) < safety_net;

        // A rolling deployment's service deployment says ROLLBACK_* only with a change in
        // DescribeServices' deployments (ECS's rollback is a new one, ours turns FAILED), so
        // it is not read again for their counts: in a deploy of many services each count
        // change would cost one read per service at once. Native strategies move through
        // lifecycle stages that only the service deployment shows: read at every change.
        let rolling = service
            .deployment_configuration
            .strategy
            .as_ref()
            .is_none_or(|st| !st.shifts_traffic());
        let dversion = if rolling {
            self.deployments_version
        } else {
            version
        };
        let deployment = match (deployment_id, &self.deployment) {
            (None, _) => None,
            (Some(_), _) if !self.deployments_supported => None,
            (Some(_), Some((v, d))) if *v == dversion => d.clone(),
            (Some(id), _) => {
                let d = s
                    .services
                    .service_deployment(&s.ctx.cluster, &s.service, id)
                    .await?;
                // None: the endpoint does not support it (moto): stop asking.
                self.deployments_supported = d.is_some();
                self.deployment = Some((dversion, d.clone()));
                d
            }
        };

        let tasks = match &self.tasks {
            Some((v, at, tasks)) if fresh(*v, *at) => tasks.clone(),
            _ => {
                let tasks = s
                    .services
                    .service_tasks(&s.ctx.cluster, &s.service, TaskStatus::Running)
                    .await?;
                self.tasks = Some((version, now, tasks.clone()));
                tasks
            }
        };

        self.health.resize(gates.len(), None);
        let mut health = Vec::with_capacity(gates.len());
        for (g, cached) in gates.iter().zip(self.health.iter_mut()) {
            if let Some((v, at, since, h)) = cached.as_ref()
                && fresh(*v, *at)
                // A target failing its checks may recover without ECS showing anything, and
                // the verdict on it must not rest on an old answer.
                && !(failing(h) && now.duration_since(*at) >= FAILING_MAX_AGE)
                // A draining can end without DescribeServices showing it (its task had
                // stopped already: a crashed task, ECS's rollback), and it began after the
                // look before the change that showed it: from then plus the delay it is read
                // at every look, so the end of a deploy never waits for the safety net.
                && !(is_draining(h) && now >= *since + g.draining())
            {
                health.push(h.clone());
                continue;
            }
            let h = read_health(s, g).await?;
            *cached = Some((version, now, changed_after, h.clone()));
            health.push(h);
        }
        Ok(Snapshot {
            changed_after,
            service,
            deployment,
            tasks,
            health,
        })
    }
}

/// How old an answer showing a failing target may be.
const FAILING_MAX_AGE: Duration = Duration::from_secs(10);

fn failing(h: &LbHealth) -> bool {
    match h {
        LbHealth::TargetGroup { targets, .. } => targets
            .iter()
            .any(|t| t.state == TargetHealthState::Unhealthy),
        LbHealth::Classic { health, .. } => health.iter().any(|i| i.has_failed_checks()),
    }
}

impl Gate {
    /// How long a new target or instance takes from registration to healthy at the least.
    pub fn healthy(&self) -> Duration {
        match self {
            Gate::TargetGroup { group, .. } => {
                group.health_check_interval * group.healthy_threshold.max(1)
            }
            Gate::Classic { healthy, .. } => *healthy,
        }
    }

    /// How long a target or instance it deregisters drains at most.
    pub fn draining(&self) -> Duration {
        match self {
            Gate::TargetGroup { group, .. } => group.deregistration_delay,
            Gate::Classic { draining, .. } => *draining,
        }
    }
}

/// Whether a load balancer's answer shows something draining.
pub fn is_draining(h: &LbHealth) -> bool {
    match h {
        LbHealth::TargetGroup { targets, .. } => targets
            .iter()
            .any(|t| t.state == TargetHealthState::Draining),
        LbHealth::Classic { health, .. } => health.iter().any(|i| i.is_deregistering()),
    }
}

/// What the service deployment follows from: which deployments there are, their status,
/// rollout state and revision (not their counts).
fn deployments_fingerprint(s: &Service) -> String {
    use std::fmt::Write;
    let mut fp = String::new();
    for d in &s.deployments {
        let _ = write!(
            fp,
            "{}:{}:{:?}:{};",
            d.id, d.status, d.rollout_state, d.task_definition
        );
    }
    fp
}

/// Everything in DescribeServices that moves when the deployment does.
fn fingerprint(s: &Service) -> String {
    use std::fmt::Write;
    let mut fp = format!(
        "{}:{}:{}:{};",
        s.task_definition, s.desired_count, s.running_count, s.pending_count
    );
    for d in &s.deployments {
        let _ = write!(
            fp,
            "{}:{}:{:?}:{}:{}:{}:{}:{:?};",
            d.id,
            d.status,
            d.rollout_state,
            d.desired_count,
            d.running_count,
            d.pending_count,
            d.failed_tasks,
            d.updated_at
        );
    }
    fp.push_str(s.events.first().map_or("", |e| e.id.as_str()));
    fp
}

async fn read_health(s: &ServiceCtx, g: &Gate) -> ApiResult<LbHealth> {
    Ok(match g {
        Gate::TargetGroup {
            group,
            container_name,
            container_port,
        } => LbHealth::TargetGroup {
            arn: group.arn.clone(),
            target_type: group.target_type.clone(),
            container_name: container_name.clone(),
            container_port: *container_port,
            targets: s.target_groups.target_health(&group.arn).await?,
        },
        Gate::Classic { name, .. } => LbHealth::Classic {
            name: name.clone(),
            health: s.ctx.elb.instance_health(name).await?,
        },
    })
}
