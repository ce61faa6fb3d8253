//! Benchmark harness: whole ecs-roll deploys on the simulated platform under tokio's paused
//! clock, per topology and failure, measuring
//!
//! * overhead: ecs-roll's deploy time minus the lower bound the platform imposes (per plan
//!   step for standalone deploys, from the simulated ECS scheduler for services);
//! * detection latency: first conclusive evidence of a failed deploy -> first rollback action;
//! * API calls per deploy, per minute, and per minute while nothing changes;
//! * 50 services deployed concurrently under one shared client-side rate limiter.
//!
//! `bench/run.sh` runs it; `bench/README.md` explains every number. Usage:
//!
//! ```text
//! cargo run --release --example bench -- [--policy NAME]... [--only SUBSTRING] [--out FILE]
//!                                         [--sample-ms N] [--services N] [--no-many] [--no-sweep]
//!                                         [--no-flat] [--no-curve]
//! ```
//!
//! Policies: `default` (the engine as it is: a look a second), `previous` (the poll before:
//! 1 s growing to 6 s while nothing changes). `all` runs both. The trade-off curve runs the
//! engine at other intervals as well.

#[path = "../bench/harness/mod.rs"]
mod bench_support;
#[path = "../bench/harness/flat.rs"]
mod flat;
#[path = "../bench/harness/targets.rs"]
mod targets;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ecs_roll::batch::{Batched, ClusterShelves, ServiceBoard, SharedEcs};
use ecs_roll::engine::deploy::{self, Desired, Options};
use ecs_roll::engine::events::Event;
use ecs_roll::engine::plan::Action;
use ecs_roll::engine::service::{self, ServiceCtx};
use ecs_roll::engine::wait::Poll;
use ecs_roll::engine::{Cancel, Ctx, Outcome, StandaloneCtx, Timeouts};
use ecs_roll::image::ImageRef;
use ecs_roll::platform::{
    ClassicElb, DeploymentConfiguration, EcsServices, HealthCheck, ResourceTags, TargetGroups,
};
use ecs_roll::ratelimit::{Limited, RateLimiter};
use ecs_roll::sim::{
    Behaviour, LaunchType, MemoryTags, ServiceSpec, Sim, TargetGroupSpec, TargetType, Timings,
    deployment_configuration, health_check,
};
use ecs_roll::taskdef::TaskDefinition;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use bench_support::{CallLog, LoggedTags, Stamps, secs};

const CLUSTER_STANDALONE: &str = "cb-prototype";
const CLUSTER: &str = "default";
const ELB: &str = "cb-prototype-elb";
const V1: &str = "rafabor/prototype-4-cb:v0.0.1";
const V2: &str = "rafabor/prototype-4-cb:v0.0.2";

// ---- targets (issue: "Performance: measured deploy overhead ...") ---------------------------

const TARGET_PHASE_OVERHEAD_S: f64 = 1.0;
const TARGET_OVERHEAD_RATIO: f64 = 0.02;
const TARGET_DETECTION_S: f64 = 2.0;
/// Once the outcome is settled (tasks, targets, deployments at rest), the run ends within.
const TARGET_CONCLUSION_S: f64 = 2.0;
/// Requests per second while nothing changes: 50 services in one cluster at most this many
/// times one service's.
const TARGET_FLAT_RATIO: f64 = 3.0;
const TARGET_MANY_RATIO: f64 = 1.10;
/// The predicted duration of a deploy once one earlier deploy of the target was observed.
const TARGET_PREDICTION_ERROR: f64 = 0.10;

/// The client-side limit used for the many-services scenario: the strictest documented ECS
/// read bucket (cluster read actions: 50 tokens, refilled at 20 per second), applied to every
/// call of every target together, so no per-action bucket can be exceeded either.
const LIMIT_PER_SECOND: f64 = ecs_roll::commands::multi::RATE_PER_SECOND;
const LIMIT_BURST: u32 = ecs_roll::commands::multi::BURST;

// ---- policies -----------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Policy {
    /// The engine as it is: a look every second (`Poll::default`), waking at due health
    /// checks and at the end of draining, service reads only when DescribeServices changed.
    Default,
    /// The engine's poll before this measurement: 1 s after a change, growing x1.5 to 6 s.
    Previous,
    /// A look every this many milliseconds: the points of the trade-off curve.
    Every(u32),
}

impl Policy {
    fn name(self) -> String {
        match self {
            Policy::Default => "default".into(),
            Policy::Previous => "previous".into(),
            Policy::Every(ms) => format!("every-{}s", f64::from(ms) / 1000.0),
        }
    }

    fn parse(s: &str) -> Option<Vec<Policy>> {
        Some(match s {
            "default" => vec![Policy::Default],
            "previous" => vec![Policy::Previous],
            "all" => vec![Policy::Default, Policy::Previous],
            _ => return None,
        })
    }

    fn poll(self) -> Poll {
        match self {
            Policy::Default => Poll::default(),
            Policy::Previous => Poll::growing(Duration::from_secs(1), Duration::from_secs(6)),
            Policy::Every(ms) => Poll::every(Duration::from_millis(ms.into())),
        }
    }
}

// ---- scenarios ----------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Failure {
    None,
    /// The new image's container exits 1 twenty seconds after RUNNING.
    Crash,
    /// The same, 47 s after RUNNING: in the middle of a quiet wait, when the poll is at its
    /// slowest (the worst case for detection; 47 is no multiple of any interval).
    CrashLate,
    /// The same, this many milliseconds after RUNNING: the detection sweep.
    CrashAfterMs(u32),
    /// The new image never answers the load balancer's health check.
    FailsHealthCheck,
    /// The new image cannot be pulled; the deployment circuit breaker (with rollback) is on.
    CircuitBreaker,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Topology {
    StandaloneRolling,
    StandaloneBlueGreen,
    ServiceClassicStatic,
    ServiceAlbDynamic,
    ServiceFargateAlb,
}

impl Topology {
    fn name(self) -> &'static str {
        match self {
            Topology::StandaloneRolling => "standalone-rolling",
            Topology::StandaloneBlueGreen => "standalone-blue-green",
            Topology::ServiceClassicStatic => "service-classic-static",
            Topology::ServiceAlbDynamic => "service-alb-dynamic",
            Topology::ServiceFargateAlb => "service-fargate-alb",
        }
    }

    fn standalone(self) -> bool {
        matches!(
            self,
            Topology::StandaloneRolling | Topology::StandaloneBlueGreen
        )
    }
}

/// The health check and draining settings of a scenario, for its lower bound.
#[derive(Debug, Clone, Copy, Serialize)]
struct Settings {
    task_start_s: f64,
    task_stop_s: f64,
    interval_s: f64,
    healthy_threshold: u32,
    unhealthy_threshold: u32,
    drain_s: f64,
}

fn scenarios() -> Vec<(Topology, Failure)> {
    vec![
        (Topology::StandaloneRolling, Failure::None),
        (Topology::StandaloneBlueGreen, Failure::None),
        (Topology::ServiceClassicStatic, Failure::None),
        (Topology::ServiceAlbDynamic, Failure::None),
        (Topology::ServiceFargateAlb, Failure::None),
        (Topology::StandaloneRolling, Failure::Crash),
        (Topology::StandaloneRolling, Failure::CrashLate),
        (Topology::StandaloneRolling, Failure::FailsHealthCheck),
        (Topology::ServiceAlbDynamic, Failure::Crash),
        (Topology::ServiceAlbDynamic, Failure::CrashLate),
        (Topology::ServiceAlbDynamic, Failure::FailsHealthCheck),
        (Topology::ServiceAlbDynamic, Failure::CircuitBreaker),
    ]
}

fn settings(t: Topology) -> Settings {
    match t {
        // The reference setup: the origin's ELB (30 s checks, 2 to become healthy, 60 s
        // draining); a cached image starting in 30 s.
        Topology::StandaloneRolling => Settings {
            task_start_s: 30.0,
            task_stop_s: 5.0,
            interval_s: 30.0,
            healthy_threshold: 2,
            unhealthy_threshold: 2,
            drain_s: 60.0,
        },
        Topology::StandaloneBlueGreen => Settings {
            task_start_s: 20.0,
            task_stop_s: 5.0,
            interval_s: 30.0,
            healthy_threshold: 3,
            unhealthy_threshold: 2,
            drain_s: 30.0,
        },
        Topology::ServiceClassicStatic => Settings {
            task_start_s: 30.0,
            task_stop_s: 5.0,
            interval_s: 30.0,
            healthy_threshold: 2,
            unhealthy_threshold: 2,
            drain_s: 60.0,
        },
        // AWS's defaults for an HTTP target group: 30 s, 5 healthy, 2 unhealthy, 300 s delay.
        Topology::ServiceAlbDynamic => Settings {
            task_start_s: 20.0,
            task_stop_s: 5.0,
            interval_s: 30.0,
            healthy_threshold: 5,
            unhealthy_threshold: 2,
            drain_s: 300.0,
        },
        // Fargate provisions capacity and an interface: 60 s to RUNNING.
        Topology::ServiceFargateAlb => Settings {
            task_start_s: 60.0,
            task_stop_s: 5.0,
            interval_s: 30.0,
            healthy_threshold: 3,
            unhealthy_threshold: 2,
            drain_s: 120.0,
        },
    }
}

