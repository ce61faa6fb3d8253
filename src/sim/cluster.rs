//! Clusters and their container instances. What an instance has left (CPU, memory, host
//! ports) is never stored: it is derived from the tasks that hold resources at the moment asked.

use tokio::time::Instant;

use super::task::TaskRecord;
use super::world::Fail;
use crate::platform::ContainerInstance;
use crate::taskdef::Reservation;

/// Host ports every container instance reports as taken before any task runs: SSH, the Docker
/// daemon and the ECS agent.
pub const AGENT_PORTS: [u16; 5] = [22, 2375, 2376, 51678, 51679];

#[derive(Debug, Clone)]
pub(crate) struct Cluster {
    pub name: String,
    pub status: String,
    pub instances: Vec<ContainerInstanceRecord>,
}

impl Cluster {
    pub fn new(name: &str) -> Cluster {
        Cluster {
            name: name.to_string(),
            status: "ACTIVE".into(),
            instances: Vec::new(),
        }
    }

    /// A container instance by ARN or by the ID at the end of its ARN, as StartTask accepts.
    pub fn instance(&self, reference: &str) -> Option<&ContainerInstanceRecord> {
        self.instances
            .iter()
            .find(|i| i.arn == reference || i.arn.rsplit('/').next() == Some(reference))
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ContainerInstanceRecord {
    pub arn: String,
    pub ec2_instance_id: String,
    pub availability_zone: String,
    /// ACTIVE, DRAINING, INACTIVE.
    pub status: String,
    pub agent_connected: bool,
    /// Registered CPU units and MiB.
    pub cpu: i64,
    pub memory: i64,
    pub reserved_ports: Vec<u16>,
}

impl ContainerInstanceRecord {
    /// Tasks on this instance that hold its resources at `t` (everything short of STOPPED).
    fn holders<'a>(
        &'a self,
        tasks: &'a [TaskRecord],
        t: Instant,
    ) -> impl Iterator<Item = &'a TaskRecord> {
        tasks.iter().filter(move |task| {
            task.container_instance_arn.as_deref() == Some(self.arn.as_str())
                && task.holds_resources(t)
        })
    }

    fn remaining(&self, tasks: &[TaskRecord], t: Instant) -> Reservation {
        self.holders(tasks, t).fold(
            Reservation {
                cpu: self.cpu,
                memory: self.memory,
            },
            |left, task| Reservation {
                cpu: left.cpu - task.reservation.cpu,
                memory: left.memory - task.reservation.memory,
            },
        )
    }

    fn used_ports(&self, tasks: &[TaskRecord], t: Instant) -> Vec<u16> {
        let mut ports = self.reserved_ports.clone();
        ports.extend(
            self.holders(tasks, t)
                .flat_map(|task| task.host_ports.iter().copied()),
        );
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    pub fn describe(&self, tasks: &[TaskRecord], t: Instant) -> ContainerInstance {
        let left = self.remaining(tasks, t);
        ContainerInstance {
            arn: self.arn.clone(),
            ec2_instance_id: self.ec2_instance_id.clone(),
            availability_zone: Some(self.availability_zone.clone()),
            status: crate::platform::ResourceStatus::parse(&self.status),
            agent_connected: self.agent_connected,
            remaining_cpu: left.cpu,
            remaining_memory: left.memory,
            used_ports: self.used_ports(tasks, t),
        }
    }

    /// Refuses a task the way StartTask reports a placement failure: the failure reason
    /// (`AGENT`, `RESOURCE:CPU`, `RESOURCE:MEMORY`, `RESOURCE:PORTS`) starts the message.
    pub fn check_placement(
        &self,
        tasks: &[TaskRecord],
        needs: Reservation,
        ports: &[u16],
        t: Instant,
    ) -> Result<(), Fail> {
        let arn = &self.arn;
        if !self.agent_connected {
            return Err(Fail::invalid(format!(
                "AGENT: the ECS agent on container instance {arn} is not connected"
            )));
        }
        if self.status != "ACTIVE" {
            return Err(Fail::invalid(format!(
                "{}: container instance {arn} does not accept tasks",
                self.status
            )));
        }
        let left = self.remaining(tasks, t);
        if needs.cpu > left.cpu {
            return Err(Fail::invalid(format!(
                "RESOURCE:CPU: container instance {arn} has {} CPU units left, the task needs {}",
                left.cpu, needs.cpu
            )));
        }
        if needs.memory > left.memory {
            return Err(Fail::invalid(format!(
                "RESOURCE:MEMORY: container instance {arn} has {} MiB left, the task needs {}",
                left.memory, needs.memory
            )));
        }
        let used = self.used_ports(tasks, t);
        if let Some(port) = ports.iter().find(|p| used.contains(p)) {
            return Err(Fail::invalid(format!(
                "RESOURCE:PORTS: host port {port} is already in use on container instance {arn}"
            )));
        }
        Ok(())
    }
}
