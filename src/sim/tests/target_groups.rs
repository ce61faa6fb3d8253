//! Target health as DescribeTargetHealth shows it while ECS registers and deregisters a
//! service's tasks: initial, healthy, unhealthy, draining, gone, to the millisecond.

use super::*;
use crate::platform::{ApiErrorKind, TargetHealth};
use crate::sim::{
    Behaviour, DEREGISTRATION_IN_PROGRESS, FAILED_HEALTH_CHECKS, INITIAL_CHECKS, Timings,
};

const MS: Duration = Duration::from_millis(1);

fn one_task(timings: Timings, grace: Duration) -> Sim {
    Sim::builder()
        .timings(timings)
        .instances(1)
        .target_group(WEB, quick_target_group(TargetType::Instance))
        .service(
            WEB,
            ServiceSpec {
                task_definition: web("app:v1"),
                target_group: Some(WEB.into()),
                health_check_grace_period: grace,
                ..ServiceSpec::default()
            },
        )
        .build()
}

async fn targets(sim: &Sim) -> Vec<TargetHealth> {
    let arn = sim.target_group_arn(WEB).unwrap();
    sim.target_groups().target_health(&arn).await.unwrap()
}

/// The state of the target on `port` (the old task is on 32768, the new one on 32769).
async fn state(sim: &Sim, port: u16) -> Option<String> {
    targets(sim)
        .await
        .into_iter()
        .find(|t| t.port == Some(port))
        .map(|t| t.state.to_string())
}