fn timings(s: &Settings, fargate: bool) -> Timings {
    let start = Duration::from_secs_f64(s.task_start_s);
    Timings {
        task_start: start,
        fargate_task_start: if fargate {
            start
        } else {
            Duration::from_secs(30)
        },
        task_stop: Duration::from_secs_f64(s.task_stop_s),
        // Clients on keep-alive connections: draining lasts the whole timeout.
        in_flight_drain: None,
        api_latency: Duration::ZERO,
        // As ELB shows them: a failed task's target is draining for the whole delay too,
        // which is what the conclusion latency must see through.
        unserved_targets_show_draining: true,
    }
}

fn elb_check(s: &Settings) -> HealthCheck {
    HealthCheck {
        interval: Duration::from_secs_f64(s.interval_s),
        healthy_threshold: s.healthy_threshold,
        unhealthy_threshold: s.unhealthy_threshold,
        ..health_check("HTTP:5555/testme")
    }
}

fn tg_spec(s: &Settings, target_type: TargetType) -> TargetGroupSpec {
    TargetGroupSpec {
        target_type,
        port: 8080,
        interval: Duration::from_secs_f64(s.interval_s),
        healthy_threshold: s.healthy_threshold,
        unhealthy_threshold: s.unhealthy_threshold,
        deregistration_delay: Duration::from_secs_f64(s.drain_s),
        ..TargetGroupSpec::default()
    }
}

fn standalone_td(image: &str) -> Value {
    json!({
        "family": "cb-prototype",
        "containerDefinitions": [{
            "name": "cb-prototype", "image": image, "cpu": 256, "memory": 256, "essential": true,
            "portMappings": [{ "containerPort": 5555, "hostPort": 5555, "protocol": "tcp" }]
        }]
    })
}

fn static_app(family: &str, image: &str) -> Value {
    json!({"family": family, "containerDefinitions": [{"name": "app", "image": image, "cpu": 256, "memory": 256,
        "portMappings": [{"containerPort": 5555, "hostPort": 5555}]}]})
}

fn dynamic_app(family: &str, image: &str) -> Value {
    json!({"family": family, "containerDefinitions": [{"name": "app", "image": image, "cpu": 256, "memory": 256,
        "portMappings": [{"containerPort": 8080}]}]})
}

fn fargate_app(family: &str, image: &str) -> Value {
    json!({"family": family, "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
        "containerDefinitions": [{"name": "app", "image": image, "portMappings": [{"containerPort": 8080}]}]})
}

fn behaviour(f: Failure, image: &str) -> Option<Behaviour> {
    match f {
        Failure::None => None,
        Failure::Crash => Some(Behaviour::CrashAfter(Duration::from_secs(20))),
        Failure::CrashLate => Some(Behaviour::CrashAfter(Duration::from_secs(47))),
        Failure::CrashAfterMs(ms) => Some(Behaviour::CrashAfter(Duration::from_millis(ms.into()))),
        Failure::FailsHealthCheck => Some(Behaviour::FailsHealthCheck),
        Failure::CircuitBreaker => Some(Behaviour::cannot_pull(image)),
    }
}

fn build(t: Topology, f: Failure) -> Sim {
    let s = settings(t);
    let fargate = t == Topology::ServiceFargateAlb;
    let config = if f == Failure::CircuitBreaker {
        DeploymentConfiguration {
            circuit_breaker: Some((true, true)),
            ..deployment_configuration(200, 100)
        }
    } else {
        deployment_configuration(200, 100)
    };
    let b = Sim::builder().timings(timings(&s, fargate));
    match t {
        Topology::StandaloneRolling => b
            .cluster(CLUSTER_STANDALONE)
            .instances(3)
            .elb(ELB, elb_check(&s))
            .draining(Duration::from_secs_f64(s.drain_s))
            .task_definition(standalone_td(V1))
            .tasks_on_each_instance()
            .build(),
        Topology::StandaloneBlueGreen => b
            .cluster(CLUSTER_STANDALONE)
            .instances(6)
            .elb(ELB, elb_check(&s))
            .draining(Duration::from_secs_f64(s.drain_s))
            .task_definition(standalone_td(V1))
            .build(),
        Topology::ServiceClassicStatic => b
            .instances(3)
            .elb(ELB, elb_check(&s))
            .draining(Duration::from_secs_f64(s.drain_s))
            .service(
                "web",
                ServiceSpec {
                    desired: 3,
                    task_definition: static_app("web", "app:v1"),
                    elb: Some(ELB.into()),
                    deployment_configuration: config,
                    ..ServiceSpec::default()
                },
            )
            .build(),
        Topology::ServiceAlbDynamic => b
            .instances(3)
            .target_group("web", tg_spec(&s, TargetType::Instance))
            .service(
                "web",
                ServiceSpec {
                    desired: 3,
                    task_definition: dynamic_app("web", "app:v1"),
                    target_group: Some("web".into()),
                    deployment_configuration: config,
                    ..ServiceSpec::default()
                },
            )
            .build(),
        Topology::ServiceFargateAlb => b
            .target_group("web", tg_spec(&s, TargetType::Ip))
            .service(
                "web",
                ServiceSpec {
                    desired: 3,
                    launch_type: LaunchType::Fargate,
                    task_definition: fargate_app("web", "app:v1"),
                    target_group: Some("web".into()),
                    deployment_configuration: config,
                    ..ServiceSpec::default()
                },
            )
            .build(),
    }
}

// ---- one observed run -----------------------------------------------------------------------

/// What the background watcher saw of the simulated world (unlogged accessors only, so it
/// never shows up in the API call counts).
#[derive(Debug, Default, Clone)]
struct Watched {
    /// Instants (s) at which something an API client could see changed.
    changes: Vec<f64>,
    /// A task of a new revision was asked to stop (crash, failed start, ECS replacing it):
    /// when the first, the second, ... was.
    new_stops: Vec<f64>,
    /// How many such stops are conclusive: for a service of more than one task ecs-roll
    /// takes two (a single stop may be its host's, which ECS just replaces), as its judge
    /// does (`service::watch`, `stop_threshold`); one otherwise, and for standalone tasks.
    stops_conclusive: usize,
    /// A deployment of a new revision reported rolloutState FAILED.
    first_failed: Option<f64>,
    /// The PRIMARY deployment of a new revision reached COMPLETED (old tasks STOPPED, so old
    /// targets drained).
    completed: Option<f64>,
    min_serving: Option<usize>,
}

fn is_new_revision(td_arn: &str) -> bool {
    !td_arn.ends_with(":1")
}

fn fingerprint(sim: &Sim, service: Option<&str>) -> String {
    let mut fp = String::new();
    for t in sim.tasks() {
        fp.push_str(&format!(
            "{}:{}:{};",
            t.arn, t.last_status, t.desired_status
        ));
    }
    for h in sim.instance_health(ELB) {
        fp.push_str(&format!(
            "{}:{}:{:?};",
            h.instance_id, h.state, h.description
        ));
    }
    // The service's target group is named after it: a target leaving after its draining is
    // a change DescribeServices does not show.
    if let Some(arn) = service.and_then(|name| sim.target_group_arn(name)) {
        for h in sim.target_health(&arn) {
            fp.push_str(&format!("{}:{:?}:{};", h.id, h.port, h.state.as_str()));
        }
    }
    if let Some(name) = service
        && let Some(svc) = sim.service(CLUSTER, name)
    {
        for d in &svc.deployments {
            fp.push_str(&format!(
                "{}:{}:{:?}:{}:{}:{};",
                d.id, d.status, d.rollout_state, d.running_count, d.pending_count, d.failed_tasks
            ));
        }
        fp.push_str(&format!("ev{};", svc.events.len()));
        fp.push_str(&format!(
            "cap{};",
            sim.service_capacity(CLUSTER, name).in_service
        ));
    }
    fp
}

