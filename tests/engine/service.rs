//! Service mode on the simulated platform, whole deploys under tokio's paused clock: the
//! reference setup as a service (classic ELB, static ports), ALB with dynamic ports, Fargate
//! behind an ALB, a crashing image, an image that never passes health checks, a circuit-breaker
//! rollback, a placement stall, someone else's deployment mid-watch, throttling. Each asserts
//! the result, the final state, and that the tasks serving the app never dropped to zero.

use std::sync::Arc;
use std::time::Duration;

use ecs_roll::engine::deploy::{Desired, Options, TAG_PREVIOUS};
use ecs_roll::engine::diagnosis::{CheckProblem, Diagnosis, Shortfall, Trigger, diagnose};
use ecs_roll::engine::events::{LockWarning, Observer, Phase, Recorder, Warning};
use ecs_roll::engine::lock;
use ecs_roll::engine::refusal::Refusal;
use ecs_roll::engine::rollback;
use ecs_roll::engine::service::TAG_CONFIGURATION;
use ecs_roll::engine::service::{self, ServiceCtx};
use ecs_roll::engine::timeline::Recording;
use ecs_roll::engine::wait::Poll;
use ecs_roll::engine::{Cancel, Ctx, Event, Failure, Outcome, RunResult, Timeouts};
use ecs_roll::error::Error;
use ecs_roll::image::ImageRef;
use ecs_roll::platform::{DeploymentConfiguration, HealthCheck};
use ecs_roll::render;
use ecs_roll::sim::{
    Behaviour, Fault, LaunchType, MemoryTags, ServiceSpec, Sim, TargetGroupSpec, TargetType,
    deployment_configuration, health_check,
};
use ecs_roll::taskdef::TaskDefinition;
use serde_json::{Value, json};

mod abort;
mod alarms;
mod before;
mod conclusion;
mod keep_revisions;
mod native;
mod rollback_records;
mod time_limits;
mod timeline;

const CLUSTER: &str = "default";
const WEB: &str = "web";
const ELB: &str = "cb-prototype-elb";

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The origin's app: static host port 5555.
fn static_app(image: &str) -> Value {
    json!({"family": WEB, "containerDefinitions": [{"name": "app", "image": image, "cpu": 256, "memory": 256,
        "portMappings": [{"containerPort": 5555, "hostPort": 5555}]}]})
}

/// Dynamic host ports (bridge, hostPort 0).
fn dynamic_app(image: &str) -> Value {
    json!({"family": WEB, "containerDefinitions": [{"name": "app", "image": image, "cpu": 256, "memory": 256,
        "portMappings": [{"containerPort": 8080}]}]})
}

fn fargate_app(image: &str) -> Value {
    json!({"family": WEB, "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "512",
        "containerDefinitions": [{"name": "app", "image": image, "portMappings": [{"containerPort": 8080}]}]})
}

fn tg(target_type: TargetType, port: u16) -> TargetGroupSpec {
    TargetGroupSpec {
        target_type,
        port,
        interval: secs(10),
        healthy_threshold: 3,
        unhealthy_threshold: 2,
        deregistration_delay: secs(30),
        ..TargetGroupSpec::default()
    }
}

fn quick_elb() -> HealthCheck {
    HealthCheck {
        interval: secs(10),
        healthy_threshold: 2,
        unhealthy_threshold: 2,
        ..health_check("HTTP:5555/testme")
    }
}

/// The reference setup as a service: 3 instances, static port 5555, classic ELB, 200/100.
fn classic_static(instances: usize, config: DeploymentConfiguration) -> Sim {
    Sim::builder()
        .instances(instances)
        .elb(ELB, quick_elb())
        .draining(secs(30))
        .service(
            WEB,
            ServiceSpec {
                desired: 3,
                task_definition: static_app("app:v1"),
                elb: Some(ELB.into()),
                deployment_configuration: config,
                ..ServiceSpec::default()
            },
        )
        .build()
}

/// A deploy's options: it rolls back on failure.
fn deploy_opts() -> Options {
    Options {
        command: "deploy".into(),
        rollback_on_failure: true,
        ..Options::default()
    }
}

fn alb_dynamic(config: DeploymentConfiguration) -> Sim {
    alb_dynamic_with(config, ecs_roll::sim::Timings::default())
}

fn alb_dynamic_with(config: DeploymentConfiguration, timings: ecs_roll::sim::Timings) -> Sim {
    Sim::builder()
        .timings(timings)
        .instances(3)
        .target_group(WEB, tg(TargetType::Instance, 8080))
        .service(WEB, web_behind_alb(config))
        .build()
}

