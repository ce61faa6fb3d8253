//! Scenario setup in a few lines: a cluster of container instances spread over zones, classic
//! load balancers with every instance registered, task definitions, and one task of the latest
//! one RUNNING and InService on each instance; or services with their target groups, their
//! tasks RUNNING and healthy; all settled at build time.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::Sim;
use super::cluster::{AGENT_PORTS, Cluster, ContainerInstanceRecord};
use super::deployment::Rollout;
use super::load_balancer::LoadBalancer;
use super::placement::{LaunchType, port_mappings};
use super::scheduler::endpoint;
use super::service::{
    Attachment, LoadBalancerRef, ServiceRecord, ServiceSpec, ServiceTask, service_arn,
};
use super::target_group::{TargetGroupRecord, TargetGroupSpec, TargetType};
use super::task::Behaviour;
use super::timings::Timings;
use super::world::{ACCOUNT, Images, REGION, World, serves, target_answers};
use crate::platform::{HealthCheck, Listener};

#[derive(Debug, Clone)]
pub struct SimBuilder {
    timings: Timings,
    seed: u64,
    images: BTreeMap<String, Behaviour>,
    default_behaviour: Behaviour,
    /// (cluster, instance count), in order.
    clusters: Vec<(String, usize)>,
    instance_cpu: i64,
    instance_memory: i64,
    zones: Vec<String>,
    load_balancers: Vec<LoadBalancer>,
    task_definitions: Vec<Value>,
    tasks_on_each_instance: bool,
    register_instances: bool,
    target_groups: Vec<(String, TargetGroupSpec)>,
    /// (target group, the one whose load balancer it shares).
    beside: Vec<(String, String)>,
    /// (cluster, name, spec), in order.
    services: Vec<(String, String, ServiceSpec)>,
    supports_service_deployments: bool,
}

impl Default for SimBuilder {
    fn default() -> Self {
        SimBuilder {
            timings: Timings::default(),
            seed: 1,
            images: BTreeMap::new(),
            default_behaviour: Behaviour::Healthy,
            clusters: Vec::new(),
            // A t3.medium as ECS registers it.
            instance_cpu: 2048,
            instance_memory: 3904,
            zones: ["us-east-1a", "us-east-1b", "us-east-1c"]
                .map(String::from)
                .to_vec(),
            load_balancers: Vec::new(),
            task_definitions: Vec::new(),
            tasks_on_each_instance: false,
            register_instances: true,
            target_groups: Vec::new(),
            beside: Vec::new(),
            services: Vec::new(),
            supports_service_deployments: true,
        }
    }
}

impl SimBuilder {
    /// Later `instances` calls add to this cluster. Without it they go to `default`.
    pub fn cluster(mut self, name: &str) -> Self {
        self.clusters.push((name.to_string(), 0));
        self
    }

    /// Adds `count` container instances to the current cluster, one zone after another.
    pub fn instances(mut self, count: usize) -> Self {
        if self.clusters.is_empty() {
            self = self.cluster("default");
        }
        if let Some((_, n)) = self.clusters.last_mut() {
            *n += count;
        }
        self
    }

    /// CPU units and MiB every container instance registers with.
    pub fn instance_resources(mut self, cpu: i64, memory: i64) -> Self {
        (self.instance_cpu, self.instance_memory) = (cpu, memory);
        self
    }

    pub fn availability_zones(mut self, zones: &[&str]) -> Self {
        assert!(!zones.is_empty(), "instances need at least one zone");
        self.zones = zones.iter().map(|z| z.to_string()).collect();
        self
    }

    /// A classic load balancer with this health check, a listener from port 80 to the
    /// check's port, connection draining at the 300 s default, cross-zone on, every zone
    /// enabled. `listener`, `draining`, `no_draining` and `cross_zone` change the last one added.
    pub fn elb(mut self, name: &str, health_check: HealthCheck) -> Self {
        let mut lb = LoadBalancer::new(name, health_check, Vec::new());
        if let Some(port) = lb.health_port() {
            lb.listeners.push(Listener {
                load_balancer_port: 80,
                instance_port: port,
                protocol: "HTTP".into(),
            });
        }
        self.load_balancers.push(lb);
        self
    }

    fn last_elb(&mut self) -> &mut LoadBalancer {
        self.load_balancers
            .last_mut()
            .expect("call .elb(..) before configuring it")
    }

