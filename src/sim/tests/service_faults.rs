//! Injected faults on the service-mode operations, and ECS carrying on regardless.

use super::*;
use crate::platform::ApiErrorKind;
use crate::sim::Fault;

#[tokio::test(start_paused = true)]
async fn the_next_describe_services_calls_are_throttled_then_it_recovers() {
    let sim = alb_service(deployment_configuration(200, 100));
    sim.inject(Fault::throttled().on("DescribeServices").next_calls(2));
    let mut seen = String::new();
    for _ in 0..3 {
        match sim.services().describe_service(CLUSTER, WEB).await {
            Ok(_) => seen.push('.'),
            Err(e) => {
                assert_eq!(
                    (e.kind, e.operation),
                    (ApiErrorKind::Throttled, "DescribeServices")
                );
                assert!(e.is_transient());
                seen.push('x');
            }
        }
    }
    assert_eq!(seen, "xx.");
    assert_eq!(sim.call_count("DescribeServices"), 3);
}

#[tokio::test(start_paused = true)]
async fn every_service_operation_runs_into_a_blanket_throttle_while_ecs_carries_on() {
    let sim = alb_service(deployment_configuration(200, 100));
    let (_, id) = deploy(&sim, web("app:v2")).await;
    let arn = sim.target_group_arn(WEB).unwrap();
    sim.inject(Fault::throttled().lasting(secs(120)));

    let (services, target_groups) = (sim.services(), sim.target_groups());
    let failures = [
        services
            .describe_service(CLUSTER, WEB)
            .await
            .map(drop)
            .unwrap_err(),
        services
            .update_service(CLUSTER, WEB, &ServiceUpdate::default())
            .await
            .map(drop)
            .unwrap_err(),
        services
            .service_tasks(CLUSTER, WEB, "RUNNING".into())
            .await
            .map(drop)
            .unwrap_err(),
        services
            .service_deployment(CLUSTER, WEB, &id)
            .await
            .map(drop)
            .unwrap_err(),
        target_groups
            .describe_target_group(&arn)
            .await
            .map(drop)
            .unwrap_err(),
        target_groups
            .target_health(&arn)
            .await
            .map(drop)
            .unwrap_err(),
    ];
    let operations: Vec<_> = failures.iter().map(|e| e.operation).collect();
    assert_eq!(
        operations,
        [
            "DescribeServices",
            "UpdateService",
            "ListTasks",
            "DescribeServiceDeployments",
            "DescribeTargetGroups",
            "DescribeTargetHealth"
        ]
    );
    assert!(failures.iter().all(|e| e.kind == ApiErrorKind::Throttled));

    // The deployment itself is ECS's business: it completes meanwhile.
    advance(secs(120)).await;
    let service = services
        .describe_service(CLUSTER, WEB)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(service.deployments.len(), 1);
    assert_eq!(service.deployments[0].id, id);
    assert_eq!(
        service.deployments[0]
            .rollout_state
            .as_ref()
            .map(|r| r.as_str()),
        Some("COMPLETED")
    );
}

#[tokio::test(start_paused = true)]
async fn service_tasks_fails_as_describe_tasks_when_that_is_throttled() {
    let sim = alb_service(deployment_configuration(200, 100));
    sim.inject(Fault::throttled().on("DescribeTasks").next_calls(1));
    let err = sim
        .services()
        .service_tasks(CLUSTER, WEB, "RUNNING".into())
        .await
        .unwrap_err();
    assert_eq!(err.operation, "DescribeTasks");
    let ops: Vec<_> = sim.calls().iter().map(|c| (c.operation, c.error)).collect();
    assert_eq!(
        ops,
        [
            ("ListTasks", None),
            ("DescribeTasks", Some(ApiErrorKind::Throttled))
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn each_call_of_service_tasks_takes_the_api_latency() {
    let timings = crate::sim::Timings {
        api_latency: Duration::from_millis(200),
        ..Default::default()
    };
    let sim = Sim::builder()
        .timings(timings)
        .instances(1)
        .service(
            WEB,
            ServiceSpec {
                task_definition: web("app:v1"),
                ..ServiceSpec::default()
            },
        )
        .build();
    sim.services()
        .service_tasks(CLUSTER, WEB, "RUNNING".into())
        .await
        .unwrap();
    let at: Vec<_> = sim.calls().iter().map(|c| c.at.as_millis()).collect();
    assert_eq!(at, [200, 400]);
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_gives_the_same_ids_and_events() {
    async fn run() -> Vec<(String, Option<String>)> {
        let sim = alb_service(deployment_configuration(100, 50));
        deploy(&sim, web("app:v2")).await;
        until_rollout_ends(&sim, secs(300)).await;
        web_service(&sim)
            .events
            .into_iter()
            .map(|e| (format!("{} {}", e.id, e.message), e.created_at))
            .collect()
    }
    assert_eq!(run().await, run().await);
}