fn spawn_watcher(
    sim: Sim,
    service: Option<String>,
    period: Duration,
) -> (Arc<Mutex<Watched>>, tokio::task::JoinHandle<()>) {
    let state = Arc::new(Mutex::new(Watched::default()));
    let sink = state.clone();
    let handle = tokio::spawn(async move {
        let mut last = String::new();
        let mut next = Instant::now();
        loop {
            let at = secs(sim.elapsed());
            let fp = fingerprint(&sim, service.as_deref());
            let serving = match &service {
                Some(name) => sim.service_capacity(CLUSTER, name).serving,
                None => sim.serving_count(),
            };
            {
                let mut w = sink.lock().unwrap_or_else(|e| e.into_inner());
                if fp != last {
                    if !last.is_empty() {
                        w.changes.push(at);
                    }
                    last = fp;
                }
                w.min_serving = Some(w.min_serving.map_or(serving, |m| m.min(serving)));
                let stops = sim
                    .tasks()
                    .iter()
                    .filter(|t| {
                        is_new_revision(&t.task_definition_arn) && t.desired_status == "STOPPED"
                    })
                    .count();
                while w.new_stops.len() < stops {
                    w.new_stops.push(at);
                }
                if let Some(svc) = service.as_deref().and_then(|n| sim.service(CLUSTER, n)) {
                    let new = svc
                        .deployments
                        .iter()
                        .filter(|d| is_new_revision(&d.task_definition));
                    for d in new {
                        if w.first_failed.is_none()
                            && d.rollout_state.as_ref().map(|r| r.as_str()) == Some("FAILED")
                        {
                            w.first_failed = Some(at);
                        }
                        if w.completed.is_none()
                            && d.status == "PRIMARY"
                            && d.rollout_state.as_ref().map(|r| r.as_str()) == Some("COMPLETED")
                        {
                            w.completed = Some(at);
                        }
                    }
                }
            }
            next += period;
            tokio::time::sleep_until(next).await;
        }
    });
    (state, handle)
}

#[derive(Debug, Clone, Serialize)]
struct Phase {
    name: String,
    took_s: f64,
    floor_s: f64,
    overhead_s: f64,
}

#[derive(Debug, Clone, Serialize)]
struct Detection {
    evidence: String,
    evidence_at_s: f64,
    action: String,
    action_at_s: f64,
    latency_s: f64,
    /// The first action that restores the previous revision (StartTask of it, UpdateService
    /// to it, or following ECS's own rollback).
    restore_action: Option<String>,
    restore_latency_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
struct ApiStats {
    total: usize,
    by_operation: BTreeMap<String, usize>,
    per_minute: f64,
    reads_per_minute: f64,
    /// Reads per minute inside windows of >= 30 s where nothing visible changed.
    quiet_reads_per_minute: Option<f64>,
    /// The most reads in any 60 s inside such a window (windows of >= 60 s).
    quiet_reads_peak_60s: Option<usize>,
    /// The same once the poll is back at its slowest (from `RAMP_S` after the change that
    /// opened the window): the highest rate, per minute, over quiet windows with >= 30 s left.
    quiet_reads_steady_per_minute: Option<f64>,
    quiet_minutes: f64,
}

/// After a change the engine looks again at 1, 2.5, 4.75, 8.1 s (Poll 1 s growing x1.5 to
/// 5 s): reads that soon after a change react to it.
const RAMP_S: f64 = 10.0;

#[derive(Debug, Clone, Serialize)]
struct ScenarioResult {
    scenario: String,
    topology: String,
    failure: Failure,
    policy: Policy,
    settings: Settings,
    result: String,
    plan: String,
    deploy_s: f64,
    floor_s: Option<f64>,
    overhead_s: Option<f64>,
    overhead_ratio: Option<f64>,
    phases: Vec<Phase>,
    max_phase_overhead_s: Option<f64>,
    detection: Option<Detection>,
    /// From the last change anyone could see (the outcome settled: tasks, load balancer
    /// health, deployments) to the end of the run.
    conclusion_s: Option<f64>,
    api: ApiStats,
    min_serving: Option<usize>,
    /// The predicted duration against the actual one: of this deploy (nothing recorded yet),
    /// and of a second deploy right after it (which learns from this one's record).
    prediction: Option<PredictionResult>,
    /// Which targets this scenario meets (absent: not applicable).
    meets: BTreeMap<String, bool>,
}

#[derive(Debug, Clone, Serialize)]
struct PredictionResult {
    first_predicted_s: f64,
    first_actual_s: f64,
    first_error: f64,
    second_predicted_s: f64,
    second_actual_s: f64,
    second_error: f64,
}

/// (predicted, actual, |error| / actual) of a deploy's total.
fn prediction_error(o: &Outcome) -> (f64, f64, f64) {
    let predicted = o.predicted.as_ref().map_or(0.0, |p| secs(p.total));
    let actual = secs(o.duration);
    (
        round(predicted),
        round(actual),
        round4((predicted - actual).abs() / actual),
    )
}

const MUTATING: &[&str] = &[
    "StartTask",
    "StopTask",
    "RegisterInstancesWithLoadBalancer",
    "DeregisterInstancesFromLoadBalancer",
    "UpdateService",
];

fn is_read(op: &str) -> bool {
    op.starts_with("Describe") || op.starts_with("List")
}

fn api_stats(calls: &[(f64, String)], from: f64, to: f64, changes: &[f64]) -> ApiStats {
    let inside: Vec<&(f64, String)> = calls
        .iter()
        .filter(|(t, _)| *t >= from && *t <= to)
        .collect();
    let mut by_operation = BTreeMap::new();
    for (_, op) in &inside {
        *by_operation.entry(op.clone()).or_insert(0) += 1;
    }
    let minutes = ((to - from) / 60.0).max(1e-9);
    let reads: Vec<f64> = inside
        .iter()
        .filter(|(_, op)| is_read(op))
        .map(|(t, _)| *t)
        .collect();
    // Quiet windows: between consecutive visible changes (and the run's ends).
    let mut bounds = vec![from];
    bounds.extend(changes.iter().copied().filter(|c| *c > from && *c < to));
    bounds.push(to);
    let (mut quiet_reads, mut quiet_minutes, mut peak) = (0usize, 0.0, None::<usize>);
    let mut steady = None::<f64>;
    for w in bounds.windows(2) {
        let (a, b) = (w[0], w[1]);
        if b - a < 30.0 {
            continue;
        }
        // Calls at the very start of a window react to the change that opened it.
        let n = reads.iter().filter(|t| **t > a + 0.2 && **t < b).count();
        quiet_reads += n;
        quiet_minutes += (b - a) / 60.0;
        if b - a - RAMP_S >= 30.0 {
            let m = reads
                .iter()
                .filter(|t| **t >= a + RAMP_S && **t < b)
                .count();
            let rate = m as f64 * 60.0 / (b - a - RAMP_S);
            steady = Some(steady.map_or(rate, |r| r.max(rate)));
        }
        if b - a >= 60.0 {
            let mut s = a + 0.2;
            while s + 60.0 <= b {
                let m = reads.iter().filter(|t| **t >= s && **t < s + 60.0).count();
                peak = Some(peak.map_or(m, |p| p.max(m)));
                s += 0.5;
            }
        }
    }
    ApiStats {
        total: inside.len(),
        by_operation,
        per_minute: inside.len() as f64 / minutes,
        reads_per_minute: reads.len() as f64 / minutes,
        quiet_reads_per_minute: (quiet_minutes > 0.0).then(|| quiet_reads as f64 / quiet_minutes),
        quiet_reads_peak_60s: peak,
        quiet_reads_steady_per_minute: steady.map(round),
        quiet_minutes,
    }
}

struct Env {
    sim: Sim,
    tags: MemoryTags,
    log: CallLog,
    stamps: Arc<Stamps>,
}

impl Env {
    fn new(sim: Sim) -> Env {
        let log = CallLog::default();
        Env {
            stamps: Arc::new(Stamps::new(sim.clone())),
            sim,
            tags: MemoryTags::default(),
            log,
        }
    }

    fn tags(&self) -> Arc<dyn ResourceTags> {
        Arc::new(LoggedTags::new(
            self.tags.clone(),
            self.sim.clone(),
            self.log.clone(),
        ))
    }

    fn ctx(&self, cluster: &str, family: &str, policy: Policy) -> Ctx {
        Ctx {
            ecs: self.sim.ecs(),
            elb: self.sim.elb(),
            alarms: self.sim.alarms(),
            tags: self.tags(),
            cluster: cluster.into(),
            family: family.into(),
            observer: self.stamps.clone(),
            poll: policy.poll(),
            timeouts: Timeouts::default(),
            cancel: Cancel::default(),
            actor: "bench".into(),
            lock_heartbeat: ecs_roll::engine::lock::HEARTBEAT,
            gate: None,
        }
    }

