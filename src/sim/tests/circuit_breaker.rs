//! The deployment circuit breaker: clamp(0.5 x desired, 3, 200) tasks of the new deployment
//! that stop before they were ever healthy fail it; with rollback, ECS deploys the revision
//! of the last completed deployment again.

use super::*;
use crate::sim::{Behaviour, CIRCUIT_BREAKER_REASON};

/// FAILED with the circuit breaker's reason, while the rollback is under way.
fn assert_failed(service: &Service, id: &str, failed_tasks: i64) {
    let d = service.deployments.iter().find(|d| d.id == id).unwrap();
    assert_eq!(d.status, "ACTIVE");
    assert_eq!(d.rollout_state.as_ref().map(|r| r.as_str()), Some("FAILED"));
    assert_eq!(
        d.rollout_state_reason.as_deref(),
        Some(CIRCUIT_BREAKER_REASON)
    );
    assert_eq!(d.failed_tasks, failed_tasks);
}

#[tokio::test(start_paused = true)]
async fn an_image_that_cannot_be_pulled_trips_the_breaker_and_ecs_rolls_back() {
    let sim = alb_service(circuit_breaker(true));
    sim.set_image_behaviour("app:nope", Behaviour::cannot_pull("app:nope"));
    let v1 = web_service(&sim).task_definition;
    let sampler = sim.spawn_service_sampler(CLUSTER, WEB, secs(1));
    let (_, ours) = deploy(&sim, web("app:nope")).await;

    // All three fail to start at 10 s: the threshold (3) is reached at once, and as the v1
    // tasks still run and the failed ones are already STOPPED, the rollback completes at once.
    advance(secs(10) - Duration::from_millis(1)).await;
    assert_eq!(web_service(&sim).deployments[0].id, ours);
    advance(Duration::from_millis(1)).await;
    let done = web_service(&sim);
    let [rollback] = done.deployments.as_slice() else {
        panic!("{:?}", done.deployments)
    };
    assert_ne!(rollback.id, ours);
    assert_eq!(
        rollback.task_definition, v1,
        "back to the revision that was steady"
    );
    assert_eq!(
        rollback.rollout_state.as_ref().map(|r| r.as_str()),
        Some("COMPLETED")
    );
    assert_eq!(done.task_definition, v1);
    let log = events(&sim);
    let rollback = &rollback.id;
    let tail: Vec<&str> = log[log.len() - 4..].iter().map(String::as_str).collect();
    assert_eq!(
        tail,
        [
            format!("(deployment {ours}) deployment failed: tasks failed to start.").as_str(),
            &format!("rolling back to deployment {rollback}."),
            &format!("(deployment {rollback}) deployment completed."),
            "has reached a steady state.",
        ]
    );
    // The v1 tasks were never touched: the rollback took them over.
    assert_eq!(sampler.stop().min_serving(), Some(3));
    let stopped = sim
        .services()
        .service_tasks(CLUSTER, WEB, "STOPPED".into())
        .await
        .unwrap();
    assert_eq!(stopped.len(), 3);
    assert!(stopped.iter().all(|t| {
        t.containers[0]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("CannotPullContainerError")
    }));
}

#[tokio::test(start_paused = true)]
async fn tasks_failing_load_balancer_checks_count_as_failed_too() {
    let sim = alb_service(circuit_breaker(true));
    sim.set_image_behaviour("app:v2", Behaviour::FailsHealthCheck);
    let (_, ours) = deploy(&sim, web("app:v2")).await;
    // RUNNING at 10 s, unhealthy after the checks at 15 s and 20 s, replaced: 3 failures.
    advance(secs(20)).await;
    let service = web_service(&sim);
    assert_failed(&service, &ours, 3);
    assert_eq!(
        service.deployments[0].task_definition,
        service.task_definition
    );
    assert_eq!(
        service.deployments[0]
            .rollout_state
            .as_ref()
            .map(|r| r.as_str()),
        Some("IN_PROGRESS")
    );
    // Rolled back once the failed tasks are stopped (never healthy: nothing to drain).
    let done = until_rollout_ends(&sim, secs(60)).await;
    assert_eq!(sim.elapsed(), secs(25));
    assert_eq!(done.deployments.len(), 1);
    assert_ne!(done.deployments[0].id, ours);
}

