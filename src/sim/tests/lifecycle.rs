use std::time::Duration;

use super::*;
use crate::sim::{Behaviour, ESSENTIAL_CONTAINER_EXITED};

/// An instance with nothing on it, and a registered `image`.
async fn empty(image: &str, behaviour: Behaviour) -> (Sim, String, String) {
    let sim = Sim::builder()
        .instances(1)
        .image_behaviour(image, behaviour)
        .build();
    let arn = register(&sim, app(image)).await;
    let instance = instances(&sim).await.remove(0).arn;
    (sim, arn, instance)
}

#[tokio::test(start_paused = true)]
async fn a_task_is_pending_until_the_start_delay_then_running() {
    let (sim, td, instance) = empty("app:v1", Behaviour::Healthy).await;
    let task = sim
        .ecs()
        .start_task(CLUSTER, &td, &instance, "ecs-roll")
        .await
        .unwrap();
    assert_eq!(
        (task.last_status.as_str(), task.desired_status.as_str()),
        ("PENDING", "RUNNING")
    );
    assert_eq!(task.started_by.as_deref(), Some("ecs-roll"));

    advance(secs(10) - Duration::from_millis(1)).await;
    assert_eq!(describe(&sim, &task).await.last_status, "PENDING");
    advance(Duration::from_millis(1)).await;
    let running = describe(&sim, &task).await;
    assert!(running.is_running());
    assert_eq!(
        running.containers[0].last_status,
        Some(crate::platform::TaskStatus::Running)
    );
    assert_eq!(
        sim.ecs()
            .family_tasks(CLUSTER, "cb-prototype")
            .await
            .unwrap(),
        vec![running]
    );
}

#[tokio::test(start_paused = true)]
async fn a_crashing_image_stops_with_exit_code_1_after_its_lifetime() {
    let (sim, td, instance) = empty("app:bad", Behaviour::CrashAfter(secs(20))).await;
    let task = sim
        .ecs()
        .start_task(CLUSTER, &td, &instance, "ecs-roll")
        .await
        .unwrap();

    advance(secs(29)).await;
    assert!(describe(&sim, &task).await.is_running());
    advance(secs(1)).await;
    let crashed = describe(&sim, &task).await;
    assert_eq!(
        (
            crashed.last_status.as_str(),
            crashed.desired_status.as_str()
        ),
        ("STOPPED", "STOPPED")
    );
    assert_eq!(
        crashed.stopped_reason.as_deref(),
        Some(ESSENTIAL_CONTAINER_EXITED)
    );
    assert_eq!(crashed.containers[0].exit_code, Some(1));
    assert_eq!(
        crashed.stop_code.as_deref(),
        Some("EssentialContainerExited")
    );
    assert!(
        sim.ecs()
            .family_tasks(CLUSTER, "cb-prototype")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        instances(&sim).await[0].remaining_memory,
        3904,
        "resources are free again"
    );
}

#[tokio::test(start_paused = true)]
async fn an_image_that_cannot_be_pulled_never_runs() {
    let (sim, td, instance) = empty("app:nope", Behaviour::cannot_pull("app:nope")).await;
    let task = sim
        .ecs()
        .start_task(CLUSTER, &td, &instance, "ecs-roll")
        .await
        .unwrap();
    advance(secs(5)).await;
    assert_eq!(describe(&sim, &task).await.last_status, "PENDING");
    advance(secs(5)).await;
    let failed = describe(&sim, &task).await;
    assert_eq!(failed.last_status, "STOPPED");
    assert!(
        failed
            .stopped_reason
            .as_deref()
            .unwrap()
            .starts_with("CannotPullContainerError")
    );
    assert!(
        failed.containers[0]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("CannotPullContainerError")
    );
    assert_eq!(failed.containers[0].exit_code, None);
}

#[tokio::test(start_paused = true)]
async fn stop_task_goes_through_stopping_and_keeps_the_reason() {
    let sim = origin();
    let task = sim.tasks().remove(0);
    sim.ecs()
        .stop_task(CLUSTER, &task.arn, "replaced by cb-prototype:2")
        .await
        .unwrap();

    let stopping = describe(&sim, &task).await;
    assert_eq!(
        (
            stopping.last_status.as_str(),
            stopping.desired_status.as_str()
        ),
        ("STOPPING", "STOPPED")
    );
    assert!(stopping.is_stopping());
    assert_eq!(
        sim.ecs()
            .family_tasks(CLUSTER, "cb-prototype")
            .await
            .unwrap()
            .len(),
        2
    );

    advance(secs(5)).await;
    let stopped = describe(&sim, &task).await;
    assert_eq!(stopped.last_status, "STOPPED");
    assert_eq!(
        stopped.stopped_reason.as_deref(),
        Some("replaced by cb-prototype:2")
    );
    assert_eq!(stopped.containers[0].exit_code, Some(0));
    sim.ecs()
        .stop_task(CLUSTER, &task.arn, "again")
        .await
        .expect("stopping a stopped task is fine");
    assert_eq!(
        describe(&sim, &task).await.stopped_reason.as_deref(),
        Some("replaced by cb-prototype:2")
    );
}

#[tokio::test(start_paused = true)]
async fn a_behaviour_applies_to_tasks_started_after_it_is_set() {
    let sim = origin();
    sim.set_image_behaviour("app:v1", Behaviour::CrashAfter(secs(1)));
    advance(secs(60)).await;
    assert_eq!(
        sim.ecs()
            .family_tasks(CLUSTER, "cb-prototype")
            .await
            .unwrap()
            .len(),
        3
    );

    let victim = sim.tasks().remove(1);
    assert!(sim.crash_task(&victim.arn));
    assert_eq!(
        describe(&sim, &victim).await.containers[0].exit_code,
        Some(1)
    );
    assert_eq!(
        sim.ecs()
            .family_tasks(CLUSTER, "cb-prototype")
            .await
            .unwrap()
            .len(),
        2
    );
}