/// Service `web` of 3 tasks with dynamic host ports behind target group `web`.
fn web_behind_alb(config: DeploymentConfiguration) -> ServiceSpec {
    ServiceSpec {
        desired: 3,
        task_definition: dynamic_app("app:v1"),
        target_group: Some(WEB.into()),
        deployment_configuration: config,
        ..ServiceSpec::default()
    }
}

/// The green side of `alb_native`'s service: a target group on the same load balancer.
const GREEN: &str = "web-green";

/// What ECS needs to shift traffic for the service: the alternate target group (by name:
/// the simulator stands it for its ARN), the production listener rule and the role.
fn advanced() -> ecs_roll::platform::AdvancedConfiguration {
    ecs_roll::platform::AdvancedConfiguration {
        alternate_target_group_arn: Some(GREEN.into()),
        production_listener_rule: Some(
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/web-alb/1/2/3"
                .into(),
        ),
        test_listener_rule: None,
        role_arn: Some("arn:aws:iam::123456789012:role/ecsInfrastructureRole".into()),
    }
}

/// `alb_dynamic`, ready for ECS's own BLUE_GREEN, LINEAR and CANARY: an alternate target
/// group beside the service's, and `advanced` on its load balancer (None: left out).
fn alb_native(
    config: DeploymentConfiguration,
    advanced: Option<ecs_roll::platform::AdvancedConfiguration>,
) -> Sim {
    Sim::builder()
        .instances(3)
        .target_group(WEB, tg(TargetType::Instance, 8080))
        .target_group_beside(GREEN, tg(TargetType::Instance, 8080), WEB)
        .service(
            WEB,
            ServiceSpec {
                advanced,
                ..web_behind_alb(config)
            },
        )
        .build()
}

fn fargate_alb() -> Sim {
    Sim::builder()
        .target_group(WEB, tg(TargetType::Ip, 8080))
        .service(
            WEB,
            ServiceSpec {
                desired: 3,
                launch_type: LaunchType::Fargate,
                task_definition: fargate_app("app:v1"),
                target_group: Some(WEB.into()),
                ..ServiceSpec::default()
            },
        )
        .build()
}

struct Run {
    sim: Sim,
    tags: MemoryTags,
    recorder: Arc<Recorder>,
    /// The recorder's events with their times: the run's timeline.
    recording: Arc<Recording>,
    cancel: Cancel,
    timeouts: Timeouts,
}

impl Run {
    fn new(sim: Sim) -> Run {
        let recorder = Arc::new(Recorder::default());
        Run {
            sim,
            tags: MemoryTags::default(),
            recorder: recorder.clone(),
            recording: Recording::new(recorder),
            cancel: Cancel::default(),
            timeouts: Timeouts::default(),
        }
    }

    /// Another run against the same AWS (the rerun after an interrupt or a crash).
    fn again(&self) -> Run {
        Run {
            tags: self.tags.clone(),
            timeouts: self.timeouts,
            ..Run::new(self.sim.clone())
        }
    }

    async fn service_arn(&self) -> String {
        let svc = self.sim.services().describe_service(CLUSTER, WEB).await;
        svc.unwrap().unwrap().arn
    }

    async fn configuration(&self) -> (Option<i64>, Option<i64>) {
        let svc = self
            .sim
            .services()
            .describe_service(CLUSTER, WEB)
            .await
            .unwrap()
            .unwrap();
        let c = svc.deployment_configuration;
        (c.maximum_percent, c.minimum_healthy_percent)
    }

    fn sctx(&self) -> ServiceCtx {
        ServiceCtx {
            ctx: Ctx {
                ecs: self.sim.ecs(),
                tags: Arc::new(self.tags.clone()),
                elb: self.sim.elb(),
                alarms: self.sim.alarms(),
                cluster: CLUSTER.into(),
                family: WEB.into(),
                observer: self.recording.clone(),
                poll: Poll::default(),
                timeouts: self.timeouts,
                cancel: self.cancel.clone(),
                actor: "test".into(),
                lock_heartbeat: ecs_roll::engine::lock::HEARTBEAT,
                gate: None,
            },
            services: self.sim.services(),
            target_groups: self.sim.target_groups(),
            service: WEB.into(),
        }
    }

    async fn deploy(&self, image: &str) -> Result<Outcome, Error> {
        let td = self.definition(image).await;
        self.deploy_td(td).await
    }

    /// The running revision with `image`, read before any fault is injected.
    async fn definition(&self, image: &str) -> TaskDefinition {
        let current = self
            .sim
            .services()
            .describe_service(CLUSTER, WEB)
            .await
            .unwrap()
            .unwrap();
        let rev = self
            .sim
            .ecs()
            .describe_task_definition(&current.task_definition)
            .await
            .unwrap();
        TaskDefinition::from_revision(&rev).with_image("app", &ImageRef::parse(image).unwrap())
    }

