//! DescribeServices, UpdateService and the service's tasks, outside of a rollout.

use super::*;
use crate::platform::ApiErrorKind;
use crate::sim::{Behaviour, ESSENTIAL_CONTAINER_EXITED};

#[tokio::test(start_paused = true)]
async fn a_built_service_is_steady_with_one_completed_deployment() {
    let sim = alb_service(deployment_configuration(200, 100));
    let service = sim
        .services()
        .describe_service(CLUSTER, WEB)
        .await
        .unwrap()
        .expect("exists");

    assert_eq!(
        service.arn,
        "arn:aws:ecs:us-east-1:123456789012:service/default/web"
    );
    assert_eq!(
        (
            service.desired_count,
            service.running_count,
            service.pending_count
        ),
        (3, 3, 0)
    );
    assert_eq!(service.launch_type.as_deref(), Some("EC2"));
    assert_eq!(service.deployment_controller, "ECS");
    assert_eq!(
        service.deployment_configuration,
        deployment_configuration(200, 100)
    );
    let [d] = service.deployments.as_slice() else {
        panic!("{:?}", service.deployments)
    };
    assert_eq!(d.status, "PRIMARY");
    assert_eq!(
        d.rollout_state.as_ref().map(|r| r.as_str()),
        Some("COMPLETED")
    );
    assert!(d.id.starts_with("ecs-svc/") && d.id.len() == 27, "{}", d.id);
    assert_eq!(service.task_definition, d.task_definition);
    assert!(service.task_definition.ends_with(":task-definition/web:1"));
    let lb = &service.load_balancers[0];
    assert_eq!(lb.target_group_arn, sim.target_group_arn(WEB));
    assert_eq!(
        (lb.container_name.as_deref(), lb.container_port),
        (Some("app"), Some(APP_PORT))
    );
    assert_eq!(events(&sim), ["has reached a steady state."]);
    let event = &service.events[0];
    assert_eq!(event.created_at.as_deref(), Some("2026-01-01T00:00:00Z"));
    assert_eq!(event.id.len(), 36, "{}", event.id);

    // One task per zone, each healthy in the target group on its dynamic port.
    let tasks = sim
        .services()
        .service_tasks(CLUSTER, WEB, "RUNNING".into())
        .await
        .unwrap();
    let zones: std::collections::BTreeSet<_> = tasks
        .iter()
        .map(|t| t.container_instance_arn.clone().unwrap())
        .collect();
    assert_eq!(zones.len(), 3);
    assert!(
        tasks
            .iter()
            .all(|t| t.group.as_deref() == Some("service:web")
                && t.started_by.as_deref() == Some(d.id.as_str())
                && t.network_bindings[0].host_port == crate::sim::DYNAMIC_PORTS_FROM)
    );
    let health = sim
        .target_groups()
        .target_health(&sim.target_group_arn(WEB).unwrap())
        .await
        .unwrap();
    assert_eq!(health.len(), 3);
    assert!(
        health
            .iter()
            .all(|h| h.state == "healthy" && h.port == Some(32768))
    );
    assert_eq!(sim.service_capacity(CLUSTER, WEB).serving, 3);
}

#[tokio::test(start_paused = true)]
async fn missing_services_and_clusters_are_told_apart() {
    let sim = alb_service(deployment_configuration(200, 100));
    assert_eq!(
        sim.services().describe_service(CLUSTER, "nope").await,
        Ok(None)
    );
    let err = sim
        .services()
        .describe_service("nope", WEB)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::NotFound);
    let err = sim
        .services()
        .service_tasks(CLUSTER, "nope", "RUNNING".into())
        .await
        .unwrap_err();
    assert!(
        err.message.starts_with("ServiceNotFoundException"),
        "{}",
        err.message
    );
}