    /// Replaces the default listener on the first call, adds one on later calls.
    pub fn listener(mut self, load_balancer_port: u16, instance_port: u16, protocol: &str) -> Self {
        let listener = Listener {
            load_balancer_port,
            instance_port,
            protocol: protocol.to_string(),
        };
        let lb = self.last_elb();
        let defaulted = lb.listeners.len() == 1 && lb.listeners[0].load_balancer_port == 80;
        if defaulted {
            lb.listeners.clear();
        }
        lb.listeners.push(listener);
        self
    }

    /// The connection draining timeout.
    pub fn draining(mut self, timeout: Duration) -> Self {
        self.last_elb().connection_draining = Some(timeout);
        self
    }

    pub fn no_draining(mut self) -> Self {
        self.last_elb().connection_draining = None;
        self
    }

    pub fn cross_zone(mut self, enabled: bool) -> Self {
        self.last_elb().cross_zone = enabled;
        self
    }

    /// Zones enabled on the last load balancer (default: every zone of the simulation).
    pub fn elb_zones(mut self, zones: &[&str]) -> Self {
        self.last_elb().availability_zones = zones.iter().map(|z| z.to_string()).collect();
        self
    }

    /// Registers a task definition at build time; revisions follow the order of the calls.
    pub fn task_definition(mut self, body: Value) -> Self {
        self.task_definitions.push(body);
        self
    }

    /// One task of the last registered task definition RUNNING on every instance at build time.
    pub fn tasks_on_each_instance(mut self) -> Self {
        self.tasks_on_each_instance = true;
        self
    }

    /// Leaves instances unregistered from the load balancers (by default all are registered,
    /// as an Auto Scaling group attached to the load balancer would do).
    pub fn unregistered(mut self) -> Self {
        self.register_instances = false;
        self
    }

    pub fn image_behaviour(mut self, image: &str, behaviour: Behaviour) -> Self {
        self.images.insert(image.to_string(), behaviour);
        self
    }

    /// What images without an `image_behaviour` do (default: `Behaviour::Healthy`).
    pub fn default_behaviour(mut self, behaviour: Behaviour) -> Self {
        self.default_behaviour = behaviour;
        self
    }

    pub fn timings(mut self, timings: Timings) -> Self {
        self.timings = timings;
        self
    }

    /// An ALB target group (behind an application load balancer named after it); services
    /// name it in `ServiceSpec::target_group`. `Sim::target_group_arn` gives its ARN.
    pub fn target_group(mut self, name: &str, spec: TargetGroupSpec) -> Self {
        self.target_groups.push((name.to_string(), spec));
        self
    }

    /// A target group on the same load balancer as `beside` (declared before): the
    /// alternate target group of a blue/green, linear or canary service.
    pub fn target_group_beside(mut self, name: &str, spec: TargetGroupSpec, beside: &str) -> Self {
        self.target_groups.push((name.to_string(), spec));
        self.beside.push((name.to_string(), beside.to_string()));
        self
    }

    /// A service in the current cluster (`default` unless `cluster` was called), steady at
    /// build time: its task definition registered, `desired` tasks RUNNING, spread over zones
    /// and instances, healthy in its load balancers, and one deployment COMPLETED.
    pub fn service(mut self, name: &str, spec: ServiceSpec) -> Self {
        let cluster = self
            .clusters
            .last()
            .map_or_else(|| "default".to_string(), |(c, _)| c.clone());
        self.services.push((cluster, name.to_string(), spec));
        self
    }

    /// Whether DescribeServiceDeployments exists (default: true, as in ECS today). Without
    /// it, `service_deployment` answers `Ok(None)` like an endpoint that lacks it (moto).
    pub fn supports_service_deployments(mut self, supported: bool) -> Self {
        self.supports_service_deployments = supported;
        self
    }

