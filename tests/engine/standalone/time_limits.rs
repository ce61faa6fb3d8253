//! The limits a user sets hold: `--timeout` bounds preflight against an AWS that never
//! answers (exit 2, nothing changed), and `--health-timeout` bounds the time from a new task
//! RUNNING to InService, apart from the time it takes to start.

use super::*;
use ecs_roll::engine::Wait;
use ecs_roll::engine::refusal::Refusal;
use tokio::time::Instant;

const CHANGES: [&str; 6] = [
    "RegisterTaskDefinition",
    "TagResource",
    "StartTask",
    "StopTask",
    "RegisterInstancesWithLoadBalancer",
    "DeregisterInstancesFromLoadBalancer",
];

#[tokio::test(start_paused = true)]
async fn aws_that_never_answers_is_given_up_at_the_timeout_before_any_change() {
    let mut run = Run::new(world(3));
    run.timeouts.total = Some(Duration::from_secs(5));
    run.sim.inject(Fault::unavailable());
    run.sim.clear_calls();
    let start = Instant::now();
    let err = run.deploy(V2).await.unwrap_err();
    // Each read alone would be retried for about two minutes.
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert_eq!(err.exit_code(), 2, "{err}");
    assert_eq!(
        err.refusal(),
        Some(&Refusal::AwsDidNotAnswer {
            limit: Duration::from_secs(5)
        })
    );
    assert!(
        err.to_string().contains("AWS did not answer within 5s")
            && err.to_string().contains("nothing was changed"),
        "{err}"
    );
    for op in CHANGES {
        assert_eq!(run.sim.call_count(op), 0, "{op}");
    }
}

/// v2 answers 25 s after RUNNING. The ELB (checks every 30 s, 2 to pass) registered it as it
/// started: RUNNING at 10 s, passes at 60 s and 90 s, InService about 80 s after RUNNING.
fn slow_v2(health_timeout: u64) -> Run {
    let mut run = Run::new(world(3));
    run.timeouts.health = Some(Duration::from_secs(health_timeout));
    run.sim
        .set_image_behaviour(V2, Behaviour::SlowStart(Duration::from_secs(25)));
    run
}

#[tokio::test(start_paused = true)]
async fn a_task_not_in_service_within_the_health_timeout_of_running_is_rolled_back() {
    let run = slow_v2(75);
    let out = run.deploy(V2).await.unwrap();
    assert_rolled_back(&run, &out, |f| {
        matches!(
            f,
            Failure::TimedOut { waiting_for: Wait::InService { .. }, limit, .. }
                if *limit == Duration::from_secs(75)
        )
    })
    .await;
    // The step gave up at the limit: drain 60 s, stop, start 10 s, then 75 s.
    let step = &out.steps[0];
    assert!(
        step.took < Duration::from_secs(60 + 5 + 10 + 75 + 10),
        "{:?}",
        out.steps
    );
}

#[tokio::test(start_paused = true)]
async fn a_task_in_service_just_within_the_health_timeout_succeeds() {
    let run = slow_v2(85);
    let out = run.deploy(V2).await.unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(run.running_images(), ["cb-prototype:2"; 3]);
}
