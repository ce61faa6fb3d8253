//! BLUE_GREEN, simplified: all green tasks up, into the load balancer, healthy; blue out and
//! drained; bake; blue stopped. The stages are what DescribeServiceDeployments reports.

use super::*;
use crate::sim::Behaviour;

fn blue_green(bake_minutes: i64) -> DeploymentConfiguration {
    DeploymentConfiguration {
        strategy: Some("BLUE_GREEN".into()),
        bake_time_minutes: Some(bake_minutes),
        circuit_breaker: Some((true, true)),
        ..deployment_configuration(200, 100)
    }
}

async fn stage(sim: &Sim, id: &str) -> (String, Option<String>) {
    let sd = sim
        .services()
        .service_deployment(CLUSTER, WEB, id)
        .await
        .unwrap()
        .unwrap();
    (sd.status.to_string(), sd.lifecycle_stage)
}

fn owned(status: &str, stage: &str) -> (String, Option<String>) {
    (status.to_string(), Some(stage.to_string()))
}

#[tokio::test(start_paused = true)]
async fn green_goes_up_traffic_shifts_blue_bakes_then_goes() {
    let sim = alb_service(blue_green(1));
    let sampler = sim.spawn_service_sampler(CLUSTER, WEB, secs(1));
    let arn = sim.target_group_arn(WEB).unwrap();
    let (v2, id) = deploy(&sim, web("app:v2")).await;
    assert_eq!(stage(&sim, &id).await, owned("IN_PROGRESS", "SCALE_UP"));

    advance(secs(15)).await;
    assert_eq!(
        stage(&sim, &id).await,
        owned("IN_PROGRESS", "TEST_TRAFFIC_SHIFT")
    );
    let targets = sim.target_groups().target_health(&arn).await.unwrap();
    assert_eq!(targets.len(), 6, "green registered beside blue");

    advance(secs(15)).await;
    assert_eq!(
        stage(&sim, &id).await,
        owned("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT")
    );
    let targets = sim.target_groups().target_health(&arn).await.unwrap();
    assert_eq!(targets.iter().filter(|t| t.state == "draining").count(), 3);

    advance(secs(30)).await;
    assert_eq!(stage(&sim, &id).await, owned("IN_PROGRESS", "BAKE_TIME"));
    let running = sim
        .services()
        .service_tasks(CLUSTER, WEB, "RUNNING".into())
        .await
        .unwrap();
    assert_eq!(running.len(), 6, "blue stays up while green bakes");
    assert_eq!(
        sim.target_groups().target_health(&arn).await.unwrap().len(),
        3
    );

    let done = until_rollout_ends(&sim, secs(120)).await;
    assert_eq!(sim.elapsed(), secs(115));
    assert_eq!(done.task_definition, v2);
    assert_eq!(stage(&sim, &id).await, owned("SUCCESSFUL", "CLEAN_UP"));
    assert_eq!(
        sim.deployment_stages(CLUSTER, WEB, &id),
        [
            ("SCALE_UP".to_string(), secs(0)),
            ("TEST_TRAFFIC_SHIFT".into(), secs(10)),
            ("PRODUCTION_TRAFFIC_SHIFT".into(), secs(20)),
            ("BAKE_TIME".into(), secs(50)),
            ("CLEAN_UP".into(), secs(110)),
        ]
    );
    assert_eq!(sampler.stop().min_serving(), Some(3));
    assert!(sim.interruptions().is_empty());
}

#[tokio::test(start_paused = true)]
async fn without_bake_time_blue_goes_once_drained() {
    let sim = alb_service(blue_green(0));
    deploy(&sim, web("app:v2")).await;
    until_rollout_ends(&sim, secs(120)).await;
    // Green healthy at 20 s, blue drained at 50 s, stopped 5 s later.
    assert_eq!(sim.elapsed(), secs(55));
}

#[tokio::test(start_paused = true)]
async fn failing_green_tasks_roll_back_to_blue_without_a_bake() {
    let sim = alb_service(blue_green(10));
    sim.set_image_behaviour("app:v2", Behaviour::FailsHealthCheck);
    let sampler = sim.spawn_service_sampler(CLUSTER, WEB, secs(1));
    let v1 = web_service(&sim).task_definition;
    let (_, id) = deploy(&sim, web("app:v2")).await;
    let done = until_rollout_ends(&sim, secs(120)).await;
    // Green unhealthy at 20 s: three failures, rollback; green stopped at 25 s.
    assert_eq!(sim.elapsed(), secs(25));
    assert_eq!(done.task_definition, v1);
    assert_eq!(
        stage(&sim, &id).await,
        owned("ROLLBACK_SUCCESSFUL", "TEST_TRAFFIC_SHIFT")
    );
    assert_eq!(sampler.stop().min_serving(), Some(3));
}