    /// Seed of the RNG behind probabilistic faults.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Builds the world at the current virtual time. Panics on an inconsistent scenario (a
    /// task definition ECS would refuse, tasks that do not fit): that is a bug in the test.
    pub fn build(self) -> Sim {
        let now = Instant::now();
        let images = Images {
            default: self.default_behaviour,
            by_image: self.images,
            logs: Default::default(),
        };
        let mut w = World::new(now, self.timings, images, self.seed);

        let mut instance_number = 0;
        for (name, count) in &self.clusters {
            let mut cluster = w
                .clusters
                .remove(name)
                .unwrap_or_else(|| Cluster::new(name));
            for _ in 0..*count {
                let serial = w.next_serial();
                cluster.instances.push(ContainerInstanceRecord {
                    arn: format!(
                        "arn:aws:ecs:{REGION}:{ACCOUNT}:container-instance/{name}/{serial:032x}"
                    ),
                    ec2_instance_id: format!("i-{serial:017x}"),
                    availability_zone: self.zones[instance_number % self.zones.len()].clone(),
                    status: "ACTIVE".into(),
                    agent_connected: true,
                    cpu: self.instance_cpu,
                    memory: self.instance_memory,
                    reserved_ports: AGENT_PORTS.to_vec(),
                });
                instance_number += 1;
            }
            w.clusters.insert(name.clone(), cluster);
        }

        let mut latest = None;
        for body in &self.task_definitions {
            let revision = w.task_definitions.register(body, &BTreeMap::new(), 0.0);
            latest = Some(
                revision
                    .unwrap_or_else(|e| panic!("the scenario's task definition: {}", e.message))
                    .arn,
            );
        }

        let placements: Vec<(String, String)> = w
            .clusters
            .values()
            .flat_map(|c| c.instances.iter().map(|i| (c.name.clone(), i.arn.clone())))
            .collect();
        if self.tasks_on_each_instance {
            let arn = latest.expect("tasks_on_each_instance needs a task_definition");
            for (cluster, instance) in &placements {
                w.start_task(cluster, &arn, instance, None, now, Duration::ZERO)
                    .unwrap_or_else(|e| panic!("the scenario's tasks do not fit: {}", e.message));
            }
        }

        let instances: Vec<(String, String)> = w
            .clusters
            .values()
            .flat_map(|c| {
                c.instances
                    .iter()
                    .map(|i| (i.ec2_instance_id.clone(), i.availability_zone.clone()))
            })
            .collect();
        let mut target_group_arns = BTreeMap::new();
        for (name, spec) in self.target_groups {
            let tg = TargetGroupRecord::new(&name, spec, w.next_serial());
            target_group_arns.insert(name, tg.arn.clone());
            w.target_groups.insert(tg.arn.clone(), tg);
        }
        for (name, beside) in &self.beside {
            let lbs = target_group_arns
                .get(beside)
                .map(|arn| w.target_groups[arn].load_balancer_arns.clone())
                .unwrap_or_else(|| panic!("target group {name}: declare {beside} first"));
            let arn = &target_group_arns[name];
            w.target_groups
                .get_mut(arn)
                .expect("declared")
                .load_balancer_arns = lbs;
        }
        // ECS registers a service's instances with its classic load balancer itself.
        let managed: Vec<String> = self
            .services
            .iter()
            .filter_map(|(_, _, spec)| spec.elb.clone())
            .collect();
        for mut lb in self.load_balancers {
            if lb.availability_zones.is_empty() {
                lb.availability_zones = self.zones.clone();
            }
            if self.register_instances && !managed.contains(&lb.name) {
                let port = lb.health_port();
                for (id, zone) in &instances {
                    let passing = port.is_some_and(|p| serves(&w.tasks, id, p, now));
                    lb.register_settled(id, zone, now, passing);
                }
            }
            w.load_balancers.insert(lb.name.clone(), lb);
        }
        for (cluster, name, spec) in self.services {
            add_service(&mut w, &cluster, &name, spec, &target_group_arns, now);
        }
        w.supports_service_deployments = self.supports_service_deployments;
        Sim {
            world: Arc::new(Mutex::new(w)),
        }
    }
}

