//! The whole simulated account in one struct, kept behind one mutex by `Sim`.
//!
//! Nothing here runs in the background: tasks store the instants at which they change state,
//! and load balancers replay the health checks due up to `now` when something observes them
//! (`settle`). Service schedulers react to what they see, so when there are services `settle`
//! walks through every instant at which something changes (a task starts, stops or boots, a
//! health check is due, a target finishes draining, a scheduler timer fires) and lets the
//! schedulers act at each, in order, as ECS would have.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::cluster::Cluster;
use super::faults::{Faults, XorShift};
use super::load_balancer::LoadBalancer;
use super::service::ServiceRecord;
use super::target_group::{TargetGroupRecord, TargetType};
use super::task::{Behaviour, TaskRecord};
use super::task_definition::TaskDefinitions;
use super::timings::Timings;
use crate::platform::ApiErrorKind;

pub(crate) const REGION: &str = "us-east-1";
pub(crate) const ACCOUNT: &str = "123456789012";

/// 2026-01-01T00:00:00Z: virtual time zero on the simulated wall clock.
pub(crate) const WALL_CLOCK_EPOCH: u64 = 1_767_225_600;

/// The simulated wall clock at `t`, RFC 3339 to the second, as ECS timestamps events.
pub(crate) fn wall_clock(epoch: Instant, t: Instant) -> String {
    let at = SystemTime::UNIX_EPOCH
        + Duration::from_secs(WALL_CLOCK_EPOCH)
        + t.saturating_duration_since(epoch);
    humantime::format_rfc3339_seconds(at).to_string()
}

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
    /// What a container of the image writes to its log when it runs.
    pub logs: BTreeMap<String, Vec<String>>,
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
    /// By ARN.
    pub target_groups: BTreeMap<String, TargetGroupRecord>,
    /// By (cluster, service name).
    pub services: BTreeMap<(String, String), ServiceRecord>,
    /// Whether DescribeServiceDeployments exists (newer ECS) or not (moto).
    pub supports_service_deployments: bool,
    pub faults: Faults,
    pub calls: Vec<ApiCall>,
    pub interruptions: Vec<Interruption>,
    /// What one-off commands do, and the CloudWatch Logs they write.
    pub one_offs: super::one_off::OneOffs,
    /// CloudWatch alarms by name.
    pub alarms: super::alarms::AlarmBook,
    serial: u64,
    /// Deployment and event ids: random-looking, the same for the same seed.
    ids: XorShift,
    /// How far `settle` has brought the world.
    clock: Instant,
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
            target_groups: BTreeMap::new(),
            services: BTreeMap::new(),
            supports_service_deployments: true,
            faults: Faults::new(seed),
            calls: Vec::new(),
            interruptions: Vec::new(),
            one_offs: Default::default(),
            alarms: Default::default(),
            serial: 0,
            ids: XorShift::new(seed ^ 0xD1B5_4A32_D192_ED03),
            clock: epoch,
        }
    }

    /// A random-looking number for ids, deterministic for a seed.
    pub fn next_id(&mut self) -> u64 {
        self.ids.next_u64()
    }

    /// The simulated wall clock at `t`.
    pub fn wall_clock(&self, t: Instant) -> String {
        wall_clock(self.epoch, t)
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
    ///
    /// The schedulers act only where something changed: at those instants, and (`react`) right
    /// after a call or helper changed the world. Between them nothing they look at changes, so
    /// how often the world is observed makes no difference.
    pub fn settle(&mut self, now: Instant) {
        if !self.services.is_empty() {
            while let Some(t) = self.next_event().filter(|t| *t <= now) {
                self.settle_load_balancers(t);
                self.run_service_schedulers(t);
                self.clock = t;
            }
        }
        self.settle_load_balancers(now);
        self.clock = self.clock.max(now);
    }

    /// After a change at `now`: the schedulers react at once.
    pub fn react(&mut self, now: Instant) {
        self.settle(now);
        self.run_service_schedulers(now);
    }

    /// Health checks due up to `t`, and draining that ended.
    fn settle_load_balancers(&mut self, t: Instant) {
        let tasks = &self.tasks;
        for lb in self.load_balancers.values_mut() {
            lb.settle(t, |instance_id, port, at| {
                serves(tasks, instance_id, port, at)
            });
        }
        for tg in self.target_groups.values_mut() {
            let target_type = tg.spec.target_type;
            tg.settle(t, |id, port, at| {
                target_answers(tasks, target_type, id, port, at)
            });
        }
    }

    /// The first instant after the last step at which something changes by itself.
    fn next_event(&self) -> Option<Instant> {
        let tasks = self.tasks.iter().flat_map(|t| t.transitions());
        let lbs = self
            .load_balancers
            .values()
            .filter_map(|lb| lb.next_event());
        let tgs = self.target_groups.values().filter_map(|tg| tg.next_event());
        let timers = self
            .services
            .values()
            .flat_map(|s| s.timers(&self.tasks, self.clock));
        let alarms = self.next_alarm_change(self.clock);
        tasks
            .chain(lbs)
            .chain(tgs)
            .chain(timers)
            .chain(alarms)
            .filter(|t| *t > self.clock)
            .min()
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
    tasks.iter().any(|task| {
        task.ec2_instance_id.as_deref() == Some(ec2_instance_id) && task.serves(port, t)
    })
}

/// Whether a task answers at a target group's target (`id`, `port`) at `t`.
pub(crate) fn target_answers(
    tasks: &[TaskRecord],
    target_type: TargetType,
    id: &str,
    port: u16,
    t: Instant,
) -> bool {
    match target_type {
        TargetType::Instance => serves(tasks, id, port, t),
        TargetType::Ip => tasks.iter().any(|task| {
            task.private_ipv4.as_deref() == Some(id) && task.serves_at_address(port, t)
        }),
    }
}
