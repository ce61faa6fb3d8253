//! Tasks: what they hold on their container instance, and their lifecycle as a function of
//! virtual time. A task stores the instants at which it changes state, so its status at any
//! moment is computed, never stepped.

use std::time::Duration;

use tokio::time::Instant;

use super::task_definition::is_active;
use super::world::{ACCOUNT, Fail, Interruption, REGION, World};
use crate::platform::{ContainerState, Task};
use crate::taskdef::{Reservation, TaskDefinition};

/// What the app in an image does once ECS starts it, looked up by the exact image string when a
/// task starts (changing it later does not affect tasks already started).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Behaviour {
    /// Runs and answers every health check.
    #[default]
    Healthy,
    /// Runs, but answers health checks only once it has been RUNNING this long (a slow boot).
    SlowStart(Duration),
    /// Runs and answers, then its container exits with code 1 this long after RUNNING.
    CrashAfter(Duration),
    /// Runs but never answers a load balancer health check.
    FailsHealthCheck,
    /// Never reaches RUNNING: STOPPED with this reason when the start delay is over.
    FailsToStart(String),
}

impl Behaviour {
    /// The image does not exist in its registry.
    pub fn cannot_pull(image: &str) -> Behaviour {
        Behaviour::FailsToStart(format!(
            "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {image}: not found"
        ))
    }

    /// How bad it is for the task; in a task with several containers the worst one decides.
    fn severity(&self) -> (u8, Duration) {
        match self {
            Behaviour::Healthy => (0, Duration::ZERO),
            Behaviour::SlowStart(d) => (1, *d),
            Behaviour::FailsHealthCheck => (2, Duration::ZERO),
            Behaviour::CrashAfter(d) => (3, Duration::MAX - *d),
            Behaviour::FailsToStart(_) => (4, Duration::ZERO),
        }
    }
}

const PENDING: &str = "PENDING";
const RUNNING: &str = "RUNNING";
const STOPPING: &str = "STOPPING";
const STOPPED: &str = "STOPPED";

pub const ESSENTIAL_CONTAINER_EXITED: &str = "Essential container in task exited";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopCause {
    /// StopTask: every container exits 0 after SIGTERM.
    Requested,
    /// The culprit container exited 1.
    Crashed,
    /// The culprit container never started.
    FailedToStart,
}

#[derive(Debug, Clone)]
struct Stop {
    /// Desired status STOPPED (and last status STOPPING) from here.
    requested_at: Instant,
    /// Last status STOPPED from here; the instance's resources are free again.
    stopped_at: Instant,
    cause: StopCause,
    reason: String,
}

#[derive(Debug, Clone)]
pub(crate) struct TaskRecord {
    pub arn: String,
    pub cluster: String,
    pub family: String,
    pub task_definition_arn: String,
    pub container_instance_arn: String,
    pub ec2_instance_id: String,
    pub started_by: Option<String>,
    pub containers: Vec<String>,
    pub reservation: Reservation,
    pub host_ports: Vec<u16>,
    /// The container whose image's behaviour decides the task's fate.
    culprit: String,
    running_at: Option<Instant>,
    /// From when it answers health checks; never when `None`.
    serving_at: Option<Instant>,
    stop: Option<Stop>,
}

impl TaskRecord {
    /// Whether `reference` names this task of `cluster`: its ARN or the ID that ends it.
    pub fn is(&self, cluster: &str, reference: &str) -> bool {
        self.cluster == cluster
            && (self.arn == reference || self.arn.rsplit('/').next() == Some(reference))
    }