#[tokio::test(start_paused = true)]
async fn without_rollback_the_failed_deployment_stays_primary_and_nothing_more_starts() {
    let sim = alb_service(circuit_breaker(false));
    sim.set_image_behaviour("app:nope", Behaviour::cannot_pull("app:nope"));
    let (_, ours) = deploy(&sim, web("app:nope")).await;
    advance(secs(300)).await;
    let service = web_service(&sim);
    assert_eq!(service.deployments.len(), 2);
    let primary = &service.deployments[0];
    assert_eq!(
        (
            primary.id.as_str(),
            primary.rollout_state.as_ref().map(|r| r.as_str())
        ),
        (ours.as_str(), Some("FAILED"))
    );
    assert_eq!(primary.failed_tasks, 3);
    assert_eq!(sim.tasks().len(), 6, "3 old + 3 failed, no more attempts");
    assert_eq!(
        service.deployments[1].running_count, 3,
        "the old tasks still serve"
    );
    assert!(!events(&sim).iter().any(|e| e.contains("rolling back")));
}

#[tokio::test(start_paused = true)]
async fn without_the_breaker_ecs_keeps_trying() {
    let sim = alb_service(deployment_configuration(200, 100));
    sim.set_image_behaviour("app:nope", Behaviour::cannot_pull("app:nope"));
    deploy(&sim, web("app:nope")).await;
    advance(secs(55)).await;
    let service = web_service(&sim);
    assert_eq!(
        service.deployments[0]
            .rollout_state
            .as_ref()
            .map(|r| r.as_str()),
        Some("IN_PROGRESS")
    );
    // A batch of three fails every 10 s: at 10, 20, 30, 40, 50 s.
    assert_eq!(service.deployments[0].failed_tasks, 15);
}

/// Ten tasks behind an ALB, 100/80, the breaker without rollback (and `threshold`); app:nope
/// cannot be pulled.
fn ten_tasks(threshold: Option<crate::platform::BreakerThreshold>) -> Sim {
    Sim::builder()
        .instances(4)
        .target_group(WEB, quick_target_group(TargetType::Instance))
        .service(
            WEB,
            ServiceSpec {
                desired: 10,
                task_definition: web("app:v1"),
                target_group: Some(WEB.into()),
                deployment_configuration: DeploymentConfiguration {
                    circuit_breaker: Some((true, false)),
                    breaker_threshold: threshold,
                    ..deployment_configuration(100, 80)
                },
                ..ServiceSpec::default()
            },
        )
        .image_behaviour("app:nope", Behaviour::cannot_pull("app:nope"))
        .build()
}

#[tokio::test(start_paused = true)]
async fn the_threshold_is_half_the_desired_count() {
    let sim = ten_tasks(None);
    let (_, ours) = deploy(&sim, web("app:nope")).await;
    let ours_now = |sim: &Sim| {
        let service = web_service(sim);
        let d = service
            .deployments
            .into_iter()
            .find(|d| d.id == ours)
            .unwrap();
        (d.failed_tasks, d.rollout_state.unwrap().to_string())
    };
    // 100/80: two old tasks make room for two new ones, which fail at 10 s; two more start
    // in their place, fail at 20 s, and so on. Threshold 5: tripped by the third pair.
    advance(secs(20)).await;
    assert_eq!(ours_now(&sim), (4, "IN_PROGRESS".to_string()));
    advance(secs(10)).await;
    assert_eq!(ours_now(&sim), (6, "FAILED".to_string()));
}

#[tokio::test(start_paused = true)]
async fn a_count_threshold_trips_the_breaker_at_that_many_failed_tasks() {
    let sim = ten_tasks(Some(crate::platform::BreakerThreshold::Count(2)));
    let (_, ours) = deploy(&sim, web("app:nope")).await;
    // The first pair fails at 10 s: COUNT 2 trips at once, where the default rule (5) would
    // wait for the third pair.
    advance(secs(10)).await;
    let service = web_service(&sim);
    let d = service.deployments.iter().find(|d| d.id == ours).unwrap();
    assert_eq!(
        (d.failed_tasks, d.rollout_state.as_ref().map(|r| r.as_str())),
        (2, Some("FAILED"))
    );
}
