//! Tasks: what they hold on their container instance, and their lifecycle as a function of
//! virtual time. A task stores the instants at which it changes state, so its status at any
//! moment is computed, never stepped.

use std::time::Duration;

use tokio::time::Instant;

use super::placement::{LaunchType, bind_ports, port_mappings};
use super::task_definition::is_active;
use super::world::{ACCOUNT, Fail, Interruption, REGION, World};
use crate::platform::{ContainerState, NetworkBinding, Task};
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
const DEACTIVATING: &str = "DEACTIVATING";
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
    /// A one-off task's command ended: the culprit container exited with this code (and
    /// reason, for an OOM kill), the others were stopped and exited 0.
    Exited(i32, Option<&'static str>),
}

#[derive(Debug, Clone)]
struct Stop {
    /// Desired status STOPPED from here; last status DEACTIVATING while the service scheduler
    /// waits for its load balancers to drain, then STOPPING.
    requested_at: Instant,
    /// Last status STOPPING (SIGTERM sent) from here.
    deactivated_at: Instant,
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
    /// None on Fargate.
    pub container_instance_arn: Option<String>,
    pub ec2_instance_id: Option<String>,
    pub launch_type: LaunchType,
    /// `service:NAME` or `family:NAME`.
    pub group: String,
    pub started_by: Option<String>,
    pub containers: Vec<String>,
    pub reservation: Reservation,
    /// TCP host ports it takes on its instance (static and dynamically bound).
    pub host_ports: Vec<u16>,
    /// Host port of each mapping bound on the instance (bridge/host mode).
    pub bindings: Vec<NetworkBinding>,
    /// Container ports it answers on at its own address (awsvpc mode).
    pub container_ports: Vec<(String, u16)>,
    pub private_ipv4: Option<String>,
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
            if t >= stop.deactivated_at {
                return STOPPING;
            }
            if t >= stop.requested_at {
                // A task that never ran has no connections to drain.
                return if self.running_at.is_some_and(|r| r <= stop.requested_at) {
                    DEACTIVATING
                } else {
                    STOPPING
                };
            }
        }
        match self.running_at {
            Some(r) if t >= r => RUNNING,
            _ => PENDING,
        }
    }

    pub fn stop_requested(&self, t: Instant) -> bool {
        self.stop.as_ref().is_some_and(|s| t >= s.requested_at)
    }

    /// RUNNING and not asked to stop.
    pub fn is_running(&self, t: Instant) -> bool {
        self.last_status(t) == RUNNING
    }

    /// PENDING and not asked to stop.
    pub fn is_pending(&self, t: Instant) -> bool {
        self.last_status(t) == PENDING
    }

    pub fn is_stopped(&self, t: Instant) -> bool {
        self.last_status(t) == STOPPED
    }

    pub fn running_at(&self) -> Option<Instant> {
        self.running_at
    }

    /// When it went (or goes) STOPPED, if it is asked to stop.
    pub fn stopped_at(&self) -> Option<Instant> {
        self.stop.as_ref().map(|s| s.stopped_at)
    }

    /// Every instant at which its state changes, for the world's stepping.
    pub fn transitions(&self) -> impl Iterator<Item = Instant> + '_ {
        let stop = self
            .stop
            .iter()
            .flat_map(|s| [s.requested_at, s.deactivated_at, s.stopped_at]);
        self.running_at
            .into_iter()
            .chain(self.serving_at)
            .chain(stop)
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

    /// Whether the app answers at `t`: RUNNING, or still finishing requests while its load
    /// balancers drain (DEACTIVATING), and past its boot.
    pub fn answers(&self, t: Instant) -> bool {
        matches!(self.last_status(t), RUNNING | DEACTIVATING)
            && self.serving_at.is_some_and(|s| t >= s)
    }

    /// Whether it answers on host `port` of its instance at `t`.
    pub fn serves(&self, port: u16, t: Instant) -> bool {
        self.host_ports.contains(&port) && self.answers(t)
    }

    /// Whether it answers on `container_port` at its own address (awsvpc) at `t`.
    pub fn serves_at_address(&self, container_port: u16, t: Instant) -> bool {
        self.container_ports
            .iter()
            .any(|(_, p)| *p == container_port)
            && self.answers(t)
    }

    /// The host port the container's `container_port` is bound to on the instance.
    pub fn host_port_of(&self, container: &str, container_port: u16) -> Option<u16> {
        self.bindings
            .iter()
            .find(|b| b.container_name == container && b.container_port == container_port)
            .map(|b| b.host_port)
    }

    /// Asks it to stop (StopTask). Returns false when it was already stopping or stopped.
    pub fn request_stop(&mut self, now: Instant, shutdown: Duration, reason: &str) -> bool {
        self.deactivate(now, now, shutdown, reason)
    }

    /// The service scheduler stops it: DEACTIVATING until `drained` (its load balancers are
    /// done draining it), then SIGTERM and `shutdown` to exit.
    pub fn deactivate(
        &mut self,
        now: Instant,
        drained: Instant,
        shutdown: Duration,
        reason: &str,
    ) -> bool {
        let drained = drained.max(now);
        self.end(
            now,
            drained,
            drained + shutdown,
            StopCause::Requested,
            if reason.is_empty() {
                "Task stopped by user"
            } else {
                reason
            },
        )
    }

    /// A one-off task's command in `container` ends `after` RUNNING with `code` (and
    /// `reason`, for an OOM kill). Nothing changes for a task that never runs.
    pub fn exits_after(
        &mut self,
        container: &str,
        after: Duration,
        code: i32,
        reason: Option<&'static str>,
    ) {
        let Some(running) = self.running_at.filter(|_| self.stop.is_none()) else {
            return;
        };
        self.culprit = container.to_string();
        let at = running + after;
        self.end(
            at,
            at,
            at,
            StopCause::Exited(code, reason),
            ESSENTIAL_CONTAINER_EXITED,
        );
    }

    /// Its essential container exits 1 now, as if the app crashed.
    pub fn crash(&mut self, now: Instant) -> bool {
        self.end(
            now,
            now,
            now,
            StopCause::Crashed,
            ESSENTIAL_CONTAINER_EXITED,
        )
    }

    fn end(
        &mut self,
        requested_at: Instant,
        deactivated_at: Instant,
        stopped_at: Instant,
        cause: StopCause,
        reason: &str,
    ) -> bool {
        if self.stop_requested(requested_at) {
            return false;
        }
        self.stop = Some(Stop {
            requested_at,
            deactivated_at,
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
            STOPPING | DEACTIVATING | RUNNING => RUNNING,
            _ => PENDING,
        };
        let containers = self
            .containers
            .iter()
            .map(|name| {
                let culprit = *name == self.culprit;
                ContainerState {
                    name: name.clone(),
                    last_status: Some(crate::platform::TaskStatus::parse(container_status)),
                    exit_code: match cause {
                        Some(StopCause::Requested) => Some(0),
                        Some(StopCause::Crashed) if culprit => Some(1),
                        Some(StopCause::Exited(code, _)) if culprit => Some(code),
                        Some(StopCause::Exited(..)) => Some(0),
                        _ => None,
                    },
                    reason: match cause {
                        Some(StopCause::FailedToStart) if culprit => stop.map(|s| s.reason.clone()),
                        Some(StopCause::Exited(_, reason)) if culprit => reason.map(String::from),
                        _ => None,
                    },
                }
            })
            .collect();
        Task {
            arn: self.arn.clone(),
            task_definition_arn: self.task_definition_arn.clone(),
            container_instance_arn: self.container_instance_arn.clone(),
            last_status: crate::platform::TaskStatus::parse(last_status),
            desired_status: crate::platform::TaskStatus::parse(self.desired_status(t)),
            started_by: self.started_by.clone(),
            // ECS's stop codes for the three ways a simulated task stops.
            stop_code: cause.map(|c| {
                match c {
                    StopCause::Requested => "UserInitiated",
                    StopCause::Crashed | StopCause::Exited(..) => "EssentialContainerExited",
                    StopCause::FailedToStart => "TaskFailedToStart",
                }
                .to_string()
            }),
            stopped_reason: stop.map(|s| s.reason.clone()),
            containers,
            group: Some(self.group.clone()),
            network_bindings: self.bindings.clone(),
            private_ipv4: self.private_ipv4.clone(),
            launch_type: Some(self.launch_type.as_str().into()),
        }
    }
}