#[tokio::test(start_paused = true)]
async fn update_service_refuses_what_ecs_refuses_and_only_deploys_a_new_revision() {
    let sim = alb_service(deployment_configuration(200, 100));
    let services = sim.services();
    let update = |td: &str| ServiceUpdate {
        task_definition: Some(td.into()),
        ..ServiceUpdate::default()
    };

    let err = services
        .update_service(CLUSTER, WEB, &update("web:9"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::NotFound);

    let same = services
        .update_service(CLUSTER, WEB, &update("web:1"))
        .await
        .unwrap();
    assert_eq!(
        same.deployments.len(),
        1,
        "the same revision is no deployment"
    );

    let only_config = ServiceUpdate {
        deployment_configuration: Some(DeploymentConfiguration {
            minimum_healthy_percent: Some(50),
            ..DeploymentConfiguration::default()
        }),
        ..ServiceUpdate::default()
    };
    let changed = services
        .update_service(CLUSTER, WEB, &only_config)
        .await
        .unwrap();
    assert_eq!(changed.deployments.len(), 1);
    assert_eq!(
        changed.deployment_configuration,
        deployment_configuration(200, 50),
        "fields left out keep their value"
    );

    register(&sim, web("app:v2")).await;
    sim.deregister_task_definition("web:2").unwrap();
    let err = services
        .update_service(CLUSTER, WEB, &update("web:2"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::InvalidRequest);
    assert_eq!(sim.call_count("UpdateService"), 4);
}

#[tokio::test(start_paused = true)]
async fn code_deploy_and_external_services_refuse_a_new_task_definition() {
    for controller in ["CODE_DEPLOY", "EXTERNAL"] {
        let sim = Sim::builder()
            .instances(1)
            .service(
                WEB,
                ServiceSpec {
                    task_definition: web("app:v1"),
                    deployment_controller: controller.into(),
                    ..ServiceSpec::default()
                },
            )
            .build();
        assert_eq!(web_service(&sim).deployment_controller, controller);
        let arn = register(&sim, web("app:v2")).await;
        let err = sim
            .services()
            .update_service(
                CLUSTER,
                WEB,
                &ServiceUpdate {
                    task_definition: Some(arn),
                    ..ServiceUpdate::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind, ApiErrorKind::InvalidRequest);
        assert!(err.message.contains(controller), "{}", err.message);
    }
}

#[tokio::test(start_paused = true)]
async fn ecs_replaces_a_crashed_task_and_keeps_the_stopped_one_describable() {
    let sim = alb_service(deployment_configuration(200, 100));
    advance(secs(10)).await;
    let victim = sim.tasks().remove(0);
    assert!(sim.crash_task(&victim.arn));

    // Replaced at once; its target drains; the new task is healthy two checks after RUNNING.
    let service = web_service(&sim);
    assert_eq!((service.running_count, service.pending_count), (2, 1));
    assert_eq!(sim.service_capacity(CLUSTER, WEB).in_service, 2);
    advance(secs(10)).await;
    let service = web_service(&sim);
    assert_eq!((service.running_count, service.pending_count), (3, 0));
    advance(secs(10) - Duration::from_millis(1)).await;
    assert_eq!(sim.service_capacity(CLUSTER, WEB).in_service, 2);
    advance(Duration::from_millis(1)).await;
    assert_eq!(sim.service_capacity(CLUSTER, WEB).in_service, 3);

    let stopped = sim
        .services()
        .service_tasks(CLUSTER, WEB, "STOPPED".into())
        .await
        .unwrap();
    let [crashed] = stopped.as_slice() else {
        panic!("{stopped:?}")
    };
    assert_eq!(crashed.arn, victim.arn);
    assert_eq!(
        crashed.stopped_reason.as_deref(),
        Some(ESSENTIAL_CONTAINER_EXITED)
    );
    assert_eq!(crashed.containers[0].exit_code, Some(1));
    let log = events(&sim);
    assert_eq!(
        log[1..]
            .iter()
            .map(|e| e.split(':').next().unwrap())
            .collect::<Vec<_>>(),
        [
            "deregistered 1 targets in (target-group arn",
            "has started 1 tasks",
            "registered 1 targets in (target-group arn",
            "has reached a steady state.",
        ]
    );
    assert_eq!(
        web_service(&sim).events[0].created_at.as_deref(),
        Some("2026-01-01T00:00:30Z")
    );
    assert_eq!(web_service(&sim).deployments[0].failed_tasks, 0);
    advance(secs(3600)).await;
    assert!(
        sim.services()
            .service_tasks(CLUSTER, WEB, "STOPPED".into())
            .await
            .unwrap()
            .is_empty(),
        "ECS forgets stopped tasks after an hour"
    );
}

#[tokio::test(start_paused = true)]
async fn a_crash_looping_image_is_replaced_again_and_again() {
    let sim = Sim::builder()
        .instances(1)
        .image_behaviour("app:v1", Behaviour::CrashAfter(secs(20)))
        .service(
            WEB,
            ServiceSpec {
                task_definition: web("app:v1"),
                ..ServiceSpec::default()
            },
        )
        .build();
    // Built RUNNING at 0 s, crashes at 20 s; each replacement RUNNING 10 s later, crashes
    // 20 s after that: crashes at 20, 50, 80, 110.
    advance(secs(115)).await;
    let stopped = sim
        .services()
        .service_tasks(CLUSTER, WEB, "STOPPED".into())
        .await
        .unwrap();
    assert_eq!(stopped.len(), 4);
    assert_eq!(web_service(&sim).running_count, 0, "the fifth is starting");
    assert_eq!(web_service(&sim).pending_count, 1);
}

#[tokio::test(start_paused = true)]
async fn service_tasks_is_list_tasks_then_describe_tasks() {
    let sim = alb_service(deployment_configuration(200, 100));
    sim.clear_calls();
    let tasks = sim
        .services()
        .service_tasks(CLUSTER, WEB, "RUNNING".into())
        .await
        .unwrap();
    assert_eq!(tasks.len(), 3);
    let ops: Vec<_> = sim.calls().iter().map(|c| c.operation).collect();
    assert_eq!(ops, ["ListTasks", "DescribeTasks"]);

    sim.clear_calls();
    assert!(
        sim.services()
            .service_tasks(CLUSTER, WEB, "STOPPED".into())
            .await
            .unwrap()
            .is_empty()
    );
    let ops: Vec<_> = sim.calls().iter().map(|c| c.operation).collect();
    assert_eq!(ops, ["ListTasks"], "nothing to describe");
}
