//! An in-process ECS (EC2 launch type, standalone tasks) and classic ELB, for tests and
//! benchmarks of whole deploys under tokio's paused clock.
//!
//! All time is `tokio::time::Instant::now()`. Nothing runs in the background: the world is a
//! function of virtual time, computed when an API call (or a test helper) observes it. A task
//! stores when it turns RUNNING, starts answering, and stops; a load balancer replays the health
//! checks due since it was last looked at.
//!
//! ```no_run
//! # async fn scenario() {
//! use std::time::Duration;
//! use ecs_roll::platform::{ClassicElb, Ecs, HealthCheck};
//! use ecs_roll::sim::{Behaviour, Sim, health_check};
//!
//! let sim = Sim::builder()
//!     .instances(3)
//!     .elb("cb-prototype-elb", HealthCheck {
//!         interval: Duration::from_secs(5),
//!         healthy_threshold: 2,
//!         ..health_check("HTTP:5555/testme")
//!     })
//!     .draining(Duration::from_secs(60))
//!     .task_definition(serde_json::json!({
//!         "family": "cb-prototype",
//!         "containerDefinitions": [{
//!             "name": "app", "image": "app:v1", "memory": 256,
//!             "portMappings": [{ "containerPort": 5555, "hostPort": 5555 }]
//!         }]
//!     }))
//!     .tasks_on_each_instance()
//!     .build();
//! sim.set_image_behaviour("app:v2", Behaviour::CrashAfter(Duration::from_secs(20)));
//! let capacity = sim.spawn_sampler(Duration::from_secs(1));
//! let (ecs, elb) = (sim.ecs(), sim.elb()); // hand these to the engine
//! # let _ = (ecs, elb);
//! assert!(capacity.stop().min_serving() > Some(0));
//! # }
//! ```
//!
//! Service mode: `SimBuilder::service` adds an ECS service (EC2 or Fargate, behind a target
//! group and/or a classic load balancer) already steady; `Sim::services` and
//! `Sim::target_groups` are the `EcsServices` and `TargetGroups` sides. The service scheduler
//! runs inside `settle`, at every instant something changes, so UpdateService, the rolling or
//! blue/green replacement, the circuit breaker and rollbacks all play out in virtual time.
//!
//! ```no_run
//! # async fn scenario() {
//! use std::time::Duration;
//! use ecs_roll::platform::{Ecs, EcsServices, ServiceUpdate};
//! use ecs_roll::sim::{ServiceSpec, Sim, TargetGroupSpec, deployment_configuration};
//!
//! let web = |image: &str| serde_json::json!({
//!     "family": "web",
//!     "containerDefinitions": [{
//!         "name": "app", "image": image, "memory": 256,
//!         "portMappings": [{ "containerPort": 8080 }]  // dynamic host port
//!     }]
//! });
//! let sim = Sim::builder()
//!     .instances(3)
//!     .target_group("web", TargetGroupSpec {
//!         interval: Duration::from_secs(5),
//!         healthy_threshold: 2,
//!         deregistration_delay: Duration::from_secs(30),
//!         ..TargetGroupSpec::default()
//!     })
//!     .service("web", ServiceSpec {
//!         desired: 3,
//!         task_definition: web("app:v1"),
//!         target_group: Some("web".into()),
//!         deployment_configuration: deployment_configuration(200, 100),
//!         ..ServiceSpec::default()
//!     })
//!     .build();
//! let capacity = sim.spawn_service_sampler("default", "web", Duration::from_secs(1));
//! let v2 = sim.ecs().register_task_definition(&web("app:v2"), &Default::default()).await.unwrap();
//! let update = ServiceUpdate { task_definition: Some(v2.arn), ..Default::default() };
//! sim.services().update_service("default", "web", &update).await.unwrap();
//! tokio::time::sleep(Duration::from_secs(60)).await; // ECS replaces the tasks meanwhile
//! assert_eq!(sim.service("default", "web").unwrap().deployments.len(), 1);
//! assert_eq!(capacity.stop().min_serving(), Some(3));
//! # }
//! ```
//!
//! Files follow ECS's vocabulary: `cluster` (container instances), `placement` (where tasks
//! go, ports, addresses), `task`, `task_definition`, `load_balancer` (classic ELB health and
//! draining), `target_group` (ALB/NLB targets), `service` (the service, UpdateService),
//! `deployment` (rollout state, stages), `scheduler` (what ECS does on its own) with its
//! strategies `rolling_update` and `blue_green`, `service_deployment`
//! (DescribeServiceDeployments), `faults`, the trait impls in `ecs_api` / `elb_api` /
//! `service_api` / `target_group_api`, `sampler`,
//! `world` (the one state struct) and `builder`.

