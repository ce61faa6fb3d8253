//! `--health-timeout` in service mode: each new task must be healthy in every load balancer
//! of the service within the limit of being seen RUNNING, or the deploy fails and is rolled
//! back; and `--timeout` bounds preflight against an AWS that never answers.

use super::*;
use ecs_roll::engine::Wait;
use tokio::time::Instant;

/// v2 answers 20 s after RUNNING behind the ALB (checks every 10 s, 3 to pass): healthy
/// about 37 s after ecs-roll sees it RUNNING (v1, answering at once, about 31 s).
fn slow_v2(health_timeout: u64) -> Run {
    let mut run = Run::new(alb_dynamic(deployment_configuration(200, 100)));
    run.timeouts.health = Some(secs(health_timeout));
    run.sim
        .set_image_behaviour("app:v2", Behaviour::SlowStart(secs(20)));
    run
}

#[tokio::test(start_paused = true)]
async fn a_task_not_healthy_within_the_health_timeout_of_running_is_rolled_back() {
    let run = slow_v2(34);
    let sampler = run.sim.spawn_service_sampler(CLUSTER, WEB, secs(1));
    let out = run.deploy("app:v2").await.unwrap();
    assert_rolled_back(&run, &out, &sampler.stop()).await;
    let failure = &out.failure.as_ref().unwrap().cause;
    assert!(
        matches!(
            failure,
            Failure::TimedOut { waiting_for: Wait::TaskHealthy { .. }, limit, .. }
                if *limit == secs(34)
        ),
        "{failure:?}"
    );
    assert!(
        matches!(diagnosis(&out), Diagnosis::TimedOut { limit, .. } if limit == secs(34)),
        "{:?}",
        diagnosis(&out)
    );
    // Given up at the limit: started about 1 s in, RUNNING seen at 14 s, then 34 s.
    assert!(out.steps[0].took < secs(14 + 34 + 2), "{:?}", out.steps);
}

#[tokio::test(start_paused = true)]
async fn a_task_healthy_just_within_the_health_timeout_succeeds() {
    let run = slow_v2(40);
    let out = run.deploy("app:v2").await.unwrap();
    assert_eq!(out.result, RunResult::Succeeded, "{:?}", out.failure);
    assert_eq!(run.running().await, ["web:2"; 3]);
}

#[tokio::test(start_paused = true)]
async fn aws_that_never_answers_is_given_up_at_the_timeout_before_any_change() {
    let mut run = Run::new(alb_dynamic(deployment_configuration(200, 100)));
    run.timeouts.total = Some(secs(5));
    let td = run.definition("app:v2").await;
    run.sim.inject(Fault::unavailable());
    run.sim.clear_calls();
    let start = Instant::now();
    let err = run.deploy_td(td).await.unwrap_err();
    assert_eq!(start.elapsed(), secs(5));
    assert_eq!(err.exit_code(), 2, "{err}");
    assert_eq!(
        err.refusal(),
        Some(&Refusal::AwsDidNotAnswer { limit: secs(5) })
    );
    for op in ["RegisterTaskDefinition", "UpdateService", "TagResource"] {
        assert_eq!(run.sim.call_count(op), 0, "{op}");
    }
}