    fn standalone_ctx(&self, cluster: &str, family: &str, policy: Policy) -> StandaloneCtx {
        StandaloneCtx {
            ctx: self.ctx(cluster, family, policy),
            load_balancer: ELB.into(),
        }
    }

    /// Every call: the simulation's own log plus the tag calls (the deploy lock).
    fn calls(&self) -> Vec<(f64, String)> {
        let mut v: Vec<(f64, String)> = self
            .sim
            .calls()
            .into_iter()
            .map(|c| (secs(c.at), c.operation.to_string()))
            .collect();
        v.extend(self.log.calls());
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v
    }
}

fn opts() -> Options {
    Options {
        command: "deploy".into(),
        rollback_on_failure: true,
        ..Options::default()
    }
}

/// Starts v1 on the first `n` instances and registers them, then lets any health check pass.
async fn seed_tasks(sim: &Sim, n: usize) {
    let ecs = sim.ecs();
    let elb = sim.elb();
    let instances = ecs.container_instances(CLUSTER_STANDALONE).await.unwrap();
    for ci in instances.iter().take(n) {
        ecs.start_task(CLUSTER_STANDALONE, "cb-prototype:1", &ci.arn, "operator")
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(90)).await;
    let ids: Vec<String> = instances
        .iter()
        .take(n)
        .map(|c| c.ec2_instance_id.clone())
        .collect();
    elb.register_instances(ELB, &ids).await.unwrap();
    tokio::time::sleep(Duration::from_secs(600)).await;
}

async fn service_definition(sim: &Sim, name: &str, image: &str) -> TaskDefinition {
    let current = sim
        .services()
        .describe_service(CLUSTER, name)
        .await
        .unwrap()
        .unwrap();
    let rev = sim
        .ecs()
        .describe_task_definition(&current.task_definition)
        .await
        .unwrap();
    TaskDefinition::from_revision(&rev).with_image("app", &ImageRef::parse(image).unwrap())
}

fn service_ctx(env: &Env, name: &str, policy: Policy) -> ServiceCtx {
    let ctx = env.ctx(CLUSTER, name, policy);
    let (services, target_groups): (Arc<dyn EcsServices>, Arc<dyn TargetGroups>) =
        (env.sim.services(), env.sim.target_groups());
    ServiceCtx {
        ctx,
        services,
        target_groups,
        service: name.into(),
    }
}

async fn run_scenario(t: Topology, f: Failure, policy: Policy, sample: Duration) -> ScenarioResult {
    let s = settings(t);
    let sim = build(t, f);
    if t == Topology::StandaloneBlueGreen {
        seed_tasks(&sim, 3).await;
    }
    let env = Env::new(sim.clone());
    let service_name = (!t.standalone()).then(|| "web".to_string());
    let new_image = if t.standalone() { V2 } else { "app:v2" };
    let definition = if t.standalone() {
        let td = TaskDefinition::parse(&standalone_td(V1).to_string(), "bench").unwrap();
        td.with_image("cb-prototype", &ImageRef::parse(V2).unwrap())
    } else {
        service_definition(&sim, "web", new_image).await
    };
    if let Some(b) = behaviour(f, new_image) {
        sim.set_image_behaviour(new_image, b);
    }
    sim.clear_calls();
    let (watched, watcher) = spawn_watcher(sim.clone(), service_name.clone(), sample);
    let start = secs(sim.elapsed());
    let outcome: Outcome = if t.standalone() {
        let ctx = env.standalone_ctx(CLUSTER_STANDALONE, "cb-prototype", policy);
        deploy::run(&ctx, Desired::Definition(definition), &opts())
            .await
            .expect("deploy")
    } else {
        let sctx = service_ctx(&env, "web", policy);
        service::run(&sctx, Desired::Definition(definition), &opts())
            .await
            .expect("deploy")
    };
    let end = secs(sim.elapsed());
    // One more sample: what the run ended on at its last instant (a verdict at the same
    // virtual instant as its evidence) is sampled too.
    tokio::time::sleep(sample).await;
    watcher.abort();
    let mut w = watched.lock().unwrap_or_else(|e| e.into_inner()).clone();
    w.stops_conclusive = match &service_name {
        Some(name)
            if sim
                .service(CLUSTER, name)
                .is_some_and(|s| s.desired_count > 1) =>
        {
            2
        }
        _ => 1,
    };
    let calls = env.calls();
    let events = env.stamps.events();

    let mut res = ScenarioResult {
        scenario: scenario_name(t, f),
        topology: t.name().into(),
        failure: f,
        policy,
        settings: s,
        result: outcome.result.word().into(),
        plan: String::new(),
        deploy_s: round(secs(outcome.duration)),
        floor_s: None,
        overhead_s: None,
        overhead_ratio: None,
        phases: Vec::new(),
        max_phase_overhead_s: None,
        detection: None,
        conclusion_s: conclusion(&w.changes, start, end, secs(sample)),
        api: api_stats(&calls, start, end, &w.changes),
        min_serving: w.min_serving,
        prediction: None,
        meets: BTreeMap::new(),
    };

    if f == Failure::None {
        let phases = if t.standalone() {
            res.plan = outcome
                .plan
                .as_ref()
                .map(|p| p.strategy.to_string())
                .unwrap_or_default();
            standalone_phases(&outcome, &s, &events, &calls, start, end)
        } else {
            res.plan = "ECS rolling (configuration chosen by ecs-roll)".into();
            service_phases(&outcome, &calls, &w, start, end)
        };
        let floor: f64 = phases.iter().map(|p| p.floor_s).sum();
        let deploy = secs(outcome.duration);
        res.floor_s = Some(round(floor));
        res.overhead_s = Some(round(deploy - floor));
        res.overhead_ratio = Some(round4((deploy - floor) / deploy));
        res.max_phase_overhead_s = phases
            .iter()
            .map(|p| p.overhead_s)
            .max_by(f64::total_cmp)
            .map(round);
        res.phases = phases;
        res.meets.insert(
            "phase_overhead<=1s".into(),
            res.max_phase_overhead_s.unwrap_or(0.0) <= TARGET_PHASE_OVERHEAD_S,
        );
        res.meets.insert(
            "overhead<=2%".into(),
            res.overhead_ratio.unwrap_or(0.0) <= TARGET_OVERHEAD_RATIO,
        );
        let second = second_deploy(&env, &sim, t, policy).await;
        let (first_predicted_s, first_actual_s, first_error) = prediction_error(&outcome);
        let (second_predicted_s, second_actual_s, second_error) = prediction_error(&second);
        res.meets.insert(
            "prediction<=10%".into(),
            second_error <= TARGET_PREDICTION_ERROR,
        );
        res.prediction = Some(PredictionResult {
            first_predicted_s,
            first_actual_s,
            first_error,
            second_predicted_s,
            second_actual_s,
            second_error,
        });
    } else {
        res.plan = "failing variant".into();
        res.detection = detection(t, f, &s, &w, &calls, &events, secs(sample));
        if let Some(d) = &res.detection {
            // The classic ELB's verdict on failed checks: within one health-check interval
            // of the check that decided it; any other evidence: within 2 s.
            if t.standalone() && f == Failure::FailsHealthCheck {
                res.meets
                    .insert("detection<=interval".into(), d.latency_s <= s.interval_s);
            } else {
                res.meets
                    .insert("detection<=2s".into(), d.latency_s <= TARGET_DETECTION_S);
            }
        }
    }
    if let Some(c) = res.conclusion_s {
        res.meets
            .insert("conclusion<=2s".into(), c <= TARGET_CONCLUSION_S);
    }
    res
}

/// From the last visible change at or before `end` (or `start`) to `end`.
/// Changes are sampled every `sample`: one dated up to a sample after `end` happened at its
/// instant (the run ending on the look that saw it) and counts as 0.
fn conclusion(changes: &[f64], start: f64, end: f64, sample: f64) -> Option<f64> {
    let settled = changes
        .iter()
        .copied()
        .filter(|c| *c <= end + sample)
        .fold(start, f64::max);
    Some(round((end - settled).max(0.0)))
}

/// The deploy after the measured one (v2 -> v3), on the same AWS: what the prediction learned
/// from the first is what it is judged by.
async fn second_deploy(env: &Env, sim: &Sim, t: Topology, policy: Policy) -> Outcome {
    const V3: &str = "rafabor/prototype-4-cb:v0.0.3";
    if t.standalone() {
        let td = TaskDefinition::parse(&standalone_td(V1).to_string(), "bench").unwrap();
        let td = td.with_image("cb-prototype", &ImageRef::parse(V3).unwrap());
        let ctx = env.standalone_ctx(CLUSTER_STANDALONE, "cb-prototype", policy);
        deploy::run(&ctx, Desired::Definition(td), &opts()).await
    } else {
        let td = service_definition(sim, "web", "app:v3").await;
        let sctx = service_ctx(env, "web", policy);
        service::run(&sctx, Desired::Definition(td), &opts()).await
    }
    .expect("second deploy")
}

fn scenario_name(t: Topology, f: Failure) -> String {
    match f {
        Failure::None => t.name().to_string(),
        Failure::CrashAfterMs(ms) => format!("{}/crash-after-{ms}ms", t.name()),
        other => format!(
            "{}/{}",
            t.name(),
            serde_json::to_value(other)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default()
        ),
    }
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Per plan step: what it took against what the platform needs for it.
///
/// * Launch on instances not registered: the instance can be registered no sooner than its
///   task is started, and is checked one interval after registration and every interval
///   after: InService at the first check at or after RUNNING (never before the first, one
///   interval in), plus threshold - 1 intervals. On instances
///   already registered (OutOfService while free), the checks run on the load balancer's own
///   schedule since the instance was registered: the first passing check is the first one at
///   or after the task turns RUNNING, then threshold - 1 more intervals.
/// * Replace (drain, stop, start in place, register): connection draining timeout, plus task
///   stop, plus the launch above.
/// * Retire: draining timeout + task stop.
/// * Register: threshold x interval.
///
/// Before the first step (preflight, lock, register the revision) and after the last
/// (verification) the platform needs nothing: all of it is overhead.
fn standalone_phases(
    outcome: &Outcome,
    s: &Settings,
    events: &[(f64, Event)],
    calls: &[(f64, String)],
    start: f64,
    end: f64,
) -> Vec<Phase> {
    let Some(plan) = &outcome.plan else {
        return Vec::new();
    };
    let healthy = f64::from(s.healthy_threshold) * s.interval_s;
    let mut phases = Vec::new();
    let step_starts: Vec<f64> = events
        .iter()
        .filter_map(|(t, e)| matches!(e, Event::StepStarted { .. }).then_some(*t))
        .collect();
    let first = step_starts.first().copied().unwrap_or(end);
    phases.push(Phase {
        name: "before the first step (preflight, lock, revision)".into(),
        took_s: round(first - start),
        floor_s: 0.0,
        overhead_s: round(first - start),
    });
    let mut last_end = first;
    for (i, (step, report)) in plan.steps.iter().zip(&outcome.steps).enumerate() {
        let step_start = step_starts.get(i).copied().unwrap_or(last_end);
        let took = secs(report.took);
        // ecs-roll registers an instance when it starts its task (not before: the old task
        // must be gone first, or the ELB would send its traffic there). The ELB checks it one
        // interval after registration and every interval after; the first that can pass is
        // the first at or after RUNNING, then HealthyThreshold - 1 more.
        let first_passing = (s.task_start_s / s.interval_s).ceil().max(1.0) * s.interval_s;
        let launch = first_passing + f64::from(s.healthy_threshold - 1) * s.interval_s;
        let floor = match &step.action {
            Action::Replace { .. } => s.drain_s + s.task_stop_s + launch,
            Action::Retire { .. } => s.drain_s + s.task_stop_s,
            Action::Register { .. } => healthy,
            // One DeregisterInstances call, no wait.
            Action::Deregister { .. } => 0.0,
            Action::Launch { slots } => {
                if slots.iter().all(|sl| sl.registered) {
                    let started = calls
                        .iter()
                        .find(|(t, op)| *t >= step_start && op == "StartTask")
                        .map_or(step_start, |(t, _)| *t);
                    let running = started + s.task_start_s;
                    let first_check = (running / s.interval_s).ceil().max(1.0) * s.interval_s;
                    first_check + f64::from(s.healthy_threshold - 1) * s.interval_s - step_start
                } else {
                    launch
                }
            }
        };
        phases.push(Phase {
            name: format!("step {}: {}", i + 1, report.title),
            took_s: round(took),
            floor_s: round(floor),
            overhead_s: round(took - floor),
        });
        last_end = step_start + took;
    }
    let total = secs(outcome.duration);
    let after = start + total - last_end;
    phases.push(Phase {
        name: "after the last step (verification, lock release)".into(),
        took_s: round(after),
        floor_s: 0.0,
        overhead_s: round(after),
    });
    phases
}

/// Service: the platform's part is the ECS scheduler's, from UpdateService until the sim's
/// deployment is COMPLETED (every new task healthy, every old task STOPPED, so its targets
/// are drained). Before UpdateService and after the watch, the platform needs nothing.
fn service_phases(
    outcome: &Outcome,
    calls: &[(f64, String)],
    w: &Watched,
    start: f64,
    end: f64,
) -> Vec<Phase> {
    let update = calls
        .iter()
        .find(|(_, op)| op == "UpdateService")
        .map_or(start, |(t, _)| *t);
    let watch = outcome.steps.first().map_or(0.0, |r| secs(r.took));
    let converged = w.completed.map_or(watch, |c| c - update);
    let total = secs(outcome.duration);
    vec![
        Phase {
            name: "before UpdateService (preflight, lock, revision)".into(),
            took_s: round(update - start),
            floor_s: 0.0,
            overhead_s: round(update - start),
        },
        Phase {
            name: "UpdateService -> deployment done (watch)".into(),
            took_s: round(watch),
            floor_s: round(converged),
            overhead_s: round(watch - converged),
        },
        Phase {
            name: "after the watch (restore configuration, lock release)".into(),
            took_s: round(total - (update - start) - watch),
            floor_s: 0.0,
            overhead_s: round(total - (update - start) - watch),
        },
    ]
    .into_iter()
    .filter(|_| end >= start)
    .collect()
}

/// Evidence -> first action. Evidence: a new task stopped (the sim's stop time, as seen by
/// the watcher), rolloutState FAILED, or (classic ELB, never InService) the instance having
/// failed unhealthy_threshold checks in a row after its registration. Action: the first
/// change ecs-roll makes after it (cleanup of the failed step, or the rollback itself), or
/// its decision to follow ECS's own rollback.
fn detection(
    t: Topology,
    f: Failure,
    s: &Settings,
    w: &Watched,
    calls: &[(f64, String)],
    events: &[(f64, Event)],
    sample: f64,
) -> Option<Detection> {
    let (evidence, at) = if t.standalone() && f == Failure::FailsHealthCheck {
        let starts: Vec<f64> = calls
            .iter()
            .filter(|(_, op)| op == "StartTask")
            .map(|(t, _)| *t)
            .collect();
        let first_start = *starts.first()?;
        let reg = calls
            .iter()
            .find(|(t, op)| *t >= first_start && op == "RegisterInstancesWithLoadBalancer")?
            .0;
        // The checks run every interval from one interval after registration; the first
        // one against the new task is the first at or after RUNNING.
        let running = first_start + s.task_start_s;
        let first = reg + ((running - reg) / s.interval_s).ceil().max(1.0) * s.interval_s;
        (
            format!(
                "instance failed {} health checks in a row against the running task",
                s.unhealthy_threshold
            ),
            first + f64::from(s.unhealthy_threshold - 1) * s.interval_s,
        )
    } else {
        let mut options = Vec::new();
        if let Some(a) = w.new_stops.get(w.stops_conclusive.max(1) - 1).copied() {
            let nth = if w.stops_conclusive > 1 {
                "the second "
            } else {
                ""
            };
            options.push((
                nth.to_string()
                    + match f {
                        Failure::FailsHealthCheck => {
                            "target unhealthy past threshold: ECS stopped the new task"
                        }
                        Failure::CircuitBreaker => "new task stopped (image cannot be pulled)",
                        _ => "new task stopped (container exited 1)",
                    },
                a,
            ));
        }
        if let Some(a) = w.first_failed {
            options.push(("rolloutState FAILED (circuit breaker)".to_string(), a));
        }
        options.into_iter().min_by(|a, b| a.1.total_cmp(&b.1))?
    };
    // The watcher samples every `sample`: evidence it dates `at` came after `at - sample`,
    // and an action in that sample (at the same virtual instant as the evidence) counts as
    // immediate.
    let from = at - sample;
    let first_change = calls
        .iter()
        .find(|(c, op)| *c > from && MUTATING.contains(&op.as_str()))
        .map(|(c, op)| (op.clone(), *c));
    let rollback_started = events
        .iter()
        .find(|(e, ev)| *e > from && matches!(ev, Event::RollbackStarted { .. }))
        .map(|(e, _)| *e);
    let mut candidates: Vec<(String, f64)> = Vec::new();
    if let Some((op, c)) = first_change {
        candidates.push((op, c));
    }
    if let Some(r) = rollback_started {
        candidates.push(("decides to roll back / follow ECS's rollback".into(), r));
    }
    let (action, action_at) = candidates.into_iter().min_by(|a, b| a.1.total_cmp(&b.1))?;
    let restore = if t.standalone() {
        rollback_started.and_then(|r| {
            calls
                .iter()
                .find(|(c, op)| *c >= r && op == "StartTask")
                .map(|(c, _)| ("StartTask (previous revision)".to_string(), *c))
        })
    } else {
        let update_after = calls
            .iter()
            .skip_while(|(c, _)| *c <= from)
            .find(|(_, op)| op == "UpdateService")
            .map(|(c, _)| ("UpdateService (previous revision)".to_string(), *c));
        match (f, rollback_started) {
            (Failure::CircuitBreaker, Some(r)) => Some(("follows ECS's rollback".to_string(), r)),
            _ => update_after,
        }
    };
    Some(Detection {
        evidence,
        evidence_at_s: round(at),
        action,
        action_at_s: round(action_at),
        latency_s: round((action_at - at).max(0.0)),
        restore_latency_s: restore.as_ref().map(|(_, c)| round((c - at).max(0.0))),
        restore_action: restore.map(|(a, _)| a),
    })
}

// ---- many services ---------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
struct ManyResult {
    policy: Policy,
    limiter: Limiting,
    services: usize,
    limit_per_second: f64,
    limit_burst: u32,
    solo_deploy_s: f64,
    slowest_concurrent_deploy_s: f64,
    makespan_s: f64,
    ratio_to_solo: f64,
    all_succeeded: bool,
    total_calls: usize,
    peak_calls_1s: usize,
    peak_calls_per_s_10s: f64,
    peak_reads_1s: usize,
    peak_by_operation_1s: BTreeMap<String, usize>,
    ecs_peak_calls_1s: usize,
    ecs_peak_calls_per_s_10s: f64,
    reads_per_minute_per_service: f64,
    meets: BTreeMap<String, bool>,
}

fn many_sim(n: usize, s: &Settings) -> Sim {
    let mut b = Sim::builder()
        .timings(timings(s, false))
        // Room for every service's surge: 16 tasks of 256 CPU per instance.
        .instance_resources(4096, 8192)
        .instances((n * 6).div_ceil(16) + 1);
    for i in 0..n {
        let name = format!("web-{i:02}");
        b = b
            .target_group(&name, tg_spec(s, TargetType::Instance))
            .service(
                &name,
                ServiceSpec {
                    desired: 3,
                    task_definition: dynamic_app(&name, "app:v1"),
                    target_group: Some(name.clone()),
                    deployment_configuration: deployment_configuration(200, 100),
                    ..ServiceSpec::default()
                },
            );
    }
    b.build()
}

/// How the client-side rate limit is applied in the many-services scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Limiting {
    /// As `ecs-roll deploy --all` does: one bucket for every request of every AWS service,
    /// at `commands::multi::RATE_PER_SECOND` and `BURST`.
    Shared,
    /// The comparison: one bucket per AWS API (ECS; ELBv2; classic ELB), each at the same
    /// rate (each AWS service throttles on its own).
    PerApi,
    /// The same bucket at half the rate (10/s, burst 20): what ecs-roll used before, to
    /// show what a stricter share of the account costs.
    Half,
}

impl Limiting {
    /// The bucket's (rate per second, burst).
    fn bucket(self) -> (f64, u32) {
        match self {
            Limiting::Half => (LIMIT_PER_SECOND / 2.0, LIMIT_BURST * 2 / 5),
            _ => (LIMIT_PER_SECOND, LIMIT_BURST),
        }
    }
}

struct Limiters {
    /// DescribeServices shared by every watch, as `ecs-roll deploy --all` does.
    board: Arc<ServiceBoard>,
    /// The cluster-wide reads shared by every target, likewise.
    clusters: ClusterShelves,
    ecs: Arc<RateLimiter>,
    elbv2: Arc<RateLimiter>,
    elb: Arc<RateLimiter>,
}

impl Limiters {
    /// The shared answers are as young as a look: the policy's interval.
    fn new(how: Limiting, policy: Policy) -> Limiters {
        let (rate, burst) = how.bucket();
        let max_age = policy.poll().min;
        let ecs = RateLimiter::new(rate, burst);
        match how {
            Limiting::Shared | Limiting::Half => Limiters {
                board: ServiceBoard::new(max_age),
                clusters: ClusterShelves::default(),
                elbv2: ecs.clone(),
                elb: ecs.clone(),
                ecs,
            },
            Limiting::PerApi => Limiters {
                board: ServiceBoard::new(max_age),
                clusters: ClusterShelves::default(),
                ecs,
                elbv2: RateLimiter::new(LIMIT_PER_SECOND, LIMIT_BURST),
                elb: RateLimiter::new(LIMIT_PER_SECOND, LIMIT_BURST),
            },
        }
    }
}

fn limited_ctx(env: &Env, name: &str, policy: Policy, l: &Limiters) -> ServiceCtx {
    let mut s = service_ctx(env, name, policy);
    s.ctx.ecs = SharedEcs::wrap(
        Limited::new(s.ctx.ecs.clone(), l.ecs.clone()),
        &l.clusters,
        Duration::from_secs(1),
        "bench".into(),
    );
    s.ctx.elb = Limited::<dyn ClassicElb>::new(s.ctx.elb.clone(), l.elb.clone());
    s.ctx.tags = Limited::<dyn ResourceTags>::new(s.ctx.tags.clone(), l.ecs.clone());
    s.services = Batched::wrap(
        Limited::<dyn EcsServices>::new(s.services.clone(), l.ecs.clone()),
        l.board.clone(),
        "bench".into(),
    );
    s.target_groups = Limited::<dyn TargetGroups>::new(s.target_groups.clone(), l.elbv2.clone());
    s
}

async fn deploy_services(
    env: &Env,
    names: &[String],
    policy: Policy,
    how: Limiting,
) -> Vec<(f64, bool)> {
    let limiter = Limiters::new(how, policy);
    let mut defs = Vec::new();
    for name in names {
        defs.push(service_definition(&env.sim, name, "app:v2").await);
    }
    env.sim.clear_calls();
    let local = tokio::task::LocalSet::new();
    let mut handles = Vec::new();
    for (name, td) in names.iter().zip(defs) {
        let sctx = limited_ctx(env, name, policy, &limiter);
        handles.push(local.spawn_local(async move {
            let out = service::run(&sctx, Desired::Definition(td), &opts()).await;
            match out {
                Ok(o) => (
                    secs(o.duration),
                    o.result == ecs_roll::engine::outcome::RunResult::Succeeded,
                ),
                Err(_) => (0.0, false),
            }
        }));
    }
    local
        .run_until(async {
            let mut out = Vec::new();
            for h in handles {
                out.push(h.await.unwrap_or((0.0, false)));
            }
            out
        })
        .await
}

/// Detection latency over crash times: a crash at a random moment is the one thing no wait can
/// foresee, so one crash time says little; the sweep shows the spread and the worst case.
#[derive(Debug, Clone, Serialize)]
struct Sweep {
    topology: String,
    crash_after_s: Vec<f64>,
    latency_s: Vec<f64>,
    p50_s: f64,
    p90_s: f64,
    p99_s: f64,
    max_s: f64,
}

/// p50, p90, p99 and max of `values` (NaN, a run without a detection, left out).
fn percentiles(values: &[f64]) -> (f64, f64, f64, f64) {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|l| l.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let at = |q: f64| {
        sorted
            .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    (
        at(0.5),
        at(0.9),
        at(0.99),
        sorted.last().copied().unwrap_or(f64::NAN),
    )
}

/// 3.13 s (less where the task is healthy sooner): 26 crash times from 5 s whose phases
/// against a 1 s poll (0.13 s apart, modulo 1 s) cover the whole second, so the sweep sees
/// the worst moment for a look too; a whole number of seconds would meet the poll at the
/// same phase every time.
const SWEEP_STEP_MS: u32 = 3130;
const SWEEP_CRASHES: u32 = 26;

async fn sweep_detection(t: Topology, policy: Policy, sample: Duration) -> Sweep {
    // Crashes before the task could be healthy: one that served first is ECS's to replace,
    // not evidence against the deploy.
    let s = settings(t);
    let healthy_ms = (s.interval_s * f64::from(s.healthy_threshold) * 1000.0) as u32;
    let step = SWEEP_STEP_MS.min(healthy_ms.saturating_sub(7000) / SWEEP_CRASHES);
    // Not a whole number of seconds, so the crashes meet a 1 s poll at every phase.
    let step = match step % 1000 {
        0..100 => step - step % 1000 - 130,
        901.. => step - step % 1000 + 870,
        _ => step,
    };
    let crash_after_ms: Vec<u32> = (0..SWEEP_CRASHES).map(|k| 5000 + k * step).collect();
    let mut latency_s = Vec::new();
    for ms in &crash_after_ms {
        let r = run_scenario(t, Failure::CrashAfterMs(*ms), policy, sample).await;
        latency_s.push(r.detection.map_or(f64::NAN, |d| d.latency_s));
    }
    let (p50_s, p90_s, p99_s, max_s) = percentiles(&latency_s);
    Sweep {
        topology: t.name().into(),
        p50_s,
        p90_s,
        p99_s,
        max_s,
        crash_after_s: crash_after_ms
            .iter()
            .map(|ms| f64::from(*ms) / 1000.0)
            .collect(),
        latency_s,
    }
}

fn peak_in_window(times: &[f64], window: f64) -> usize {
    let mut best = 0;
    let mut j = 0;
    for i in 0..times.len() {
        while times[i] - times[j] >= window {
            j += 1;
        }
        best = best.max(i - j + 1);
    }
    best
}

async fn run_many(n: usize, policy: Policy, how: Limiting) -> ManyResult {
    let s = settings(Topology::ServiceAlbDynamic);
    // The slowest single deploy: one service alone, same cluster shape, same limiter.
    let solo_env = Env::new(many_sim(n, &s));
    let solo = deploy_services(&solo_env, &["web-00".to_string()], policy, how).await;
    let solo_s = solo[0].0;

    let env = Env::new(many_sim(n, &s));
    let names: Vec<String> = (0..n).map(|i| format!("web-{i:02}")).collect();
    let start = secs(env.sim.elapsed());
    let results = deploy_services(&env, &names, policy, how).await;
    let makespan = secs(env.sim.elapsed()) - start;
    let calls = env.calls();
    let times: Vec<f64> = calls.iter().map(|(t, _)| *t).collect();
    let reads: Vec<f64> = calls
        .iter()
        .filter(|(_, op)| is_read(op))
        .map(|(t, _)| *t)
        .collect();
    let mut by_op: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (t, op) in &calls {
        by_op.entry(op.clone()).or_default().push(*t);
    }
    let slowest = results.iter().map(|r| r.0).fold(0.0, f64::max);
    let peak_10 = peak_in_window(&times, 10.0) as f64 / 10.0;
    let peak_1 = peak_in_window(&times, 1.0);
    let ratio = makespan / solo_s;
    let mut meets = BTreeMap::new();
    meets.insert("makespan<=1.1x solo".into(), ratio <= TARGET_MANY_RATIO);
    // A bucket of `burst` refilled at `rate` lets at most burst + rate requests through in
    // any one second, and burst/10 + rate per second over ten; per AWS API for per-api.
    let apis = if how == Limiting::PerApi { 2.0 } else { 1.0 };
    let (ecs_1, ecs_10) = {
        let t: Vec<f64> = calls
            .iter()
            .filter(|(_, op)| {
                !matches!(op.as_str(), "DescribeTargetHealth" | "DescribeTargetGroups")
            })
            .map(|(t, _)| *t)
            .collect();
        (
            peak_in_window(&t, 1.0),
            peak_in_window(&t, 10.0) as f64 / 10.0,
        )
    };
    let burst = f64::from(LIMIT_BURST);
    meets.insert(
        "ecs_peak_1s<=burst+rate".into(),
        ecs_1 as f64 <= burst + LIMIT_PER_SECOND,
    );
    meets.insert(
        "ecs_10s<=rate+burst/10".into(),
        ecs_10 <= LIMIT_PER_SECOND + burst / 10.0 + 1e-9,
    );
    let _ = apis;
    ManyResult {
        policy,
        limiter: how,
        services: n,
        limit_per_second: how.bucket().0,
        limit_burst: how.bucket().1,
        solo_deploy_s: round(solo_s),
        slowest_concurrent_deploy_s: round(slowest),
        makespan_s: round(makespan),
        ratio_to_solo: round(ratio),
        all_succeeded: results.iter().all(|r| r.1),
        total_calls: calls.len(),
        peak_calls_1s: peak_1,
        peak_calls_per_s_10s: round(peak_10),
        peak_reads_1s: peak_in_window(&reads, 1.0),
        ecs_peak_calls_1s: ecs_1,
        ecs_peak_calls_per_s_10s: round(ecs_10),
        peak_by_operation_1s: by_op
            .into_iter()
            .map(|(op, t)| (op, peak_in_window(&t, 1.0)))
            .collect(),
        reads_per_minute_per_service: round(reads.len() as f64 / (makespan / 60.0) / n as f64),
        meets,
    }
}

// ---- output ----------------------------------------------------------------------------------

fn fmt_opt(v: Option<f64>, unit: &str) -> String {
    v.map_or("-".into(), |x| format!("{x:.2}{unit}"))
}

fn mark(res: &BTreeMap<String, bool>, key: &str) -> &'static str {
    res.get(key).map_or("", |met| ok(*met))
}

fn ok(met: bool) -> &'static str {
    if met { " ok" } else { " MISS" }
}

