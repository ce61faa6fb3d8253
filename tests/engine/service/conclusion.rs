//! A deploy ends when its outcome is settled, not when a safety-net timer fires: the failed
//! tasks' targets finish draining after their tasks have stopped, which DescribeServices does
//! not show, so the watch must read the target health again once the draining can be over.

use super::*;

/// When the world last changed (a target added, turned healthy or removed, a task changing
/// status), sampled every 100 ms of virtual time without API calls.
fn spawn_settle_watcher(sim: &Sim) -> Arc<std::sync::Mutex<Duration>> {
    let arn = sim
        .target_group_arn(WEB)
        .expect("the service's target group");
    let last = Arc::new(std::sync::Mutex::new(Duration::ZERO));
    let sink = last.clone();
    let sim = sim.clone();
    tokio::spawn(async move {
        let mut seen = String::new();
        loop {
            let tasks: Vec<_> = sim
                .tasks()
                .into_iter()
                .map(|t| (t.arn, t.last_status))
                .collect();
            let now = format!("{:?} {tasks:?}", sim.target_health(&arn));
            if now != seen {
                seen = now;
                *sink.lock().unwrap() = sim.elapsed();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    last
}

async fn ends_soon_after_the_last_change(config: DeploymentConfiguration) {
    // As ELB shows them: the crashed tasks' targets, which never served, are draining for
    // the whole 30 s deregistration delay after their tasks have stopped.
    let timings = ecs_roll::sim::Timings {
        unserved_targets_show_draining: true,
        ..Default::default()
    };
    let run = Run::new(alb_dynamic_with(config, timings));
    run.sim
        .set_image_behaviour("app:v2", Behaviour::CrashAfter(secs(5)));
    let last_change = spawn_settle_watcher(&run.sim);
    let sampler = run.sim.spawn_service_sampler(CLUSTER, WEB, secs(1));
    let out = run.deploy("app:v2").await.unwrap();
    let ended = run.sim.elapsed();
    // Sampled every 100 ms: a change at the instant the run ended is seen by the next sample.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_rolled_back(&run, &out, &sampler.stop()).await;
    let settled = *last_change.lock().unwrap();
    // The last change may be a target leaving after its draining, which DescribeServices
    // does not show; the safety net would read it again two minutes after the last read.
    assert!(
        settled <= ended + Duration::from_millis(100) && ended <= settled + secs(3),
        "ended at {ended:?}, the tasks and targets settled at {settled:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn our_rollback_ends_as_soon_as_the_old_tasks_and_targets_are_settled() {
    ends_soon_after_the_last_change(deployment_configuration(200, 100)).await;
}

#[tokio::test(start_paused = true)]
async fn following_ecss_rollback_ends_as_soon_as_the_tasks_and_targets_are_settled() {
    let config = DeploymentConfiguration {
        circuit_breaker: Some((true, true)),
        ..deployment_configuration(200, 100)
    };
    ends_soon_after_the_last_change(config).await;
}
