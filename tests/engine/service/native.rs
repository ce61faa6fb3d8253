//! ECS's own BLUE_GREEN, LINEAR and CANARY: refused before any change where the service
//! lacks what ECS needs to shift traffic; the plan tells how production traffic will move;
//! the deploy follows ECS's lifecycle to the end, bakes included, and puts the service's
//! own strategy back.

use ecs_roll::engine::refusal::ShiftProblem;
use ecs_roll::engine::service::native::TrafficFlags;
use ecs_roll::engine::service::{ServicePlan, native::Shift};
use ecs_roll::platform::{BreakerThreshold, Strategy};

use super::*;

fn mins(m: u64) -> Duration {
    Duration::from_secs(60 * m)
}

impl Run {
    async fn deploy_native(
        &self,
        strategy: Strategy,
        bake: Duration,
        traffic: TrafficFlags,
    ) -> Result<Outcome, Error> {
        let opts = Options {
            strategy: Some(strategy),
            bake,
            traffic,
            ..deploy_opts()
        };
        self.deploy_with("app:v2", opts).await
    }

    fn plan(&self) -> ServicePlan {
        self.recorder
            .events()
            .into_iter()
            .find_map(|e| match e {
                Event::ServicePlan(p) => Some(p),
                _ => None,
            })
            .expect("a plan")
    }

    /// How long each lifecycle stage of the deploy's deployment lasted (the last: until now).
    fn stage_lengths(&self) -> Vec<(String, Duration)> {
        let id = self
            .recorder
            .events()
            .into_iter()
            .find_map(|e| match e {
                Event::Action(ecs_roll::engine::Action::DeploymentStarted {
                    deployment, ..
                }) => Some(deployment),
                _ => None,
            })
            .expect("a deployment");
        let entered = self.sim.deployment_stages(CLUSTER, WEB, &id);
        let now = self.sim.elapsed();
        let ends = entered.iter().skip(1).map(|(_, at)| *at).chain([now]);
        entered
            .iter()
            .zip(ends)
            .map(|((stage, at), end)| (stage.clone(), end - *at))
            .collect()
    }

    fn stage_length(&self, stage: &str) -> Duration {
        let lengths = self.stage_lengths();
        let found = lengths.iter().find(|(s, _)| s == stage);
        found
            .unwrap_or_else(|| panic!("no {stage} in {lengths:?}"))
            .1
    }
}

fn shift(percent: u32, bake: Option<Duration>) -> Shift {
    Shift {
        percent_tenths: percent * 10,
        bake,
    }
}

