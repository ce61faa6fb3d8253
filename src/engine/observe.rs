//! One consistent look at the cluster, the family's tasks and the load balancer, and the
//! planner's view of it. Every decision the engine makes starts from an `Observation`.

use std::collections::{BTreeMap, HashMap};

use super::context::{Ctx, StandaloneCtx};
use super::failure::Mismatch;
use super::plan::{Slot, SlotTask};
use super::wait::with_retry;
use crate::platform::{
    ApiErrorKind, ApiResult, ClassicLoadBalancer, ContainerInstance, HealthState, InstanceHealth,
    Revision, Task,
};
use crate::taskdef::{Reservation, TaskDefinition};

#[derive(Debug, Clone)]
pub struct Observation {
    pub instances: Vec<ContainerInstance>,
    /// The family's tasks whose desired status is RUNNING.
    pub tasks: Vec<Task>,
    pub load_balancer: ClassicLoadBalancer,
    pub health: Vec<InstanceHealth>,
}

impl Observation {
    /// Reads instances, tasks and load balancer state. The load balancer must exist.
    pub async fn take(ctx: &StandaloneCtx) -> ApiResult<Observation> {
        // Reads are retried on throttling like writes: an observation that fails for a
        // passing reason must not fail a preflight or a rollback.
        let (instances, tasks, lb, health) = tokio::try_join!(
            with_retry(|| ctx.ecs.container_instances(&ctx.cluster)),
            with_retry(|| ctx.ecs.family_tasks(&ctx.cluster, &ctx.family)),
            with_retry(|| ctx.elb.describe_load_balancer(&ctx.load_balancer)),
            with_retry(|| ctx.elb.instance_health(&ctx.load_balancer)),
        )?;
        let load_balancer = lb.ok_or_else(|| {
            crate::platform::ApiError::new(
                "DescribeLoadBalancers",
                crate::platform::ApiErrorKind::NotFound,
                format!("classic load balancer {} vanished", ctx.load_balancer),
            )
        })?;
        Ok(Observation {
            instances,
            tasks,
            load_balancer,
            health,
        })
    }

    pub fn health_of(&self, ec2_instance_id: &str) -> Option<&InstanceHealth> {
        self.health
            .iter()
            .find(|h| h.instance_id == ec2_instance_id)
    }

    pub fn instance_of(&self, task: &Task) -> Option<&ContainerInstance> {
        let arn = task.container_instance_arn.as_deref()?;
        self.instances.iter().find(|i| i.arn == arn)
    }