mod alarms;
mod blue_green;
mod builder;
mod cluster;
mod deployment;
mod ecs_api;
mod elb_api;
mod faults;
mod load_balancer;
mod one_off;
mod placement;
mod registry;
mod rolling_update;
mod sampler;
mod scheduler;
mod service;
mod service_api;
mod service_deployment;
mod tags;
mod target_group;
mod target_group_api;
mod task;
mod task_definition;
mod timings;
mod world;

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

pub use builder::SimBuilder;
pub use cluster::AGENT_PORTS;
pub use faults::Fault;
pub use load_balancer::{DEREGISTERING, FAILED_CHECKS, NOT_YET_HEALTHY, health_check};
pub use one_off::Command;
pub use placement::{DYNAMIC_PORTS_FROM, LaunchType};
pub use registry::MemoryRegistries;
pub use sampler::{CapacityReport, CapacitySample, Sampler};
pub use scheduler::{CIRCUIT_BREAKER_REASON, STOP_REQUEST_REASON};
pub use service::{ServiceSpec, deployment_configuration};
pub use tags::MemoryTags;
pub use target_group::{
    DEREGISTRATION_IN_PROGRESS, FAILED_HEALTH_CHECKS, INITIAL_CHECKS, TargetGroupSpec, TargetType,
};
pub use task::{Behaviour, ESSENTIAL_CONTAINER_EXITED};
pub use timings::Timings;
pub use world::{ApiCall, Interruption};

use crate::platform::{
    ApiError, ApiResult, ClassicElb, Ecs, EcsServices, InstanceHealth, Revision, Service,
    ServiceUpdate, TargetGroups, Task,
};
use world::{Fail, World};

/// A handle on one simulated world; clones share it.
#[derive(Clone)]
pub struct Sim {
    world: Arc<Mutex<World>>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("elapsed", &self.elapsed())
            .finish_non_exhaustive()
    }
}

impl Sim {
    pub fn builder() -> SimBuilder {
        SimBuilder::default()
    }

    /// The ECS side, for the engine.
    pub fn ecs(&self) -> Arc<dyn Ecs> {
        Arc::new(self.clone())
    }

    /// The classic ELB side, for the engine.
    pub fn elb(&self) -> Arc<dyn ClassicElb> {
        Arc::new(self.clone())
    }

    /// CloudWatch alarms, for the engine.
    pub fn alarms(&self) -> Arc<dyn crate::platform::Alarms> {
        Arc::new(self.clone())
    }

    /// The ECS service side, for the engine.
    pub fn services(&self) -> Arc<dyn EcsServices> {
        Arc::new(self.clone())
    }