fn print_table(results: &[ScenarioResult], many: &[ManyResult]) {
    println!(
        "\n{:<44} {:<9} {:<10} {:>8} {:>8} {:>13} {:>16} {:>15} {:>6} {:>7} {:>16} {:>30}",
        "scenario",
        "policy",
        "result",
        "deploy",
        "floor",
        "overhead",
        "max phase ovh",
        "detection",
        "calls",
        "reads/m",
        "quiet: peak/60s steady/min",
        "predicted: first / after one"
    );
    for r in results {
        let overhead = match (r.overhead_s, r.overhead_ratio) {
            (Some(o), Some(p)) => format!(
                "{o:.1}s {:.1}%{}",
                p * 100.0,
                mark(&r.meets, "overhead<=2%")
            ),
            _ => "-".into(),
        };
        let predicted = r.prediction.as_ref().map_or("-".into(), |p| {
            format!(
                "{:.0}s {:.1}% / {:.0}s {:.1}%{}",
                p.first_predicted_s,
                p.first_error * 100.0,
                p.second_predicted_s,
                p.second_error * 100.0,
                mark(&r.meets, "prediction<=10%")
            )
        });
        let phase = format!(
            "{}{}",
            fmt_opt(r.max_phase_overhead_s, "s"),
            mark(&r.meets, "phase_overhead<=1s")
        );
        let det = r.detection.as_ref().map_or("-".into(), |d| {
            format!("{:.2}s{}", d.latency_s, mark(&r.meets, "detection<=2s"))
        });
        let quiet = match (
            r.api.quiet_reads_peak_60s,
            r.api.quiet_reads_steady_per_minute,
        ) {
            (None, None) => "-".into(),
            (peak, steady) => format!(
                "{} {}",
                peak.map_or("-".into(), |p| p.to_string()),
                steady.map_or("-".into(), |s| format!("{s:.1}"))
            ),
        };
        println!(
            "{:<44} {:<9} {:<10} {:>7.1}s {:>8} {:>13} {:>16} {:>15} {:>6} {:>7.1} {:>16} {:>30}",
            r.scenario,
            r.policy.name(),
            r.result,
            r.deploy_s,
            fmt_opt(r.floor_s, "s"),
            overhead,
            phase,
            det,
            r.api.total,
            r.api.reads_per_minute,
            quiet,
            predicted
        );
    }
    for m in many {
        println!(
            "\n{} services concurrently ({}, limiter {:?}), {}/s burst {}: makespan {:.1}s vs solo {:.1}s = {:.2}x{}; slowest single {:.1}s; \
             ECS API peak {} calls/1s{}, {:.1}/s over 10s{}; {} calls; {:.1} reads/min/service; all succeeded: {}",
            m.services,
            m.policy.name(),
            m.limiter,
            m.limit_per_second,
            m.limit_burst,
            m.makespan_s,
            m.solo_deploy_s,
            m.ratio_to_solo,
            mark(&m.meets, "makespan<=1.1x solo"),
            m.slowest_concurrent_deploy_s,
            m.ecs_peak_calls_1s,
            mark(&m.meets, "ecs_peak_1s<=burst+rate"),
            m.ecs_peak_calls_per_s_10s,
            mark(&m.meets, "ecs_10s<=rate+burst/10"),
            m.total_calls,
            m.reads_per_minute_per_service,
            m.all_succeeded
        );
        println!("  peak per operation in 1 s: {:?}", m.peak_by_operation_1s);
    }
}