    /// A deploy of `image` with `opts` (see `deploy_opts`).
    async fn deploy_with(&self, image: &str, opts: Options) -> Result<Outcome, Error> {
        let td = self.definition(image).await;
        service::run(&self.sctx(), Desired::Definition(td), &opts).await
    }

    async fn deploy_td(&self, td: TaskDefinition) -> Result<Outcome, Error> {
        self.deploy_counted(td, None).await
    }

    /// A deploy of `td` with `--count`.
    async fn deploy_counted(
        &self,
        td: TaskDefinition,
        count: Option<usize>,
    ) -> Result<Outcome, Error> {
        service::run(
            &self.sctx(),
            Desired::Definition(td),
            &Options {
                command: "deploy".into(),
                count,
                rollback_on_failure: true,
                ..Options::default()
            },
        )
        .await
    }

    async fn service_revision(&self) -> String {
        let svc = self
            .sim
            .services()
            .describe_service(CLUSTER, WEB)
            .await
            .unwrap()
            .unwrap();
        svc.task_definition.rsplit('/').next().unwrap().to_string()
    }

    /// Task definitions (family:rev) of the service's running tasks, sorted.
    async fn running(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .sim
            .services()
            .service_tasks(CLUSTER, WEB, "RUNNING".into())
            .await
            .unwrap()
            .into_iter()
            .filter(|t| t.is_running())
            .map(|t| {
                t.task_definition_arn
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        v.sort();
        v
    }

    fn events(&self) -> Vec<Event> {
        self.recorder.events()
    }
}

fn min_serving(report: &ecs_roll::sim::CapacityReport) -> usize {
    report
        .samples
        .iter()
        .map(|s| s.in_service)
        .min()
        .unwrap_or(0)
}

#[tokio::test(start_paused = true)]
async fn reference_setup_as_a_service_rolls_one_task_at_a_time_and_restores_the_configuration() {
    let run = Run::new(classic_static(3, deployment_configuration(200, 100)));
    let sampler = run.sim.spawn_service_sampler(CLUSTER, WEB, secs(1));
    let out = run.deploy("app:v2").await.unwrap();
    let report = sampler.stop();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(run.running().await, ["web:2"; 3]);
    assert!(
        min_serving(&report) >= 2,
        "{:?}",
        report
            .samples
            .iter()
            .map(|s| s.in_service)
            .collect::<Vec<_>>()
    );
    let plan = run.events().into_iter().find_map(|e| match e {
        Event::ServicePlan(p) => Some(p),
        _ => None,
    });
    let plan = plan.expect("a plan");
    assert_eq!(
        (
            plan.chosen.maximum_percent,
            plan.chosen.minimum_healthy_percent
        ),
        (100, 66),
        "no spare instance: one at a time"
    );
    let svc = run
        .sim
        .services()
        .describe_service(CLUSTER, WEB)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            svc.deployment_configuration.maximum_percent,
            svc.deployment_configuration.minimum_healthy_percent
        ),
        (Some(200), Some(100)),
        "restored"
    );
    let rev = run
        .sim
        .ecs()
        .describe_task_definition("web:2")
        .await
        .unwrap();
    assert!(rev.tags[TAG_PREVIOUS].ends_with("web:1"));
}

#[tokio::test(start_paused = true)]
async fn a_spare_instance_gives_a_surge_at_full_capacity() {
    let run = Run::new(classic_static(4, deployment_configuration(100, 50)));
    let sampler = run.sim.spawn_service_sampler(CLUSTER, WEB, secs(1));
    let out = run.deploy("app:v2").await.unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert!(min_serving(&sampler.stop()) >= 3);
    assert_eq!(run.running().await, ["web:2"; 3]);
}

#[tokio::test(start_paused = true)]
async fn alb_with_dynamic_ports_starts_all_new_tasks_first() {
    let run = Run::new(alb_dynamic(deployment_configuration(200, 100)));
    let sampler = run.sim.spawn_service_sampler(CLUSTER, WEB, secs(1));
    let out = run.deploy("app:v2").await.unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert!(min_serving(&sampler.stop()) >= 3);
    assert_eq!(run.running().await, ["web:2"; 3]);
}

#[tokio::test(start_paused = true)]
async fn fargate_behind_an_alb_deploys_on_ip_targets() {
    let run = Run::new(fargate_alb());
    let sampler = run.sim.spawn_service_sampler(CLUSTER, WEB, secs(1));
    let out = run.deploy("app:v2").await.unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert!(min_serving(&sampler.stop()) >= 3);
    assert_eq!(run.running().await, ["web:2"; 3]);
}