    /// The ALB/NLB target group side, for the engine.
    pub fn target_groups(&self) -> Arc<dyn TargetGroups> {
        Arc::new(self.clone())
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The world brought up to now, for helpers that observe or change it outside the API.
    fn settled(&self) -> (MutexGuard<'_, World>, Instant) {
        let mut w = self.lock();
        let now = Instant::now();
        w.settle(now);
        (w, now)
    }

    /// One API call: waits the configured latency, brings the world up to now, applies any
    /// injected fault (before `op`, or after it for a lost response), runs `op` and logs the
    /// call.
    async fn call<T>(
        &self,
        operation: &'static str,
        op: impl FnOnce(&mut World, Instant) -> Result<T, Fail>,
    ) -> ApiResult<T> {
        let latency = self.lock().timings.api_latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let (mut w, now) = self.settled();
        let result = match w.faults.check(operation, now) {
            // The call takes effect; its answer is lost on the way back.
            Some(fault) if fault.after_effect => op(&mut w, now).and(Err(fault.fail)),
            Some(fault) => Err(fault.fail),
            None => op(&mut w, now),
        };
        w.log_call(operation, now, result.as_ref().err().map(|f| f.kind));
        result.map_err(|f| ApiError::new(operation, f.kind, f.message))
    }

    /// A call that changes the world (StartTask, UpdateService, ...): like `call`, and when
    /// it succeeds the service schedulers react at once, not when the world is next observed.
    async fn change_call<T>(
        &self,
        operation: &'static str,
        op: impl FnOnce(&mut World, Instant) -> Result<T, Fail>,
    ) -> ApiResult<T> {
        let result = self.call(operation, op).await;
        if result.is_ok() {
            self.lock().react(Instant::now());
        }
        result
    }

    /// A change made outside the API: the world is brought up to now, changed, and the
    /// service schedulers react.
    fn change<T>(&self, op: impl FnOnce(&mut World, Instant) -> T) -> T {
        let (mut w, now) = self.settled();
        let out = op(&mut w, now);
        w.react(now);
        out
    }

    /// Virtual time since the simulation was built.
    pub fn elapsed(&self) -> Duration {
        self.lock().elapsed(Instant::now())
    }

    // Changes to the rules of the world first bring it up to now: what the service scheduler
    // did before now happened under the old rules.

    /// What tasks of `image` started from now on do.
    pub fn set_image_behaviour(&self, image: &str, behaviour: Behaviour) {
        self.settled()
            .0
            .images
            .by_image
            .insert(image.to_string(), behaviour);
    }

    pub fn inject(&self, fault: Fault) {
        let (mut w, now) = self.settled();
        w.faults.inject(fault, now);
    }

    pub fn clear_faults(&self) {
        self.settled().0.faults.clear();
    }

    pub fn reseed(&self, seed: u64) {
        self.settled().0.faults.reseed(seed);
    }

    /// The task's essential container exits 1 now. False when the task is unknown or stopping.
    pub fn crash_task(&self, task_arn: &str) -> bool {
        self.change(|w, now| {
            w.tasks
                .iter_mut()
                .find(|t| t.arn == task_arn)
                .is_some_and(|t| t.crash(now))
        })
    }

    /// Connects or disconnects the ECS agent of an instance (by EC2 instance id).
    pub fn set_agent_connected(&self, ec2_instance_id: &str, connected: bool) {
        self.update_instance(ec2_instance_id, |i| i.agent_connected = connected);
    }

    /// ACTIVE, DRAINING or INACTIVE (by EC2 instance id).
    pub fn set_instance_status(&self, ec2_instance_id: &str, status: &str) {
        self.update_instance(ec2_instance_id, |i| i.status = status.to_string());
    }

    fn update_instance(
        &self,
        ec2_instance_id: &str,
        change: impl FnOnce(&mut cluster::ContainerInstanceRecord),
    ) {
        self.change(|w, _| {
            let instance = w
                .clusters
                .values_mut()
                .flat_map(|c| &mut c.instances)
                .find(|i| i.ec2_instance_id == ec2_instance_id);
            change(
                instance.unwrap_or_else(|| panic!("no container instance on {ec2_instance_id}")),
            );
        });
    }

    /// DeregisterTaskDefinition (not in the engine's trait; for scenarios).
    pub fn deregister_task_definition(&self, reference: &str) -> ApiResult<Revision> {
        self.change(|w, now| {
            let elapsed = w.elapsed(now).as_secs_f64();
            w.task_definitions
                .deregister(reference, elapsed)
                .map_err(|f| ApiError::new("DeregisterTaskDefinition", f.kind, f.message))
        })
    }

    /// Every API call so far, in order.
    pub fn calls(&self) -> Vec<ApiCall> {
        self.lock().calls.clone()
    }

    pub fn call_count(&self, operation: &str) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|c| c.operation == operation)
            .count()
    }

    pub fn clear_calls(&self) {
        self.lock().calls.clear();
    }

    /// Tasks stopped while a load balancer could still send them requests.
    pub fn interruptions(&self) -> Vec<Interruption> {
        self.lock().interruptions.clone()
    }

    /// Every task ever started, described now, in start order.
    pub fn tasks(&self) -> Vec<Task> {
        let (w, now) = self.settled();
        w.tasks.iter().map(|t| t.describe(now)).collect()
    }

    /// EC2 instance ids of every container instance, cluster by cluster.
    pub fn instance_ids(&self) -> Vec<String> {
        let w = self.lock();
        w.clusters
            .values()
            .flat_map(|c| c.instances.iter().map(|i| i.ec2_instance_id.clone()))
            .collect()
    }

    /// DescribeInstanceHealth without logging it or running into injected faults.
    pub fn instance_health(&self, load_balancer: &str) -> Vec<InstanceHealth> {
        let (w, _) = self.settled();
        w.load_balancer(load_balancer)
            .map(|lb| lb.instance_health())
            .unwrap_or_default()
    }

    /// Instances InService on any load balancer, now.
    pub fn in_service_count(&self) -> usize {
        self.settled().0.in_service_count()
    }

    /// Instances InService whose task really answers on the health-check port, now.
    pub fn serving_count(&self) -> usize {
        let (w, now) = self.settled();
        w.serving_count(now)
    }

    /// What UpdateService with a new task definition does, done by someone else (another
    /// pipeline, a colleague in the console): not logged as one of our calls, no faults.
    pub fn update_service_as_someone_else(
        &self,
        cluster: &str,
        service: &str,
        task_definition: &str,
    ) -> ApiResult<Service> {
        let update = ServiceUpdate {
            task_definition: Some(task_definition.to_string()),
            ..ServiceUpdate::default()
        };
        self.change(|w, now| {
            w.update_service(cluster, service, &update, now)
                .map_err(|f| ApiError::new("UpdateService", f.kind, f.message))
        })
    }

    /// DescribeServices without logging it or running into injected faults.
    pub fn service(&self, cluster: &str, service: &str) -> Option<Service> {
        let (w, now) = self.settled();
        w.describe_service(cluster, service, now).ok().flatten()
    }

    /// The ARN of a target group declared with `SimBuilder::target_group`.
    pub fn target_group_arn(&self, name: &str) -> Option<String> {
        let w = self.lock();
        w.target_groups
            .values()
            .find(|tg| tg.name == name)
            .map(|tg| tg.arn.clone())
    }

    /// DescribeTargetHealth without logging it or running into injected faults (empty for an
    /// unknown target group).
    pub fn target_health(&self, arn: &str) -> Vec<crate::platform::TargetHealth> {
        let (w, _) = self.settled();
        w.target_groups
            .get(arn)
            .map(|tg| tg.health())
            .unwrap_or_default()
    }

    /// Every lifecycle stage a blue/green deployment has entered, with when.
    pub fn deployment_stages(
        &self,
        cluster: &str,
        service: &str,
        deployment_id: &str,
    ) -> Vec<(String, Duration)> {
        let (w, _) = self.settled();
        let Ok(svc) = w.service(cluster, service) else {
            return Vec::new();
        };
        svc.any_deployment(deployment_id)
            .map(|d| {
                d.stages
                    .iter()
                    .map(|(stage, at)| (stage.as_str().to_string(), w.elapsed(*at)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The service's tasks healthy in its load balancers, and of those the ones answering, now.
    pub fn service_capacity(&self, cluster: &str, service: &str) -> CapacitySample {
        let (w, now) = self.settled();
        let (in_service, serving) = w.service_capacity(cluster, service, now);
        CapacitySample {
            at: w.elapsed(now),
            in_service,
            serving,
        }
    }

    /// Samples a service's serving capacity now and every `period` of virtual time until the
    /// sampler is stopped or dropped. Needs a tokio runtime.
    pub fn spawn_service_sampler(&self, cluster: &str, service: &str, period: Duration) -> Sampler {
        let (cluster, service) = (cluster.to_string(), service.to_string());
        Sampler::spawn(self.clone(), period, move |sim| {
            sim.service_capacity(&cluster, &service)
        })
    }

    fn sample_capacity(&self) -> CapacitySample {
        let (w, now) = self.settled();
        CapacitySample {
            at: w.elapsed(now),
            in_service: w.in_service_count(),
            serving: w.serving_count(now),
        }
    }

    /// Samples serving capacity now and every `period` of virtual time until the sampler is
    /// stopped or dropped. Needs a tokio runtime.
    pub fn spawn_sampler(&self, period: Duration) -> Sampler {
        Sampler::spawn(self.clone(), period, Sim::sample_capacity)
    }
}