async fn task_on(sim: &Sim, port: u16) -> Task {
    sim.tasks()
        .into_iter()
        .rev()
        .find(|t| t.network_bindings[0].host_port == port)
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_new_target_is_initial_then_healthy_and_the_old_one_drains_for_the_delay() {
    let sim = one_task(Timings::default(), Duration::ZERO);
    deploy(&sim, web("app:v2")).await;
    assert_eq!(state(&sim, 32769).await, None, "PENDING: not registered");

    // RUNNING at 10 s: registered; checks at 15 s and 20 s pass.
    advance(secs(10)).await;
    let fresh = targets(&sim)
        .await
        .into_iter()
        .find(|t| t.port == Some(32769))
        .unwrap();
    assert_eq!(fresh.state, "initial");
    assert_eq!(fresh.reason.as_deref(), Some("Elb.InitialHealthChecking"));
    assert_eq!(fresh.description.as_deref(), Some(INITIAL_CHECKS));
    assert_eq!(fresh.id, sim.instance_ids()[0]);
    advance(secs(10) - MS).await;
    assert_eq!(state(&sim, 32769).await.as_deref(), Some("initial"));
    assert_eq!(state(&sim, 32768).await.as_deref(), Some("healthy"));
    advance(MS).await;
    assert_eq!(state(&sim, 32769).await.as_deref(), Some("healthy"));

    // The old target drains for the 30 s delay while its task finishes requests in flight.
    let old = targets(&sim)
        .await
        .into_iter()
        .find(|t| t.port == Some(32768))
        .unwrap();
    assert_eq!(
        (old.state.as_str(), old.description.as_deref()),
        ("draining", Some(DEREGISTRATION_IN_PROGRESS))
    );
    let old_task = task_on(&sim, 32768).await;
    assert_eq!(
        (
            old_task.last_status.as_str(),
            old_task.desired_status.as_str()
        ),
        ("DEACTIVATING", "STOPPED")
    );
    advance(secs(30) - MS).await;
    assert_eq!(state(&sim, 32768).await.as_deref(), Some("draining"));
    assert_eq!(task_on(&sim, 32768).await.last_status, "DEACTIVATING");
    advance(MS).await;
    assert_eq!(state(&sim, 32768).await, None, "gone after the delay");
    assert_eq!(task_on(&sim, 32768).await.last_status, "STOPPING");
    advance(secs(5)).await;
    assert_eq!(task_on(&sim, 32768).await.last_status, "STOPPED");
    assert!(sim.interruptions().is_empty());
}

#[tokio::test(start_paused = true)]
async fn requests_in_flight_can_finish_before_the_deregistration_delay() {
    let timings = Timings {
        in_flight_drain: Some(secs(8)),
        ..Timings::default()
    };
    let sim = one_task(timings, Duration::ZERO);
    deploy(&sim, web("app:v2")).await;
    advance(secs(20)).await;
    assert_eq!(state(&sim, 32768).await.as_deref(), Some("draining"));
    advance(secs(8)).await;
    assert_eq!(state(&sim, 32768).await, None);
    assert_eq!(task_on(&sim, 32768).await.last_status, "STOPPING");
}

#[tokio::test(start_paused = true)]
async fn a_target_failing_its_checks_turns_unhealthy_and_ecs_replaces_its_task_after_the_grace_period()
 {
    let sim = one_task(Timings::default(), secs(60));
    sim.set_image_behaviour("app:v2", Behaviour::FailsHealthCheck);
    let arn = sim.target_group_arn(WEB).unwrap();
    deploy(&sim, web("app:v2")).await;

    // RUNNING at 10 s; checks at 15 s and 20 s fail.
    advance(secs(20) - MS).await;
    assert_eq!(state(&sim, 32769).await.as_deref(), Some("initial"));
    advance(MS).await;
    let bad = targets(&sim)
        .await
        .into_iter()
        .find(|t| t.port == Some(32769))
        .unwrap();
    assert_eq!(
        (
            bad.state.as_str(),
            bad.reason.as_deref(),
            bad.description.as_deref()
        ),
        (
            "unhealthy",
            Some("Target.FailedHealthChecks"),
            Some(FAILED_HEALTH_CHECKS)
        )
    );
    // ECS ignores it until the grace period (60 s from RUNNING) is over.
    advance(secs(50) - MS).await;
    assert!(task_on(&sim, 32769).await.is_running());
    advance(MS).await;
    let killed = task_on(&sim, 32769).await;
    assert_eq!(
        killed.stopped_reason.as_deref(),
        Some(format!("Task failed ELB health checks in (target-group {arn})").as_str())
    );
    assert_eq!(
        state(&sim, 32769).await,
        None,
        "never served: nothing to drain"
    );
    let log = events(&sim);
    assert!(
        log.contains(&format!(
            "(instance {}) (port 32769) is unhealthy in (target-group {arn}) due to (reason Health checks failed).",
            sim.instance_ids()[0]
        )),
        "{log:#?}"
    );
    assert_eq!(web_service(&sim).deployments[0].failed_tasks, 1);
    assert_eq!(
        web_service(&sim).deployments[0].pending_count,
        1,
        "and starts another"
    );
    assert_eq!(
        state(&sim, 32768).await.as_deref(),
        Some("healthy"),
        "v1 still serves"
    );
}

#[tokio::test(start_paused = true)]
async fn describe_target_group_tells_its_settings_and_unknown_groups_are_errors() {
    let sim = one_task(Timings::default(), Duration::ZERO);
    let arn = sim.target_group_arn(WEB).unwrap();
    assert!(
        arn.starts_with("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/")
    );
    let tg = sim
        .target_groups()
        .describe_target_group(&arn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            tg.name.as_str(),
            tg.target_type.as_str(),
            tg.port,
            tg.protocol.as_deref()
        ),
        ("web", "instance", Some(APP_PORT), Some("HTTP"))
    );
    assert_eq!(
        (
            tg.health_check_interval,
            tg.healthy_threshold,
            tg.unhealthy_threshold
        ),
        (secs(5), 2, 2)
    );
    assert_eq!(tg.deregistration_delay, secs(30));
    assert_eq!(tg.load_balancer_arns.len(), 1);

    assert_eq!(
        sim.target_groups().describe_target_group("arn:nope").await,
        Ok(None)
    );
    let err = sim
        .target_groups()
        .target_health("arn:nope")
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.operation),
        (ApiErrorKind::NotFound, "DescribeTargetHealth")
    );
}

#[tokio::test(start_paused = true)]
async fn stopping_a_registered_task_by_hand_cuts_its_requests_and_ecs_cleans_up() {
    let sim = one_task(Timings::default(), Duration::ZERO);
    let task = sim.tasks().remove(0);
    sim.ecs()
        .stop_task(CLUSTER, &task.arn, "by hand")
        .await
        .unwrap();
    let cut = sim.interruptions();
    assert_eq!(cut.len(), 1);
    assert_eq!(cut[0].load_balancer, WEB);
    // ECS deregisters it (draining: it was healthy) and starts a replacement at once.
    assert_eq!(state(&sim, 32768).await.as_deref(), Some("draining"));
    assert_eq!(web_service(&sim).pending_count, 1);
}