/// What the classifier makes of the run's failure.
fn diagnosis(out: &Outcome) -> Diagnosis {
    diagnose(&out.failure.as_ref().expect("a failure").cause)
}

async fn assert_rolled_back(run: &Run, out: &Outcome, report: &ecs_roll::sim::CapacityReport) {
    assert_eq!(
        out.result,
        RunResult::RolledBack,
        "{:?} / {:?}",
        out.failure,
        out.rollback_failure
    );
    assert_eq!(out.exit_code(), 3);
    assert_eq!(run.service_revision().await, "web:1");
    assert_eq!(run.running().await, ["web:1"; 3]);
    assert!(
        min_serving(report) >= 1,
        "{:?}",
        report
            .samples
            .iter()
            .map(|s| s.in_service)
            .collect::<Vec<_>>()
    );
}

#[tokio::test(start_paused = true)]
async fn a_crashing_image_is_rolled_back() {
    let run = Run::new(alb_dynamic(deployment_configuration(200, 100)));
    run.sim
        .set_image_behaviour("app:v2", Behaviour::CrashAfter(secs(5)));
    let sampler = run.sim.spawn_service_sampler(CLUSTER, WEB, secs(1));
    let out = run.deploy("app:v2").await.unwrap();
    assert_rolled_back(&run, &out, &sampler.stop()).await;
    assert!(
        matches!(
            out.failure.as_ref().map(|f| &f.cause),
            Some(Failure::TasksStopped { .. })
        ),
        "{:?}",
        out.failure
    );
    assert_eq!(
        diagnosis(&out),
        Diagnosis::AppCrashed {
            container: Some("app".into()),
            exit_code: Some(1)
        }
    );
}

#[tokio::test(start_paused = true)]
async fn an_image_that_never_passes_health_checks_is_rolled_back() {
    let run = Run::new(alb_dynamic(deployment_configuration(200, 100)));
    run.sim
        .set_image_behaviour("app:v2", Behaviour::FailsHealthCheck);
    let sampler = run.sim.spawn_service_sampler(CLUSTER, WEB, secs(1));
    let out = run.deploy("app:v2").await.unwrap();
    assert_rolled_back(&run, &out, &sampler.stop()).await;
    assert!(
        matches!(
            diagnosis(&out),
            Diagnosis::HealthChecks {
                check: CheckProblem::Failing,
                ..
            }
        ),
        "{:?}",
        diagnosis(&out)
    );
}

#[tokio::test(start_paused = true)]
async fn a_circuit_breaker_rollback_is_followed_and_never_reported_as_success() {
    let config = DeploymentConfiguration {
        circuit_breaker: Some((true, true)),
        ..deployment_configuration(200, 100)
    };
    let run = Run::new(alb_dynamic(config));
    run.sim
        .set_image_behaviour("app:v2", Behaviour::cannot_pull("app:v2"));
    let sampler = run.sim.spawn_service_sampler(CLUSTER, WEB, secs(1));
    let out = run.deploy("app:v2").await.unwrap();
    assert_rolled_back(&run, &out, &sampler.stop()).await;
    assert!(
        matches!(
            diagnosis(&out),
            Diagnosis::EcsRolledBack {
                trigger: Trigger::CircuitBreaker,
                ..
            }
        ),
        "{:?}",
        diagnosis(&out)
    );
}

#[tokio::test(start_paused = true)]
async fn a_placement_stall_fails_after_the_grace_and_rolls_back() {
    // The new revision needs more memory than any instance has: ECS can never place it.
    let run = Run::new(classic_static(3, deployment_configuration(200, 100)));
    let current = run
        .sim
        .ecs()
        .describe_task_definition("web:1")
        .await
        .unwrap();
    let mut body = TaskDefinition::from_revision(&current)
        .with_image("app", &ImageRef::parse("app:v2").unwrap())
        .to_json();
    body["containerDefinitions"][0]["memory"] = json!(100_000);
    let td = TaskDefinition::parse(&body.to_string(), "test").unwrap();
    let sampler = run.sim.spawn_service_sampler(CLUSTER, WEB, secs(1));
    let out = service::run(
        &run.sctx(),
        Desired::Definition(td),
        &Options {
            command: "deploy".into(),
            rollback_on_failure: true,
            ..Options::default()
        },
    )
    .await
    .unwrap();
    assert_rolled_back(&run, &out, &sampler.stop()).await;
    assert!(
        matches!(
            out.failure.as_ref().map(|f| &f.cause),
            Some(Failure::PlacementStalled { .. })
        ),
        "{:?}",
        out.failure
    );
    assert!(
        matches!(
            diagnosis(&out),
            Diagnosis::Placement {
                shortfall: Shortfall::Memory,
                instance: Some(_),
                ..
            }
        ),
        "{:?}",
        diagnosis(&out)
    );
}