async fn succeeds_and_restores(run: &Run, out: &Outcome) {
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(run.running().await, ["web:2"; 3]);
    let svc = run.sim.services().describe_service(CLUSTER, WEB).await;
    let c = svc.unwrap().unwrap().deployment_configuration;
    assert_eq!(
        c.strategy,
        Some(Strategy::Rolling),
        "the service's own strategy is back"
    );
    let arn = run.service_arn().await;
    assert!(!run.tags.of(&arn).contains_key(TAG_CONFIGURATION));
    // The deployment is tracked by its service-deployment ARN, a step output in CI.
    let sd = out
        .service_deployment_arn
        .clone()
        .expect("the service deployment");
    assert!(
        sd.starts_with("arn:aws:ecs:us-east-1:123456789012:service-deployment/default/web/"),
        "{sd}"
    );
    let outputs = render::github::outputs(out);
    assert!(
        outputs.contains(&("service-deployment-arn", sd)),
        "{outputs:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_blue_green_deploy_bakes_then_succeeds_and_restores_the_rolling_strategy() {
    let run = Run::new(alb_native(
        deployment_configuration(200, 100),
        Some(advanced()),
    ));
    let sampler = run.sim.spawn_service_sampler(CLUSTER, WEB, secs(1));
    let out = run
        .deploy_native(Strategy::BlueGreen, mins(3), TrafficFlags::default())
        .await
        .unwrap();
    assert!(
        min_serving(&sampler.stop()) >= 3,
        "production never lacks a healthy target"
    );
    succeeds_and_restores(&run, &out).await;
    assert_eq!(run.plan().shifts, [shift(100, Some(mins(3)))]);
    let text = render::plain::service_plan_text(&run.plan());
    assert!(text.contains("production traffic: 100% (bake 3m"), "{text}");
    assert!(
        run.stage_length("BAKE_TIME") >= mins(3),
        "{:?}",
        run.stage_lengths()
    );
}

#[tokio::test(start_paused = true)]
async fn a_linear_deploy_moves_traffic_in_25_percent_steps_each_baked() {
    let run = Run::new(alb_native(
        deployment_configuration(200, 100),
        Some(advanced()),
    ));
    let traffic = TrafficFlags {
        linear_step: Some(250),
        step_bake: Some(mins(1)),
        ..TrafficFlags::default()
    };
    let out = run
        .deploy_native(Strategy::Linear, Duration::ZERO, traffic)
        .await
        .unwrap();
    succeeds_and_restores(&run, &out).await;
    let one = Some(mins(1));
    assert_eq!(
        run.plan().shifts,
        [
            shift(25, one),
            shift(50, one),
            shift(75, one),
            shift(100, None)
        ]
    );
    let text = render::plain::service_plan_text(&run.plan());
    assert!(
        text.contains(
            "25% (1m 0s), then 50% (1m 0s), then 75% (1m 0s), then 100% (ECS's default bake)"
        ),
        "{text}"
    );
    // Three steps short of 100% bake a minute each before production is all green.
    let shifting = run.stage_length("PRODUCTION_TRAFFIC_SHIFT");
    assert!(shifting >= mins(3), "{:?}", run.stage_lengths());
}

#[tokio::test(start_paused = true)]
async fn a_canary_deploy_gives_ten_percent_first_then_the_rest() {
    let run = Run::new(alb_native(
        deployment_configuration(200, 100),
        Some(advanced()),
    ));
    let traffic = TrafficFlags {
        canary_percent: Some(100),
        canary_bake: Some(mins(2)),
        ..TrafficFlags::default()
    };
    let out = run
        .deploy_native(Strategy::Canary, mins(1), traffic)
        .await
        .unwrap();
    succeeds_and_restores(&run, &out).await;
    assert_eq!(
        run.plan().shifts,
        [shift(10, Some(mins(2))), shift(100, Some(mins(1)))]
    );
    assert!(run.stage_length("PRODUCTION_TRAFFIC_SHIFT") >= mins(2));
    assert!(
        run.stage_length("BAKE_TIME") >= mins(1),
        "{:?}",
        run.stage_lengths()
    );
}

async fn refused(run: &Run, strategy: Strategy, traffic: TrafficFlags) -> Error {
    let err = run
        .deploy_native(strategy, Duration::ZERO, traffic)
        .await
        .unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    for op in ["RegisterTaskDefinition", "UpdateService", "TagResource"] {
        assert_eq!(run.sim.call_count(op), 0, "{op}");
    }
    assert_eq!(run.service_revision().await, "web:1");
    err
}

#[tokio::test(start_paused = true)]
async fn a_traffic_shifting_strategy_without_advanced_configuration_is_refused_naming_it() {
    let run = Run::new(alb_native(deployment_configuration(200, 100), None));
    let err = refused(&run, Strategy::BlueGreen, TrafficFlags::default()).await;
    let Some(Refusal::StrategyNeedsAdvancedConfiguration { problems, .. }) = err.refusal() else {
        panic!("{err}");
    };
    assert_eq!(
        problems,
        &[ShiftProblem::NoAdvancedConfiguration {
            target_group: WEB.into()
        }]
    );
    let text = render::refusal::message(err.refusal().unwrap());
    assert!(
        text.contains("target group web has no advancedConfiguration"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_alternate_target_group_on_another_load_balancer_or_missing_fields_are_refused() {
    let sim = Sim::builder()
        .instances(3)
        .target_group(WEB, tg(TargetType::Instance, 8080))
        // Not beside WEB: it has a load balancer of its own.
        .target_group(GREEN, tg(TargetType::Instance, 8080))
        .service(
            WEB,
            ServiceSpec {
                advanced: Some(ecs_roll::platform::AdvancedConfiguration {
                    role_arn: None,
                    ..advanced()
                }),
                ..web_behind_alb(deployment_configuration(200, 100))
            },
        )
        .build();
    let run = Run::new(sim);
    let err = refused(&run, Strategy::Canary, TrafficFlags::default()).await;
    let Some(Refusal::StrategyNeedsAdvancedConfiguration { problems, .. }) = err.refusal() else {
        panic!("{err}");
    };
    assert_eq!(
        problems,
        &[
            ShiftProblem::Missing {
                target_group: WEB.into(),
                fields: vec!["roleArn"]
            },
            ShiftProblem::AlternateOnOtherLoadBalancer {
                target_group: WEB.into(),
                alternate: GREEN.into()
            }
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn linear_steps_for_another_strategy_are_a_usage_error() {
    let run = Run::new(alb_native(
        deployment_configuration(200, 100),
        Some(advanced()),
    ));
    let traffic = TrafficFlags {
        linear_step: Some(250),
        ..TrafficFlags::default()
    };
    let err = refused(&run, Strategy::Canary, traffic).await;
    assert!(err.to_string().contains("--linear-step"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn the_plan_names_ecss_own_gates_with_the_breakers_threshold_or_says_there_are_none() {
    let plan_of = |config: DeploymentConfiguration| async move {
        let run = Run::new(alb_dynamic(config));
        let opts = Options {
            dry_run: true,
            ..deploy_opts()
        };
        let out = run.deploy_with("app:v2", opts).await.unwrap();
        assert_eq!(out.result, RunResult::Planned);
        render::plain::service_plan_text(&run.plan())
    };
    let breaker = |threshold| DeploymentConfiguration {
        circuit_breaker: Some((true, true)),
        breaker_threshold: threshold,
        ..deployment_configuration(200, 100)
    };
    let text = plan_of(breaker(Some(BreakerThreshold::Count(2)))).await;
    assert!(
        text.contains(
            "ECS's own gates: circuit breaker (ECS rolls back; trips at 2 failed tasks, threshold COUNT 2)"
        ),
        "{text}"
    );
    let text = plan_of(breaker(None)).await;
    assert!(
        text.contains("trips at 3 failed tasks, ECS's default rule: half the desired count, at least 3, at most 200"),
        "{text}"
    );
    let text = plan_of(breaker(Some(BreakerThreshold::UnboundedPercent(34)))).await;
    assert!(
        text.contains("trips at 2 failed tasks, threshold UNBOUNDED_PERCENT 34"),
        "{text}"
    );
    let text = plan_of(deployment_configuration(200, 100)).await;
    assert!(
        text.contains("ECS's own gates: none (no circuit breaker, no deployment alarms): ecs-roll's health gates are the only ones"),
        "{text}"
    );
}