    pub fn last_status(&self, t: Instant) -> &'static str {
        if let Some(stop) = &self.stop {
            if t >= stop.stopped_at {
                return STOPPED;
            }
            if t >= stop.requested_at {
                return STOPPING;
            }
        }
        match self.running_at {
            Some(r) if t >= r => RUNNING,
            _ => PENDING,
        }
    }

    fn stop_requested(&self, t: Instant) -> bool {
        self.stop.as_ref().is_some_and(|s| t >= s.requested_at)
    }

    pub fn desired_status(&self, t: Instant) -> &'static str {
        if self.stop_requested(t) {
            STOPPED
        } else {
            RUNNING
        }
    }

    pub fn holds_resources(&self, t: Instant) -> bool {
        self.last_status(t) != STOPPED
    }

    /// Whether it answers on host `port` at `t`.
    pub fn serves(&self, port: u16, t: Instant) -> bool {
        self.last_status(t) == RUNNING
            && self.host_ports.contains(&port)
            && self.serving_at.is_some_and(|s| t >= s)
    }

    /// Asks it to stop (StopTask). Returns false when it was already stopping or stopped.
    pub fn request_stop(&mut self, now: Instant, shutdown: Duration, reason: &str) -> bool {
        self.end(
            now,
            now + shutdown,
            StopCause::Requested,
            if reason.is_empty() {
                "Task stopped by user"
            } else {
                reason
            },
        )
    }

    /// Its essential container exits 1 now, as if the app crashed.
    pub fn crash(&mut self, now: Instant) -> bool {
        self.end(now, now, StopCause::Crashed, ESSENTIAL_CONTAINER_EXITED)
    }

    fn end(
        &mut self,
        requested_at: Instant,
        stopped_at: Instant,
        cause: StopCause,
        reason: &str,
    ) -> bool {
        if self.stop_requested(requested_at) {
            return false;
        }
        self.stop = Some(Stop {
            requested_at,
            stopped_at,
            cause,
            reason: reason.to_string(),
        });
        true
    }

    /// The task as DescribeTasks shows it at `t`.
    pub fn describe(&self, t: Instant) -> Task {
        let last_status = self.last_status(t);
        let stop = self.stop.as_ref().filter(|s| t >= s.requested_at);
        let cause = stop.filter(|_| last_status == STOPPED).map(|s| s.cause);
        let container_status = match last_status {
            STOPPED => STOPPED,
            STOPPING | RUNNING => RUNNING,
            _ => PENDING,
        };
        let containers = self
            .containers
            .iter()
            .map(|name| {
                let culprit = *name == self.culprit;
                ContainerState {
                    name: name.clone(),
                    last_status: Some(container_status.to_string()),
                    exit_code: match cause {
                        Some(StopCause::Requested) => Some(0),
                        Some(StopCause::Crashed) if culprit => Some(1),
                        _ => None,
                    },
                    reason: match cause {
                        Some(StopCause::FailedToStart) if culprit => stop.map(|s| s.reason.clone()),
                        _ => None,
                    },
                }
            })
            .collect();
        Task {
            arn: self.arn.clone(),
            task_definition_arn: self.task_definition_arn.clone(),
            container_instance_arn: Some(self.container_instance_arn.clone()),
            last_status: last_status.to_string(),
            desired_status: self.desired_status(t).to_string(),
            started_by: self.started_by.clone(),
            stopped_reason: stop.map(|s| s.reason.clone()),
            containers,
            group: Some(format!("family:{}", self.family)),
            network_bindings: Vec::new(),
            private_ipv4: None,
            launch_type: Some("EC2".into()),
        }
    }
}