    /// Running revisions of the family with how many tasks run each, most first.
    pub fn running_revisions(&self) -> Vec<(String, usize)> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for t in self.tasks.iter().filter(|t| t.is_running()) {
            *counts.entry(t.task_definition_arn.as_str()).or_default() += 1;
        }
        let mut v: Vec<(String, usize)> = counts
            .into_iter()
            .map(|(a, n)| (a.to_string(), n))
            .collect();
        v.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| revision_number(&b.0).cmp(&revision_number(&a.0)))
        });
        v
    }

    /// Instances that run a task of the family now.
    pub fn instances_with_tasks(&self) -> usize {
        let mut arns: Vec<&str> = self
            .tasks
            .iter()
            .filter_map(|t| t.container_instance_arn.as_deref())
            .collect();
        arns.sort_unstable();
        arns.dedup();
        arns.len()
    }

    /// The planner's view: each container instance with the family's tasks on it, its load
    /// balancer state and whether a task of `target` fits. `definitions` holds the running
    /// revisions, to know what stopping their tasks frees.
    pub fn slots(
        &self,
        target: &TaskDefinition,
        definitions: &HashMap<String, TaskDefinition>,
    ) -> Vec<Slot> {
        let need = target.reservation();
        let ports = target.static_host_ports();
        self.instances
            .iter()
            .map(|ci| {
                let tasks: Vec<&Task> = self
                    .tasks
                    .iter()
                    .filter(|t| t.container_instance_arn.as_deref() == Some(&ci.arn))
                    .collect();
                let mut freed = Reservation::default();
                let mut freed_ports = Vec::new();
                for t in &tasks {
                    if let Some(td) = definitions.get(&t.task_definition_arn) {
                        let r = td.reservation();
                        freed.cpu += r.cpu;
                        freed.memory += r.memory;
                        freed_ports.extend(td.static_host_ports());
                    }
                }
                let fits = |extra: Reservation, released: &[u16]| {
                    ci.accepts_tasks()
                        && ci.remaining_cpu + extra.cpu >= need.cpu
                        && ci.remaining_memory + extra.memory >= need.memory
                        && ports
                            .iter()
                            .all(|p| !ci.used_ports.contains(p) || released.contains(p))
                };
                let health = self.health_of(&ci.ec2_instance_id);
                let registered = health.is_some_and(|h| !h.is_deregistering())
                    || self.load_balancer.instances.contains(&ci.ec2_instance_id);
                Slot {
                    container_instance_arn: ci.arn.clone(),
                    ec2_instance_id: ci.ec2_instance_id.clone(),
                    availability_zone: ci.availability_zone.clone(),
                    tasks: tasks
                        .iter()
                        .map(|t| SlotTask {
                            arn: t.arn.clone(),
                            task_definition_arn: t.task_definition_arn.clone(),
                            running: t.is_running(),
                        })
                        .collect(),
                    registered,
                    in_service: registered
                        && health.is_some_and(|h| h.state == HealthState::InService),
                    fits_target: tasks.is_empty() && fits(Reservation::default(), &[]),
                    fits_after_stop: fits(freed, &freed_ports),
                }
            })
            .collect()
    }

    /// Whether the family runs exactly `count` tasks, all of `target`, all InService.
    pub fn converged_on(&self, target: &str, count: usize) -> Result<(), Vec<Mismatch>> {
        let mut problems = Vec::new();
        let others = self
            .tasks
            .iter()
            .filter(|t| t.task_definition_arn != target && !t.is_stopping())
            .count();
        if others > 0 {
            problems.push(Mismatch::OtherRevisionsRun { tasks: others });
        }
        let ours: Vec<&Task> = self
            .tasks
            .iter()
            .filter(|t| t.task_definition_arn == target && t.is_running())
            .collect();
        if ours.len() != count {
            problems.push(Mismatch::WrongCount {
                running: ours.len(),
                wanted: count,
            });
        }
        for ci in ours.iter().filter_map(|t| self.instance_of(t)) {
            let instance = ci.ec2_instance_id.clone();
            match self.health_of(&ci.ec2_instance_id) {
                Some(h) if h.state == HealthState::InService => {}
                Some(h) => problems.push(Mismatch::NotInService {
                    instance,
                    state: h.state,
                }),
                None => problems.push(Mismatch::NotRegistered {
                    instance,
                    load_balancer: self.load_balancer.name.clone(),
                }),
            }
        }
        problems.extend(self.registered_without_task());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// Container instances registered with the load balancer (and not leaving it) on which
    /// no task of the family runs. (One running another revision is `OtherRevisionsRun`.)
    fn registered_without_task(&self) -> Vec<Mismatch> {
        self.instances
            .iter()
            .filter(|ci| {
                self.health_of(&ci.ec2_instance_id)
                    .is_some_and(|h| !h.is_deregistering())
            })
            .filter(|ci| {
                !self.tasks.iter().any(|t| {
                    t.container_instance_arn.as_deref() == Some(&ci.arn) && !t.is_stopping()
                })
            })
            .map(|ci| Mismatch::RegisteredWithoutTask {
                instance: ci.ec2_instance_id.clone(),
                load_balancer: self.load_balancer.name.clone(),
            })
            .collect()
    }
}

/// The revision number at the end of a task definition ARN (for ordering display only).
pub fn revision_number(arn: &str) -> i64 {
    arn.rsplit(':')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Caches revisions so each is described once per run.
#[derive(Default)]
pub struct Catalog {
    revisions: HashMap<String, Revision>,
    /// The family's latest ACTIVE revision, once read (None inside: the family has none).
    latest: Option<Option<Revision>>,
}

impl Catalog {
    pub async fn get(&mut self, ctx: &Ctx, arn: &str) -> ApiResult<Revision> {
        if let Some(r) = self.revisions.get(arn) {
            return Ok(r.clone());
        }
        let r = with_retry(|| ctx.ecs.describe_task_definition(arn)).await?;
        self.revisions.insert(arn.to_string(), r.clone());
        Ok(r)
    }

    pub fn insert(&mut self, r: Revision) {
        self.revisions.insert(r.arn.clone(), r);
    }

    /// The family's latest ACTIVE revision (None when the family has none), read once: the
    /// one a deploy registered last, even when none of its tasks runs (they crashed).
    pub async fn latest(&mut self, ctx: &Ctx) -> ApiResult<Option<Revision>> {
        if let Some(known) = &self.latest {
            return Ok(known.clone());
        }
        let latest = match with_retry(|| ctx.ecs.describe_task_definition(&ctx.family)).await {
            Ok(r) => Some(r),
            Err(e)
                if matches!(
                    e.kind,
                    ApiErrorKind::NotFound | ApiErrorKind::InvalidRequest
                ) =>
            {
                None
            }
            Err(e) => return Err(e),
        };
        if let Some(r) = &latest {
            self.revisions
                .entry(r.arn.clone())
                .or_insert_with(|| r.clone());
        }
        self.latest = Some(latest.clone());
        Ok(latest)
    }

    /// Every revision known, by ARN.
    pub fn revisions(&self) -> &HashMap<String, Revision> {
        &self.revisions
    }

    /// The registerable documents of every revision known, by ARN.
    pub fn definitions(&self) -> HashMap<String, TaskDefinition> {
        self.revisions
            .iter()
            .map(|(a, r)| (a.clone(), TaskDefinition::from_revision(r)))
            .collect()
    }
}