/// Where a new task goes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Host<'a> {
    /// A container instance, by ARN or ID.
    Instance(&'a str),
    Fargate,
}

/// Everything a new task needs besides its task definition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Launch<'a> {
    pub cluster: &'a str,
    pub host: Host<'a>,
    pub started_by: Option<&'a str>,
    /// `service:NAME`; None for a standalone task (`family:NAME`).
    pub group: Option<&'a str>,
    /// PENDING for this long, then RUNNING (or STOPPED, for an image that fails to start).
    pub start_delay: Duration,
    /// A service keeps starting tasks of a revision deregistered after it was deployed;
    /// StartTask refuses one.
    pub inactive_ok: bool,
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
        let launch = Launch {
            cluster,
            host: Host::Instance(container_instance),
            started_by,
            group: None,
            start_delay,
            inactive_ok: false,
        };
        let index = self.launch(task_definition, launch, now)?;
        Ok(self.tasks[index].describe(now))
    }

    /// Starts a task: checks the revision and, on an instance, that it fits; binds its ports
    /// or gives it an address; fixes its fate from its images' behaviours. Returns its index
    /// in `tasks`.
    pub(crate) fn launch(
        &mut self,
        task_definition: &str,
        launch: Launch,
        now: Instant,
    ) -> Result<usize, Fail> {
        let cluster = launch.cluster;
        let revision = self.task_definitions.describe(task_definition)?;
        if !is_active(revision) && !launch.inactive_ok {
            return Err(Fail::invalid(format!(
                "ClientException: task definition {} is INACTIVE",
                revision.name()
            )));
        }
        let td = TaskDefinition::from_revision(revision);
        let mappings = port_mappings(&revision.body);
        let (task_definition_arn, family) = (revision.arn.clone(), revision.family.clone());
        let awsvpc = td.network_mode() == "awsvpc";
        let reservation = td.reservation();
        let (instance, bindings) = match launch.host {
            Host::Instance(reference) => {
                let instance = self.cluster(cluster)?.instance(reference).ok_or_else(|| {
                    Fail::invalid(format!(
                        "MISSING: container instance {reference} is not in cluster {cluster}"
                    ))
                })?;
                instance.check_placement(&self.tasks, reservation, &td.static_host_ports(), now)?;
                let used = instance.describe(&self.tasks, now).used_ports;
                let ids = (instance.arn.clone(), instance.ec2_instance_id.clone());
                (Some(ids), bind_ports(&mappings, &used))
            }
            Host::Fargate => {
                self.cluster(cluster)?;
                if !awsvpc {
                    return Err(Fail::invalid(
                        "InvalidParameterException: Task definition does not support launch_type FARGATE.",
                    ));
                }
                (None, Vec::new())
            }
        };
        let host_ports = bindings
            .iter()
            .filter(|b| {
                mappings.iter().any(|m| {
                    m.tcp && m.container == b.container_name && m.container_port == b.container_port
                })
            })
            .map(|b| b.host_port)
            .collect();
        let container_ports = mappings
            .iter()
            .filter(|_| awsvpc)
            .map(|m| (m.container.clone(), m.container_port))
            .collect();
        let private_ipv4 = awsvpc.then(|| self.next_private_ip());
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

        let starts = now + launch.start_delay;
        let ended = |at: Instant, cause: StopCause, reason: String| Stop {
            requested_at: at,
            deactivated_at: at,
            stopped_at: at,
            cause,
            reason,
        };
        let (running_at, serving_at, stop) = match behaviour {
            Behaviour::Healthy => (Some(starts), Some(starts), None),
            Behaviour::SlowStart(boot) => (Some(starts), Some(starts + boot), None),
            Behaviour::FailsHealthCheck => (Some(starts), None, None),
            Behaviour::CrashAfter(life) => {
                let crash = ended(
                    starts + life,
                    StopCause::Crashed,
                    ESSENTIAL_CONTAINER_EXITED.into(),
                );
                (Some(starts), Some(starts), Some(crash))
            }
            Behaviour::FailsToStart(reason) => (
                None,
                None,
                Some(ended(starts, StopCause::FailedToStart, reason)),
            ),
        };
        let arn = format!(
            "arn:aws:ecs:{REGION}:{ACCOUNT}:task/{cluster}/{:032x}",
            self.next_serial()
        );
        let (container_instance_arn, ec2_instance_id) = instance.unzip();
        self.tasks.push(TaskRecord {
            arn,
            cluster: cluster.to_string(),
            group: launch
                .group
                .map_or_else(|| format!("family:{family}"), String::from),
            family,
            task_definition_arn,
            launch_type: if container_instance_arn.is_some() {
                LaunchType::Ec2
            } else {
                LaunchType::Fargate
            },
            container_instance_arn,
            ec2_instance_id,
            started_by: launch
                .started_by
                .filter(|s| !s.is_empty())
                .map(String::from),
            containers,
            reservation,
            host_ports,
            bindings,
            container_ports,
            private_ipv4,
            culprit,
            running_at,
            serving_at,
            stop,
        });
        self.write_image_logs(self.tasks.len() - 1);
        Ok(self.tasks.len() - 1)
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
        let endpoints = task.endpoints_serving(now);
        let (task_arn, instance_id) = (task.arn.clone(), task.ec2_instance_id.clone());
        if !task.request_stop(now, shutdown, reason) {
            return Ok(());
        }
        let at = self.elapsed(now);
        let interruption = |load_balancer: &str, id: &str| Interruption {
            at,
            load_balancer: load_balancer.to_string(),
            instance_id: id.to_string(),
            task_arn: task_arn.clone(),
        };
        let mut cut: Vec<Interruption> = Vec::new();
        if let Some(id) = &instance_id {
            cut.extend(
                self.load_balancers
                    .values()
                    .filter(|lb| {
                        lb.receives_traffic(id)
                            && lb.health_port().is_some_and(|p| serving.contains(&p))
                    })
                    .map(|lb| interruption(&lb.name, id)),
            );
        }
        for tg in self.target_groups.values() {
            cut.extend(
                endpoints
                    .iter()
                    .filter(|(id, port)| tg.receives_traffic(id, *port))
                    .map(|(id, _)| interruption(&tg.name, id)),
            );
        }
        self.interruptions.extend(cut);
        Ok(())
    }
}

impl TaskRecord {
    /// The (target id, port) pairs it answers on at `now`: instance id and host port, or its
    /// address and container port. A target group registers one of these.
    fn endpoints_serving(&self, now: Instant) -> Vec<(String, u16)> {
        let on_instance = self.ec2_instance_id.iter().flat_map(|id| {
            self.host_ports
                .iter()
                .filter(|p| self.serves(**p, now))
                .map(|p| (id.clone(), *p))
        });
        let at_address = self.private_ipv4.iter().flat_map(|ip| {
            self.container_ports
                .iter()
                .filter(|(_, p)| self.serves_at_address(*p, now))
                .map(|(_, p)| (ip.clone(), *p))
        });
        on_instance.chain(at_address).collect()
    }
}