impl World {
    /// StartTask: places a task of `task_definition` on `container_instance`, refusing it when
    /// the instance lacks CPU, memory or a host port. It turns RUNNING after `start_delay`.
    pub(crate) fn start_task(
        &mut self,
        cluster: &str,
        task_definition: &str,
        container_instance: &str,
        started_by: Option<&str>,
        now: Instant,
        start_delay: Duration,
    ) -> Result<Task, Fail> {
        let revision = self.task_definitions.describe(task_definition)?;
        if !is_active(revision) {
            return Err(Fail::invalid(format!(
                "ClientException: task definition {} is INACTIVE",
                revision.name()
            )));
        }
        let td = TaskDefinition::from_revision(revision);
        let (task_definition_arn, family) = (revision.arn.clone(), revision.family.clone());
        let instance = self
            .cluster(cluster)?
            .instance(container_instance)
            .ok_or_else(|| {
                Fail::invalid(format!(
                    "MISSING: container instance {container_instance} is not in cluster {cluster}"
                ))
            })?;
        let (reservation, host_ports) = (td.reservation(), td.static_host_ports());
        instance.check_placement(&self.tasks, reservation, &host_ports, now)?;
        let (container_instance_arn, ec2_instance_id) =
            (instance.arn.clone(), instance.ec2_instance_id.clone());
        let containers = td.container_names();
        let (culprit, behaviour) = containers
            .iter()
            .map(|name| {
                (
                    name.clone(),
                    self.images
                        .behaviour_of(td.image_of(name).unwrap_or_default()),
                )
            })
            .max_by_key(|(_, b)| b.severity())
            .ok_or_else(|| Fail::invalid("the task definition has no containers"))?;

        let starts = now + start_delay;
        let (running_at, serving_at, stop) = match behaviour {
            Behaviour::Healthy => (Some(starts), Some(starts), None),
            Behaviour::SlowStart(boot) => (Some(starts), Some(starts + boot), None),
            Behaviour::FailsHealthCheck => (Some(starts), None, None),
            Behaviour::CrashAfter(life) => {
                let at = starts + life;
                let stop = Stop {
                    requested_at: at,
                    stopped_at: at,
                    cause: StopCause::Crashed,
                    reason: ESSENTIAL_CONTAINER_EXITED.into(),
                };
                (Some(starts), Some(starts), Some(stop))
            }
            Behaviour::FailsToStart(reason) => {
                let stop = Stop {
                    requested_at: starts,
                    stopped_at: starts,
                    cause: StopCause::FailedToStart,
                    reason,
                };
                (None, None, Some(stop))
            }
        };
        let arn = format!(
            "arn:aws:ecs:{REGION}:{ACCOUNT}:task/{cluster}/{:032x}",
            self.next_serial()
        );
        let task = TaskRecord {
            arn,
            cluster: cluster.to_string(),
            family,
            task_definition_arn,
            container_instance_arn,
            ec2_instance_id,
            started_by: started_by.filter(|s| !s.is_empty()).map(String::from),
            containers,
            reservation,
            host_ports,
            culprit,
            running_at,
            serving_at,
            stop,
        };
        let described = task.describe(now);
        self.tasks.push(task);
        Ok(described)
    }

    /// A task of `cluster` by ARN or by the ID at the end of its ARN.
    pub(crate) fn task_mut(
        &mut self,
        cluster: &str,
        reference: &str,
    ) -> Result<&mut TaskRecord, Fail> {
        self.cluster(cluster)?;
        self.tasks
            .iter_mut()
            .find(|t| t.is(cluster, reference))
            .ok_or_else(|| {
                Fail::not_found(format!(
                    "InvalidParameterException: the referenced task {reference} was not found"
                ))
            })
    }

    /// StopTask. Stopping a task a load balancer may still send requests to is allowed, as in
    /// ECS, but recorded as an interruption.
    pub(crate) fn stop_task(
        &mut self,
        cluster: &str,
        reference: &str,
        reason: &str,
        now: Instant,
    ) -> Result<(), Fail> {
        let shutdown = self.timings.task_stop;
        let task = self.task_mut(cluster, reference)?;
        let serving: Vec<u16> = task
            .host_ports
            .iter()
            .copied()
            .filter(|p| task.serves(*p, now))
            .collect();
        let (task_arn, instance_id) = (task.arn.clone(), task.ec2_instance_id.clone());
        if !task.request_stop(now, shutdown, reason) {
            return Ok(());
        }
        let at = self.elapsed(now);
        let cut: Vec<Interruption> = self
            .load_balancers
            .values()
            .filter(|lb| {
                lb.receives_traffic(&instance_id)
                    && lb.health_port().is_some_and(|p| serving.contains(&p))
            })
            .map(|lb| Interruption {
                at,
                load_balancer: lb.name.clone(),
                instance_id: instance_id.clone(),
                task_arn: task_arn.clone(),
            })
            .collect();
        self.interruptions.extend(cut);
        Ok(())
    }
}
