//! Where a task runs: on a container instance (EC2 launch type) or on Fargate, and which host
//! ports and address it gets there. The service scheduler places tasks itself, the way ECS's
//! default service placement does (spread over zones, then over instances); StartTask names
//! its instance.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::cluster::ContainerInstanceRecord;
use super::service::ServiceRecord;
use super::task::{Host, Launch, TaskRecord};
use super::world::{Fail, World};
use crate::platform::NetworkBinding;
use crate::taskdef::TaskDefinition;

/// First host port of the range the ECS agent hands out for dynamic port mappings.
pub const DYNAMIC_PORTS_FROM: u16 = 32768;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LaunchType {
    /// On the cluster's container instances, within their CPU, memory and ports.
    #[default]
    Ec2,
    /// On capacity AWS manages: no container instance, an address of its own (awsvpc).
    Fargate,
}

impl LaunchType {
    pub fn as_str(self) -> &'static str {
        match self {
            LaunchType::Ec2 => "EC2",
            LaunchType::Fargate => "FARGATE",
        }
    }
}

/// One `portMappings` entry as the task's network mode makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PortMapping {
    pub container: String,
    pub container_port: u16,
    /// Bound on the instance: the static host port (bridge/host), or `None` when the agent
    /// picks one (bridge, hostPort 0 or missing) or the task has its own interface (awsvpc).
    pub host_port: Option<u16>,
    /// Bridge mode without a host port: the agent binds one from the dynamic range.
    pub dynamic: bool,
    pub tcp: bool,
}