/// A service as if it had been running for a while: one COMPLETED deployment, its tasks
/// RUNNING and registered, with health settled.
fn add_service(
    w: &mut World,
    cluster: &str,
    name: &str,
    spec: ServiceSpec,
    target_group_arns: &BTreeMap<String, String>,
    now: Instant,
) {
    w.clusters
        .entry(cluster.to_string())
        .or_insert_with(|| Cluster::new(cluster));
    let revision = w
        .task_definitions
        .register(&spec.task_definition, &BTreeMap::new(), 0.0)
        .unwrap_or_else(|e| panic!("service {name}: the task definition: {}", e.message));
    let awsvpc = revision.body.get("networkMode").and_then(Value::as_str) == Some("awsvpc");
    assert!(
        spec.launch_type == LaunchType::Ec2 || awsvpc,
        "service {name}: Fargate needs networkMode awsvpc"
    );
    let (container, container_port) = spec
        .container
        .clone()
        .or_else(|| {
            port_mappings(&revision.body)
                .first()
                .map(|m| (m.container.clone(), m.container_port))
        })
        .unwrap_or_default();
    let td_arn = revision.arn.clone();
    let mut load_balancers = Vec::new();
    if let Some(tg) = &spec.target_group {
        let arn = target_group_arns.get(tg).unwrap_or_else(|| {
            panic!("service {name}: declare target group {tg} with .target_group(..)")
        });
        let ip = w.target_groups[arn].spec.target_type == TargetType::Ip;
        assert!(
            ip == awsvpc,
            "service {name}: awsvpc tasks need an `ip` target group, others an `instance` one"
        );
        let advanced = spec.advanced.clone().map(|mut a| {
            if let Some(alt) = &a.alternate_target_group_arn
                && let Some(alt_arn) = target_group_arns.get(alt)
            {
                a.alternate_target_group_arn = Some(alt_arn.clone());
            }
            a
        });
        load_balancers.push(Attachment {
            load_balancer: LoadBalancerRef::TargetGroup(arn.clone()),
            container: container.clone(),
            container_port,
            advanced,
        });
    }
    if let Some(elb) = &spec.elb {
        assert!(
            w.load_balancers.contains_key(elb),
            "service {name}: declare classic load balancer {elb} with .elb(..)"
        );
        assert!(
            !awsvpc,
            "service {name}: a classic load balancer cannot reach awsvpc tasks"
        );
        load_balancers.push(Attachment {
            load_balancer: LoadBalancerRef::Classic(elb.clone()),
            container,
            container_port,
            advanced: None,
        });
    }
    let mut svc = ServiceRecord {
        arn: service_arn(cluster, name),
        name: name.to_string(),
        cluster: cluster.to_string(),
        desired: spec.desired,
        launch_type: spec.launch_type,
        placement: spec.placement,
        controller: spec.deployment_controller,
        config: spec.deployment_configuration,
        load_balancers,
        grace: spec.health_check_grace_period,
        deployments: Vec::new(),
        history: Vec::new(),
        events: Vec::new(),
        tasks: Vec::new(),
        steady_task_definition: td_arn.clone(),
        steady: true,
        last_unable: None,
        placement_failed_at: None,
    };
    let id = svc.deploy(w, &td_arn, now, None);
    let first = svc.primary_mut();
    first.rollout = Rollout::Completed;
    (first.stage, first.stages) = (None, Vec::new());
    svc.steady = true;

    for _ in 0..spec.desired {
        let index = w
            .place_and_launch(&svc, &id, now, true)
            .unwrap_or_else(|e| panic!("service {name}: its tasks do not fit: {}", e.0));
        for a in &svc.load_balancers {
            let Some((target, port)) = endpoint(w, a, &w.tasks[index]) else {
                continue;
            };
            match &a.load_balancer {
                LoadBalancerRef::TargetGroup(arn) => {
                    let target_type = w.target_groups[arn].spec.target_type;
                    let passing = target_answers(&w.tasks, target_type, &target, port, now);
                    if let Some(tg) = w.target_groups.get_mut(arn) {
                        tg.register_settled(&target, port, now, passing);
                    }
                }
                LoadBalancerRef::Classic(elb) => {
                    let zone = w
                        .availability_zone_of(&target)
                        .unwrap_or_default()
                        .to_string();
                    let health_port = w.load_balancers[elb].health_port();
                    let passing = health_port.is_some_and(|p| serves(&w.tasks, &target, p, now));
                    if let Some(lb) = w.load_balancers.get_mut(elb) {
                        lb.register_settled(&target, &zone, now, passing);
                    }
                }
            }
        }
        svc.tasks.push(ServiceTask {
            index,
            deployment: id.clone(),
            registered: !svc.load_balancers.is_empty(),
            withdrawn: false,
            healthy_once: true,
            stop_seen: false,
        });
    }
    svc.push_event(w, now, "has reached a steady state.".into());
    w.services
        .insert((cluster.to_string(), name.to_string()), svc);
}