#[tokio::test(start_paused = true)]
async fn someone_elses_deployment_mid_watch_fails_without_fighting_it() {
    let run = Run::new(alb_dynamic(deployment_configuration(200, 100)));
    let other = run
        .sim
        .ecs()
        .register_task_definition(&dynamic_app("app:v9"), &Default::default())
        .await
        .unwrap();
    let sim = run.sim.clone();
    tokio::spawn(async move {
        tokio::time::sleep(secs(8)).await;
        sim.update_service_as_someone_else(CLUSTER, WEB, &other.arn)
            .unwrap();
    });
    let out = run.deploy("app:v2").await.unwrap();
    assert_eq!(out.result, RunResult::Failed);
    assert!(
        matches!(
            out.failure.as_ref().map(|f| &f.cause),
            Some(Failure::Superseded { .. })
        ),
        "{:?}",
        out.failure
    );
    assert!(
        out.rollback_steps.is_empty(),
        "no rollback over someone else's deployment"
    );
}

#[tokio::test(start_paused = true)]
async fn a_deploy_completes_under_throttling_bursts() {
    let run = Run::new(alb_dynamic(deployment_configuration(200, 100)));
    let td = run.definition("app:v2").await;
    run.sim.inject(Fault::throttled().next_calls(6));
    run.sim.inject(Fault::throttled().with_probability(0.2));
    let sampler = run.sim.spawn_service_sampler(CLUSTER, WEB, secs(1));
    let out = run.deploy_td(td).await.unwrap();
    run.sim.clear_faults();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert!(min_serving(&sampler.stop()) >= 3);
}

#[tokio::test(start_paused = true)]
async fn a_code_deploy_service_is_refused_before_any_change() {
    let sim = Sim::builder()
        .instances(3)
        .target_group(WEB, tg(TargetType::Instance, 8080))
        .service(
            WEB,
            ServiceSpec {
                desired: 3,
                task_definition: dynamic_app("app:v1"),
                target_group: Some(WEB.into()),
                deployment_controller: "CODE_DEPLOY".into(),
                ..ServiceSpec::default()
            },
        )
        .build();
    let run = Run::new(sim);
    let err = run.deploy("app:v2").await.unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("CodeDeploy"), "{err}");
    assert_eq!(
        run.sim.call_count("RegisterTaskDefinition") + run.sim.call_count("UpdateService"),
        0
    );
}

#[tokio::test(start_paused = true)]
async fn a_deployment_in_progress_is_refused_naming_it() {
    let run = Run::new(alb_dynamic(deployment_configuration(200, 100)));
    let other = run
        .sim
        .ecs()
        .register_task_definition(&dynamic_app("app:v9"), &Default::default())
        .await
        .unwrap();
    run.sim
        .update_service_as_someone_else(CLUSTER, WEB, &other.arn)
        .unwrap();
    let err = run.deploy("app:v2").await.unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string().contains("in progress") && err.to_string().contains("web:2"),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_single_task_without_room_is_refused() {
    let sim = Sim::builder()
        .instances(1)
        .elb(ELB, quick_elb())
        .service(
            WEB,
            ServiceSpec {
                desired: 1,
                task_definition: static_app("app:v1"),
                elb: Some(ELB.into()),
                ..ServiceSpec::default()
            },
        )
        .build();
    let run = Run::new(sim);
    let err = run.deploy("app:v2").await.unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("without downtime"), "{err}");
    assert_eq!(run.sim.call_count("RegisterTaskDefinition"), 0);
}