struct Args {
    policies: Vec<Policy>,
    only: Option<String>,
    out: Option<String>,
    sample: Duration,
    services: usize,
    many: bool,
    sweep: bool,
    flat: bool,
    curve: bool,
}

/// The poll intervals of the trade-off curve (requests a second against detection).
const CURVE: [Policy; 5] = [
    Policy::Every(500),
    Policy::Every(750),
    Policy::Default,
    Policy::Every(1500),
    Policy::Every(2000),
];

fn print_flat(flat: &[flat::FlatPoint], curve: &[flat::FlatPoint]) {
    let one = flat.iter().find(|p| p.services == 1);
    for p in flat {
        let ratio = one.map_or(f64::NAN, |o| {
            p.idle_watch_reads_per_s / o.idle_watch_reads_per_s
        });
        println!(
            "\nflat cost, {} service(s) in one cluster, idle ({:.0} s measured): watch reads {:.2}/s = {:.2}x one{} ({:.2} DescribeServices/s); \
             lock heartbeats {:.2}/s; all requests {:.2}/s; detection of a crash in one of them: p50 {:.2}s, p99 {:.2}s{}, max {:.2}s over {} crash times",
            p.services,
            p.idle_s,
            p.idle_watch_reads_per_s,
            ratio,
            ok(ratio <= TARGET_FLAT_RATIO),
            p.idle_describe_services_per_s,
            p.idle_lock_requests_per_s,
            p.idle_requests_per_s,
            p.p50_s,
            p.p99_s,
            ok(p.p99_s <= TARGET_DETECTION_S),
            p.max_s,
            p.latency_s.len()
        );
    }
    if !curve.is_empty() {
        println!(
            "\ntrade-off curve (poll interval: idle watch reads/s and p99 detection, 1 and 50 services):"
        );
    }
    for pair in curve.chunks(2) {
        let [a, b] = pair else { continue };
        let ratio = b.idle_watch_reads_per_s / a.idle_watch_reads_per_s;
        println!(
            "  {:<12} 1 service {:.2} reads/s p99 {:.2}s | 50 services {:.2} reads/s ({ratio:.2}x) p99 {:.2}s{}",
            a.policy.name(),
            a.idle_watch_reads_per_s,
            a.p99_s,
            b.idle_watch_reads_per_s,
            b.p99_s,
            if b.p99_s <= TARGET_DETECTION_S && ratio <= TARGET_FLAT_RATIO {
                "  meets both at 50"
            } else {
                ""
            }
        );
    }
}

