use serde_json::json;

use super::*;
use crate::platform::ApiErrorKind;
use crate::sim::{AGENT_PORTS, Timings};

#[tokio::test(start_paused = true)]
async fn a_second_task_on_a_taken_static_port_is_refused_with_resource_ports() {
    let sim = origin();
    let v2 = register(&sim, app("app:v2")).await;
    let instance = instances(&sim).await.remove(0);

    let err = sim
        .ecs()
        .start_task(CLUSTER, &v2, &instance.arn, "ecs-roll")
        .await
        .unwrap_err();

    assert_eq!(err.kind, ApiErrorKind::InvalidRequest);
    assert_eq!(err.operation, "StartTask");
    assert!(err.message.starts_with("RESOURCE:PORTS"), "{}", err.message);
    assert_eq!(sim.tasks().len(), 3, "nothing was started");
}

#[tokio::test(start_paused = true)]
async fn memory_and_cpu_are_reserved_and_enforced() {
    let sim = Sim::builder()
        .instances(1)
        .instance_resources(1024, 600)
        .build();
    let no_ports = |memory: u64, cpu: u64| json!({ "family": "worker", "containerDefinitions": [{ "name": "w", "image": "w:1", "memory": memory, "cpu": cpu }] });
    let small = register(&sim, no_ports(250, 100)).await;
    let hungry = register(&sim, no_ports(10, 900)).await;
    let instance = instances(&sim).await.remove(0);
    assert_eq!(
        (instance.remaining_cpu, instance.remaining_memory),
        (1024, 600)
    );

    for _ in 0..2 {
        sim.ecs()
            .start_task(CLUSTER, &small, &instance.arn, "t")
            .await
            .expect("fits");
    }
    let after = instances(&sim).await.remove(0);
    assert_eq!((after.remaining_cpu, after.remaining_memory), (824, 100));

    let err = sim
        .ecs()
        .start_task(CLUSTER, &small, &instance.arn, "t")
        .await
        .unwrap_err();
    assert!(
        err.message.starts_with("RESOURCE:MEMORY"),
        "{}",
        err.message
    );
    let err = sim
        .ecs()
        .start_task(CLUSTER, &hungry, &instance.arn, "t")
        .await
        .unwrap_err();
    assert!(err.message.starts_with("RESOURCE:CPU"), "{}", err.message);
}

#[tokio::test(start_paused = true)]
async fn the_port_frees_only_once_the_old_task_is_stopped() {
    let sim = origin();
    let v2 = register(&sim, app("app:v2")).await;
    let old = sim.tasks().remove(0);
    let instance = old.container_instance_arn.clone().unwrap();
    sim.ecs()
        .stop_task(CLUSTER, &old.arn, "deploy")
        .await
        .unwrap();

    let err = sim
        .ecs()
        .start_task(CLUSTER, &v2, &instance, "ecs-roll")
        .await
        .unwrap_err();
    assert!(
        err.message.starts_with("RESOURCE:PORTS"),
        "still STOPPING: {}",
        err.message
    );
    assert!(instances(&sim).await[0].used_ports.contains(&PORT));

    advance(Timings::default().task_stop).await;
    let freed = instances(&sim).await.remove(0);
    assert!(!freed.used_ports.contains(&PORT));
    assert_eq!(freed.remaining_memory, 3904);
    sim.ecs()
        .start_task(CLUSTER, &v2, &instance, "ecs-roll")
        .await
        .expect("the port is free");
}

#[tokio::test(start_paused = true)]
async fn instances_report_the_agent_ports_and_refuse_tasks_without_an_agent() {
    let sim = Sim::builder()
        .instances(2)
        .task_definition(app("app:v1"))
        .build();
    let all = instances(&sim).await;
    assert!(AGENT_PORTS.iter().all(|p| all[0].used_ports.contains(p)));
    assert_eq!(
        all.iter()
            .map(|i| i.availability_zone.as_deref().unwrap())
            .collect::<Vec<_>>(),
        ["us-east-1a", "us-east-1b"]
    );

    sim.set_agent_connected(&all[1].ec2_instance_id, false);
    let err = sim
        .ecs()
        .start_task(CLUSTER, "cb-prototype:1", &all[1].arn, "t")
        .await
        .unwrap_err();
    assert!(err.message.starts_with("AGENT"), "{}", err.message);
    assert!(!instances(&sim).await[1].accepts_tasks());
}

#[tokio::test(start_paused = true)]
async fn unknown_clusters_instances_and_revisions_are_reported() {
    let sim = origin();
    let instance = instances(&sim).await.remove(0).arn;
    let err = sim.ecs().container_instances("nope").await.unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::NotFound);
    assert!(!sim.ecs().cluster_is_active("nope").await.unwrap());
    assert!(sim.ecs().cluster_is_active(CLUSTER).await.unwrap());
    let err = sim
        .ecs()
        .start_task(CLUSTER, "cb-prototype:9", &instance, "t")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ApiErrorKind::NotFound);
    let err = sim
        .ecs()
        .start_task(CLUSTER, "cb-prototype:1", "arn:nope", "t")
        .await
        .unwrap_err();
    assert!(err.message.starts_with("MISSING"), "{}", err.message);
}

#[tokio::test(start_paused = true)]
async fn the_builder_adds_to_a_cluster_named_twice_and_keeps_clusters_apart() {
    let sim = Sim::builder()
        .cluster("a")
        .instances(1)
        .cluster("b")
        .instances(2)
        .cluster("a")
        .instances(1)
        .build();
    assert_eq!(sim.ecs().container_instances("a").await.unwrap().len(), 2);
    assert_eq!(sim.ecs().container_instances("b").await.unwrap().len(), 2);
    assert_eq!(sim.instance_ids().len(), 4);
}