#[tokio::test(start_paused = true)]
async fn a_service_scaled_to_zero_deploys_its_new_revision_without_tasks() {
    let sim = Sim::builder()
        .instances(1)
        .target_group(WEB, tg(TargetType::Instance, 8080))
        .service(
            WEB,
            ServiceSpec {
                desired: 0,
                task_definition: dynamic_app("app:v1"),
                target_group: Some(WEB.into()),
                ..ServiceSpec::default()
            },
        )
        .build();
    let run = Run::new(sim);
    let out = run.deploy("app:v2").await.unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert!(run.service_revision().await.ends_with(":2"));
    // Nothing to protect: the deployment configuration is not touched.
    assert_eq!(run.sim.call_count("UpdateService"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_count_in_service_mode_is_refused_naming_the_desired_count() {
    let run = Run::new(alb_dynamic(deployment_configuration(200, 100)));
    let td = run.definition("app:v2").await;
    let err = run.deploy_counted(td, Some(2)).await.unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(
        matches!(
            err.refusal(),
            Some(Refusal::CountInServiceMode {
                given: 2,
                desired: 3,
                ..
            })
        ),
        "{err}"
    );
    assert_eq!(run.sim.call_count("RegisterTaskDefinition"), 0);
    // The same count as the service's is no conflict.
    let td = run.definition("app:v2").await;
    let out = run.deploy_counted(td, Some(3)).await.unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
}

/// Interrupts the run when the engine enters `phase`, as a Ctrl-C at that moment would.
struct InterruptAt {
    phase: Phase,
    cancel: Cancel,
}

impl Observer for InterruptAt {
    fn event(&self, event: &Event) {
        if *event == Event::Phase(self.phase) {
            self.cancel.request();
        }
    }
}

/// An interrupt that lands while the new revision is registered stops the run there: no
/// deployment is started for ECS to carry on with, and the service is left as it was.
#[tokio::test(start_paused = true)]
async fn an_interrupt_while_the_revision_registers_starts_no_deployment() {
    let run = Run::new(classic_static(3, deployment_configuration(200, 100)));
    let td = run.definition("app:v2").await;
    let mut s = run.sctx();
    s.ctx.observer = Arc::new(InterruptAt {
        phase: Phase::Register,
        cancel: run.cancel.clone(),
    });
    let opts = Options {
        command: "deploy".into(),
        rollback_on_failure: true,
        ..Options::default()
    };
    let out = service::run(&s, Desired::Definition(td), &opts)
        .await
        .unwrap();
    assert_eq!(out.result, RunResult::Interrupted, "{:?}", out.failure);
    assert_eq!(run.sim.call_count("UpdateService"), 0);
    assert_eq!(run.running().await, ["web:1"; 3]);
    assert_eq!(run.configuration().await, (Some(200), Some(100)));
    let arn = run.service_arn().await;
    assert!(!run.tags.of(&arn).contains_key(TAG_CONFIGURATION));
    assert!(!run.tags.of(&arn).contains_key(lock::SERVICE_KEY));
    // The same command again deploys, reusing the revision registered.
    let rerun = run.again();
    let out = rerun.deploy("app:v2").await.unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(run.running().await, ["web:2"; 3]);
    assert_eq!(rerun.configuration().await, (Some(200), Some(100)));
}

/// The configuration ecs-roll sets for a deploy is recorded in AWS before it is changed, so
/// an interrupted deploy's rerun (or one after a kill -9, which never restores anything)
/// restores the one the service had, and the record goes with it.
#[tokio::test(start_paused = true)]
async fn an_interrupted_deploys_rerun_restores_the_original_configuration() {
    for killed in [false, true] {
        let run = Run::new(classic_static(3, deployment_configuration(200, 100)));
        let cancel = run.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(secs(20)).await;
            cancel.request();
        });
        let first = if killed {
            // kill -9 mid-deploy: the run just stops, nothing of its own ends is run.
            tokio::time::timeout(secs(20), run.deploy("app:v2"))
                .await
                .ok()
        } else {
            Some(run.deploy("app:v2").await)
        };
        if let Some(first) = first {
            assert_eq!(first.unwrap().result, RunResult::Interrupted);
        }
        assert_eq!(
            run.configuration().await,
            (Some(100), Some(66)),
            "killed {killed}"
        );
        // A kill -9 leaves its lock behind, no longer renewed: the rerun takes it over.
        let rerun = run.again();
        let out = rerun.deploy("app:v2").await.unwrap();
        assert_eq!(
            out.result,
            RunResult::Succeeded,
            "killed {killed}: {:?}",
            out.failure
        );
        let took_over = rerun.recorder.events().iter().any(|e| {
            matches!(
                e,
                Event::Warning(Warning::Lock(LockWarning::TakenOver { .. }))
            )
        });
        assert_eq!(took_over, killed, "killed {killed}: the lock taken over");
        assert_eq!(run.running().await, ["web:2"; 3]);
        assert_eq!(
            rerun.configuration().await,
            (Some(200), Some(100)),
            "killed {killed}: restored"
        );
        let arn = rerun.service_arn().await;
        assert!(
            !rerun.tags.of(&arn).contains_key(TAG_CONFIGURATION),
            "killed {killed}: the record goes with the restore"
        );
    }
}

/// Several targets in one command: a target that is refused (here a service that does not
/// exist) holds every other back, so nothing changes in any of them; once it is left out,
/// the same deploy goes ahead.
#[tokio::test(start_paused = true)]
async fn one_refused_target_of_several_keeps_every_target_unchanged() {
    let run = Run::new(classic_static(3, deployment_configuration(200, 100)));
    let td = run.definition("app:v2").await;
    let opts = Options {
        command: "deploy".into(),
        rollback_on_failure: true,
        ..Options::default()
    };
    let gate = ecs_roll::engine::gate::Gate::new(vec!["web".into(), "ghost".into()]);
    let mut web = run.sctx();
    web.ctx.gate = Some(gate.ticket(0));
    let mut ghost = run.sctx();
    ghost.service = "ghost".into();
    let ghost_ticket = gate.ticket(1);
    ghost.ctx.gate = Some(ghost_ticket.clone());
    let (web_result, ghost_result) = tokio::join!(
        service::run(&web, Desired::Definition(td.clone()), &opts),
        async {
            // The ghost's refusal comes after a while (a slow preflight): web must wait.
            tokio::time::sleep(secs(3)).await;
            let r = service::run(&ghost, Desired::Definition(td.clone()), &opts).await;
            ghost_ticket.ended(r.is_ok());
            r
        }
    );
    assert!(matches!(
        ghost_result.unwrap_err().refusal(),
        Some(Refusal::ServiceNotFound { .. })
    ));
    let e = web_result.unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert_eq!(
        e.refusal(),
        Some(&Refusal::OtherTargetRefused {
            targets: vec!["ghost".into()]
        })
    );
    assert_eq!(run.sim.call_count("UpdateService"), 0, "nothing changed");
    assert_eq!(run.sim.call_count("RegisterTaskDefinition"), 0);
    let arn = run.service_arn().await;
    assert!(run.tags.of(&arn).is_empty(), "not even the lock");
    assert_eq!(run.service_revision().await, "web:1");

    let out = run.deploy_td(td).await.unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
}

/// The commands (in backticks) that the summary of `out` advises: the cause's hint and what
/// to do next, as printed.
fn advised(out: &Outcome) -> Vec<String> {
    let mut texts: Vec<String> = render::next::next_step(out).into_iter().collect();
    if let Some(f) = &out.failure {
        texts.push(render::diagnosis::hint(&diagnose(&f.cause)));
    }
    texts
        .iter()
        .flat_map(|t| t.split('`').skip(1).step_by(2).map(String::from))
        .filter(|c| c.starts_with("ecs-roll "))
        .collect()
}

/// What `ecs-roll rollback` does on a service, from a run of its own: the previous revision
/// recorded on the one the service runs, rolled out.
async fn roll_back_as_advised(run: &Run) -> Outcome {
    let rerun = run.again();
    let ctx = rerun.sctx();
    let to = rollback::service_target(&ctx.ctx, ctx.services.as_ref(), WEB)
        .await
        .unwrap();
    let previous = run.sim.ecs().describe_task_definition(&to).await.unwrap();
    let opts = Options {
        command: "rollback".into(),
        rollback_on_failure: true,
        ..Options::default()
    };
    service::run(&ctx, Desired::Revision(previous), &opts)
        .await
        .unwrap()
}

/// Carries out what `out` advises: `ecs-roll rollback` as the command would; `ecs-roll
/// status` only reads. Any other command is a hint this test does not know how to run.
async fn follow_the_advice(run: &Run, out: &Outcome) -> Vec<String> {
    let commands = advised(out);
    for c in &commands {
        match c.as_str() {
            "ecs-roll rollback" => {
                let back = roll_back_as_advised(run).await;
                assert_eq!(back.result, RunResult::Succeeded, "{c}: {:?}", back.failure);
            }
            "ecs-roll status" => {}
            other => panic!("a hint this test cannot run: {other}"),
        }
    }
    commands
}

/// A --no-rollback deploy whose tasks crash leaves ECS retrying its deployment. The rollback
/// the summary advises (`ecs-roll rollback`: the previous revision recorded on the one the
/// service runs) takes over from that deployment of ecs-roll's own, rather than be refused
/// as "another deployment in progress".
#[tokio::test(start_paused = true)]
async fn every_hint_after_a_crash_under_no_rollback_works() {
    let run = Run::new(alb_dynamic(deployment_configuration(200, 100)));
    run.sim
        .set_image_behaviour("app:v2", Behaviour::CrashAfter(secs(5)));
    let td = run.definition("app:v2").await;
    let no_rollback = Options {
        command: "deploy".into(),
        rollback_on_failure: false,
        ..Options::default()
    };
    let out = service::run(&run.sctx(), Desired::Definition(td), &no_rollback)
        .await
        .unwrap();
    assert_eq!(out.result, RunResult::Failed, "{:?}", out.failure);
    assert_eq!(run.service_revision().await, "web:2");
    let sampler = run.sim.spawn_service_sampler(CLUSTER, WEB, secs(1));
    let commands = follow_the_advice(&run, &out).await;
    assert!(
        commands.contains(&"ecs-roll rollback".to_string()),
        "{commands:?}"
    );
    assert_eq!(run.service_revision().await, "web:1");
    assert_eq!(run.running().await, ["web:1"; 3]);
    assert!(min_serving(&sampler.stop()) >= 1);
}

/// Interrupted, ECS carries on with the deployment by itself: the rollback the summary
/// offers takes over from it and puts the original configuration back.
#[tokio::test(start_paused = true)]
async fn every_hint_after_an_interrupted_deploy_works() {
    let run = Run::new(classic_static(3, deployment_configuration(200, 100)));
    let cancel = run.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(secs(20)).await;
        cancel.request();
    });
    let out = run.deploy("app:v2").await.unwrap();
    assert_eq!(out.result, RunResult::Interrupted, "{:?}", out.failure);
    let commands = follow_the_advice(&run, &out).await;
    assert!(
        commands.contains(&"ecs-roll rollback".to_string()),
        "{commands:?}"
    );
    assert_eq!(run.service_revision().await, "web:1");
    assert_eq!(run.running().await, ["web:1"; 3]);
    assert_eq!(run.configuration().await, (Some(200), Some(100)));
}