fn args() -> Args {
    let mut a = Args {
        policies: Vec::new(),
        only: None,
        out: None,
        sample: Duration::from_millis(100),
        services: 50,
        many: true,
        sweep: true,
        flat: true,
        curve: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().unwrap_or_else(|| panic!("{name} needs a value"));
        match arg.as_str() {
            "--policy" => {
                let v = value("--policy");
                a.policies.extend(
                    Policy::parse(&v)
                        .unwrap_or_else(|| panic!("unknown policy {v}: default, previous or all")),
                );
            }
            "--only" => a.only = Some(value("--only")),
            "--out" => a.out = Some(value("--out")),
            "--sample-ms" => {
                a.sample = Duration::from_millis(value("--sample-ms").parse().expect("a number"))
            }
            "--services" => a.services = value("--services").parse().expect("a number"),
            "--no-many" => a.many = false,
            "--no-sweep" => a.sweep = false,
            "--no-flat" => a.flat = false,
            "--no-curve" => a.curve = false,
            "-h" | "--help" => {
                println!(
                    "usage: bench [--policy default|previous|all]... [--only SUBSTRING] [--out FILE] \
                     [--sample-ms N] [--services N] [--no-many] [--no-sweep] [--no-flat] [--no-curve]"
                );
                std::process::exit(0);
            }
            other => panic!("unknown argument {other}"),
        }
    }
    if a.policies.is_empty() {
        a.policies.push(Policy::Default);
    }
    a
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a tokio runtime");
    let wall = std::time::Instant::now();
    let mut results = Vec::new();
    let mut many = Vec::new();
    for policy in &a.policies {
        for (t, f) in scenarios() {
            if a.only
                .as_ref()
                .is_some_and(|o| !scenario_name(t, f).contains(o.as_str()))
            {
                continue;
            }
            let r = rt.block_on(run_scenario(t, f, *policy, a.sample));
            eprintln!(
                "[bench] {} ({}): {} in {:.1}s virtual, {:.1}s wall so far",
                r.scenario,
                policy.name(),
                r.result,
                r.deploy_s,
                wall.elapsed().as_secs_f64()
            );
            results.push(r);
        }
        if a.many
            && a.only
                .as_ref()
                .is_none_or(|o| "many-services".contains(o.as_str()))
        {
            for how in [Limiting::Shared, Limiting::PerApi, Limiting::Half] {
                let m = rt.block_on(run_many(a.services, *policy, how));
                eprintln!(
                    "[bench] many-services ({}, {how:?}): {:.1}s wall so far",
                    policy.name(),
                    wall.elapsed().as_secs_f64()
                );
                many.push(m);
            }
        }
    }
    print_table(&results, &many);
    let sweep: Vec<Sweep> = if a.sweep && a.policies.contains(&Policy::Default) {
        [
            Topology::StandaloneRolling,
            Topology::StandaloneBlueGreen,
            Topology::ServiceClassicStatic,
            Topology::ServiceAlbDynamic,
            Topology::ServiceFargateAlb,
        ]
        .into_iter()
        .map(|t| rt.block_on(sweep_detection(t, Policy::Default, a.sample)))
        .collect()
    } else {
        Vec::new()
    };
    for w in &sweep {
        println!(
            "\ndetection sweep, {}: a crash {:.2}..{:.2} s after RUNNING ({} deploys): p50 {:.2}s, p90 {:.2}s, p99 {:.2}s, max {:.2}s{} (target p99 <= {TARGET_DETECTION_S} s)",
            w.topology,
            w.crash_after_s.first().copied().unwrap_or(0.0),
            w.crash_after_s.last().copied().unwrap_or(0.0),
            w.latency_s.len(),
            w.p50_s,
            w.p90_s,
            w.p99_s,
            w.max_s,
            ok(w.p99_s <= TARGET_DETECTION_S)
        );
    }
    let flat: Vec<flat::FlatPoint> = if a.flat {
        let mut points = Vec::new();
        for n in [1, 10, 50] {
            points.push(rt.block_on(flat::measure(n, Policy::Default)));
            eprintln!(
                "[bench] flat cost, {n} services: {:.1}s wall so far",
                wall.elapsed().as_secs_f64()
            );
        }
        points
    } else {
        Vec::new()
    };
    let curve: Vec<flat::FlatPoint> = if a.curve {
        let mut points = Vec::new();
        for policy in CURVE {
            for n in [1, 50] {
                points.push(rt.block_on(flat::measure(n, policy)));
            }
            eprintln!(
                "[bench] trade-off curve, {}: {:.1}s wall so far",
                policy.name(),
                wall.elapsed().as_secs_f64()
            );
        }
        points
    } else {
        Vec::new()
    };
    print_flat(&flat, &curve);
    let verdicts = targets::judge(&results, &many, &sweep, &flat);
    targets::print(&verdicts);
    let doc = json!({
        "tool": "ecs-roll bench",
        "version": env!("CARGO_PKG_VERSION"),
        "clock": "tokio paused clock (virtual seconds); simulated ECS/ELB with zero API latency",
        "targets": {
            "phase_overhead_s": TARGET_PHASE_OVERHEAD_S,
            "overhead_ratio": TARGET_OVERHEAD_RATIO,
            "detection_s": TARGET_DETECTION_S,
            "conclusion_s": TARGET_CONCLUSION_S,
            "idle_requests_50_services_vs_one": TARGET_FLAT_RATIO,
            "many_services_makespan_ratio": TARGET_MANY_RATIO,
        },
        "scenarios": results,
        "many_services": many,
        "detection_sweep": sweep,
        "flat_cost": flat,
        "trade_off_curve": curve,
        "targets_met": verdicts,
        "wall_s": round(wall.elapsed().as_secs_f64()),
    });
    let text = serde_json::to_string_pretty(&doc).expect("JSON");
    if let Some(path) = &a.out {
        std::fs::write(path, text + "\n").expect("write the results");
    }
    println!("\nwall time: {:.1}s", wall.elapsed().as_secs_f64());
}
