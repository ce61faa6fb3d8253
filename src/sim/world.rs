//! The whole simulated account in one struct, kept behind one mutex by `Sim`.
//!
//! Nothing here runs in the background: tasks store the instants at which they change state,
//! and load balancers replay the health checks due up to `now` when something observes them
//! (`settle`). A future service scheduler or target-group health belongs in `settle` too.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::cluster::Cluster;
use super::faults::Faults;
use super::load_balancer::LoadBalancer;
use super::task::{Behaviour, TaskRecord};
use super::task_definition::TaskDefinitions;
use super::timings::Timings;
use crate::platform::ApiErrorKind;

pub(crate) const REGION: &str = "us-east-1";
pub(crate) const ACCOUNT: &str = "123456789012";

/// An API call as the simulation saw it, for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCall {
    /// Virtual time since the simulation was built.
    pub at: Duration,
    /// The AWS operation name, e.g. `StartTask`, `DescribeInstanceHealth`.
    pub operation: &'static str,
    /// The error it returned, injected or not.
    pub error: Option<ApiErrorKind>,
}

/// A task stopped while a load balancer could still send it requests (its instance InService,
/// or deregistering with connections still draining): requests in flight were cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interruption {
    pub at: Duration,
    pub load_balancer: String,
    pub instance_id: String,
    pub task_arn: String,
}

/// Why an operation was refused; `Sim::call` adds the operation name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fail {
    pub kind: ApiErrorKind,
    pub message: String,
}

impl Fail {
    pub fn new(kind: ApiErrorKind, message: impl Into<String>) -> Fail {
        Fail {
            kind,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Fail {
        Fail::new(ApiErrorKind::InvalidRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> Fail {
        Fail::new(ApiErrorKind::NotFound, message)
    }
}

/// What each image does when ECS runs it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Images {
    pub default: Behaviour,
    pub by_image: BTreeMap<String, Behaviour>,
}

impl Images {
    pub fn behaviour_of(&self, image: &str) -> Behaviour {
        self.by_image.get(image).unwrap_or(&self.default).clone()
    }
}

pub(crate) struct World {
    pub epoch: Instant,
    pub timings: Timings,
    pub clusters: BTreeMap<String, Cluster>,
    pub task_definitions: TaskDefinitions,
    /// Every task ever started, in start order; STOPPED ones stay describable.
    pub tasks: Vec<TaskRecord>,
    pub images: Images,
    pub load_balancers: BTreeMap<String, LoadBalancer>,
    pub faults: Faults,
    pub calls: Vec<ApiCall>,
    pub interruptions: Vec<Interruption>,
    serial: u64,
}

impl World {
    pub fn new(epoch: Instant, timings: Timings, images: Images, seed: u64) -> World {
        World {
            epoch,
            timings,
            clusters: BTreeMap::new(),
            task_definitions: TaskDefinitions::default(),
            tasks: Vec::new(),
            images,
            load_balancers: BTreeMap::new(),
            faults: Faults::new(seed),
            calls: Vec::new(),
            interruptions: Vec::new(),
            serial: 0,
        }
    }

    pub fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.epoch)
    }

    /// A fresh identifier: deterministic, so runs and their logs compare equal.
    pub fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    /// Brings everything that is evaluated step by step up to `now`. Every observation and
    /// every change calls it first, so a health check due at `now` sees the world as it was
    /// before the call.
    pub fn settle(&mut self, now: Instant) {
        let tasks = &self.tasks;
        for lb in self.load_balancers.values_mut() {
            lb.settle(now, |instance_id, port, t| {
                serves(tasks, instance_id, port, t)
            });
        }
    }

    pub fn cluster(&self, name: &str) -> Result<&Cluster, Fail> {
        self.clusters.get(name).ok_or_else(|| {
            Fail::not_found(format!(
                "ClusterNotFoundException: cluster {name} not found"
            ))
        })
    }

    /// The availability zone of a known EC2 instance.
    pub fn availability_zone_of(&self, ec2_instance_id: &str) -> Option<&str> {
        self.clusters
            .values()
            .flat_map(|c| &c.instances)
            .find(|i| i.ec2_instance_id == ec2_instance_id)
            .map(|i| i.availability_zone.as_str())
    }

    /// Instances InService on any load balancer (each counted once).
    pub fn in_service_count(&self) -> usize {
        self.count_instances(|lb, id| lb.is_in_service(id))
    }

    /// Instances InService on a load balancer and answering on its health-check port right
    /// now: the capacity that actually serves the app.
    pub fn serving_count(&self, now: Instant) -> usize {
        let tasks = &self.tasks;
        self.count_instances(|lb, id| {
            lb.is_in_service(id)
                && lb
                    .health_port()
                    .is_some_and(|port| serves(tasks, id, port, now))
        })
    }

    fn count_instances(&self, counts: impl Fn(&LoadBalancer, &str) -> bool) -> usize {
        let mut ids: Vec<&str> = self
            .load_balancers
            .values()
            .flat_map(|lb| {
                lb.registered_ids()
                    .filter(|id| counts(lb, id))
                    .collect::<Vec<_>>()
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    pub fn log_call(&mut self, operation: &'static str, now: Instant, error: Option<ApiErrorKind>) {
        let at = self.elapsed(now);
        self.calls.push(ApiCall {
            at,
            operation,
            error,
        });
    }
}

/// Whether a task on the EC2 instance answers on host `port` at `t`.
pub(crate) fn serves(tasks: &[TaskRecord], ec2_instance_id: &str, port: u16, t: Instant) -> bool {
    tasks
        .iter()
        .any(|task| task.ec2_instance_id == ec2_instance_id && task.serves(port, t))
}
