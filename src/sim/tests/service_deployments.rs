//! DescribeServiceDeployments where the endpoint has it (ECS) and where it does not (moto).

use super::*;
use crate::platform::{ApiErrorKind, ServiceDeployment};
use crate::sim::{Behaviour, CIRCUIT_BREAKER_REASON};

async fn describe_deployment(sim: &Sim, id: &str) -> ServiceDeployment {
    sim.services()
        .service_deployment(CLUSTER, WEB, id)
        .await
        .unwrap()
        .expect("supported")
}

#[tokio::test(start_paused = true)]
async fn an_endpoint_without_it_answers_none() {
    let sim = Sim::builder()
        .supports_service_deployments(false)
        .instances(1)
        .service(
            WEB,
            ServiceSpec {
                task_definition: web("app:v1"),
                ..ServiceSpec::default()
            },
        )
        .build();
    let (_, id) = deploy(&sim, web("app:v2")).await;
    assert_eq!(
        sim.services().service_deployment(CLUSTER, WEB, &id).await,
        Ok(None)
    );
    assert_eq!(sim.call_count("DescribeServiceDeployments"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_rolling_deployment_is_in_progress_then_successful() {
    let sim = alb_service(deployment_configuration(200, 100));
    let v1 = web_service(&sim).task_definition;
    let (v2, id) = deploy(&sim, web("app:v2")).await;
    let sd = describe_deployment(&sim, &id).await;
    assert_eq!(sd.status, "IN_PROGRESS");
    assert!(
        sd.arn
            .starts_with("arn:aws:ecs:us-east-1:123456789012:service-deployment/default/web/"),
        "{}",
        sd.arn
    );
    assert_eq!(sd.target_task_definition.as_deref(), Some(v2.as_str()));
    assert_eq!(sd.source_task_definitions, [v1]);
    assert_eq!((sd.lifecycle_stage, sd.rollback), (None, false));

    until_rollout_ends(&sim, secs(120)).await;
    assert_eq!(describe_deployment(&sim, &id).await.status, "SUCCESSFUL");

    let err = sim
        .services()
        .service_deployment(CLUSTER, WEB, "ecs-svc/0")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::NotFound);
}

#[tokio::test(start_paused = true)]
async fn a_circuit_breaker_rollback_is_rollback_in_progress_then_successful() {
    let sim = alb_service(circuit_breaker(true));
    sim.set_image_behaviour("app:v2", Behaviour::FailsHealthCheck);
    let (_, id) = deploy(&sim, web("app:v2")).await;
    advance(secs(20)).await;
    let sd = describe_deployment(&sim, &id).await;
    assert_eq!(sd.status, "ROLLBACK_IN_PROGRESS");
    assert!(sd.rollback);
    assert_eq!(sd.status_reason.as_deref(), Some(CIRCUIT_BREAKER_REASON));

    let rollback = web_service(&sim).deployments[0].id.clone();
    assert_eq!(
        describe_deployment(&sim, &rollback).await,
        sd,
        "the rollback belongs to the deployment it rolls back"
    );
    advance(secs(5)).await;
    assert_eq!(
        describe_deployment(&sim, &id).await.status,
        "ROLLBACK_SUCCESSFUL"
    );
}

#[tokio::test(start_paused = true)]
async fn a_tripped_breaker_without_rollback_stops_the_deployment() {
    let sim = alb_service(circuit_breaker(false));
    sim.set_image_behaviour("app:v2", Behaviour::cannot_pull("app:v2"));
    let (_, id) = deploy(&sim, web("app:v2")).await;
    advance(secs(10)).await;
    let sd = describe_deployment(&sim, &id).await;
    assert_eq!(
        (sd.status.as_str(), sd.status_reason.as_deref(), sd.rollback),
        ("STOPPED", Some(CIRCUIT_BREAKER_REASON), false)
    );
}

#[tokio::test(start_paused = true)]
async fn a_deployment_superseded_by_someone_else_is_stopped() {
    let sim = alb_service(deployment_configuration(200, 100));
    let (_, ours) = deploy(&sim, web("app:v2")).await;
    let v3 = register(&sim, web("app:v3")).await;
    let theirs = sim
        .update_service_as_someone_else(CLUSTER, WEB, &v3)
        .unwrap()
        .deployments[0]
        .id
        .clone();
    let sd = describe_deployment(&sim, &ours).await;
    assert_eq!(sd.status, "STOPPED");
    assert!(sd.status_reason.unwrap().contains(&theirs));
    assert_eq!(
        describe_deployment(&sim, &theirs).await.status,
        "IN_PROGRESS"
    );
    until_rollout_ends(&sim, secs(300)).await;
    assert_eq!(describe_deployment(&sim, &ours).await.status, "STOPPED");
    assert_eq!(
        describe_deployment(&sim, &theirs).await.status,
        "SUCCESSFUL"
    );
}