/// Rolled back already (exit 3): nothing advised undoes the rollback.
#[tokio::test(start_paused = true)]
async fn no_hint_after_a_rolled_back_deploy_rolls_back_again() {
    let run = Run::new(alb_dynamic(deployment_configuration(200, 100)));
    run.sim
        .set_image_behaviour("app:v2", Behaviour::CrashAfter(secs(5)));
    let out = run.deploy("app:v2").await.unwrap();
    assert_eq!(out.result, RunResult::RolledBack, "{:?}", out.failure);
    let commands = follow_the_advice(&run, &out).await;
    assert!(
        !commands.iter().any(|c| c.contains("rollback")),
        "{commands:?}"
    );
    assert_eq!(run.running().await, ["web:1"; 3]);
}

/// The only instance with room is DRAINING: the refusal names it as a capacity problem.
#[tokio::test(start_paused = true)]
async fn a_refusal_for_a_draining_instance_names_it_as_a_capacity_problem() {
    let sim = Sim::builder()
        .instances(2)
        .elb(ELB, quick_elb())
        .service(
            WEB,
            ServiceSpec {
                desired: 1,
                task_definition: static_app("app:v1"),
                elb: Some(ELB.into()),
                ..ServiceSpec::default()
            },
        )
        .build();
    let run = Run::new(sim);
    let tasks = run.sim.tasks();
    let busy = tasks[0].container_instance_arn.clone().unwrap();
    let instances = run.sim.ecs().container_instances(CLUSTER).await.unwrap();
    let spare = instances.iter().find(|ci| ci.arn != busy).unwrap();
    run.sim
        .set_instance_status(&spare.ec2_instance_id, "DRAINING");
    let err = run.deploy("app:v2").await.unwrap_err();
    assert_eq!(err.exit_code(), 2);
    let said = err.to_string();
    assert!(
        said.contains(&format!(
            "container instance {} is DRAINING",
            spare.ec2_instance_id
        )),
        "{said}"
    );
    assert!(
        said.contains("capacity") && !said.contains("downtime"),
        "{said}"
    );
    assert_eq!(run.sim.call_count("RegisterTaskDefinition"), 0);
}

/// The duration a service deploy predicts: by the deployment configuration and the target
/// groups' settings first, then from how long the rollout took the time before.
#[tokio::test(start_paused = true)]
async fn the_second_service_deploy_predicts_its_duration_from_the_first_within_a_tenth() {
    let run = Run::new(fargate_alb());
    let first = run.deploy("app:v2").await.unwrap();
    assert_eq!(first.result, RunResult::Succeeded, "{:?}", first.failure);
    assert_eq!(first.predicted.as_ref().unwrap().learned_from, None);
    let second = run.deploy("app:v3").await.unwrap();
    assert_eq!(second.result, RunResult::Succeeded, "{:?}", second.failure);
    let p = second.predicted.as_ref().unwrap();
    assert_eq!(p.learned_from.as_deref(), Some("web:2"));
    let took = second.steps[0].took.as_secs_f64();
    let error = (p.total.as_secs_f64() - took).abs() / took;
    assert!(error <= 0.10, "predicted {:?}, took {took}", p.total);
    assert_eq!(second.steps[0].predicted, Some(p.total));
}
