use std::time::Duration;

use super::*;
use crate::platform::{HealthState, InstanceHealth, Listener};
use crate::sim::{Behaviour, DEREGISTERING, FAILED_CHECKS, NOT_YET_HEALTHY, Timings};

const MS: Duration = Duration::from_millis(1);

fn one_instance_unregistered(behaviour: Behaviour) -> Sim {
    Sim::builder()
        .instances(1)
        .elb(ELB, quick_check())
        .image_behaviour("app:v1", behaviour)
        .task_definition(app("app:v1"))
        .unregistered()
        .build()
}

fn only(rows: Vec<InstanceHealth>) -> InstanceHealth {
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows.into_iter().next().unwrap()
}

async fn start_on_first(sim: &Sim) -> String {
    let instance = instances(sim).await.remove(0);
    sim.ecs()
        .start_task(CLUSTER, "cb-prototype:1", &instance.arn, "t")
        .await
        .unwrap();
    instance.ec2_instance_id
}

#[tokio::test(start_paused = true)]
async fn a_registered_instance_is_in_service_exactly_after_healthy_threshold_intervals() {
    let sim = one_instance_unregistered(Behaviour::Healthy);
    let id = start_on_first(&sim).await;
    advance(secs(10)).await;
    sim.elb()
        .register_instances(ELB, std::slice::from_ref(&id))
        .await
        .unwrap();

    let fresh = only(health(&sim).await);
    assert_eq!(fresh.state, HealthState::OutOfService);
    assert_eq!(fresh.description.as_deref(), Some(NOT_YET_HEALTHY));
    advance(secs(10) - MS).await;
    assert_eq!(only(health(&sim).await).state, HealthState::OutOfService);
    advance(MS).await;
    assert_eq!(only(health(&sim).await).state, HealthState::InService);
    assert_eq!((sim.in_service_count(), sim.serving_count()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn checks_fail_until_the_task_runs() {
    let sim = one_instance_unregistered(Behaviour::Healthy);
    let id = start_on_first(&sim).await;
    sim.elb().register_instances(ELB, &[id]).await.unwrap();
    // Checks at 5 s (PENDING: fails), 10 s and 15 s (RUNNING from 10 s: pass).
    advance(secs(15) - MS).await;
    assert_eq!(only(health(&sim).await).state, HealthState::OutOfService);
    advance(MS).await;
    assert_eq!(only(health(&sim).await).state, HealthState::InService);
}

#[tokio::test(start_paused = true)]
async fn a_slow_booting_app_passes_only_once_warmed_up() {
    let sim = one_instance_unregistered(Behaviour::SlowStart(secs(30)));
    let id = start_on_first(&sim).await;
    sim.elb().register_instances(ELB, &[id]).await.unwrap();
    // RUNNING at 10 s, answering from 40 s: passes at 40 s and 45 s.
    advance(secs(45) - MS).await;
    assert_eq!(only(health(&sim).await).state, HealthState::OutOfService);
    advance(MS).await;
    assert_eq!(only(health(&sim).await).state, HealthState::InService);
}

#[tokio::test(start_paused = true)]
async fn an_app_failing_its_health_check_never_gets_in_service() {
    let sim = one_instance_unregistered(Behaviour::FailsHealthCheck);
    let id = start_on_first(&sim).await;
    sim.elb().register_instances(ELB, &[id]).await.unwrap();
    // Like the real classic ELB, a new instance says why once it has failed
    // UnhealthyThreshold (2) checks in a row: the first check is at 5 s, the second at 10 s.
    advance(secs(5)).await;
    let row = only(health(&sim).await);
    assert_eq!(row.description.as_deref(), Some(NOT_YET_HEALTHY));
    advance(secs(600)).await;
    let row = only(health(&sim).await);
    assert_eq!(row.state, HealthState::OutOfService);
    assert_eq!(row.description.as_deref(), Some(FAILED_CHECKS));
    assert!(
        sim.tasks()[0].is_running(),
        "it runs, it just does not answer"
    );
}

#[tokio::test(start_paused = true)]
async fn an_instance_whose_task_stops_goes_out_of_service_after_unhealthy_threshold_checks() {
    let sim = origin();
    let victim = sim.tasks().remove(0);
    advance(secs(1)).await;
    sim.ecs()
        .stop_task(CLUSTER, &victim.arn, "no draining first")
        .await
        .unwrap();
    assert_eq!(
        (sim.in_service_count(), sim.serving_count()),
        (3, 2),
        "the ELB has not noticed yet"
    );
    assert_eq!(sim.interruptions().len(), 1, "requests in flight were cut");
    assert_eq!(sim.interruptions()[0].at, secs(1));

    // Settled registrations are checked at 5, 10, 15 s: three failures.
    advance(secs(14) - MS).await;
    assert_eq!(sim.in_service_count(), 3);
    advance(MS).await;
    assert_eq!(sim.in_service_count(), 2);
    let row = health(&sim)
        .await
        .into_iter()
        .find(|h| h.state == HealthState::OutOfService)
        .unwrap();
    assert_eq!(row.description.as_deref(), Some(FAILED_CHECKS));
    assert_eq!(row.reason_code.as_deref(), Some("Instance"));
}

#[tokio::test(start_paused = true)]
async fn a_deregistered_instance_drains_for_the_draining_timeout_then_leaves() {
    let sim = origin();
    let id = sim.instance_ids().remove(0);
    sim.elb()
        .deregister_instances(ELB, std::slice::from_ref(&id))
        .await
        .unwrap();

    let rows = health(&sim).await;
    let draining = rows.iter().find(|h| h.instance_id == id).unwrap();
    assert!(draining.is_deregistering());
    assert_eq!(
        (draining.state, draining.description.as_deref()),
        (HealthState::OutOfService, Some(DEREGISTERING))
    );
    let lb = sim
        .elb()
        .describe_load_balancer(ELB)
        .await
        .unwrap()
        .unwrap();
    assert!(!lb.instances.contains(&id));
    assert_eq!(sim.in_service_count(), 2);

    advance(secs(60) - MS).await;
    assert_eq!(health(&sim).await.len(), 3);
    advance(MS).await;
    assert_eq!(health(&sim).await.len(), 2);

    let task = sim.tasks().remove(0);
    sim.ecs()
        .stop_task(CLUSTER, &task.arn, "drained")
        .await
        .unwrap();
    assert!(
        sim.interruptions().is_empty(),
        "nothing was in flight any more"
    );
}

#[tokio::test(start_paused = true)]
async fn in_flight_connections_can_finish_before_the_timeout_and_stopping_early_cuts_them() {
    let timings = Timings {
        in_flight_drain: Some(secs(15)),
        ..Timings::default()
    };
    let sim = Sim::builder()
        .timings(timings)
        .instances(2)
        .elb(ELB, quick_check())
        .draining(secs(300))
        .task_definition(app("app:v1"))
        .tasks_on_each_instance()
        .build();
    let ids = sim.instance_ids();
    sim.elb().deregister_instances(ELB, &ids).await.unwrap();
    advance(secs(10)).await;
    let task = sim.tasks().remove(0);
    sim.ecs()
        .stop_task(CLUSTER, &task.arn, "too early")
        .await
        .unwrap();
    assert_eq!(sim.interruptions().len(), 1);
    advance(secs(5)).await;
    assert!(health(&sim).await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn without_draining_an_instance_leaves_at_once() {
    let sim = Sim::builder()
        .instances(2)
        .elb(ELB, quick_check())
        .no_draining()
        .task_definition(app("app:v1"))
        .tasks_on_each_instance()
        .build();
    let ids = sim.instance_ids();
    sim.elb()
        .deregister_instances(ELB, &ids[..1])
        .await
        .unwrap();
    assert_eq!(health(&sim).await.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_out_of_service_instance_has_nothing_to_drain() {
    let sim = origin();
    let (task, id) = (sim.tasks().remove(0), sim.instance_ids().remove(0));
    sim.ecs()
        .stop_task(CLUSTER, &task.arn, "crash test")
        .await
        .unwrap();
    advance(secs(15)).await;
    assert_eq!(sim.in_service_count(), 2);
    sim.elb()
        .deregister_instances(ELB, std::slice::from_ref(&id))
        .await
        .unwrap();
    assert!(health(&sim).await.iter().all(|h| h.instance_id != id));
}

#[tokio::test(start_paused = true)]
async fn the_load_balancer_describes_its_configuration_and_refuses_unknown_instances() {
    let sim = Sim::builder()
        .instances(2)
        .elb(ELB, quick_check())
        .listener(443, PORT, "HTTPS")
        .draining(secs(60))
        .elb_zones(&["us-east-1a"])
        .task_definition(app("app:v1"))
        .tasks_on_each_instance()
        .build();
    let lb = sim
        .elb()
        .describe_load_balancer(ELB)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        lb.listeners,
        vec![Listener {
            load_balancer_port: 443,
            instance_port: PORT,
            protocol: "HTTPS".into()
        }]
    );
    assert_eq!(lb.connection_draining, Some(secs(60)));
    assert_eq!(lb.health_check, quick_check());
    assert!(lb.cross_zone);
    assert_eq!(lb.instances, sim.instance_ids());
    assert!(
        sim.elb()
            .describe_load_balancer("nope")
            .await
            .unwrap()
            .is_none()
    );

    let rows = health(&sim).await;
    assert_eq!(rows[0].state, HealthState::InService);
    assert_eq!(
        rows[1].state,
        HealthState::OutOfService,
        "its zone is not enabled"
    );

    let err = sim
        .elb()
        .register_instances(ELB, &["i-unknown".into()])
        .await
        .unwrap_err();
    assert!(
        err.message.starts_with("InvalidInstance"),
        "{}",
        err.message
    );
    let err = sim
        .elb()
        .deregister_instances(ELB, &["i-unknown".into()])
        .await
        .unwrap_err();
    assert!(
        err.message.starts_with("InvalidInstance"),
        "{}",
        err.message
    );
}