/// The port mappings of a task definition body (as registered, or as described).
pub(crate) fn port_mappings(body: &Value) -> Vec<PortMapping> {
    let mode = body
        .get("networkMode")
        .and_then(Value::as_str)
        .unwrap_or("bridge");
    let containers = body
        .get("containerDefinitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let mut out = Vec::new();
    for c in containers {
        let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
        let mappings = c
            .get("portMappings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        for m in mappings {
            let Some(container_port) = m
                .get("containerPort")
                .and_then(Value::as_u64)
                .and_then(|p| u16::try_from(p).ok())
            else {
                continue;
            };
            let host = m
                .get("hostPort")
                .and_then(Value::as_u64)
                .filter(|p| *p > 0)
                .and_then(|p| u16::try_from(p).ok());
            let tcp = m
                .get("protocol")
                .and_then(Value::as_str)
                .is_none_or(|p| p.eq_ignore_ascii_case("tcp"));
            let (host_port, dynamic) = match mode {
                "awsvpc" => (None, false),
                "host" => (Some(host.unwrap_or(container_port)), false),
                _ => (host, host.is_none()),
            };
            out.push(PortMapping {
                container: name.to_string(),
                container_port,
                host_port,
                dynamic,
                tcp,
            });
        }
    }
    out
}

/// Where a task placed on an instance is bound: every mapping with its host port, dynamic
/// ones taken from the agent's range, lowest free first.
pub(crate) fn bind_ports(mappings: &[PortMapping], used: &[u16]) -> Vec<NetworkBinding> {
    let mut taken: Vec<u16> = used.to_vec();
    let mut out = Vec::new();
    for m in mappings {
        let host_port = match m.host_port {
            Some(p) => p,
            // UDP dynamic mappings are left unbound: nothing in the simulation probes UDP.
            None if m.dynamic && m.tcp => {
                let free = (DYNAMIC_PORTS_FROM..=u16::MAX)
                    .find(|p| !taken.contains(p))
                    .unwrap_or(u16::MAX);
                taken.push(free);
                free
            }
            None => continue,
        };
        out.push(NetworkBinding {
            container_name: m.container.clone(),
            container_port: m.container_port,
            host_port,
        });
    }
    out
}

/// Why no instance took a task, worded as the ECS service event does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unplaceable(pub String);

impl World {
    /// The instance the service scheduler puts the next task of `service` on: among those
    /// that fit it, the zone with the fewest of the service's tasks, then the instance with
    /// the fewest, then the first registered.
    pub(crate) fn choose_instance(
        &self,
        cluster: &str,
        service_group: &str,
        td: &TaskDefinition,
        t: Instant,
    ) -> Result<String, Unplaceable> {
        let instances = self
            .clusters
            .get(cluster)
            .map(|c| c.instances.as_slice())
            .unwrap_or_default();
        let (needs, ports) = (td.reservation(), td.static_host_ports());
        let mut closest: Option<(u8, &ContainerInstanceRecord, Fail)> = None;
        let mut fitting = Vec::new();
        for instance in instances {
            match instance.check_placement(&self.tasks, needs, &ports, t) {
                Ok(()) => fitting.push(instance),
                Err(fail) => {
                    let rank = closeness(&fail.message);
                    if closest.as_ref().is_none_or(|(r, _, _)| rank > *r) {
                        closest = Some((rank, instance, fail));
                    }
                }
            }
        }
        let ours = |pick: &dyn Fn(&TaskRecord) -> bool| {
            self.tasks
                .iter()
                .filter(|task| task.group == service_group && task.holds_resources(t) && pick(task))
                .count()
        };
        let in_zone = |zone: &str| {
            ours(&|task| {
                task.ec2_instance_id
                    .as_deref()
                    .and_then(|id| self.availability_zone_of(id))
                    == Some(zone)
            })
        };
        let on_instance =
            |arn: &str| ours(&|task| task.container_instance_arn.as_deref() == Some(arn));
        if let Some(best) = fitting
            .iter()
            .min_by_key(|i| (in_zone(&i.availability_zone), on_instance(&i.arn)))
        {
            return Ok(best.arn.clone());
        }
        let prefix =
            "was unable to place a task because no container instance met all of its requirements.";
        let why = match closest {
            None => "Reason: No Container Instances were found in your cluster.".to_string(),
            Some((_, instance, fail)) => {
                let id = instance.arn.rsplit('/').next().unwrap_or(&instance.arn);
                let what = match closeness(&fail.message) {
                    3 => "is already using a port required by your task".to_string(),
                    2 => "has insufficient memory available".to_string(),
                    1 => "has insufficient CPU units available".to_string(),
                    _ => {
                        let code = fail.message.split(':').next().unwrap_or("AGENT");
                        format!("encountered error \"{code}\"")
                    }
                };
                format!("The closest matching (container-instance {id}) {what}.")
            }
        };
        Err(Unplaceable(format!(
            "{prefix} {why} For more information, see the Troubleshooting section of the Amazon ECS Developer Guide."
        )))
    }

    /// Places and starts a task of `deployment`; `at_once` skips the start delay (for tasks
    /// the builder sets up as already running).
    pub(crate) fn place_and_launch(
        &mut self,
        svc: &ServiceRecord,
        deployment: &str,
        t: Instant,
        at_once: bool,
    ) -> Result<usize, Unplaceable> {
        let td_arn = svc
            .any_deployment(deployment)
            .map(|d| d.task_definition.clone())
            .unwrap_or_default();
        let revision = self
            .task_definitions
            .find(&td_arn)
            .ok_or_else(|| Unplaceable(format!("was unable to find task definition {td_arn}.")))?;
        let td = TaskDefinition::from_revision(revision);
        let group = svc.group();
        let (instance, delay) = match svc.launch_type {
            LaunchType::Ec2 => (
                Some(self.choose_instance(&svc.cluster, &group, &td, t)?),
                self.timings.task_start,
            ),
            LaunchType::Fargate => {
                if self.faults.check_named("RunTask", t).is_some() {
                    return Err(Unplaceable(
                        "was unable to place a task. Reason: Capacity is unavailable at this time. Please try again later or in a different availability zone. For more information, see the Troubleshooting section of the Amazon ECS Developer Guide.".into(),
                    ));
                }
                (None, self.timings.fargate_task_start)
            }
        };
        let launch = Launch {
            cluster: &svc.cluster,
            host: instance.as_deref().map_or(Host::Fargate, Host::Instance),
            started_by: Some(deployment),
            group: Some(&group),
            start_delay: if at_once { Duration::ZERO } else { delay },
            // Services keep running revisions deregistered since they were deployed.
            inactive_ok: true,
        };
        self.launch(&td_arn, launch, t)
            .map_err(|f| Unplaceable(format!("was unable to place a task: {}", f.message)))
    }

    /// A fresh private address in the VPC, for a task with its own network interface.
    pub(crate) fn next_private_ip(&mut self) -> String {
        let n = self.next_serial();
        format!("10.0.{}.{}", (n / 250) % 256, n % 250 + 4)
    }
}

/// How far an instance got through placement's checks (CPU, then memory, then ports): the
/// one that got furthest is the "closest matching" instance ECS names.
fn closeness(message: &str) -> u8 {
    if message.starts_with("RESOURCE:PORTS") {
        3
    } else if message.starts_with("RESOURCE:MEMORY") {
        2
    } else if message.starts_with("RESOURCE:CPU") {
        1
    } else {
        0
    }
}
